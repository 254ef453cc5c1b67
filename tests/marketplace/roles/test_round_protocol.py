"""The round protocol on a real Anvil: nodes, coordinator, settlement, claims, audit, faults."""

from __future__ import annotations

import numpy as np
import pytest
from fmkit import (
    TOKEN,
    Devnet,
    Scenario,
    claimed_total,
    coordinator_for,
    make_scenario,
    nodes_for,
    play_round,
    raw_reveal,
    raw_submit,
)

from marketplace.chain.structs import Phase
from marketplace.errors import ContractRevert
from marketplace.protocol.ledger import Ledger
from marketplace.protocol.round_compute import compute_round, gather_inputs
from marketplace.protocol.round_report import RoundReport
from marketplace.protocol.weights import encode_weights
from marketplace.roles.audit import audit_task
from marketplace.roles.coordinator import Coordinator
from marketplace.storage import CID
from participant.behaviours import FreeRider, Honest
from participant.node import ParticipantNode
from participant.training import initial_params
from valuation.model_spec import parameter_shapes

pytestmark = pytest.mark.anvil


def finish(s: Scenario, coord: Coordinator, nodes: list[ParticipantNode]) -> None:
    s.to_challenge_end()
    coord.step()  # finalize the last round: the task ends
    assert s.devnet.client(1).phase(s.task_id) == Phase.ENDED
    for node in nodes:
        node.collect()


def report_of(s: Scenario, round_: int) -> RoundReport:
    client = s.devnet.client(1)
    settled = [
        e
        for e in client.task_events(s.task_id)
        if e.name == "RoundSettled" and e.args["round"] == round_
    ]
    assert len(settled) == 1, f"round {round_} settled {len(settled)} times"
    return RoundReport.from_json(s.devnet.store().cat_bytes(settled[0].args["report_cid"]))


def test_rounds_pay_contributors_and_audit_ok(devnet: Devnet) -> None:
    s = make_scenario(devnet, n=4, rounds=2)
    requester = devnet.client(1)
    before = {i: requester.balance(s.address(i)) for i in range(4)}
    nodes = nodes_for(s, [Honest(), Honest(), Honest(), FreeRider()])
    coord = coordinator_for(s)
    play_round(s, coord, nodes)
    s.to_challenge_end()
    play_round(s, coord, nodes)
    finish(s, coord, nodes)

    first, second = report_of(s, 1), report_of(s, 2)
    assert second.accuracy is not None and first.accuracy is not None
    assert second.accuracy > first.accuracy - 0.02
    budget = 2 * 100 * TOKEN
    free_rider = s.address(3)
    earned = {
        a: first.round_payouts.get(a, 0) + second.round_payouts.get(a, 0)
        for a in {*first.round_payouts, *second.round_payouts}
    }
    assert earned.get(free_rider, 0) <= budget // 100
    assert sum(earned.values()) == first.total_paid + second.total_paid
    for i in range(4):  # every payout claimed, stake back: balance change == claimed amount
        claimed = claimed_total(requester, s.task_id, s.address(i))
        assert claimed == earned.get(s.address(i), 0)
        assert requester.balance(s.address(i)) - before[i] == claimed
    # each node claimed every round it was paid for in one transaction (one event per round)
    claims = [e for e in requester.task_events(s.task_id) if e.name == "Claimed"]
    txs: dict[str, set[str]] = {}
    for e in claims:
        txs.setdefault(e.args["account"], set()).add(e.tx_hash)
    assert claims and all(len(hashes) == 1 for hashes in txs.values())
    assert any(sum(1 for e in claims if e.tx_hash == h) == 2 for h in {e.tx_hash for e in claims})
    result = audit_task(requester, devnet.store(), s.task_id, validation=s.validation)
    assert result.ok, result.to_dict()["mismatches"]
    assert [r.status for r in result.rounds] == ["ok", "ok"]


def test_killed_participant_is_slashed_only_if_it_committed(devnet: Devnet) -> None:
    s = make_scenario(devnet, n=3, rounds=1)
    nodes = nodes_for(s, [Honest(), Honest(), Honest()])
    coord = coordinator_for(s)
    coord.step()
    nodes[0].step()
    nodes[1].step()  # commits, then "dies": never reveals
    # nodes[2] dies before committing
    s.to_commit_end()
    nodes[0].step()
    s.to_reveal_end()
    coord.step()  # settles without the dead nodes and slashes the one that committed
    report = report_of(s, 1)
    assert [sub.participant for sub in report.submissions] == [s.address(0)]
    client = devnet.client(1)
    assert int(client.participant(s.task_id, s.address(1))["slashed_total"]) == TOKEN // 2
    assert int(client.participant(s.task_id, s.address(2))["slashed_total"]) == 0
    assert report.round_payouts.get(s.address(1), 0) == 0


def test_coordinator_restarted_between_reveal_and_settle_settles_once(devnet: Devnet) -> None:
    s = make_scenario(devnet, n=3, rounds=1)
    nodes = nodes_for(s, [Honest(), Honest(), Honest()])
    first = coordinator_for(s)
    first.step()
    for node in nodes:
        node.step()
    s.to_commit_end()
    for node in nodes:
        node.step()
    s.to_reveal_end()
    # The first coordinator computed and published everything, then died before settling.
    inputs = gather_inputs(first.client, first.store, s.task_id, 1, first.facts, first.spec)
    crashed = compute_round(inputs, first.store, s.validation)
    restarted = coordinator_for(s)
    restarted.step()
    restarted.step()  # a second attempt finds the round settled and does nothing
    report = report_of(s, 1)  # asserts exactly one RoundSettled
    assert report.payout_root == crashed.report.payout_root
    events = devnet.client(1).task_events(s.task_id)
    settled = next(e for e in events if e.name == "RoundSettled")
    assert settled.args["report_cid"] == crashed.report_cid


def test_bad_updates_are_rejected_with_reasons_and_not_paid(devnet: Devnet) -> None:
    s = make_scenario(devnet, n=1, rounds=1, participants_from=3)
    store = devnet.store()
    honest = nodes_for(s, [Honest()])
    coord = coordinator_for(s)
    bad_clients = [devnet.client(i) for i in (4, 5, 6, 7)]
    for c in bad_clients:
        c.join(s.task_id, TOKEN)
    coord.step()
    honest[0].step()
    shapes = parameter_shapes(s.spec.model)
    good = {k: np.full(v, 0.01, dtype=np.float32) for k, v in shapes.items()}
    nan = {k: v.copy() for k, v in good.items()}
    nan[sorted(nan)[0]][0] = np.nan
    wrong_shape = {k: np.zeros((3, 3), dtype=np.float32) for k in shapes}
    subs = [
        raw_submit(bad_clients[0], store, s.task_id, 1, encode_weights(nan, check_finite=False)),
        raw_submit(bad_clients[1], store, s.task_id, 1, wrong_shape),
        raw_submit(bad_clients[2], store, s.task_id, 1, good),
        raw_submit(bad_clients[3], store, s.task_id, 1, b"not a safetensors blob at all"),
    ]
    s.to_commit_end()
    honest[0].step()
    for c, sub in zip(bad_clients, subs, strict=True):
        raw_reveal(c, s.task_id, sub)
    # Corrupt the stored blob of the third update after it was revealed: one flipped byte.
    path = store.block_path(CID.parse(subs[2]["cid"]))  # type: ignore[attr-defined]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.chmod(0o644)
    path.write_bytes(bytes(data))
    s.to_reveal_end()
    coord.step()
    report = report_of(s, 1)
    reasons = {sub.participant: sub.reason for sub in report.submissions}
    assert reasons[bad_clients[0].address] == "non_finite"
    assert reasons[bad_clients[1].address] == "shape_mismatch"
    assert reasons[bad_clients[2].address] == "hash_mismatch"
    assert reasons[bad_clients[3].address] == "malformed"
    assert reasons[s.address(0)] == ""
    assert set(report.round_payouts) <= {s.address(0)}


def test_replayed_commitment_and_copied_cid_earn_nothing(devnet: Devnet) -> None:
    s = make_scenario(devnet, n=2, rounds=2)
    store = devnet.store()
    nodes = nodes_for(s, [Honest(), Honest()])
    coord = coordinator_for(s)
    copier = devnet.client(8)
    copier.join(s.task_id, TOKEN)
    round1 = play_round(s, coord, nodes)
    assert round1 == 1
    s.to_challenge_end()
    # Round 2: the copier replays its own round-1-style commitment bytes from another round,
    # which cannot be opened, and a second copier reveals node 0's round-1 CID (a stale copy).
    coord.step()
    first_commit = devnet.client(1).participant_round(s.task_id, 1, s.address(0)).commitment
    copier.commit(s.task_id, first_commit)
    stale_copier = devnet.client(9)
    stale_copier.join(s.task_id, TOKEN)  # joins between rounds
    old = next(sub for sub in report_of(s, 1).submissions if sub.participant == s.address(0))
    blob = store.cat_bytes(old.cid)
    stale = raw_submit(stale_copier, store, s.task_id, 2, blob)
    assert stale["cid"] == old.cid
    for node in nodes:
        node.step()
    s.to_commit_end()
    for node in nodes:
        node.step()
    r1_sub = nodes[0]._prepared[1]
    assert r1_sub is not None
    with pytest.raises(ContractRevert) as excinfo:
        copier.reveal(s.task_id, r1_sub.cid, r1_sub.sha256, r1_sub.num_samples, r1_sub.salt)
    assert "Commitment" in excinfo.value.error_name
    raw_reveal(stale_copier, s.task_id, stale)
    s.to_reveal_end()
    coord.step()
    report = report_of(s, 2)
    reasons = {sub.participant: sub.reason for sub in report.submissions}
    assert reasons[stale_copier.address] == "replayed_cid"
    assert stale_copier.address not in report.round_payouts
    assert copier.address not in report.round_payouts
    assert int(devnet.client(1).participant(s.task_id, copier.address)["slashed_total"]) > 0


def test_ledger_from_events_matches_contract_counters(devnet: Devnet) -> None:
    s = make_scenario(devnet, n=2, rounds=1)
    nodes = nodes_for(s, [Honest(), Honest()])
    coord = coordinator_for(s)
    play_round(s, coord, nodes)
    finish(s, coord, nodes)
    client = devnet.client(1)
    ledger = Ledger.from_events(s.task_id, client.task_events(s.task_id))
    info = client.task(s.task_id)
    assert ledger.allocated == int(info.total_allocated)
    assert ledger.total_claimed == int(info.total_claimed)
    assert ledger.total_staked == 2 * TOKEN == ledger.total_withdrawn
    assert ledger.rounds[1].final and ledger.rounds[1].settlement is not None
    assert set(ledger.rounds[1].reveals) == {s.address(0), s.address(1)}


def test_initial_params_are_what_the_task_published(devnet: Devnet) -> None:
    s = make_scenario(devnet, n=1, rounds=1)
    from marketplace.protocol.weights import decode_weights

    blob = devnet.store().cat_bytes(s.created.initial_model_cid)
    params = decode_weights(blob, parameter_shapes(s.spec.model))
    assert set(params) == set(initial_params(s.spec.model, 0))


def test_restarted_participant_reveals_its_commitment_without_committing_twice(
    devnet: Devnet,
) -> None:
    s = make_scenario(devnet, n=2, rounds=1, seed=4)
    nodes = nodes_for(s, [Honest(), Honest()])
    coord = coordinator_for(s)
    coord.step()
    for node in nodes:
        node.step()
    committed = devnet.client(1).participant_round(s.task_id, 1, s.address(0)).commitment
    # node 0 is killed after committing; a fresh process (new object, no memory) takes over
    reborn = ParticipantNode(
        s.client(0), devnet.store(), s.task_id, s.shards[0], Honest(), log=lambda _m: None
    )
    reborn.ensure_joined()  # already joined: no second join
    reborn.step()  # still in the commit window: must not commit again
    assert reborn.summary.committed == []
    s.to_commit_end()
    reborn.step()
    nodes[1].step()
    assert reborn.summary.revealed == [1]
    mine = devnet.client(1).participant_round(s.task_id, 1, s.address(0))
    assert (mine.commitment, mine.revealed) == (committed, True)
    events = devnet.client(1).task_events(s.task_id)
    assert (
        sum(1 for e in events if e.name == "Committed" and e.args["participant"] == s.address(0))
        == 1
    )


def test_late_node_skips_the_round_instead_of_failing(devnet: Devnet) -> None:
    s = make_scenario(devnet, n=2, rounds=1, seed=8)
    nodes = nodes_for(s, [Honest()])
    coord = coordinator_for(s)
    coord.step()
    nodes[0].step()
    s.to_commit_end()
    late = nodes_for(s, [Honest(), Honest()])[1]  # joins during the reveal window
    late.step()
    nodes[0].step()
    assert late.summary.skipped == [1]
    s.to_reveal_end()
    coord.step()
    report = report_of(s, 1)
    assert [sub.participant for sub in report.submissions] == [s.address(0)]
    assert int(devnet.client(1).participant(s.task_id, s.address(1))["slashed_total"]) == 0
