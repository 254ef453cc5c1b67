"""Truncated Monte Carlo Shapley (Ghorbani & Zou 2019): permutation sampling with truncation."""

from __future__ import annotations

from typing import Any

import numpy as np

from valuation.errors import MethodError
from valuation.methods.base import ValuationMethod, evaluate, run_until
from valuation.methods.permutations import permutation_marginals
from valuation.running import RunningMoments
from valuation.samplers import PermutationSampler
from valuation.stopping import StoppingRule, rule_from_options
from valuation.utility import CachedUtility


class TMCShapley(ValuationMethod):
    """Shapley values as the mean marginal contribution over random permutations.

    A permutation is truncated once ``|U(N) - U(prefix)| < tolerance · |U(N)|``: later players
    are given a zero marginal contribution without evaluating their prefixes. ``tolerance=0``
    disables truncation (the estimator is then unbiased). Permutations are drawn
    ``batch_size`` at a time and their prefixes evaluated together (see
    :mod:`valuation.methods.permutations`); the stopping rule is checked after each batch.

    The rule is ``stop`` or, by default, ``HistoryDeviation(history, rtol) |
    MaxUpdates(max_permutations)`` (defaults 10, 0.01, 2000); ``max_evaluations`` and
    ``max_permutations`` are plain-number budgets a report can record, added to either
    (see :func:`~valuation.stopping.rule_from_options`).
    """

    name = "tmc"

    def __init__(
        self,
        *,
        seed: int = 0,
        tolerance: float = 1e-3,
        stop: StoppingRule | None = None,
        batch_size: int = 16,
        antithetic: bool = False,
        prefix_chunk: int | None = None,
        max_evaluations: int | None = None,
        max_permutations: int | None = None,
        rtol: float | None = None,
        history: int | None = None,
    ) -> None:
        if not tolerance >= 0:
            raise MethodError(f"tolerance must be >= 0, got {tolerance}")
        if batch_size < 1:
            raise MethodError(f"batch_size must be >= 1, got {batch_size}")
        self.seed = seed
        self.tolerance = float(tolerance)
        self._given_stop = stop
        self.stop = rule_from_options(
            stop,
            default_max_permutations=2000,
            max_evaluations=max_evaluations,
            max_permutations=max_permutations,
            rtol=rtol,
            history=history,
        )
        self.max_evaluations = max_evaluations
        self.max_permutations = max_permutations
        self.rtol = rtol
        self.history = history
        self.batch_size = batch_size
        self.antithetic = antithetic
        self.prefix_chunk = prefix_chunk

    def params(self) -> dict[str, Any]:
        """``stop`` is ``None`` unless a rule object was given: the plain options rebuild it."""
        return {
            "seed": self.seed,
            "tolerance": self.tolerance,
            "stop": None if self._given_stop is None else self._given_stop.describe(),
            "batch_size": self.batch_size,
            "antithetic": self.antithetic,
            "prefix_chunk": self.prefix_chunk,
            "max_evaluations": self.max_evaluations,
            "max_permutations": self.max_permutations,
            "rtol": self.rtol,
            "history": self.history,
        }

    def _fit(self, utility: CachedUtility) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
        n = utility.n_players
        u_empty, u_full = evaluate(utility, [frozenset(), frozenset(range(n))]).tolist()
        threshold = self.tolerance * abs(u_full)
        chunk = self.prefix_chunk
        if chunk is None:
            chunk = n if threshold == 0 else max(1, -(-n // 4))
        sampler = PermutationSampler(self.seed, antithetic=self.antithetic)
        moments = RunningMoments(n)

        def step() -> int:
            perms = sampler.sample(n, self.batch_size)
            moments.update(
                permutation_marginals(
                    utility, perms, u_empty, u_full, threshold=threshold, chunk=chunk
                )
            )
            return self.batch_size

        samples, converged = run_until(
            self.stop, utility, step, lambda: (moments.mean, moments.stderr)
        )
        return moments.mean.copy(), moments.stderr, samples, converged
