"""Errors that only the ledger service raises (the shared tree lives in marketplace.errors).

::

    FedmarketError
    ├── NotFound (LookupError)        a task or round that is not in the index (HTTP 404)
    ├── AuditBusy (RuntimeError)      no audit slot became free in time (HTTP 503)
    ├── GatewayRequestError (ValueError)  a gateway request it cannot answer as asked (400/406)
    └── ChainError
        └── ReorgDuringSync           the chain reorganised while a chunk was read
"""

from __future__ import annotations

from marketplace.errors import ChainError, FedmarketError


class NotFound(FedmarketError, LookupError):
    """The task or round asked for is not in the index."""


class AuditBusy(FedmarketError, RuntimeError):
    """No audit slot became free within the wait limit."""


class GatewayRequestError(FedmarketError, ValueError):
    """A trustless-gateway request this gateway cannot answer as asked (HTTP 400, or 406)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class ReorgDuringSync(ChainError):
    """The chain reorganised while a chunk was being read; the next sync rebuilds."""
