"""The tampering matrix: change one thing at a time after a real round and the audit names it.

Each probe is a dishonest aggregator's edit to its own settlement (report, root or model) on a
real Anvil round. The full audit (validation set given) recomputes the whole report and
compares every field; the public audit (no validation data) checks what needs none.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from fmkit import (
    TOKEN,
    Devnet,
    Scenario,
    Tamper,
    coordinator_for,
    make_scenario,
    nodes_for,
    play_round,
)

from marketplace.errors import ConfigError
from marketplace.protocol.dataset import dataset_sha256
from marketplace.protocol.merkle import PayoutTree
from marketplace.protocol.round_compute import RoundOutcome
from marketplace.protocol.round_report import RoundReport
from marketplace.roles.audit import AuditResult, audit_task
from marketplace.storage import CID, ContentStore
from participant.behaviours import FreeRider, Honest

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
    # a consistent, re-rooted report: only recomputation can tell
    tree = PayoutTree(report.task_id, report.round, payouts)
    forged = replace(report, round_payouts=payouts, payout_root="0x" + tree.root.hex())
    return replace(republish(outcome, store, forged), payout_root=tree.root)


def tamper_merkle_leaf(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
    report = outcome.report
    entries = dict(report.round_payouts)
    account = sorted(entries)[0]
    entries[account] += 10**18
    return replace(outcome, payout_root=PayoutTree(report.task_id, report.round, entries).root)


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
    assert "report.round_payouts" in fields(audit(s))


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
    assert not result.ok  # nothing may be called OK that could not be checked
    assert "new_global_cid" in {u.field for u in result.unavailable}
    assert "new_global_cid" not in fields(result)  # unavailable data is never a mismatch
    assert result.rounds[0].status == "unavailable"


# -- issue 12: the whole report, the validation file, and the public level -------------------


def relabel_free_rider(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
    """The free-rider's true reason (empty_update) relabelled, with a false detail."""
    subs = [
        replace(sub, reason="hash_mismatch", detail="bytes do not match the revealed sha256")
        if sub.reason == "empty_update"
        else sub
        for sub in outcome.report.submissions
    ]
    return republish(outcome, store, replace(outcome.report, submissions=subs))


def false_fields(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
    """Fields no short list used to compare: seed source, aggregator parameters, a sample count."""
    report = outcome.report
    subs = [replace(report.submissions[0], num_samples=report.submissions[0].num_samples + 1)]
    forged = replace(
        report,
        seed_source={**report.seed_source, "block_number": 1},
        aggregator_params={"note": "forged"},
        submissions=subs + list(report.submissions[1:]),
    )
    return republish(outcome, store, forged)


def censor_first(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
    """A valid update reported as rejected (its payout moved to the others is not needed)."""
    report = outcome.report
    first = report.submissions[0]
    subs = [replace(first, status="rejected", reason="norm_bound", detail="norm too large")]
    payouts = {a: v for a, v in report.round_payouts.items() if a != first.participant}
    tree = PayoutTree(report.task_id, report.round, payouts)
    forged = replace(
        report,
        submissions=subs + list(report.submissions[1:]),
        round_payouts=payouts,
        total_paid=sum(payouts.values()),
        payout_root="0x" + tree.root.hex(),
    )
    out = republish(outcome, store, forged)
    return replace(out, payout_root=tree.root, total_paid=forged.total_paid)


def run_free_rider_round(devnet: Devnet, tamper: Tamper | None) -> Scenario:
    s = make_scenario(devnet, n=3, rounds=1, seed=3)
    coord = coordinator_for(s, tamper=tamper)
    play_round(s, coord, nodes_for(s, [Honest(), Honest(), FreeRider()]))
    return s


def test_a_relabelled_rejection_reason_is_a_mismatch_not_noise(devnet: Devnet) -> None:
    s = run_free_rider_round(devnet, relabel_free_rider)
    result = audit(s)
    assert not result.ok
    named = [m for m in result.mismatches if m.field.endswith(".reason")]
    assert named and named[0].expected == "empty_update" and named[0].found == "hash_mismatch"


def test_fields_outside_the_old_short_list_are_compared(devnet: Devnet) -> None:
    s, _ = run_round(devnet, false_fields)
    found = fields(audit(s))
    assert "report.seed_source.block_number" in found, found
    assert any(f.startswith("report.aggregator_params") for f in found), found
    assert any(f.endswith(".num_samples") for f in found), found


def test_a_validation_file_other_than_the_committed_one_is_refused(devnet: Devnet) -> None:
    s, _ = run_round(devnet, None)
    other = s.validation.subset(list(range(len(s.validation) - 1)))
    with pytest.raises(ConfigError) as err:
        audit_task(s.devnet.client(1), s.devnet.store(), s.task_id, validation=other)
    message = err.value.user_message()
    assert dataset_sha256(other) in message and s.spec.validation_sha256.lower() in message


def test_the_public_audit_runs_without_validation_data(devnet: Devnet) -> None:
    s, _ = run_round(devnet, None)
    result = audit_task(s.devnet.client(1), s.devnet.store(), s.task_id)
    assert result.level == "public"
    assert result.ok, [m.to_dict() for m in result.mismatches]
    assert result.rounds[0].status == "ok"
    assert result.to_dict()["other_level"].startswith("the full audit")


@pytest.mark.parametrize(
    ("tamper", "expected_field"),
    [
        (tamper_global_cid, "report.new_global_cid"),
        (tamper_merkle_leaf, "report.round_payouts"),
        (censor_first, "report.submissions"),
    ],
    ids=["global-model-cid", "merkle-leaf", "censored-update"],
)
def test_the_public_audit_catches_what_needs_no_validation(
    devnet: Devnet, tamper: Tamper, expected_field: str
) -> None:
    s, _ = run_round(devnet, tamper)
    result = audit_task(s.devnet.client(1), s.devnet.store(), s.task_id)
    assert result.level == "public" and not result.ok
    found = fields(result)
    assert any(f.startswith(expected_field) for f in found), found


def inflate_round_1_standing(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
    """Round 1's published valuation state gives one participant more standing; round 2 is
    then computed honestly from that (wrong) state by the same aggregator."""
    if outcome.report.round != 1 or outcome.report.valuation is None:
        return outcome
    valuation = dict(outcome.report.valuation)
    state = dict(valuation["state"])
    standing = dict(state["standing"])
    first = sorted(standing)[0]
    standing[first] = float(standing[first]) + 1.0
    state["standing"] = standing
    valuation["state"] = state
    return republish(outcome, store, replace(outcome.report, valuation=valuation))


def test_a_round_after_a_tampered_round_is_inherited_not_accused(devnet: Devnet) -> None:
    s = make_scenario(devnet, n=3, rounds=2, seed=4)
    coord = coordinator_for(s, tamper=inflate_round_1_standing)
    nodes = nodes_for(s, [Honest(), Honest(), Honest()])
    play_round(s, coord, nodes)
    s.to_challenge_end()
    play_round(s, coord, nodes)

    result = audit(s)

    first, second = result.rounds
    assert first.status == "mismatch"
    assert any(m.field.startswith("report.valuation") for m in first.mismatches), fields(result)
    assert second.status == "inherited", [m.to_dict() for m in second.mismatches]
    assert second.inherited and not second.mismatches
    assert not result.ok  # the tampered round still fails the audit


def _forge(**changes: object) -> Tamper:
    def tamper(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
        return republish(outcome, store, replace(outcome.report, **changes))  # type: ignore[arg-type]

    return tamper


def null_accuracy_false_loss(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
    metrics = {**outcome.report.metrics, "validation_loss": 0.01}
    return republish(outcome, store, replace(outcome.report, accuracy=None, metrics=metrics))


def false_sha_and_detail(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
    first, *rest = outcome.report.submissions
    forged = replace(first, sha256="00" * 32, detail="a note the screening never wrote")
    return republish(outcome, store, replace(outcome.report, submissions=[forged, *rest]))


def swapped_valuation_block(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
    """Another method and seed named in the valuation block, the honest payouts kept."""
    valuation = dict(outcome.report.valuation or {})
    valuation["config"] = {**dict(valuation.get("config") or {}), "method": "tmc", "seed": 99}
    return republish(outcome, store, replace(outcome.report, valuation=valuation))


def pay_a_stranger(outcome: RoundOutcome, store: ContentStore) -> RoundOutcome:
    """Part of a payee's share moved to an address that never revealed (root re-made)."""
    report = outcome.report
    first = sorted(report.round_payouts)[0]
    stranger = "0x000000000000000000000000000000000000dEaD"
    payouts = {**report.round_payouts, first: report.round_payouts[first] - TOKEN, stranger: TOKEN}
    tree = PayoutTree(report.task_id, report.round, payouts)
    forged = replace(report, round_payouts=payouts, payout_root="0x" + tree.root.hex())
    return replace(republish(outcome, store, forged), payout_root=tree.root)


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (_forge(task_id=999), "report.task_id"),
        (_forge(round=7), "report.round"),
        (_forge(chain_id=5), "report.chain_id"),
        (_forge(marketplace="0x000000000000000000000000000000000000bEEF"), "report.marketplace"),
        (null_accuracy_false_loss, "report.accuracy"),
        (false_sha_and_detail, "report.submissions["),
        (swapped_valuation_block, "report.valuation"),
        (pay_a_stranger, "report.round_payouts"),
    ],
    ids=[
        "task-id",
        "round",
        "chain-id",
        "marketplace",
        "null-accuracy",
        "sha256-and-detail",
        "valuation-block",
        "stranger-payee",
    ],
)
def test_every_forged_field_is_a_mismatch(devnet: Devnet, tamper: Tamper, expected: str) -> None:
    s, _ = run_round(devnet, tamper)
    result = audit(s)
    found = fields(result)
    assert not result.ok and any(f.startswith(expected) for f in found), found
    assert result.rounds[0].status == "mismatch"
