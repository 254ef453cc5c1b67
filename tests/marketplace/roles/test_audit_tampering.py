"""The tampering matrix: change one thing at a time after a real round and the audit names it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from fmkit import Devnet, Scenario, Tamper, coordinator_for, make_scenario, nodes_for, play_round

from marketplace.protocol.merkle import PayoutTree
from marketplace.protocol.round_compute import RoundOutcome
from marketplace.protocol.round_report import RoundReport
from marketplace.roles.audit import AuditResult, audit_task
from marketplace.storage import CID, ContentStore
from participant.behaviours import Honest

pytestmark = pytest.mark.anvil


def republish(outcome: RoundOutcome, store: ContentStore, report: RoundReport) -> RoundOutcome:
    cid = store.add(report.to_json()).cid
    return replace(outcome, report=report, report_cid=cid)


def tamper_value(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
    valuation = dict(outcome.report.valuation or {})
    result = dict(valuation["result"])
    values = list(result["values"])
    values[0] += 0.25
    result["values"] = values
    valuation["result"] = result
    return republish(outcome, store, replace(outcome.report, valuation=valuation))


def tamper_payout(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
    report = outcome.report
    first, second = sorted(report.round_payouts)[:2]
    shift = report.round_payouts[first] // 2
    payouts = {
        **report.round_payouts,
        first: report.round_payouts[first] - shift,
        second: report.round_payouts[second] + shift,
    }
    tree = PayoutTree(payouts)  # a consistent, re-rooted report: only recomputation can tell
    forged = replace(
        report,
        round_payouts=payouts,
        cumulative_payouts=payouts,
        payout_root="0x" + tree.root.hex(),
    )
    return replace(republish(outcome, store, forged), payout_root=tree.root)


def tamper_merkle_leaf(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
    entries = dict(outcome.report.cumulative_payouts)
    account = sorted(entries)[0]
    entries[account] += 10**18
    return replace(outcome, payout_root=PayoutTree(entries).root)


def tamper_global_cid(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
    other = store.add(b"not the aggregate model").cid
    return replace(outcome, new_global_cid=other)


def run_round(devnet: Devnet, tamper: Tamper | None) -> tuple[Scenario, RoundOutcome]:
    s = make_scenario(devnet, n=3, rounds=1, seed=3)
    coord = coordinator_for(s, tamper=tamper)
    play_round(s, coord, nodes_for(s, [Honest(), Honest(), Honest()]))
    return s, coord.summary.settled[1]


def audit(s: Scenario) -> AuditResult:
    return audit_task(s.devnet.client(1), s.devnet.store(), s.task_id, validation=s.validation)


def fields(result: AuditResult) -> set[str]:
    return {m.field for m in result.mismatches}


def test_untouched_round_audits_ok(devnet: Devnet) -> None:
    s, _ = run_round(devnet, None)
    result = audit(s)
    assert result.ok, [m.to_dict() for m in result.mismatches]
    assert json.loads(json.dumps(result.to_dict()))["ok"] is True


@pytest.mark.parametrize(
    ("tamper", "expected_field"),
    [
        (tamper_value, "report.valuation.values"),
        (tamper_payout, "payout_root"),
        (tamper_merkle_leaf, "payout_root"),
        (tamper_global_cid, "new_global_cid"),
    ],
    ids=["valuation-value", "payout-amount", "merkle-leaf", "global-model-cid"],
)
def test_tampered_settlement_is_caught(devnet: Devnet, tamper: Tamper, expected_field: str) -> None:
    s, _ = run_round(devnet, tamper)
    result = audit(s)
    assert not result.ok
    assert expected_field in fields(result), [m.to_dict() for m in result.mismatches]
    assert result.rounds[0].status == "mismatch"


def test_merkle_leaf_tamper_is_named_as_report_root_disagreement(devnet: Devnet) -> None:
    s, _ = run_round(devnet, tamper_merkle_leaf)
    assert "report.cumulative_payouts" in fields(audit(s))


def test_flipped_byte_in_an_update_blob_is_caught(devnet: Devnet) -> None:
    s, outcome = run_round(devnet, None)
    store = devnet.store()
    victim = outcome.report.submissions[0]
    path = store.block_path(CID.parse(victim.cid))  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    result = audit(s)
    assert not result.ok
    assert f"report.submissions[{victim.participant}]" in fields(result)


def test_withheld_blob_makes_the_audit_fail_as_unavailable(devnet: Devnet) -> None:
    s, outcome = run_round(devnet, None)
    store = devnet.store()
    path = store.block_path(CID.parse(outcome.new_global_cid))  # type: ignore[attr-defined]
    path.chmod(0o644)
    path.unlink()
    result = audit(s)
    assert not result.ok
    assert "new_global_cid" in fields(result)
