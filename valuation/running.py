"""Running per-player means and variances, updated a whole batch of samples at a time."""

from __future__ import annotations

import numpy as np


class RunningMoments:
    """Count, mean and sum of squared deviations per player (Chan et al.'s batch merge).

    Merging batch statistics instead of adding samples one by one keeps the update vectorised
    and is numerically as stable as Welford's algorithm. The arithmetic order depends only on
    the batches, so equal inputs give bit-identical estimates.
    """

    def __init__(self, n_players: int) -> None:
        self.count = np.zeros(n_players, dtype=np.int64)
        self.mean = np.zeros(n_players, dtype=np.float64)
        self._m2 = np.zeros(n_players, dtype=np.float64)

    def update(self, samples: np.ndarray, present: np.ndarray | None = None) -> None:
        """Add a ``(k, n)`` batch; ``present`` (same shape, bool) masks out entries that are
        not samples of that player (used by Banzhaf MSR, where each subset is a sample of
        ``U(S)`` for the players in ``S`` and of ``U(S)`` without them for the others)."""
        samples = np.asarray(samples, dtype=np.float64)
        if samples.size == 0:
            return
        if present is None:
            k = np.full(samples.shape[1], samples.shape[0], dtype=np.int64)
            batch_mean = samples.mean(axis=0)
            batch_m2 = ((samples - batch_mean) ** 2).sum(axis=0)
        else:
            weights = present.astype(np.float64)
            k = present.sum(axis=0).astype(np.int64)
            safe = np.maximum(k, 1)
            batch_mean = (samples * weights).sum(axis=0) / safe
            batch_m2 = (((samples - batch_mean) ** 2) * weights).sum(axis=0)
        total = self.count + k
        has = k > 0
        delta = batch_mean - self.mean
        ratio = np.divide(k, total, out=np.zeros_like(self.mean), where=total > 0)
        self.mean = np.where(has, self.mean + delta * ratio, self.mean)
        self._m2 = np.where(has, self._m2 + batch_m2 + delta**2 * self.count * ratio, self._m2)
        self.count = total

    @property
    def variance(self) -> np.ndarray:
        """Unbiased sample variance; ``inf`` where fewer than two samples were seen."""
        out = np.full_like(self.mean, np.inf)
        ok = self.count > 1
        out[ok] = self._m2[ok] / (self.count[ok] - 1)
        return out

    @property
    def stderr(self) -> np.ndarray:
        """Standard error of each mean; ``inf`` where fewer than two samples were seen."""
        out = np.full_like(self.mean, np.inf)
        ok = self.count > 1
        out[ok] = np.sqrt(np.maximum(self._m2[ok], 0.0) / (self.count[ok] - 1) / self.count[ok])
        return out
