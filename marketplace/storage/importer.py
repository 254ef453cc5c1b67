"""Turning bytes into blocks exactly as ``ipfs add --cid-version=1 --raw-leaves`` does.

Parameters are fixed to Kubo's ``--chunker=size-262144`` and its balanced layout with at most
174 links per node. Kubo's ``balanced.Layout`` grows the tree one level at a time: a single
chunk is the root itself; once a node of depth d is full (174 children) and data remains, a
new root of depth d+1 adopts it and is filled with further depth-d subtrees. The result is the
same as filling levels bottom-up with groups of 174 and wrapping whatever is left at the end,
which is what :class:`DagBuilder` does in one streaming pass: a node is emitted as soon as it
is full, so memory stays at one chunk plus one pending link list per level.

Empty input gives one raw block of zero bytes, as in Kubo (``Layout`` calls ``NewLeafNode``
with no data, which with raw leaves is a raw node).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from marketplace.storage import dagpb, unixfs
from marketplace.storage.multiformats import CID, DAG_PB, RAW

if TYPE_CHECKING:
    from marketplace.storage.protocol import Source

CHUNK_SIZE = 262_144
MAX_LINKS = 174


@dataclass(frozen=True)
class Block:
    """One block ready to store: its CID and its bytes."""

    cid: CID
    data: bytes | memoryview


LeafSink = Callable[[bytes | memoryview], "Future[CID]"]
"""Takes a leaf chunk, promises its raw CID (and stores it: see :class:`DagBuilder`)."""


@dataclass
class _Child:
    cid: CID | Future[CID]  # a promise when a leaf sink hashes leaves elsewhere
    tsize: int  # serialised size of the child's whole DAG (PBLink.Tsize)
    filesize: int  # file bytes under the child (UnixFS blocksizes entry)


class DagBuilder:
    """Streaming balanced-DAG builder: push chunks, collect blocks, then :meth:`finish`.

    ``push`` and ``finish`` return the blocks created by the call, children before parents,
    so a caller that stores them in order never stores a node before the blocks it links to.
    It also hashes the whole input (sha256) and counts its size on the way; with
    ``background_sha256`` that hash runs on a helper thread, next to the per-block hashing
    (hashlib releases the GIL), which is worth it for large inputs.

    With a ``leaf_sink``, leaves are handed to it instead of being hashed here and returned:
    the sink hashes and stores them (a store does that on worker threads) and the builder
    collects each leaf's CID only when it closes the node above it.
    """

    def __init__(
        self, *, background_sha256: bool = False, leaf_sink: LeafSink | None = None
    ) -> None:
        self._leaf_sink = leaf_sink
        self._levels: list[list[_Child]] = [[]]
        self._sha = hashlib.sha256()
        self._hasher: ThreadPoolExecutor | None = None
        self._hashing: Future[None] | None = None
        if background_sha256:
            self._hasher = ThreadPoolExecutor(1, "fedmarket-sha256")
        self.size = 0
        self.root: CID | None = None

    def push(self, chunk: bytes | memoryview) -> list[Block]:
        """Add one chunk of at most CHUNK_SIZE bytes (all but the last must be exactly that)."""
        if self.root is not None:
            raise RuntimeError("builder already finished")
        if len(chunk) > CHUNK_SIZE:
            raise ValueError("chunk larger than CHUNK_SIZE")
        if self._hasher is not None:  # one worker: updates run in submission order
            self._hashing = self._hasher.submit(self._sha.update, chunk)
        else:
            self._sha.update(chunk)
        self.size += len(chunk)
        blocks: list[Block] = []
        leaf: CID | Future[CID]
        if self._leaf_sink is not None:
            leaf = self._leaf_sink(chunk)
        else:
            leaf = CID.of(RAW, chunk)
            blocks.append(Block(leaf, chunk))
        self._levels[0].append(_Child(leaf, len(chunk), len(chunk)))
        level = 0
        while len(self._levels[level]) == MAX_LINKS:
            blocks.append(self._close(level))
            level += 1
        return blocks

    def finish(self) -> list[Block]:
        """Wrap what is pending into parents up to a single root; return the new blocks."""
        if self.root is not None:
            raise RuntimeError("builder already finished")
        blocks: list[Block] = []
        if self.size == 0 and not self._levels[0]:
            blocks += self.push(b"")
        level = 0
        while True:
            higher_pending = any(self._levels[level + 1 :])
            pending = self._levels[level]
            if len(pending) == 1 and not higher_pending:
                self.root = _resolved(pending[0].cid)
                return blocks
            if pending:
                blocks.append(self._close(level))
            level += 1

    @property
    def sha256(self) -> str:
        """Hex sha256 of every byte pushed so far."""
        if self._hashing is not None:
            self._hashing.result()
        return self._sha.hexdigest()

    def close(self) -> None:
        """Stop the background hashing thread, if any (the digest stays readable)."""
        if self._hasher is not None:
            self._hasher.shutdown(wait=True)
            self._hasher = None

    def _close(self, level: int) -> Block:
        """Turn the pending children of ``level`` into one parent one level up."""
        children = self._levels[level]
        self._levels[level] = []
        data = unixfs.encode_file_node([c.filesize for c in children])
        block = dagpb.encode_node([(_resolved(c.cid), c.tsize) for c in children], data)
        cid = CID.of(DAG_PB, block)
        if len(self._levels) == level + 1:
            self._levels.append([])
        tsize = len(block) + sum(c.tsize for c in children)
        filesize = sum(c.filesize for c in children)
        self._levels[level + 1].append(_Child(cid, tsize, filesize))
        return Block(cid, block)


def _resolved(cid: CID | Future[CID]) -> CID:
    return cid if isinstance(cid, CID) else cid.result()


def chunks_of(source: Source) -> Iterator[memoryview]:
    """Split bytes or a binary stream into CHUNK_SIZE pieces (the last may be shorter)."""
    if isinstance(source, str):
        raise TypeError("content must be bytes or a binary stream, not str (encode it first)")
    if isinstance(source, bytes | bytearray | memoryview):
        view = memoryview(source).cast("B")
        for start in range(0, len(view), CHUNK_SIZE):
            yield view[start : start + CHUNK_SIZE]
        return
    while True:
        buf = bytearray(CHUNK_SIZE)
        filled = 0
        while filled < CHUNK_SIZE:
            n = _read_into(source, memoryview(buf)[filled:])
            if not n:
                break
            filled += n
        if filled == 0:
            return
        yield memoryview(buf)[:filled]
        if filled < CHUNK_SIZE:
            return


def _read_into(source: Any, target: memoryview) -> int:
    """Fill ``target`` from a stream with ``readinto`` (files, sockets) or plain ``read``."""
    if hasattr(source, "readinto"):
        return int(source.readinto(target) or 0)
    data = source.read(len(target))
    target[: len(data)] = data
    return len(data)


def build(chunks: Iterable[bytes | memoryview]) -> tuple[CID, list[Block]]:
    """All blocks of a file given as chunks, and its root CID (convenience for small inputs)."""
    builder = DagBuilder()
    blocks: list[Block] = []
    for chunk in chunks:
        blocks += builder.push(chunk)
    blocks += builder.finish()
    assert builder.root is not None
    return builder.root, blocks


def compute_cid(source: Source) -> CID:
    """The CID Kubo would give ``source``, without storing anything."""
    builder = DagBuilder()
    for chunk in chunks_of(source):
        builder.push(chunk)
    builder.finish()
    assert builder.root is not None
    return builder.root
