"""Python's per-round payout tree against the deployed contract on a real Anvil, random trees.

Three dev accounts join, commit and reveal; the aggregator settles a random tree that pays
them and up to 30 other addresses; once final, each revealer claims its leaf with the proof
Python computed, and tampered proofs or amounts are refused.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from eth_account import Account
from fmkit import TOKEN, Devnet, raw_reveal, raw_submit

from marketplace.chain.structs import RoundClaim, TaskParams
from marketplace.errors import ContractRevert
from marketplace.protocol.merkle import PayoutTree

pytestmark = pytest.mark.anvil
CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
WINDOW = 5


@pytest.mark.parametrize("size", [1, 2, 7, 33])
def test_random_trees_are_claimable_and_tampered_proofs_are_not(devnet: Devnet, size: int) -> None:
    rng = random.Random(size)
    requester, aggregator = devnet.client(1), devnet.client(2)
    claimants = [devnet.client(i) for i in (3, 4, 5)][: min(size, 3)]
    params = TaskParams(
        spec_cid=CID, initial_model_cid=CID, validation_sha256=bytes(32), rounds=1,
        round_budget=100 * TOKEN, min_stake=TOKEN, commit_window=WINDOW, reveal_window=WINDOW,
        settle_window=100, challenge_window=WINDOW, resolve_window=WINDOW, claim_window=100,
        aggregator=aggregator.address, arbiter=devnet.client(0).address, settle_bond=TOKEN,
    )  # fmt: skip
    task = requester.create_task(params)
    aggregator.open_round(task, CID)
    store = devnet.store()
    subs = []
    for i, c in enumerate(claimants):
        c.join(task, TOKEN)
        subs.append(raw_submit(c, store, task, 1, {"w": np.full(3, i + 1, np.float32)}))
    devnet.advance(WINDOW + 1)
    for c, sub in zip(claimants, subs, strict=True):
        raw_reveal(c, task, sub)
    devnet.advance(WINDOW + 1)
    entries = {c.address: rng.randint(1, 10 * TOKEN) for c in claimants}
    for _ in range(size - len(claimants)):
        entries[Account.create().address] = rng.randint(1, TOKEN)  # total stays in budget
    tree = PayoutTree(task, 1, entries)
    total = sum(entries.values())
    aggregator.settle(task, CID, CID, tree.root, total)
    devnet.advance(WINDOW + 1)
    aggregator.finalize(task)
    for c in claimants:
        amount = entries[c.address]
        proof = tree.proof(c.address)
        if proof:
            bad = [bytes(32), *proof[1:]]
            with pytest.raises(ContractRevert) as excinfo:
                c.claim(task, [RoundClaim(1, amount, bad)])
            assert excinfo.value.error_name == "MarketplaceInvalidProof"
        with pytest.raises(ContractRevert):
            c.claim(task, [RoundClaim(1, amount + 1, proof)])  # not the leaf
        before = c.balance()
        c.claim(task, [RoundClaim(1, amount, proof)])
        assert c.balance() - before == amount
        assert c.gas_log.last("claim") < 120_000
