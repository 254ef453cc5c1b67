"""CARv1 export: a header with the root, every block verifiable, and a faithful re-import."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from reference_unixfs import varint

from marketplace.errors import CorruptContent
from marketplace.storage import CID, EmbeddedStore, MemoryStore
from marketplace.storage.car import read_car
from marketplace.storage.errors import InvalidCar
from marketplace.storage.importer import DagBuilder


def parse_car_by_hand(raw: bytes) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    """Split a CAR into header bytes and (binary CID, data) sections, with no library help."""

    def read_varint(pos: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = raw[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                return value, pos

    header_len, pos = read_varint(0)
    header = raw[pos : pos + header_len]
    pos += header_len
    sections = []
    while pos < len(raw):
        size, pos = read_varint(pos)
        section = raw[pos : pos + size]
        pos += size
        sections.append((section[:36], section[36:]))  # CIDv1 + sha2-256 is 36 bytes
    return header, sections


def test_export_header_and_blocks(store: EmbeddedStore, payload: bytes, tmp_path: Path) -> None:
    cid = store.add(payload).cid
    car_path = tmp_path / "out.car"

    count = store.export_car(cid, car_path)

    header, sections = parse_car_by_hand(car_path.read_bytes())
    root = bytes(CID.parse(cid))
    # {"roots": [CID(root)], "version": 1} in DAG-CBOR, spelled out byte by byte:
    expected_header = (
        b"\xa2" + b"\x65roots" + b"\x81" + b"\xd8\x2a" + b"\x58\x25" + b"\x00" + root
        + b"\x67version" + b"\x01"
    )  # fmt: skip
    assert header == expected_header
    assert count == len(sections) == 5
    assert sections[0][0] == root  # root first, as `ipfs dag export` writes it
    for binary_cid, data in sections:
        assert binary_cid[4:] == hashlib.sha256(data).digest()


def test_reimport_rebuilds_the_same_root_and_bytes(
    store: EmbeddedStore, payload: bytes, tmp_path: Path
) -> None:
    cid = store.add(payload).cid
    car_path = tmp_path / "out.car"
    store.export_car(cid, car_path)

    fresh = MemoryStore()
    roots = fresh.import_car(car_path)

    assert roots == [cid]
    assert fresh.cat_bytes(cid) == payload
    assert fresh.pins() == [cid]


def test_blocks_in_car_rebuild_the_root_from_leaves(store: EmbeddedStore, payload: bytes) -> None:
    """Feeding the CAR's raw leaves, in link order, to a new builder gives the same root."""
    cid = store.add(payload).cid
    out = io.BytesIO()
    store.export_car(cid, out)
    out.seek(0)

    roots, blocks = read_car(out)
    raw_leaves = [data for block_cid, data in blocks if block_cid.codec == 0x55]
    builder = DagBuilder()
    for leaf in raw_leaves:
        builder.push(leaf)
    builder.finish()

    assert roots == [CID.parse(cid)]
    assert builder.root == CID.parse(cid)


def test_repeated_leaves_are_written_once(memory: MemoryStore) -> None:
    data = b"\x00" * (4 * 262144)  # four identical chunks
    cid = memory.add(data).cid
    out = io.BytesIO()

    count = memory.export_car(cid, out)

    assert count == 2  # the root and one distinct leaf


def test_corrupt_block_in_car_is_rejected(memory: MemoryStore) -> None:
    cid = memory.add(b"hello world").cid
    out = io.BytesIO()
    memory.export_car(cid, out)
    damaged = bytearray(out.getvalue())
    damaged[-1] ^= 0x01

    _roots, blocks = read_car(io.BytesIO(bytes(damaged)))

    with pytest.raises(CorruptContent):
        list(blocks)


@pytest.mark.parametrize(
    "raw",
    [b"", b"\x05abc", varint(3) + b"\xa0\x00\x00", varint(1) + b"\x01"],
)
def test_malformed_car_is_invalid(raw: bytes) -> None:
    with pytest.raises(InvalidCar):
        read_car(io.BytesIO(raw))


def test_export_of_corrupt_store_fails_and_leaves_no_file(
    store: EmbeddedStore, payload: bytes, tmp_path: Path
) -> None:
    cid = store.add(payload).cid
    store.block_path(CID.parse(cid)).write_bytes(b"broken")
    car_path = tmp_path / "out.car"

    with pytest.raises(CorruptContent):
        store.export_car(cid, car_path)

    assert not car_path.exists()
