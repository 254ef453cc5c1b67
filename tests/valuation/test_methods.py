"""Valuation methods against games with closed-form values, and their batching behaviour."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from valuation_games import (
    BatchGame,
    additive,
    data_game,
    glove,
    random_table,
    table_game,
    unanimity,
    weighted_majority,
)

from valuation.api import value
from valuation.config import RoundValuation
from valuation.errors import GameError, MethodError
from valuation.methods import (
    ExactBanzhaf,
    ExactShapley,
    GTGShapley,
    LeaveOneOut,
    MSRBanzhaf,
    TMCShapley,
    banzhaf_from_utilities,
    cgsv_values,
    shapley_from_utilities,
)
from valuation.methods.exact import power_set_utilities
from valuation.methods.permutations import permutation_marginals
from valuation.methods.strata import SizeStrata
from valuation.stopping import HistoryDeviation, MaxEvaluations, MaxUpdates
from valuation.utility import CachedUtility, all_coalitions

TOL = 1e-12


def test_exact_additive_game_gives_weights() -> None:
    weights = [0.5, -1.25, 3.0, 0.0, 2.75]
    result = ExactShapley().fit(additive(weights))
    np.testing.assert_allclose(result.values, weights, atol=TOL, rtol=0)
    assert result.stderr is None and result.converged and result.samples == 32


@pytest.mark.parametrize("r", [1, 2, 3, 5])
def test_exact_glove_one_left_many_right(r: int) -> None:
    # The single left glove is pivotal iff some right glove precedes it: r/(r+1).
    game = glove(left=[0], right=list(range(1, r + 1)))
    values = ExactShapley().fit(game).values
    assert values[0] == pytest.approx(r / (r + 1), abs=TOL)
    np.testing.assert_allclose(values[1:], 1 / (r * (r + 1)), atol=TOL, rtol=0)


def test_exact_balanced_glove_game_is_one_half_each() -> None:
    values = ExactShapley().fit(glove(left=[0, 1, 2], right=[3, 4, 5])).values
    np.testing.assert_allclose(values, 0.5, atol=TOL, rtol=0)


def test_exact_weighted_majority_three_players() -> None:
    # [3; 2, 1, 1]: the big player is pivotal in 4 of 6 orders, each small one in 1.
    values = ExactShapley().fit(weighted_majority(3, [2, 1, 1])).values
    np.testing.assert_allclose(values, [2 / 3, 1 / 6, 1 / 6], atol=TOL, rtol=0)


def test_exact_weighted_majority_dictator_and_dummies() -> None:
    values = ExactShapley().fit(weighted_majority(5, [5, 1, 1, 1])).values
    np.testing.assert_allclose(values, [1, 0, 0, 0], atol=TOL, rtol=0)


def test_exact_symmetric_majority_splits_evenly() -> None:
    values = ExactShapley().fit(weighted_majority(4, [1] * 7)).values
    np.testing.assert_allclose(values, 1 / 7, atol=TOL, rtol=0)


def test_exact_unanimity_game() -> None:
    values = ExactShapley().fit(unanimity(6, [1, 3, 4], scale=3.0)).values
    np.testing.assert_allclose(values, [0, 1, 0, 1, 1, 0], atol=TOL, rtol=0)


def test_exact_sixteen_players_evaluates_power_set_in_big_batches() -> None:
    game = unanimity(16, [0, 5, 15], scale=6.0)
    values = ExactShapley().fit(game).values
    expected = np.zeros(16)
    expected[[0, 5, 15]] = 2.0
    np.testing.assert_allclose(values, expected, atol=TOL, rtol=0)
    assert game.batches == [1 << 14] * 4


def test_exact_matches_brute_force_average_over_all_permutations() -> None:
    u = random_table(5, seed=3)
    brute = np.zeros(5)
    for perm in __import__("itertools").permutations(range(5)):
        mask = 0
        for i in perm:
            brute[i] += u[mask | 1 << i] - u[mask]
            mask |= 1 << i
    brute /= math.factorial(5)
    np.testing.assert_allclose(shapley_from_utilities(u, 5), brute, atol=TOL, rtol=0)


def test_exact_refuses_too_many_players() -> None:
    with pytest.raises(GameError, match="sampled method"):
        power_set_utilities(additive([1.0] * 23))


def test_non_finite_utility_is_reported_with_its_coalition() -> None:
    game = BatchGame(3, lambda s: math.nan if s == frozenset({0, 2}) else 1.0)
    with pytest.raises(GameError, match=r"\[0, 2\]"):
        ExactShapley().fit(game)


def test_exact_banzhaf_closed_forms() -> None:
    np.testing.assert_allclose(ExactBanzhaf().fit(additive([1, 2, 3])).values, [1, 2, 3])
    values = ExactBanzhaf().fit(unanimity(5, [0, 1, 2])).values
    np.testing.assert_allclose(values, [0.25, 0.25, 0.25, 0, 0], atol=TOL, rtol=0)
    # [3; 2, 1, 1]: the big player swings in 3 of 4 coalitions of the others, each small one in 1.
    np.testing.assert_allclose(
        banzhaf_from_utilities(power_set_utilities(weighted_majority(3, [2, 1, 1])), 3),
        [0.75, 0.25, 0.25],
        atol=TOL,
        rtol=0,
    )


def test_leave_one_out_is_one_batch_of_n_plus_one() -> None:
    game = unanimity(4, [0, 1])
    result = LeaveOneOut().fit(game)
    np.testing.assert_allclose(result.values, [1, 1, 0, 0])
    assert game.batches == [5] and result.evaluations == 5


def test_tmc_without_truncation_is_exact_on_additive_games() -> None:
    # Every permutation gives each player exactly w_i, so a single batch is already exact.
    result = TMCShapley(tolerance=0.0, stop=MaxUpdates(4), batch_size=4).fit(additive([1, 2, 3]))
    np.testing.assert_allclose(result.values, [1, 2, 3], atol=TOL)
    assert result.stderr is not None
    np.testing.assert_allclose(result.stderr, 0, atol=TOL)


def test_tmc_evaluates_whole_batches_of_prefixes() -> None:
    game = table_game(random_table(6, seed=0))
    TMCShapley(tolerance=0.0, stop=MaxUpdates(8), batch_size=8).fit(game)
    # One batch for U(∅) and U(N); then the 8 permutations' 5 inner prefixes each (40
    # coalitions, fewer after the cache removes repeats) in a single call.
    assert len(game.batches) == 2 and game.batches[0] == 2 and 5 < game.batches[1] <= 40


def test_truncation_skips_prefixes_once_the_remaining_gain_is_small() -> None:
    # Only player 0 matters: after it joins, U(prefix) == U(N) and the walk stops.
    game = BatchGame(8, lambda s: 1.0 if 0 in s else 0.0)
    perms = np.array([[0, 1, 2, 3, 4, 5, 6, 7], [3, 0, 1, 2, 4, 5, 6, 7]])
    cached = CachedUtility(game)
    marginals = permutation_marginals(cached, perms, 0.0, 1.0, threshold=1e-9, chunk=1)
    np.testing.assert_allclose(marginals[:, 0], [1, 1])
    np.testing.assert_allclose(marginals[:, 1:], 0)
    assert cached.evaluations == 3  # {0}, {3}, {0, 3}; nothing after player 0 joined


@pytest.mark.parametrize("chunk", [1, 2, 5, None])
def test_truncated_values_do_not_depend_on_prefix_chunk(chunk: int | None) -> None:
    u = random_table(7, seed=5)
    reference = TMCShapley(seed=4, tolerance=0.05, stop=MaxUpdates(32), prefix_chunk=1)
    other = TMCShapley(seed=4, tolerance=0.05, stop=MaxUpdates(32), prefix_chunk=chunk)
    np.testing.assert_array_equal(
        reference.fit(table_game(u)).values, other.fit(table_game(u)).values
    )


def _max_error(estimate: np.ndarray, exact: np.ndarray) -> float:
    return float(np.max(np.abs(estimate - exact)))


def test_tmc_converges_to_exact_as_the_budget_grows() -> None:
    u = random_table(6, seed=11)
    exact = shapley_from_utilities(u, 6)
    small = TMCShapley(seed=1, tolerance=0.0, stop=MaxUpdates(16)).fit(table_game(u))
    large = TMCShapley(seed=1, tolerance=0.0, stop=MaxUpdates(6000)).fit(table_game(u))
    assert _max_error(large.values, exact) < _max_error(small.values, exact)
    assert _max_error(large.values, exact) < 0.03
    assert large.stderr is not None and small.stderr is not None
    assert np.all(large.stderr < small.stderr)


def test_tmc_antithetic_pairs_converge_too() -> None:
    u = random_table(5, seed=2)
    exact = shapley_from_utilities(u, 5)
    result = TMCShapley(seed=2, tolerance=0.0, antithetic=True, stop=MaxUpdates(4000)).fit(
        table_game(u)
    )
    assert _max_error(result.values, exact) < 0.03


def test_gtg_converges_to_exact_as_the_budget_grows() -> None:
    u = random_table(6, seed=12)
    exact = shapley_from_utilities(u, 6)
    small = GTGShapley(seed=3, tolerance=0, stop=MaxUpdates(6)).fit(table_game(u))
    large = GTGShapley(seed=3, tolerance=0, stop=MaxUpdates(6 * 1000)).fit(table_game(u))
    assert _max_error(large.values, exact) < _max_error(small.values, exact)
    assert _max_error(large.values, exact) < 0.03
    assert large.samples == 6000 and not large.converged


def test_gtg_between_round_truncation_values_a_flat_round_at_zero() -> None:
    game = BatchGame(5, lambda s: 0.9 + (1e-6 if len(s) == 5 else 0.0) - 0.1 * (len(s) == 2))
    result = GTGShapley(round_tolerance=1e-4).fit(game)
    np.testing.assert_array_equal(result.values, np.zeros(5))
    assert result.evaluations == 2 and result.samples == 0


def test_gtg_within_round_truncation_saves_evaluations() -> None:
    # Player 0 brings everything; the others add a tiny amount each.
    def rule(s: frozenset[int]) -> float:
        return (1.0 if 0 in s else 0.0) + 1e-6 * len(s)

    stop = MaxUpdates(120)
    truncated = GTGShapley(tolerance=1e-3, stop=stop, prefix_chunk=1).fit(BatchGame(12, rule))
    full = GTGShapley(tolerance=0.0, stop=stop, prefix_chunk=1).fit(BatchGame(12, rule))
    # Prefixes after player 0 joined are skipped: about half of each permutation.
    assert truncated.evaluations < 0.7 * full.evaluations
    assert truncated.values[0] == pytest.approx(full.values[0], abs=1e-3)


def test_default_rules_stop_on_convergence_of_the_running_average() -> None:
    rng = np.random.default_rng(0)
    holdings = [frozenset(rng.choice(50, size=8, replace=False).tolist()) for _ in range(6)]
    gtg = GTGShapley(seed=0).fit(data_game(holdings))
    tmc = TMCShapley(seed=0).fit(data_game(holdings))
    assert gtg.converged and gtg.samples < 100 * 6
    assert tmc.converged and tmc.samples < 2000


def test_msr_banzhaf_converges_to_exact_banzhaf() -> None:
    u = random_table(6, seed=13)
    exact = banzhaf_from_utilities(u, 6)
    small = MSRBanzhaf(seed=5, stop=MaxUpdates(64), batch_size=64).fit(table_game(u))
    large = MSRBanzhaf(seed=5, stop=MaxUpdates(40_000), batch_size=1000).fit(table_game(u))
    assert _max_error(large.values, exact) < _max_error(small.values, exact)
    assert _max_error(large.values, exact) < 0.03


def test_msr_banzhaf_evaluates_each_batch_of_subsets_at_once() -> None:
    game = additive([1.0] * 24)  # 2^24 subsets: no repeats among 300 draws for this seed
    MSRBanzhaf(stop=MaxUpdates(300), batch_size=100).fit(game)
    assert game.batches == [100, 100, 100]


def test_cgsv_cosines_with_the_aggregate() -> None:
    updates = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [-1.0, 0.0], [0.0, 3.0]])
    # Mean update is (0.2, 0.6): cos with e1 is 1/sqrt(10), with e2 is 3/sqrt(10).
    values = cgsv_values(updates)
    c = 1 / math.sqrt(10)
    np.testing.assert_allclose(values, [c, c, 0.0, -c, 3 * c], atol=TOL)


def test_cgsv_normalised_aggregate_ignores_update_size() -> None:
    updates = np.array([[100.0, 0.0], [0.0, 1.0]])
    values = cgsv_values(updates, normalize=True)
    np.testing.assert_allclose(values, [math.sqrt(0.5), math.sqrt(0.5)], atol=TOL)
    assert cgsv_values(updates)[0] > 0.99


def test_cgsv_zero_aggregate_gives_zeros_and_rejects_bad_input() -> None:
    np.testing.assert_array_equal(cgsv_values(np.array([[1.0, 1.0], [-1.0, -1.0]])), [0, 0])
    with pytest.raises(GameError):
        cgsv_values(np.array([[np.inf, 0.0]]))
    with pytest.raises(GameError):
        cgsv_values(np.ones((2, 3)), weights=np.array([1.0, -1.0]))


def test_an_evaluation_budget_larger_than_the_game_still_terminates() -> None:
    result = TMCShapley(tolerance=0.0, stop=MaxEvaluations(10**6)).fit(additive([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(result.values, [1, 2, 3])
    assert result.evaluations == 8 and not result.converged


def test_an_evaluation_budget_stops_sampling() -> None:
    result = TMCShapley(tolerance=0.0, stop=MaxEvaluations(100), batch_size=4).fit(
        table_game(random_table(12, seed=0))
    )
    assert 100 <= result.evaluations - 2 < 100 + 4 * 11


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_gtg_latin_design_converges_to_exact_on_random_games(seed: int) -> None:
    # prepare
    u = random_table(7, seed=20 + seed)
    exact = shapley_from_utilities(u, 7)

    # act
    small = GTGShapley(seed=seed, tolerance=0, stop=MaxUpdates(7)).fit(table_game(u))
    large = GTGShapley(seed=seed, tolerance=0, stop=MaxUpdates(7 * 40)).fit(table_game(u))

    # assert: once every coalition is in the cache every size stratum is exact
    assert large.evaluations == 2**7 and large.stderr is not None
    np.testing.assert_allclose(large.values, exact, atol=1e-12, rtol=0)
    np.testing.assert_allclose(large.stderr, 0.0, atol=1e-12)
    assert _max_error(small.values, exact) > 1e-9


def test_gtg_plain_latin_average_is_unbiased() -> None:
    # prepare: one Latin block per seed, plain permutation average (no cache reuse)
    u = random_table(5, seed=31)
    exact = shapley_from_utilities(u, 5)
    game = table_game(u)

    # act
    runs = [
        GTGShapley(seed=s, tolerance=0, reuse_cache=False, stop=MaxUpdates(5)).fit(game).values
        for s in range(600)
    ]

    # assert: the mean over independent blocks approaches the exact values
    assert _max_error(np.mean(runs, axis=0), exact) < 0.02
    assert _max_error(runs[0], exact) > 0.02


def test_gtg_size_strata_from_a_full_cache_are_exact_shapley() -> None:
    # prepare
    u = random_table(6, seed=5)
    cache = CachedUtility(table_game(u))
    cache.evaluate_many(list(all_coalitions(6)))
    strata, halves = SizeStrata(6), SizeStrata(6)

    # act
    strata.absorb(cache.cache)
    items = list(cache.cache.items())
    halves.absorb(dict(items[:20]))
    halves.absorb(dict(items))

    # assert
    values, stderr = strata.estimate()
    np.testing.assert_allclose(values, shapley_from_utilities(u, 6), atol=1e-12, rtol=0)
    np.testing.assert_allclose(stderr, 0.0, atol=1e-12)
    np.testing.assert_array_equal(halves.estimate()[0], values)


def test_gtg_same_seed_same_values_other_seed_other_values() -> None:
    u = random_table(9, seed=8)
    a = GTGShapley(seed=4, max_evaluations=150).fit(table_game(u))
    b = GTGShapley(seed=4, max_evaluations=150).fit(table_game(u))
    c = GTGShapley(seed=5, max_evaluations=150).fit(table_game(u))
    np.testing.assert_array_equal(a.values, b.values)
    assert a.evaluations == b.evaluations
    assert not np.array_equal(a.values, c.values)


@pytest.mark.parametrize("budget", [60, 150, 300])
def test_gtg_never_spends_more_than_its_evaluation_budget(budget: int) -> None:
    # prepare
    game = table_game(random_table(10, seed=3))

    # act
    result = GTGShapley(seed=0, tolerance=0, max_evaluations=budget).fit(game)

    # assert: the two anchors U(∅), U(N) are outside the budget
    assert budget * 0.8 <= result.evaluations - 2 <= budget + 10
    assert not result.converged


def test_gtg_paper_design_is_still_available() -> None:
    u = random_table(6, seed=12)
    exact = shapley_from_utilities(u, 6)
    result = GTGShapley(
        seed=3, tolerance=0, design="guided", reuse_cache=False, stop=MaxUpdates(6000)
    ).fit(table_game(u))
    assert _max_error(result.values, exact) < 0.03
    with pytest.raises(MethodError):
        GTGShapley(design="guided", antithetic=True)
    with pytest.raises(MethodError):
        GTGShapley(design="random")  # type: ignore[arg-type]
    with pytest.raises(MethodError):
        GTGShapley(reuse_cache=False, exact_depth=2)


@pytest.mark.parametrize("method", ["gtg", "tmc"])
def test_json_budget_options_round_trip_through_value(method: str) -> None:
    # prepare
    game = table_game(random_table(8, seed=2))
    options = json.loads(
        json.dumps({"max_evaluations": 120, "max_permutations": 400, "rtol": 0.001, "history": 4})
    )

    # act
    first = value(game, method, seed=6, **options)
    again = value(game, method, seed=6, **{k: first.params[k] for k in options})
    via_object = value(
        game,
        method,
        seed=6,
        stop=HistoryDeviation(4, 0.001) | MaxUpdates(400) | MaxEvaluations(120),
    )

    # assert
    assert {k: first.params[k] for k in options} == options
    json.dumps(first.params)
    np.testing.assert_array_equal(again.values, first.values)
    np.testing.assert_array_equal(via_object.values, first.values)
    assert first.evaluations <= 120 + 2 + (8 * 8 if method == "tmc" else 8)


def test_json_budget_options_survive_a_report_config() -> None:
    # prepare
    config = RoundValuation(budget=10, method="gtg", seed=1, options={"max_evaluations": 90})
    game = table_game(random_table(7, seed=4))

    # act
    restored = RoundValuation.from_dict(json.loads(json.dumps(config.to_dict())))
    a = value(game, config.method, config.seed, **config.options)
    b = value(game, restored.method, restored.seed, **restored.options)

    # assert
    np.testing.assert_array_equal(a.values, b.values)
    assert a.params["max_evaluations"] == 90


def test_bad_budget_options_are_refused_through_make_method() -> None:
    with pytest.raises(MethodError):
        value(additive([1.0, 2.0]), "gtg", max_evaluations=-5)
    with pytest.raises(MethodError):
        value(additive([1.0, 2.0]), "tmc", rtol=0.1, stop=MaxUpdates(3))


def test_permutation_walk_to_a_depth_stops_there() -> None:
    # prepare
    u = random_table(6, seed=9)
    perms = np.array([[3, 1, 5, 0, 2, 4], [0, 1, 2, 3, 4, 5]])
    full_game, short_game = CachedUtility(table_game(u)), CachedUtility(table_game(u))

    # act
    full = permutation_marginals(full_game, perms, u[0], u[63])
    short = permutation_marginals(short_game, perms, u[0], u[63], depth=3)

    # assert: the first three players of each permutation match, the rest were not walked
    for b, perm in enumerate(perms):
        np.testing.assert_array_equal(short[b, perm[:3]], full[b, perm[:3]])
        np.testing.assert_array_equal(short[b, perm[3:]], 0.0)
    assert max(len(c) for c in short_game.cache) == 3
