"""The one-call API: shapley_values and value, determinism, options and duplicate merging."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from valuation_games import additive, data_game, random_table, table_game

import valuation
from valuation import MaxUpdates, ValuationResult, shapley_values, value
from valuation.errors import MethodError


def majority(coalition: frozenset[int]) -> float:
    return 1.0 if len(coalition) >= 2 else 0.0


def test_shapley_values_accepts_a_plain_callable() -> None:
    values = shapley_values(majority, 3)
    np.testing.assert_allclose(values, [1 / 3] * 3, atol=1e-12)
    values[0] = 5.0  # a fresh, writable copy
    assert shapley_values(majority, 3)[0] == pytest.approx(1 / 3)


@pytest.mark.parametrize("method", ["exact", "tmc", "gtg", "loo", "banzhaf"])
def test_every_method_name_gives_a_full_record(method: str) -> None:
    result = value(additive([1.0, 2.0, 3.0]), method, seed=1)
    assert isinstance(result, ValuationResult)
    np.testing.assert_allclose(result.values, [1, 2, 3], atol=1e-9)
    assert result.evaluations > 0 and result.values.shape == (3,)
    assert ValuationResult.from_dict(json.loads(json.dumps(result.to_dict()))) == result


@pytest.mark.parametrize("method", ["exact", "tmc", "gtg", "loo", "banzhaf"])
def test_a_single_player_gets_the_whole_gain(method: str) -> None:
    values = shapley_values(lambda s: 2.0 if s else 0.5, 1, method)
    np.testing.assert_allclose(values, [1.5])


@pytest.mark.parametrize("method", ["tmc", "gtg", "banzhaf"])
def test_same_seed_identical_different_seed_different(method: str) -> None:
    u = random_table(7, seed=4)
    options: dict[str, Any] = {"stop": MaxUpdates(70)}
    if method == "banzhaf":
        options["exact_limit"] = 3  # force the sampled (MSR) estimator
    first = value(table_game(u), method, seed=9, **options)
    again = value(table_game(u), method, seed=9, **options)
    other = value(table_game(u), method, seed=10, **options)
    np.testing.assert_array_equal(first.values, again.values)
    assert first == again
    assert not np.array_equal(first.values, other.values)


def test_banzhaf_switches_to_sampling_above_the_exact_limit() -> None:
    assert value(additive([1.0] * 4), "banzhaf").method == "banzhaf-exact"
    sampled = value(additive([1.0] * 4), "banzhaf", exact_limit=3, stop=MaxUpdates(512))
    assert sampled.method == "banzhaf-msr" and sampled.samples == 512


def test_options_reach_the_method_and_are_recorded() -> None:
    result = value(additive([1.0, 1.0]), "tmc", seed=5, tolerance=0.0, stop=MaxUpdates(32))
    assert result.params["tolerance"] == 0.0 and result.params["seed"] == 5
    assert result.samples == 32


def test_unknown_method_and_bad_options_are_method_errors() -> None:
    with pytest.raises(MethodError, match="unknown"):
        value(majority, "shapley-magic", n=3)
    with pytest.raises(MethodError, match="options"):
        value(majority, "exact", n=3, tolerance=0.1)
    with pytest.raises(MethodError, match="n="):
        value(majority, "exact")
    with pytest.raises(MethodError, match="players"):
        value(additive([1.0, 2.0]), "exact", n=3)


def test_duplicate_groups_value_a_group_as_one_player_and_split_it() -> None:
    # Players 1 and 2 hold the same data; the merged game is the 2-player game {0, 1}.
    holdings = [frozenset({0, 1, 2}), frozenset({3, 4}), frozenset({3, 4})]
    single = value(data_game(holdings[:2]), "exact").values
    merged = value(data_game(holdings), "exact", duplicate_groups=[[1, 2]])
    np.testing.assert_allclose(merged.values, [single[0], single[1] / 2, single[1] / 2])
    assert merged.params["duplicate_groups"] == [[1, 2]]
    assert merged.evaluations == 4


def test_duplicate_groups_split_stderr_too() -> None:
    holdings = [frozenset({0}), frozenset({1, 2}), frozenset({1, 2})]
    merged = value(
        data_game(holdings),
        "tmc",
        seed=0,
        tolerance=0.0,
        stop=MaxUpdates(50),
        duplicate_groups=[[1, 2]],
    )
    assert merged.stderr is not None
    assert merged.stderr[1] == merged.stderr[2]


def test_public_names_are_exported() -> None:
    for name in (
        "shapley_values",
        "value",
        "ValuationResult",
        "allocate",
        "duplicate_groups",
        "jain_index",
        "gini",
        "pearson",
        "TMCShapley",
        "GTGShapley",
        "ExactShapley",
        "PermutationSampler",
        "MaxUpdates",
        "HistoryDeviation",
        "cgsv_values",
    ):
        assert hasattr(valuation, name), name
    assert set(valuation.__all__) <= set(dir(valuation))


def test_importing_valuation_is_cheap_and_pure() -> None:
    code = (
        "import sys, valuation; "
        "heavy = {'torch', 'web3', 'marketplace', 'participant', 'devnet', 'httpx', 'fastapi'}; "
        "print(sorted(heavy & {m.split('.')[0] for m in sys.modules}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
