"""Python and Solidity compute the same commitment bytes: updates and challengers' evidence."""

from __future__ import annotations

import random

import pytest
from eth_account import Account
from evm_chain import Deployment

from marketplace.chain.commitment import commitment, derived_salt, evidence_commitment

CIDS = [
    "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e",
    "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG",
    "",
    "évidence ✓",
]


@pytest.mark.parametrize("seed", range(4))
def test_update_commitment_matches_commitment_for(deployment: Deployment, seed: int) -> None:
    rng = random.Random(seed)
    task, round_ = rng.randrange(2**64), rng.randrange(2**32)
    cid, sha, salt = CIDS[seed], rng.randbytes(32), rng.randbytes(32)
    samples, who = rng.randrange(2**32), Account.create().address

    on_chain = deployment.market.functions.commitmentFor(
        task, round_, cid, sha, samples, who, salt
    ).call()

    assert bytes(on_chain) == commitment(task, round_, cid, sha, samples, who, salt)


@pytest.mark.parametrize("seed", range(4))
def test_evidence_commitment_matches_evidence_commitment_for(
    deployment: Deployment, seed: int
) -> None:
    rng = random.Random(100 + seed)
    task, round_ = rng.randrange(2**64), rng.randrange(2**32)
    cid, salt, who = CIDS[seed], rng.randbytes(32), Account.create().address

    on_chain = deployment.market.functions.evidenceCommitmentFor(task, round_, cid, who, salt)

    assert bytes(on_chain.call()) == evidence_commitment(task, round_, cid, who, salt)
    other = Account.create().address  # bound to the challenger: a copier's does not match
    assert bytes(on_chain.call()) != evidence_commitment(task, round_, cid, other, salt)


def test_derived_salts_are_reproducible_secret_and_kept_apart() -> None:
    me, someone = Account.create(), Account.create()
    where = {"chain_id": 31337, "marketplace": "0x" + "aa" * 20, "task_id": 3, "round_": 2}

    salt = derived_salt(me, purpose="evidence", **where)

    assert salt == derived_salt(me, purpose="evidence", **where)  # a restart finds it again
    assert salt != derived_salt(someone, purpose="evidence", **where)
    assert salt != derived_salt(me, purpose="commit", **where)
    assert salt != derived_salt(me, purpose="evidence", **{**where, "round_": 3})
