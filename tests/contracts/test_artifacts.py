"""The committed contract artifacts match the sources, rebuild identically and run on eth-tester."""

from __future__ import annotations

import ast
import hashlib

import pytest
from eth_tester.exceptions import TransactionFailed
from eth_utils import keccak
from evm_chain import Deployment
from web3.exceptions import ContractCustomError

from marketplace.chain import compile as build
from marketplace.errors import ConfigError


def test_committed_artifacts_match_current_sources() -> None:
    sources = build.collect_sources()

    digest = build.source_hash(sources)

    for name in build.CONTRACTS:
        artifact = build.load_artifact(name)
        assert artifact["sourceHash"] == digest, (
            f"{name}: run python -m marketplace.chain.compile --write"
        )
        assert artifact["sources"] == sorted(sources)
    assert build.stale_artifacts() == []
    assert build.main(["--check"]) == 0


def test_sources_include_the_openzeppelin_files_used() -> None:
    sources = build.collect_sources()

    assert "contracts/src/Marketplace.sol" in sources
    assert "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol" in sources
    assert "@openzeppelin/contracts/token/ERC20/ERC20.sol" in sources
    assert not any(name.startswith("contracts/test") for name in sources)


def test_source_hash_covers_paths_and_contents() -> None:
    sources = {"a.sol": "x", "b.sol": "y"}

    base = build.source_hash(sources)

    assert build.source_hash(dict(reversed(sources.items()))) == base, "order-independent"
    assert build.source_hash({"a.sol": "x", "b.sol": "y "}) != base, "contents count"
    assert build.source_hash({"a.sol": "x", "c.sol": "y"}) != base, "paths count"
    assert build.source_hash({"a.sol": "xb.sol", "": "y"}) != base, "no ambiguous framing"
    expected = hashlib.sha256(b"a.sol\0x\0b.sol\0y\0").hexdigest()
    assert base == expected


def test_check_fails_when_a_source_changes() -> None:
    sources = build.collect_sources()
    sources["contracts/src/Marketplace.sol"] += "\n// edited\n"

    stale = build.stale_artifacts(sources)

    assert stale == list(build.CONTRACTS)


def test_artifacts_record_the_pinned_build() -> None:
    for name in build.CONTRACTS:
        artifact = build.load_artifact(name)

        assert artifact["contractName"] == name
        assert artifact["compiler"].startswith("0.8.28+commit.")
        assert artifact["evmVersion"] == "shanghai"
        assert artifact["optimizer"] == {"enabled": True, "runs": 200}
        assert artifact["bytecode"].startswith("0x") and len(artifact["bytecode"]) > 1000
        assert artifact["deployedBytecode"].startswith("0x")
        assert (build.artifacts_dir() / f"{name}.json").is_file()
    assert build.artifacts_dir() == build.repo_root() / "contracts" / "artifacts"


def test_load_artifact_of_unknown_contract_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no build artifact"):
        build.load_artifact("NoSuchContract")


@pytest.mark.slow
def test_fresh_compilation_reproduces_the_committed_bytecode() -> None:
    artifacts = build.compile_contracts()

    for name in build.CONTRACTS:
        committed = build.load_artifact(name)
        assert artifacts[name]["bytecode"] == committed["bytecode"], name
        assert artifacts[name]["deployedBytecode"] == committed["deployedBytecode"], name
        assert artifacts[name]["abi"] == committed["abi"], name


def _task_params(aggregator: str, arbiter: str) -> tuple[object, ...]:
    return (
        "bafkreispec",  # specCid
        "bafkreimodel0",  # initialModelCid
        hashlib.sha256(b"validation").digest(),
        2,  # rounds
        10**20,  # roundBudget
        10**18,  # minStake
        60,  # commitWindow
        60,  # revealWindow
        120,  # settleWindow
        300,  # challengeWindow
        300,  # resolveWindow
        3600,  # claimWindow
        aggregator,
        arbiter,  # rules on challenges: neither the requester nor the aggregator
        10**18,  # settleBond
        1000,  # slashBps
        10_000,  # maxSamples
    )


def test_contracts_run_on_eth_tester(deployment: Deployment) -> None:
    w3, token, market, owner = (
        deployment.w3,
        deployment.token,
        deployment.market,
        deployment.owner,
    )
    requester, aggregator, participant, arbiter = list(w3.eth.accounts)[1:5]
    for account in (requester, participant):
        token.functions.mint(account, 10**22).transact({"from": owner})
        token.functions.approve(market.address, 2**256 - 1).transact({"from": account})

    market.functions.createTask(_task_params(aggregator, arbiter)).transact({"from": requester})
    market.functions.join(1, 5 * 10**18).transact({"from": participant})

    assert market.functions.taskCount().call() == 1
    assert market.functions.token().call() == token.address
    assert market.functions.phase(1).call() == 1  # Created
    task = market.functions.getTask(1).call()
    assert task[0] == requester
    assert bytes(task[5]) == keccak(b"bafkreimodel0")  # initialModelCidHash
    assert market.functions.participantOf(1, participant).call() == [5 * 10**18, True, 0, False, 0]
    assert token.functions.balanceOf(market.address).call() == 2 * 10**20 + 5 * 10**18
    assert token.functions.symbol().call() == "FMT"


def _revert_data(error: BaseException) -> bytes:
    """The raw revert bytes, however the provider wrapped them."""
    if isinstance(error, ContractCustomError):
        return bytes.fromhex(str(error.data).removeprefix("0x"))
    payload = error.args[0]
    if isinstance(payload, bytes):
        return payload
    text = str(payload).removeprefix("execution reverted: ")
    value = ast.literal_eval(text)
    assert isinstance(value, bytes)
    return value


def test_custom_errors_surface_on_eth_tester(deployment: Deployment) -> None:
    w3, market = deployment.w3, deployment.market
    expected = keccak(b"MarketplaceUnknownTask(uint256)")[:4] + (7).to_bytes(32, "big")

    with pytest.raises((ContractCustomError, TransactionFailed)) as caught:
        market.functions.cancel(7).call({"from": list(w3.eth.accounts)[1]})

    assert _revert_data(caught.value) == expected
