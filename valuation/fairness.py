"""Per-round fairness metrics: Jain's index, the Gini coefficient, contribution–reward correlation.

Edge cases are defined rather than left to produce NaN:

* ``jain_index`` of an all-zero vector is 1.0 (everybody got the same: nothing), and of an
  empty vector 1.0; it needs non-negative amounts.
* ``gini`` of an all-zero or empty vector is 0.0 (perfect equality); non-negative amounts.
* ``pearson`` of two vectors where *both* are constant (or with fewer than two entries) is 1.0:
  equal contributions got equal rewards, which is exactly proportional. When only one of the
  two is constant the correlation is undefined and reported as 0.0 (no linear relation).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from valuation.errors import AllocationError


def _amounts(x: Any, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim != 1 or not np.all(np.isfinite(a)):
        raise AllocationError(f"{name} must be a finite 1-d vector")
    return a


def jain_index(x: Any) -> float:
    """``(Σx)² / (n Σx²)``: 1 when everybody gets the same, 1/n when one gets everything."""
    a = _amounts(x, "amounts")
    if np.any(a < 0):
        raise AllocationError("Jain's index is defined for non-negative amounts")
    squares = float(np.sum(a * a))
    if a.size == 0 or squares == 0.0:
        return 1.0
    return float(np.sum(a)) ** 2 / (a.size * squares)


def gini(x: Any) -> float:
    """Gini coefficient ``Σ_i Σ_j |x_i - x_j| / (2 n² mean)``: 0 equal, (n-1)/n one takes all.

    Computed from the sorted vector in O(n log n).
    """
    a = _amounts(x, "amounts")
    if np.any(a < 0):
        raise AllocationError("the Gini coefficient is defined for non-negative amounts")
    total = float(np.sum(a))
    if a.size == 0 or total == 0.0:
        return 0.0
    s = np.sort(a)
    n = s.size
    ranks = np.arange(1, n + 1, dtype=np.float64)
    return float(np.sum((2.0 * ranks - n - 1.0) * s) / (n * total))


def pearson(contributions: Any, rewards: Any) -> float:
    """Pearson correlation between contributions and rewards, in [-1, 1]; see module notes."""
    x = _amounts(contributions, "contributions")
    y = _amounts(rewards, "rewards")
    if x.shape != y.shape:
        raise AllocationError(f"contributions {x.shape} and rewards {y.shape} differ in length")
    if x.size < 2:
        return 1.0
    dx, dy = x - x.mean(), y - y.mean()
    sx, sy = float(np.sqrt(np.sum(dx * dx))), float(np.sqrt(np.sum(dy * dy)))
    x_const = sx == 0.0 or np.all(x == x[0])
    y_const = sy == 0.0 or np.all(y == y[0])
    if x_const and y_const:
        return 1.0
    if x_const or y_const:
        return 0.0
    return float(np.clip(np.sum(dx * dy) / (sx * sy), -1.0, 1.0))


def fairness_metrics(contributions: Any, rewards: Any) -> dict[str, float]:
    """The three per-round figures a valuation report carries."""
    return {
        "jain": jain_index(rewards),
        "gini": gini(rewards),
        "pearson": pearson(contributions, rewards),
    }
