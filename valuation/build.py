"""Building a round's valuation report: the pipeline the aggregator and the auditor share.

:func:`build_report` values one round from its inputs (the previous model, the accepted
updates, the validation set) under a :class:`~valuation.config.RoundValuation`: duplicate
groups, the coalition utility, the method, then the pay (evidence carried across rounds,
clipping, integer allocation, fairness figures: :mod:`valuation.evidence`), all recorded in a
:class:`~valuation.report.ValuationReport`. :func:`run_valuation` is the part
:mod:`valuation.recompute` reruns to check a report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from valuation.api import value
from valuation.coalition import ModelUtility
from valuation.config import RoundValuation
from valuation.duplicates import duplicate_groups
from valuation.errors import ReportError
from valuation.evidence import Evidence, Settlement, settle
from valuation.model_spec import ModelSpec
from valuation.report import CoalitionUtilities, InputDigests, Rejection, ValuationReport
from valuation.result import ValuationResult
from valuation.utility import CachedUtility, Utility

Params = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Outcome:
    """What the valuation pipeline computes from inputs, a recipe and the previous evidence."""

    utilities: CoalitionUtilities
    groups: tuple[tuple[int, ...], ...]
    result: ValuationResult
    settlement: Settlement

    @property
    def payouts(self) -> tuple[int, ...]:
        return self.settlement.payouts

    @property
    def fairness(self) -> dict[str, float]:
        return self.settlement.fairness


def flat_updates(updates: Sequence[Params]) -> np.ndarray:
    """One row per update: its tensors flattened in sorted name order (for duplicate search)."""
    return np.stack(
        [np.concatenate([np.ravel(u[k]) for k in sorted(u)]).astype(np.float64) for u in updates]
    )


def pay(
    values: np.ndarray,
    groups: Sequence[Sequence[int]],
    participants: Sequence[str],
    config: RoundValuation,
    previous: Evidence,
    priority: Sequence[int] | None,
) -> Settlement:
    """Integer payouts, standings and fairness figures from values (exact, deterministic)."""
    return settle(
        values, participants, config, previous, groups=[list(g) for g in groups], priority=priority
    )


def run_valuation(
    utility: Utility,
    updates: Sequence[Params],
    participants: Sequence[str],
    config: RoundValuation,
    *,
    previous: Evidence | None = None,
    priority: Sequence[int] | None = None,
    groups: tuple[tuple[int, ...], ...] | None = None,
) -> Outcome:
    """The valuation pipeline shared by the aggregator and the auditor."""
    if groups is None:
        found = []
        if config.duplicate_threshold is not None and len(updates) > 1:
            found = duplicate_groups(flat_updates(updates), config.duplicate_threshold)
        groups = tuple(tuple(g) for g in found)
    cached = utility if isinstance(utility, CachedUtility) else CachedUtility(utility)
    result = value(
        cached,
        config.method,
        config.seed,
        duplicate_groups=[list(g) for g in groups] or None,
        **dict(config.options),
    )
    settlement = pay(result.values, groups, participants, config, previous or Evidence(), priority)
    return Outcome(
        utilities=CoalitionUtilities.from_cache(cached.n_players, cached.cache),
        groups=groups,
        result=result,
        settlement=settlement,
    )


def model_utility(
    spec: ModelSpec,
    prev_params: Params,
    updates: Sequence[Params],
    num_samples: Sequence[int],
    validation: tuple[np.ndarray, np.ndarray],
    config: RoundValuation,
    *,
    coefficients: Sequence[float] | None = None,
    normalizers: Sequence[float] | None = None,
) -> ModelUtility:
    """The round's coalition game under ``config`` (score, coalition model, dtype)."""
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
        coalition_model=config.coalition_model,
        coefficients=coefficients,
        normalizers=normalizers,
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
    coefficients: Sequence[float] | None = None,
    normalizers: Sequence[float] | None = None,
    priority: Sequence[int] | None = None,
    previous_state: Evidence | None = None,
) -> ValuationReport:
    """Value one round and record everything an auditor needs to check it.

    ``participants`` (addresses) must be unique and sorted case-insensitively: their order is
    the order of players, of payouts and of tie-breaks. ``updates`` and ``num_samples`` (already
    capped by the task) follow that order; ``digests`` are the caller's sha256 of the canonical
    bytes of the same inputs. ``coefficients``/``normalizers`` are the aggregation rule's
    weights (default: the sample counts), ``priority`` the players' commit ranks and
    ``previous_state`` the evidence of the task's previous valued round
    (:mod:`valuation.evidence`).
    """
    if list(participants) != sorted(participants, key=str.lower):
        raise ReportError("participants must be in address order (case-insensitive)")
    if len(digests.updates) != len(updates):
        raise ReportError(f"{len(digests.updates)} update digests for {len(updates)} updates")
    previous = previous_state or Evidence()
    utility = model_utility(
        spec,
        prev_params,
        updates,
        num_samples,
        validation,
        config,
        coefficients=coefficients,
        normalizers=normalizers,
    )
    outcome = run_valuation(
        utility, updates, participants, config, previous=previous, priority=priority
    )
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
        coefficients=None if coefficients is None else tuple(coefficients),
        normalizers=None if normalizers is None else tuple(normalizers),
        priority=None if priority is None else tuple(priority),
        previous_state=previous,
        pay_basis=outcome.settlement.basis,
        state=outcome.settlement.state,
        unspent=outcome.settlement.unspent,
    )
