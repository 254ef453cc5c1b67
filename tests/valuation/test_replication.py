"""Replication robustness in the pure package: groups clipped as one payee, a copy credited to
the earliest committer, near copies found by cosine, a null update worth exactly nothing."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from valuation import allocation, value
from valuation.architecture import build_module
from valuation.coalition import ModelUtility
from valuation.duplicates import later_duplicates
from valuation.errors import AllocationError, GameError
from valuation.model_spec import ModelSpec


def test_groups_are_clipped_as_a_whole_not_member_by_member() -> None:
    # prepare: players 0 and 1 are one group worth 3 - 2 = 1; player 2 is worth 1
    values = [3.0, -2.0, 1.0]

    # act
    grouped = allocation(values, 1000, duplicate_groups=[[0, 1]]).payouts
    alone = allocation(values, 1000).payouts

    # assert: clipping each member would pay the group 3 of 4; as one payee it is 1 of 2
    assert grouped.tolist() == [500, 0, 500]
    assert alone.tolist() == [750, 0, 250]


def test_a_groups_pay_can_go_whole_to_its_earliest_member() -> None:
    # prepare: a group {0, 2} in which player 2 committed first
    values = [2.0, 2.0, 1.0]

    # act
    first = allocation(
        values, 900, duplicate_groups=[[0, 2]], group_payee="first", payee_rank=[1, 2, 0]
    ).payouts
    split = allocation(values, 900, duplicate_groups=[[0, 2]]).payouts

    # assert
    assert first.tolist() == [0, 360, 540]  # the group is worth 3 of 5
    assert split.tolist() == [360, 360, 180]
    with pytest.raises(AllocationError):
        allocation(values, 900, group_payee="random")  # type: ignore[arg-type]


def test_a_near_copy_is_credited_to_whoever_committed_first() -> None:
    # prepare: row 2 is row 0 plus 1 % noise; row 2 committed before row 0
    rng = np.random.default_rng(3)
    original = rng.normal(size=200)
    rows = np.stack([original, rng.normal(size=200), original + 0.01 * rng.normal(size=200)])

    # act
    by_commit = later_duplicates(rows, rank=[1, 2, 0], threshold=0.99)
    by_index = later_duplicates(rows, rank=[0, 1, 2], threshold=0.99)

    # assert
    assert [(i, first) for i, first, _ in by_commit] == [(0, 2)]
    assert [(i, first) for i, first, _ in by_index] == [(2, 0)]
    assert by_commit[0][2] == pytest.approx(by_index[0][2]) and by_commit[0][2] > 0.99
    assert later_duplicates(rows, rank=[0, 1, 2], threshold=0.99999) == []


def test_an_exact_copy_has_cosine_one_and_ranks_must_match_rows() -> None:
    rows = np.stack([np.arange(5.0), np.arange(5.0), -np.arange(5.0)])
    assert later_duplicates(rows, rank=[2, 0, 1]) == [(0, 1, 1.0)]
    with pytest.raises(GameError):
        later_duplicates(rows, rank=[0, 1])


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    return (X / 16.0)[:300], y[:300].astype(np.int64)


def test_a_zero_update_gets_exactly_zero_shapley_value(
    digits: tuple[np.ndarray, np.ndarray],
) -> None:
    # prepare: three real updates and one that returns the global model unchanged
    spec = ModelSpec("mlp", (64,), 10, hidden=(16,))
    prev = {
        k: v.detach().numpy().astype(np.float64)
        for k, v in build_module(spec, 1).state_dict().items()
    }
    rng = np.random.default_rng(4)
    updates = [{k: rng.normal(0, 0.2, v.shape) for k, v in prev.items()} for _ in range(3)]
    updates.append({k: np.zeros_like(v) for k, v in prev.items()})
    X, y = digits

    # act
    fixed = ModelUtility(spec, prev, updates, [30, 20, 40, 35], X, y, score="neg_loss")
    reweighted = ModelUtility(
        spec, prev, updates, [30, 20, 40, 35], X, y, score="neg_loss", coalition_model="reweighted"
    )

    # assert: the null player axiom holds for the fixed-weights game, not for the old one
    assert value(fixed, "exact").values[3] == 0.0
    assert abs(value(reweighted, "exact").values[3]) > 1e-4
