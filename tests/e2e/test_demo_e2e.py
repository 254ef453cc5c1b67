"""End to end with real participant processes: the demo on a real Anvil, checked from outside."""

from __future__ import annotations

import pytest
from fmkit import Devnet

from marketplace.chain.client import MarketplaceClient
from marketplace.demo import DemoConfig, run_demo
from marketplace.ledger import Ledger

pytestmark = [pytest.mark.anvil, pytest.mark.slow]


def test_demo_trains_pays_claims_and_audits(devnet: Devnet) -> None:
    cfg = DemoConfig(rounds=3)
    result = run_demo(devnet.settings, cfg, keep_devnet=True, log=lambda _m: None)

    accuracies = [r["accuracy"] for r in result.rounds]
    assert len(accuracies) == 3
    assert accuracies[-1] > accuracies[0] + 0.1, accuracies  # the model learns
    budget = cfg.rounds * cfg.round_budget_tokens * 10**18
    by_behaviour = {p["behaviour"]: p for p in result.participants}
    assert by_behaviour["free_rider"]["tokens_claimed"] <= budget // 100
    paid = sum(p["tokens_claimed"] for p in result.participants)
    assert paid == result.budget_spent  # every payout was claimed
    for p in result.participants:  # stake returned: the balance moved by exactly the claim
        assert p["balance_change"] == p["tokens_claimed"]
    assert result.audit_ok, result.audit

    client = MarketplaceClient(devnet.w3, devnet.deployments.marketplace)
    ledger = Ledger.from_events(result.task_id, client.task_events(result.task_id))
    assert ledger.total_claimed == paid
    assert ledger.escrow == ledger.total_claimed + ledger.total_refunded  # nothing left behind
