"""Duplicate detection and the merged game that values each group as one player."""

from __future__ import annotations

import numpy as np
import pytest
from valuation_games import additive

from valuation.duplicates import (
    MergedUtility,
    duplicate_groups,
    player_units,
    split_group_values,
)
from valuation.errors import AllocationError, GameError


def test_exact_and_near_duplicates_are_grouped() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(4, 50))
    updates = np.vstack([base, base[1], base[2] * 3.0 + 1e-4 * rng.normal(size=50)])
    assert duplicate_groups(updates) == [[1, 4], [2, 5]]


def test_independent_updates_are_not_grouped() -> None:
    updates = np.random.default_rng(1).normal(size=(10, 200))
    assert duplicate_groups(updates) == []


def test_threshold_controls_near_duplicates() -> None:
    updates = np.array([[1.0, 0.0], [1.0, 0.1]])  # cosine ≈ 0.995
    assert duplicate_groups(updates, threshold=0.99) == [[0, 1]]
    assert duplicate_groups(updates, threshold=0.999) == []


def test_groups_are_transitive() -> None:
    updates = np.array([[1.0, 0.0], [1.0, 0.12], [1.0, 0.24], [0.0, 1.0]])
    # 0~1 and 1~2 at 0.99, but 0 and 2 are further apart: still one group.
    assert duplicate_groups(updates, threshold=0.99) == [[0, 1, 2]]


def test_zero_updates_match_only_exact_copies() -> None:
    updates = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [2.0, 2.0]])
    assert duplicate_groups(updates) == [[0, 2], [1, 3]]


def test_bad_update_matrices_are_rejected() -> None:
    with pytest.raises(GameError):
        duplicate_groups(np.ones(3))
    with pytest.raises(GameError):
        duplicate_groups(np.array([[np.nan]]))
    with pytest.raises(GameError):
        duplicate_groups(np.ones((2, 2)), threshold=1.5)


def test_player_units_partition_players_by_smallest_member() -> None:
    assert player_units(5, [[4, 1]]) == [[0], [1, 4], [2], [3]]
    with pytest.raises(AllocationError):
        player_units(3, [[0, 1], [1, 2]])


def test_merged_utility_expands_units() -> None:
    merged = MergedUtility(additive([1.0, 2.0, 4.0, 8.0]), [[1, 3]])
    assert merged.n_players == 3 and merged.units == [[0], [1, 3], [2]]
    assert merged(frozenset({1})) == 10.0
    np.testing.assert_array_equal(
        merged.evaluate_many([frozenset(), frozenset({0, 2})]), [0.0, 5.0]
    )


def test_split_group_values_divides_equally() -> None:
    np.testing.assert_array_equal(
        split_group_values(np.array([1.0, 6.0, 2.0]), [[0], [1, 3, 4], [2]]),
        [1.0, 2.0, 2.0, 2.0, 2.0],
    )
