"""Valuing one round's accepted updates and turning the values into integer token payouts.

The pure `valuation` package does the work; this module fixes the round's recipe (duplicate
detection, the coalition utility, the method for the round's size, allocation by address
order) and writes the record that goes into the round report, including every coalition
utility that was evaluated, so an auditor can tell float noise from a different computation.

Token amounts can exceed int64 (18-decimal tokens), while allocation works in int64: budgets
are allocated in units of ``payout_unit`` (a power of ten, 1 for budgets below 2^63), then
multiplied back; for budgets in whole tokens the payouts still sum exactly to the budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np

from marketplace.task_spec import ValuationConfig
from valuation.allocation import allocation
from valuation.api import value
from valuation.architecture import ModelSpec
from valuation.coalition import ModelUtility, Score
from valuation.duplicates import duplicate_groups
from valuation.fairness import fairness_metrics
from valuation.utility import CachedUtility

INT64_MAX = (1 << 63) - 1


class Validation(Protocol):
    @property
    def X(self) -> np.ndarray: ...  # noqa: N802 (the conventional name of a data matrix)

    @property
    def y(self) -> np.ndarray: ...


@dataclass(frozen=True)
class ValuationStep:
    """Per-participant values and integer payouts (accepted participants, address order)."""

    values: np.ndarray
    payouts: list[int]
    record: dict[str, Any]


def payout_unit(budget: int) -> int:
    """The granularity a budget is allocated in: 1, or the smallest power of ten that makes the
    unit count fit in int64 (any remainder below one unit stays unspent)."""
    unit = 1
    while budget // unit > INT64_MAX:
        unit *= 10
    return unit


def value_round(
    *,
    spec: ModelSpec,
    prev_params: Mapping[str, np.ndarray],
    updates: Sequence[Mapping[str, np.ndarray]],
    num_samples: Sequence[int],
    addresses: Sequence[str],
    validation: Validation,
    config: ValuationConfig,
    seed: int,
    budget: int,
    input_digests: dict[str, Any],
) -> ValuationStep:
    """Value the accepted updates of one round and allocate ``budget`` among them."""
    n = len(updates)
    matrix = np.stack(
        [
            np.concatenate([np.asarray(u[k], dtype=np.float64).ravel() for k in sorted(u)])
            for u in updates
        ]
    )
    groups = duplicate_groups(matrix, config.duplicate_threshold)
    utility = CachedUtility(
        ModelUtility(
            spec,
            prev_params,
            updates,
            num_samples,
            validation.X,
            validation.y,
            score=cast(Score, config.score),
        )
    )
    n_units = n - sum(len(g) - 1 for g in groups)
    method = config.method_for(n_units)
    options: dict[str, Any] = {}
    if method == "gtg":
        from valuation.stopping import HistoryDeviation, MaxUpdates

        options["stop"] = HistoryDeviation(10, 0.01) | MaxUpdates(config.gtg_max_permutations)
    result = value(utility, method, seed, duplicate_groups=groups or None, **options)
    unit = payout_unit(budget)
    keys = [a.lower() for a in addresses]
    alloc = allocation(
        result.values,
        budget // unit,
        order_keys=keys,
        clip_negative=config.clip_negative,
        duplicate_groups=groups or None,
    )
    payouts = [int(p) * unit for p in alloc.payouts]
    utilities = {
        str(_mask(c)): float(v)
        for c, v in sorted(utility.cache.items(), key=lambda kv: _mask(kv[0]))
    }
    record = {
        "method": result.method,
        "params": _jsonable(result.params),
        "seed": seed,
        "score": config.score,
        "players": list(addresses),
        "num_samples": [int(x) for x in num_samples],
        "duplicate_groups": [list(map(int, g)) for g in groups],
        "utilities": utilities,
        "values": [float(v) for v in result.values],
        "stderr": None if result.stderr is None else [float(s) for s in result.stderr],
        "evaluations": result.evaluations,
        "cache_hits": result.cache_hits,
        "converged": result.converged,
        "budget": str(budget),
        "payout_unit": str(unit),
        "payouts": [str(p) for p in payouts],
        "allocation_note": alloc.note,
        "fairness": fairness_metrics(result.values, np.asarray(payouts, dtype=np.float64)),
        "input_digests": input_digests,
    }
    return ValuationStep(values=np.asarray(result.values), payouts=payouts, record=record)


def _mask(coalition: frozenset[int]) -> int:
    return sum(1 << i for i in coalition)


def _jsonable(value_: Any) -> Any:
    if isinstance(value_, dict):
        return {str(k): _jsonable(v) for k, v in value_.items()}
    if isinstance(value_, list | tuple):
        return [_jsonable(v) for v in value_]
    if isinstance(value_, np.generic):
        return value_.item()
    if isinstance(value_, str | int | float | bool) or value_ is None:
        return value_
    return repr(value_)
