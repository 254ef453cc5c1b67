"""`fedmarket claim` and `fedmarket withdraw`: rewards, stakes and bonds out of the contract."""

from __future__ import annotations

import click

from fedmarket.context import make_client
from fedmarket.options import json_option, key_option, rpc_url_option
from fedmarket.ui import echo, emit_json, spinner
from marketplace.settings import Settings
from marketplace.storage import open_store
from marketplace.units import format_amount

_MOVED_JSON = 'One object: {"action", "task_id", "account", "amount", "rounds", "tx_hash"}.'


@click.command()
@click.option("--task", "task_id", required=True, type=click.IntRange(min=1), help="The task.")
@key_option("The participant's keystore.")
@rpc_url_option
@json_option(_MOVED_JSON)
def claim(task_id: int, key: str, rpc_url: str | None, as_json: bool) -> None:
    """Claim every final round's reward in one transaction (`join` does this by itself)."""
    from marketplace.roles.funds import claim_rewards

    settings = Settings.from_env()
    client = make_client(settings, key=key, rpc_url=rpc_url)
    with spinner(f"claiming from task {task_id}"):
        moved = claim_rewards(client, open_store(settings), task_id)
    if as_json:
        emit_json(moved.to_json())
        return
    rounds = ", ".join(str(r) for r in moved.rounds)
    echo(
        f"claimed {format_amount(moved.amount)} from task {task_id} (round(s) {rounds}) "
        f"to {moved.account}"
    )


@click.command()
@click.option(
    "--task", "task_id", type=click.IntRange(min=1), default=None,
    help="Withdraw your stake from this (ended) task, and collect your decided challenges.",
)  # fmt: skip
@click.option("--credits", is_flag=True, help="Withdraw your credited bonds instead.")
@key_option("The keystore whose tokens to withdraw.")
@rpc_url_option
@json_option('One object per line: {"action", "task_id", "account", "amount", ...}.')
def withdraw(
    task_id: int | None, credits: bool, key: str, rpc_url: str | None, as_json: bool
) -> None:
    """Take tokens out: from a task (--task N: your stake, minus pending slashes, and your
    challenge bonds), or your credited bonds (--credits)."""
    from marketplace.errors import ProtocolError
    from marketplace.roles.funds import collect_challenges, withdraw_credits, withdraw_stake

    if (task_id is None) == (not credits):
        raise click.UsageError("pass either --task N (a stake) or --credits (bonds), not both")
    client = make_client(Settings.from_env(), key=key, rpc_url=rpc_url)
    if task_id is None:
        with spinner("withdrawing credited bonds"):
            moved = [withdraw_credits(client)]
    else:
        with spinner(f"withdrawing from task {task_id}"):
            moved = collect_challenges(client, task_id)
            try:
                moved.append(withdraw_stake(client, task_id))
            except ProtocolError:
                if not moved:
                    raise
    for m in moved:
        if as_json:
            emit_json(m.to_json())
        elif m.action == "withdraw_stake":
            echo(f"withdrew a stake of {format_amount(m.amount)} from task {task_id}")
        elif m.action == "collect_challenge":
            echo(f"collected {format_amount(m.amount)} from the challenge of round "
                 f"{m.rounds[0]} of task {task_id}")  # fmt: skip
        else:
            echo(f"withdrew {format_amount(m.amount)} of credited bonds to {m.account}")
