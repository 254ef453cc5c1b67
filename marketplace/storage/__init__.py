"""Content-addressed storage of weights and reports: embedded block store or a Kubo daemon.

``open_store(settings)`` returns a :class:`ContentStore`; callers never learn which backend
they got. Both give the CIDs Kubo gives for
``ipfs add --cid-version=1 --raw-leaves --chunker=size-262144``. With IPFS gateways configured,
the store also reads, verified block by block, what other hosts serve (``gateway.py``).
"""

from __future__ import annotations

from marketplace.settings import Settings
from marketplace.storage.dagstore import DagStore, GcReport, Problem, VerifyReport
from marketplace.storage.embedded import EmbeddedStore
from marketplace.storage.importer import compute_cid
from marketplace.storage.memory import MemoryStore
from marketplace.storage.multiformats import CID
from marketplace.storage.protocol import AddResult, ContentStore

__all__ = [
    "CID",
    "AddResult",
    "ContentStore",
    "DagStore",
    "EmbeddedStore",
    "GcReport",
    "MemoryStore",
    "Problem",
    "VerifyReport",
    "compute_cid",
    "open_local_store",
    "open_store",
]


def open_store(settings: Settings) -> ContentStore:
    """The store ``settings.ipfs`` names: ``embedded`` (under ``settings.store_dir``) or a URL.

    With ``settings.ipfs_gateways``, reads that store cannot answer go to those gateways.
    """
    local = open_local_store(settings)
    if not settings.ipfs_gateways:
        return local
    from marketplace.storage.gateway import GatewayStore  # httpx only when gateways are used

    return GatewayStore(local, settings.ipfs_gateways)


def open_local_store(settings: Settings) -> ContentStore:
    """This host's own store, never reading through gateways (what a gateway serves)."""
    if settings.ipfs == "embedded":
        return EmbeddedStore(settings.store_dir)
    from marketplace.storage.kubo import KuboStore  # httpx only when a daemon is used

    return KuboStore(settings.ipfs)
