"""Building a ready client from settings: endpoint, contract addresses, and the user's key.

The CLI commands share this so they resolve the RPC URL, deployments and keystores the same
way: ``--rpc-url`` beats FEDMARKET_RPC_URL beats the devnet's deployments file.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from devnet.deployments import Deployments
from marketplace.accounts import load_account, resolve_keystore
from marketplace.chain.client import MarketplaceClient
from marketplace.chain.rpc import connect
from marketplace.errors import ConfigError
from marketplace.settings import Settings

TOKEN_DECIMALS = 18


def make_client(
    settings: Settings,
    *,
    key: str | None = None,
    rpc_url: str | None = None,
    marketplace: str | None = None,
    password: str | None = None,
) -> MarketplaceClient:
    """A client for the configured chain, acting as ``key``'s account when one is given."""
    deployments: Deployments | None = None
    if settings.deployments_file.exists():
        deployments = Deployments.load(settings.deployments_file)
    url = rpc_url or settings.rpc_url or (deployments.rpc_url if deployments else None)
    if url is None:
        raise ConfigError(
            "no chain configured",
            hint="run `fedmarket devnet up`, or pass --rpc-url and --marketplace",
        )
    address = marketplace or (deployments.marketplace if deployments else None)
    if address is None:
        raise ConfigError("no Marketplace address known", hint="pass --marketplace ADDRESS")
    w3 = connect(url)
    account = None
    if key is not None:
        path = resolve_keystore(key, settings.keystore_dir)
        secret = password or settings.key_password
        if secret is None:
            import click

            secret = str(click.prompt(f"Password for {path.name}", hide_input=True))
        account = load_account(path, secret)
    token = deployments.token if deployments and address == deployments.marketplace else None
    return MarketplaceClient(w3, address, token, account)


def to_units(amount: str | int | float, decimals: int = TOKEN_DECIMALS) -> int:
    """Whole tokens (a decimal string like "12.5") to integer base units."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation as exc:
        raise ConfigError(f"not a token amount: {amount!r}") from exc
    units = value * (Decimal(10) ** decimals)
    if units < 0 or units != units.to_integral_value():
        raise ConfigError(f"token amount {amount} is negative or finer than 1e-{decimals}")
    return int(units)


def from_units(units: int, decimals: int = TOKEN_DECIMALS) -> str:
    """Integer base units to a readable decimal string of whole tokens."""
    value = Decimal(units) / (Decimal(10) ** decimals)
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
