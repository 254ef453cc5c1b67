"""GTG-Shapley (Liu et al. 2022): guided, truncated permutation sampling for one FL round."""

from __future__ import annotations

from typing import Any

import numpy as np

from valuation.errors import MethodError
from valuation.methods.base import ValuationMethod, evaluate, run_until
from valuation.methods.permutations import permutation_marginals
from valuation.running import RunningMoments
from valuation.samplers import GuidedPermutationSampler
from valuation.stopping import HistoryDeviation, MaxUpdates, StoppingRule
from valuation.utility import CachedUtility


class GTGShapley(ValuationMethod):
    """Guided Truncation Gradient Shapley for one round of federated learning.

    * Between-round truncation: if ``|U(N) - U(∅)| <= round_tolerance`` (the round barely
      changed the model) every value is zero and nothing else is evaluated.
    * Within-round truncation: along a permutation, once ``|U(N) - U(prefix)| < tolerance``
      the remaining players get zero marginal contribution. Both thresholds are absolute, in
      the utility's units (e.g. accuracy), as in the paper.
    * Guided sampling: each iteration draws n permutations, the k-th starting with player k
      (:class:`~valuation.samplers.GuidedPermutationSampler`), evaluated as one batch.
    * Convergence: the running average is checked after every iteration by ``stop``, by default
      ``HistoryDeviation(10, 0.01) | MaxUpdates(100·n)`` (relative change of the running
      average over the last 10 iterations at most 1 %, or 100 iterations).
    """

    name = "gtg"

    def __init__(
        self,
        *,
        seed: int = 0,
        round_tolerance: float = 1e-4,
        tolerance: float = 1e-4,
        stop: StoppingRule | None = None,
        prefix_chunk: int | None = None,
    ) -> None:
        if not round_tolerance >= 0 or not tolerance >= 0:
            raise MethodError("GTG tolerances must be >= 0")
        self.seed = seed
        self.round_tolerance = float(round_tolerance)
        self.tolerance = float(tolerance)
        self.stop = stop
        self.prefix_chunk = prefix_chunk

    def _stop(self, n: int) -> StoppingRule:
        return (
            self.stop if self.stop is not None else HistoryDeviation(10, 0.01) | MaxUpdates(100 * n)
        )

    def params(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "round_tolerance": self.round_tolerance,
            "tolerance": self.tolerance,
            "stop": None if self.stop is None else self.stop.describe(),
            "prefix_chunk": self.prefix_chunk,
        }

    def _fit(self, utility: CachedUtility) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
        n = utility.n_players
        u_empty, u_full = evaluate(utility, [frozenset(), frozenset(range(n))]).tolist()
        if abs(u_full - u_empty) <= self.round_tolerance:
            return np.zeros(n), np.zeros(n), 0, True
        chunk = self.prefix_chunk
        if chunk is None:
            chunk = n if self.tolerance == 0 else max(1, -(-n // 4))
        sampler = GuidedPermutationSampler(self.seed)
        moments = RunningMoments(n)

        def step() -> int:
            perms = sampler.sample(n)
            moments.update(
                permutation_marginals(
                    utility, perms, u_empty, u_full, threshold=self.tolerance, chunk=chunk
                )
            )
            return n

        samples, converged = run_until(
            self._stop(n), utility, step, lambda: (moments.mean, moments.stderr)
        )
        return moments.mean.copy(), moments.stderr, samples, converged
