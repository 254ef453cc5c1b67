"""Exact Shapley values from the utilities of all 2^n coalitions, in one vectorised pass."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from valuation.errors import GameError
from valuation.methods.base import ValuationMethod, evaluate
from valuation.samplers import PowerSetSampler
from valuation.utility import CachedUtility, Utility

MAX_EXACT_PLAYERS = 22


def power_set_utilities(utility: Utility, *, chunk: int = 1 << 14) -> np.ndarray:
    """``u[mask]`` for every coalition (bit i of ``mask`` set ⇔ player i in it).

    Coalitions go to ``evaluate_many`` in chunks of ``chunk`` so memory stays bounded while
    batched utilities still see large batches.
    """
    n = utility.n_players
    if n > MAX_EXACT_PLAYERS:
        raise GameError(
            f"exact methods evaluate 2^n coalitions; n={n} is above the limit of "
            f"{MAX_EXACT_PLAYERS}: use a sampled method"
        )
    out = np.empty(1 << n, dtype=np.float64)
    for start, coalitions in PowerSetSampler(chunk).chunks(n):
        out[start : start + len(coalitions)] = evaluate(utility, coalitions)
    return out


def marginal_differences(u: np.ndarray, n: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """For each player i in turn: ``u[S ∪ {i}] - u[S]`` over all S not containing i, and ``|S|``.

    Viewing ``u`` as an n-dimensional 2×2×…×2 array (bitmask order: bit i is axis n-1-i),
    "with i" and "without i" are the two slices along one axis, so each player's 2^(n-1)
    differences are one array subtraction. Players are yielded one at a time so memory stays
    O(2^n) even for 20+ players.
    """
    if u.shape != (1 << n,):
        raise GameError(f"need 2^{n} = {1 << n} utilities, got {u.shape}")
    masks = np.arange(1 << n, dtype=np.int64)
    popcount = np.zeros(1 << n, dtype=np.int64)
    for bit in range(n):
        popcount += (masks >> bit) & 1
    cube = u.reshape((2,) * n)
    size_cube = popcount.reshape((2,) * n)
    for i in range(n):
        axis = n - 1 - i
        diffs = np.take(cube, 1, axis=axis) - np.take(cube, 0, axis=axis)
        yield diffs.ravel(), np.take(size_cube, 0, axis=axis).ravel()


def shapley_from_utilities(u: np.ndarray, n: int) -> np.ndarray:
    """Exact Shapley values from ``u[mask]`` for all ``2^n`` coalitions.

    ``φ_i = Σ_{S ∌ i} |S|!(n-|S|-1)!/n! · (u(S ∪ {i}) - u(S))``. Differences are first summed
    per coalition size (``bincount``), then weighted by ``1 / (n · C(n-1, s))``: n weights
    instead of 2^(n-1) multiplications per player, and less rounding.
    """
    u = np.asarray(u, dtype=np.float64)
    weights = np.array([1.0 / (n * math.comb(n - 1, s)) for s in range(n)], dtype=np.float64)
    values = np.empty(n, dtype=np.float64)
    for i, (diffs, sizes) in enumerate(marginal_differences(u, n)):
        values[i] = float(np.bincount(sizes, weights=diffs, minlength=n) @ weights)
    return values


class ExactShapley(ValuationMethod):
    """Shapley values from every coalition's utility; exact, for up to ~20 players."""

    name = "exact"

    def __init__(self, *, chunk: int = 1 << 14) -> None:
        self.chunk = chunk

    def params(self) -> dict[str, Any]:
        return {"chunk": self.chunk}

    def _fit(self, utility: CachedUtility) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
        n = utility.n_players
        u = power_set_utilities(utility, chunk=self.chunk)
        return shapley_from_utilities(u, n), None, 1 << n, True
