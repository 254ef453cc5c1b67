"""`fedmarket demo`: a whole marketplace on the devnet, as a first run."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from fedmarket.options import json_option
from fedmarket.ui import echo, emit_json, error_console, status
from marketplace.notices import as_notice
from marketplace.settings import Settings

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

#: Three honest participants, one with half its labels flipped, one free-rider.
DEFAULT_BEHAVIOURS = ("honest", "honest", "honest", "label_noise:0.5", "free_rider")


class DemoDisplay:
    """What the demo shows while it runs: log lines, and on a terminal a live progress bar.

    The bar (rich, on stderr) follows the rounds: which round, what it is doing, how many are
    done. Log lines go to stdout; when stdout is the same terminal they are printed through the
    bar's console so they scroll above it. With ``--json`` every event is one JSON line.
    """

    def __init__(self, rounds: int, as_json: bool) -> None:
        self.rounds = rounds
        self.as_json = as_json
        console = error_console()
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        if console is not None:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                SpinnerColumn,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(
                SpinnerColumn(),
                TextColumn("{task.description:<52}"),
                BarColumn(bar_width=24),
                MofNCompleteColumn(),
                TextColumn("rounds"),
                TimeElapsedColumn(),
                console=console,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self.task = self.progress.add_task("starting", total=rounds)
        self._lines_through_bar = self.progress is not None and sys.stdout.isatty()

    def __enter__(self) -> DemoDisplay:
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def log(self, message: object) -> None:
        notice = as_notice(message)
        self._advance(notice.event, notice.fields)
        if self.as_json:
            emit_json({"time": round(time.time(), 3), **notice.to_json()})
            return
        line = f"{time.strftime('%H:%M:%S')} {notice}"
        if self._lines_through_bar and self.progress is not None:
            self.progress.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            echo(line)

    def _advance(self, event: str, fields: Any) -> None:
        if self.progress is None or self.task is None:
            return
        round_ = fields.get("round")
        describe = {
            "devnet_starting": "starting the devnet",
            "task_creating": "creating the task (spec, initial model, escrow)",
            "participants_starting": "starting participants (torch warm-up)",
            "round_opened": f"round {round_}: training, commit, reveal",
            "round_settled": f"round {round_}: settled",
            "claiming": "participants claiming rewards and stakes",
            "auditing": "auditing every round from public artifacts",
            "audited": "audited",
        }.get(event)
        if describe is not None:
            self.progress.update(self.task, description=describe)
        if event == "round_settled":
            self.progress.advance(self.task)


@click.command()
@click.option(
    "--participants",
    "behaviours",
    default=",".join(DEFAULT_BEHAVIOURS),
    show_default=True,
    help="Comma-separated behaviours, one per participant.",
)
@click.option("--rounds", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--keep-devnet", is_flag=True, help="Leave the chain running afterwards.")
@json_option('One JSON object per event, one per line; the last is {"event": "result", ...}.')
def demo(behaviours: str, rounds: int, keep_devnet: bool, as_json: bool) -> None:
    """Run a whole marketplace on the devnet: task, participants, rounds, claims, audit.

    The result is also written to $FEDMARKET_HOME/demo/summary.json.
    """
    from fedmarket.demo import DemoConfig, print_summary, run_demo
    from participant.behaviours import parse_behaviour

    chosen = tuple(b.strip() for b in behaviours.split(",") if b.strip())
    if not chosen:
        raise click.BadParameter("name at least one behaviour", param_hint="'--participants'")
    for b in chosen:
        try:
            parse_behaviour(b)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--participants'") from None
    cfg = DemoConfig(behaviours=chosen, rounds=rounds)
    with DemoDisplay(rounds, as_json) as display:
        result = run_demo(Settings.from_env(), cfg, keep_devnet=keep_devnet, log=display.log)
    if as_json:
        emit_json({"event": "result", **result.to_dict()})
    else:
        print_summary(result, echo=echo, style=status)
    if not result.audit_ok:
        sys.exit(1)
