"""Coordinate-wise trimmed mean (Yin et al., 2018); ignores sample counts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from marketplace.aggregators.base import Aggregator


class TrimmedMean(Aggregator):
    """Per coordinate, drop the ``k = floor(beta · n)`` largest and ``k`` smallest values and
    average the rest. ``beta`` lies in ``[0, 0.5)``; ``beta = 0`` is the plain (unweighted) mean."""

    name = "trimmed_mean"

    def __init__(self, beta: float = 0.1) -> None:
        if not (math.isfinite(beta) and 0.0 <= beta < 0.5):
            raise ValueError(f"trimmed_mean beta must lie in [0, 0.5), got {beta}")
        self.beta = float(beta)

    def trimmed(self, n: int) -> int:
        """How many values are dropped at each end for ``n`` participants."""
        return math.floor(self.beta * n)

    def _combine(
        self, stacked: dict[str, np.ndarray], num_samples: np.ndarray
    ) -> dict[str, np.ndarray]:
        n = next(iter(stacked.values())).shape[0]
        k = self.trimmed(n)
        out: dict[str, np.ndarray] = {}
        for name, values in stacked.items():
            ordered = np.sort(values, axis=0)
            out[name] = ordered[k : n - k].mean(axis=0)
        return out

    def params(self) -> dict[str, Any]:
        return {"beta": self.beta}
