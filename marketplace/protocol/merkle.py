"""The per-round payout Merkle tree, mirroring `Marketplace.claim`'s leaf encoding in one place.

Each settlement's root covers that round's payouts only (a later round can neither reduce nor
move what a final round allocated). Leaf (OpenZeppelin's double-hashed standard leaf, which
rules out second-preimage tricks with 64-byte inner nodes)::

    leaf = keccak256(bytes.concat(keccak256(abi.encode(
        uint256 taskId, uint32 round, address account, uint256 amount))))

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


def leaf(task_id: int, round_: int, account: str, amount: int) -> bytes:
    """The leaf the contract recomputes from the claim's round, ``msg.sender`` and amount."""
    if amount < 0:
        raise ValueError("a payout cannot be negative")
    inner = keccak(
        encode(
            ["uint256", "uint32", "address", "uint256"],
            [task_id, round_, to_checksum_address(account), amount],
        )
    )
    return keccak(inner)


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin's commutative node hash."""
    return keccak(a + b) if a <= b else keccak(b + a)


class PayoutTree:
    """Merkle tree over one round's ``{account: amount}``; zero amounts are left out."""

    def __init__(self, task_id: int, round_: int, entries: Mapping[str, int]) -> None:
        self.task_id = task_id
        self.round = round_
        self.amounts = {to_checksum_address(a): int(v) for a, v in entries.items() if int(v)}
        self._leaves = sorted(leaf(task_id, round_, a, v) for a, v in self.amounts.items())
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

    @property
    def root_hex(self) -> str:
        return "0x" + self.root.hex()

    def proof(self, account: str) -> list[bytes]:
        """Siblings from ``account``'s leaf up to the root."""
        address = to_checksum_address(account)
        if address not in self.amounts:
            raise KeyError(f"{address} has no payout in round {self.round}'s tree")
        index = self._leaves.index(leaf(self.task_id, self.round, address, self.amounts[address]))
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
