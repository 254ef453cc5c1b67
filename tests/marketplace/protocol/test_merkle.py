"""marketplace.protocol.merkle's per-round trees and proofs are exactly what `Marketplace.claim`
accepts on-chain.

Random per-round payout trees are settled on an in-process eth-tester chain whose claimants
committed and revealed in every round (the chain pays only a round's revealers); every proof
the Python tree produces must be accepted by `claim`, alone or with other rounds in one
transaction, and tampered proofs must be rejected.
"""

from __future__ import annotations

import ast
import os
import random
from dataclasses import dataclass
from typing import cast

import pytest
from eth_account import Account
from eth_tester.exceptions import TransactionFailed
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError

from marketplace.chain.commitment import commitment
from marketplace.chain.compile import load_artifact
from marketplace.chain.structs import RoundClaim, RoundStatus
from marketplace.protocol.merkle import ZERO_ROOT, PayoutTree, hash_pair, leaf, verify

WINDOW = 30  # seconds, every window of the test task (and the marketplace's minWindow)
BUDGET = 10**24
INVALID_PROOF = "MarketplaceInvalidProof(uint256,uint32,address,uint256)"


@dataclass
class Chain:
    """eth-tester with the token and marketplace deployed, one task and joined claimants."""

    w3: Web3
    token: Contract
    market: Contract
    aggregator: str
    claimants: list[str]
    task_id: int = 1
    round: int = 0

    def pass_deadline(self, name: str) -> None:
        """Moves the chain's clock just past the current round's deadline ``name`` (a
        `getRound` field), read from the chain: each transaction mines a block a second
        later, so counting seconds from the test's side would drift with the claimant count."""
        deadline = int(cast(int, _round_field(self, self.round, name)))
        if self.w3.eth.get_block("latest")["timestamp"] <= deadline:
            self.w3.provider.ethereum_tester.time_travel(deadline + 1)  # type: ignore[attr-defined]

    def settle_final(
        self, amounts: dict[str, int], revealers: list[str] | None = None
    ) -> PayoutTree:
        """Runs one round in which ``revealers`` (default: every claimant) commit and reveal,
        settles it with the tree of ``amounts`` and waits for finality; returns the tree."""
        previous = f"model{self.round}"
        self.round += 1
        tree = PayoutTree(self.task_id, self.round, amounts)
        self.market.functions.openRound(self.task_id, previous).transact({"from": self.aggregator})
        reveals = []
        for who in self.claimants if revealers is None else revealers:
            salt, sha = os.urandom(32), os.urandom(32)
            c = commitment(self.task_id, self.round, "update", sha, 1, who, salt)
            self.market.functions.commit(self.task_id, c).transact({"from": who})
            reveals.append((who, sha, salt))
        self.pass_deadline("commitDeadline")
        for who, sha, salt in reveals:
            self.market.functions.reveal(self.task_id, "update", sha, 1, salt).transact(
                {"from": who}
            )
        self.pass_deadline("revealDeadline")
        self.market.functions.settle(
            self.task_id, f"model{self.round}", "report", tree.root, sum(tree.amounts.values())
        ).transact({"from": self.aggregator})
        self.pass_deadline("challengeDeadline")
        self.market.functions.finalize(self.task_id).transact({"from": self.aggregator})
        assert _round_field(self, self.round, "status") == RoundStatus.FINAL
        return tree

    def claim(self, account: str, claims: list[RoundClaim]) -> int:
        """Claims as ``account``; returns the tokens received."""
        before = self.token.functions.balanceOf(account).call()
        self.market.functions.claim(self.task_id, [c.as_tuple() for c in claims]).transact(
            {"from": account}
        )
        return int(self.token.functions.balanceOf(account).call() - before)


def _deploy(w3: Web3, name: str, *args: object) -> Contract:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    receipt = w3.eth.wait_for_transaction_receipt(
        factory.constructor(*args).transact({"from": w3.eth.accounts[0]})
    )
    return cast(Contract, w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"]))


@pytest.fixture
def chain() -> Chain:
    w3 = Web3(Web3.EthereumTesterProvider())
    requester, aggregator, arbiter, *claimants = list(w3.eth.accounts)
    token = _deploy(w3, "RewardToken")
    market = _deploy(w3, "Marketplace", token.address, WINDOW)
    for who in (requester, aggregator, *claimants):
        token.functions.mint(who, 5 * BUDGET).transact({"from": requester})
        token.functions.approve(market.address, 2**256 - 1).transact({"from": who})
    params = (
        "spec", "model0", bytes(32), 5, BUDGET, 1, WINDOW, WINDOW, WINDOW, WINDOW, WINDOW,
        WINDOW, aggregator, arbiter, 1, 0, 100,
    )  # fmt: skip
    market.functions.createTask(params).transact({"from": requester})
    for who in claimants:
        market.functions.join(1, 1).transact({"from": who})
    return Chain(w3, token, market, aggregator, list(claimants))


def _revert_data(error: BaseException) -> bytes:
    """The raw revert bytes, however the provider wrapped them."""
    if isinstance(error, ContractCustomError):
        return bytes.fromhex(str(error.data).removeprefix("0x"))
    payload = error.args[0]
    if isinstance(payload, bytes):
        return payload
    value = ast.literal_eval(str(payload).removeprefix("execution reverted: "))
    assert isinstance(value, bytes)
    return value


def _reverts_with(chain: Chain, error: str, account: str, claims: list[RoundClaim]) -> None:
    """Asserts that the claim reverts with the custom error whose signature is ``error``."""
    with pytest.raises((ContractCustomError, TransactionFailed)) as caught:
        chain.market.functions.claim(chain.task_id, [c.as_tuple() for c in claims]).call(
            {"from": account}
        )
    assert _revert_data(caught.value)[:4] == keccak(text=error)[:4]


def _round_field(chain: Chain, round_: int, name: str) -> object:
    """One named field of `getRound(taskId, round)`."""
    outputs = chain.market.get_function_by_name("getRound").abi["outputs"][0]["components"]
    values = chain.market.functions.getRound(chain.task_id, round_).call()
    return dict(zip([c["name"] for c in outputs], values, strict=True))[name]


def test_leaf_matches_the_contracts_encoding(chain: Chain) -> None:
    account = chain.claimants[0]
    tree = chain.settle_final({account: 123}, revealers=[account])

    received = chain.claim(account, [RoundClaim(1, 123, tree.proof(account))])

    # one leaf: the root IS the Python leaf of (task, round, account, amount), so the
    # contract hashed the same bytes
    assert tree.root == leaf(chain.task_id, 1, account, 123)
    assert tree.proof(account) == []
    assert received == 123


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_round_trees_are_claimed_one_or_several_rounds_at_a_time(
    chain: Chain, seed: int
) -> None:
    rng = random.Random(seed)
    trees: list[PayoutTree] = []
    for _ in range(3):
        earners = rng.sample(chain.claimants, rng.randint(1, len(chain.claimants)))
        trees.append(chain.settle_final({a: rng.randint(1, 10**21) for a in earners}))

    received: dict[str, int] = {}
    for account in chain.claimants:
        mine = [t for t in trees if account in t.amounts]
        first = rng.sample(mine, rng.randint(0, len(mine)))
        for batch in (first, [t for t in mine if t not in first]):  # two claims, any split
            if batch:
                claims = [RoundClaim(t.round, t.amounts[account], t.proof(account)) for t in batch]
                received[account] = received.get(account, 0) + chain.claim(account, claims)

    for account in chain.claimants:
        assert received.get(account, 0) == sum(t.amounts.get(account, 0) for t in trees)
    for t in trees:  # each round's claims add up to exactly its own payouts
        assert _round_field(chain, t.round, "totalClaimed") == sum(t.amounts.values())


def test_tampered_proofs_and_foreign_rounds_are_rejected(chain: Chain) -> None:
    rng = random.Random(7)
    entries = {a: rng.randint(1, 10**20) for a in chain.claimants}
    tree = chain.settle_final(entries)
    second = chain.settle_final(entries)  # same amounts, another round: another leaf
    alice, bob = chain.claimants[0], chain.claimants[1]
    proof = tree.proof(alice)
    flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]

    for bad in (
        RoundClaim(1, entries[alice] + 1, proof),
        RoundClaim(1, entries[alice], flipped),
        RoundClaim(1, entries[alice], proof[:-1]),
        RoundClaim(1, entries[alice], second.proof(alice)),  # round 2's proof for round 1
    ):
        _reverts_with(chain, INVALID_PROOF, alice, [bad])
    _reverts_with(chain, INVALID_PROOF, bob, [RoundClaim(1, entries[alice], proof)])
    _reverts_with(chain, "MarketplaceAlreadyClaimed(uint256,uint32,address)", alice,
                  [RoundClaim(1, entries[alice], proof)] * 2)  # fmt: skip
    assert chain.claim(alice, [RoundClaim(1, entries[alice], proof)]) == entries[alice]


def test_a_root_cannot_pay_someone_who_did_not_reveal(chain: Chain) -> None:
    alice, bob = chain.claimants[0], chain.claimants[1]
    tree = chain.settle_final({alice: 10, bob: 20}, revealers=[alice])  # bob never revealed

    _reverts_with(chain, "MarketplaceNotRevealer(uint256,uint32,address)", bob,
                  [RoundClaim(1, 20, tree.proof(bob))])  # fmt: skip
    assert chain.claim(alice, [RoundClaim(1, 10, tree.proof(alice))]) == 10


def test_every_proof_verifies_in_python() -> None:
    rng = random.Random(11)
    for size in (1, 2, 3, 5, 8, 17):
        accounts = [Account.create().address for _ in range(size)]
        tree = PayoutTree(9, 4, {a: rng.randint(1, 10**18) for a in accounts})

        for account in accounts:
            assert verify(
                tree.proof(account), tree.root, leaf(9, 4, account, tree.amounts[account])
            )
        assert not verify(tree.proof(accounts[0]), tree.root, leaf(9, 4, accounts[0], 0))
        assert not verify(
            tree.proof(accounts[0]), tree.root, leaf(9, 5, accounts[0], tree.amounts[accounts[0]])
        )


def test_tree_shape_is_documented_and_deterministic() -> None:
    a, b, c = (Web3.to_checksum_address(bytes([i]) * 20) for i in (1, 2, 3))
    leaves = sorted([leaf(1, 1, a, 1), leaf(1, 1, b, 2), leaf(1, 1, c, 3)])

    tree = PayoutTree(1, 1, {c: 3, a: 1, b: 2})

    assert tree.root == hash_pair(hash_pair(leaves[0], leaves[1]), leaves[2])
    assert PayoutTree(1, 1, {b: 2, c: 3, a: 1}).root == tree.root
    assert PayoutTree(1, 2, {b: 2, c: 3, a: 1}).root != tree.root  # rounds never share leaves
    assert PayoutTree(2, 1, {b: 2, c: 3, a: 1}).root != tree.root  # nor do tasks
    assert hash_pair(leaves[0], leaves[1]) == hash_pair(leaves[1], leaves[0])
    assert PayoutTree(1, 1, {}).root == ZERO_ROOT
    assert PayoutTree(1, 1, {a: 0, b: 5}).root == leaf(1, 1, b, 5)
