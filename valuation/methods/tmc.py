"""Truncated Monte Carlo Shapley (Ghorbani & Zou 2019): permutation sampling with truncation."""

from __future__ import annotations

from typing import Any

import numpy as np

from valuation.errors import MethodError
from valuation.methods.base import ValuationMethod, evaluate, run_until
from valuation.methods.permutations import permutation_marginals
from valuation.running import RunningMoments
from valuation.samplers import PermutationSampler
from valuation.stopping import HistoryDeviation, MaxUpdates, StoppingRule
from valuation.utility import CachedUtility


class TMCShapley(ValuationMethod):
    """Shapley values as the mean marginal contribution over random permutations.

    A permutation is truncated once ``|U(N) - U(prefix)| < tolerance · |U(N)|``: later players
    are given a zero marginal contribution without evaluating their prefixes. ``tolerance=0``
    disables truncation (the estimator is then unbiased). Permutations are drawn
    ``batch_size`` at a time and their prefixes evaluated together (see
    :mod:`valuation.methods.permutations`); the stopping rule is checked after each batch.
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
    ) -> None:
        if not tolerance >= 0:
            raise MethodError(f"tolerance must be >= 0, got {tolerance}")
        if batch_size < 1:
            raise MethodError(f"batch_size must be >= 1, got {batch_size}")
        self.seed = seed
        self.tolerance = float(tolerance)
        self.stop = stop if stop is not None else HistoryDeviation(10, 0.01) | MaxUpdates(2000)
        self.batch_size = batch_size
        self.antithetic = antithetic
        self.prefix_chunk = prefix_chunk

    def params(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "tolerance": self.tolerance,
            "stop": self.stop.describe(),
            "batch_size": self.batch_size,
            "antithetic": self.antithetic,
            "prefix_chunk": self.prefix_chunk,
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
