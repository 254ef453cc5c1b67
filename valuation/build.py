"""Building a round's valuation report: the pipeline the aggregator and the auditor share.

:func:`build_report` values one round from its inputs (the previous model, the accepted
updates, the validation set) under a :class:`~valuation.config.RoundValuation`: duplicate
groups, the coalition utility, the method, integer allocation and fairness figures, all
recorded in a :class:`~valuation.report.ValuationReport`. :func:`run_valuation` is the part
:mod:`valuation.recompute` reruns to check a report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from valuation.allocation import allocate
from valuation.api import value
from valuation.coalition import ModelUtility
from valuation.config import RoundValuation
from valuation.duplicates import duplicate_groups
from valuation.errors import ReportError
from valuation.fairness import fairness_metrics
from valuation.model_spec import ModelSpec
from valuation.report import CoalitionUtilities, InputDigests, Rejection, ValuationReport
from valuation.result import ValuationResult
from valuation.utility import CachedUtility, Utility

Params = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Outcome:
    """What the valuation pipeline computes from inputs and a config."""

    utilities: CoalitionUtilities
    groups: tuple[tuple[int, ...], ...]
    result: ValuationResult
    payouts: tuple[int, ...]
    fairness: dict[str, float]


def _flat_updates(updates: Sequence[Params]) -> np.ndarray:
    """One row per update: its tensors flattened in sorted name order (for duplicate search)."""
    return np.stack(
        [np.concatenate([np.ravel(u[k]) for k in sorted(u)]).astype(np.float64) for u in updates]
    )


def settle(
    result: ValuationResult,
    groups: Sequence[Sequence[int]],
    participants: Sequence[str],
    config: RoundValuation,
) -> tuple[tuple[int, ...], dict[str, float]]:
    """Integer payouts and fairness figures from values (deterministic, exact arithmetic)."""
    payouts = allocate(
        result.values,
        config.budget,
        order_keys=[p.lower() for p in participants],
        clip_negative=True,
        duplicate_groups=[list(g) for g in groups] or None,
        cap=config.cap,
    )
    return tuple(int(p) for p in payouts), fairness_metrics(result.values, payouts)


def run_valuation(
    utility: Utility,
    updates: Sequence[Params],
    participants: Sequence[str],
    config: RoundValuation,
    groups: tuple[tuple[int, ...], ...] | None = None,
) -> Outcome:
    """The valuation pipeline shared by the aggregator and the auditor."""
    if groups is None:
        found = []
        if config.duplicate_threshold is not None and len(updates) > 1:
            found = duplicate_groups(_flat_updates(updates), config.duplicate_threshold)
        groups = tuple(tuple(g) for g in found)
    cached = utility if isinstance(utility, CachedUtility) else CachedUtility(utility)
    result = value(
        cached,
        config.method,
        config.seed,
        duplicate_groups=[list(g) for g in groups] or None,
        **dict(config.options),
    )
    payouts, fairness = settle(result, groups, participants, config)
    return Outcome(
        utilities=CoalitionUtilities.from_cache(cached.n_players, cached.cache),
        groups=groups,
        result=result,
        payouts=payouts,
        fairness=fairness,
    )


def model_utility(
    spec: ModelSpec,
    prev_params: Params,
    updates: Sequence[Params],
    num_samples: Sequence[int],
    validation: tuple[np.ndarray, np.ndarray],
    config: RoundValuation,
) -> ModelUtility:
    X_val, y_val = validation
    return ModelUtility(
        spec,
        prev_params,
        updates,
        num_samples,
        X_val,
        y_val,
        score=config.score,
        dtype=np.dtype(config.dtype),
    )


def build_report(
    *,
    spec: ModelSpec,
    prev_params: Params,
    updates: Sequence[Params],
    num_samples: Sequence[int],
    participants: Sequence[str],
    validation: tuple[np.ndarray, np.ndarray],
    digests: InputDigests,
    config: RoundValuation,
    rejected: Sequence[Rejection] = (),
) -> ValuationReport:
    """Value one round and record everything an auditor needs to check it.

    ``participants`` (addresses) must be unique and sorted case-insensitively: their order is
    the order of players, of payouts and of tie-breaks. ``updates`` and ``num_samples`` (already
    capped by the task) follow that order; ``digests`` are the caller's sha256 of the canonical
    bytes of the same inputs.
    """
    if list(participants) != sorted(participants, key=str.lower):
        raise ReportError("participants must be in address order (case-insensitive)")
    if len(digests.updates) != len(updates):
        raise ReportError(f"{len(digests.updates)} update digests for {len(updates)} updates")
    utility = model_utility(spec, prev_params, updates, num_samples, validation, config)
    outcome = run_valuation(utility, updates, participants, config)
    return ValuationReport(
        digests=digests,
        participants=tuple(participants),
        num_samples=tuple(int(s) for s in num_samples),
        model_spec=spec,
        config=config,
        utilities=outcome.utilities,
        duplicate_groups=outcome.groups,
        rejected=tuple(rejected),
        result=outcome.result,
        payouts=outcome.payouts,
        fairness=outcome.fairness,
    )
