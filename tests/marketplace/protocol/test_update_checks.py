"""Tests for marketplace.protocol.update_checks: one update's validation and a round's screening."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from marketplace.errors import (
    BackendUnavailable,
    CidMismatch,
    ContentNotFound,
    CorruptContent,
    InvalidUpdate,
    NonFiniteWeights,
    OversizedInput,
    ShapeMismatch,
)
from marketplace.protocol.update_checks import (
    REASONS,
    CandidateUpdate,
    RejectedUpdate,
    check_update,
    reason_for,
    screen_updates,
    update_norm,
)
from valuation.model_spec import ModelSpec, parameter_shapes

SPEC = ModelSpec("logreg", (3,), 2)


def good_update(value: float = 0.1) -> dict[str, np.ndarray]:
    return {
        name: np.full(shape, value, dtype=np.float32)
        for name, shape in parameter_shapes(SPEC).items()
    }


def test_a_well_formed_update_passes() -> None:
    check_update(good_update(), SPEC, max_norm=10.0)


def test_norm_is_taken_over_all_tensors() -> None:
    update = good_update(0.5)  # 6 weights + 2 biases, each 0.5

    assert update_norm(update) == pytest.approx(math.sqrt(8 * 0.25))


@pytest.mark.parametrize(
    ("mutate", "error"),
    [
        (lambda u: u.pop("1.bias"), ShapeMismatch),
        (lambda u: u.update(extra=np.zeros(1, dtype=np.float32)), ShapeMismatch),
        (lambda u: u.update({"1.weight": np.zeros((3, 2), dtype=np.float32)}), ShapeMismatch),
        (lambda u: u.update({"1.bias": np.zeros(2, dtype=np.float64)}), ShapeMismatch),
        (lambda u: u.update({"1.bias": [0.0, 0.0]}), ShapeMismatch),
        (lambda u: u["1.weight"].__setitem__((0, 0), np.nan), NonFiniteWeights),
        (lambda u: u["1.bias"].__setitem__(1, -np.inf), NonFiniteWeights),
        (lambda u: u["1.weight"].__setitem__((1, 2), 100.0), OversizedInput),
    ],
)
def test_malformed_updates_raise_the_matching_error(
    mutate: Callable[[dict[str, Any]], object], error: type[InvalidUpdate]
) -> None:
    update = good_update()
    mutate(update)

    with pytest.raises(error):
        check_update(update, SPEC, max_norm=10.0)


def test_invalid_update_errors_are_value_errors() -> None:
    with pytest.raises(ValueError):
        check_update({}, SPEC, max_norm=1.0)


def test_infinite_bound_disables_the_norm_check_and_zero_bound_is_refused() -> None:
    check_update(good_update(1e6), SPEC, max_norm=math.inf)

    with pytest.raises(ValueError, match="max_norm"):
        check_update(good_update(), SPEC, max_norm=0.0)


def test_norm_bound_is_inclusive() -> None:
    update = good_update(0.5)

    check_update(update, SPEC, max_norm=update_norm(update))


def test_rejection_reasons_are_a_closed_set() -> None:
    record = RejectedUpdate("0xabc", "non_finite", "nan in 1.bias")

    assert record.to_dict() == {
        "participant": "0xabc",
        "reason": "non_finite",
        "detail": "nan in 1.bias",
    }
    with pytest.raises(ValueError, match="unknown rejection reason"):
        RejectedUpdate("0xabc", "bad vibes", "")


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (CorruptContent("bytes do not hash"), "hash_mismatch"),
        (CidMismatch("other cid"), "hash_mismatch"),
        (ContentNotFound("gone"), "fetch_failed"),
        (BackendUnavailable("down"), "fetch_failed"),
        (TimeoutError("slow"), "fetch_failed"),
        (ShapeMismatch("bad"), "shape_mismatch"),
        (NonFiniteWeights("nan"), "non_finite"),
        (OversizedInput("blob too large"), "malformed"),
        (InvalidUpdate("not safetensors"), "malformed"),
    ],
)
def test_fetch_errors_map_to_stable_reasons(error: Exception, reason: str) -> None:
    assert reason_for(error) == reason
    assert reason in REASONS


def test_screening_keeps_order_and_explains_every_rejection() -> None:
    nan_update = good_update()
    nan_update["1.bias"][0] = np.nan
    candidates = [
        CandidateUpdate("0x01", good_update(0.1), 10, cid="bafy1"),
        CandidateUpdate("0x02", None, 10, cid="bafy2", error=CorruptContent("sha256 differs")),
        CandidateUpdate("0x03", nan_update, 10, cid="bafy3"),
        CandidateUpdate("0x04", good_update(0.2), 10, cid="bafy4"),
        CandidateUpdate("0x05", good_update(9.0), 10, cid="bafy5"),
        CandidateUpdate("0x06", {"x": np.zeros(1, dtype=np.float32)}, 10, cid="bafy6"),
        CandidateUpdate("0x07", None, 10, cid="bafy7", error=ContentNotFound("no block")),
        CandidateUpdate("0x08", good_update(-0.1), 10, cid="bafy8"),
    ]

    accepted, rejected = screen_updates(candidates, SPEC, max_norm=5.0)

    assert [c.participant for c in accepted] == ["0x01", "0x04", "0x08"]
    assert [(r.participant, r.reason) for r in rejected] == [
        ("0x02", "hash_mismatch"),
        ("0x03", "non_finite"),
        ("0x05", "norm_bound"),
        ("0x06", "shape_mismatch"),
        ("0x07", "fetch_failed"),
    ]
    assert "sha256 differs" in rejected[0].detail


def test_every_holder_of_a_duplicated_cid_is_rejected() -> None:
    candidates = [
        CandidateUpdate("0x01", good_update(), 10, cid="bafySame"),
        CandidateUpdate("0x02", good_update(0.3), 10, cid="bafyOwn"),
        CandidateUpdate("0x03", good_update(), 10, cid="bafySame"),
    ]

    accepted, rejected = screen_updates(candidates, SPEC, max_norm=5.0)

    assert [c.participant for c in accepted] == ["0x02"]
    assert [(r.participant, r.reason) for r in rejected] == [
        ("0x01", "duplicate_cid"),
        ("0x03", "duplicate_cid"),
    ]


def test_a_candidate_without_params_must_say_why() -> None:
    with pytest.raises(ValueError, match="error"):
        CandidateUpdate("0x01", None, 10)


def test_a_duplicated_cid_stays_with_its_earliest_committer() -> None:
    # prepare: 0x03 committed first, then 0x02, then 0x01
    candidates = [
        CandidateUpdate("0x01", good_update(), 10, cid="bafySame"),
        CandidateUpdate("0x02", good_update(0.3), 10, cid="bafyOwn"),
        CandidateUpdate("0x03", good_update(), 10, cid="bafySame"),
    ]

    # act
    accepted, rejected = screen_updates(
        candidates, SPEC, max_norm=5.0, commit_rank={"0x03": 0, "0x02": 1, "0x01": 2}
    )

    # assert
    assert [c.participant for c in accepted] == ["0x02", "0x03"]
    assert [(r.participant, r.reason) for r in rejected] == [("0x01", "duplicate_cid")]
    assert "0x03 committed it first" in rejected[0].detail
