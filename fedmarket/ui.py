"""How every command talks to the terminal: results, JSON, coloured status words, progress.

- Results go to stdout: one line of text, or with ``--json`` one JSON object (long-running
  commands print one JSON object per event, one per line; see README, "JSON output").
- Progress (spinners, bars) goes to stderr and only when stderr is a terminal, so pipes, files
  and CI logs stay clean; ``NO_COLOR`` turns colour off everywhere (rich honours it too).
- Status words (OK, FAILED, settled, voided, ...) are coloured by one table.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from marketplace.notices import as_notice
from marketplace.settings import Settings

if TYPE_CHECKING:
    from rich.console import Console

#: Colour of each status word (lower case); words not listed stay plain.
STATUS_COLOURS: dict[str, str] = {
    "ok": "green",
    "final": "green",
    "settled": "green",
    "created": "cyan",
    "commit": "cyan",
    "reveal": "cyan",
    "settle": "cyan",
    "open": "cyan",
    "challenge": "yellow",
    "challenged": "yellow",
    "unsettled": "yellow",
    "unavailable": "yellow",
    "waiting": "yellow",
    "ended": "blue",
    "cancelled": "magenta",
    "corrected": "yellow",
    "inherited": "yellow",
    "evidence": "yellow",
    "ruling": "yellow",
    "mismatch": "red",
    "failed": "red",
}


def color_enabled() -> bool:
    """False when NO_COLOR is set (https://no-color.org); click strips colour off terminals."""
    return Settings.from_env().color


def echo(text: str = "", *, err: bool = False) -> None:
    """Print a line (styles kept on a terminal, dropped for pipes and under NO_COLOR)."""
    click.echo(text, err=err, color=None if color_enabled() else False)


def status(word: str, width: int = 0) -> str:
    """``word`` padded to ``width`` and coloured by :data:`STATUS_COLOURS`."""
    padded = f"{word:<{width}}"
    colour = STATUS_COLOURS.get(word.lower().split(":")[0].split()[0] if word else "")
    return click.style(padded, fg=colour, bold=colour in ("red", "green")) if colour else padded


def emit_json(obj: Any) -> None:
    """One JSON object on one line of stdout."""
    click.echo(json.dumps(obj, default=str))


def error_console() -> Console | None:
    """A rich console on stderr when it is a terminal (progress goes nowhere otherwise)."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console

    return Console(stderr=True, no_color=not color_enabled())


class Spinner:
    """Handle of :func:`spinner`: change its text as the work moves on."""

    def __init__(self, update: Callable[[str], None]) -> None:
        self._update = update

    def update(self, text: str) -> None:
        self._update(text)


@contextmanager
def spinner(text: str) -> Iterator[Spinner]:
    """A spinner with ``text`` on stderr while the block runs (nothing when not a terminal)."""
    console = error_console()
    if console is None:
        yield Spinner(lambda _t: None)
        return
    with console.status(text, spinner="dots") as live:
        yield Spinner(lambda t: live.update(t))


def event_printer(as_json: bool, prefix: str = "") -> Callable[[object], None]:
    """A ``log`` callback for roles: one JSON object per event, or a timestamped line of text."""

    def show(message: object) -> None:
        notice = as_notice(message)
        if as_json:
            emit_json({"time": round(time.time(), 3), **notice.to_json()})
        else:
            echo(f"{time.strftime('%H:%M:%S')} {prefix}{notice}")

    return show


def bar_progress(label: str, *, transient: bool = True) -> Callable[[int, int], None]:
    """A ``progress(done, total)`` callback: a rich bar on a terminal, nothing otherwise.

    A call with ``done == 1`` (or the first call) starts a new bar; ``done == total`` ends it.
    """
    console = error_console()
    if console is None:
        return lambda _done, _total: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    bar = Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), console=console, transient=transient
    )
    state: dict[str, TaskID] = {}

    def show(done: int, total: int) -> None:
        if done <= 1 or "task" not in state:
            if "task" in state:
                bar.remove_task(state["task"])
            bar.start()
            state["task"] = bar.add_task(label, total=total)
        bar.update(state["task"], completed=done)
        if done >= total:
            bar.stop()

    return show
