"""Options shared by several commands, defined once so that they read and behave the same."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(help: str = "Print one JSON object, for scripts.") -> Callable[[F], F]:
    """``--json``: machine-readable output (the function receives ``as_json``)."""
    return click.option("--json", "as_json", is_flag=True, help=help)


def key_option(
    help: str = "Keystore to sign with (file, account name or address).",
) -> Callable[[F], F]:
    """``--key``: the account that signs this command's transactions."""
    return click.option("--key", required=True, help=help)


def validation_option(
    *, required: bool, help: str = "The task's validation set (.npz)."
) -> Callable[[F], F]:
    """``--validation``: a validation file (the function receives ``validation_path``)."""
    return click.option(
        "--validation",
        "validation_path",
        required=required,
        default=None,
        type=click.Path(exists=True, dir_okay=False),
        help=help,
    )


#: ``--task``: the task's id (the function receives ``task_id``).
task_option = click.option("--task", "task_id", required=True, type=int, help="The task's id.")

#: ``--round``: a round number, 1-based (the function receives ``round_``).
round_option = click.option(
    "--round", "round_", required=True, type=click.IntRange(min=1), help="The round (1-based)."
)

#: ``--rpc-url``: the chain's JSON-RPC endpoint.
rpc_url_option = click.option(
    "--rpc-url",
    default=None,
    help="JSON-RPC endpoint (default: FEDMARKET_RPC_URL, else the devnet's).",
)
