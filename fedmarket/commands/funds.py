"""`fedmarket claim` and `fedmarket withdraw`: rewards, stakes and bonds out of the contract."""

from __future__ import annotations

import click

from fedmarket.context import make_client
from fedmarket.options import json_option, key_option, rpc_url_option
from fedmarket.ui import echo, emit_json, spinner
from marketplace.errors import ConfigError
from marketplace.settings import Settings
from marketplace.storage import open_store
from marketplace.units import format_amount

_MOVED_JSON = 'One object: {"action", "task_id", "account", "amount", "tx_hash"}.'


@click.command()
@click.option("--task", "task_id", required=True, type=click.IntRange(min=1), help="The task.")
@key_option("The participant's keystore.")
@rpc_url_option
@json_option(_MOVED_JSON)
def claim(task_id: int, key: str, rpc_url: str | None, as_json: bool) -> None:
    """Claim every reward earned in a task's final rounds (`join` does this by itself)."""
    from marketplace.roles.funds import claim_rewards

    settings = Settings.from_env()
    client = make_client(settings, key=key, rpc_url=rpc_url)
    with spinner(f"claiming from task {task_id}"):
        moved = claim_rewards(client, open_store(settings), task_id)
    if as_json:
        emit_json(moved.to_json())
    else:
        echo(f"claimed {format_amount(moved.amount)} from task {task_id} to {moved.account}")


@click.command()
@click.option(
    "--task", "task_id", type=click.IntRange(min=1), default=None,
    help="Withdraw your stake from this (ended) task.",
)  # fmt: skip
@click.option("--credits", is_flag=True, help="Withdraw your credited bonds instead.")
@key_option("The keystore whose tokens to withdraw.")
@rpc_url_option
@json_option(_MOVED_JSON)
def withdraw(
    task_id: int | None, credits: bool, key: str, rpc_url: str | None, as_json: bool
) -> None:
    """Take tokens out: a stake (--task N) once the task ended, or credited bonds (--credits)."""
    from marketplace.roles.funds import withdraw_credits, withdraw_stake

    if (task_id is None) == (not credits):
        raise click.UsageError("pass either --task N (a stake) or --credits (bonds), not both")
    client = make_client(Settings.from_env(), key=key, rpc_url=rpc_url)
    if credits:
        with spinner("withdrawing credited bonds"):
            moved = withdraw_credits(client)
        text = f"withdrew {format_amount(moved.amount)} of credited bonds to {moved.account}"
    else:
        if task_id is None:  # for mypy: excluded above
            raise ConfigError("--task is required")
        with spinner(f"withdrawing the stake from task {task_id}"):
            moved = withdraw_stake(client, task_id)
        text = f"withdrew a stake of {format_amount(moved.amount)} from task {task_id}"
    if as_json:
        emit_json(moved.to_json())
    else:
        echo(text)
