"""Python's payout tree against the deployed contract on a real Anvil, with random trees."""

from __future__ import annotations

import random

import pytest
from eth_account import Account
from fmkit import TOKEN, Devnet

from devnet.accounts import dev_account
from marketplace.chain.structs import TaskParams
from marketplace.errors import ContractRevert
from marketplace.protocol.merkle import PayoutTree

pytestmark = pytest.mark.anvil
CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"


@pytest.mark.parametrize("size", [1, 2, 7, 33])
def test_random_trees_are_claimable_and_tampered_proofs_are_not(devnet: Devnet, size: int) -> None:
    rng = random.Random(size)
    requester, aggregator = devnet.client(1), devnet.client(2)
    claimants = [dev_account(i) for i in (3, 4, 5)][: min(size, 3)]
    params = TaskParams(
        spec_cid=CID, initial_model_cid=CID, validation_sha256=bytes(32), rounds=1,
        round_budget=100 * TOKEN, min_stake=TOKEN, commit_window=5, reveal_window=5,
        settle_window=100, challenge_window=5, aggregator=aggregator.address, settle_bond=0,
    )  # fmt: skip
    task = requester.create_task(params)
    entries = {a.address: rng.randint(1, 10 * TOKEN) for a in claimants}
    for _ in range(size - len(claimants)):
        entries[Account.create().address] = rng.randint(1, 10 * TOKEN)
    total = min(sum(entries.values()), 100 * TOKEN)
    tree = PayoutTree(entries)
    aggregator.open_round(task, CID)
    devnet.advance(11)
    aggregator.settle(task, CID, CID, tree.root, total)
    devnet.advance(6)
    aggregator.finalize(task)
    for acct in claimants:
        claimant = requester.with_account(acct)
        amount = entries[acct.address]
        if len(tree.proof(acct.address)) > 0:
            bad = list(tree.proof(acct.address))
            bad[0] = bytes(32)
            with pytest.raises(ContractRevert) as excinfo:
                claimant.claim(task, amount, bad)
            assert excinfo.value.error_name == "MarketplaceInvalidProof"
        with pytest.raises(ContractRevert):
            claimant.claim(task, amount + 1, tree.proof(acct.address))  # not the leaf
        before = claimant.balance()
        claimant.claim(task, amount, tree.proof(acct.address))
        assert claimant.balance() - before == amount
        assert claimant.gas_log.last("claim") < 100_000
