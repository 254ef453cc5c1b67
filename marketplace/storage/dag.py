"""Reading UnixFS file DAGs: byte ranges, child links and whole-DAG walks.

Every function takes a ``get`` callable that returns a block's bytes *already verified*
against its CID, so the traversal itself never has to think about corruption.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from marketplace.storage import dagpb, unixfs
from marketplace.storage.errors import UnsupportedContent
from marketplace.storage.multiformats import CID, DAG_PB, RAW

GetBlock = Callable[[CID], bytes]


def child_links(cid: CID, block: bytes) -> list[CID]:
    """CIDs a block links to (none for raw blocks)."""
    if cid.codec == RAW:
        return []
    try:
        return [link.cid for link in dagpb.decode_node(block).links]
    except ValueError as exc:
        raise UnsupportedContent(f"{cid} is not a valid dag-pb node: {exc}") from exc


def _file_node(cid: CID, block: bytes) -> tuple[dagpb.PBNode, unixfs.UnixFSData]:
    try:
        node = dagpb.decode_node(block)
        meta = unixfs.decode(node.data or b"")
    except ValueError as exc:
        raise UnsupportedContent(f"{cid} is not a UnixFS node: {exc}") from exc
    if meta.type not in (unixfs.FILE, unixfs.RAW):
        raise UnsupportedContent(f"{cid} is a UnixFS node of type {meta.type}, not a file")
    if node.links and len(meta.blocksizes) != len(node.links):
        raise UnsupportedContent(f"{cid}: {len(node.links)} links but {len(meta.blocksizes)} sizes")
    return node, meta


def file_size(get: GetBlock, cid: CID) -> int:
    """Number of file bytes under ``cid`` (reads only the root block)."""
    block = get(cid)
    if cid.codec == RAW:
        return len(block)
    _node, meta = _file_node(cid, block)
    if meta.filesize is not None:
        return meta.filesize
    return len(meta.data) + sum(meta.blocksizes)


def read_range(
    get: GetBlock, cid: CID, offset: int = 0, length: int | None = None
) -> Iterator[bytes]:
    """Yield the file's bytes from ``offset`` for ``length`` bytes (to the end when None).

    Subtrees wholly outside the range are skipped using the ``blocksizes`` of their parent, so
    reading the tail of a large file touches only the blocks on the way to it.
    """
    if offset < 0 or (length is not None and length < 0):
        raise ValueError("offset and length must be non-negative")
    end = None if length is None else offset + length
    yield from _read(get, cid, offset, end)


def _read(get: GetBlock, cid: CID, start: int, end: int | None) -> Iterator[bytes]:
    if end is not None and end <= start:
        return
    block = get(cid)
    if cid.codec == RAW:
        piece = block[start:end]
        if piece:
            yield piece
        return
    if cid.codec != DAG_PB:  # pragma: no cover - CID rejects other codecs
        raise UnsupportedContent(f"{cid}: unsupported codec")
    node, meta = _file_node(cid, block)
    pos = 0
    if meta.data:
        piece = meta.data[max(start, 0) : end]
        if piece:
            yield piece
        pos = len(meta.data)
    for link, size in zip(node.links, meta.blocksizes, strict=False):
        child_start, child_end = pos, pos + size
        pos = child_end
        if child_end <= start:
            continue
        if end is not None and child_start >= end:
            break
        yield from _read(
            get,
            link.cid,
            max(start - child_start, 0),
            None if end is None else min(end, child_end) - child_start,
        )


def walk(
    get: GetBlock, root: CID, *, read_leaves: bool = True
) -> Iterator[tuple[CID, bytes | None]]:
    """Yield each distinct block of the DAG under ``root`` once, parents before children.

    With ``read_leaves=False`` raw leaves are yielded as ``(cid, None)`` without being read,
    which is all pinning and garbage collection need.
    """
    seen: set[CID] = set()
    stack = [root]
    while stack:
        cid = stack.pop()
        if cid in seen:
            continue
        seen.add(cid)
        if cid.codec == RAW and not read_leaves:
            yield cid, None
            continue
        block = get(cid)
        yield cid, block
        stack.extend(reversed(child_links(cid, block)))


def dfs_blocks(get: GetBlock, root: CID, *, dups: bool = False) -> Iterator[tuple[CID, bytes]]:
    """Every block of the DAG under ``root`` in depth-first, left-to-right pre-order.

    This is the ``order=dfs`` of the trustless gateway's CAR responses: with ``dups=True`` a
    block linked twice is yielded every time the walk reaches it (``dups=y``), otherwise once.
    """
    seen: set[CID] = set()
    stack = [root]
    while stack:
        cid = stack.pop()
        if not dups:
            if cid in seen:
                continue
            seen.add(cid)
        block = get(cid)
        yield cid, block
        stack.extend(reversed(child_links(cid, block)))
