"""`fedmarket account`: create, list and fund keystore accounts."""

from __future__ import annotations

import re
import sys

import click

from fedmarket.options import ACCOUNT, json_option, rpc_url_option
from fedmarket.ui import echo, emit_json, spinner
from marketplace.chain.keystore import create_account, list_accounts
from marketplace.errors import ConfigError
from marketplace.settings import Settings
from marketplace.units import TOKEN_DECIMALS, amount_json, format_amount

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def password_from(settings: Settings, *, confirm: bool = False) -> str:
    """FEDMARKET_KEY_PASSWORD if set, else a hidden prompt; an error when nobody can answer."""
    if settings.key_password:
        return settings.key_password
    if not sys.stdin.isatty():
        raise ConfigError(
            "a keystore password is needed but there is no terminal to ask on",
            hint="set FEDMARKET_KEY_PASSWORD for scripts and background runs",
        )
    return str(click.prompt("Keystore password", hide_input=True, confirmation_prompt=confirm))


@click.group()
def account() -> None:
    """Keystore accounts under $FEDMARKET_HOME/keystore (keys are encrypted, never printed)."""


@account.command("new")
@click.option("--name", help="Account name, usable wherever an address is (default: the address).")
@json_option('One object: {"address", "name", "keystore"}.')
def new(name: str | None, as_json: bool) -> None:
    """Create a new account and its encrypted keystore file."""
    settings = Settings.from_env()
    if name is not None and not _NAME.fullmatch(name):
        raise click.BadParameter(
            "a name starts with a letter and has letters, digits, '.', '_' or '-' (at most 64)",
            param_hint="'--name'",
        )
    if name is not None and (settings.keystore_dir / f"{name}.json").exists():
        raise ConfigError(f"an account named {name!r} already exists", hint="pick another --name")
    entry = create_account(settings.keystore_dir, password_from(settings, confirm=True), name=name)
    if as_json:
        emit_json({"address": entry.address, "name": entry.path.stem, "keystore": str(entry.path)})
    else:
        echo(f"{entry.address}  {entry.path}")


@account.command("list")
@json_option('A JSON array of {"address", "name", "keystore"}.')
def list_(as_json: bool) -> None:
    """List keystore accounts (addresses only; no password needed)."""
    entries = list_accounts(Settings.from_env().keystore_dir)
    if as_json:
        emit_json(
            [{"address": e.address, "name": e.path.stem, "keystore": str(e.path)} for e in entries]
        )
        return
    if not entries:
        echo("no accounts; create one with `fedmarket account new --name NAME`")
    for e in entries:
        echo(f"{e.address}  {e.path.stem:<20} {e.path}")


@account.command()
@click.argument("address", type=ACCOUNT)
@click.option("--tokens", default=10_000, show_default=True, type=click.IntRange(min=0),
              help="Whole FMT to mint.")  # fmt: skip
@click.option("--eth", default=10.0, show_default=True, type=click.FloatRange(min=0),
              help="ETH for gas.")  # fmt: skip
@rpc_url_option
@json_option('One object: {"address", "tokens", "eth"} (amounts exact).')
def fund(address: str, tokens: int, eth: float, rpc_url: str | None, as_json: bool) -> None:
    """Fund ADDRESS (an address or an account name) from the devnet faucet (devnet only)."""
    from devnet.faucet import fund as do_fund
    from marketplace.chain.deployments import Deployments
    from marketplace.chain.rpc import connect

    settings = Settings.from_env()
    if not settings.deployments_file.exists():
        raise ConfigError(
            "the faucet exists only on the devnet, and none was started here",
            hint="run `fedmarket devnet up` first",
        )
    deployments = Deployments.load(settings.deployments_file)
    w3 = connect(rpc_url or settings.rpc_url or deployments.rpc_url)
    with spinner(f"funding {address} from the devnet faucet"):
        do_fund(w3, deployments, address, tokens=tokens, eth=eth)
    token_units = tokens * 10**TOKEN_DECIMALS
    eth_wei = int(eth * 10**18)
    if as_json:
        emit_json({"address": address, "tokens": amount_json(token_units),
                   "eth": amount_json(eth_wei)})  # fmt: skip
    else:
        echo(
            f"funded {address} with {format_amount(token_units)} and "
            f"{format_amount(eth_wei, symbol='ETH')}"
        )
