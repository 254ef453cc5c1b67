"""`fedmarket devnet`: start, stop, inspect and reset the local chain with the contracts deployed."""

from __future__ import annotations

import sys
from typing import Any

import click

from devnet.process import ENGINES
from fedmarket.options import json_option
from fedmarket.ui import echo, emit_json, spinner
from marketplace.settings import Settings
from marketplace.units import amount_json, format_amount


@click.group()
def devnet() -> None:
    """Run a local chain (Anvil by default) with the fedmarket contracts deployed.

    State persists under $FEDMARKET_HOME/devnet: `up` after `down` or a crash restores the
    same chain, addresses and balances.
    """


@devnet.command()
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port for the JSON-RPC endpoint [default: the running devnet's, else 8545].",
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
    with spinner("starting the devnet and deploying the contracts"):
        result = manager.up(settings, engine=engine, port=port, host=host)
    if as_json:
        emit_json(_public_status(manager.status(settings)))
    else:
        echo(result.describe())


@devnet.command()
@json_option('One object: {"stopped": true|false}.')
def down(as_json: bool) -> None:
    """Stop the chain; its state is kept for the next `up`."""
    from devnet import manager

    stopped = manager.down(Settings.from_env())
    if as_json:
        emit_json({"stopped": stopped})
    elif stopped:
        echo("devnet stopped (state kept; `fedmarket devnet up` restores it)")
    else:
        echo("no devnet was running")


@devnet.command()
@json_option("One JSON object, for scripts (amounts exact).")
def status(as_json: bool) -> None:
    """Show the head block, contract addresses and dev-account balances."""
    from devnet import manager

    info = manager.status(Settings.from_env())
    if as_json:
        emit_json(_public_status(info))
        return
    echo(f"rpc_url      {info['rpc_url']}  (engine {info['engine']}, pid {info['pid']})")
    echo(f"chain_id     {info['chain_id']}")
    echo(f"block        {info['block']}")
    for name, address in info["contracts"].items():
        echo(f"{name:<12} {address}")
    echo("accounts")
    for acct in info["accounts"]:
        eth = format_amount(acct["eth"], symbol="ETH")
        tokens = format_amount(acct["tokens"])
        echo(f"  {acct['address']}  {eth:>18}  {tokens:>18}")


@devnet.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option('One object: {"reset": true}.')
def reset(yes: bool, as_json: bool) -> None:
    """Stop the chain and delete its state and deployments."""
    from devnet import manager

    settings = Settings.from_env()
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("pass --yes to reset without a terminal to confirm on")
        click.confirm(f"Delete all devnet state under {settings.devnet_dir}?", abort=True)
    manager.reset(settings)
    if as_json:
        emit_json({"reset": True})
    else:
        echo("devnet reset")


def _public_status(info: dict[str, Any]) -> dict[str, Any]:
    keys = ("rpc_url", "chain_id", "block", "pid", "contracts", "engine")
    out = {k: info[k] for k in keys}
    out["accounts"] = [
        {"address": a["address"], "eth": amount_json(a["eth"]), "tokens": amount_json(a["tokens"])}
        for a in info["accounts"]
    ]
    return out
