"""The handful of protobuf wire-format helpers that dag-pb and UnixFS need (no codegen)."""

from __future__ import annotations

from collections.abc import Iterator

from marketplace.storage.multiformats import decode_varint, encode_varint

VARINT = 0
LEN = 2


def key(field: int, wire_type: int) -> bytes:
    """The tag that precedes a field on the wire."""
    return encode_varint(field << 3 | wire_type)


def len_field(field: int, payload: bytes) -> bytes:
    """A length-delimited field (bytes, string or embedded message)."""
    return key(field, LEN) + encode_varint(len(payload)) + payload


def varint_field(field: int, value: int) -> bytes:
    """A varint field (uint64, enum)."""
    return key(field, VARINT) + encode_varint(value)


def iter_fields(buf: bytes | memoryview) -> Iterator[tuple[int, int, int | memoryview]]:
    """Yield ``(field, wire_type, value)``; values are ints (varint) or views (length-delimited).

    Raises ValueError on truncation or on wire types dag-pb and UnixFS never use.
    """
    view = memoryview(buf)
    pos = 0
    while pos < len(view):
        tag, pos = decode_varint(view, pos)
        field, wire_type = tag >> 3, tag & 7
        if field == 0:
            raise ValueError("protobuf field number 0")
        if wire_type == VARINT:
            value, pos = decode_varint(view, pos)
            yield field, wire_type, value
        elif wire_type == LEN:
            size, pos = decode_varint(view, pos)
            if pos + size > len(view):
                raise ValueError("truncated length-delimited field")
            yield field, wire_type, view[pos : pos + size]
            pos += size
        else:
            raise ValueError(f"unsupported protobuf wire type {wire_type}")
