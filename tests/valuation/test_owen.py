"""Owen sampling: exact on additive games, unbiased and close on others, budgeted, seeded."""

from __future__ import annotations

import numpy as np
import pytest
from valuation_games import additive, random_table, table_game, unanimity

from valuation import value
from valuation.errors import MethodError
from valuation.methods.owen import OwenShapley


def test_an_additive_game_is_valued_exactly_from_one_draw() -> None:
    result = value(additive([1.0, -2.0, 0.5, 3.0]), "owen", seed=1, samples=1)
    np.testing.assert_allclose(result.values, [1.0, -2.0, 0.5, 3.0], atol=1e-12)


def test_a_unanimity_game_splits_evenly_in_expectation() -> None:
    # prepare: U(S) = 1 iff {0, 1, 2} ⊆ S; Shapley gives 1/3 to each carrier, 0 to the rest
    game = unanimity(6, [0, 1, 2])

    # act
    result = value(game, "owen", seed=3, nodes=8, samples=400)

    # assert
    np.testing.assert_allclose(result.values, [1 / 3] * 3 + [0.0] * 3, atol=0.02)


def test_owen_approaches_exact_shapley_on_a_random_game() -> None:
    u = random_table(7, seed=5)
    exact = value(table_game(u), "exact").values

    rough = value(table_game(u), "owen", seed=2, samples=2).values
    fine = value(table_game(u), "owen", seed=2, samples=200).values

    assert np.linalg.norm(fine - exact) < np.linalg.norm(rough - exact)
    assert np.linalg.norm(fine - exact) / np.linalg.norm(exact) < 0.05


def test_the_budget_sets_the_draws_and_the_seed_the_result() -> None:
    # prepare: 8 nodes x 2 (antithetic) x (n + 1) = 16 x 11 evaluations per draw at n = 10
    method = OwenShapley(seed=4, max_evaluations=16 * 11 * 3)
    u = random_table(10, seed=1)

    # act
    first = method.fit(table_game(u))
    again = OwenShapley(**method.params()).fit(table_game(u))
    other = OwenShapley(seed=5, max_evaluations=16 * 11 * 3).fit(table_game(u))

    # assert
    assert method.draws_for(10) == 3 and first.samples == 2 * 3 * 8
    assert first.evaluations <= 16 * 11 * 3
    np.testing.assert_array_equal(first.values, again.values)
    assert not np.array_equal(first.values, other.values)
    assert first.stderr is not None and np.all(first.stderr >= 0)


@pytest.mark.parametrize("bad", [{"nodes": 0}, {"samples": -1}, {"max_evaluations": 0}])
def test_bad_options_are_method_errors(bad: dict[str, int]) -> None:
    with pytest.raises(MethodError):
        OwenShapley(**bad)  # type: ignore[arg-type]
