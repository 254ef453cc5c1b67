"""Valuing one round's accepted updates and turning the values into integer token payouts.

The pure `valuation` package does the work and owns the record: :func:`valuation.build.
build_report` values the round (duplicate detection, the coalition utility, the method, integer
allocation, fairness figures) and returns a :class:`~valuation.report.ValuationReport`, which the
round report embeds as is and the audit checks with :func:`valuation.recompute.recompute`.
This module only fixes the round's recipe from the task spec
(:meth:`valuation.config.ValuationConfig.for_round`: the method for the round's size, the
seed, the budget) and the address order.

Token amounts can exceed int64 (18-decimal tokens), while allocation works in int64: budgets
are allocated in units of ``payout_unit`` (a power of ten, 1 for budgets below 2^63), then
multiplied back; for budgets in whole tokens the payouts still sum exactly to the budget.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from valuation.build import build_report, flat_updates
from valuation.config import ValuationConfig
from valuation.duplicates import later_duplicates
from valuation.evidence import Evidence
from valuation.model_spec import ModelSpec
from valuation.report import InputDigests, Rejection, ValuationReport

INT64_MAX = (1 << 63) - 1


class Validation(Protocol):
    """The requester's validation set: inputs ``X`` and integer labels ``y``."""

    @property
    def X(self) -> np.ndarray: ...  # noqa: N802 (the conventional name of a data matrix)

    @property
    def y(self) -> np.ndarray: ...


@dataclass(frozen=True)
class ValuationStep:
    """The valuation report and the payouts in token base units (accepted participants)."""

    report: ValuationReport
    payouts: list[int]
    payout_unit: int

    @property
    def record(self) -> dict[str, Any]:
        return self.report.to_dict()


def near_duplicates(
    updates: Sequence[Mapping[str, np.ndarray]],
    addresses: Sequence[str],
    rank: Sequence[int],
    threshold: float | None,
) -> dict[str, str]:
    """Participants whose update (cosine ≥ ``threshold``) repeats an earlier committer's, with
    a one-line reason naming that committer; the earliest committer keeps the update."""
    if threshold is None or len(updates) < 2:
        return {}
    matrix = flat_updates([dict(u) for u in updates])
    return {
        addresses[i]: (
            f"cosine {cosine:.6f} with the update of {addresses[first]}, committed earlier "
            f"(duplicate threshold {threshold:g})"
        )
        for i, first, cosine in later_duplicates(matrix, rank, threshold)
    }


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
    digests: InputDigests,
    rejected: Sequence[tuple[str, str]] = (),
    coefficients: Sequence[float] | None = None,
    normalizers: Sequence[float] | None = None,
    priority: Sequence[int] | None = None,
    previous_evidence: Mapping[str, Any] | None = None,
) -> ValuationStep:
    """Value the accepted updates of one round and allocate ``budget`` among them.

    ``coefficients``/``normalizers`` are the aggregation rule's weights (coalition models
    follow the same rule), ``priority`` the players' commit ranks and ``previous_evidence``
    the state of the task's previous valued round (:mod:`valuation.evidence`).
    """
    unit = payout_unit(budget)
    report = build_report(
        spec=spec,
        prev_params=dict(prev_params),
        updates=[dict(u) for u in updates],
        num_samples=list(num_samples),
        participants=list(addresses),
        validation=(np.asarray(validation.X), np.asarray(validation.y)),
        digests=digests,
        config=config.for_round(len(updates), seed, budget // unit),
        rejected=[Rejection(p, reason) for p, reason in rejected],
        coefficients=None if coefficients is None else [float(c) for c in coefficients],
        normalizers=None if normalizers is None else [float(h) for h in normalizers],
        priority=None if priority is None else list(priority),
        previous_state=Evidence.from_dict(previous_evidence),
    )
    return ValuationStep(
        report=report, payouts=[int(p) * unit for p in report.payouts], payout_unit=unit
    )
