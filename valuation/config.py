"""How a task values its rounds (:class:`ValuationConfig`) and one round's resolved recipe.

:class:`ValuationConfig` is the policy a requester publishes in the task spec: which method
(``"auto"`` picks exact Shapley for small rounds, Owen sampling above), which score, how a
coalition's model is built, when two updates count as duplicates, how values become payouts
(clipping, cap, proportional or FLI, evidence accumulated across rounds). Each round turns it into a
:class:`RoundValuation` — the method actually run, the seed, the budget in allocation units and
everything else the result depends on — which the valuation report records so that anyone can
redo the round from the report alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from valuation.errors import ReportError, ValuationConfigError
from valuation.registry import METHOD_NAMES

Score = Literal["accuracy", "neg_loss", "neg_brier"]
SCORES: tuple[str, ...] = ("accuracy", "neg_loss", "neg_brier")

CoalitionModel = Literal["fixed_weights", "reweighted"]
#: How a coalition's model divides its members' weighted updates (valuation.coalition).
COALITION_MODELS: tuple[str, ...] = ("fixed_weights", "reweighted")

EvidenceScale = Literal["value", "share"]
#: What a round adds to a participant's standing: its value, or its share Σ|v| = 1 (evidence).
EVIDENCE_SCALES: tuple[str, ...] = ("value", "share")

AllocationRule = Literal["proportional", "fli"]
#: How a round's budget follows values (valuation.evidence).
ALLOCATION_RULES: tuple[str, ...] = ("proportional", "fli")

#: Methods that take an evaluation budget (``max_evaluations``).
BUDGETED_METHODS: tuple[str, ...] = ("gtg", "tmc", "owen")
DEFAULT_MAX_EVALUATIONS = 6_000
DEFAULT_EVIDENCE_DECAY = 0.5

#: Each payee's entry cost, as a fraction of the round's mean positive pay basis (see
#: :mod:`valuation.evidence`): what makes one data set split over several identities earn less.
DEFAULT_IDENTITY_COST = 0.1

#: A payee is paid in a round only if its own value there reaches this fraction of the round's
#: mean positive value: pay follows accumulated evidence, but only for those contributing now.
DEFAULT_ROUND_GATE = 0.1

#: Cosine similarity at or above which two updates count as one (near-)duplicate.
DEFAULT_DUPLICATE_THRESHOLD = 0.99

#: ``method="auto"``: exact Shapley up to this many players, Owen sampling above.
DEFAULT_EXACT_MAX_PLAYERS = 10


@dataclass(frozen=True)
class ValuationConfig:
    """The task's valuation policy (the ``valuation`` object of a task spec).

    Every field has a default, so task specs written before a field existed keep loading.

    ``method``
        ``"auto"`` (exact Shapley up to ``exact_max_players``, Owen sampling above: see
        :mod:`valuation.methods.owen`) or a name of :data:`valuation.registry.METHOD_NAMES`.
    ``score``
        ``"neg_brier"`` (minus the multiclass Brier score, the default: smooth and bounded,
        so a few confident mistakes do not dominate it), ``"neg_loss"`` (minus the validation
        cross-entropy: smooth, unbounded) or ``"accuracy"`` (a step function of the model:
        noisy on a few hundred samples).
    ``coalition_model``
        ``"fixed_weights"`` (a coalition keeps its members' weights in the round's aggregate:
        a null update is a null player) or ``"reweighted"`` (each coalition aggregated as if it
        were the round, as earlier releases did); see :mod:`valuation.coalition`.
    ``duplicate_threshold``
        cosine similarity at or above which two updates are one (near-)duplicate: only the
        earliest committer's counts (``None`` turns detection off).
    ``clip_negative``
        ``True``: a negative value (per payee, a duplicate group being one payee) is paid
        nothing and costs nobody anything; ``False``: negative values count against the round,
        which then pays out only the net gain's share of its budget (the rest is refunded).
    ``cap``
        the largest fraction of a round's budget one payee can receive (the excess goes to the
        others, see :mod:`valuation.allocation`); ``None`` for no cap.
    ``allocation``
        ``"proportional"`` (payouts ∝ values) or ``"fli"`` (the FLI queues of
        :mod:`valuation.fli`, carried from round to round).
    ``evidence_decay``
        how payouts follow evidence accumulated across rounds: a participant's standing is
        ``A ← evidence_decay · A + v`` after each valued round, and a round pays its players in
        proportion to their standing. ``0`` pays on the round's own values alone; ``1`` on the
        plain sum of every round so far; the default ``0.5`` weighs the last round as much as
        all earlier ones together, so a participant that stops contributing stops being paid
        within a few rounds (see :mod:`valuation.evidence` and docs/valuation.md).
    ``evidence_scale``
        what a round adds to a standing: ``"value"`` (its Shapley value, so rounds that
        improved the model most weigh most) or ``"share"`` (its value divided by the round's
        ``Σ|v|``, so every round weighs the same).
    ``identity_cost``
        each payee's entry cost, as a fraction of the mean positive standing of the round's
        payees: ``c · Σ max(0, A) / m`` is taken off every payee's standing before clipping,
        and the budget is shared by what remains. Among equal payees it changes nothing; one
        data set split over k identities pays it k times, which is what makes splitting
        lose (docs/valuation.md). ``0`` turns it off.
    ``round_gate``
        a payee is paid in a round only if its own value in that round is positive and at least
        ``round_gate`` times the mean positive value of the round's payees; its standing is
        kept either way. It stops a participant with a history from being paid, on that
        history, for rounds in which it sends nothing useful. ``0`` pays every positive
        standing.
    ``max_evaluations``
        the utility evaluations a sampled method (Owen, GTG, TMC) may spend in a round.
    """

    method: str = "auto"
    exact_max_players: int = DEFAULT_EXACT_MAX_PLAYERS
    score: Score = "neg_brier"
    duplicate_threshold: float | None = DEFAULT_DUPLICATE_THRESHOLD
    clip_negative: bool = True
    coalition_model: CoalitionModel = "fixed_weights"
    cap: float | None = None
    allocation: AllocationRule = "proportional"
    evidence_decay: float = DEFAULT_EVIDENCE_DECAY
    evidence_scale: EvidenceScale = "value"
    identity_cost: float = DEFAULT_IDENTITY_COST
    round_gate: float = DEFAULT_ROUND_GATE
    max_evaluations: int | None = DEFAULT_MAX_EVALUATIONS

    def __post_init__(self) -> None:
        if self.method != "auto" and self.method not in METHOD_NAMES:
            raise ValuationConfigError(
                f"unknown valuation method {self.method!r}; "
                f"choose auto or one of {', '.join(METHOD_NAMES)}"
            )
        _check_choice("score", self.score, SCORES)
        _check_choice("coalition_model", self.coalition_model, COALITION_MODELS)
        _check_choice("allocation", self.allocation, ALLOCATION_RULES)
        _check_choice("evidence_scale", self.evidence_scale, EVIDENCE_SCALES)
        _check_count("exact_max_players", self.exact_max_players)
        if self.max_evaluations is not None:
            _check_count("max_evaluations", self.max_evaluations)
        if self.duplicate_threshold is not None and not -1.0 <= self.duplicate_threshold <= 1.0:
            raise ValuationConfigError(
                f"duplicate_threshold is a cosine similarity in [-1, 1], "
                f"got {self.duplicate_threshold}"
            )
        if self.cap is not None and not 0.0 < self.cap <= 1.0:
            raise ValuationConfigError(
                f"cap is a fraction of the round budget in (0, 1], got {self.cap}"
            )
        if not 0.0 <= self.evidence_decay <= 1.0:
            raise ValuationConfigError(
                f"evidence_decay must lie in [0, 1], got {self.evidence_decay}"
            )
        if not _is_fraction(self.identity_cost):
            raise ValuationConfigError(
                f"identity_cost is a fraction of the mean standing in [0, 1], "
                f"got {self.identity_cost!r}"
            )
        if not _is_fraction(self.round_gate):
            raise ValuationConfigError(
                f"round_gate is a fraction of the round's mean value in [0, 1], "
                f"got {self.round_gate!r}"
            )
        if not isinstance(self.clip_negative, bool):
            raise ValuationConfigError(
                f"clip_negative must be true or false, not {self.clip_negative!r}"
            )

    def method_for(self, n_players: int) -> str:
        """The method a round of ``n_players`` is valued with."""
        if self.method != "auto":
            return self.method
        return "exact" if n_players <= self.exact_max_players else "owen"

    def for_round(self, n_players: int, seed: int, budget: int) -> RoundValuation:
        """The resolved recipe of one round of ``n_players`` with ``budget`` allocation units."""
        method = self.method_for(n_players)
        options: dict[str, Any] = {}
        if method in BUDGETED_METHODS and self.max_evaluations is not None:
            options["max_evaluations"] = self.max_evaluations
        return RoundValuation(
            budget=budget,
            method=method,
            seed=seed,
            options=options,
            score=self.score,
            dtype="float64",
            duplicate_threshold=self.duplicate_threshold,
            cap=None if self.cap is None else math.floor(self.cap * budget),
            clip_negative=self.clip_negative,
            coalition_model=self.coalition_model,
            allocation=self.allocation,
            evidence_decay=self.evidence_decay,
            evidence_scale=self.evidence_scale,
            identity_cost=self.identity_cost,
            round_gate=self.round_gate,
        )

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValuationConfig:
        """Inverse of :meth:`to_dict`; missing fields take their defaults, unknown ones fail."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValuationConfigError(f"unknown valuation setting(s) {unknown}")
        return cls(**dict(data))


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValuationConfigError(f"unknown {name} {value!r}; choose one of {', '.join(choices)}")


def _is_fraction(value: Any) -> bool:
    return (
        not isinstance(value, bool)
        and isinstance(value, int | float)
        and math.isfinite(value)
        and 0.0 <= value <= 1.0
    )


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValuationConfigError(f"{name} must be a positive integer, got {value!r}")


@dataclass(frozen=True)
class RoundValuation:
    """One round's resolved recipe: everything besides the inputs that the result depends on.

    ``budget`` is in allocation units; ``options`` go to the method (JSON types only, e.g.
    ``{"max_evaluations": 500}``); ``duplicate_threshold`` is the cosine similarity above which
    updates are one player (``None``: no detection); ``cap`` bounds any single payout (units).
    The remaining fields are the policy's (:class:`ValuationConfig`). Reports of schema 1
    predate them and read back with the behaviour of that release (:data:`LEGACY`).
    """

    budget: int
    method: str = "exact"
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)
    score: Score = "neg_loss"
    dtype: Literal["float64", "float32"] = "float64"
    duplicate_threshold: float | None = DEFAULT_DUPLICATE_THRESHOLD
    cap: int | None = None
    clip_negative: bool = True
    coalition_model: CoalitionModel = "fixed_weights"
    allocation: AllocationRule = "proportional"
    evidence_decay: float = DEFAULT_EVIDENCE_DECAY
    evidence_scale: EvidenceScale = "value"
    identity_cost: float = 0.0
    round_gate: float = 0.0

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
        if self.cap is not None and (isinstance(self.cap, bool) or int(self.cap) < 0):
            raise ReportError(f"cap must be a non-negative integer, got {self.cap!r}")
        for name, value, choices in (
            ("coalition_model", self.coalition_model, COALITION_MODELS),
            ("allocation", self.allocation, ALLOCATION_RULES),
            ("evidence_scale", self.evidence_scale, EVIDENCE_SCALES),
        ):
            if value not in choices:
                raise ReportError(f"unknown {name} {value!r}; choose one of {choices}")
        if not 0.0 <= self.evidence_decay <= 1.0:
            raise ReportError(f"evidence_decay must lie in [0, 1], got {self.evidence_decay}")
        if not _is_fraction(self.identity_cost):
            raise ReportError(f"identity_cost must lie in [0, 1], got {self.identity_cost!r}")
        object.__setattr__(self, "identity_cost", float(self.identity_cost))
        if not _is_fraction(self.round_gate):
            raise ReportError(f"round_gate must lie in [0, 1], got {self.round_gate!r}")
        object.__setattr__(self, "round_gate", float(self.round_gate))

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
            "clip_negative": self.clip_negative,
            "coalition_model": self.coalition_model,
            "allocation": self.allocation,
            "evidence_decay": self.evidence_decay,
            "evidence_scale": self.evidence_scale,
            "identity_cost": self.identity_cost,
            "round_gate": self.round_gate,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoundValuation:
        """Inverse of :meth:`to_dict`; a record without the policy fields added since it was
        written (schema 1, or before ``identity_cost`` and ``round_gate``) reads back with that release's
        behaviour."""
        given = {**LEGACY, **data}
        return cls(
            budget=int(given["budget"]),
            method=str(given["method"]),
            seed=int(given["seed"]),
            options=dict(given["options"]),
            score=given["score"],
            dtype=given["dtype"],
            duplicate_threshold=given["duplicate_threshold"],
            cap=given["cap"],
            clip_negative=bool(given["clip_negative"]),
            coalition_model=given["coalition_model"],
            allocation=given["allocation"],
            evidence_decay=float(given["evidence_decay"]),
            evidence_scale=given["evidence_scale"],
            identity_cost=float(given["identity_cost"]),
            round_gate=float(given["round_gate"]),
        )


#: What a schema-1 report's recipe meant for the fields it did not record.
LEGACY: dict[str, Any] = {
    "clip_negative": True,
    "coalition_model": "reweighted",
    "allocation": "proportional",
    "evidence_decay": 0.0,
    "evidence_scale": "value",
    "identity_cost": 0.0,
    "round_gate": 0.0,
}
