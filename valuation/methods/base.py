"""The small interface every valuation method implements, and helpers they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from valuation.errors import GameError
from valuation.result import ValuationResult
from valuation.stopping import Progress, StoppingRule
from valuation.utility import CachedUtility, Coalition, Utility


class ValuationMethod(ABC):
    """A way of turning a utility into per-player values.

    Methods only use the :class:`~valuation.utility.Utility` protocol and always go through a
    :class:`~valuation.utility.CachedUtility` (wrapping the given utility unless it already is
    one), so repeated coalitions cost nothing and results report evaluations and cache hits.
    """

    name: str = ""

    @abstractmethod
    def params(self) -> dict[str, Any]:
        """The method's parameters as JSON types (goes into ``ValuationResult.params``)."""

    @abstractmethod
    def _fit(self, utility: CachedUtility) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
        """Values, standard errors, number of samples, converged."""

    def fit(self, utility: Utility) -> ValuationResult:
        """Value every player of ``utility``."""
        cached = utility if isinstance(utility, CachedUtility) else CachedUtility(utility)
        if cached.n_players < 1:
            raise GameError(f"a game needs at least one player, got {cached.n_players}")
        evaluations, hits = cached.evaluations, cached.cache_hits
        values, stderr, samples, converged = self._fit(cached)
        return ValuationResult(
            values=values,
            stderr=stderr,
            method=self.name,
            evaluations=cached.evaluations - evaluations,
            cache_hits=cached.cache_hits - hits,
            samples=samples,
            converged=converged,
            params=self.params(),
        )


def evaluate(utility: Utility, coalitions: Sequence[Coalition]) -> np.ndarray:
    """``utility.evaluate_many`` with the checks every method needs (length, finiteness)."""
    if not coalitions:
        return np.zeros(0, dtype=np.float64)
    values = np.asarray(utility.evaluate_many(list(coalitions)), dtype=np.float64)
    if values.shape != (len(coalitions),):
        raise GameError(
            f"evaluate_many returned shape {values.shape} for {len(coalitions)} coalitions"
        )
    if not np.all(np.isfinite(values)):
        bad = coalitions[int(np.flatnonzero(~np.isfinite(values))[0])]
        raise GameError(f"utility of coalition {sorted(bad)} is not finite")
    return values


def run_until(
    stop: StoppingRule,
    utility: CachedUtility,
    step: Callable[[], int],
    estimates: Callable[[], tuple[np.ndarray, np.ndarray]],
) -> tuple[int, bool]:
    """Drive a sampled method: call ``step`` (returns how many samples it added) until
    ``stop`` says so. Returns the number of samples and whether a convergence rule fired."""
    start = utility.evaluations
    power_set_size = 1 << utility.n_players
    history: deque[np.ndarray] = deque(maxlen=max(1, stop.history_needed))
    samples = 0
    while True:
        samples += step()
        values, stderr = estimates()
        progress = Progress(
            samples=samples,
            evaluations=utility.evaluations - start,
            values=values,
            stderr=stderr,
            history=tuple(history),
            exhausted=len(utility.cache) >= power_set_size,
        )
        if stop.check(progress):
            return samples, stop.converged(progress)
        history.append(values.copy())
