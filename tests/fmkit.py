"""Test kit for the round protocol on a real devnet: tasks, scripted participants, time travel.

Tests drive the protocol step by step with real contracts and the real round computation;
only the clock is moved (``evm_increaseTime``) so windows pass without waiting.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from web3 import Web3

from devnet.accounts import dev_account
from marketplace.chain.client import MarketplaceClient
from marketplace.chain.commitment import commitment
from marketplace.chain.deployments import Deployments
from marketplace.chain.keystore import create_account
from marketplace.chain.rpc import connect
from marketplace.protocol.dataset import Dataset, dataset_sha256
from marketplace.protocol.round_compute import RoundOutcome, compute_round
from marketplace.protocol.task_spec import TaskSpec, TrainingConfig, ValuationConfig
from marketplace.protocol.weights import encode_weights
from marketplace.roles.coordinator import Coordinator
from marketplace.roles.tasks import CreatedTask, Windows, create_task
from marketplace.settings import Settings
from marketplace.storage import ContentStore, EmbeddedStore
from participant.behaviours import Behaviour
from participant.data import dirichlet_partition, load_digits, train_validation_split
from participant.node import ParticipantNode
from valuation.model_spec import ModelSpec

TOKEN = 10**18
#: Dev accounts by role in every scenario: the arbiter, the requester, the aggregator.
ARBITER, REQUESTER, AGGREGATOR = 0, 1, 2
Tamper = Callable[[RoundOutcome, ContentStore], RoundOutcome]
MODEL = ModelSpec("logreg", (64,), 10)


@dataclass
class Devnet:
    settings: Settings
    deployments: Deployments
    _w3: Web3 | None = None

    @property
    def w3(self) -> Web3:
        if self._w3 is None:
            self._w3 = connect(self.deployments.rpc_url)
        return self._w3

    def client(self, index: int) -> MarketplaceClient:
        """A client acting as dev account ``index`` (0 arbiter, 1 requester, 2 aggregator,
        3+ others)."""
        return MarketplaceClient(
            self.w3, self.deployments.marketplace, self.deployments.token, dev_account(index)
        )

    def store(self) -> ContentStore:
        return EmbeddedStore(self.settings.store_dir)

    def advance(self, seconds: int) -> None:
        """Move block time forward and mine a block."""
        self.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


@dataclass
class Scenario:
    """A task on the devnet with data for its participants and the requester's validation set."""

    devnet: Devnet
    created: CreatedTask
    spec: TaskSpec
    validation: Dataset
    shards: list[Dataset]
    participants: list[int]  # dev account indexes
    windows: Windows
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def task_id(self) -> int:
        return self.created.task_id

    def client(self, i: int) -> MarketplaceClient:
        return self.devnet.client(self.participants[i])

    def address(self, i: int) -> str:
        return str(dev_account(self.participants[i]).address)

    def to_commit_end(self) -> None:
        self.devnet.advance(self.windows.commit + 1)

    def to_reveal_end(self) -> None:
        self.devnet.advance(self.windows.reveal + 1)

    def to_challenge_end(self) -> None:
        self.devnet.advance(self.windows.challenge + 1)

    def to_evidence_end(self) -> None:
        """Past the challengers' evidence window (it follows the challenge window)."""
        self.devnet.advance(self.windows.reveal + 1)

    def to_resolve_end(self) -> None:
        """Past the arbiter's ruling window (it follows the evidence window)."""
        self.devnet.advance(self.windows.resolve + 1)

    def arbiter(self) -> MarketplaceClient:
        return self.devnet.client(ARBITER)


def make_scenario(
    devnet: Devnet,
    n: int = 3,
    *,
    rounds: int = 2,
    round_budget: int = 100,
    participants_from: int = 3,
    seed: int = 1,
    model: ModelSpec = MODEL,
    method: str = "auto",
    windows: Windows | None = None,
) -> Scenario:
    """Create a task (requester = dev 1, aggregator = dev 2) and split digits among n nodes.

    Anvil's clock also runs in real time, so a test that spends minutes inside one window
    (a challenge that audits first, say) passes longer ``windows``.
    """
    train, validation = train_validation_split(load_digits(), 0.2, seed=seed)
    parts = dirichlet_partition(train.y, n, 1.0, seed=seed)
    shards = [train.subset(np.sort(p)) for p in parts]
    spec = TaskSpec(
        name="test task",
        model=model,
        validation_sha256=dataset_sha256(validation),
        validation_size=len(validation),
        training=TrainingConfig(epochs=2, lr=0.1),
        valuation=ValuationConfig(method=method),
    )
    windows = windows or Windows(
        commit=30, reveal=30, settle=600, challenge=30, resolve=30, claim=600
    )
    requester = devnet.client(REQUESTER)
    created = create_task(
        requester,
        devnet.store(),
        spec,
        aggregator=devnet.client(AGGREGATOR).address,
        arbiter=devnet.client(ARBITER).address,
        rounds=rounds,
        round_budget=round_budget * TOKEN,
        min_stake=TOKEN,
        windows=windows,
        settle_bond=TOKEN,
        slash_bps=5000,
    )
    return Scenario(
        devnet,
        created,
        spec,
        validation,
        shards,
        list(range(participants_from, participants_from + n)),
        windows,
    )


def claimed_total(client: MarketplaceClient, task_id: int, account: str) -> int:
    """What ``account`` has claimed from the task over all rounds (its Claimed events)."""
    return sum(
        int(e.args["amount"])
        for e in client.task_events(task_id)
        if e.name == "Claimed" and e.args["account"].lower() == account.lower()
    )


def raw_submit(
    client: MarketplaceClient,
    store: ContentStore,
    task_id: int,
    round_: int,
    update: Mapping[str, np.ndarray] | bytes,
    num_samples: int = 100,
    salt: bytes | None = None,
) -> dict[str, Any]:
    """Upload an arbitrary update (or raw bytes) and commit to it; returns what reveal needs."""
    blob = update if isinstance(update, bytes) else encode_weights(update)
    added = store.add(blob)
    salt = salt or os.urandom(32)
    digest = bytes.fromhex(added.sha256)
    c = commitment(task_id, round_, added.cid, digest, num_samples, client.address, salt)
    client.commit(task_id, c)
    return {
        "cid": added.cid,
        "sha256": digest,
        "num_samples": num_samples,
        "salt": salt,
        "commitment": c,
    }


def raw_reveal(client: MarketplaceClient, task_id: int, sub: Mapping[str, Any]) -> None:
    client.reveal(task_id, sub["cid"], sub["sha256"], sub["num_samples"], sub["salt"])


def nodes_for(s: Scenario, behaviours: list[Behaviour]) -> list[ParticipantNode]:
    """In-process participant nodes (joined) for the scenario's first len(behaviours) shards."""
    nodes = []
    for i, behaviour in enumerate(behaviours):
        node = ParticipantNode(
            s.client(i), s.devnet.store(), s.task_id, s.shards[i], behaviour, log=lambda _m: None
        )
        node.ensure_joined()
        nodes.append(node)
    return nodes


def coordinator_for(s: Scenario, *, tamper: Tamper | None = None) -> Coordinator:
    """The task's coordinator; with ``tamper`` a dishonest one that settles a forged outcome."""
    if tamper is None:
        compute = compute_round
    else:

        def compute(*args: Any, **kwargs: Any) -> RoundOutcome:
            return tamper(compute_round(*args, **kwargs), s.devnet.store())

    return Coordinator(
        s.devnet.client(2),
        s.devnet.store(),
        s.task_id,
        s.validation,
        log=lambda _m: None,
        compute=compute,
    )


def commit_and_reveal(s: Scenario, coord: Coordinator, nodes: list[ParticipantNode]) -> int:
    """Open the next round, let every node commit and reveal; returns the round number."""
    coord.step()
    round_ = int(s.devnet.client(1).task(s.task_id).last_round)
    for node in nodes:
        node.step()
    s.to_commit_end()
    for node in nodes:
        node.step()
    return round_


def play_round(s: Scenario, coord: Coordinator, nodes: list[ParticipantNode]) -> int:
    """Open, commit, reveal, settle; returns the round number (left in its challenge window)."""
    round_ = commit_and_reveal(s, coord, nodes)
    s.to_reveal_end()
    coord.step()
    return round_


#: Password of every keystore the CLI tests create in the session's home.
CLI_PASSWORD = "cli-test-password"


def fedmarket(devnet: Devnet, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real `fedmarket` CLI in a subprocess against the session's devnet and home."""
    env = {
        **os.environ,
        "FEDMARKET_HOME": str(devnet.settings.home),
        "FEDMARKET_KEY_PASSWORD": CLI_PASSWORD,
    }
    return subprocess.run(
        [sys.executable, "-m", "fedmarket.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def keystore(devnet: Devnet, name: str, index: int) -> str:
    """A keystore ``name`` holding dev account ``index`` (created once); returns the name."""
    if not (devnet.settings.keystore_dir / f"{name}.json").exists():
        create_account(
            devnet.settings.keystore_dir,
            CLI_PASSWORD,
            private_key=bytes(dev_account(index).key),
            name=name,
        )
    return name
