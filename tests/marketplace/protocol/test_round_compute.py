"""The round computation on an in-memory store: copies go to their earliest committer, every
valuation field of the task spec is honoured, evidence carries over, q-FFL coalitions follow
the aggregation rule, and the valuation record recomputes."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from marketplace.protocol.dataset import Dataset
from marketplace.protocol.round_compute import (
    Reveal,
    RoundInputs,
    RoundOutcome,
    compute_round,
    score_model,
)
from marketplace.protocol.task_spec import TaskSpec, TrainingConfig
from marketplace.protocol.weights import decode_weights, encode_weights, sha256_hex
from marketplace.storage import MemoryStore
from participant.data import load_digits, train_validation_split
from participant.training import initial_params, train_local
from valuation.config import ValuationConfig
from valuation.evidence import Evidence
from valuation.model_spec import ModelSpec, parameter_shapes
from valuation.recompute import AuditorInputs, recompute, replay
from valuation.report import ValuationReport

MODEL = ModelSpec("mlp", (64,), 10, hidden=(16,))
BUDGET = 10**6
ADDRESSES = [f"0x{i:040x}" for i in range(1, 7)]

Params = dict[str, np.ndarray]


@pytest.fixture(scope="module")
def world() -> dict[str, Any]:
    """A global model after one round, four honest updates, the validation set."""
    train, validation = train_validation_split(load_digits(), 0.2, seed=1)
    validation = Dataset(validation.X[:200], validation.y[:200], 10)
    shards = np.array_split(np.random.default_rng(1).permutation(len(train.y)), 4)
    theta = initial_params(MODEL, 1)

    def train_all(params: Params, seed: int) -> list[Params]:
        return [
            train_local(MODEL, params, train.X[s], train.y[s], epochs=1, lr=0.1, seed=seed + i)
            for i, s in enumerate(shards)
        ]

    warm = train_all(theta, 0)
    theta = {k: (v + sum(u[k] for u in warm) / 4).astype(np.float32) for k, v in theta.items()}
    return {
        "theta": theta,
        "updates": train_all(theta, 10),
        "counts": [len(s) for s in shards],
        "validation": validation,
    }


def spec_with(task: dict[str, Any] | None = None, **valuation: Any) -> TaskSpec:
    """The test task with these valuation fields (``task``: other TaskSpec fields)."""
    return TaskSpec(
        name="t",
        model=MODEL,
        validation_sha256="00" * 32,
        validation_size=200,
        training=TrainingConfig(epochs=1),
        valuation=ValuationConfig.from_dict(valuation),
        **(task or {}),
    )


STORES: dict[str, MemoryStore] = {}  # new global model CID -> the store holding it


def new_model(outcome: RoundOutcome) -> Params:
    blob = STORES[outcome.new_global_cid].cat_bytes(outcome.new_global_cid)
    return decode_weights(blob, parameter_shapes(MODEL))


def run(
    world: dict[str, Any],
    subs: list[tuple[str, Params | bytes, int]],
    spec: TaskSpec,
    *,
    commit_order: list[str] | None = None,
    previous: RoundOutcome | None = None,
    round_: int = 1,
    theta: Params | None = None,
) -> RoundOutcome:
    """``subs``: (address, update or raw bytes, claimed count); commit order = list order."""
    store = MemoryStore()
    reveals = []
    for address, update, count in subs:
        blob = update if isinstance(update, bytes) else encode_weights(update)
        reveals.append(Reveal(address, store.add(blob).cid, sha256_hex(blob), count))
    inputs = RoundInputs(
        task_id=1,
        round=round_,
        marketplace=ADDRESSES[-1],
        chain_id=1,
        spec_cid=store.add(spec.to_json()).cid,
        spec=spec,
        global_model_cid=store.add(encode_weights(theta or world["theta"])).cid,
        reveals=sorted(reveals, key=lambda r: r.participant.lower()),
        replayed_cids=frozenset(),
        seed=round_,
        seed_source={},
        round_budget=BUDGET,
        previous_report_cid="",
        commit_order=tuple(commit_order if commit_order is not None else [s[0] for s in subs]),
        previous_evidence=None if previous is None else previous.evidence,
    )
    outcome = compute_round(inputs, store, world["validation"])
    STORES[outcome.new_global_cid] = store
    return outcome


def honest(world: dict[str, Any]) -> list[tuple[str, Params | bytes, int]]:
    return [
        (ADDRESSES[i], u, c)
        for i, (u, c) in enumerate(zip(world["updates"], world["counts"], strict=True))
    ]


def status(outcome: RoundOutcome) -> dict[str, str]:
    return {s.participant: s.reason or "accepted" for s in outcome.report.submissions}


def valuation_of(outcome: RoundOutcome) -> ValuationReport:
    assert outcome.report.valuation is not None
    return ValuationReport.from_dict(outcome.report.valuation)


def noisy(update: Params, relative: float, seed: int) -> Params:
    rng = np.random.default_rng(seed)
    norm = np.sqrt(sum(float(np.sum(v.astype(np.float64) ** 2)) for v in update.values()))
    raw = {k: rng.standard_normal(v.shape) for k, v in update.items()}
    scale = relative * norm / np.sqrt(sum(float(np.sum(r**2)) for r in raw.values()))
    return {k: (v + scale * raw[k]).astype(np.float32) for k, v in update.items()}


# -- copies -------------------------------------------------------------------------------


def test_an_exact_copy_goes_to_the_earliest_committer(world: dict[str, Any]) -> None:
    # prepare: the copier (address 5) reveals participant 0's very bytes, committing later
    spec = spec_with()
    subs = honest(world)
    copy = (ADDRESSES[4], encode_weights(world["updates"][0]), world["counts"][0])

    # act
    without = run(world, subs, spec)
    later = run(world, [*subs, copy], spec)
    earlier = run(world, [*subs, copy], spec, commit_order=[ADDRESSES[4], *ADDRESSES[:4]])

    # assert
    assert status(later)[ADDRESSES[4]] == "duplicate_cid"
    assert later.report.round_payouts == without.report.round_payouts  # the victim loses nothing
    assert status(earlier)[ADDRESSES[0]] == "duplicate_cid"  # who committed first keeps it
    assert status(earlier)[ADDRESSES[4]] == "accepted"


def test_a_near_copy_is_kept_out_and_the_original_paid_as_without_it(
    world: dict[str, Any],
) -> None:
    # prepare: participant 0's update plus 3 % noise, committed after it
    spec = spec_with()
    subs = honest(world)
    near = (ADDRESSES[4], noisy(world["updates"][0], 0.03, seed=2), world["counts"][0])

    # act
    without = run(world, subs, spec)
    with_copy = run(world, [*subs, near], spec)
    undetected = run(world, [*subs, near], spec_with(duplicate_threshold=None))

    # assert
    assert status(with_copy)[ADDRESSES[4]] == "near_duplicate"
    assert with_copy.report.round_payouts == without.report.round_payouts
    assert with_copy.new_global_cid == without.new_global_cid  # not aggregated either
    assert status(undetected)[ADDRESSES[4]] == "accepted"  # the threshold is the spec's


# -- every valuation field of the spec ----------------------------------------------------


def test_cap_bounds_every_payout(world: dict[str, Any]) -> None:
    outcome = run(world, honest(world), spec_with(cap=0.3))
    assert max(outcome.report.round_payouts.values()) <= 0.3 * BUDGET
    assert valuation_of(outcome).config.cap == int(0.3 * BUDGET)


def test_without_clipping_a_harmful_update_costs_the_round(world: dict[str, Any]) -> None:
    # prepare: a destructive update (an honest update reversed and doubled)
    reversed_update = {k: (-2.0 * v).astype(np.float32) for k, v in world["updates"][0].items()}
    harmful = (ADDRESSES[4], reversed_update, world["counts"][0])
    subs = [*honest(world), harmful]

    # act
    clipped = run(world, subs, spec_with())
    net = run(world, subs, spec_with(clip_negative=False))

    # assert
    assert valuation_of(net).values[4] < 0
    assert clipped.total_paid == BUDGET
    assert 0 < net.total_paid < BUDGET
    assert valuation_of(net).unspent == BUDGET - net.total_paid


def test_fli_allocation_carries_its_queues(world: dict[str, Any]) -> None:
    outcome = run(world, honest(world), spec_with(allocation="fli", cap=0.3))
    report = valuation_of(outcome)
    assert report.config.allocation == "fli"
    assert report.state is not None and report.state.regret  # capped: some pay is owed
    assert set(report.state.regret) <= set(report.participants)


def test_score_and_coalition_model_reach_the_game(world: dict[str, Any]) -> None:
    # act
    accuracy = valuation_of(run(world, honest(world), spec_with(score="accuracy")))
    reweighted = valuation_of(run(world, honest(world), spec_with(coalition_model="reweighted")))
    default = valuation_of(run(world, honest(world), spec_with()))

    # assert: accuracy utilities are multiples of 1/200; one member alone differs by model
    assert all(abs(u * 200 - round(u * 200)) < 1e-9 for u in accuracy.utilities.values)
    assert default.config.score == "neg_brier" and default.config.coalition_model == "fixed_weights"
    assert reweighted.config.coalition_model == "reweighted"
    assert reweighted.utilities.as_dict()[1] != default.utilities.as_dict()[1]
    assert reweighted.utilities.as_dict()[15] == default.utilities.as_dict()[15]  # θ_N alike


def test_the_entry_cost_reaches_the_settlement_and_its_recomputation(
    world: dict[str, Any],
) -> None:
    # act: the same round without the cost, with the default one and with a large one
    free = run(world, honest(world), spec_with(identity_cost=0.0))
    default = run(world, honest(world), spec_with())
    steep = run(world, honest(world), spec_with(identity_cost=0.5))

    # assert: same values, different pay; the recipe records the cost; the audit agrees
    reports = [valuation_of(o) for o in (free, default, steep)]
    assert [r.config.identity_cost for r in reports] == [0.0, 0.1, 0.5]
    assert reports[0].pay_basis == reports[1].pay_basis == reports[2].pay_basis
    paid = [[o.report.round_payouts.get(a, 0) for a in ADDRESSES] for o in (free, default, steep)]
    assert paid[0] != paid[2] and all(sum(p) == sum(paid[0]) for p in paid)
    basis = reports[0].pay_basis
    assert basis is not None
    top = max(range(len(basis)), key=lambda i: basis[i])
    low = min(range(len(basis)), key=lambda i: basis[i])
    address = reports[0].participants
    pays = [dict(zip(ADDRESSES, p, strict=True)) for p in paid]
    assert pays[2][address[top]] >= pays[0][address[top]]  # the fee moves pay upwards
    assert pays[2][address[low]] <= pays[0][address[low]]
    for report in reports:
        assert replay(report).ok
    # a report that paid with one cost but records another is caught
    relabelled = dataclasses.replace(
        reports[2], config=dataclasses.replace(reports[2].config, identity_cost=0.1)
    )
    assert "payouts" in {c.field for c in replay(relabelled).mismatches}


@pytest.mark.parametrize("gate", [0.0, 0.1])
def test_a_quitter_is_paid_for_its_history_only_without_the_round_gate(
    world: dict[str, Any], gate: float
) -> None:
    # prepare: an honest round builds standings, then participant 0 sends next to nothing
    spec = spec_with(round_gate=gate)
    first = run(world, honest(world), spec)
    near_null = {k: np.full(v.shape, 1e-7, np.float32) for k, v in world["updates"][0].items()}
    quitting = [(ADDRESSES[0], near_null, world["counts"][0]), *honest(world)[1:]]

    # act
    second = run(world, quitting, spec, previous=first, round_=2, theta=new_model(first))

    # assert: its standing is kept either way; it is paid in round 2 only without the gate
    report = valuation_of(second)
    assert report.state is not None and report.state.standing[ADDRESSES[0]] > 0
    paid = second.report.round_payouts.get(ADDRESSES[0], 0)
    assert (paid == 0) if gate else (paid > 0)
    assert report.config.round_gate == gate
    assert replay(report).ok


def test_evidence_carries_from_round_to_round(world: dict[str, Any]) -> None:
    # prepare
    spec = spec_with(evidence_decay=0.5)
    first = run(world, honest(world), spec)
    theta = new_model(first)

    # act: a second round without participant 3
    second = run(world, honest(world)[:3], spec, previous=first, round_=2, theta=theta)

    # assert
    one, two = valuation_of(first), valuation_of(second)
    assert two.previous_state == one.state
    assert one.state is not None and two.state is not None
    for i, address in enumerate(two.participants):
        expected = 0.5 * one.state.standing.get(address, 0.0) + float(two.values[i])
        assert two.pay_basis is not None and two.pay_basis[i] == pytest.approx(expected)
    absent = ADDRESSES[3]
    assert two.state.standing[absent] == pytest.approx(0.5 * one.state.standing[absent])
    assert second.evidence == two.state.to_dict()
    assert replay(two).ok


def test_a_tampered_previous_state_is_caught_by_recompute(world: dict[str, Any]) -> None:
    # prepare
    outcome = run(world, honest(world), spec_with())
    report = valuation_of(outcome)
    updates = [outcome.accepted_updates[p] for p in report.participants]
    validation = (world["validation"].X, world["validation"].y)
    forged = Evidence(standing={report.participants[0]: 10.0}, rounds=1)

    # act
    honest_check = recompute(report, updates, outcome.prev_params, validation)
    forged_check = recompute(
        report, updates, outcome.prev_params, validation, own=AuditorInputs(previous_state=forged)
    )

    # assert
    assert honest_check.ok, honest_check.summary()
    assert not forged_check.ok
    assert {c.field for c in forged_check.mismatches} >= {"previous_state.participants", "payouts"}


# -- q-FFL --------------------------------------------------------------------------------


def test_qffl_with_q_zero_is_fedavg(world: dict[str, Any]) -> None:
    fedavg = run(world, honest(world), spec_with())
    qffl = run(
        world, honest(world), spec_with({"aggregator": "qffl", "aggregator_params": {"q": 0.0}})
    )

    assert qffl.new_global_cid == fedavg.new_global_cid
    assert qffl.report.round_payouts == fedavg.report.round_payouts


def test_qffl_coalitions_follow_the_aggregation_rule(world: dict[str, Any]) -> None:
    # prepare: scored by the cross-entropy, so the grand coalition's utility is minus its loss
    spec = spec_with({"aggregator": "qffl", "aggregator_params": {"q": 2.0}}, score="neg_loss")

    # act
    outcome = run(world, honest(world), spec)
    report = valuation_of(outcome)
    new = new_model(outcome)

    # assert: the grand coalition's model is the q-FFL aggregate (up to its float32 cast) ...
    _, loss = score_model(MODEL, new, world["validation"].X, world["validation"].y)
    grand = report.utilities.as_dict()[(1 << 4) - 1]
    assert grand == pytest.approx(-loss, abs=1e-5)
    # ... weighted by the recorded q-FFL coefficients, which differ from the sample counts
    assert report.coefficients is not None and report.normalizers is not None
    assert not np.allclose(
        np.array(report.coefficients) / sum(report.coefficients),
        np.array(world["counts"]) / sum(world["counts"]),
    )
    assert outcome.report.metrics["aggregation"]["losses"]
    updates = [outcome.accepted_updates[p] for p in report.participants]
    check = recompute(
        report,
        updates,
        outcome.prev_params,
        (world["validation"].X, world["validation"].y),
        own=AuditorInputs(coefficients=report.coefficients, normalizers=report.normalizers),
    )
    assert check.ok, check.summary()


def test_bad_valuation_fields_do_not_load() -> None:
    for bad in (
        {"cap": 0.0},
        {"allocation": "lottery"},
        {"evidence_decay": 2.0},
        {"identity_cost": 1.5},
    ):
        with pytest.raises(ValueError):
            ValuationConfig.from_dict(bad)
