"""The `fedmarket` command line: a thin layer over functions that tests call directly.

Subcommands live next to the code they drive and are imported lazily, so `fedmarket --help`
stays fast and a missing optional piece only affects its own command. Every
:class:`~marketplace.errors.FedmarketError` becomes a one-line message and exit code 1;
tracebacks are shown only with ``FEDMARKET_DEBUG=1``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any, NoReturn

import click

from marketplace.errors import FedmarketError
from marketplace.settings import Settings

# name -> ("module", "attribute", "one-line help")
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "devnet": ("fedmarket.commands.devnet", "devnet", "Start, stop and inspect the local chain."),
    "ipfs": ("fedmarket.commands.ipfs", "ipfs", "Add, read, verify and export content."),
    "account": (
        "fedmarket.commands.account",
        "account",
        "Create, list and fund keystore accounts.",
    ),
    "task": (
        "fedmarket.commands.task",
        "task",
        "Create, inspect, cancel, refund, finalize and wind down tasks.",
    ),
    "join": ("fedmarket.commands.join", "join", "Run a participant node for a task."),
    "coordinate": ("fedmarket.commands.coordinate", "coordinate", "Run the aggregator."),
    "claim": ("fedmarket.commands.funds", "claim", "Claim a task's rewards (every final round)."),
    "withdraw": (
        "fedmarket.commands.funds",
        "withdraw",
        "Withdraw a stake and challenge bonds, or credited bonds.",
    ),
    "audit": ("fedmarket.commands.audit", "audit", "Recompute and check a task's payout ledger."),
    "challenge": (
        "fedmarket.commands.audit",
        "challenge",
        "Challenge a round's settlement with audit evidence; collect the bond.",
    ),
    "resolve": ("fedmarket.commands.audit", "resolve", "Rule on a round's challenges (arbiter)."),
    "serve": ("fedmarket.commands.serve", "serve", "Run the ledger API and dashboard."),
    "demo": ("fedmarket.commands.demo", "demo", "Run everything at once on embedded defaults."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in SUBCOMMANDS if self._available(name))

    @staticmethod
    def _available(name: str) -> bool:
        module = SUBCOMMANDS[name][0]
        try:
            return importlib.util.find_spec(module) is not None
        except ModuleNotFoundError:  # its parent package does not exist (yet)
            return False

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS or not self._available(cmd_name):
            return None
        module_name, attr, _ = SUBCOMMANDS[cmd_name]
        command = getattr(importlib.import_module(module_name), attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SUBCOMMANDS[name][2]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="fedmarket")
def cli() -> None:
    """fedmarket: pay federated-learning participants for what their data contributes.

    Local state lives under $FEDMARKET_HOME (default ~/.fedmarket).
    """


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: run the CLI; every error becomes one line on stderr.

    Exit codes: 0 success, 1 an error (``error: ...`` with what to do), 2 a usage error (a
    missing or malformed option), 130 interrupted. ``FEDMARKET_DEBUG=1`` re-raises instead,
    for the traceback. Every option can also be given as FEDMARKET_<COMMAND>_<OPTION>
    (click's ``auto_envvar_prefix``), e.g. ``FEDMARKET_SERVE_PORT=8001``.
    """
    debug = Settings.from_env().debug
    try:
        return cli.main(
            args=argv, prog_name="fedmarket", standalone_mode=False, auto_envvar_prefix="FEDMARKET"
        )
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        if debug:
            raise
        where = exc.ctx.command_path if exc.ctx is not None else "fedmarket"
        _fail(exc.format_message(), f"see `{where} --help`", exc.exit_code)
    except click.ClickException as exc:
        if debug:
            raise
        _fail(exc.format_message(), None, exc.exit_code)
    except FedmarketError as exc:
        if debug:
            raise
        _fail(exc.user_message(), None, 1)
    except (click.exceptions.Abort, KeyboardInterrupt):
        if debug:
            raise
        click.echo("interrupted", err=True)
        sys.exit(130)
    except OSError as exc:  # a file the user named cannot be read or written, a full disk, ...
        if debug:
            raise
        _fail(str(exc), "set FEDMARKET_DEBUG=1 for the traceback", 1)
    except Exception as exc:
        if debug:
            raise
        _fail(
            f"unexpected {type(exc).__name__}: {exc}",
            "this is a bug; please report it with the traceback from FEDMARKET_DEBUG=1",
            1,
        )


def _fail(message: str, hint: str | None, code: int) -> NoReturn:
    """Print ``error: message (hint)`` as exactly one line on stderr and exit with ``code``."""
    text = " ".join(message.split())
    if hint:
        text = f"{text} ({hint})"
    click.secho(
        f"error: {text}", fg="red", err=True, color=None if Settings.from_env().color else False
    )
    sys.exit(code)


if __name__ == "__main__":
    main()
