"""dag-pb nodes (PBNode/PBLink) in the exact byte layout Kubo writes.

Kubo (go-merkledag through go-codec-dagpb) encodes a node as its Links (field 2) first, then
Data (field 1); each link as Hash (1), Name (2) and Tsize (3). The importer always sets
``Name`` to the empty string, so every link carries the two bytes ``12 00``: leaving the name
out would give a different block and a different CID.
"""

from __future__ import annotations

from dataclasses import dataclass

from marketplace.storage import protobuf as pb
from marketplace.storage.multiformats import CID

_EMPTY_NAME = pb.len_field(2, b"")


@dataclass(frozen=True)
class PBLink:
    """A link to a child block; ``tsize`` is the child's cumulative serialised size."""

    cid: CID
    tsize: int
    name: str = ""


@dataclass(frozen=True)
class PBNode:
    """A decoded dag-pb node."""

    links: tuple[PBLink, ...]
    data: bytes | None


def encode_link(cid: CID, tsize: int) -> bytes:
    """One PBLink as Kubo's importer writes it (empty name present)."""
    return pb.len_field(1, bytes(cid)) + _EMPTY_NAME + pb.varint_field(3, tsize)


def encode_node(links: list[tuple[CID, int]], data: bytes) -> bytes:
    """A PBNode: every link (field 2) in order, then the data (field 1)."""
    parts = [pb.len_field(2, encode_link(cid, tsize)) for cid, tsize in links]
    parts.append(pb.len_field(1, data))
    return b"".join(parts)


def decode_node(block: bytes | memoryview) -> PBNode:
    """Parse a dag-pb block; raises ValueError when it is not one."""
    links: list[PBLink] = []
    data: bytes | None = None
    for field, wire, value in pb.iter_fields(block):
        if field == 2 and wire == pb.LEN:
            assert isinstance(value, memoryview)
            links.append(_decode_link(value))
        elif field == 1 and wire == pb.LEN:
            assert isinstance(value, memoryview)
            data = bytes(value)
        else:
            raise ValueError(f"unexpected dag-pb field {field}")
    return PBNode(tuple(links), data)


def _decode_link(buf: memoryview) -> PBLink:
    cid: CID | None = None
    name = ""
    tsize = 0
    for field, wire, value in pb.iter_fields(buf):
        if field == 1 and isinstance(value, memoryview):
            cid = CID.from_bytes(value)
        elif field == 2 and isinstance(value, memoryview):
            name = bytes(value).decode("utf-8")
        elif field == 3 and wire == pb.VARINT and isinstance(value, int):
            tsize = value
        else:
            raise ValueError(f"unexpected PBLink field {field}")
    if cid is None:
        raise ValueError("PBLink without Hash")
    return PBLink(cid, tsize, name)
