"""Duplicate identities: detect near-identical updates and value each group as one player.

Splitting one data set across several identities must not pay more than holding it under one.
Shapley values alone do not guarantee that (with two substitutes A and B, a copy of A raises
the copies' joint share from 1/2 to 2/3), so groups of (near-)duplicates are *merged* into one
player before valuation (:class:`MergedUtility`) and their value is then split among members
(:func:`split_group_values`). Allocation treats the group as one payee as well
(:func:`valuation.allocation.allocate` with ``duplicate_groups``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from valuation.config import DEFAULT_DUPLICATE_THRESHOLD
from valuation.errors import AllocationError, GameError
from valuation.utility import Coalition, Utility


def duplicate_groups(
    update_matrix: np.ndarray, threshold: float = DEFAULT_DUPLICATE_THRESHOLD
) -> list[list[int]]:
    """Groups (of two or more rows) of identical or near-identical updates.

    Rows whose bytes are identical (same sha256 of the float64 row) are duplicates, whatever
    their norm (two zero updates are duplicates); other rows are duplicates when their cosine
    similarity is at least ``threshold``. Zero rows have no direction and only match exact
    copies. Groups are closed under transitivity (union-find), sorted, and listed by their
    smallest member; players in no group are not listed.
    """
    matrix = np.ascontiguousarray(update_matrix, dtype=np.float64)
    if matrix.ndim != 2:
        raise GameError(f"update_matrix must be 2-d (n, d), got shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise GameError("update_matrix must be finite")
    if not -1.0 <= threshold <= 1.0:
        raise GameError(f"threshold is a cosine similarity in [-1, 1], got {threshold}")
    n = matrix.shape[0]
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int) -> None:
        a, b = find(i), find(j)
        if a != b:
            parent[max(a, b)] = min(a, b)

    first_by_digest: dict[bytes, int] = {}
    for i in range(n):
        digest = hashlib.sha256(matrix[i].tobytes()).digest()
        if digest in first_by_digest:
            union(first_by_digest[digest], i)
        else:
            first_by_digest[digest] = i
    norms = np.linalg.norm(matrix, axis=1)
    nonzero = np.flatnonzero(norms > 0)
    if nonzero.size > 1:
        units = matrix[nonzero] / norms[nonzero, None]
        similar = np.triu(units @ units.T >= threshold, k=1)
        for a, b in zip(*np.nonzero(similar), strict=True):
            union(int(nonzero[a]), int(nonzero[b]))
    members: dict[int, list[int]] = {}
    for i in range(n):
        members.setdefault(find(i), []).append(i)
    return sorted((g for g in members.values() if len(g) > 1), key=lambda g: g[0])


def later_duplicates(
    update_matrix: np.ndarray,
    rank: Sequence[int],
    threshold: float = DEFAULT_DUPLICATE_THRESHOLD,
) -> list[tuple[int, int, float]]:
    """The rows that duplicate an earlier-ranked row: ``(row, first, cosine)`` for each.

    Rows are grouped as by :func:`duplicate_groups`; in every group the row with the lowest
    ``rank`` (e.g. commit order; ties by row index) is the original and every other member is
    listed with that original and its cosine similarity to it (1.0 for identical bytes).
    A near-copy is thus credited to whoever committed the update first, never split.
    """
    matrix = np.ascontiguousarray(update_matrix, dtype=np.float64)
    order = [int(r) for r in rank]
    if len(order) != matrix.shape[0]:
        raise GameError(f"{len(order)} ranks for {matrix.shape[0]} updates")
    out: list[tuple[int, int, float]] = []
    for group in duplicate_groups(matrix, threshold):
        first = min(group, key=lambda i: (order[i], i))
        for i in group:
            if i != first:
                out.append((i, first, _cosine(matrix[i], matrix[first])))
    return sorted(out)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    if np.array_equal(a, b):
        return 1.0
    return float(np.dot(a, b) / norms) if norms > 0 else 0.0


def player_units(n_players: int, groups: Sequence[Sequence[int]] | None) -> list[list[int]]:
    """Partition of ``0..n-1`` into payees: each group is one unit, every other player its own.

    Units are listed by their smallest member. Groups must be disjoint and in range.
    """
    owner = [-1] * n_players
    for g, group in enumerate(groups or ()):
        for i in group:
            if not 0 <= int(i) < n_players:
                raise AllocationError(
                    f"player {i} of a duplicate group is not in 0..{n_players - 1}"
                )
            if owner[int(i)] != -1:
                raise AllocationError(f"player {i} is in two duplicate groups")
            owner[int(i)] = g
    units: dict[tuple[str, int], list[int]] = {}
    for i in range(n_players):
        key = ("group", owner[i]) if owner[i] != -1 else ("single", i)
        units.setdefault(key, []).append(i)
    return sorted(units.values(), key=lambda unit: unit[0])


class MergedUtility:
    """The game in which each duplicate group is a single player.

    Player k of the merged game is ``units[k]`` (see :func:`player_units`); a merged coalition
    stands for the union of its units' members in the original game.
    """

    def __init__(self, inner: Utility, groups: Sequence[Sequence[int]]) -> None:
        self._inner = inner
        self.units = player_units(inner.n_players, groups)

    @property
    def n_players(self) -> int:
        return len(self.units)

    def expand(self, coalition: Coalition) -> Coalition:
        """The original game's coalition for a merged one."""
        return frozenset(i for k in coalition for i in self.units[k])

    def __call__(self, coalition: Coalition) -> float:
        return float(self._inner(self.expand(coalition)))

    def evaluate_many(self, coalitions: Sequence[Coalition]) -> np.ndarray:
        return np.asarray(
            self._inner.evaluate_many([self.expand(c) for c in coalitions]), dtype=np.float64
        )


def split_group_values(unit_values: np.ndarray, units: Sequence[Sequence[int]]) -> np.ndarray:
    """Per-player values from a merged game's values: a unit's value is split equally."""
    n = sum(len(u) for u in units)
    out = np.zeros(n, dtype=np.float64)
    for value, unit in zip(np.asarray(unit_values, dtype=np.float64), units, strict=True):
        out[list(unit)] = value / len(unit)
    return out
