"""`fedmarket coordinate`: run the aggregator of a task until it ends."""

from __future__ import annotations

import click

from fedmarket.context import make_client
from fedmarket.options import key_option, rpc_url_option, task_option, validation_option
from marketplace.settings import Settings
from marketplace.storage import open_store


@click.command()
@task_option
@key_option("The aggregator's keystore.")
@validation_option(required=True, help="The validation set committed by the task (.npz with X, y).")
@rpc_url_option
@click.option("--no-slash", is_flag=True, help="Do not slash participants who did not reveal.")
@click.option("--timeout", default=None, type=float, help="Give up after this many seconds.")
def coordinate(
    task_id: int,
    key: str,
    validation_path: str,
    rpc_url: str | None,
    no_slash: bool,
    timeout: float | None,
) -> None:
    """Open rounds, verify and aggregate updates, value contributions, settle, finalize."""
    from marketplace.errors import ConfigError
    from marketplace.protocol.dataset import dataset_sha256, load_npz
    from marketplace.protocol.ledger_lookup import task_facts
    from marketplace.roles.coordinator import Coordinator
    from marketplace.roles.tasks import load_spec

    settings = Settings.from_env()
    client = make_client(settings, key=key, rpc_url=rpc_url)
    store = open_store(settings)
    validation = load_npz(validation_path)
    spec = load_spec(store, task_facts(client, task_id).spec_cid)
    if dataset_sha256(validation) != spec.validation_sha256:
        raise ConfigError(
            f"{validation_path} is not the validation set task {task_id} committed to"
        )
    coordinator = Coordinator(
        client,
        store,
        task_id,
        validation,
        slash_non_revealers=not no_slash,
        log=lambda msg: click.echo(f"[coordinator] {msg}"),
    )
    summary = coordinator.run(timeout=timeout)
    click.echo(f"task {task_id} ended: {len(summary.settled)} rounds settled by this run")
