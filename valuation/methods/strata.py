"""Shapley values stratified by coalition size, from every marginal pair already in a cache.

``φ_i = (1/n) Σ_k m_{i,k}`` where ``m_{i,k}`` is the mean of ``u(S ∪ {i}) − u(S)`` over the
``C(n−1, k)`` coalitions ``S ⊆ N∖{i}`` of size ``k``. :class:`SizeStrata` estimates each
``m_{i,k}`` by the mean over *every* pair ``(S, S ∪ {i})`` whose two utilities are in the cache,
not only over the pairs a sampler visited as consecutive prefixes: any coalition evaluated for one
player's marginal is reused for every other player it pairs with, at no cost.

Why this stays unbiased: when the coalitions in the cache were chosen by a procedure that treats
players symmetrically and ignores utility values (uniform or Latin-square permutations, size-wise
enumeration), the set of cached pairs in stratum ``(i, k)`` is exchangeable under relabelling of
``N∖{i}``, so its mean has expectation ``m_{i,k}``. A stratum whose every subset is cached is
exact, and its standard error is zero (finite-population correction).

A stratum with no cached pair at all counts as zero (GTG's within-round truncation assumption:
the players after a truncation point add nothing).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import numpy as np

from valuation.utility import Coalition


class SizeStrata:
    """Per-player, per-size sums of cached marginal contributions, updated incrementally.

    Call :meth:`absorb` with the (insertion-ordered, grow-only) cache dict after each batch of
    evaluations; only the entries added since the last call are looked at, each paired with
    its ``n`` neighbours (one player added or removed), so the cost is ``O(n)`` per coalition.
    """

    def __init__(self, n_players: int) -> None:
        self.n = n_players
        self.sums = np.zeros((n_players, n_players), dtype=np.float64)
        self.squares = np.zeros((n_players, n_players), dtype=np.float64)
        self.counts = np.zeros((n_players, n_players), dtype=np.int64)
        self._values: dict[int, float] = {}
        self._seen = 0
        self._population = np.array(
            [math.comb(n_players - 1, k) for k in range(n_players)], dtype=np.float64
        )

    def absorb(self, cache: Mapping[Coalition, float]) -> None:
        """Add every marginal pair that a coalition new to ``cache`` completes."""
        bits = [1 << i for i in range(self.n)]
        for coalition, value in itertools.islice(cache.items(), self._seen, None):
            mask = 0
            for member in coalition:
                mask |= bits[member]
            if mask in self._values:
                continue
            size = len(coalition)
            for i, bit in enumerate(bits):
                other = self._values.get(mask ^ bit)
                if other is None:
                    continue
                if mask & bit:  # this coalition is S ∪ {i}, the cached one is S (size - 1)
                    self._add(i, size - 1, value - other)
                else:  # this coalition is S, the cached one is S ∪ {i}
                    self._add(i, size, other - value)
            self._values[mask] = value
        self._seen = len(cache)

    def _add(self, player: int, size: int, diff: float) -> None:
        self.sums[player, size] += diff
        self.squares[player, size] += diff * diff
        self.counts[player, size] += 1

    def estimate(self) -> tuple[np.ndarray, np.ndarray]:
        """Values and standard errors; an empty stratum counts as zero."""
        total = self.counts
        safe = np.maximum(total, 1)
        means = self.sums / safe
        variance = np.maximum(self.squares / safe - means**2, 0.0)
        variance *= np.where(total > 1, total / np.maximum(total - 1, 1), 0.0)
        # Finite-population correction: a stratum all of whose pairs are known is exact.
        unseen = np.clip(1.0 - self.counts / self._population[None, :], 0.0, 1.0)
        stratum_var = variance / safe * unseen
        values = means.sum(axis=1) / self.n
        stderr = np.sqrt(stratum_var.sum(axis=1)) / self.n
        return values, stderr
