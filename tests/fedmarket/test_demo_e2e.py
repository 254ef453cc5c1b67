"""End to end with real participant processes: `fedmarket demo --json` on a real Anvil."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from fmkit import Devnet

from marketplace.chain.client import MarketplaceClient
from marketplace.protocol.ledger import Ledger

pytestmark = [pytest.mark.anvil, pytest.mark.slow]
ROUNDS = 3


def test_demo_trains_pays_claims_and_audits(devnet: Devnet) -> None:
    env = {**os.environ, "FEDMARKET_HOME": str(devnet.settings.home)}
    run = subprocess.run(
        [sys.executable, "-m", "fedmarket.cli", "demo", "--json", "--rounds", str(ROUNDS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert set(result) == {
        "task_id",
        "rpc_url",
        "rounds",
        "participants",
        "budget_spent",
        "audit_ok",
    }
    assert result["rpc_url"] == devnet.deployments.rpc_url  # it used the running devnet

    accuracies = [r["accuracy"] for r in result["rounds"]]
    assert [r["round"] for r in result["rounds"]] == list(range(1, ROUNDS + 1))
    assert accuracies[-1] > accuracies[0] + 0.1, accuracies  # the model learns
    by_behaviour = {p["behaviour"]: p for p in result["participants"]}
    assert set(by_behaviour) == {"honest", "label_noise:0.5", "free_rider"}
    assert by_behaviour["free_rider"]["tokens_claimed"] == 0  # its empty update is never paid
    noisy = by_behaviour["label_noise:0.5"]["tokens_claimed"]
    honest = [p["tokens_claimed"] for p in result["participants"] if p["behaviour"] == "honest"]
    assert 0 <= noisy < min(honest), (noisy, honest)  # the noisy participant is paid least
    for r in result["rounds"]:
        assert set(r["payouts"]) <= set(r["contributions"])  # only valued players are paid
    claimed = sum(p["tokens_claimed"] for p in result["participants"])
    assert claimed == result["budget_spent"]  # every payout was claimed
    assert result["audit_ok"] is True

    client = MarketplaceClient(devnet.w3, devnet.deployments.marketplace)
    ledger = Ledger.from_events(result["task_id"], client.task_events(result["task_id"]))
    assert ledger.total_claimed == claimed
    assert ledger.escrow + ledger.total_slashed == ledger.total_claimed + ledger.total_refunded
    assert ledger.total_staked == ledger.total_withdrawn + ledger.total_slashed
    assert ledger.validation_cid is not None  # published: anyone can audit now
    for p in result["participants"]:
        assert client.claimed(result["task_id"], p["address"]) == p["tokens_claimed"]
