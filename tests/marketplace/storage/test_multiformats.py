"""Varints, CID text and binary forms, and the dag-pb / UnixFS codecs round-trip exactly."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference_unixfs import base32_lower, varint

from marketplace.storage import dagpb, unixfs
from marketplace.storage.errors import InvalidCid
from marketplace.storage.multiformats import CID, decode_varint, encode_varint


@given(st.integers(0, 2**63 - 1))
def test_varint_matches_reference_and_round_trips(value: int) -> None:
    encoded = encode_varint(value)

    assert encoded == varint(value)
    assert decode_varint(encoded) == (value, len(encoded))


@given(st.binary(min_size=32, max_size=32), st.sampled_from([0x55, 0x70]))
def test_cid_text_matches_reference_base32_and_parses_back(digest: bytes, codec: int) -> None:
    cid = CID(codec, digest)

    text = str(cid)

    assert text == "b" + base32_lower(bytes([1, codec, 0x12, 0x20]) + digest)
    assert CID.parse(text) == cid
    assert CID.from_bytes(bytes(cid)) == cid


@pytest.mark.parametrize(
    "text",
    [
        "QmWATWQ7fVPP2EFGu71UkfnqhYXDYH566qy47CnJDgvs8u",  # CIDv0
        "zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7",  # base58 CIDv1
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5",  # truncated
        "b!!!!",
        "",
    ],
)
def test_unsupported_cids_are_rejected(text: str) -> None:
    with pytest.raises(InvalidCid):
        CID.parse(text)


@given(
    st.lists(
        st.tuples(st.binary(min_size=32, max_size=32), st.integers(0, 2**40)),
        min_size=1,
        max_size=5,
    )
)
def test_dagpb_node_round_trips(links: list[tuple[bytes, int]]) -> None:
    cids = [(CID(0x55, digest), tsize) for digest, tsize in links]
    data = unixfs.encode_file_node([t for _, t in links])

    node = dagpb.decode_node(dagpb.encode_node(cids, data))

    assert [(link.cid, link.tsize, link.name) for link in node.links] == [
        (c, t, "") for c, t in cids
    ]
    meta = unixfs.decode(node.data or b"")
    assert meta.type == unixfs.FILE
    assert meta.blocksizes == tuple(t for _, t in links)
    assert meta.filesize == sum(t for _, t in links)


@pytest.mark.parametrize("garbage", [b"\xff", b"\x0a\x05ab", b"\x0b\x00"])
def test_garbage_is_not_a_dagpb_node(garbage: bytes) -> None:
    with pytest.raises(ValueError):
        dagpb.decode_node(garbage)
