"""`fedmarket coordinate`: run the aggregator of a task until it ends."""

from __future__ import annotations

import click

from fedmarket.context import make_client
from fedmarket.options import (
    json_option,
    key_option,
    rpc_url_option,
    task_option,
    validation_option,
)
from fedmarket.ui import echo, emit_json, event_printer, spinner
from marketplace.settings import Settings
from marketplace.storage import open_store
from marketplace.units import amount_json, format_amount


@click.command()
@task_option
@key_option("The aggregator's keystore.")
@validation_option(required=True, help="The validation set committed by the task (.npz with X, y).")
@click.option(
    "--min-participants",
    type=click.IntRange(min=0),
    default=None,
    help="Open round 1 once this many have joined [default: the task spec's, usually 1].",
)
@rpc_url_option
@click.option("--no-slash", is_flag=True, help="Do not slash participants who did not reveal.")
@click.option("--timeout", default=None, type=float, help="Give up after this many seconds.")
@json_option("One JSON object per event, one per line (see README, JSON output).")
def coordinate(
    task_id: int,
    key: str,
    validation_path: str,
    min_participants: int | None,
    rpc_url: str | None,
    no_slash: bool,
    timeout: float | None,
    as_json: bool,
) -> None:
    """Open rounds, verify and aggregate updates, value contributions, settle, finalize.

    Waits (and says so) until enough participants have joined before opening round 1.
    """
    from marketplace.errors import ConfigError
    from marketplace.protocol.dataset import dataset_sha256, load_npz
    from marketplace.protocol.ledger_lookup import task_facts
    from marketplace.protocol.task_spec import fit_to_model
    from marketplace.roles.coordinator import Coordinator
    from marketplace.roles.tasks import load_spec

    settings = Settings.from_env()
    validation = load_npz(validation_path)
    client = make_client(settings, key=key, rpc_url=rpc_url)
    store = open_store(settings)
    spec = load_spec(store, task_facts(client, task_id).spec_cid)
    validation = fit_to_model(validation, spec.model, validation_path, f"task {task_id}")
    if dataset_sha256(validation) != spec.validation_sha256:
        raise ConfigError(
            f"{validation_path} is not the validation set task {task_id} committed to "
            "(its sha256 differs)",
            hint="pass the file the requester gave to `fedmarket task create --validation`",
        )
    with spinner("loading the task"):
        coordinator = Coordinator(
            client, store, task_id, validation, slash_non_revealers=not no_slash,
            log=event_printer(as_json, "[coordinator] "),
            min_participants=spec.min_participants if min_participants is None else min_participants,
        )  # fmt: skip
    summary = coordinator.run(timeout=timeout)
    paid = sum(o.total_paid for o in summary.settled.values())
    if as_json:
        emit_json({
            "event": "ended", "task_id": task_id, "settled": sorted(summary.settled),
            "total_paid": amount_json(paid),
            "slashed": [{"round": r, "participant": p} for r, p in summary.slashed],
        })  # fmt: skip
        return
    echo(
        f"task {task_id} ended: {len(summary.settled)} rounds settled by this run, "
        f"{format_amount(paid)} paid"
    )
