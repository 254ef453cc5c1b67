"""Samplers: which permutations or coalitions a method looks at, reproducibly from a seed.

Every random sampler owns a ``numpy.random.Generator(PCG64(seed))``, so the same seed yields the
same sequence of samples on every machine (what lets an auditor replay a valuation). Samplers
return whole batches as integer arrays, so methods can evaluate many coalitions at once.

``PermutationSampler``         uniform permutations, optionally antithetic (π then reversed π)
``GuidedPermutationSampler``   GTG-Shapley's guided permutations: round k puts each player first once
``LatinPermutationSampler``     blocks of n permutations putting every player in every position once
``UniformSubsetSampler``       subsets with each player present with probability 1/2 (Banzhaf/MSR)
``PowerSetSampler``            every coalition, deterministically, as bitmasks in chunks
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from valuation.errors import GameError
from valuation.utility import Coalition


def make_rng(seed: int) -> np.random.Generator:
    """The one way ``valuation`` turns a seed into randomness."""
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise GameError(f"seed must be a non-negative integer, got {seed!r}")
    return np.random.Generator(np.random.PCG64(int(seed)))


class PermutationSampler:
    """Uniformly random permutations of ``0..n-1``.

    With ``antithetic=True`` every second permutation is the reverse of the one before, which
    pairs a player's early and late positions and usually lowers the estimator's variance.
    """

    def __init__(self, seed: int = 0, *, antithetic: bool = False) -> None:
        self.seed = seed
        self.antithetic = antithetic
        self._rng = make_rng(seed)
        self._pending: np.ndarray | None = None

    def sample(self, n_players: int, count: int) -> np.ndarray:
        """``count`` permutations as a ``(count, n_players)`` int64 array."""
        out = np.empty((count, n_players), dtype=np.int64)
        row = 0
        while row < count:
            if self._pending is not None:
                out[row] = self._pending
                self._pending = None
            else:
                perm = self._rng.permutation(n_players)
                out[row] = perm
                if self.antithetic:
                    self._pending = perm[::-1].copy()
            row += 1
        return out


class GuidedPermutationSampler:
    """GTG-Shapley's guided sampling (Liu et al. 2022).

    Each call returns ``n`` permutations; in the k-th one player k comes first and the other
    players follow in random order. Every player thus starts a permutation equally often, so the
    marginal contribution to the empty coalition (often the largest one in federated rounds) is
    measured for everybody in every round of sampling.
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._rng = make_rng(seed)

    def sample(self, n_players: int) -> np.ndarray:
        """``(n_players, n_players)`` int64 array; row k starts with player k."""
        out = np.empty((n_players, n_players), dtype=np.int64)
        players = np.arange(n_players)
        for k in range(n_players):
            rest = np.delete(players, k)
            out[k, 0] = k
            out[k, 1:] = self._rng.permutation(rest)
        return out


class LatinPermutationSampler:
    """Position-stratified permutations: each block of ``n`` is a Latin square.

    A block is built from a uniformly random base permutation ``π`` and a uniformly random
    column order ``τ``: row ``r`` puts player ``π[(τ[p] + r) mod n]`` at position ``p``. Every row
    is a permutation, every player occupies every position exactly once per block (so, as in
    GTG-Shapley's guided sampling, every player also comes first once), and each row on its own
    is a uniformly random permutation: for a fixed player and position the set of players before
    it is a uniformly random subset of the right size, so permutation estimates stay unbiased.
    Within a block each player's marginal contribution is measured once at every coalition size,
    which removes the variance of *where* a player happened to land (in federated rounds the
    contribution to a tiny coalition dwarfs the one to a large coalition).

    With ``antithetic=True`` every second block is the previous one with each row reversed
    (still a Latin square), pairing each early position of a player with a late one.
    """

    def __init__(self, seed: int = 0, *, antithetic: bool = False) -> None:
        self.seed = seed
        self.antithetic = antithetic
        self._rng = make_rng(seed)
        self._pending: np.ndarray | None = None

    def sample(self, n_players: int) -> np.ndarray:
        """One block: an ``(n_players, n_players)`` int64 Latin square of permutations."""
        if self._pending is not None and self._pending.shape == (n_players, n_players):
            block, self._pending = self._pending, None
            return block
        base = self._rng.permutation(n_players)
        order = self._rng.permutation(n_players)
        shifts = np.arange(n_players)[:, None]
        block = base[(order[None, :] + shifts) % n_players].astype(np.int64)
        if self.antithetic:
            self._pending = block[:, ::-1].copy()
        return block


class UniformSubsetSampler:
    """Subsets drawn uniformly from the power set (each player in with probability 1/2)."""

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._rng = make_rng(seed)

    def sample(self, n_players: int, count: int) -> np.ndarray:
        """``(count, n_players)`` boolean membership matrix."""
        return self._rng.random((count, n_players)) < 0.5


class PowerSetSampler:
    """Every coalition of ``n`` players, ordered by bitmask (bit i set ⇔ player i present).

    Deterministic; yields ``(start, coalitions)`` chunks of at most ``chunk`` coalitions so a
    method can evaluate the power set in a few large batches with bounded memory.
    """

    def __init__(self, chunk: int = 1 << 14) -> None:
        if chunk < 1 or chunk & (chunk - 1):
            raise GameError(f"chunk must be a positive power of two, got {chunk}")
        self.chunk = chunk

    def chunks(self, n_players: int) -> Iterator[tuple[int, list[Coalition]]]:
        total = 1 << n_players
        size = min(self.chunk, total)
        low_bits = size.bit_length() - 1
        low = _coalitions_of_low_masks(low_bits)
        for start in range(0, total, size):
            high = frozenset(i for i in range(low_bits, n_players) if start >> i & 1)
            yield start, [high | s for s in low] if high else list(low)


def _coalitions_of_low_masks(bits: int) -> list[Coalition]:
    """Coalitions for masks ``0..2**bits-1``, each built from a smaller one (one union each)."""
    sets: list[Coalition] = [frozenset()] * (1 << bits)
    for mask in range(1, 1 << bits):
        lowest = mask & -mask
        sets[mask] = sets[mask ^ lowest] | {lowest.bit_length() - 1}
    return sets


def masks_to_coalitions(members: np.ndarray) -> list[Coalition]:
    """Rows of a boolean ``(k, n)`` membership matrix as coalitions."""
    return [frozenset(np.flatnonzero(row).tolist()) for row in members]
