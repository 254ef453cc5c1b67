"""A deliberately naive, independent UnixFS encoder used only to derive expected CIDs.

It follows Kubo's ``balanced.Layout`` literally (top-down: a leaf root, then roots of growing
depth filled recursively, as boxo's ``fillNodeRec`` does) and writes every protobuf byte by
hand, with its own base32; it shares no code with ``marketplace.storage``.
"""

from __future__ import annotations

import hashlib

CHUNK = 262144
MAX_LINKS = 174
_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"


def varint(n: int) -> bytes:
    out = b""
    while True:
        low = n % 128
        n //= 128
        if n:
            out += bytes([low + 128])
        else:
            return out + bytes([low])


def base32_lower(data: bytes) -> str:
    bits = "".join(format(byte, "08b") for byte in data)
    bits += "0" * (-len(bits) % 5)
    return "".join(_ALPHABET[int(bits[i : i + 5], 2)] for i in range(0, len(bits), 5))


def cid_bytes(codec: int, block: bytes) -> bytes:
    return bytes([0x01, codec, 0x12, 0x20]) + hashlib.sha256(block).digest()


def cid_text(binary: bytes) -> str:
    return "b" + base32_lower(binary)


class Node:
    """What a parent needs about a child: binary CID, Tsize, file bytes below it."""

    def __init__(self, cid: bytes, tsize: int, filesize: int, block: bytes) -> None:
        self.cid, self.tsize, self.filesize, self.block = cid, tsize, filesize, block


def leaf(chunk: bytes) -> Node:
    return Node(cid_bytes(0x55, chunk), len(chunk), len(chunk), chunk)


def parent(children: list[Node]) -> Node:
    links = b""
    for child in children:
        assert len(child.cid) == 36
        link = b"\x0a\x24" + child.cid + b"\x12\x00" + b"\x18" + varint(child.tsize)
        links += b"\x12" + varint(len(link)) + link
    unixfs = b"\x08\x02" + b"\x18" + varint(sum(c.filesize for c in children))
    for child in children:
        unixfs += b"\x20" + varint(child.filesize)
    block = links + b"\x0a" + varint(len(unixfs)) + unixfs
    tsize = len(block) + sum(c.tsize for c in children)
    return Node(cid_bytes(0x70, block), tsize, sum(c.filesize for c in children), block)


def kubo_add(data: bytes) -> tuple[str, list[Node]]:
    """Expected root CID text of ``ipfs add --cid-version=1 --raw-leaves`` and every node made."""
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    made: list[Node] = []
    if not chunks:
        root = leaf(b"")
        return cid_text(root.cid), [root]
    position = 0

    def next_leaf() -> Node:
        nonlocal position
        node = leaf(chunks[position])
        position += 1
        made.append(node)
        return node

    def fill(children: list[Node], depth: int) -> Node:
        while len(children) < MAX_LINKS and position < len(chunks):
            if depth == 1:
                children.append(next_leaf())
            else:
                children.append(fill([], depth - 1))
        node = parent(children)
        made.append(node)
        return node

    root = next_leaf()
    depth = 1
    while position < len(chunks):
        root = fill([root], depth)
        depth += 1
    return cid_text(root.cid), made
