"""The cumulative payout Merkle tree, mirroring `Marketplace.claim`'s leaf encoding in one place.

Leaf (OpenZeppelin's double-hashed standard leaf, which rules out second-preimage tricks with
64-byte inner nodes)::

    leaf = keccak256(bytes.concat(keccak256(abi.encode(address account, uint256 cumulative))))

Inner nodes hash their two children in sorted order (``keccak256(min ‖ max)``), as
OpenZeppelin's ``MerkleProof.verify`` expects, so a proof is just the list of siblings.
Shape: leaves sorted by their hash, paired level by level; an odd node at the end of a level
moves up unchanged. A tree of one leaf has that leaf as its root (empty proof); an empty tree
has the zero root, against which nothing can be claimed.
"""

from __future__ import annotations

from collections.abc import Mapping

from eth_abi import encode
from eth_utils import keccak, to_checksum_address

ZERO_ROOT = bytes(32)


def leaf(account: str, cumulative_amount: int) -> bytes:
    """The leaf the contract recomputes from ``msg.sender`` and the claimed cumulative amount."""
    if cumulative_amount < 0:
        raise ValueError("a cumulative amount cannot be negative")
    inner = keccak(
        encode(["address", "uint256"], [to_checksum_address(account), cumulative_amount])
    )
    return keccak(inner)


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin's commutative node hash."""
    return keccak(a + b) if a <= b else keccak(b + a)


class PayoutTree:
    """Merkle tree over ``{account: cumulative amount}``; zero amounts are left out."""

    def __init__(self, entries: Mapping[str, int]) -> None:
        self.amounts = {to_checksum_address(a): int(v) for a, v in entries.items() if int(v)}
        self._leaves = sorted(leaf(a, v) for a, v in self.amounts.items())
        self._levels = [self._leaves]
        while len(self._levels[-1]) > 1:
            level = self._levels[-1]
            nxt = [hash_pair(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
            if len(level) % 2:
                nxt.append(level[-1])
            self._levels.append(nxt)

    @property
    def root(self) -> bytes:
        return self._levels[-1][0] if self._leaves else ZERO_ROOT

    def proof(self, account: str) -> list[bytes]:
        """Siblings from ``account``'s leaf up to the root."""
        address = to_checksum_address(account)
        if address not in self.amounts:
            raise KeyError(f"{address} has no payout in this tree")
        index = self._leaves.index(leaf(address, self.amounts[address]))
        path = []
        for level in self._levels[:-1]:
            sibling = index ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            index //= 2
        return path


def verify(proof: list[bytes], root: bytes, leaf_hash: bytes) -> bool:
    """What `MerkleProof.verify` computes, for tests and the audit."""
    node = leaf_hash
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root
