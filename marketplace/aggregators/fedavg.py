"""FedAvg: the sample-weighted mean of the updates (McMahan et al., 2017)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from marketplace.aggregators.base import Aggregator, check_num_samples, linear_combine


class FedAvg(Aggregator):
    """``Σ n_i Δ_i / Σ n_i`` with ``n_i = min(num_samples_i, max_samples)``.

    This is exactly the grand-coalition model of the valuation,
    ``θ_N = θ_prev + Σ n_i Δ_i / Σ n_i``. Order of operations (for anyone reproducing the
    bytes): per tensor, ``acc = 0.0`` (float64); for each participant in the given order,
    ``acc += float64(n_i) * float64(Δ_i)``; then ``acc / float64(Σ n_i)``, cast to float32.
    The task's cap (``max_samples``) means an inflated self-reported count buys no influence
    beyond it; pass counts that are already capped, or set the cap here, the result is the same.
    """

    name = "fedavg"

    def __init__(self, max_samples: int | None = None) -> None:
        if max_samples is not None and max_samples < 1:
            raise ValueError(f"max_samples must be positive, got {max_samples}")
        self.max_samples = None if max_samples is None else int(max_samples)

    def weights(self, num_samples: np.ndarray) -> np.ndarray:
        """The (capped) integer weights ``n_i``."""
        counts = np.asarray(num_samples, dtype=np.int64)
        return counts if self.max_samples is None else np.minimum(counts, self.max_samples)

    def _combine(
        self, stacked: dict[str, np.ndarray], num_samples: np.ndarray
    ) -> dict[str, np.ndarray]:
        weights = self.weights(num_samples).astype(np.float64)
        if not weights.sum() > 0:
            raise ValueError("FedAvg needs a positive total sample count")
        return linear_combine(stacked, weights, weights)

    def coalition_rule(
        self,
        updates: Sequence[Mapping[str, np.ndarray]],
        num_samples: Sequence[int],
        losses: Sequence[float] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``c = h = n`` (capped): the valuation's coalitions weigh members by the same counts."""
        weights = self.weights(check_num_samples(num_samples, len(updates))).astype(np.float64)
        if not weights.sum() > 0:
            raise ValueError("FedAvg needs a positive total sample count")
        return weights, weights.copy()

    def params(self) -> dict[str, Any]:
        return {} if self.max_samples is None else {"max_samples": self.max_samples}
