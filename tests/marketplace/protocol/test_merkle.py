"""marketplace.protocol.merkle's trees and proofs are exactly what `Marketplace.claim` accepts on-chain.

Random cumulative payout trees are settled on an in-process eth-tester chain; every proof the
Python tree produces must be accepted by `claim`, and tampered proofs must be rejected.
"""

from __future__ import annotations

import ast
import random
from dataclasses import dataclass
from typing import cast

import pytest
from eth_tester.exceptions import TransactionFailed
from eth_utils import keccak
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError

from marketplace.chain.compile import load_artifact
from marketplace.protocol.merkle import ZERO_ROOT, PayoutTree, hash_pair, leaf, verify

ZERO_ADDRESS = "0x" + "00" * 20
WINDOW = 10  # seconds, every window of the test task
BUDGET = 10**24


@dataclass
class Chain:
    """eth-tester with the token and marketplace deployed and one task created."""

    w3: Web3
    token: Contract
    market: Contract
    aggregator: str
    claimants: list[str]
    task_id: int = 1
    round: int = 0

    def travel(self, seconds: int) -> None:
        now = self.w3.eth.get_block("latest")["timestamp"]
        self.w3.provider.ethereum_tester.time_travel(now + seconds)  # type: ignore[attr-defined]

    def settle_final(self, tree: PayoutTree, paid: int) -> None:
        """Runs one round (nobody commits) settled with ``tree`` and waits for finality."""
        previous = "model0" if self.round == 0 else f"model{self.round}"
        self.round += 1
        self.market.functions.openRound(self.task_id, previous).transact({"from": self.aggregator})
        self.travel(2 * WINDOW + 1)
        self.market.functions.settle(
            self.task_id, f"model{self.round}", "report", tree.root, paid
        ).transact({"from": self.aggregator})
        self.travel(WINDOW + 1)
        self.market.functions.finalize(self.task_id).transact({"from": self.aggregator})

    def claim(self, account: str, amount: int, proof: list[bytes]) -> int:
        """Claims as ``account``; returns the tokens received."""
        before = self.token.functions.balanceOf(account).call()
        self.market.functions.claim(self.task_id, amount, proof).transact({"from": account})
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
    requester, aggregator, *claimants = list(w3.eth.accounts)
    token = _deploy(w3, "RewardToken")
    market = _deploy(w3, "Marketplace", token.address)
    token.functions.mint(requester, 5 * BUDGET).transact({"from": requester})
    token.functions.approve(market.address, 2**256 - 1).transact({"from": requester})
    params = (
        "spec", "model0", bytes(32), 5, BUDGET, 1, WINDOW, WINDOW, WINDOW, WINDOW,
        aggregator, ZERO_ADDRESS, 0, 0, 100,
    )  # fmt: skip
    market.functions.createTask(params).transact({"from": requester})
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


def _reverts_with(chain: Chain, error: str, account: str, amount: int, proof: list[bytes]) -> None:
    """Asserts that the claim reverts with the custom error whose signature is ``error``."""
    with pytest.raises((ContractCustomError, TransactionFailed)) as caught:
        chain.market.functions.claim(chain.task_id, amount, proof).call({"from": account})
    assert _revert_data(caught.value)[:4] == keccak(text=error)[:4]


def _task_field(chain: Chain, name: str) -> object:
    """One named field of `getTask(taskId)`."""
    outputs = chain.market.get_function_by_name("getTask").abi["outputs"][0]["components"]
    values = chain.market.functions.getTask(chain.task_id).call()
    return dict(zip([c["name"] for c in outputs], values, strict=True))[name]


def test_leaf_matches_the_contracts_encoding(chain: Chain) -> None:
    account = chain.claimants[0]
    tree = PayoutTree({account: 123})
    chain.settle_final(tree, 123)

    received = chain.claim(account, 123, tree.proof(account))

    # one leaf: the root IS the Python leaf, so the contract hashed the same bytes
    assert tree.root == leaf(account, 123)
    assert tree.proof(account) == []
    assert received == 123


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_cumulative_trees_are_accepted_by_claim(chain: Chain, seed: int) -> None:
    rng = random.Random(seed)
    entitled = dict.fromkeys(chain.claimants, 0)
    paid_out = dict.fromkeys(chain.claimants, 0)
    for _ in range(3):
        earners = rng.sample(chain.claimants, rng.randint(1, len(chain.claimants)))
        increments = {a: rng.randint(1, 10**21) for a in earners}
        for account, amount in increments.items():
            entitled[account] += amount
        tree = PayoutTree(entitled)
        chain.settle_final(tree, sum(increments.values()))

        for account in rng.sample(earners, rng.randint(1, len(earners))):
            paid_out[account] += chain.claim(account, entitled[account], tree.proof(account))

    for account in chain.claimants:
        assert paid_out[account] <= entitled[account]
        assert chain.market.functions.claimed(1, account).call() == paid_out[account]
    assert sum(paid_out.values()) == _task_field(chain, "totalClaimed")


def test_tampered_proofs_are_rejected(chain: Chain) -> None:
    rng = random.Random(7)
    entries = {a: rng.randint(1, 10**20) for a in chain.claimants}
    tree = PayoutTree(entries)
    chain.settle_final(tree, sum(entries.values()))
    alice, bob = chain.claimants[0], chain.claimants[1]
    proof = tree.proof(alice)
    flipped = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]

    _reverts_with(chain, "MarketplaceInvalidProof(uint256,address,uint256)", alice,
                  entries[alice] + 1, proof)  # fmt: skip
    _reverts_with(chain, "MarketplaceInvalidProof(uint256,address,uint256)", alice,
                  entries[alice], flipped)  # fmt: skip
    _reverts_with(chain, "MarketplaceInvalidProof(uint256,address,uint256)", bob,
                  entries[alice], proof)  # fmt: skip
    _reverts_with(chain, "MarketplaceInvalidProof(uint256,address,uint256)", alice,
                  entries[alice], proof[:-1])  # fmt: skip
    assert chain.claim(alice, entries[alice], proof) == entries[alice]


def test_every_proof_verifies_in_python() -> None:
    rng = random.Random(11)
    for size in (1, 2, 3, 5, 8, 17):
        accounts = [Web3.to_checksum_address(rng.randbytes(20).hex()) for _ in range(size)]
        tree = PayoutTree({a: rng.randint(1, 10**18) for a in accounts})

        for account in accounts:
            assert verify(tree.proof(account), tree.root, leaf(account, tree.amounts[account]))
        assert not verify(tree.proof(accounts[0]), tree.root, leaf(accounts[0], 0))


def test_tree_shape_is_documented_and_deterministic() -> None:
    a, b, c = (Web3.to_checksum_address(bytes([i]) * 20) for i in (1, 2, 3))
    leaves = sorted([leaf(a, 1), leaf(b, 2), leaf(c, 3)])

    tree = PayoutTree({c: 3, a: 1, b: 2})

    assert tree.root == hash_pair(hash_pair(leaves[0], leaves[1]), leaves[2])
    assert PayoutTree({b: 2, c: 3, a: 1}).root == tree.root
    assert hash_pair(leaves[0], leaves[1]) == hash_pair(leaves[1], leaves[0])
    assert PayoutTree({}).root == ZERO_ROOT
    assert PayoutTree({a: 0, b: 5}).root == leaf(b, 5)
