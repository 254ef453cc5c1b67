"""CIDs, multihashes, unsigned varints and base32: the few multiformats the store needs.

Only what Kubo writes for ``ipfs add --cid-version=1 --raw-leaves`` is supported: CID version 1,
codec ``raw`` (0x55) or ``dag-pb`` (0x70), multihash ``sha2-256`` (0x12, 32 bytes), and the
multibase ``b`` (RFC 4648 base32, lower case, no padding) for the text form.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from marketplace.storage.errors import InvalidCid

RAW = 0x55
DAG_PB = 0x70
SHA2_256 = 0x12
DIGEST_SIZE = 32
CODEC_NAMES = {RAW: "raw", DAG_PB: "dag-pb"}


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128, as used by multiformats and protobuf."""
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def decode_varint(buf: bytes | memoryview, pos: int = 0) -> tuple[int, int]:
    """Read one unsigned varint at ``pos``; return ``(value, next position)``."""
    value = 0
    shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 64 bits")


@dataclass(frozen=True, order=True)
class CID:
    """A CIDv1 with a sha2-256 multihash; ``str(cid)`` is the base32 text Kubo prints."""

    codec: int
    digest: bytes

    def __post_init__(self) -> None:
        if self.codec not in CODEC_NAMES:
            raise InvalidCid(f"unsupported codec 0x{self.codec:x} (only raw and dag-pb)")
        if len(self.digest) != DIGEST_SIZE:
            raise InvalidCid(f"a sha2-256 digest has 32 bytes, got {len(self.digest)}")

    @classmethod
    def of(cls, codec: int, block: bytes | memoryview) -> CID:
        """The CID of ``block`` stored under ``codec``."""
        return cls(codec, hashlib.sha256(block).digest())

    @classmethod
    def parse(cls, text: str) -> CID:
        """Parse the base32 (``b...``) text form; anything else raises :class:`InvalidCid`."""
        text = text.strip()
        if text.startswith("Qm") and len(text) == 46:
            raise InvalidCid(
                f"{text} is a CIDv0; fedmarket uses CIDv1 (ipfs cid format -v 1 -b base32 {text})"
            )
        if not text.startswith("b") or len(text) < 2:
            raise InvalidCid(f"{text!r} is not a base32 CIDv1 (it should start with 'b')")
        body = text[1:].upper()
        try:
            raw = base64.b32decode(body + "=" * (-len(body) % 8))
        except ValueError as exc:
            raise InvalidCid(f"{text!r} is not valid base32") from exc
        return cls.from_bytes(raw)

    @classmethod
    def from_bytes(cls, raw: bytes | memoryview) -> CID:
        """Parse the binary form; the whole input must be one CID."""
        cid, end = cls.read(raw, 0)
        if end != len(raw):
            raise InvalidCid("trailing bytes after CID")
        return cid

    @classmethod
    def read(cls, raw: bytes | memoryview, pos: int) -> tuple[CID, int]:
        """Read one binary CID at ``pos`` (as inside CAR sections); return it and the end."""
        try:
            version, pos = decode_varint(raw, pos)
            codec, pos = decode_varint(raw, pos)
            hash_code, pos = decode_varint(raw, pos)
            size, pos = decode_varint(raw, pos)
        except ValueError as exc:
            raise InvalidCid(f"malformed CID: {exc}") from exc
        if version != 1:
            raise InvalidCid(f"CID version {version} is not supported (only 1)")
        if hash_code != SHA2_256 or size != DIGEST_SIZE:
            raise InvalidCid(f"multihash 0x{hash_code:x}/{size} is not sha2-256")
        if pos + size > len(raw):
            raise InvalidCid("truncated CID digest")
        return cls(codec, bytes(raw[pos : pos + size])), pos + size

    def __bytes__(self) -> bytes:
        return bytes((1, self.codec, SHA2_256, DIGEST_SIZE)) + self.digest

    def __str__(self) -> str:
        return "b" + base64.b32encode(bytes(self)).decode("ascii").lower().rstrip("=")

    def __repr__(self) -> str:
        return f"CID({self})"

    @property
    def codec_name(self) -> str:
        return CODEC_NAMES[self.codec]

    def matches(self, block: bytes | memoryview) -> bool:
        """Whether ``block`` hashes to this CID's digest."""
        return hashlib.sha256(block).digest() == self.digest


def as_cid(value: CID | str) -> CID:
    """Accept a CID or its text form."""
    return value if isinstance(value, CID) else CID.parse(value)
