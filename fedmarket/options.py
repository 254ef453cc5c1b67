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
task_option = click.option(
    "--task", "task_id", required=True, type=click.IntRange(min=1), help="The task's id."
)

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


class TokenAmount(click.ParamType):
    """A token amount as people write it (``10``, ``0.5``, ``1,000``), converted to base units."""

    name = "tokens"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        from marketplace.errors import ConfigError
        from marketplace.units import to_units

        try:
            return to_units(value)
        except ConfigError as exc:
            self.fail(_inline(exc), param, ctx)


class Account(click.ParamType):
    """An address (checksum enforced) or the name of a keystore account; gives the address."""

    name = "address"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from marketplace.chain.addresses import resolve_address
        from marketplace.errors import ConfigError
        from marketplace.settings import Settings

        try:
            return resolve_address(str(value), Settings.from_env().keystore_dir)
        except ConfigError as exc:
            self.fail(_inline(exc), param, ctx)


#: Converters shared by commands.
TOKENS = TokenAmount()
ACCOUNT = Account()

#: TASK_ID as an argument (``fedmarket task show 3``).
task_argument = click.argument("task_id", type=click.IntRange(min=1), metavar="TASK_ID")


def _inline(exc: Exception) -> str:
    """An error's message and hint as one clause (the usage error adds its own parentheses)."""
    hint = getattr(exc, "hint", None)
    return f"{exc}; {hint}" if hint else str(exc)
