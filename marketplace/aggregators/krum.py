"""Krum and multi-Krum (Blanchard et al., NeurIPS 2017); ignore sample counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from marketplace.aggregators.base import Aggregator, flatten, stack_updates


class Krum(Aggregator):
    """Pick the ``m`` updates closest to their neighbours and average them (unweighted).

    Each update's score is the sum of squared L2 distances to its ``n − f − 2`` nearest other
    updates; the ``m`` lowest scores win, ties broken by position (i.e. by address, since the
    caller orders participants by address). ``m = 1`` is Krum, ``m > 1`` multi-Krum. The
    guarantee needs ``n > 2f + 2``; fewer updates raise ValueError.
    """

    name = "krum"

    def __init__(self, f: int = 1, m: int = 1) -> None:
        if f < 0:
            raise ValueError(f"krum f must be non-negative, got {f}")
        if m < 1:
            raise ValueError(f"krum m must be at least 1, got {m}")
        self.f = int(f)
        self.m = int(m)

    def scores(self, flat: np.ndarray) -> np.ndarray:
        """Krum score of every row of the ``(n, d)`` float64 matrix ``flat``."""
        n = flat.shape[0]
        if n <= 2 * self.f + 2:
            raise ValueError(
                f"krum with f={self.f} needs more than {2 * self.f + 2} updates, got {n}"
            )
        if self.m > n - self.f:
            raise ValueError(f"krum m={self.m} exceeds n - f = {n - self.f}")
        dist = np.zeros((n, n), dtype=np.float64)
        for i in range(n):
            for j in range(i + 1, n):
                diff = flat[i] - flat[j]
                dist[i, j] = dist[j, i] = float(np.dot(diff, diff))
        neighbours = n - self.f - 2
        out = np.empty(n, dtype=np.float64)
        for i in range(n):
            others = np.sort(np.delete(dist[i], i))
            out[i] = others[:neighbours].sum()
        return out

    def select(self, updates: Sequence[Mapping[str, np.ndarray]]) -> list[int]:
        """Indices of the selected updates, in input order (for reports)."""
        return self._select(flatten(stack_updates(updates)))

    def _select(self, flat: np.ndarray) -> list[int]:
        order = np.argsort(self.scores(flat), kind="stable")
        return sorted(int(i) for i in order[: self.m])

    def _combine(
        self, stacked: dict[str, np.ndarray], num_samples: np.ndarray
    ) -> dict[str, np.ndarray]:
        chosen = self._select(flatten(stacked))
        return {name: values[chosen].mean(axis=0) for name, values in stacked.items()}

    def params(self) -> dict[str, Any]:
        return {"f": self.f, "m": self.m}
