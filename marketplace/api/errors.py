"""Errors that only the ledger service raises (the shared tree lives in marketplace.errors).

::

    FedmarketError
    ├── NotFound (LookupError)        a task or round that is not in the index (HTTP 404)
    ├── AuditBusy (RuntimeError)      no audit slot became free in time (HTTP 503)
    └── ChainError
        └── ReorgDuringSync           the chain reorganised while a chunk was read
"""

from __future__ import annotations

from marketplace.errors import ChainError, FedmarketError


class NotFound(FedmarketError, LookupError):
    """The task or round asked for is not in the index."""


class AuditBusy(FedmarketError, RuntimeError):
    """No audit slot became free within the wait limit."""


class ReorgDuringSync(ChainError):
    """The chain reorganised while a chunk was being read; the next sync rebuilds."""
