"""Connecting to a JSON-RPC endpoint with clear errors when it is not there."""

from __future__ import annotations

from web3 import Web3
from web3.providers.rpc import HTTPProvider

from marketplace.errors import ChainError

DEFAULT_RPC_URL = "http://127.0.0.1:8545"


def connect(rpc_url: str, *, timeout: float = 30.0, check: bool = True) -> Web3:
    """A Web3 for ``rpc_url``; with ``check`` it fails fast when nothing answers there."""
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    if check:
        ensure_reachable(w3, rpc_url)
    return w3


def ensure_reachable(w3: Web3, rpc_url: str) -> int:
    """Return the chain id, or raise :class:`ChainError` saying what to do."""
    try:
        return int(w3.eth.chain_id)
    except Exception as exc:  # requests/urllib3/socket errors vary by platform
        raise ChainError(
            f"no Ethereum JSON-RPC endpoint answers at {rpc_url} ({type(exc).__name__})",
            hint="start the devnet with `fedmarket devnet up`, or set FEDMARKET_RPC_URL to a "
            "running node",
        ) from exc
