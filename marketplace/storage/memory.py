"""An in-memory content store with the same CIDs as the embedded one, for fast unit tests."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from marketplace.storage.dagstore import DagStore
from marketplace.storage.importer import Block
from marketplace.storage.multiformats import CID


class MemoryStore(DagStore):
    """Blocks in a dict; behaves like :class:`EmbeddedStore` within one process.

    ``blocks`` is public on purpose: tests corrupt or drop entries to exercise error paths.
    """

    def __init__(self) -> None:
        self.blocks: dict[CID, bytes] = {}
        self._pinned: set[CID] = set()
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"MemoryStore({len(self.blocks)} blocks)"

    def _read_block(self, cid: CID) -> bytes | None:
        return self.blocks.get(cid)

    def _write_blocks(self, blocks: list[Block]) -> None:
        for block in blocks:
            existing = self.blocks.get(block.cid)
            if existing is None or not block.cid.matches(existing):
                self.blocks[block.cid] = bytes(block.data)

    def _has_block(self, cid: CID) -> bool:
        return cid in self.blocks

    def _delete_block(self, cid: CID) -> int:
        data = self.blocks.pop(cid, b"")
        return len(data)

    def _all_blocks(self) -> Iterator[CID]:
        return iter(sorted(self.blocks))

    def _pins(self) -> set[CID]:
        return set(self._pinned)

    def _write_pin(self, cid: CID) -> None:
        self._pinned.add(cid)

    def _remove_pin(self, cid: CID) -> None:
        self._pinned.discard(cid)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            yield

    def _writer_lock(self) -> contextlib.AbstractContextManager[None]:
        return self._locked()

    def _gc_lock(self) -> contextlib.AbstractContextManager[None]:
        return self._locked()

    def _after_add(self) -> None:
        """Nothing to flush in memory."""

    def _collect_temporaries(self) -> None:
        """No temporaries in memory."""
