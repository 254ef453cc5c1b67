"""`fedmarket challenge` and `resolve` through the real CLI on a real Anvil."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

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
from marketplace.chain.structs import RoundStatus
from marketplace.protocol.dataset import save_npz
from marketplace.protocol.merkle import PayoutTree
from marketplace.protocol.round_compute import RoundOutcome
from marketplace.roles.tasks import Windows
from marketplace.storage import ContentStore
from participant.behaviours import Honest

pytestmark = pytest.mark.anvil
SLOW_CHALLENGE = Windows(commit=30, reveal=30, settle=600, challenge=1800)


def overpay(outcome: RoundOutcome, _store: ContentStore) -> RoundOutcome:
    """A dishonest settlement: a root that gives the first payee one extra token."""
    entries = dict(outcome.report.cumulative_payouts)
    entries[sorted(entries)[0]] += TOKEN
    return replace(outcome, payout_root=PayoutTree(entries).root)


def test_challenge_with_audit_evidence_then_upheld_voids_the_round(
    devnet: Devnet, tmp_path: Path
) -> None:
    # the audit runs twice (`audit`, then inside `challenge`): minutes on a loaded machine
    s = make_scenario(devnet, n=2, rounds=2, seed=5, windows=SLOW_CHALLENGE)
    coord = coordinator_for(s, tamper=overpay)
    play_round(s, coord, nodes_for(s, [Honest(), Honest()]))
    validation = save_npz(s.validation, tmp_path / "validation.npz")
    challenger = keystore(devnet, "challenger", 9)
    requester = keystore(devnet, "requester", 1)

    audit = fedmarket(devnet, "audit", "--task", str(s.task_id), "--validation", str(validation))
    assert audit.returncode == 1
    assert "MISMATCH round 1: payout_root" in audit.stdout

    done = fedmarket(
        devnet,
        "challenge",
        "--task",
        str(s.task_id),
        "--round",
        "1",
        "--key",
        challenger,
        "--validation",
        str(validation),
    )
    assert done.returncode == 0, done.stderr
    assert "evidence" in done.stdout
    client = devnet.client(1)
    assert client.round(s.task_id, 1).round_status == RoundStatus.CHALLENGED

    again = fedmarket(
        devnet,
        "challenge",
        "--task",
        str(s.task_id),
        "--round",
        "1",
        "--key",
        challenger,
        "--validation",
        str(validation),
    )
    assert again.returncode == 1
    assert again.stderr.startswith("error: round 1 of task")
    assert "is already challenged; it can no longer be challenged" in again.stderr
    assert "Traceback" not in again.stderr and len(again.stderr.strip().splitlines()) == 1

    resolved = fedmarket(
        devnet, "resolve", "--task", str(s.task_id), "--round", "1", "--upheld", "--key", requester
    )
    assert resolved.returncode == 0, resolved.stderr
    assert client.round(s.task_id, 1).round_status == RoundStatus.VOIDED
    assert client.credits(dev_account(9).address) == 2 * TOKEN  # both bonds
    # The next round starts again from the initial model: the voided one does not count.
    assert coord.current_global_cid() == s.created.initial_model_cid


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
