"""Stopping rules: budgets, convergence criteria and their composition."""

from __future__ import annotations

import numpy as np
import pytest

from valuation.errors import MethodError
from valuation.stopping import (
    AllOf,
    AnyOf,
    HistoryDeviation,
    MaxEvaluations,
    MaxUpdates,
    Progress,
    StandardErrorBelow,
    rule_from_options,
)


def progress(
    samples: int = 10,
    evaluations: int = 100,
    values: tuple[float, ...] = (1.0, 2.0),
    stderr: tuple[float, ...] = (0.1, 0.1),
    history: tuple[tuple[float, ...], ...] = (),
) -> Progress:
    return Progress(
        samples=samples,
        evaluations=evaluations,
        values=np.array(values),
        stderr=np.array(stderr),
        history=tuple(np.array(h) for h in history),
    )


def test_budgets() -> None:
    assert MaxUpdates(10).check(progress(samples=10))
    assert not MaxUpdates(11).check(progress(samples=10))
    assert MaxEvaluations(100).check(progress(evaluations=100))
    assert not MaxEvaluations(101).check(progress(evaluations=100))
    assert not MaxUpdates(1).converged(progress())


def test_standard_error_absolute_and_relative() -> None:
    assert StandardErrorBelow(0.1).check(progress())
    assert not StandardErrorBelow(0.09).check(progress())
    assert not StandardErrorBelow(0.06, relative=True).check(progress())  # 0.1 > 0.06 · 1
    assert StandardErrorBelow(0.1, relative=True).check(progress())
    assert not StandardErrorBelow(1.0, min_samples=20).check(progress(samples=10))


def test_history_deviation_compares_with_the_estimate_n_steps_back() -> None:
    rule = HistoryDeviation(n_steps=2, rtol=0.05)
    old = ((1.2, 2.0), (1.0, 2.05))
    # |1 - 1.2| + |2 - 2| = 0.2 > 0.05 · 3
    assert not rule.check(progress(history=old))
    close = ((1.01, 2.0), (5.0, 5.0))
    assert rule.check(progress(history=close))  # 0.01 <= 0.15, whatever happened in between
    assert not rule.check(progress(history=((1.0, 2.0),)))  # not enough history yet
    assert rule.history_needed == 2


def test_history_deviation_zero_vector_that_stayed_zero_is_settled() -> None:
    rule = HistoryDeviation(n_steps=1, rtol=0.01)
    assert rule.check(progress(values=(0.0, 0.0), history=((0.0, 0.0),)))


def test_or_and_compose_and_flatten() -> None:
    either = MaxUpdates(100) | StandardErrorBelow(0.5) | MaxEvaluations(5)
    both = MaxUpdates(5) & StandardErrorBelow(0.01)
    assert isinstance(either, AnyOf) and len(either.rules) == 3
    assert isinstance(both, AllOf)
    assert either.check(progress())
    assert not both.check(progress())
    assert (MaxUpdates(5) & StandardErrorBelow(0.5)).check(progress())


def test_converged_only_when_a_convergence_rule_fires() -> None:
    budget_only = MaxUpdates(5) | StandardErrorBelow(0.01)
    assert budget_only.check(progress()) and not budget_only.converged(progress())
    settled = MaxUpdates(1000) | StandardErrorBelow(0.5)
    assert settled.check(progress()) and settled.converged(progress())


def test_describe_is_stable_text() -> None:
    rule = HistoryDeviation(10, 0.01) | MaxUpdates(2000)
    assert rule.describe() == "(HistoryDeviation(n_steps=10, rtol=0.01) | MaxUpdates(2000))"


@pytest.mark.parametrize(
    "make",
    [
        lambda: MaxUpdates(0),
        lambda: MaxEvaluations(0),
        lambda: HistoryDeviation(0),
        lambda: HistoryDeviation(3, 0.0),
        lambda: StandardErrorBelow(-1.0),
    ],
)
def test_invalid_parameters_are_rejected(make: object) -> None:
    with pytest.raises(MethodError):
        make()  # type: ignore[operator]


def test_composing_with_a_non_rule_is_rejected() -> None:
    with pytest.raises(MethodError):
        AnyOf(MaxUpdates(1), 3)  # type: ignore[arg-type]


def test_evaluation_budget_ends_when_the_power_set_is_exhausted() -> None:
    assert MaxEvaluations(10**9).check(
        Progress(samples=5, evaluations=14, values=np.zeros(4), stderr=np.zeros(4), exhausted=True)
    )


def test_rule_from_options_default_is_history_or_permutation_budget() -> None:
    rule = rule_from_options(None, default_max_permutations=60)
    assert repr(rule) == repr(HistoryDeviation(10, 0.01) | MaxUpdates(60))


def test_rule_from_options_builds_each_json_budget() -> None:
    # prepare
    rule = rule_from_options(
        None,
        default_max_permutations=60,
        max_evaluations=500,
        max_permutations=30,
        rtol=0.05,
        history=3,
    )

    # act / assert: each budget stops on its own, and only the convergence rule converges
    assert rule.check(progress(samples=30, evaluations=0))
    assert rule.check(progress(samples=1, evaluations=500))
    assert not rule.check(progress(samples=29, evaluations=499))
    settled = progress(samples=1, evaluations=1, history=((1.0, 2.0),) * 3)
    assert rule.check(settled) and rule.converged(settled)
    assert not rule.converged(progress(samples=30, evaluations=0))


def test_rule_from_options_adds_budgets_to_a_given_rule() -> None:
    given = StandardErrorBelow(0.0)
    rule = rule_from_options(given, default_max_permutations=60, max_evaluations=10)
    assert rule.check(progress(samples=5, evaluations=10))
    assert not rule.check(progress(samples=5000, evaluations=9, stderr=(1.0, 1.0)))
    assert rule_from_options(given, default_max_permutations=60) is given


@pytest.mark.parametrize(
    "options",
    [
        {"max_evaluations": 0},
        {"max_permutations": 2.5},
        {"history": True},
        {"rtol": 0},
        {"rtol": "0.1"},
    ],
)
def test_rule_from_options_rejects_bad_numbers(options: dict[str, object]) -> None:
    with pytest.raises(MethodError):
        rule_from_options(None, default_max_permutations=60, **options)  # type: ignore[arg-type]


def test_rule_from_options_refuses_convergence_settings_next_to_a_rule() -> None:
    with pytest.raises(MethodError):
        rule_from_options(MaxUpdates(5), default_max_permutations=60, rtol=0.1)
