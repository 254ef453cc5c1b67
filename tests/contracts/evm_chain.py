"""An in-process eth-tester chain with RewardToken and Marketplace deployed from the artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from web3 import Web3
from web3.contract import Contract

from marketplace.chain.compile import load_artifact


@dataclass(frozen=True)
class Deployment:
    """A chain with RewardToken and Marketplace deployed by ``owner``."""

    w3: Web3
    token: Contract
    market: Contract
    owner: str


def deploy(w3: Web3, name: str, *args: object, sender: str) -> Contract:
    """Deploys the committed artifact of ``name`` and returns the bound contract."""
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(*args).transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx)
    assert receipt["status"] == 1, f"deploying {name} failed"
    return cast(Contract, w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"]))


#: The test deployments' `minWindow` (seconds).
MIN_WINDOW = 10


def new_deployment() -> Deployment:
    """A fresh in-process chain (eth-tester, py-evm) with both contracts deployed."""
    w3 = Web3(Web3.EthereumTesterProvider())
    owner = w3.eth.accounts[0]
    token = deploy(w3, "RewardToken", sender=owner)
    market = deploy(w3, "Marketplace", token.address, MIN_WINDOW, sender=owner)
    return Deployment(w3=w3, token=token, market=market, owner=owner)
