"""Checking a valuation report: recompute it from its inputs, or replay it from itself.

An auditor who holds the same inputs as the aggregator (the previous model, the revealed
updates, the validation set) calls :func:`recompute`, which redoes every step from the report's
own recipe — coalition utilities, values (same method, same seed), duplicate groups, integer
payouts, fairness figures — and compares field by field. Before the validation set is
published, :func:`replay` checks what needs no model at all: that the report's values follow
from its recorded utilities, its payouts from its values and its fairness figures from its
payouts.

Every comparison ends in one of three statuses (:class:`Status`):

``ok``        bit-for-bit equal.
``noise``     floats differ by no more than the documented tolerance (:class:`Tolerances`):
              another machine's arithmetic, reported but not a failure.
``mismatch``  different inputs, a different computation or a wrong payout: a failure, with the
              field, the expected (reported) and the found (recomputed) value.

Tolerances (float64 utilities): coalition utilities 1e-9 absolute (the noise across machines is
about 1e-15, see :mod:`valuation.coalition`); values 1e-8 absolute (a Shapley-type value is a
weighted mean of utility differences, so its noise is at most twice the utilities'); fairness
figures 1e-9. Payouts are integers computed with exact arithmetic from the values; if float noise
in the values moves one unit across a rounding tie, the payout check reports ``noise`` only when
every payout moved by at most one unit and the reported payouts are exactly what the reported
values give (fairness figures are then checked on the reported payouts) — otherwise it is a
mismatch.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from valuation.build import Outcome, model_utility, pay, run_valuation
from valuation.coalition import UTILITY_ABS_TOLERANCE
from valuation.errors import GameError
from valuation.evidence import Evidence
from valuation.fairness import fairness_metrics
from valuation.report import (
    CoalitionUtilities,
    InputDigests,
    ValuationReport,
    coalition_mask,
    mask_coalition,
)
from valuation.utility import CachedUtility, Coalition

Params = Mapping[str, np.ndarray]


class Status(StrEnum):
    """Outcome of comparing one field."""

    OK = "ok"
    NOISE = "noise"
    MISMATCH = "mismatch"


@dataclass(frozen=True)
class Tolerances:
    """Absolute tolerances under which a float difference counts as arithmetic noise."""

    utility: float = UTILITY_ABS_TOLERANCE
    value: float = 1e-8
    fairness: float = 1e-9

    @classmethod
    def for_dtype(cls, dtype: str) -> Tolerances:
        """float64 defaults; float32 scores are noisier (about 1e-6), so 1e-5 and 1e-4."""
        if dtype == "float32":
            return cls(utility=1e-5, value=1e-4, fairness=1e-4)
        return cls()


@dataclass(frozen=True)
class FieldCheck:
    """One compared field: ``expected`` is the report's, ``found`` the recomputed one."""

    field: str
    status: Status
    expected: Any = None
    found: Any = None
    max_abs_diff: float = 0.0
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "status": self.status.value,
            "expected": self.expected,
            "found": self.found,
            "max_abs_diff": self.max_abs_diff,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class RecomputeResult:
    """All field checks of one recomputation; ``ok`` unless some field is a mismatch."""

    checks: tuple[FieldCheck, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    @property
    def mismatches(self) -> tuple[FieldCheck, ...]:
        return tuple(c for c in self.checks if c.status is Status.MISMATCH)

    @property
    def noise(self) -> tuple[FieldCheck, ...]:
        return tuple(c for c in self.checks if c.status is Status.NOISE)

    def check(self, name: str) -> FieldCheck:
        """The check of field ``name``."""
        for c in self.checks:
            if c.field == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [c.to_dict() for c in self.checks]}

    def summary(self) -> str:
        """One line per field, e.g. ``utilities: noise (max |diff| 2.2e-16)``."""
        lines = []
        for c in self.checks:
            line = f"{c.field}: {c.status.value}"
            if c.status is Status.NOISE:
                line += f" (max |diff| {c.max_abs_diff:.3g})"
            if c.status is Status.MISMATCH:
                line += f" (expected {c.expected!r}, found {c.found!r})"
            if c.detail:
                line += f" — {c.detail}"
            lines.append(line)
        return "\n".join(lines)


def _compare_exact(name: str, expected: Any, found: Any) -> FieldCheck:
    status = Status.OK if expected == found else Status.MISMATCH
    return FieldCheck(name, status, expected, found)


def _compare_floats(
    name: str,
    expected: Sequence[float] | np.ndarray,
    found: Sequence[float] | np.ndarray,
    tolerance: float,
    labels: Sequence[Any] | None = None,
) -> FieldCheck:
    """Element-wise comparison; reports the worst element by its label (index by default)."""
    exp = np.asarray(expected, dtype=np.float64)
    got = np.asarray(found, dtype=np.float64)
    if exp.shape != got.shape:
        return FieldCheck(name, Status.MISMATCH, len(exp), len(got), math.inf, "lengths differ")
    if exp.size == 0 or np.array_equal(exp, got):
        return FieldCheck(name, Status.OK)
    diff = np.abs(exp - got)
    worst = int(np.argmax(diff))
    label = worst if labels is None else labels[worst]
    beyond = int(np.count_nonzero(diff > tolerance))
    status = Status.MISMATCH if beyond else Status.NOISE
    detail = f"worst at {label}"
    if beyond:
        detail += f"; {beyond} of {exp.size} differ by more than {tolerance:g}"
    else:
        detail += f"; within tolerance {tolerance:g}"
    return FieldCheck(
        name, status, float(exp[worst]), float(got[worst]), float(diff[worst]), detail
    )


def _compare_utilities(
    expected: CoalitionUtilities, found: CoalitionUtilities, tolerance: float
) -> list[FieldCheck]:
    checks = []
    exp_masks, got_masks = set(expected.masks), set(found.masks)
    if exp_masks != got_masks:
        missing = sorted(exp_masks - got_masks)[:5]
        extra = sorted(got_masks - exp_masks)[:5]
        checks.append(
            FieldCheck(
                "utilities.coalitions",
                Status.MISMATCH,
                len(exp_masks),
                len(got_masks),
                detail=f"reported but not evaluated: {missing}; evaluated but not reported: {extra}",
            )
        )
    else:
        checks.append(FieldCheck("utilities.coalitions", Status.OK))
    common = sorted(exp_masks & got_masks)
    exp, got = expected.as_dict(), found.as_dict()
    checks.append(
        _compare_floats(
            "utilities",
            [exp[m] for m in common],
            [got[m] for m in common],
            tolerance,
            labels=[f"coalition mask {m}" for m in common],
        )
    )
    return checks


def _compare_payouts(
    report: ValuationReport, found: tuple[int, ...], values_check: FieldCheck
) -> FieldCheck:
    if found == report.payouts:
        return FieldCheck("payouts", Status.OK)
    own = pay(
        report.values,
        report.duplicate_groups,
        report.participants,
        report.config,
        report.previous_state,
        report.priority,
    ).payouts
    differs = [i for i, (a, b) in enumerate(zip(report.payouts, found, strict=True)) if a != b]
    largest = max(abs(report.payouts[i] - found[i]) for i in differs)
    if values_check.status is Status.NOISE and own == report.payouts and largest <= 1:
        return FieldCheck(
            "payouts",
            Status.NOISE,
            list(report.payouts),
            list(found),
            float(largest),
            "a rounding tie moved one unit with float noise in the values; the reported "
            "payouts are exactly those of the reported values",
        )
    return FieldCheck(
        "payouts",
        Status.MISMATCH,
        list(report.payouts),
        list(found),
        float(largest),
        f"participants {[report.participants[i] for i in differs]} differ",
    )


def _compare_outcome(
    report: ValuationReport, outcome: Outcome, tol: Tolerances
) -> list[FieldCheck]:
    checks = _compare_utilities(report.utilities, outcome.utilities, tol.utility)
    checks.append(
        _compare_exact(
            "duplicate_groups",
            [list(g) for g in report.duplicate_groups],
            [list(g) for g in outcome.groups],
        )
    )
    values = _compare_floats(
        "values",
        report.values,
        outcome.result.values,
        tol.value,
        labels=report.participants,
    )
    checks.append(values)
    payouts = _compare_payouts(report, outcome.payouts, values)
    checks.append(payouts)
    settlement = outcome.settlement
    evidence_tol = tol.value * max(1, settlement.state.rounds)
    if report.pay_basis is not None:  # schema 1 reports paid on the round's values
        checks.append(
            _compare_floats(
                "pay_basis",
                report.pay_basis,
                settlement.basis,
                evidence_tol,
                labels=report.participants,
            )
        )
    if report.state is not None:
        checks += _compare_evidence("state", report.state, settlement.state, evidence_tol)
    unspent = _compare_exact("unspent", report.unspent, settlement.unspent)
    if unspent.status is Status.MISMATCH and payouts.status is Status.NOISE:
        unspent = dataclasses.replace(unspent, status=Status.NOISE, detail="follows the payouts")
    checks.append(unspent)
    found_fairness = outcome.fairness
    if payouts.status is Status.NOISE:  # judge the reported figures on the reported payouts
        found_fairness = fairness_metrics(settlement.basis, np.asarray(report.payouts))
    keys = sorted(set(report.fairness) | set(found_fairness))
    if set(report.fairness) != set(found_fairness):
        checks.append(_compare_exact("fairness", sorted(report.fairness), sorted(found_fairness)))
    else:
        checks.append(
            _compare_floats(
                "fairness",
                [report.fairness[k] for k in keys],
                [found_fairness[k] for k in keys],
                tol.fairness,
                labels=keys,
            )
        )
    return checks


def _compare_evidence(
    name: str, expected: Evidence, found: Evidence, tolerance: float
) -> list[FieldCheck]:
    """Standings within ``tolerance``; FLI regret (budget units) within 1e-9 relative;
    counts exact."""
    checks = [
        _compare_exact(f"{name}.participants", sorted(expected.standing), sorted(found.standing)),
        _compare_exact(f"{name}.rounds", expected.rounds, found.rounds),
        _compare_exact(f"{name}.waiting", dict(expected.waiting), dict(found.waiting)),
    ]
    common = sorted(set(expected.standing) & set(found.standing))
    checks.append(
        _compare_floats(
            f"{name}.standing",
            [expected.standing[a] for a in common],
            [found.standing[a] for a in common],
            tolerance,
            labels=common,
        )
    )
    owed = sorted(set(expected.regret) | set(found.regret))
    exp = np.array([expected.regret.get(a, 0.0) for a in owed])
    got = np.array([found.regret.get(a, 0.0) for a in owed])
    scale = max(1.0, float(np.max(np.abs(exp), initial=0.0)))
    checks.append(_compare_floats(f"{name}.regret", exp, got, 1e-9 * scale, labels=owed))
    return checks


class _ReplayUtility:
    """A utility that only answers from a report's recorded coalition utilities."""

    def __init__(self, utilities: CoalitionUtilities) -> None:
        self._n = utilities.n_players
        self._table = utilities.as_dict()

    @property
    def n_players(self) -> int:
        return self._n

    def __call__(self, coalition: Coalition) -> float:
        mask = coalition_mask(coalition)
        if mask not in self._table:
            raise GameError(f"the report records no utility for coalition {sorted(coalition)}")
        return self._table[mask]

    def evaluate_many(self, coalitions: Sequence[Coalition]) -> np.ndarray:
        return np.array([self(c) for c in coalitions], dtype=np.float64)


def replay(report: ValuationReport, *, tolerances: Tolerances | None = None) -> RecomputeResult:
    """Check a report against itself, without models or validation data.

    The method is rerun (same seed, same options) on the report's recorded utilities, then
    the pay is recomputed from the values and the report's previous evidence: values that do
    not follow from the recorded utilities, or payouts, standings and state that do not follow
    from the values, are mismatches. Duplicate groups are taken from the report (finding them
    needs the updates).
    """
    tol = tolerances or Tolerances.for_dtype(report.config.dtype)
    try:
        outcome = run_valuation(
            _ReplayUtility(report.utilities),
            [],
            report.participants,
            report.config,
            previous=report.previous_state,
            priority=report.priority,
            groups=report.duplicate_groups,
        )
    except GameError as exc:
        return RecomputeResult(
            (FieldCheck("values", Status.MISMATCH, detail=f"cannot replay the method: {exc}"),)
        )
    checks = [
        c
        for c in _compare_outcome(report, outcome, tol)
        if c.field not in ("utilities", "utilities.coalitions", "duplicate_groups")
    ]
    return RecomputeResult(tuple(checks))


@dataclass(frozen=True)
class AuditorInputs:
    """What an auditor derived itself and wants checked against the report, all optional.

    ``previous_state``: the evidence after the task's previous valued round as the auditor
    recomputed it; ``coefficients``/``normalizers``: the aggregation rule's weights;
    ``priority``: the players' commit ranks from the chain. Each given one is compared with the
    report's and used for the recomputation; each missing one is taken from the report.
    ``evaluated``: the auditor's own valuation of the round, computed from the same updates,
    previous model and validation data that are passed to :func:`recompute` (e.g. by its own
    run of the round). When it values the same game under the same recipe as the report (same
    model, players, counts, weights and config), its coalition scores are reused instead of
    evaluated a second time; otherwise every score is evaluated here.
    """

    previous_state: Evidence | None = None
    coefficients: Sequence[float] | None = None
    normalizers: Sequence[float] | None = None
    priority: Sequence[int] | None = None
    evaluated: ValuationReport | None = None


def recompute(
    report: ValuationReport,
    updates: Sequence[Params],
    prev_params: Params,
    validation_data: tuple[np.ndarray, np.ndarray],
    *,
    digests: InputDigests | None = None,
    tolerances: Tolerances | None = None,
    own: AuditorInputs | None = None,
) -> RecomputeResult:
    """Redo a round's valuation from its inputs and compare every field with the report.

    ``updates`` are the accepted participants' updates in the report's participant order, and
    ``validation_data`` is ``(X, y)``. When the caller also passes the ``digests`` it computed
    from the bytes it fetched, they are compared first (any difference is a mismatch: other
    inputs than the report names); so are the inputs in ``own`` (:class:`AuditorInputs`).
    Utilities, duplicate groups, values, payouts, standings, state and fairness figures are
    then recomputed with the report's spec, sample counts and config.
    """
    tol = tolerances or Tolerances.for_dtype(report.config.dtype)
    own = own or AuditorInputs()
    checks: list[FieldCheck] = []
    if digests is not None:
        checks.append(
            _compare_exact("digests.prev_model", report.digests.prev_model, digests.prev_model)
        )
        checks.append(
            _compare_exact("digests.updates", list(report.digests.updates), list(digests.updates))
        )
        checks.append(
            _compare_exact("digests.validation", report.digests.validation, digests.validation)
        )
    previous = report.previous_state if own.previous_state is None else own.previous_state
    if own.previous_state is not None:
        rounds = max(1, own.previous_state.rounds)
        checks += _compare_evidence(
            "previous_state", report.previous_state, own.previous_state, tol.value * rounds
        )
    coefficients = _own_vector(checks, "coefficients", report.coefficients, own.coefficients)
    normalizers = _own_vector(checks, "normalizers", report.normalizers, own.normalizers)
    priority = report.priority
    if own.priority is not None:
        priority = tuple(int(p) for p in own.priority)
        checks.append(_compare_exact("priority", _list(report.priority), list(priority)))
    if len(updates) != len(report.participants):
        checks.append(
            FieldCheck(
                "updates",
                Status.MISMATCH,
                len(report.participants),
                len(updates),
                detail="one update per reported participant is needed",
            )
        )
        return RecomputeResult(tuple(checks))
    utility = model_utility(
        report.model_spec,
        prev_params,
        updates,
        report.num_samples,
        validation_data,
        report.config,
        coefficients=coefficients,
        normalizers=normalizers,
    )
    cached = CachedUtility(utility)
    if own.evaluated is not None and _same_game(report, own.evaluated, coefficients, normalizers):
        scores = own.evaluated.utilities.as_dict()
        cached.prime({mask_coalition(mask): value for mask, value in scores.items()})
    outcome = run_valuation(
        cached,
        updates,
        report.participants,
        report.config,
        previous=previous,
        priority=priority,
    )
    checks += _compare_outcome(report, outcome, tol)
    return RecomputeResult(tuple(checks))


def _same_game(
    report: ValuationReport,
    evaluated: ValuationReport,
    coefficients: Sequence[float] | None,
    normalizers: Sequence[float] | None,
) -> bool:
    """Whether ``evaluated`` scored the coalitions of the game ``report`` is recomputed with,
    and would have asked for the same ones (same recipe): then its scores can stand in."""

    def same(a: Sequence[float] | None, b: Sequence[float] | None) -> bool:
        return (a is None and b is None) or (
            a is not None and b is not None and [float(x) for x in a] == [float(x) for x in b]
        )

    return (
        evaluated.model_spec == report.model_spec
        and list(evaluated.participants) == list(report.participants)
        and list(evaluated.num_samples) == list(report.num_samples)
        and evaluated.config == report.config
        and same(evaluated.coefficients, coefficients)
        and same(evaluated.normalizers, normalizers)
    )


def _own_vector(
    checks: list[FieldCheck],
    name: str,
    reported: Sequence[float] | None,
    own: Sequence[float] | None,
) -> Sequence[float] | None:
    """The auditor's vector when it has one (compared with the report's, 1e-12 relative)."""
    if own is None:
        return reported
    if reported is None:
        checks.append(FieldCheck(name, Status.MISMATCH, None, list(own), detail="not reported"))
        return own
    scale = max(1.0, float(np.max(np.abs(np.asarray(own, dtype=np.float64)), initial=0.0)))
    checks.append(_compare_floats(name, reported, own, 1e-12 * scale))
    return own


def _list(vector: Sequence[int] | None) -> list[int] | None:
    return None if vector is None else list(vector)
