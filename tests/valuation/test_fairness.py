"""Fairness metrics (with their defined edge cases), simplified FLI queues, accumulation."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valuation import (
    Accumulator,
    FLIQueues,
    accumulate,
    fairness_metrics,
    gini,
    jain_index,
    pearson,
)
from valuation.errors import AllocationError, GameError


def test_jain_index_bounds() -> None:
    assert jain_index([5, 5, 5, 5]) == pytest.approx(1.0)
    assert jain_index([9, 0, 0]) == pytest.approx(1 / 3)
    assert jain_index([1, 3]) == pytest.approx(16 / 20)
    assert jain_index([0, 0, 0]) == 1.0 and jain_index([]) == 1.0


def test_gini_known_values() -> None:
    assert gini([3, 3, 3]) == pytest.approx(0.0)
    assert gini([0, 0, 0, 8]) == pytest.approx(3 / 4)
    # Σ|xi - xj| over ordered pairs = 20; 20 / (2 · 16 · 2.5) = 0.25.
    assert gini([1, 2, 3, 4]) == pytest.approx(0.25)
    assert gini([0, 0]) == 0.0 and gini([]) == 0.0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1e9, allow_nan=False), min_size=1, max_size=30))
def test_gini_matches_the_pairwise_definition(x: list[float]) -> None:
    a = np.array(x)
    expected = (
        0.0 if a.sum() == 0 else np.abs(a[:, None] - a[None, :]).sum() / (2 * a.size**2 * a.mean())
    )
    assert gini(a) == pytest.approx(expected, abs=1e-9)
    assert 1 / a.size - 1e-12 <= jain_index(a) <= 1 + 1e-12


def test_pearson_and_its_constant_cases_without_nan() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
        assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
        assert pearson([2, 2, 2], [7, 7, 7]) == 1.0
        assert pearson([1, 2, 3], [5, 5, 5]) == 0.0
        assert pearson([4, 4], [1, 9]) == 0.0
        assert pearson([3], [1]) == 1.0


def test_metrics_reject_bad_input() -> None:
    with pytest.raises(AllocationError):
        jain_index([-1, 2])
    with pytest.raises(AllocationError):
        gini([np.inf])
    with pytest.raises(AllocationError):
        pearson([1, 2], [1, 2, 3])


def test_fairness_metrics_bundle() -> None:
    metrics = fairness_metrics([0.1, 0.3], [25, 75])
    assert set(metrics) == {"jain", "gini", "pearson"}
    assert metrics["pearson"] == pytest.approx(1.0)


def test_fli_pays_proportionally_when_budget_matches_entitlement() -> None:
    queues = FLIQueues(3)
    payouts = queues.step([1.0, 2.0, 1.0], 400)
    assert payouts.tolist() == [100, 200, 100]
    assert np.all(queues.regret == 0) and np.all(queues.waiting == 0)


def test_fli_carries_a_shortfall_to_later_rounds() -> None:
    queues = FLIQueues(2, waiting_weight=0.5)
    # Round 1: contributions worth 1000 tokens but only 400 available.
    first = queues.step([3.0, 1.0], 400, entitlement=1000)
    assert first.tolist() == [300, 100]
    np.testing.assert_allclose(queues.regret, [450, 150])
    assert queues.waiting.tolist() == [1, 1]
    # Round 2: player 1 alone contributes, but player 0 is still owed: it gets paid too.
    second = queues.step([0.0, 1.0], 1000)
    assert second[0] > 0 and int(second.sum()) == 1000
    assert second[0] <= 450 and second[1] <= 1150


def test_fli_never_pays_more_than_owed_and_leaves_the_rest() -> None:
    queues = FLIQueues(2)
    payouts = queues.step([1.0, 1.0], 1000, entitlement=100)
    assert payouts.tolist() == [50, 50]


def test_fli_waiting_participants_get_priority() -> None:
    queues = FLIQueues.from_dict(
        {"waiting_weight": 1.0, "regret": [100.0, 100.0], "waiting": [3, 0]}
    )
    payouts = queues.step([0.0, 0.0], 100)
    assert payouts[0] > payouts[1]
    assert FLIQueues.from_dict(queues.to_dict()).to_dict() == queues.to_dict()


def test_accumulate_sum_and_decay() -> None:
    rounds = [np.array([1.0, 0.0]), np.array([0.0, 1.0]), np.array([1.0, 1.0])]
    np.testing.assert_allclose(accumulate(rounds), [2.0, 2.0])
    np.testing.assert_allclose(accumulate(rounds, decay=0.5), [1.25, 1.5])
    acc = Accumulator(2, decay=0.5)
    for r in rounds:
        acc.add(r)
    assert acc.rounds == 3
    np.testing.assert_allclose(acc.total, [1.25, 1.5])


def test_accumulate_rejects_bad_input() -> None:
    with pytest.raises(GameError):
        accumulate([])
    with pytest.raises(GameError):
        Accumulator(2, decay=0.0)
    with pytest.raises(GameError):
        Accumulator(2).add([1.0, 2.0, 3.0])
