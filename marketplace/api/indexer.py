"""The event indexer: copies Marketplace events into SQLite, chunk by chunk, restart- and reorg-safe.

Design (see docs/service.md):

- **Cursor + chunk transactions.** ``meta`` holds the last indexed block and its hash. Sync walks
  from the cursor + 1 to the chain head in chunks of ``chunk_size`` blocks; each chunk's rows and
  the cursor update are written in ONE transaction, so a process killed mid-chunk leaves the
  database exactly at the end of the previous chunk and a restart resumes from there.
- **Idempotent.** Every event row is keyed by ``(block_number, log_index)``; re-applying an event
  is a no-op.
- **Reorgs.** Before syncing, the stored hash of the cursor block is compared with the chain's
  hash at that height; if they differ (or the chain is now shorter) the chain tables are dropped
  and re-synced from the start block. The chain is the source of truth: ``rebuild()`` may be run
  at any time.
- **Reports.** After the events, the round reports of newly settled rounds are fetched from the
  content store and cached (see :mod:`marketplace.api.report_cache`).

The chain is reached through :class:`EventSource`; :class:`ChainSource` is the JSON-RPC one, and
tests pass an in-memory source with synthetic events.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from marketplace.api.db import connect, transaction
from marketplace.api.errors import ReorgDuringSync
from marketplace.api.report_cache import ReportCache
from marketplace.api.tables import (
    SCHEMA_VERSION,
    apply_event,
    create_tables,
    drop_all_tables,
    drop_chain_tables,
)
from marketplace.chain.client import MarketplaceClient
from marketplace.chain.events import ChainEvent
from marketplace.storage import ContentStore

#: Blocks per chunk (one transaction each). Anvil has no getLogs range cap.
DEFAULT_CHUNK = 2_000


class EventSource(Protocol):
    """What the indexer needs from a chain."""

    @property
    def chain_id(self) -> int: ...

    @property
    def marketplace(self) -> str: ...

    def head(self) -> int:
        """The latest block number."""
        ...

    def block_hash(self, number: int) -> str | None:
        """The 0x-hash of block ``number``, or None when the chain has no such block."""
        ...

    def fetch(self, from_block: int, to_block: int) -> list[ChainEvent]:
        """Marketplace events in the inclusive range, oldest first."""
        ...


class ChainSource:
    """An :class:`EventSource` over JSON-RPC, through a read-only :class:`MarketplaceClient`."""

    def __init__(self, client: MarketplaceClient) -> None:
        self.client = client
        self._chain_id = int(client.w3.eth.chain_id)

    @property
    def chain_id(self) -> int:
        return self._chain_id

    @property
    def marketplace(self) -> str:
        return str(self.client.market.address)

    def head(self) -> int:
        return int(self.client.w3.eth.block_number)

    def block_hash(self, number: int) -> str | None:
        block = self.client.w3.eth.get_block(number)
        if block is None:
            return None
        return "0x" + bytes(block["hash"]).hex()

    def fetch(self, from_block: int, to_block: int) -> list[ChainEvent]:
        return self.client.events.fetch(from_block, to_block)


@dataclass(frozen=True)
class Cursor:
    """The last fully indexed block."""

    block: int
    hash: str


@dataclass(frozen=True)
class ChunkProgress:
    """Passed to ``on_chunk`` inside a chunk's transaction, after its rows, before the commit."""

    number: int  # 1-based within this sync
    from_block: int
    to_block: int
    events: int


@dataclass(frozen=True)
class SyncReport:
    """What one :meth:`Indexer.sync` did."""

    from_block: int
    to_block: int
    head: int
    chunks: int
    events: int
    rebuilt: bool
    reports_cached: int


def index_path(index_dir: Path, chain_id: int, marketplace: str) -> Path:
    """One database file per chain id and Marketplace address."""
    return index_dir / f"{chain_id}-{marketplace.lower()}.sqlite3"


class Indexer:
    """Keeps one SQLite index in step with one Marketplace's event log."""

    def __init__(
        self,
        source: EventSource,
        path: Path,
        *,
        start_block: int = 0,
        chunk_size: int = DEFAULT_CHUNK,
        store: ContentStore | None = None,
        on_chunk: Callable[[ChunkProgress], None] | None = None,
    ) -> None:
        if chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        self.source = source
        self.path = path
        self.start_block = start_block
        self.chunk_size = chunk_size
        self.on_chunk = on_chunk
        self.reports = ReportCache(store) if store is not None else None
        self._lock = threading.Lock()
        self._conn = connect(path)
        with transaction(self._conn):
            if self._stored_schema() not in (None, str(SCHEMA_VERSION)):
                drop_all_tables(self._conn)  # an older layout: the chain rebuilds it
            create_tables(self._conn)
            self._set_meta("schema_version", str(SCHEMA_VERSION))
            self._set_meta("chain_id", str(source.chain_id))
            self._set_meta("marketplace", source.marketplace)
            self._set_meta("start_block", str(start_block))

    def close(self) -> None:
        self._conn.close()

    def _stored_schema(self) -> str | None:
        exists = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if exists is None:
            return None
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return None if row is None else str(row[0])

    # -- cursor --------------------------------------------------------------------------

    def cursor(self) -> Cursor | None:
        """The last indexed block and its hash, or None before the first chunk."""
        rows = dict(self._conn.execute(
            "SELECT key, value FROM meta WHERE key IN ('last_block', 'last_block_hash')"
        ).fetchall())  # fmt: skip
        if "last_block" not in rows:
            return None
        return Cursor(int(rows["last_block"]), str(rows["last_block_hash"]))

    def _set_meta(self, key: str, value: str) -> None:
        self._conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- sync ----------------------------------------------------------------------------

    def sync(self, *, to_block: int | None = None, max_chunks: int | None = None) -> SyncReport:
        """Index from the cursor to the head (or ``to_block``); rebuild first on a reorg.

        ``max_chunks`` bounds the work of one call (the serving loop uses it so a long catch-up
        is spread over several iterations, each reporting progress).
        """
        with self._lock:
            chain_head = self.source.head()
            head = chain_head if to_block is None else min(chain_head, to_block)
            rebuilt = False
            cursor = self.cursor()
            if cursor is not None and not self._still_canonical(cursor, chain_head):
                self._drop()
                cursor = None
                rebuilt = True
            start = cursor.block + 1 if cursor is not None else self.start_block
            first, chunks, events = start, 0, 0
            while start <= head and (max_chunks is None or chunks < max_chunks):
                end = min(start + self.chunk_size - 1, head)
                events += self._index_chunk(chunks + 1, start, end)
                chunks += 1
                start = end + 1
            cached = self.reports.fill(self._conn) if self.reports is not None else 0
            return SyncReport(
                from_block=first,
                to_block=start - 1,
                head=head,
                chunks=chunks,
                events=events,
                rebuilt=rebuilt,
                reports_cached=cached,
            )

    def rebuild(self, *, to_block: int | None = None) -> SyncReport:
        """Drop everything derived from the chain and index it again from the start block."""
        with self._lock:
            self._drop()
        report = self.sync(to_block=to_block)
        return SyncReport(**{**report.__dict__, "rebuilt": True})

    def _still_canonical(self, cursor: Cursor, head: int) -> bool:
        if cursor.block > head:
            return False
        return self.source.block_hash(cursor.block) == cursor.hash

    def _drop(self) -> None:
        with transaction(self._conn):
            drop_chain_tables(self._conn)
            self._conn.execute("DELETE FROM meta WHERE key IN ('last_block', 'last_block_hash')")
            create_tables(self._conn)

    def _index_chunk(self, number: int, start: int, end: int) -> int:
        events = self.source.fetch(start, end)
        end_hash = self.source.block_hash(end)
        if end_hash is None:  # the chain shrank under us: the next sync sees the reorg
            raise ReorgDuringSync(f"block {end} disappeared while indexing")
        with transaction(self._conn):
            for event in events:
                apply_event(self._conn, event)
            self._set_meta("last_block", str(end))
            self._set_meta("last_block_hash", end_hash)
            if self.on_chunk is not None:
                self.on_chunk(ChunkProgress(number, start, end, len(events)))
        return len(events)
