"""A ready Marketplace client from settings: endpoint, contract addresses and the user's key.

Every caller resolves the chain the same way: an explicit ``rpc_url`` beats FEDMARKET_RPC_URL
beats the devnet's deployments file; the Marketplace address likewise comes from the argument,
FEDMARKET_MARKETPLACE or the deployments file.
"""

from __future__ import annotations

from collections.abc import Callable

from marketplace.chain.addresses import parse_address
from marketplace.chain.client import MarketplaceClient
from marketplace.chain.deployments import Deployments
from marketplace.chain.keystore import load_account, resolve_keystore
from marketplace.chain.rpc import connect
from marketplace.errors import ConfigError
from marketplace.settings import Settings


def make_client(
    settings: Settings,
    *,
    key: str | None = None,
    rpc_url: str | None = None,
    marketplace: str | None = None,
    password: str | None = None,
    prompt: Callable[[str], str] | None = None,
) -> MarketplaceClient:
    """A client for the configured chain, acting as ``key``'s account when one is given.

    The keystore password is ``password``, else FEDMARKET_KEY_PASSWORD, else asked through
    ``prompt`` (the CLI passes a hidden terminal prompt); with none of them it is an error.
    """
    deployments: Deployments | None = None
    if settings.deployments_file.exists():
        deployments = Deployments.load(settings.deployments_file)
    url = rpc_url or settings.rpc_url or (deployments.rpc_url if deployments else None)
    if url is None:
        raise ConfigError(
            "no chain configured: this home has no devnet and FEDMARKET_RPC_URL is not set",
            hint="run `fedmarket devnet up`, or set FEDMARKET_RPC_URL and FEDMARKET_MARKETPLACE",
        )
    address = (
        marketplace or settings.marketplace or (deployments.marketplace if deployments else None)
    )
    if address is None:
        raise ConfigError(
            "no Marketplace address known for this chain",
            hint="set FEDMARKET_MARKETPLACE to the contract's address",
        )
    address = parse_address(address)
    w3 = connect(url)
    account = None
    if key is not None:
        path = resolve_keystore(key, settings.keystore_dir)
        secret = password or settings.key_password
        if secret is None:
            if prompt is None:
                raise ConfigError(
                    f"no password for keystore {path.name}",
                    hint="set FEDMARKET_KEY_PASSWORD",
                )
            secret = prompt(f"Password for {path.name}")
        account = load_account(path, secret)
    token = deployments.token if deployments and address == deployments.marketplace else None
    return MarketplaceClient(w3, address, token, account)
