"""Valuation report: the auditable JSON record of one round's valuation, and its recomputation.

The aggregator builds a :class:`ValuationReport` with :func:`build_report` and publishes its
canonical JSON (:meth:`ValuationReport.to_json`). An auditor who holds the same inputs (the
previous model, the revealed updates, the validation set) calls :func:`recompute`, which redoes
every step from the report's own parameters — coalition utilities, values (same method, same
seed), duplicate groups, integer payouts, fairness metrics — and compares field by field. Before
the validation set is published, :func:`replay` checks what needs no model at all: that the
report's values follow from its recorded utilities, its payouts from its values and its
fairness figures from its payouts.

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

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Literal

import numpy as np

from valuation.allocation import allocate
from valuation.api import value
from valuation.coalition import UTILITY_ABS_TOLERANCE, ModelUtility, Score
from valuation.duplicates import duplicate_groups
from valuation.errors import GameError, ReportError
from valuation.fairness import fairness_metrics
from valuation.model_spec import ModelSpec
from valuation.result import ValuationResult
from valuation.utility import CachedUtility, Coalition, Utility

SCHEMA_VERSION = 1

Params = Mapping[str, np.ndarray]


# -- small value objects ----------------------------------------------------------------------


@dataclass(frozen=True)
class InputDigests:
    """sha256 (hex) of every input's canonical bytes, computed by the caller."""

    prev_model: str
    updates: tuple[str, ...]
    validation: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "updates", tuple(self.updates))
        for digest in (self.prev_model, self.validation, *self.updates):
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise ReportError(f"not a lowercase sha256 hex digest: {digest!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "prev_model": self.prev_model,
            "updates": list(self.updates),
            "validation": self.validation,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InputDigests:
        return cls(str(data["prev_model"]), tuple(data["updates"]), str(data["validation"]))


@dataclass(frozen=True)
class Rejection:
    """A participant left out of the round's game, and why (recorded, not recomputed here)."""

    participant: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"participant": self.participant, "reason": self.reason}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Rejection:
        return cls(str(data["participant"]), str(data["reason"]))


@dataclass(frozen=True)
class ValuationConfig:
    """How a round is valued: everything besides the inputs that the result depends on.

    ``options`` go to the method (JSON types only, e.g. ``{"tolerance": 1e-4}``).
    ``duplicate_threshold`` is the cosine similarity above which updates are one player
    (``None`` disables duplicate detection); ``cap`` bounds any single payout.
    """

    budget: int
    method: str = "exact"
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)
    score: Score = "accuracy"
    dtype: Literal["float64", "float32"] = "float64"
    duplicate_threshold: float | None = 0.99
    cap: int | None = None

    def __post_init__(self) -> None:
        if isinstance(self.budget, bool) or int(self.budget) != self.budget or self.budget < 0:
            raise ReportError(f"budget must be a non-negative integer, got {self.budget!r}")
        object.__setattr__(self, "budget", int(self.budget))
        object.__setattr__(self, "options", dict(self.options))
        try:
            json.dumps(self.options, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ReportError(f"method options must be plain JSON values: {exc}") from exc
        if self.dtype not in ("float64", "float32"):
            raise ReportError(f"dtype must be float64 or float32, got {self.dtype!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "budget": self.budget,
            "method": self.method,
            "seed": self.seed,
            "options": dict(self.options),
            "score": self.score,
            "dtype": self.dtype,
            "duplicate_threshold": self.duplicate_threshold,
            "cap": self.cap,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValuationConfig:
        return cls(
            budget=int(data["budget"]),
            method=str(data["method"]),
            seed=int(data["seed"]),
            options=dict(data["options"]),
            score=data["score"],
            dtype=data["dtype"],
            duplicate_threshold=data["duplicate_threshold"],
            cap=data["cap"],
        )


@dataclass(frozen=True)
class CoalitionUtilities:
    """The raw utilities a valuation evaluated, keyed by bitmask (bit i ⇔ player i).

    When every one of the ``2^n`` coalitions was evaluated the JSON form is ``"exact"``: one
    list indexed by bitmask. Otherwise it is ``"sampled"``: the evaluated bitmasks in increasing
    order with their utilities.
    """

    n_players: int
    masks: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "masks", tuple(int(m) for m in self.masks))
        object.__setattr__(self, "values", tuple(float(v) for v in self.values))
        if len(self.masks) != len(self.values):
            raise ReportError("utilities: as many masks as values are needed")
        if list(self.masks) != sorted(set(self.masks)):
            raise ReportError("utilities: masks must be unique and increasing")
        if self.masks and (self.masks[0] < 0 or self.masks[-1] >= 1 << self.n_players):
            raise ReportError(f"utilities: a mask lies outside {self.n_players} players")
        if not all(math.isfinite(v) for v in self.values):
            raise ReportError("utilities must be finite")

    @classmethod
    def from_cache(cls, n_players: int, cache: Mapping[Coalition, float]) -> CoalitionUtilities:
        by_mask = sorted((coalition_mask(c), v) for c, v in cache.items())
        return cls(n_players, tuple(m for m, _ in by_mask), tuple(v for _, v in by_mask))

    @property
    def complete(self) -> bool:
        """True when all ``2^n`` coalitions are recorded."""
        return len(self.masks) == 1 << self.n_players

    def as_dict(self) -> dict[int, float]:
        """Bitmask → utility."""
        return dict(zip(self.masks, self.values, strict=True))

    def to_dict(self) -> dict[str, Any]:
        if self.complete:
            return {"kind": "exact", "values": list(self.values)}
        return {"kind": "sampled", "masks": list(self.masks), "values": list(self.values)}

    @classmethod
    def from_dict(cls, n_players: int, data: Mapping[str, Any]) -> CoalitionUtilities:
        values = tuple(float(v) for v in data["values"])
        if data["kind"] == "exact":
            if len(values) != 1 << n_players:
                raise ReportError(f"exact utilities need 2^{n_players} values, got {len(values)}")
            return cls(n_players, tuple(range(len(values))), values)
        if data["kind"] == "sampled":
            return cls(n_players, tuple(int(m) for m in data["masks"]), values)
        raise ReportError(f"unknown utilities kind {data['kind']!r}")


def coalition_mask(coalition: Coalition) -> int:
    """Bitmask of a coalition: bit i set ⇔ player i is a member."""
    return sum(1 << int(i) for i in coalition)


def mask_coalition(mask: int) -> Coalition:
    """Inverse of :func:`coalition_mask`."""
    return frozenset(i for i in range(mask.bit_length()) if mask >> i & 1)


# -- the report -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValuationReport:
    """Everything needed to check one round's contributions and payouts.

    ``participants`` are the players of the game (accepted participants, in address order),
    aligned with ``num_samples``, ``digests.updates``, ``values`` and ``payouts``; rejected
    participants are listed apart with their reasons. ``result`` carries the method's own record
    (full parameters, evaluations, samples, standard errors, convergence).
    """

    digests: InputDigests
    participants: tuple[str, ...]
    num_samples: tuple[int, ...]
    model_spec: ModelSpec
    config: ValuationConfig
    utilities: CoalitionUtilities
    duplicate_groups: tuple[tuple[int, ...], ...]
    rejected: tuple[Rejection, ...]
    result: ValuationResult
    payouts: tuple[int, ...]
    fairness: Mapping[str, float]
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "participants", tuple(self.participants))
        object.__setattr__(self, "num_samples", tuple(int(s) for s in self.num_samples))
        object.__setattr__(self, "payouts", tuple(int(p) for p in self.payouts))
        object.__setattr__(self, "rejected", tuple(self.rejected))
        object.__setattr__(
            self, "duplicate_groups", tuple(tuple(int(i) for i in g) for g in self.duplicate_groups)
        )
        object.__setattr__(self, "fairness", dict(self.fairness))
        if self.schema_version != SCHEMA_VERSION:
            raise ReportError(
                f"report schema version {self.schema_version} is not {SCHEMA_VERSION}"
            )
        n = len(self.participants)
        if len(set(self.participants)) != n:
            raise ReportError("participants must be unique")
        lengths = {
            "num_samples": len(self.num_samples),
            "digests.updates": len(self.digests.updates),
            "values": self.result.n_players,
            "payouts": len(self.payouts),
        }
        for name, length in lengths.items():
            if length != n:
                raise ReportError(f"{name} has {length} entries for {n} participants")
        if self.utilities.n_players != n:
            raise ReportError("utilities are recorded for another number of players")
        if sum(self.payouts) > self.config.budget or min(self.payouts, default=0) < 0:
            raise ReportError("payouts must be non-negative and within the budget")

    @property
    def values(self) -> np.ndarray:
        """Per-participant values (read-only float64)."""
        return self.result.values

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "digests": self.digests.to_dict(),
            "participants": list(self.participants),
            "num_samples": list(self.num_samples),
            "model_spec": self.model_spec.to_dict(),
            "config": self.config.to_dict(),
            "utilities": self.utilities.to_dict(),
            "duplicate_groups": [list(g) for g in self.duplicate_groups],
            "rejected": [r.to_dict() for r in self.rejected],
            "result": self.result.to_dict(),
            "payouts": list(self.payouts),
            "fairness": dict(self.fairness),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValuationReport:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ReportError(f"unsupported report schema version {version!r}")
        try:
            participants = tuple(str(p) for p in data["participants"])
            return cls(
                digests=InputDigests.from_dict(data["digests"]),
                participants=participants,
                num_samples=tuple(data["num_samples"]),
                model_spec=ModelSpec.from_dict(data["model_spec"]),
                config=ValuationConfig.from_dict(data["config"]),
                utilities=CoalitionUtilities.from_dict(len(participants), data["utilities"]),
                duplicate_groups=tuple(tuple(g) for g in data["duplicate_groups"]),
                rejected=tuple(Rejection.from_dict(r) for r in data["rejected"]),
                result=ValuationResult.from_dict(data["result"]),
                payouts=tuple(data["payouts"]),
                fairness={str(k): float(v) for k, v in data["fairness"].items()},
                schema_version=version,
            )
        except KeyError as exc:
            raise ReportError(f"missing field {exc.args[0]!r} in a valuation report") from exc

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, no spaces, floats in shortest round-trip form)."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> ValuationReport:
        return cls.from_dict(json.loads(text))


# -- building ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
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


def _settle(
    result: ValuationResult,
    groups: Sequence[Sequence[int]],
    participants: Sequence[str],
    config: ValuationConfig,
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


def _run(
    utility: Utility,
    updates: Sequence[Params],
    participants: Sequence[str],
    config: ValuationConfig,
    groups: tuple[tuple[int, ...], ...] | None = None,
) -> _Outcome:
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
    payouts, fairness = _settle(result, groups, participants, config)
    return _Outcome(
        utilities=CoalitionUtilities.from_cache(cached.n_players, cached.cache),
        groups=groups,
        result=result,
        payouts=payouts,
        fairness=fairness,
    )


def _model_utility(
    spec: ModelSpec,
    prev_params: Params,
    updates: Sequence[Params],
    num_samples: Sequence[int],
    validation: tuple[np.ndarray, np.ndarray],
    config: ValuationConfig,
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
    config: ValuationConfig,
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
    utility = _model_utility(spec, prev_params, updates, num_samples, validation, config)
    outcome = _run(utility, updates, participants, config)
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


# -- checking ---------------------------------------------------------------------------------


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
    own, _ = _settle(report.result, report.duplicate_groups, report.participants, report.config)
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
    report: ValuationReport, outcome: _Outcome, tol: Tolerances
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
    found_fairness = outcome.fairness
    if payouts.status is Status.NOISE:  # judge the reported figures on the reported payouts
        found_fairness = fairness_metrics(outcome.result.values, np.asarray(report.payouts))
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
    payouts and fairness are recomputed: values that do not follow from the recorded utilities,
    or payouts that do not follow from the values, are mismatches. Duplicate groups are taken
    from the report (finding them needs the updates).
    """
    tol = tolerances or Tolerances.for_dtype(report.config.dtype)
    try:
        outcome = _run(
            _ReplayUtility(report.utilities),
            [],
            report.participants,
            report.config,
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


def recompute(
    report: ValuationReport,
    updates: Sequence[Params],
    prev_params: Params,
    validation_data: tuple[np.ndarray, np.ndarray],
    *,
    digests: InputDigests | None = None,
    tolerances: Tolerances | None = None,
) -> RecomputeResult:
    """Redo a round's valuation from its inputs and compare every field with the report.

    ``updates`` are the accepted participants' updates in the report's participant order, and
    ``validation_data`` is ``(X, y)``. When the caller also passes the ``digests`` it computed
    from the bytes it fetched, they are compared first (any difference is a mismatch: other
    inputs than the report names). Utilities, duplicate groups, values, payouts and fairness
    figures are then recomputed with the report's spec, sample counts and config.
    """
    tol = tolerances or Tolerances.for_dtype(report.config.dtype)
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
    utility = _model_utility(
        report.model_spec,
        prev_params,
        updates,
        report.num_samples,
        validation_data,
        report.config,
    )
    outcome = _run(utility, updates, report.participants, report.config)
    checks += _compare_outcome(report, outcome, tol)
    return RecomputeResult(tuple(checks))
