"""The commit-reveal hash, mirroring `Marketplace.reveal` in one documented place.

``commitment = keccak256(abi.encode(taskId, round, keccak256(bytes(cid)), sha256, numSamples,
participant, salt))`` — it binds the task, the round and the participant's address, so a
commitment copied from another round or by another address does not open.
"""

from __future__ import annotations

from eth_abi import encode
from eth_utils import keccak, to_checksum_address


def cid_digest(cid: str) -> bytes:
    """keccak256 of the CID string's UTF-8 bytes (how the contract stores CIDs)."""
    return keccak(cid.encode("utf-8"))


def commitment(
    task_id: int,
    round_: int,
    cid: str,
    sha256: bytes,
    num_samples: int,
    participant: str,
    salt: bytes,
) -> bytes:
    """The 32-byte commitment a participant submits before revealing."""
    if len(sha256) != 32 or len(salt) != 32:
        raise ValueError("sha256 and salt must be 32 bytes")
    return keccak(
        encode(
            ["uint256", "uint32", "bytes32", "bytes32", "uint32", "address", "bytes32"],
            [
                task_id,
                round_,
                cid_digest(cid),
                sha256,
                num_samples,
                to_checksum_address(participant),
                salt,
            ],
        )
    )
