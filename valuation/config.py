"""How a task values its rounds (:class:`ValuationConfig`) and one round's resolved recipe.

:class:`ValuationConfig` is the policy a requester publishes in the task spec: which method
(``"auto"`` picks exact Shapley for small rounds, GTG-Shapley above), which score, when two
updates count as duplicates, whether negative values are clipped. Each round turns it into a
:class:`RoundValuation` — the method actually run, the seed, the budget in allocation units and
everything else the result depends on — which the valuation report records so that anyone can
redo the round from the report alone.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from valuation.errors import ReportError, ValuationConfigError
from valuation.registry import METHOD_NAMES

Score = Literal["accuracy", "neg_loss"]
SCORES: tuple[str, ...] = ("accuracy", "neg_loss")

CoalitionModel = Literal["fixed_weights", "reweighted"]
#: How a coalition's model divides its members' weighted updates (valuation.coalition).
COALITION_MODELS: tuple[str, ...] = ("fixed_weights", "reweighted")

#: Cosine similarity at or above which two updates count as one (near-)duplicate.
DEFAULT_DUPLICATE_THRESHOLD = 0.999

#: ``method="auto"``: exact Shapley up to this many players, GTG-Shapley above.
DEFAULT_EXACT_MAX_PLAYERS = 10


@dataclass(frozen=True)
class ValuationConfig:
    """The task's valuation policy (the ``valuation`` object of a task spec).

    ``method`` is ``"auto"`` or a name of :data:`valuation.registry.METHOD_NAMES`;
    ``duplicate_threshold`` is a cosine similarity in [-1, 1] (``None`` turns duplicate
    detection off). Every field has a default, so older task specs keep loading.
    """

    method: str = "auto"
    exact_max_players: int = DEFAULT_EXACT_MAX_PLAYERS
    score: Score = "accuracy"
    duplicate_threshold: float | None = DEFAULT_DUPLICATE_THRESHOLD
    clip_negative: bool = True

    def __post_init__(self) -> None:
        if self.method != "auto" and self.method not in METHOD_NAMES:
            raise ValuationConfigError(
                f"unknown valuation method {self.method!r}; "
                f"choose auto or one of {', '.join(METHOD_NAMES)}"
            )
        if self.score not in SCORES:
            raise ValuationConfigError(f"unknown score {self.score!r}; choose one of {SCORES}")
        if isinstance(self.exact_max_players, bool) or self.exact_max_players < 1:
            raise ValuationConfigError(
                f"exact_max_players must be a positive integer, got {self.exact_max_players!r}"
            )
        if self.duplicate_threshold is not None and not -1.0 <= self.duplicate_threshold <= 1.0:
            raise ValuationConfigError(
                f"duplicate_threshold is a cosine similarity in [-1, 1], "
                f"got {self.duplicate_threshold}"
            )

    def method_for(self, n_players: int) -> str:
        """The method a round of ``n_players`` is valued with."""
        if self.method != "auto":
            return self.method
        return "exact" if n_players <= self.exact_max_players else "gtg"

    def for_round(self, n_players: int, seed: int, budget: int) -> RoundValuation:
        """The resolved recipe of one round of ``n_players`` with ``budget`` allocation units."""
        return RoundValuation(
            budget=budget,
            method=self.method_for(n_players),
            seed=seed,
            score=self.score,
            dtype="float64",
            duplicate_threshold=self.duplicate_threshold,
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


@dataclass(frozen=True)
class RoundValuation:
    """One round's resolved recipe: everything besides the inputs that the result depends on.

    ``budget`` is in allocation units; ``options`` go to the method (JSON types only, e.g.
    ``{"max_evaluations": 500}``); ``duplicate_threshold`` is the cosine similarity above which
    updates are one player (``None``: no detection); ``cap`` bounds any single payout (units).
    """

    budget: int
    method: str = "exact"
    seed: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)
    score: Score = "accuracy"
    dtype: Literal["float64", "float32"] = "float64"
    duplicate_threshold: float | None = DEFAULT_DUPLICATE_THRESHOLD
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
    def from_dict(cls, data: Mapping[str, Any]) -> RoundValuation:
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
