"""Stopping rules: when a sampled estimate is good enough, composable with ``|`` and ``&``.

A method calls ``rule.check(progress)`` after each batch of samples; ``Progress`` carries the
sample and evaluation counts, the running estimates, their standard errors and the estimates
after earlier batches. Rules are either *budgets* (``MaxUpdates``, ``MaxEvaluations``: stop
whatever the estimate looks like) or *convergence criteria* (``StandardErrorBelow``,
``HistoryDeviation``: the estimate has settled). A result is reported ``converged`` only when a
convergence criterion is met, so a run cut short by its budget says so.

    rule = HistoryDeviation(n_steps=10, rtol=0.01) | MaxUpdates(2000)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from valuation.errors import MethodError


@dataclass(frozen=True)
class Progress:
    """What a stopping rule may look at; ``history[-1]`` is the estimate before this batch.

    ``exhausted`` is true once every coalition of the game has been evaluated: no evaluation
    budget can be spent any more.
    """

    samples: int
    evaluations: int
    values: np.ndarray
    stderr: np.ndarray
    history: Sequence[np.ndarray] = ()
    exhausted: bool = False


class StoppingRule(ABC):
    """Decides whether a sampled method may stop."""

    is_budget: bool = False

    @abstractmethod
    def check(self, progress: Progress) -> bool:
        """True when the method should stop."""

    @property
    def history_needed(self) -> int:
        """How many earlier estimates this rule looks back at."""
        return 0

    def converged(self, progress: Progress) -> bool:
        """True when a convergence criterion (not a budget) inside this rule is met."""
        return not self.is_budget and self.check(progress)

    def __or__(self, other: StoppingRule) -> StoppingRule:
        return AnyOf(self, other)

    def __and__(self, other: StoppingRule) -> StoppingRule:
        return AllOf(self, other)

    def describe(self) -> str:
        """A stable textual form for reports (``repr`` of the rule tree)."""
        return repr(self)


class _Composite(StoppingRule):
    def __init__(self, *rules: StoppingRule) -> None:
        flat: list[StoppingRule] = []
        for rule in rules:
            if not isinstance(rule, StoppingRule):
                raise MethodError(f"not a stopping rule: {rule!r}")
            flat.extend(rule.rules if type(rule) is type(self) else (rule,))
        self.rules: tuple[StoppingRule, ...] = tuple(flat)

    @property
    def history_needed(self) -> int:
        return max(r.history_needed for r in self.rules)

    def converged(self, progress: Progress) -> bool:
        return any(r.converged(progress) for r in self.rules)

    def __repr__(self) -> str:
        joiner = " | " if isinstance(self, AnyOf) else " & "
        return "(" + joiner.join(repr(r) for r in self.rules) + ")"


class AnyOf(_Composite):
    """Stops as soon as any of its rules does (``a | b``)."""

    def check(self, progress: Progress) -> bool:
        return any(r.check(progress) for r in self.rules)


class AllOf(_Composite):
    """Stops only when all of its rules do (``a & b``)."""

    def check(self, progress: Progress) -> bool:
        return all(r.check(progress) for r in self.rules)


class MaxUpdates(StoppingRule):
    """Budget: stop after ``n`` samples (permutations or subsets)."""

    is_budget = True

    def __init__(self, n: int) -> None:
        if n < 1:
            raise MethodError(f"MaxUpdates needs n >= 1, got {n}")
        self.n = int(n)

    def check(self, progress: Progress) -> bool:
        return progress.samples >= self.n

    def __repr__(self) -> str:
        return f"MaxUpdates({self.n})"


class MaxEvaluations(StoppingRule):
    """Budget: stop once ``n`` utility evaluations (cache misses) have been spent.

    Counts evaluations made while sampling, not the anchors ``U(∅)`` and ``U(N)`` a method
    computes first; checked after each batch, so it can be exceeded by up to one batch. It also
    stops once the whole power set is in the cache (a small game could otherwise never spend
    the budget, and sampling would never end).
    """

    is_budget = True

    def __init__(self, n: int) -> None:
        if n < 1:
            raise MethodError(f"MaxEvaluations needs n >= 1, got {n}")
        self.n = int(n)

    def check(self, progress: Progress) -> bool:
        return progress.evaluations >= self.n or progress.exhausted

    def __repr__(self) -> str:
        return f"MaxEvaluations({self.n})"


class StandardErrorBelow(StoppingRule):
    """Convergence: every player's standard error is at most ``threshold``.

    With ``relative=True`` the bound is ``threshold * |value|`` per player instead (players
    whose value is exactly zero then need a zero standard error). ``min_samples`` guards
    against the meaningless zero variance of a handful of identical early samples.
    """

    def __init__(self, threshold: float, *, relative: bool = False, min_samples: int = 10) -> None:
        if not threshold >= 0:
            raise MethodError(f"threshold must be >= 0, got {threshold}")
        self.threshold = float(threshold)
        self.relative = relative
        self.min_samples = max(2, int(min_samples))

    def check(self, progress: Progress) -> bool:
        if progress.samples < self.min_samples:
            return False
        bound = self.threshold * np.abs(progress.values) if self.relative else self.threshold
        return bool(np.all(progress.stderr <= bound))

    def __repr__(self) -> str:
        return (
            f"StandardErrorBelow({self.threshold!r}, relative={self.relative}, "
            f"min_samples={self.min_samples})"
        )


class HistoryDeviation(StoppingRule):
    """Convergence: the estimates moved little over the last ``n_steps`` checks.

    Stops when ``Σ_i |v_i(t) - v_i(t - n_steps)| <= rtol · Σ_i |v_i(t)|`` (the relative change
    of the whole vector, in the spirit of pyDVL's HistoryDeviation and of GTG-Shapley's
    convergence test on its running average). A zero vector that stayed zero counts as settled.
    """

    def __init__(self, n_steps: int = 10, rtol: float = 0.01) -> None:
        if n_steps < 1:
            raise MethodError(f"n_steps must be >= 1, got {n_steps}")
        if not rtol > 0:
            raise MethodError(f"rtol must be > 0, got {rtol}")
        self.n_steps = int(n_steps)
        self.rtol = float(rtol)

    @property
    def history_needed(self) -> int:
        return self.n_steps

    def check(self, progress: Progress) -> bool:
        if len(progress.history) < self.n_steps:
            return False
        before = progress.history[-self.n_steps]
        change = float(np.sum(np.abs(progress.values - before)))
        return change <= self.rtol * float(np.sum(np.abs(progress.values)))

    def __repr__(self) -> str:
        return f"HistoryDeviation(n_steps={self.n_steps}, rtol={self.rtol!r})"


def rule_from_options(
    stop: StoppingRule | None,
    *,
    default_max_permutations: int,
    max_evaluations: int | None = None,
    max_permutations: int | None = None,
    rtol: float | None = None,
    history: int | None = None,
) -> StoppingRule:
    """The stopping rule a sampled method runs with, from plain JSON-able options.

    Without ``stop``: ``HistoryDeviation(history or 10, rtol or 0.01)`` ``|``
    ``MaxUpdates(max_permutations or default_max_permutations)``, plus
    ``| MaxEvaluations(max_evaluations)`` when given. With ``stop``: that rule, plus the given
    budgets (``rtol``/``history`` then have nothing to configure and are refused). Numbers, not
    rule objects, are what a valuation report can record, so this is how a report states a
    budget that replays exactly.
    """
    for label, number in (
        ("max_evaluations", max_evaluations),
        ("max_permutations", max_permutations),
        ("history", history),
    ):
        if number is not None and (
            isinstance(number, bool) or not isinstance(number, int | np.integer) or number < 1
        ):
            raise MethodError(f"{label} must be a positive integer, got {number!r}")
    if rtol is not None and (
        isinstance(rtol, bool) or not isinstance(rtol, int | float) or not rtol > 0
    ):
        raise MethodError(f"rtol must be a positive number, got {rtol!r}")
    if stop is not None and (rtol is not None or history is not None):
        raise MethodError("rtol/history configure the default rule; give them without stop=")
    if stop is not None and not isinstance(stop, StoppingRule):
        raise MethodError(f"stop must be a StoppingRule, got {stop!r}")
    rules: list[StoppingRule] = []
    if stop is None:
        rules.append(
            HistoryDeviation(
                10 if history is None else int(history), 0.01 if rtol is None else float(rtol)
            )
        )
        rules.append(
            MaxUpdates(default_max_permutations if max_permutations is None else max_permutations)
        )
    else:
        rules.append(stop)
        if max_permutations is not None:
            rules.append(MaxUpdates(max_permutations))
    if max_evaluations is not None:
        rules.append(MaxEvaluations(max_evaluations))
    return rules[0] if len(rules) == 1 else AnyOf(*rules)


def evaluation_budget(rule: StoppingRule) -> int | None:
    """The evaluation count at which ``rule`` stops for sure, if it holds a ``MaxEvaluations``.

    Lets a method size its last batch so that it does not overshoot the budget.
    """
    if isinstance(rule, MaxEvaluations):
        return rule.n
    if isinstance(rule, AnyOf):
        found = [b for b in (evaluation_budget(r) for r in rule.rules) if b is not None]
        return min(found) if found else None
    if isinstance(rule, AllOf):
        every = [evaluation_budget(r) for r in rule.rules]
        return None if any(b is None for b in every) else max(b for b in every if b is not None)
    return None
