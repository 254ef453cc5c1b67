"""The commit-reveal hashes, mirroring `Marketplace.reveal` and `revealEvidence` in one place.

Update commitment (a participant's, before revealing its update)::

    keccak256(abi.encode(uint256 taskId, uint32 round, keccak256(bytes(cid)), bytes32 sha256,
                         uint32 numSamples, address participant, bytes32 salt))

Evidence commitment (a challenger's, posted with its bond; the evidence CID is revealed after
the challenge window)::

    keccak256(abi.encode(uint256 taskId, uint32 round, keccak256(bytes(evidenceCid)),
                         address challenger, bytes32 salt))

Both bind the task, the round and the committer's address, so a commitment copied from another
round or by another address does not open (a challenger's bounty cannot be front-run by
copying its commitment, and once the CID is public the challenge window is closed).

Salts are derived from a signature of the committer's own key (:func:`derived_salt`): secret
to everyone else, and reproducible by a restarted process, which can then still reveal.
"""

from __future__ import annotations

from eth_abi import encode
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
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


def evidence_commitment(
    task_id: int, round_: int, evidence_cid: str, challenger: str, salt: bytes
) -> bytes:
    """The 32-byte commitment a challenger posts with its bond (`evidenceCommitmentFor`)."""
    if len(salt) != 32:
        raise ValueError("the salt must be 32 bytes")
    return keccak(
        encode(
            ["uint256", "uint32", "bytes32", "address", "bytes32"],
            [task_id, round_, cid_digest(evidence_cid), to_checksum_address(challenger), salt],
        )
    )


def derived_salt(
    account: LocalAccount,
    *,
    purpose: str,
    chain_id: int,
    marketplace: str,
    task_id: int,
    round_: int,
) -> bytes:
    """A salt only ``account`` can compute: keccak of its (deterministic) signature over
    (purpose, chain, marketplace, task, round). ``purpose`` keeps the salts of different
    commitments apart (``commit`` for updates, ``evidence`` for challenges)."""
    message = encode_defunct(
        text=f"fedmarket {purpose} salt|chain {chain_id}|{to_checksum_address(marketplace)}|"
        f"task {task_id}|round {round_}"
    )
    return keccak(bytes(account.sign_message(message).signature))
