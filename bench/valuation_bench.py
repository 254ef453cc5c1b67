"""Valuation speed figures, each printed as a ratio against a baseline measured in the same run.

    .venv/bin/python bench/valuation_bench.py

Targets from the design: exact Shapley for n=16 (65,536 coalitions) well under a second given
the utilities; allocation for 1,000 participants well under 10 ms. Absolute times are printed
too, but only the ratios are comparable across machines.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence

import numpy as np

from valuation import ExactShapley, GTGShapley, TMCShapley, allocate, shapley_from_utilities
from valuation.utility import Coalition


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """Best wall time of ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def naive_shapley(u: np.ndarray, n: int) -> np.ndarray:
    """Baseline: the textbook double loop over players and coalitions."""
    values = np.zeros(n)
    for i in range(n):
        bit = 1 << i
        for mask in range(1 << n):
            if not mask & bit:
                s = bin(mask).count("1")
                weight = math.factorial(s) * math.factorial(n - s - 1) / math.factorial(n)
                values[i] += weight * (u[mask | bit] - u[mask])
    return values


def float_proportional(values: np.ndarray, budget: int) -> np.ndarray:
    """Baseline: float shares, floor, and leftover by argsort of remainders (no exactness)."""
    v = np.maximum(values, 0)
    shares = budget * v / v.sum()
    floors = np.floor(shares).astype(np.int64)
    order = np.argsort(-(shares - floors), kind="stable")
    floors[order[: budget - int(floors.sum())]] += 1
    return floors


class LinearBatchUtility:
    """A utility whose evaluate_many is one matrix product (what the model utility does)."""

    def __init__(self, weights: np.ndarray) -> None:
        self.weights = weights

    @property
    def n_players(self) -> int:
        return int(self.weights.shape[0])

    def __call__(self, coalition: Coalition) -> float:
        return float(np.sqrt(sum(self.weights[i] for i in coalition)))

    def evaluate_many(self, coalitions: Sequence[Coalition]) -> np.ndarray:
        members = np.zeros((len(coalitions), self.n_players))
        for row, c in enumerate(coalitions):
            members[row, list(c)] = 1.0
        return np.sqrt(members @ self.weights)


def main() -> None:
    n = 16
    u = np.random.default_rng(0).random(1 << n)
    fast = best_of(lambda: shapley_from_utilities(u, n))
    slow = best_of(lambda: naive_shapley(u, n), repeat=1)
    assert np.allclose(shapley_from_utilities(u, n), naive_shapley(u, n))
    print(
        f"exact Shapley n=16 from utilities: {fast * 1e3:8.2f} ms "
        f"(naive loop {slow * 1e3:8.1f} ms, speed-up x{slow / fast:,.0f})"
    )

    game = LinearBatchUtility(np.random.default_rng(1).random(n))
    end_to_end = best_of(lambda: ExactShapley().fit(game), repeat=2)
    print(
        f"exact Shapley n=16 end to end (65,536 coalitions, batched utility): "
        f"{end_to_end * 1e3:8.1f} ms"
    )

    values = np.random.default_rng(2).normal(size=1000)
    budget = 10**18
    exact_alloc = best_of(lambda: allocate(values, budget), repeat=20)
    float_alloc = best_of(lambda: float_proportional(values, budget), repeat=20)
    capped = best_of(lambda: allocate(values, budget, cap=budget // 200), repeat=20)
    print(
        f"allocate 1,000 participants (exact integers): {exact_alloc * 1e3:6.2f} ms; "
        f"with cap {capped * 1e3:6.2f} ms; float baseline {float_alloc * 1e3:6.3f} ms "
        f"(ratio x{exact_alloc / float_alloc:,.1f})"
    )

    n = 12
    game = LinearBatchUtility(np.random.default_rng(3).random(n))
    exact = ExactShapley().fit(game)
    for name, method in [
        ("tmc", TMCShapley(seed=0, tolerance=0.01)),
        ("tmc (no truncation)", TMCShapley(seed=0, tolerance=0.0)),
        ("gtg", GTGShapley(seed=0, tolerance=0.01)),
    ]:
        result = method.fit(game)
        error = float(np.max(np.abs(result.values - exact.values)))
        print(
            f"{name:>20}: {result.evaluations:5d} evaluations vs {exact.evaluations} exact, "
            f"{result.samples} permutations, max error {error:.4f}, converged {result.converged}"
        )


if __name__ == "__main__":
    main()
