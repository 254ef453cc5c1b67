"""The method registry (one list of names, params that rebuild a method) and the task policy."""

from __future__ import annotations

import json

import pytest
from valuation_games import additive, random_table, table_game

from valuation import value
from valuation.config import DEFAULT_DUPLICATE_THRESHOLD, RoundValuation, ValuationConfig
from valuation.errors import MethodError, ValuationConfigError
from valuation.registry import ALL_NAMES, METHOD_NAMES, METHODS, make_method


@pytest.mark.parametrize("name", sorted(METHODS))
def test_every_entry_rebuilds_an_equal_method_from_its_params(name: str) -> None:
    # prepare
    method = make_method(name, 5, seed=3)

    # act
    again = make_method(name, 5, **method.params())

    # assert
    assert type(again) is type(method)
    assert again.params() == method.params()
    json.dumps(method.params())  # plain JSON, as a report records it


@pytest.mark.parametrize("name", sorted(METHODS))
def test_a_rebuilt_method_gives_the_same_values(name: str) -> None:
    game = table_game(random_table(5, seed=2))
    first = make_method(name, 5, seed=4).fit(game)

    again = make_method(first.method, 5, **first.params).fit(game)

    assert again == first


def test_banzhaf_alias_picks_exact_or_sampled_by_size() -> None:
    assert make_method("banzhaf", 4).name == "banzhaf-exact"
    assert make_method("banzhaf", 20).name == "banzhaf-msr"
    assert make_method("banzhaf", 4, exact_limit=3).name == "banzhaf-msr"


def test_unknown_names_and_options_are_method_errors() -> None:
    with pytest.raises(MethodError, match="choose one of"):
        make_method("shapley-ish", 3)
    with pytest.raises(MethodError, match="bad options"):
        make_method("exact", 3, nonsense=1)


def test_every_public_name_values_a_game() -> None:
    for name in ALL_NAMES:
        assert value(additive([1.0, 2.0]), name, seed=1).values.shape == (2,)


@pytest.mark.parametrize("method", ["auto", *METHOD_NAMES])
def test_the_task_policy_accepts_every_registered_name(method: str) -> None:
    assert ValuationConfig(method=method).method == method


def test_the_task_policy_refuses_what_it_cannot_run() -> None:
    with pytest.raises(ValuationConfigError, match="banzhaf"):  # the message lists the names
        ValuationConfig(method="shapley")
    with pytest.raises(ValuationConfigError):
        ValuationConfig(score="f1")
    with pytest.raises(ValuationConfigError):
        ValuationConfig(duplicate_threshold=1.5)
    with pytest.raises(ValuationConfigError):
        ValuationConfig(exact_max_players=0)
    with pytest.raises(ValuationConfigError, match="unknown valuation setting"):
        ValuationConfig.from_dict({"methd": "exact"})


def test_the_policy_resolves_one_round_and_round_trips() -> None:
    # prepare
    config = ValuationConfig(method="auto", exact_max_players=4, score="neg_loss")

    # act
    small, large = config.for_round(4, seed=9, budget=100), config.for_round(5, seed=9, budget=100)

    # assert
    assert (small.method, large.method) == ("exact", "owen")
    assert small.options == {} and large.options == {"max_evaluations": config.max_evaluations}
    assert isinstance(small, RoundValuation) and small.seed == 9 and small.budget == 100
    assert small.duplicate_threshold == DEFAULT_DUPLICATE_THRESHOLD
    assert ValuationConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    assert ValuationConfig.from_dict({}) == ValuationConfig()  # every field has a default


@pytest.mark.parametrize("name", ["identity_cost", "round_gate"])
def test_the_sybil_and_quitter_rules_are_fractions_carried_into_every_recipe(name: str) -> None:
    # prepare
    config = ValuationConfig(**{name: 0.25})  # type: ignore[arg-type]

    # act
    recipe = config.for_round(3, seed=1, budget=100)

    # assert: resolved, recorded, and read back; a record written before it existed means 0
    assert getattr(recipe, name) == 0.25
    assert RoundValuation.from_dict(json.loads(json.dumps(recipe.to_dict()))) == recipe
    older = {k: v for k, v in recipe.to_dict().items() if k != name}
    assert getattr(RoundValuation.from_dict(older), name) == 0.0
    for bad in (-0.1, 1.5, float("nan"), True, "0.1"):
        with pytest.raises(ValuationConfigError, match=name):
            ValuationConfig(**{name: bad})  # type: ignore[arg-type]
