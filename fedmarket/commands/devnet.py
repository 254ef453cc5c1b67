"""`fedmarket devnet`: start, stop, inspect and reset the local chain with the contracts deployed."""

from __future__ import annotations

import json

import click

from devnet.process import ENGINES
from fedmarket.options import json_option
from marketplace.settings import Settings

TOKEN_UNIT = 10**18


@click.group()
def devnet() -> None:
    """Run a local chain (Anvil by default) with the fedmarket contracts deployed.

    State persists under $FEDMARKET_HOME/devnet: `up` after `down` or a crash restores the
    same chain, addresses and balances.
    """


@devnet.command()
@click.option(
    "--port", type=int, default=None, help="Port for the JSON-RPC endpoint [default: 8545]."
)
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Interface to listen on (an address other hosts can reach, for a federation).",
)
@click.option("--engine", type=click.Choice(ENGINES), default="anvil", show_default=True)
@json_option("Print the status as JSON.")
def up(port: int | None, host: str, engine: str, as_json: bool) -> None:
    """Start the chain (or reuse the running one) and deploy the contracts once."""
    from devnet import manager

    settings = Settings.from_env()
    result = manager.up(settings, engine=engine, port=port, host=host)
    if as_json:
        click.echo(json.dumps(_public_status(manager.status(settings))))
    else:
        click.echo(result.describe())


@devnet.command()
def down() -> None:
    """Stop the chain; its state is kept for the next `up`."""
    from devnet import manager

    if manager.down(Settings.from_env()):
        click.echo("devnet stopped (state kept; `fedmarket devnet up` restores it)")
    else:
        click.echo("no devnet was running")


@devnet.command()
@json_option("One JSON object, for scripts.")
def status(as_json: bool) -> None:
    """Show the head block, contract addresses and dev-account balances."""
    from devnet import manager

    info = manager.status(Settings.from_env())
    if as_json:
        click.echo(json.dumps(_public_status(info)))
        return
    click.echo(f"rpc_url      {info['rpc_url']}  (engine {info['engine']}, pid {info['pid']})")
    click.echo(f"chain_id     {info['chain_id']}")
    click.echo(f"block        {info['block']}")
    for name, address in info["contracts"].items():
        click.echo(f"{name:<12} {address}")
    click.echo("accounts")
    for acct in info["accounts"]:
        eth = acct["eth"] / TOKEN_UNIT
        tokens = acct["tokens"] / TOKEN_UNIT
        click.echo(f"  {acct['address']}  {eth:>14,.4f} ETH  {tokens:>16,.2f} FMT")


@devnet.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def reset(yes: bool) -> None:
    """Stop the chain and delete its state and deployments."""
    from devnet import manager

    settings = Settings.from_env()
    if not yes:
        click.confirm(f"Delete all devnet state under {settings.devnet_dir}?", abort=True)
    manager.reset(settings)
    click.echo("devnet reset")


def _public_status(info: dict[str, object]) -> dict[str, object]:
    keys = ("rpc_url", "chain_id", "block", "pid", "contracts", "engine", "accounts")
    return {k: info[k] for k in keys}
