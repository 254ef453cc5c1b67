"""CIDs of the importer against Kubo's published vector and an independent reference encoder."""

from __future__ import annotations

import io

import numpy as np
import pytest
from reference_unixfs import CHUNK, kubo_add

from marketplace.storage import MemoryStore, compute_cid
from marketplace.storage.dagpb import decode_node
from marketplace.storage.multiformats import CID
from marketplace.storage.unixfs import decode as decode_unixfs


def random_bytes(size: int, seed: int = 7) -> bytes:
    return np.random.default_rng(seed).bytes(size)


def test_hello_world_matches_kubos_published_cid() -> None:
    # Published: `echo -n "hello world" | ipfs add --cid-version=1 --raw-leaves`
    expected = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"

    cid = compute_cid(b"hello world")

    assert str(cid) == expected


def test_reference_encoder_reproduces_the_published_vector() -> None:
    """The reference encoder itself is anchored to Kubo before it judges the importer."""
    expected = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"

    got, _ = kubo_add(b"hello world")

    assert got == expected


def test_empty_input_is_one_empty_raw_block() -> None:
    # balanced.Layout on no data: NewLeafNode(nil) -> with raw leaves, a raw block of 0 bytes.
    store = MemoryStore()

    result = store.add(b"")

    assert result.cid == str(CID.of(0x55, b""))
    assert result.cid == kubo_add(b"")[0]
    assert result.size == 0
    assert store.cat_bytes(result.cid) == b""


@pytest.mark.parametrize(
    "size",
    [
        1,
        CHUNK - 1,  # 262,143: one raw block
        CHUNK,  # 262,144: still one raw block
        CHUNK + 1,  # 262,145: the first dag-pb root (two leaves)
        174 * CHUNK,  # 174 chunks: one full root
        174 * CHUNK + 1,  # 175 chunks: the first two-level tree
        175 * CHUNK,
        50 * 10**6,  # 50 MB
    ],
)
def test_cid_matches_independent_reference(size: int) -> None:
    data = random_bytes(size)

    cid = compute_cid(data)

    assert str(cid) == kubo_add(data)[0]


def test_blocks_stored_are_exactly_the_reference_blocks() -> None:
    data = random_bytes(3 * CHUNK + 5)
    store = MemoryStore()

    store.add(data)

    _, nodes = kubo_add(data)
    expected = {CID.from_bytes(n.cid): n.block for n in nodes}
    assert store.blocks == expected


def test_two_chunk_root_bytes_written_out_by_hand() -> None:
    """262,145 bytes: root = 2 links (Tsize 262144 and 1), then Data 08 02 18 <262145> 20 .. 20 01."""
    data = random_bytes(CHUNK + 1)
    store = MemoryStore()

    root = CID.parse(store.add(data).cid)

    block = store.blocks[root]
    first = bytes(CID.of(0x55, data[:CHUNK]))
    second = bytes(CID.of(0x55, data[CHUNK:]))
    link1 = b"\x0a\x24" + first + b"\x12\x00" + b"\x18\x80\x80\x10"
    link2 = b"\x0a\x24" + second + b"\x12\x00" + b"\x18\x01"
    data_field = b"\x08\x02\x18\x81\x80\x10\x20\x80\x80\x10\x20\x01"
    expected = (
        b"\x12" + bytes([len(link1)]) + link1 + b"\x12" + bytes([len(link2)]) + link2
        + b"\x0a" + bytes([len(data_field)]) + data_field
    )  # fmt: skip
    assert root.codec == 0x70
    assert block == expected


def test_175_chunks_make_a_root_over_a_full_node_and_a_one_leaf_node() -> None:
    data = random_bytes(174 * CHUNK + 1)
    store = MemoryStore()

    root = CID.parse(store.add(data).cid)

    top = decode_node(store.blocks[root])
    assert len(top.links) == 2
    left, right = (decode_node(store.blocks[link.cid]) for link in top.links)
    assert (len(left.links), len(right.links)) == (174, 1)
    assert decode_unixfs(top.data or b"").blocksizes == (174 * CHUNK, 1)


def test_stream_and_bytes_inputs_give_the_same_cid() -> None:
    data = random_bytes(2 * CHUNK + 17)

    class Trickle(io.RawIOBase):
        """A stream that returns at most 1000 bytes per read, like a slow pipe."""

        def __init__(self, payload: bytes) -> None:
            self._buf = io.BytesIO(payload)

        def readable(self) -> bool:
            return True

        def readinto(self, b: bytearray) -> int:  # type: ignore[override]
            piece = self._buf.read(min(len(b), 1000))
            b[: len(piece)] = piece
            return len(piece)

    assert compute_cid(Trickle(data)) == compute_cid(data)
