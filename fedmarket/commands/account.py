"""`fedmarket account`: create, list and fund keystore accounts."""

from __future__ import annotations

import json

import click

from fedmarket.options import json_option
from marketplace.chain.keystore import create_account, list_accounts
from marketplace.settings import Settings


def password_from(settings: Settings, *, confirm: bool = False) -> str:
    """FEDMARKET_KEY_PASSWORD if set, else an interactive prompt (never echoed)."""
    if settings.key_password:
        return settings.key_password
    return str(click.prompt("Keystore password", hide_input=True, confirmation_prompt=confirm))


@click.group()
def account() -> None:
    """Keystore accounts under $FEDMARKET_HOME/keystore (keys are encrypted, never printed)."""


@account.command("new")
@click.option("--name", help="File name for the keystore (default: the address).")
@json_option()
def new(name: str | None, as_json: bool) -> None:
    """Create a new account and its encrypted keystore file."""
    settings = Settings.from_env()
    entry = create_account(settings.keystore_dir, password_from(settings, confirm=True), name=name)
    if as_json:
        click.echo(json.dumps({"address": entry.address, "keystore": str(entry.path)}))
    else:
        click.echo(f"{entry.address}  {entry.path}")


@account.command("list")
@json_option()
def list_(as_json: bool) -> None:
    """List keystore accounts (addresses only; no password needed)."""
    entries = list_accounts(Settings.from_env().keystore_dir)
    if as_json:
        click.echo(json.dumps([{"address": e.address, "keystore": str(e.path)} for e in entries]))
        return
    if not entries:
        click.echo("no accounts; create one with `fedmarket account new`")
    for e in entries:
        click.echo(f"{e.address}  {e.path}")


@account.command()
@click.argument("address")
@click.option("--tokens", default=10_000, show_default=True, help="Whole FMT to mint.")
@click.option("--eth", default=10.0, show_default=True, help="ETH for gas.")
def fund(address: str, tokens: int, eth: float) -> None:
    """Fund ADDRESS from the devnet faucet (devnet only)."""
    from devnet.faucet import fund as do_fund
    from marketplace.chain.deployments import Deployments
    from marketplace.chain.rpc import connect

    settings = Settings.from_env()
    deployments = Deployments.load(settings.deployments_file)
    w3 = connect(settings.rpc_url or deployments.rpc_url)
    do_fund(w3, deployments, address, tokens=tokens, eth=eth)
    click.echo(f"funded {address} with {tokens:,} FMT and {eth} ETH")
