"""Utilities: what a coalition of players is worth.

A *utility* maps a coalition (a ``frozenset`` of player indices ``0..n-1``) to a float. Methods
only ever see this interface, so the same Shapley code values a toy voting game and a round of
federated learning. A utility may also evaluate many coalitions at once (``evaluate_many``),
which the model-based utilities implement with batched matrix products; methods that know in
advance which coalitions they need (exact, leave-one-out, batches of permutations) call it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

Coalition = frozenset[int]


@runtime_checkable
class Utility(Protocol):
    """A cooperative game over players ``0..n_players-1``."""

    @property
    def n_players(self) -> int: ...

    def __call__(self, coalition: Coalition) -> float: ...

    def evaluate_many(self, coalitions: Sequence[Coalition]) -> np.ndarray:
        """Values of ``coalitions`` in order, as a float64 array."""
        ...


class FunctionUtility:
    """Wraps a plain ``frozenset[int] -> float`` callable as a :class:`Utility`."""

    def __init__(self, fn: Callable[[Coalition], float], n_players: int) -> None:
        if n_players < 1:
            raise ValueError(f"a game needs at least one player, got {n_players}")
        self._fn = fn
        self._n = n_players

    @property
    def n_players(self) -> int:
        return self._n

    def __call__(self, coalition: Coalition) -> float:
        return float(self._fn(frozenset(coalition)))

    def evaluate_many(self, coalitions: Sequence[Coalition]) -> np.ndarray:
        return np.array([self(c) for c in coalitions], dtype=np.float64)


class CachedUtility:
    """Memoises another utility; counts evaluations and cache hits for reports."""

    def __init__(self, inner: Utility) -> None:
        self._inner = inner
        self._cache: dict[Coalition, float] = {}
        self.evaluations = 0
        self.cache_hits = 0

    @property
    def n_players(self) -> int:
        return self._inner.n_players

    @property
    def cache(self) -> dict[Coalition, float]:
        """Every coalition evaluated so far and its value (read-only by convention)."""
        return self._cache

    def prime(self, known: Mapping[Coalition, float]) -> None:
        """Take scores already evaluated for *this same game* (same model, updates, weights,
        validation data and score) as if evaluated here; they are not counted as evaluations."""
        self._cache.update((frozenset(c), float(v)) for c, v in known.items())

    def __call__(self, coalition: Coalition) -> float:
        key = frozenset(coalition)
        if key in self._cache:
            self.cache_hits += 1
            return self._cache[key]
        value = float(self._inner(key))
        self.evaluations += 1
        self._cache[key] = value
        return value

    def evaluate_many(self, coalitions: Sequence[Coalition]) -> np.ndarray:
        keys = [frozenset(c) for c in coalitions]
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        self.cache_hits += len(keys) - len(missing)
        if missing:
            values = np.asarray(self._inner.evaluate_many(missing), dtype=np.float64)
            self.evaluations += len(missing)
            self._cache.update(zip(missing, values.tolist(), strict=True))
        return np.array([self._cache[k] for k in keys], dtype=np.float64)


def as_utility(utility: Utility | Callable[[Coalition], float], n_players: int) -> Utility:
    """Accept either a full :class:`Utility` or a bare callable."""
    if isinstance(utility, Utility):
        return utility
    return FunctionUtility(utility, n_players)


def all_coalitions(n: int) -> Iterable[Coalition]:
    """Every subset of ``range(n)``, ordered by bitmask (bit i set ⇔ player i present)."""
    for mask in range(1 << n):
        yield frozenset(i for i in range(n) if mask >> i & 1)
