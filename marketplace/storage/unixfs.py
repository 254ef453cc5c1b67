"""UnixFS ``Data`` messages: the file metadata carried inside dag-pb nodes.

Internal nodes of an imported file hold ``Type=File (2)``, ``filesize`` (bytes under the node)
and one ``blocksizes`` entry per child (bytes under that child), in field order 1, 3, 4.
``blocksizes`` is a proto2 ``repeated uint64`` and is not packed: each entry has its own tag.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.storage import protobuf as pb
from marketplace.storage.multiformats import decode_varint

RAW = 0
DIRECTORY = 1
FILE = 2


@dataclass(frozen=True)
class UnixFSData:
    """A decoded UnixFS Data message (only the fields files use)."""

    type: int
    data: bytes = b""
    filesize: int | None = None
    blocksizes: tuple[int, ...] = ()


def encode_file_node(blocksizes: list[int]) -> bytes:
    """The Data of an internal file node whose children hold ``blocksizes`` bytes each."""
    parts = [pb.varint_field(1, FILE), pb.varint_field(3, sum(blocksizes))]
    parts += [pb.varint_field(4, size) for size in blocksizes]
    return b"".join(parts)


def decode(buf: bytes | memoryview) -> UnixFSData:
    """Parse a UnixFS Data message; raises ValueError when malformed."""
    kind: int | None = None
    data = b""
    filesize: int | None = None
    blocksizes: list[int] = []
    for field, _wire, value in pb.iter_fields(buf):
        if field == 1 and isinstance(value, int):
            kind = value
        elif field == 2 and isinstance(value, memoryview):
            data = bytes(value)
        elif field == 3 and isinstance(value, int):
            filesize = value
        elif field == 4 and isinstance(value, int):
            blocksizes.append(value)
        elif field == 4 and isinstance(value, memoryview):  # tolerate packed encodings
            blocksizes.extend(_unpack(value))
        # hashType, fanout, mode, mtime: irrelevant to reading file bytes
    if kind is None:
        raise ValueError("UnixFS Data without Type")
    return UnixFSData(kind, data, filesize, tuple(blocksizes))


def _unpack(view: memoryview) -> list[int]:
    out, pos = [], 0
    while pos < len(view):
        value, pos = decode_varint(view, pos)
        out.append(value)
    return out
