"""Multi-round accumulation of per-round values: plain sum or exponentially decayed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from valuation.errors import GameError


def accumulate(rounds: Iterable[Any], decay: float = 1.0) -> np.ndarray:
    """``Σ_r decay^(R-1-r) · v_r`` over rounds ``r = 0..R-1`` (the latest round weighs 1).

    ``decay=1`` is the plain sum; ``decay < 1`` lets old rounds fade, so a participant's
    standing follows its recent contributions.
    """
    acc: Accumulator | None = None
    for values in rounds:
        v = np.asarray(values, dtype=np.float64)
        if acc is None:
            acc = Accumulator(v.shape[0] if v.ndim == 1 else -1, decay)
        acc.add(v)
    if acc is None:
        raise GameError("accumulate needs at least one round")
    return acc.total


class Accumulator:
    """Running (decayed) total of per-round values for a fixed set of players."""

    def __init__(self, n_players: int, decay: float = 1.0) -> None:
        if n_players < 1:
            raise GameError(f"need at least one player, got {n_players}")
        if not 0.0 < decay <= 1.0:
            raise GameError(f"decay must be in (0, 1], got {decay}")
        self.decay = float(decay)
        self.rounds = 0
        self._total = np.zeros(n_players, dtype=np.float64)

    def add(self, values: Any) -> None:
        v = np.asarray(values, dtype=np.float64)
        if v.shape != self._total.shape:
            raise GameError(f"round values have shape {v.shape}, expected {self._total.shape}")
        if not np.all(np.isfinite(v)):
            raise GameError("round values must be finite")
        self._total = self._total * self.decay + v
        self.rounds += 1

    @property
    def total(self) -> np.ndarray:
        return self._total.copy()
