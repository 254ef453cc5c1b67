"""One-call valuation: ``shapley_values(utility, n)`` and ``value(...)`` for the full record.

Methods are chosen by name from :mod:`valuation.registry`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from valuation.duplicates import MergedUtility, split_group_values
from valuation.errors import MethodError
from valuation.registry import make_method
from valuation.result import ValuationResult
from valuation.utility import Coalition, Utility, as_utility

__all__ = ["make_method", "shapley_values", "value"]


def value(
    utility: Utility | Callable[[Coalition], float],
    method: str = "exact",
    seed: int = 0,
    *,
    n: int | None = None,
    duplicate_groups: Sequence[Sequence[int]] | None = None,
    **options: Any,
) -> ValuationResult:
    """Value every player of ``utility`` and return the full :class:`ValuationResult`.

    ``utility`` is a :class:`~valuation.utility.Utility` or a plain ``frozenset -> float``
    callable (then ``n`` is required). With ``duplicate_groups`` each group is valued as one
    player (:class:`~valuation.duplicates.MergedUtility`) and its value split equally among its
    members. The same arguments and seed always give the same result.
    """
    if n is None:
        if not isinstance(utility, Utility):
            raise MethodError("a plain callable utility needs the number of players n=")
        n = utility.n_players
    game = as_utility(utility, n)
    if game.n_players != n:
        raise MethodError(f"n={n} but the utility has {game.n_players} players")
    if not duplicate_groups:
        return make_method(method, n, seed, **options).fit(game)
    merged = MergedUtility(game, duplicate_groups)
    result = make_method(method, merged.n_players, seed, **options).fit(merged)
    return ValuationResult(
        values=split_group_values(result.values, merged.units),
        stderr=None if result.stderr is None else split_group_values(result.stderr, merged.units),
        method=result.method,
        evaluations=result.evaluations,
        cache_hits=result.cache_hits,
        samples=result.samples,
        converged=result.converged,
        params={**result.params, "duplicate_groups": [list(map(int, g)) for g in duplicate_groups]},
    )


def shapley_values(
    utility: Utility | Callable[[Coalition], float],
    n: int,
    method: str = "exact",
    seed: int = 0,
    **options: Any,
) -> np.ndarray:
    """Just the values of :func:`value` (a float64 array of length ``n``)."""
    return value(utility, method, seed, n=n, **options).values.copy()
