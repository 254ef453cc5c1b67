"""`fedmarket join`: run a participant node for one task."""

from __future__ import annotations

from pathlib import Path

import click

from fedmarket.context import make_client
from fedmarket.options import TOKENS, json_option, key_option, rpc_url_option, task_option
from fedmarket.ui import bar_progress, echo, emit_json, event_printer, spinner
from marketplace.errors import ConfigError
from marketplace.settings import Settings
from marketplace.storage import open_store
from marketplace.units import amount_json, format_amount


@click.command()
@task_option
@key_option("Keystore (file, name or address).")
@click.option(
    "--data",
    "data_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="Your training data: .npz (arrays X, y) or .csv (a 'label' column); see README.",
)
@click.option("--stake", default=None, type=TOKENS, help="Stake in tokens (default: the minimum).")
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
@click.option("--quiet", is_flag=True, help="No training progress bar.")
@json_option("One JSON object per event, one per line (see README, JSON output).")
def join(
    task_id: int,
    key: str,
    data_path: str,
    stake: int | None,
    behaviour: str,
    latency: float,
    max_slash_bps: int,
    rpc_url: str | None,
    timeout: float | None,
    quiet: bool,
    as_json: bool,
) -> None:
    """Stake, then train and submit every round until the task ends; claim the rewards.

    Everything is checked before the stake is sent: the task takes participants, the data fits
    its model (features per sample, labels), the stake is at least the task's minimum and the
    account holds it. Start participants before (or while) the aggregator waits for them.
    """
    from marketplace.protocol.dataset import load_csv, load_npz
    from marketplace.protocol.ledger_lookup import task_facts
    from marketplace.protocol.task_spec import TaskSpec, fit_to_model
    from participant.behaviours import parse_behaviour
    from participant.node import JoinPolicy, ParticipantNode
    from participant.participation import check_join

    settings = Settings.from_env()
    try:
        chosen = parse_behaviour(behaviour)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--behaviour'") from None
    suffix = Path(data_path).suffix.lower()
    if suffix not in (".npz", ".csv"):
        raise ConfigError(
            f"{data_path}: unknown data format {suffix or '(no suffix)'}",
            hint="use .npz with arrays X and y, or .csv with a 'label' column",
        )
    client = make_client(settings, key=key, rpc_url=rpc_url)
    store = open_store(settings)
    facts = task_facts(client, task_id)
    spec = TaskSpec.from_json(store.cat_bytes(facts.spec_cid))
    data = load_csv(data_path) if suffix == ".csv" else load_npz(data_path)
    data = fit_to_model(data, spec.model, data_path, f"task {task_id}")
    policy = JoinPolicy(latency_s=latency, max_slash_bps=max_slash_bps)
    if not client.participant(task_id, client.address)["joined"]:
        stake = check_join(client, facts, stake, policy)
    with spinner("loading the model and warming up the trainer"):
        node = ParticipantNode(
            client, store, task_id, data, chosen, stake=stake, policy=policy,
            log=event_printer(as_json, f"[{client.address[:10]}] "),
            progress=None if quiet or as_json else bar_progress("training"),
        )  # fmt: skip
    summary = node.run(timeout=timeout)
    if as_json:
        emit_json({
            "event": "done", "task_id": task_id, "participant": client.address,
            "committed": summary.committed, "revealed": summary.revealed,
            "skipped": summary.skipped, "claimed": amount_json(summary.claimed),
            "claimed_rounds": summary.claimed_rounds,
            "stake_returned": amount_json(summary.stake_returned),
        })  # fmt: skip
        return
    echo(
        f"done: committed {len(summary.committed)} rounds, revealed {len(summary.revealed)}, "
        f"claimed {format_amount(summary.claimed)}, stake returned "
        f"{format_amount(summary.stake_returned)}"
    )
