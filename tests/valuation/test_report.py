"""Tests of the valuation report: JSON round trip, recomputation and model-free replay."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits

from valuation.allocation import allocate
from valuation.architecture import build_module
from valuation.build import build_report
from valuation.config import RoundValuation
from valuation.errors import ReportError
from valuation.fairness import fairness_metrics
from valuation.model_spec import ModelSpec
from valuation.recompute import AuditorInputs, Status, recompute, replay
from valuation.report import (
    InputDigests,
    Rejection,
    ValuationReport,
    coalition_mask,
    mask_coalition,
)

SPEC = ModelSpec("mlp", (64,), 10, hidden=(12,))
PARTICIPANTS = ("0x0a" + "0" * 38, "0x0B" + "1" * 38, "0x0c" + "2" * 38, "0x0d" + "3" * 38)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


DIGESTS = InputDigests(_sha("prev"), tuple(_sha(f"update {i}") for i in range(4)), _sha("val"))


@pytest.fixture(scope="module")
def inputs() -> dict[str, Any]:
    """A previous model, four updates of clearly different quality, and a validation set."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    rng = np.random.default_rng(7)
    module = build_module(SPEC, seed=3)
    prev = {k: v.detach().numpy().astype(np.float64) for k, v in module.state_dict().items()}
    updates = []
    for scale in (0.5, 0.1, 0.3, 1.0):
        updates.append({k: rng.normal(0.0, scale, v.shape) for k, v in prev.items()})
    return {
        "prev": prev,
        "updates": updates,
        "num_samples": [30, 10, 20, 40],
        "validation": (X[:150], y[:150].astype(np.int64)),
    }


def _build(inputs: dict[str, Any], **config: Any) -> ValuationReport:
    return build_report(
        spec=SPEC,
        prev_params=inputs["prev"],
        updates=inputs["updates"],
        num_samples=inputs["num_samples"],
        participants=PARTICIPANTS,
        validation=inputs["validation"],
        digests=DIGESTS,
        config=RoundValuation(**{"budget": 1000, "score": "neg_loss", **config}),
        rejected=[Rejection("0x0e" + "4" * 38, "sha256 mismatch")],
    )


@pytest.fixture(scope="module")
def exact_report(inputs: dict[str, Any]) -> ValuationReport:
    return _build(inputs)


def _edited(report: ValuationReport, edit: Any) -> ValuationReport:
    """A copy of ``report`` whose JSON form was changed by ``edit(dict)``."""
    data = json.loads(report.to_json())
    edit(data)
    return ValuationReport.from_dict(data)


def _recompute(report: ValuationReport, inputs: dict[str, Any], **kwargs: Any) -> Any:
    return recompute(report, inputs["updates"], inputs["prev"], inputs["validation"], **kwargs)


def test_report_round_trips_through_canonical_json(exact_report: ValuationReport) -> None:
    # prepare
    text = exact_report.to_json()

    # act
    again = ValuationReport.from_json(text)

    # assert
    assert again.to_json() == text
    assert json.loads(text)["schema_version"] == 2
    assert json.loads(text)["utilities"]["kind"] == "exact"
    assert len(json.loads(text)["utilities"]["values"]) == 16
    assert again.rejected == (Rejection("0x0e" + "4" * 38, "sha256 mismatch"),)
    np.testing.assert_array_equal(again.values, exact_report.values)


def test_report_records_an_efficient_valuation_and_a_full_payout(
    exact_report: ValuationReport,
) -> None:
    # prepare
    utilities = exact_report.utilities.as_dict()
    gain = utilities[0b1111] - utilities[0]

    # act
    total_value = float(np.sum(exact_report.values))

    # assert
    assert total_value == pytest.approx(gain, abs=1e-12)
    assert sum(exact_report.payouts) == exact_report.config.budget
    for value, payout in zip(exact_report.values, exact_report.payouts, strict=True):
        assert payout >= 0
        if value <= 0:
            assert payout == 0
    assert set(exact_report.fairness) == {"jain", "gini", "pearson"}


def test_recompute_with_the_same_inputs_matches_every_field(
    inputs: dict[str, Any], exact_report: ValuationReport
) -> None:
    # act
    result = _recompute(exact_report, inputs, digests=DIGESTS)

    # assert
    assert result.ok, result.summary()
    fields = {c.field for c in result.checks}
    assert {"digests.updates", "utilities", "values", "payouts", "fairness"} <= fields
    assert all(c.status is Status.OK for c in result.checks)


def test_recompute_of_a_sampled_method_reproduces_its_coalitions(inputs: dict[str, Any]) -> None:
    # prepare
    report = _build(inputs, method="tmc", seed=11, options={"tolerance": 0.0})
    assert report.result.method == "tmc"

    # act
    result = _recompute(ValuationReport.from_json(report.to_json()), inputs)

    # assert
    assert result.ok, result.summary()
    assert result.check("utilities.coalitions").status is Status.OK
    assert replay(report).ok


def test_another_update_is_a_mismatch_naming_the_field(
    inputs: dict[str, Any], exact_report: ValuationReport
) -> None:
    # prepare
    updates = list(inputs["updates"])
    updates[1] = {k: v * 3.0 for k, v in updates[1].items()}

    # act
    result = recompute(exact_report, updates, inputs["prev"], inputs["validation"])

    # assert
    assert not result.ok
    assert result.check("utilities").status is Status.MISMATCH
    assert result.check("values").status is Status.MISMATCH
    assert "differ by more than" in result.check("utilities").detail


def test_other_digests_are_a_mismatch(
    inputs: dict[str, Any], exact_report: ValuationReport
) -> None:
    # prepare
    other = dataclasses.replace(DIGESTS, validation=_sha("another validation set"))

    # act
    result = _recompute(exact_report, inputs, digests=other)

    # assert
    assert [c.field for c in result.mismatches] == ["digests.validation"]
    assert result.check("digests.validation").found == other.validation


def test_tiny_float_differences_are_noise_not_failures(
    inputs: dict[str, Any], exact_report: ValuationReport
) -> None:
    # prepare: what another machine's arithmetic could produce
    def nudge(data: dict[str, Any]) -> None:
        data["utilities"]["values"][5] += 3e-13
        data["result"]["values"][2] -= 2e-12

    report = _edited(exact_report, nudge)

    # act
    result = _recompute(report, inputs)

    # assert
    assert result.ok, result.summary()
    utilities = result.check("utilities")
    assert utilities.status is Status.NOISE
    assert utilities.max_abs_diff == pytest.approx(3e-13, rel=0.01)
    assert "coalition mask 5" in utilities.detail
    assert result.check("values").status is Status.NOISE
    assert result.check("payouts").status is Status.OK


def test_a_moved_payout_unit_is_a_mismatch_for_recompute_and_replay(
    inputs: dict[str, Any], exact_report: ValuationReport
) -> None:
    # prepare
    payouts = list(exact_report.payouts)
    rich = int(np.argmax(payouts))
    poor = (rich + 1) % len(payouts)

    def steal(data: dict[str, Any]) -> None:
        data["payouts"][rich] -= 1
        data["payouts"][poor] += 1

    report = _edited(exact_report, steal)

    # act
    recomputed = _recompute(report, inputs)
    replayed = replay(report)

    # assert
    for result in (recomputed, replayed):
        assert [c.field for c in result.mismatches] == ["payouts"]
        check = result.check("payouts")
        assert check.expected[poor] == payouts[poor] + 1
        assert check.found[poor] == payouts[poor]
        assert PARTICIPANTS[poor] in check.detail


def _self_consistent(report: ValuationReport, values: np.ndarray, budget: int) -> ValuationReport:
    """``report`` with other values and budget, and the payouts and fairness they give."""
    payouts = allocate(values, budget, order_keys=[p.lower() for p in PARTICIPANTS])

    def edit(data: dict[str, Any]) -> None:
        data["result"]["values"] = values.tolist()
        data["config"]["budget"] = budget
        data["payouts"] = payouts.tolist()
        data["fairness"] = fairness_metrics(values, payouts)

    return _edited(report, edit)


def test_a_one_unit_rounding_flip_from_float_noise_is_noise(
    inputs: dict[str, Any], exact_report: ValuationReport
) -> None:
    # prepare: a budget so large that a 1e-12 change of one value moves one unit
    true_values = np.array(exact_report.values)
    nudged = true_values.copy()
    nudged[2] += 1e-12
    keys = [p.lower() for p in PARTICIPANTS]
    budget = next(
        b
        for b in range(10**10, 10**10 + 7919 * 2000, 7919)
        if not np.array_equal(
            allocate(nudged, b, order_keys=keys), allocate(true_values, b, order_keys=keys)
        )
    )
    report = _self_consistent(exact_report, nudged, budget)

    # act
    result = _recompute(report, inputs)

    # assert
    assert result.ok, result.summary()
    assert result.check("values").status is Status.NOISE
    assert result.check("payouts").status is Status.NOISE
    assert result.check("payouts").max_abs_diff == 1


def test_payouts_far_from_the_recomputed_ones_are_a_mismatch_even_with_noisy_values(
    inputs: dict[str, Any], exact_report: ValuationReport
) -> None:
    # prepare: a value change within the value tolerance, but worth many units at this budget
    nudged = np.array(exact_report.values)
    nudged[2] += 5e-9
    report = _self_consistent(exact_report, nudged, 10**12)

    # act
    result = _recompute(report, inputs)

    # assert
    assert result.check("values").status is Status.NOISE
    assert result.check("payouts").status is Status.MISMATCH
    assert result.check("payouts").max_abs_diff > 1


def test_replay_detects_values_that_do_not_follow_from_recorded_utilities(
    exact_report: ValuationReport,
) -> None:
    # prepare
    def inflate(data: dict[str, Any]) -> None:
        data["result"]["values"][0] += 0.01

    honest = replay(exact_report)
    report = _edited(exact_report, inflate)

    # act
    result = replay(report)

    # assert
    assert honest.ok, honest.summary()
    assert not result.ok
    assert result.check("values").status is Status.MISMATCH
    assert result.check("values").expected == pytest.approx(exact_report.values[0] + 0.01)


def test_replay_fails_when_the_report_lacks_a_needed_coalition(
    exact_report: ValuationReport,
) -> None:
    # prepare: drop one coalition, which turns the exact layout into a sampled one
    def drop(data: dict[str, Any]) -> None:
        values = data["utilities"]["values"]
        masks = list(range(len(values)))
        del masks[6], values[6]
        data["utilities"] = {"kind": "sampled", "masks": masks, "values": values}

    report = _edited(exact_report, drop)

    # act
    result = replay(report)

    # assert
    assert not result.ok
    assert "no utility for coalition [1, 2]" in result.mismatches[0].detail


def test_duplicate_updates_are_grouped_and_paid_as_one(inputs: dict[str, Any]) -> None:
    # prepare
    copied = dict(inputs)
    copied["updates"] = [*inputs["updates"][:3], inputs["updates"][2]]
    copied["num_samples"] = [30, 10, 20, 20]

    # act
    report = _build(copied)
    result = _recompute(report, copied)

    # assert
    assert report.duplicate_groups == ((2, 3),)
    assert abs(report.payouts[2] - report.payouts[3]) <= 1
    assert not report.utilities.complete  # the merged game never splits the copies
    assert result.ok, result.summary()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(schema_version=99), "schema version"),
        (lambda d: d["digests"].update(validation="xyz"), "sha256"),
        (lambda d: d["payouts"].append(0), "payouts has 5 entries"),
        (lambda d: d.pop("fairness"), "missing field 'fairness'"),
        (lambda d: d["utilities"]["values"].pop(), r"need 2\^4 values"),
    ],
)
def test_malformed_reports_are_rejected(
    exact_report: ValuationReport, edit: Any, message: str
) -> None:
    # act / assert
    with pytest.raises(ReportError, match=message):
        _edited(exact_report, edit)


def test_build_report_requires_address_order(inputs: dict[str, Any]) -> None:
    # act / assert
    with pytest.raises(ReportError, match="address order"):
        build_report(
            spec=SPEC,
            prev_params=inputs["prev"],
            updates=inputs["updates"],
            num_samples=inputs["num_samples"],
            participants=PARTICIPANTS[::-1],
            validation=inputs["validation"],
            digests=DIGESTS,
            config=RoundValuation(budget=10),
        )


def test_config_rejects_options_that_are_not_json() -> None:
    # act / assert
    with pytest.raises(ReportError, match="JSON"):
        RoundValuation(budget=10, options={"stop": object()})


def test_masks_and_coalitions_convert_both_ways() -> None:
    # act / assert
    assert coalition_mask(frozenset({0, 3})) == 0b1001
    assert mask_coalition(0b1001) == frozenset({0, 3})
    assert mask_coalition(0) == frozenset()
    for mask in range(64):
        assert coalition_mask(mask_coalition(mask)) == mask


# -- an auditor's own scores of the same game are reused, never trusted over the report ----


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the coalitions the model utility actually scores."""
    from valuation.coalition import ModelUtility

    scored: list[int] = []
    original = ModelUtility.evaluate_many

    def spy(self: ModelUtility, coalitions: Any) -> np.ndarray:
        scored.append(len(coalitions))
        return original(self, coalitions)

    monkeypatch.setattr(ModelUtility, "evaluate_many", spy)
    return scored


def test_an_auditors_own_valuation_of_the_same_game_is_not_scored_twice(
    inputs: dict[str, Any], exact_report: ValuationReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    # prepare: the auditor's own valuation of the round (here: the same build)
    mine = _build(inputs)
    scored = _counting(monkeypatch)

    # act
    reused = _recompute(exact_report, inputs, own=AuditorInputs(evaluated=mine))
    reused_count = sum(scored)
    fresh = _recompute(exact_report, inputs)

    # assert: same verdict, no coalition scored the second time
    assert reused.ok and fresh.ok
    assert reused_count == 0 and sum(scored) == 16


def test_reused_scores_still_catch_forged_utilities(
    inputs: dict[str, Any], exact_report: ValuationReport
) -> None:
    # prepare: the report claims other scores than the game's; the auditor's own are honest
    forged = _edited(exact_report, lambda d: d["utilities"]["values"].__setitem__(3, 0.5))

    # act
    result = _recompute(forged, inputs, own=AuditorInputs(evaluated=_build(inputs)))

    # assert
    assert result.check("utilities").status is Status.MISMATCH


def test_an_auditor_valuation_under_another_recipe_is_not_reused(
    inputs: dict[str, Any], exact_report: ValuationReport, monkeypatch: pytest.MonkeyPatch
) -> None:
    # prepare: the auditor valued with another score, so its numbers are of another game
    other = _build(inputs, score="accuracy")
    scored = _counting(monkeypatch)

    # act
    result = _recompute(exact_report, inputs, own=AuditorInputs(evaluated=other))

    # assert: everything was scored here, and the honest report still checks out
    assert result.ok and sum(scored) == 16
