"""Banzhaf values: exact from the power set, or sampled with maximum sample reuse (MSR)."""

from __future__ import annotations

from typing import Any

import numpy as np

from valuation.errors import MethodError
from valuation.methods.base import ValuationMethod, evaluate, run_until
from valuation.methods.exact import marginal_differences, power_set_utilities
from valuation.running import RunningMoments
from valuation.samplers import UniformSubsetSampler, masks_to_coalitions
from valuation.stopping import HistoryDeviation, MaxUpdates, StoppingRule
from valuation.utility import CachedUtility


def banzhaf_from_utilities(u: np.ndarray, n: int) -> np.ndarray:
    """``β_i = 2^-(n-1) Σ_{S ∌ i} (u(S ∪ {i}) - u(S))`` from ``u[mask]`` for all masks."""
    pairs = marginal_differences(np.asarray(u, dtype=np.float64), n)
    return np.array([float(diffs.mean()) for diffs, _ in pairs], dtype=np.float64)


class ExactBanzhaf(ValuationMethod):
    """Banzhaf values from every coalition's utility."""

    name = "banzhaf-exact"

    def __init__(self, *, chunk: int = 1 << 14) -> None:
        self.chunk = chunk

    def params(self) -> dict[str, Any]:
        return {"chunk": self.chunk}

    def _fit(self, utility: CachedUtility) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
        n = utility.n_players
        u = power_set_utilities(utility, chunk=self.chunk)
        return banzhaf_from_utilities(u, n), None, 1 << n, True


class MSRBanzhaf(ValuationMethod):
    """Banzhaf values by maximum sample reuse (Wang & Jia 2023, "Data Banzhaf").

    Each uniformly drawn subset S is evaluated once and serves every player: it is a sample of
    ``E[U(S) | i ∈ S]`` for members and of ``E[U(S) | i ∉ S]`` for the others, and
    ``β_i = E[U | i ∈ S] - E[U | i ∉ S]``. Subsets are drawn ``batch_size`` at a time and
    evaluated in one ``evaluate_many`` call.
    """

    name = "banzhaf-msr"

    def __init__(
        self, *, seed: int = 0, stop: StoppingRule | None = None, batch_size: int = 256
    ) -> None:
        if batch_size < 1:
            raise MethodError(f"batch_size must be >= 1, got {batch_size}")
        self.seed = seed
        self._given_stop = stop
        self.stop = stop if stop is not None else HistoryDeviation(10, 0.01) | MaxUpdates(20_000)
        self.batch_size = batch_size

    def params(self) -> dict[str, Any]:
        """``stop`` is ``None`` for the default rule, so the params rebuild the method."""
        stop = None if self._given_stop is None else self.stop.describe()
        return {"seed": self.seed, "stop": stop, "batch_size": self.batch_size}

    def _fit(self, utility: CachedUtility) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
        n = utility.n_players
        sampler = UniformSubsetSampler(self.seed)
        inside, outside = RunningMoments(n), RunningMoments(n)

        def step() -> int:
            members = sampler.sample(n, self.batch_size)
            u = evaluate(utility, masks_to_coalitions(members))
            grid = np.broadcast_to(u[:, None], members.shape)
            inside.update(grid, members)
            outside.update(grid, ~members)
            return self.batch_size

        def estimates() -> tuple[np.ndarray, np.ndarray]:
            values = inside.mean - outside.mean
            stderr = np.sqrt(inside.stderr**2 + outside.stderr**2)
            return values, stderr

        samples, converged = run_until(self.stop, utility, step, estimates)
        values, stderr = estimates()
        return values, stderr, samples, converged
