"""The default content store: a directory of blocks that several processes share safely.

Layout under the store directory::

    blocks/<xy>/<cid>     one file per block, named by its base32 CID; <xy> is the CID's
                          next-to-last two characters (as Kubo's flatfs shards), so no
                          directory grows past a few thousand entries
    blocks/<xy>/.tmp-*    a block being written (never read; removed by gc)
    pins/<cid>            one empty file per recursively pinned root
    lock                  flock target: add/pin/unpin hold it shared, gc exclusive

A block is written to a temporary file in its final directory, fsynced and renamed over its
final name (``os.replace``); the directories touched are fsynced once per add. A process
killed at any point leaves either the whole block or no block under the CID's name; readers
hash every block they read, so a block damaged later (disk, a stray editor) is reported as
:class:`~marketplace.errors.CorruptContent`, never returned.

Leaves are written by a small thread pool: ``fsync`` releases the GIL and concurrent fsyncs
share journal commits, which is what makes per-block durability affordable. The few dag-pb
nodes (one per 174 leaves) are held back and written, children first, only once every leaf
is in place, so a visible root always has all of its blocks.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from marketplace.errors import StorageError
from marketplace.storage.dagstore import DagStore
from marketplace.storage.errors import InvalidCid
from marketplace.storage.importer import Block, LeafSink
from marketplace.storage.multiformats import CID, RAW

_TMP_PREFIX = ".tmp-"
_WRITER_THREADS = 8
_MAX_IN_FLIGHT = 64  # leaf writes queued before add waits (bounds memory for streams)


class _AddState(threading.local):
    """Per calling thread: leaf writes in flight, dag-pb nodes held back, dirs to fsync."""

    def __init__(self) -> None:
        self.in_flight: deque[Future[CID]] = deque()
        self.nodes: list[Block] = []
        self.dirty: set[Path] = set()
        self.lock = threading.Lock()  # workers add to ``dirty``


class EmbeddedStore(DagStore):
    """Blocks and pins as files under ``root``; see the module docstring for the layout.

    ``durable=False`` skips fsync (tests and throw-away stores); atomicity is kept either way.
    """

    def __init__(self, root: str | Path, *, durable: bool = True) -> None:
        self.root = Path(root)
        self.durable = durable
        self._blocks = self.root / "blocks"
        self._pin_dir = self.root / "pins"
        try:
            self._blocks.mkdir(parents=True, exist_ok=True)
            self._pin_dir.mkdir(exist_ok=True)
            (self.root / "lock").touch(exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create content store at {self.root}: {exc}") from exc
        self._state = _AddState()
        self._pool: ThreadPoolExecutor | None = None
        self._pool_pid = 0
        self._pool_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"EmbeddedStore({str(self.root)!r})"

    # ---- paths -------------------------------------------------------------------------
    def block_path(self, cid: CID) -> Path:
        """The file that holds ``cid``'s block."""
        text = str(cid)
        return self._blocks / text[-3:-1] / text

    def _location(self, cid: CID) -> str:
        return str(self.block_path(cid))

    # ---- locking -----------------------------------------------------------------------
    @contextlib.contextmanager
    def _flock(self, mode: int) -> Iterator[None]:
        fd = os.open(self.root / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)  # closing releases the lock

    def _writer_lock(self) -> contextlib.AbstractContextManager[None]:
        return self._flock(fcntl.LOCK_SH)

    def _gc_lock(self) -> contextlib.AbstractContextManager[None]:
        return self._flock(fcntl.LOCK_EX)

    # ---- reading -----------------------------------------------------------------------
    def _read_block(self, cid: CID) -> bytes | None:
        try:
            with open(self.block_path(cid), "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"cannot read block {cid}: {exc}") from exc

    def _has_block(self, cid: CID) -> bool:
        return self.block_path(cid).is_file()

    # ---- writing -----------------------------------------------------------------------
    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._pool is None or self._pool_pid != os.getpid():  # new, or inherited by fork
                self._pool = ThreadPoolExecutor(_WRITER_THREADS, "fedmarket-store")
                self._pool_pid = os.getpid()
            return self._pool

    def _write_blocks(self, blocks: list[Block]) -> None:
        state = self._state
        for block in blocks:
            if block.cid.codec == RAW:
                self._queue(state, self._executor().submit(self._store_for, state, block))
            else:
                state.nodes.append(block)  # written by _after_add, once its leaves are in

    def _leaf_sink(self) -> LeafSink:
        """Hash and write each leaf on the pool; the builder waits for CIDs only when needed."""
        state = self._state

        def sink(chunk: bytes | memoryview) -> Future[CID]:
            return self._queue(state, self._executor().submit(self._hash_and_store, state, chunk))

        return sink

    def _hash_and_store(self, state: _AddState, chunk: bytes | memoryview) -> CID:
        return self._store_for(state, Block(CID.of(RAW, chunk), chunk))

    def _store_for(self, state: _AddState, block: Block) -> CID:
        directory = self._store_block(block)
        if directory is not None:
            with state.lock:
                state.dirty.add(directory)
        return block.cid

    def _queue(self, state: _AddState, future: Future[CID]) -> Future[CID]:
        state.in_flight.append(future)
        if len(state.in_flight) > _MAX_IN_FLIGHT:
            state.in_flight.popleft().result()
        return future

    def _drain(self) -> None:
        """Wait for every queued write of this thread; raise the first failure."""
        first: BaseException | None = None
        in_flight = self._state.in_flight
        while in_flight:
            try:
                in_flight.popleft().result()
            except BaseException as exc:  # keep waiting: no write may outlive its add
                first = first or exc
        if first is not None:
            raise first

    def _store_block(self, block: Block) -> Path | None:
        """Write one block unless a good copy exists; return the directory written to."""
        path = self.block_path(block.cid)
        if self._intact(path, block):
            return None
        self._write_atomic(path, block.data)
        return path.parent

    def _intact(self, path: Path, block: Block) -> bool:
        """Whether a good copy is already stored (a damaged one is rewritten)."""
        try:
            if path.stat().st_size != len(block.data):
                return False
        except FileNotFoundError:
            return False
        existing = self._read_block(block.cid)
        return existing is not None and block.cid.matches(existing)

    def _write_atomic(self, path: Path, data: bytes | memoryview) -> None:
        directory = path.parent
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f"{_TMP_PREFIX}{path.name}-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                view = memoryview(data)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]
                if self.durable:
                    os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise StorageError(f"cannot write block {path.name}: {exc}") from exc

    def _after_add(self) -> None:
        state = self._state
        try:
            self._drain()
            for node in state.nodes:  # creation order: children before parents
                self._store_for(state, node)
        finally:
            state.nodes.clear()
            dirs = set(self._state.dirty)
            self._state.dirty.clear()
            if self.durable and dirs:
                # In parallel, like the leaves: concurrent fsyncs share journal commits.
                list(self._executor().map(_fsync_dir, sorted(dirs | {self._blocks})))

    # ---- maintenance -------------------------------------------------------------------
    def _delete_block(self, cid: CID) -> int:
        path = self.block_path(cid)
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            return 0
        return size

    def _all_blocks(self) -> Iterator[CID]:
        for shard in sorted(self._blocks.iterdir()):
            if not shard.is_dir():
                continue
            for entry in sorted(shard.iterdir()):
                if entry.name.startswith("."):
                    continue
                try:
                    yield CID.parse(entry.name)
                except InvalidCid:
                    continue  # not ours; leave it alone

    def _collect_temporaries(self) -> None:
        # Only called under the exclusive gc lock, so no writer owns any temporary file.
        for shard in self._blocks.iterdir():
            if shard.is_dir():
                for entry in shard.glob(f"{_TMP_PREFIX}*"):
                    with contextlib.suppress(FileNotFoundError):
                        entry.unlink()
        for entry in self._pin_dir.glob(f"{_TMP_PREFIX}*"):
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()

    # ---- pins --------------------------------------------------------------------------
    def _pins(self) -> set[CID]:
        pins: set[CID] = set()
        for entry in self._pin_dir.iterdir():
            if not entry.name.startswith("."):
                with contextlib.suppress(InvalidCid):
                    pins.add(CID.parse(entry.name))
        return pins

    def _write_pin(self, cid: CID) -> None:
        path = self._pin_dir / str(cid)
        if not path.exists():
            self._write_atomic(path, b"")
            if self.durable:
                _fsync_dir(self._pin_dir)

    def _remove_pin(self, cid: CID) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self._pin_dir / str(cid)).unlink()
        if self.durable:
            _fsync_dir(self._pin_dir)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
