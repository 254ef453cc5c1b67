"""Everything a block-based content store does, written once over a few block primitives.

:class:`DagStore` turns files into Kubo-identical DAGs (:mod:`importer`), reads them back with
every block verified against its CID, pins, garbage-collects, verifies and exports CARs. A
subclass supplies where blocks and pins live (a directory, a dict) and how writers exclude the
garbage collector.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from marketplace.errors import ContentNotFound, CorruptContent, StorageError
from marketplace.storage import car, dag
from marketplace.storage.importer import CHUNK_SIZE, Block, DagBuilder, LeafSink, chunks_of
from marketplace.storage.multiformats import CID, RAW, as_cid
from marketplace.storage.protocol import AddResult, Progress, Source

# Below this size a helper thread for the whole-file sha256 costs more than it saves.
_SMALL = 4 * CHUNK_SIZE


@dataclass(frozen=True)
class Problem:
    """One bad block found by :meth:`DagStore.verify`."""

    cid: str
    location: str
    kind: str  # "corrupt" or "missing"
    detail: str


@dataclass
class VerifyReport:
    """Blocks checked and problems found; ``ok`` when there are none."""

    checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class GcReport:
    """What a garbage collection removed and kept."""

    removed: int
    kept: int
    freed_bytes: int


class DagStore(ABC):
    """A content store over block primitives; see :class:`EmbeddedStore` and MemoryStore."""

    # ---- primitives a backend supplies -------------------------------------------------
    @abstractmethod
    def _read_block(self, cid: CID) -> bytes | None:
        """Raw stored bytes of a block, unverified; None when absent."""

    @abstractmethod
    def _write_blocks(self, blocks: list[Block]) -> None:
        """Store blocks atomically (each appears whole or not at all).

        Writes may still be in flight on return, but a block that links to others must not
        become visible before them; :meth:`_after_add` waits for every write.
        """

    @abstractmethod
    def _has_block(self, cid: CID) -> bool: ...

    @abstractmethod
    def _delete_block(self, cid: CID) -> int:
        """Remove a block; return the bytes freed."""

    @abstractmethod
    def _all_blocks(self) -> Iterator[CID]: ...

    @abstractmethod
    def _pins(self) -> set[CID]: ...

    @abstractmethod
    def _write_pin(self, cid: CID) -> None: ...

    @abstractmethod
    def _remove_pin(self, cid: CID) -> None: ...

    @abstractmethod
    def _writer_lock(self) -> contextlib.AbstractContextManager[None]:
        """Held by add/pin/unpin; many writers may hold it at once, never during gc."""

    @abstractmethod
    def _gc_lock(self) -> contextlib.AbstractContextManager[None]:
        """Held by gc; excludes every writer."""

    def _location(self, cid: CID) -> str:
        """Where a block lives, for error messages."""
        return str(cid)

    def _leaf_sink(self) -> LeafSink | None:
        """A backend that hashes and stores leaves concurrently returns its sink here."""
        return None

    @abstractmethod
    def _after_add(self) -> None:
        """Wait for every write of this add, make it durable, raise the first write error."""

    @abstractmethod
    def _collect_temporaries(self) -> None:
        """Run by gc, under its lock, to drop leftovers of interrupted writes."""

    # ---- block access ------------------------------------------------------------------
    def get_block(self, cid: CID) -> bytes:
        """A block's bytes, verified against its CID (never returns wrong data)."""
        data = self._read_block(cid)
        if data is None:
            raise ContentNotFound(f"block {cid} is not in the store ({self._location(cid)})")
        if not cid.matches(data):
            raise CorruptContent(
                f"block {cid} at {self._location(cid)} does not hash to its CID",
                hint="run `fedmarket ipfs verify`, then re-add the file or restore the block",
            )
        return data

    def put_block(self, cid: CID, data: bytes) -> None:
        """Store one block after checking it hashes to ``cid`` (CAR import, transfers)."""
        if not cid.matches(data):
            raise CorruptContent(f"refusing to store block {cid}: bytes do not hash to it")
        with self._writer_lock():
            try:
                self._write_blocks([Block(cid, data)])
            finally:
                self._after_add()

    # ---- ContentStore ------------------------------------------------------------------
    def add(self, data: Source, *, pin: bool = True, progress: Progress | None = None) -> AddResult:
        """Chunk, build and store ``data``; pin the root unless ``pin=False``."""
        small = isinstance(data, bytes | bytearray | memoryview) and len(data) <= _SMALL
        builder = DagBuilder(background_sha256=not small, leaf_sink=self._leaf_sink())
        try:
            with self._writer_lock():
                try:
                    for chunk in chunks_of(data):
                        self._write_blocks(builder.push(chunk))
                        if progress is not None:
                            progress(builder.size)
                    self._write_blocks(builder.finish())
                finally:
                    self._after_add()
                assert builder.root is not None
                if pin:
                    self._write_pin(builder.root)
            return AddResult(str(builder.root), builder.size, builder.sha256)
        finally:
            builder.close()

    def cat(self, cid: CID | str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream the file's bytes; a missing or corrupt root fails here, others while reading."""
        root = as_cid(cid)
        self.get_block(root)
        return dag.read_range(self.get_block, root, offset, length)

    def cat_bytes(self, cid: CID | str, *, offset: int = 0, length: int | None = None) -> bytes:
        return b"".join(self.cat(cid, offset=offset, length=length))

    def get(self, cid: CID | str) -> bytes:
        return self.cat_bytes(cid)

    def has(self, cid: CID | str) -> bool:
        return self._has_block(as_cid(cid))

    def size(self, cid: CID | str) -> int:
        """File size under ``cid`` (reads the root block only)."""
        return dag.file_size(self.get_block, as_cid(cid))

    def pin(self, cid: CID | str) -> None:
        """Pin ``cid`` recursively; every block under it must be present."""
        root = as_cid(cid)
        with self._writer_lock():
            for child, _ in dag.walk(self.get_block, root, read_leaves=False):
                if not self._has_block(child):
                    raise ContentNotFound(f"cannot pin {root}: block {child} is missing")
            self._write_pin(root)

    def unpin(self, cid: CID | str) -> None:
        root = as_cid(cid)
        with self._writer_lock():
            if root not in self._pins():
                raise ContentNotFound(f"{root} is not pinned")
            self._remove_pin(root)

    def pins(self) -> list[str]:
        """Pinned root CIDs, sorted."""
        return sorted(str(c) for c in self._pins())

    # ---- maintenance -------------------------------------------------------------------
    def gc(self) -> GcReport:
        """Delete every block not reachable from a pin; refuse if a pinned DAG is unreadable."""
        with self._gc_lock():
            keep: set[CID] = set()
            for root in self._pins():
                try:
                    keep.update(c for c, _ in dag.walk(self.get_block, root, read_leaves=False))
                except StorageError as exc:
                    raise StorageError(
                        f"gc stopped: pinned {root} cannot be traversed ({exc}); nothing deleted",
                        hint="run `fedmarket ipfs verify` and repair the store first",
                    ) from exc
            removed = freed = kept = 0
            for cid in list(self._all_blocks()):
                if cid in keep:
                    kept += 1
                else:
                    freed += self._delete_block(cid)
                    removed += 1
            self._collect_temporaries()
        return GcReport(removed, kept, freed)

    def verify(self, cid: CID | str | None = None) -> VerifyReport:
        """Re-hash blocks: the DAG under ``cid``, or every block plus every pinned DAG."""
        report = VerifyReport()
        if cid is not None:
            self._verify_dag(as_cid(cid), report)
            return report
        for block in list(self._all_blocks()):
            self._check(block, report)
        for root in sorted(self._pins()):
            self._verify_dag(root, report, rehash=False)
        return report

    def _check(self, cid: CID, report: VerifyReport) -> bytes | None:
        report.checked += 1
        data = self._read_block(cid)
        if data is None:
            report.problems.append(self._missing(cid))
            return None
        if not cid.matches(data):
            report.problems.append(
                Problem(str(cid), self._location(cid), "corrupt", f"{len(data)} bytes, bad hash")
            )
            return None
        return data

    def _verify_dag(self, root: CID, report: VerifyReport, *, rehash: bool = True) -> None:
        """Walk the DAG under ``root``; with ``rehash=False`` only look for missing blocks."""
        seen: set[CID] = set()
        stack = [root]
        while stack:
            cid = stack.pop()
            if cid in seen:
                continue
            seen.add(cid)
            if rehash:
                data = self._check(cid, report)
            elif cid.codec == RAW:
                if not self._has_block(cid):
                    report.problems.append(self._missing(cid))
                continue
            else:
                data = self._read_block(cid)
                if data is None:
                    report.problems.append(self._missing(cid))
                elif not cid.matches(data):
                    data = None  # already reported by the full scan
            if data is not None:
                stack.extend(dag.child_links(cid, data))

    def _missing(self, cid: CID) -> Problem:
        return Problem(str(cid), self._location(cid), "missing", "block absent")

    def export_car(self, cid: CID | str, out: BinaryIO | str | Path) -> int:
        """Write the DAG under ``cid`` as a CARv1 file (root first); return the block count."""
        root = as_cid(cid)
        blocks = dag.walk(self.get_block, root)
        if isinstance(out, str | Path):
            tmp = Path(f"{out}.partial")
            with open(tmp, "wb") as fh:
                count = car.write_car(fh, [root], ((c, b or b"") for c, b in blocks))
            tmp.replace(out)
            return count
        return car.write_car(out, [root], ((c, b or b"") for c, b in blocks))

    def import_car(self, source: BinaryIO | str | Path, *, pin: bool = True) -> list[str]:
        """Store every (verified) block of a CARv1 file; pin its roots; return them."""
        with contextlib.ExitStack() as stack:
            stream = (
                stack.enter_context(open(source, "rb"))
                if isinstance(source, str | Path)
                else source
            )
            roots, blocks = car.read_car(stream)
            with self._writer_lock():
                # CARs list parents first; hold the (small) dag-pb nodes back so that no node
                # becomes visible before the leaves it links to.
                nodes: list[Block] = []
                try:
                    for cid, data in blocks:
                        if cid.codec == RAW:
                            self._write_blocks([Block(cid, data)])
                        else:
                            nodes.append(Block(cid, data))
                    self._write_blocks(nodes[::-1])
                finally:
                    self._after_add()
        if pin:
            for root in roots:
                self.pin(root)
        return [str(r) for r in roots]
