"""One-call valuation: ``shapley_values(utility, n)`` and ``value(...)`` for the full record."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from valuation.duplicates import MergedUtility, split_group_values
from valuation.errors import MethodError
from valuation.methods.banzhaf import ExactBanzhaf, MSRBanzhaf
from valuation.methods.base import ValuationMethod
from valuation.methods.exact import ExactShapley
from valuation.methods.gtg import GTGShapley
from valuation.methods.loo import LeaveOneOut
from valuation.methods.tmc import TMCShapley
from valuation.result import ValuationResult
from valuation.utility import Coalition, Utility, as_utility

METHOD_NAMES: tuple[str, ...] = ("exact", "tmc", "gtg", "loo", "banzhaf")
BANZHAF_EXACT_LIMIT = 14


def make_method(method: str, n_players: int, seed: int = 0, **options: Any) -> ValuationMethod:
    """The method object behind a name; ``options`` go to its constructor.

    ``"banzhaf"`` is exact up to ``exact_limit`` players (default 14) and sampled (MSR) above.
    Deterministic methods (exact, loo, exact Banzhaf) ignore ``seed``.
    """
    try:
        if method == "exact":
            return ExactShapley(**options)
        if method == "tmc":
            return TMCShapley(seed=seed, **options)
        if method == "gtg":
            return GTGShapley(seed=seed, **options)
        if method == "loo":
            return LeaveOneOut(**options)
        if method == "banzhaf":
            limit = int(options.pop("exact_limit", BANZHAF_EXACT_LIMIT))
            if n_players <= limit:
                options.pop("stop", None)
                options.pop("batch_size", None)
                return ExactBanzhaf(**options)
            return MSRBanzhaf(seed=seed, **options)
    except TypeError as exc:
        raise MethodError(f"bad options for method {method!r}: {exc}") from exc
    raise MethodError(f"unknown valuation method {method!r}; choose one of {METHOD_NAMES}")


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
