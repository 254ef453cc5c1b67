"""CARv1 files: the archive format ``ipfs dag import`` reads and ``ipfs dag export`` writes.

Layout: ``varint(len(header)) header`` then, per block, ``varint(len(cid) + len(data)) cid
data``. The header is the DAG-CBOR map ``{"roots": [CID...], "version": 1}``; DAG-CBOR sorts
map keys by length first, so ``roots`` precedes ``version``, and a CID is CBOR tag 42 around a
byte string holding a zero byte (the identity multibase prefix) and the binary CID.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO

from marketplace.errors import CorruptContent
from marketplace.storage.errors import InvalidCar
from marketplace.storage.multiformats import CID, decode_varint, encode_varint

_MAX_SECTION = 8 * 2**20  # far above the 1 MiB Kubo accepts for one block


def _cbor_head(major: int, value: int) -> bytes:
    if value < 24:
        return bytes((major << 5 | value,))
    for extra, width in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * width):
            return bytes((major << 5 | extra,)) + value.to_bytes(width, "big")
    raise ValueError("value too large for CBOR")


def encode_header(roots: Sequence[CID | bytes]) -> bytes:
    """The DAG-CBOR bytes of ``{"roots": roots, "version": 1}`` (a root may be binary CID bytes)."""
    out = bytearray(_cbor_head(5, 2))
    out += _cbor_head(3, 5) + b"roots" + _cbor_head(4, len(roots))
    for root in roots:
        link = b"\x00" + bytes(root)
        out += _cbor_head(6, 42) + _cbor_head(2, len(link)) + link
    out += _cbor_head(3, 7) + b"version" + _cbor_head(0, 1)
    return bytes(out)


def header_section(roots: Sequence[CID | bytes]) -> bytes:
    """The bytes a CARv1 archive starts with: the varint length, then the header."""
    header = encode_header(roots)
    return encode_varint(len(header)) + header


def block_section(cid: CID, data: bytes) -> bytes:
    """One CARv1 data section: ``varint(len(cid) + len(data)) cid data``."""
    raw_cid = bytes(cid)
    return encode_varint(len(raw_cid) + len(data)) + raw_cid + data


def write_car(out: BinaryIO, roots: list[CID], blocks: Iterable[tuple[CID, bytes]]) -> int:
    """Write a CARv1 archive; return the number of blocks written."""
    out.write(header_section(roots))
    count = 0
    for cid, data in blocks:
        out.write(block_section(cid, data))
        count += 1
    return count


class _Cbor:
    """Just enough of a CBOR decoder for a CAR header (maps, arrays, text, bytes, tag 42)."""

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def _arg(self, info: int) -> int:
        if info < 24:
            return info
        width = {24: 1, 25: 2, 26: 4, 27: 8}.get(info)
        if width is None or self.pos + width > len(self.buf):
            raise InvalidCar("unsupported or truncated CBOR item in CAR header")
        value = int.from_bytes(self.buf[self.pos : self.pos + width], "big")
        self.pos += width
        return value

    def item(self) -> object:
        if self.pos >= len(self.buf):
            raise InvalidCar("truncated CAR header")
        initial = self.buf[self.pos]
        self.pos += 1
        major, value = initial >> 5, self._arg(initial & 31)
        if major == 0:
            return value
        if major in (2, 3):
            chunk = self.buf[self.pos : self.pos + value]
            if len(chunk) != value:
                raise InvalidCar("truncated CBOR string in CAR header")
            self.pos += value
            return chunk if major == 2 else chunk.decode("utf-8")
        if major == 4:
            return [self.item() for _ in range(value)]
        if major == 5:
            pairs = [(self.item(), self.item()) for _ in range(value)]
            return dict(pairs)
        if major == 6 and value == 42:
            link = self.item()
            if not isinstance(link, bytes) or not link.startswith(b"\x00"):
                raise InvalidCar("malformed CID link in CAR header")
            return CID.from_bytes(link[1:])
        raise InvalidCar(f"unexpected CBOR major type {major} in CAR header")


def decode_header(header: bytes) -> list[CID]:
    """The roots of a CARv1 header; raises :class:`InvalidCar` unless version is 1."""
    decoded = _Cbor(header).item()
    if not isinstance(decoded, dict) or decoded.get("version") != 1:
        raise InvalidCar("not a CARv1 header")
    roots = decoded.get("roots")
    if not isinstance(roots, list) or not all(isinstance(r, CID) for r in roots):
        raise InvalidCar("CAR header roots must be a list of CIDs")
    return list(roots)


def _read_exact(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise InvalidCar(f"truncated CAR: wanted {size} bytes, got {len(data)}")
    return data


def _read_varint(stream: BinaryIO) -> int | None:
    raw = bytearray()
    while True:
        byte = stream.read(1)
        if not byte:
            if raw:
                raise InvalidCar("truncated varint in CAR")
            return None
        raw += byte
        if byte[0] < 0x80:
            return decode_varint(bytes(raw))[0]
        if len(raw) > 9:
            raise InvalidCar("varint too long in CAR")


def read_car(stream: BinaryIO) -> tuple[list[CID], Iterator[tuple[CID, bytes]]]:
    """Parse a CARv1 archive: its roots and an iterator of hash-verified blocks.

    A block whose bytes do not hash to its CID raises :class:`CorruptContent`.
    """
    header_len = _read_varint(stream)
    if header_len is None or header_len > _MAX_SECTION:
        raise InvalidCar("missing or oversized CAR header")
    roots = decode_header(_read_exact(stream, header_len))

    def blocks() -> Iterator[tuple[CID, bytes]]:
        while (section_len := _read_varint(stream)) is not None:
            if section_len > _MAX_SECTION:
                raise InvalidCar(f"CAR section of {section_len} bytes is too large")
            section = _read_exact(stream, section_len)
            cid, start = CID.read(section, 0)
            data = section[start:]
            if not cid.matches(data):
                raise CorruptContent(f"CAR block {cid} does not hash to its CID")
            yield cid, data

    return roots, blocks()
