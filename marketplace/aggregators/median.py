"""Coordinate-wise median of the updates (Yin et al., 2018); ignores sample counts."""

from __future__ import annotations

import numpy as np

from marketplace.aggregators.base import Aggregator


class Median(Aggregator):
    """Each coordinate is the median of the participants' values (mean of the two middle ones
    when their number is even). Robust to fewer than half of the updates being arbitrary;
    self-reported sample counts buy no influence."""

    name = "median"

    def _combine(
        self, stacked: dict[str, np.ndarray], num_samples: np.ndarray
    ) -> dict[str, np.ndarray]:
        return {name: np.median(values, axis=0) for name, values in stacked.items()}
