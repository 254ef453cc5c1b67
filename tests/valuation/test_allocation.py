"""Allocation: exact budgets, no pay for clipped players, monotonicity, caps, duplicates."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from valuation_games import data_game

from valuation import allocate, allocation, duplicate_groups, value
from valuation.errors import AllocationError

VALUE = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
VALUES = st.lists(VALUE, min_size=1, max_size=40)
BUDGET = st.integers(min_value=0, max_value=10**15)


@settings(max_examples=200, deadline=None)
@given(VALUES, BUDGET)
def test_pays_exactly_the_budget_and_never_a_clipped_player(
    values: list[float], budget: int
) -> None:
    payouts = allocate(values, budget)
    v = np.array(values)
    assert payouts.dtype == np.int64 and payouts.shape == v.shape
    assert int(payouts.sum()) == (budget if np.any(v > 0) else 0)
    assert np.all(payouts[v <= 0] == 0)
    assert np.all(payouts >= 0)


@settings(max_examples=200, deadline=None)
@given(VALUES, BUDGET)
def test_payouts_are_within_one_token_of_the_proportional_share(
    values: list[float], budget: int
) -> None:
    v = np.maximum(np.array(values), 0)
    assume(v.sum() > 0)
    share = [budget * float(x) / float(v.sum()) for x in v]  # float check, loose enough
    payouts = allocate(values, budget)
    assert all(abs(p - s) < 1 + 1e-6 * budget for p, s in zip(payouts.tolist(), share, strict=True))


CAP = st.none() | st.integers(min_value=0, max_value=10**14)


@settings(max_examples=200, deadline=None)
@given(VALUES, BUDGET, CAP)
def test_a_larger_contribution_is_never_paid_less(
    values: list[float], budget: int, cap: int | None
) -> None:
    payouts = allocate(values, budget, cap=cap)
    v = np.array(values)
    for i in range(len(values)):
        for j in range(len(values)):
            if v[i] > v[j]:
                assert payouts[i] >= payouts[j]


@settings(max_examples=200, deadline=None)
@given(VALUES, BUDGET, CAP, st.data())
def test_raising_ones_own_value_never_lowers_ones_payout(
    values: list[float], budget: int, cap: int | None, data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(values) - 1))
    raised = list(values)
    raised[i] = data.draw(st.floats(min_value=values[i], max_value=2e6, allow_nan=False))
    assert allocate(raised, budget, cap=cap)[i] >= allocate(values, budget, cap=cap)[i]


def test_ties_break_by_player_order() -> None:
    assert allocate([1.0, 1.0, 1.0], 100).tolist() == [34, 33, 33]
    # Addresses order the players: the smallest address gets the leftover token.
    keys = ["0xcc", "0xbb", "0xaa"]
    assert allocate([1.0, 1.0, 1.0], 100, order_keys=keys).tolist() == [33, 33, 34]


def test_zero_total_pays_nothing_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="valuation.allocation"):
        payouts = allocate([-1.0, 0.0, -3.0], 1000)
    assert payouts.tolist() == [0, 0, 0]
    assert "nothing paid" in caplog.text
    record = allocation([0.0, 0.0], 1000)
    assert record.unspent == 1000 and record.paid == 0 and record.note


def test_clip_negative_false_refuses_negative_values() -> None:
    with pytest.raises(AllocationError, match="negative"):
        allocate([1.0, -0.5], 10, clip_negative=False)
    assert allocate([1.0, 0.0], 10, clip_negative=False).tolist() == [10, 0]


def test_exact_at_large_budgets_and_tiny_values() -> None:
    values = [1e-300, 3e-300, 0.0, 5e-324]
    payouts = allocate(values, 10**18)
    assert int(payouts.sum()) == 10**18
    assert payouts[2] == 0 and payouts[1] > payouts[0] > payouts[3]


def test_cap_excess_is_redistributed_proportionally() -> None:
    record = allocation([10.0, 1.0, 3.0], 100, cap=50)
    # Uncapped, player 0 would get 71; capped at 50, the other 50 go 1:3.
    assert record.payouts.tolist() == [50, 13, 37]  # 12.5 / 37.5: tie goes to player order
    assert record.unspent == 0


def test_when_everyone_paid_is_capped_the_rest_stays_unspent() -> None:
    record = allocation([5.0, 1.0, 0.0], 100, cap=20)
    assert record.payouts.tolist() == [20, 20, 0]
    assert record.unspent == 60 and record.note and "cap" in record.note


@settings(max_examples=150, deadline=None)
@given(VALUES, BUDGET, st.integers(min_value=0, max_value=10**14))
def test_caps_hold_and_only_caps_leave_budget_unspent(
    values: list[float], budget: int, cap: int
) -> None:
    payouts = allocate(values, budget, cap=cap)
    v = np.array(values)
    assert np.all(payouts <= cap) and np.all(payouts[v <= 0] == 0)
    assert int(payouts.sum()) == min(budget, cap * int(np.sum(v > 0)))


def test_per_participant_caps() -> None:
    payouts = allocate([1.0, 1.0, 1.0], 90, cap=[10, 100, 100])
    assert payouts.tolist() == [10, 40, 40]


@pytest.mark.parametrize(
    ("values", "budget", "options"),
    [
        ([[1.0]], 10, {}),
        ([1.0, np.nan], 10, {}),
        ([1.0], -1, {}),
        ([1.0], 1.5, {}),
        ([1.0], 2**63, {}),
        ([1.0, 2.0], 10, {"order_keys": ["a"]}),
        ([1.0, 2.0], 10, {"cap": -1}),
        ([1.0, 2.0], 10, {"cap": 1.5}),
        ([1.0, 2.0], 10, {"duplicate_groups": [[0, 5]]}),
        ([1.0, 2.0, 3.0], 10, {"duplicate_groups": [[0, 1], [1, 2]]}),
    ],
)
def test_invalid_input_is_rejected(values: object, budget: object, options: dict) -> None:
    with pytest.raises(AllocationError):
        allocate(values, budget, **options)  # type: ignore[arg-type]


def test_a_duplicate_group_is_paid_as_one_payee() -> None:
    # Values after a merged valuation: the group's value 6 split 3 + 3; player 2 has 6.
    payouts = allocate([3.0, 3.0, 6.0], 101, duplicate_groups=[[0, 1]])
    assert payouts.tolist() == [26, 25, 50]
    assert payouts[0] + payouts[1] == allocate([6.0, 6.0], 101)[0]


HOLDINGS = [
    [frozenset({0, 1, 2, 3}), frozenset({2, 3, 4}), frozenset({5})],
    [frozenset({0, 1}), frozenset({0, 1, 2}), frozenset({2, 3, 4, 5, 6})],
    [frozenset(range(10)), frozenset({3}), frozenset({11, 12}), frozenset({0, 20})],
]


@pytest.mark.parametrize("holdings", HOLDINGS)
@pytest.mark.parametrize("copied", [0, 1])
def test_two_identities_with_the_same_data_earn_no_more_than_one(
    holdings: list[frozenset[int]], copied: int
) -> None:
    budget = 1_000_003
    alone = allocate(value(data_game(holdings), "exact").values, budget)
    # The same player appears twice (same data, so the same update bytes).
    twice = [*holdings, holdings[copied]]
    updates = np.array([[float(i in h) for i in range(25)] for h in twice])
    groups = duplicate_groups(updates)
    assert [copied, len(twice) - 1] in groups
    merged_values = value(data_game(twice), "exact", duplicate_groups=groups).values
    paid = allocate(merged_values, budget, duplicate_groups=groups)
    assert paid[copied] + paid[-1] <= alone[copied]
    assert int(paid.sum()) == budget


def test_without_merging_a_copy_could_earn_more() -> None:
    # Why merging is needed: with two substitutes, a copy of one raises the pair's share.
    holdings = [frozenset({0}), frozenset({0})]
    alone = allocate(value(data_game(holdings), "exact").values, 999)
    twice = [*holdings, holdings[0]]
    naive = allocate(value(data_game(twice), "exact").values, 999)
    assert naive[0] + naive[2] > alone[0]


ITEM_SETS = st.frozensets(st.integers(0, 11), min_size=1)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(ITEM_SETS, min_size=1, max_size=4, unique=True),
    st.integers(1, 10**9),
    st.data(),
)
def test_duplicating_an_identity_never_pays_more_for_random_data_games(
    holdings: list[frozenset[int]], budget: int, data: st.DataObject
) -> None:
    copied = data.draw(st.integers(0, len(holdings) - 1))
    alone = allocate(value(data_game(holdings), "exact").values, budget)
    twice = [*holdings, holdings[copied]]
    updates = np.array([[float(i in h) for i in range(12)] for h in twice])
    groups = duplicate_groups(updates)
    paid = allocate(
        value(data_game(twice), "exact", duplicate_groups=groups).values,
        budget,
        duplicate_groups=groups,
    )
    assert paid[copied] + paid[-1] <= alone[copied]
