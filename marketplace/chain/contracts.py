"""Contract objects for the committed artifacts (ABI + bytecode from `contracts/artifacts/`)."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from web3 import Web3
from web3.contract import Contract

from marketplace.chain.reverts import RevertDecoder


@cache
def artifact(name: str) -> dict[str, Any]:
    """The committed build artifact of contract ``name`` (cached)."""
    from marketplace.chain.compile import load_artifact

    return load_artifact(name)


def abi(name: str) -> list[dict[str, Any]]:
    return list(artifact(name)["abi"])


def artifact_hash(name: str) -> str:
    """sha256 of the deployable bytecode, recorded in the deployments file."""
    code = str(artifact(name)["bytecode"]).removeprefix("0x")
    return hashlib.sha256(bytes.fromhex(code)).hexdigest()


def token_contract(w3: Web3, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi("RewardToken"))


def marketplace_contract(w3: Web3, address: str) -> Contract:
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi("Marketplace"))


@cache
def revert_decoder() -> RevertDecoder:
    """Decodes custom errors of both contracts (and OpenZeppelin's, which their ABIs include)."""
    return RevertDecoder(abi("Marketplace"), abi("RewardToken"))
