"""Cooperative games with closed-form values, shared by the valuation tests (not a test module)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from valuation.utility import Coalition


class BatchGame:
    """A game from a ``frozenset -> float`` rule that records every ``evaluate_many`` batch."""

    def __init__(self, n: int, rule: object) -> None:
        self._n = n
        self._rule = rule
        self.batches: list[int] = []
        self.calls = 0

    @property
    def n_players(self) -> int:
        return self._n

    def __call__(self, coalition: Coalition) -> float:
        self.calls += 1
        return float(self._rule(frozenset(coalition)))  # type: ignore[operator]

    def evaluate_many(self, coalitions: Sequence[Coalition]) -> np.ndarray:
        self.batches.append(len(coalitions))
        self.calls += len(coalitions)
        return np.array([self._rule(frozenset(c)) for c in coalitions], dtype=np.float64)  # type: ignore[operator]


def additive(weights: Sequence[float]) -> BatchGame:
    """U(S) = Σ_{i∈S} w_i; Shapley = Banzhaf = w."""
    w = list(weights)
    return BatchGame(len(w), lambda s: sum(w[i] for i in s))


def unanimity(n: int, carrier: Sequence[int], scale: float = 1.0) -> BatchGame:
    """U(S) = scale if carrier ⊆ S else 0; Shapley scale/|T| on T; Banzhaf scale/2^(|T|-1)."""
    t = frozenset(carrier)
    return BatchGame(n, lambda s: scale if t <= s else 0.0)


def glove(left: Sequence[int], right: Sequence[int]) -> BatchGame:
    """U(S) = number of matched pairs = min(|S ∩ L|, |S ∩ R|)."""
    lset, rset = frozenset(left), frozenset(right)
    return BatchGame(len(lset) + len(rset), lambda s: min(len(s & lset), len(s & rset)))


def weighted_majority(quota: float, weights: Sequence[float]) -> BatchGame:
    """U(S) = 1 if Σ_{i∈S} w_i ≥ quota else 0."""
    w = list(weights)
    return BatchGame(len(w), lambda s: 1.0 if sum(w[i] for i in s) >= quota else 0.0)


def table_game(u: np.ndarray) -> BatchGame:
    """A game given by its table ``u[mask]`` over all 2^n coalitions."""
    n = int(u.shape[0]).bit_length() - 1

    def rule(s: Coalition) -> float:
        return float(u[sum(1 << i for i in s)])

    return BatchGame(n, rule)


def data_game(holdings: Sequence[frozenset[int]], scale: float = 1.0) -> BatchGame:
    """Players hold data items; a coalition is worth sqrt(#distinct items it holds) · scale.

    Two identities holding the same items are the same data to this utility, like two copies
    of one update in a federated round.
    """

    def rule(s: Coalition) -> float:
        items: set[int] = set()
        for i in s:
            items |= holdings[i]
        return scale * float(np.sqrt(len(items)))

    return BatchGame(len(holdings), rule)


def random_table(n: int, seed: int) -> np.ndarray:
    """A random game table with u(∅) = 0 (seeded numpy, for sampled-method convergence)."""
    rng = np.random.default_rng(seed)
    u = rng.normal(size=1 << n)
    # Make it grow with size a bit, like a learning curve, plus noise.
    sizes = np.array([bin(m).count("1") for m in range(1 << n)])
    u = np.sqrt(sizes) + 0.3 * u
    u[0] = 0.0
    return u
