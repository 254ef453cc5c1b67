"""`fedmarket challenge` and `resolve` through the real CLI on a real Anvil."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fmkit import (
    TOKEN,
    Devnet,
    coordinator_for,
    fedmarket,
    keystore,
    make_scenario,
    nodes_for,
    play_round,
)

from devnet.accounts import dev_account
from marketplace.chain.structs import Outcome, RoundStatus
from marketplace.protocol.dataset import save_npz
from marketplace.protocol.merkle import PayoutTree
from marketplace.protocol.round_compute import RoundOutcome
from marketplace.roles.tasks import Windows
from marketplace.storage import ContentStore
from participant.behaviours import Honest

pytestmark = pytest.mark.anvil
SLOW_CHALLENGE = Windows(commit=30, reveal=30, settle=600, challenge=1800, resolve=600, claim=600)


def overpay(outcome: RoundOutcome, _store: ContentStore) -> RoundOutcome:
    """A dishonest settlement: a root that gives the first payee one extra token."""
    report = outcome.report
    entries = dict(report.round_payouts)
    entries[sorted(entries)[0]] += TOKEN
    return replace(outcome, payout_root=PayoutTree(report.task_id, report.round, entries).root)


def challenge(devnet: Devnet, task_id: int, key: str, validation: Path, *extra: str) -> Any:
    return fedmarket(
        devnet, "challenge", "--task", str(task_id), "--round", "1", "--key", key,
        "--validation", str(validation), *extra,
    )  # fmt: skip


def test_challenge_commit_reveal_then_the_arbiter_upholds_a_corrected_settlement(
    devnet: Devnet, tmp_path: Path
) -> None:
    # the audit runs twice (`audit`, then inside `challenge`): minutes on a loaded machine
    s = make_scenario(devnet, n=2, rounds=2, seed=5, windows=SLOW_CHALLENGE)
    coord = coordinator_for(s, tamper=overpay)
    play_round(s, coord, nodes_for(s, [Honest(), Honest()]))
    validation = save_npz(s.validation, tmp_path / "validation.npz")
    challenger = keystore(devnet, "challenger", 9)
    arbiter = keystore(devnet, "arbiter", 0)
    client = devnet.client(1)

    audit = fedmarket(devnet, "audit", "--task", str(s.task_id), "--validation", str(validation))
    assert audit.returncode == 1
    assert "MISMATCH round 1: payout_root" in audit.stdout

    # 1. file: bond + a commitment to the evidence (nobody can copy a CID it cannot see)
    filed = challenge(devnet, s.task_id, challenger, validation, "--no-wait", "--json")
    assert filed.returncode == 0, filed.stderr
    assert json.loads(filed.stdout.strip().splitlines()[-1])["step"] == "filed"
    assert client.round(s.task_id, 1).round_status == RoundStatus.CHALLENGED

    # 2. too early to rule: the evidence is not revealed yet
    early = fedmarket(devnet, "resolve", "--task", str(s.task_id), "--round", "1",
                      "--uphold", "--key", arbiter, "--validation", str(validation))  # fmt: skip
    assert early.returncode == 1 and "ruling comes after that" in early.stderr, early.stderr

    # 3. after the challenge window, the same command reveals the committed evidence
    s.to_challenge_end()
    revealed = challenge(devnet, s.task_id, challenger, validation, "--json")
    assert revealed.returncode == 0, revealed.stderr
    assert json.loads(revealed.stdout.strip().splitlines()[-1])["step"] == "revealed"

    # 4. the arbiter upholds: the corrected settlement replaces the aggregator's, final at once
    s.to_evidence_end()
    resolved = fedmarket(devnet, "resolve", "--task", str(s.task_id), "--round", "1",
                         "--uphold", "--key", arbiter, "--validation", str(validation),
                         "--json")  # fmt: skip
    assert resolved.returncode == 0, resolved.stderr
    info = client.round(s.task_id, 1)
    assert info.round_status == RoundStatus.FINAL and info.round_outcome == Outcome.CORRECTED
    corrected = json.loads(resolved.stdout)
    assert int(corrected["total_paid"]["units"]) == int(info.total_paid)

    # 5. the challenger takes its bond back with its share of the aggregator's
    before = devnet.client(9).balance()
    collected = fedmarket(devnet, "challenge", "collect", "--task", str(s.task_id), "--round",
                          "1", "--key", challenger, "--json")  # fmt: skip
    assert collected.returncode == 0, collected.stderr
    gained = devnet.client(9).balance() + client.credits(dev_account(9).address)
    assert gained - before >= TOKEN  # at least its own bond back

    # 6. the audit now finds the round corrected and everything in order
    after = fedmarket(devnet, "audit", "--task", str(s.task_id), "--validation", str(validation),
                      "--json")  # fmt: skip
    assert after.returncode == 0, after.stdout[-2000:]
    assert json.loads(after.stdout)["rounds"][0]["status"] == "corrected"


def test_challenge_refuses_when_the_audit_finds_nothing(devnet: Devnet, tmp_path: Path) -> None:
    s = make_scenario(devnet, n=1, rounds=1, seed=6, windows=SLOW_CHALLENGE)
    play_round(s, coordinator_for(s), nodes_for(s, [Honest()]))
    validation = save_npz(s.validation, tmp_path / "validation.npz")
    refused = fedmarket(
        devnet,
        "challenge",
        "--task",
        str(s.task_id),
        "--round",
        "1",
        "--key",
        keystore(devnet, "challenger", 9),
        "--validation",
        str(validation),
    )
    assert refused.returncode == 1
    assert "finds nothing wrong" in refused.stderr
    assert devnet.client(1).round(s.task_id, 1).round_status == RoundStatus.SETTLED
