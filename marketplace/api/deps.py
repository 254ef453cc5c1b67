"""The service's parts and the typed FastAPI dependencies that hand them to routers.

:class:`Service` bundles the index (read side), the sync loop (write side) and the audit runner;
:func:`build_service` wires them from :class:`~marketplace.settings.Settings` the way every CLI
command resolves the chain (``--rpc-url`` beats FEDMARKET_RPC_URL beats the devnet's
deployments file). Routers only see the ``Index``/``Audits``/``Syncer``/``Paging`` aliases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

from fastapi import Depends, Query, Request

from marketplace.api.audit_runner import AuditRunner
from marketplace.api.indexer import DEFAULT_CHUNK, ChainSource, Indexer, index_path
from marketplace.api.ledger_index import LedgerIndex
from marketplace.api.sync_loop import DEFAULT_INTERVAL_S, SyncLoop
from marketplace.settings import Settings

if TYPE_CHECKING:
    from marketplace.api.gateway import BlockSource

MAX_PAGE = 500
MAX_OFFSET = 1_000_000_000


@dataclass
class Service:
    """Everything the app needs; tests may assemble one by hand."""

    index: LedgerIndex
    syncer: SyncLoop
    audits: AuditRunner | None = None
    blocks: BlockSource | None = None  # served under /ipfs/ (the trustless gateway)


def build_service(
    settings: Settings,
    *,
    rpc_url: str | None = None,
    marketplace: str | None = None,
    validations: Mapping[int, Path] | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    interval: float = DEFAULT_INTERVAL_S,
) -> Service:
    """Connect to the chain (raising ChainError when nothing answers) and open the index."""
    from marketplace.chain.deployments import Deployments
    from marketplace.chain.factory import make_client
    from marketplace.storage import open_local_store, open_store

    client = make_client(settings, rpc_url=rpc_url, marketplace=marketplace)
    start_block = 0
    if settings.deployments_file.exists():
        deployments = Deployments.load(settings.deployments_file)
        if deployments.marketplace.lower() == str(client.market.address).lower():
            start_block = deployments.deployed_block
    store = open_store(settings)
    source = ChainSource(client)
    path = index_path(settings.index_dir, source.chain_id, source.marketplace)
    indexer = Indexer(source, path, start_block=start_block, chunk_size=chunk_size, store=store)
    return Service(
        index=LedgerIndex(path),
        syncer=SyncLoop(indexer, interval=interval),
        audits=AuditRunner(client, store, validations=validations),
        blocks=cast("BlockSource", open_local_store(settings)),  # each store has get_block
    )


def get_service(request: Request) -> Service:
    service = request.app.state.service
    assert isinstance(service, Service)
    return service


def get_index(request: Request) -> LedgerIndex:
    """The index, synced first when no background loop keeps it fresh."""
    service = get_service(request)
    service.syncer.ensure_fresh()
    return service.index


def get_syncer(request: Request) -> SyncLoop:
    return get_service(request).syncer


def get_audits(request: Request) -> AuditRunner | None:
    return get_service(request).audits


@dataclass(frozen=True)
class PageParams:
    limit: int
    offset: int


def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Items per page.")] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip.")] = 0,
) -> PageParams:
    return PageParams(limit, offset)


Index = Annotated[LedgerIndex, Depends(get_index)]
Syncer = Annotated[SyncLoop, Depends(get_syncer)]
Audits = Annotated[AuditRunner | None, Depends(get_audits)]
Paging = Annotated[PageParams, Depends(page_params)]
