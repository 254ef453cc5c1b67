"""`fedmarket join`: run a participant node for one task."""

from __future__ import annotations

import time
from collections.abc import Callable

import click

from fedmarket.context import make_client
from fedmarket.options import key_option, rpc_url_option, task_option
from marketplace.settings import Settings
from marketplace.storage import open_store
from marketplace.units import to_units


@click.command()
@task_option
@key_option("Keystore (file, name or address).")
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(exists=True),
    help="Your training data: .npz (X, y) or .csv (label column 'label').",
)
@click.option("--stake", default=None, help="Stake in tokens (default: the task's minimum).")
@click.option(
    "--behaviour",
    default="honest",
    show_default=True,
    help="Simulated behaviour for experiments: honest, label_noise:0.3, free_rider, "
    "noise_free_rider, scaled:5, sign_flip, dropout:0.5.",
)
@click.option(
    "--latency",
    default=2.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds this node needs to act in a window (training, sending); tasks whose commit, "
    "reveal or claim window is shorter than this plus two block times are refused.",
)
@click.option(
    "--max-slash-bps",
    default=5000,
    show_default=True,
    type=click.IntRange(0, 10_000),
    help="Refuse tasks where one missed reveal costs more of the stake (basis points).",
)
@rpc_url_option
@click.option("--timeout", default=None, type=float, help="Give up after this many seconds.")
@click.option("--quiet", is_flag=True, help="No training progress output.")
def join(
    task_id: int,
    key: str,
    data_path: str,
    stake: str | None,
    behaviour: str,
    latency: float,
    max_slash_bps: int,
    rpc_url: str | None,
    timeout: float | None,
    quiet: bool,
) -> None:
    """Stake, then train and submit every round until the task ends; claim the rewards."""
    from marketplace.protocol.dataset import load_csv, load_npz
    from participant.behaviours import parse_behaviour
    from participant.node import JoinPolicy, ParticipantNode

    settings = Settings.from_env()
    client = make_client(settings, key=key, rpc_url=rpc_url)
    data = load_csv(data_path) if data_path.endswith(".csv") else load_npz(data_path)
    node = ParticipantNode(
        client, open_store(settings), task_id, data, parse_behaviour(behaviour),
        stake=to_units(stake) if stake is not None else None,
        policy=JoinPolicy(latency_s=latency, max_slash_bps=max_slash_bps),
        log=lambda msg: click.echo(f"{time.strftime('%H:%M:%S')} [{client.address[:10]}] {msg}"),
        progress=None if quiet else _epoch_printer(),
    )  # fmt: skip
    summary = node.run(timeout=timeout)
    click.echo(
        f"done: committed {len(summary.committed)} rounds, revealed "
        f"{len(summary.revealed)}, claimed {summary.claimed} token units, stake returned "
        f"{summary.stake_returned}"
    )


def _epoch_printer() -> Callable[[int, int], None]:
    """Training progress: a rich progress bar on a terminal, one line per epoch otherwise."""
    import sys

    if not sys.stderr.isatty():

        def line(done: int, total: int) -> None:
            click.echo(f"  training epoch {done}/{total}", err=True)

        return line

    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn

    bar = Progress(
        TextColumn("training"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    state: dict[str, TaskID] = {}

    def show(done: int, total: int) -> None:
        if done == 1 or "task" not in state:  # a new round's training starts
            if "task" in state:
                bar.remove_task(state["task"])
            bar.start()
            state["task"] = bar.add_task("epochs", total=total)
        bar.update(state["task"], completed=done)
        if done == total:
            bar.stop()

    return show
