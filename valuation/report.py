"""The valuation report: the wire schema of one round's valuation (value objects, JSON).

A :class:`ValuationReport` records everything needed to check one round's contributions and
payouts: digests of the inputs, the players, the recipe (:class:`~valuation.config.
RoundValuation`), the coalition utilities evaluated, the duplicate groups, the method's result,
the integer payouts and the fairness figures. Its canonical JSON (:meth:`ValuationReport.to_json`)
is what a round report embeds. Building one is :func:`valuation.build.build_report`; checking
one is :func:`valuation.recompute.recompute` (with the inputs) or
:func:`valuation.recompute.replay` (from the report alone).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from valuation.config import RoundValuation
from valuation.errors import ReportError
from valuation.evidence import Evidence
from valuation.model_spec import ModelSpec
from valuation.result import ValuationResult
from valuation.utility import Coalition

SCHEMA_VERSION = 2
#: Schema versions this code reads (1: before coalition rules, evidence and priorities).
READABLE_VERSIONS: tuple[int, ...] = (1, 2)

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

    The game: ``coefficients`` and ``normalizers`` are the aggregation rule's ``c_i`` and
    ``h_i`` that coalition models are built with (``None``: the sample counts, FedAvg).
    The pay (:mod:`valuation.evidence`): ``previous_state`` is the evidence carried in from the
    task's previous valued round, ``pay_basis`` each player's standing after this round (what
    the payouts follow), ``state`` the evidence carried out, ``unspent`` the budget units not
    paid; ``priority`` ranks the players for the duplicate-group rule (commit order; ``None``:
    player order). Schema-1 reports predate these fields and read back with that release's
    behaviour.
    """

    digests: InputDigests
    participants: tuple[str, ...]
    num_samples: tuple[int, ...]
    model_spec: ModelSpec
    config: RoundValuation
    utilities: CoalitionUtilities
    duplicate_groups: tuple[tuple[int, ...], ...]
    rejected: tuple[Rejection, ...]
    result: ValuationResult
    payouts: tuple[int, ...]
    fairness: Mapping[str, float]
    coefficients: tuple[float, ...] | None = None
    normalizers: tuple[float, ...] | None = None
    priority: tuple[int, ...] | None = None
    previous_state: Evidence = field(default_factory=Evidence)
    pay_basis: tuple[float, ...] | None = None
    state: Evidence | None = None
    unspent: int = 0
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
        for name in ("coefficients", "normalizers", "pay_basis"):
            vector = getattr(self, name)
            if vector is not None:
                object.__setattr__(self, name, tuple(float(x) for x in vector))
        if self.priority is not None:
            object.__setattr__(self, "priority", tuple(int(x) for x in self.priority))
        if self.schema_version not in READABLE_VERSIONS:
            raise ReportError(
                f"report schema version {self.schema_version} is not one of {READABLE_VERSIONS}"
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
        for name in ("coefficients", "normalizers", "priority", "pay_basis"):
            vector = getattr(self, name)
            if vector is not None:
                lengths[name] = len(vector)
        for name, length in lengths.items():
            if length != n:
                raise ReportError(f"{name} has {length} entries for {n} participants")
        if self.utilities.n_players != n:
            raise ReportError("utilities are recorded for another number of players")
        if sum(self.payouts) > self.config.budget or min(self.payouts, default=0) < 0:
            raise ReportError("payouts must be non-negative and within the budget")
        if not 0 <= self.unspent <= self.config.budget - sum(self.payouts):
            raise ReportError("unspent must be what the payouts leave of the budget")

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
            "coefficients": _list_or_none(self.coefficients),
            "normalizers": _list_or_none(self.normalizers),
            "priority": _list_or_none(self.priority),
            "previous_state": self.previous_state.to_dict(),
            "pay_basis": _list_or_none(self.pay_basis),
            "state": None if self.state is None else self.state.to_dict(),
            "unspent": self.unspent,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValuationReport:
        version = data.get("schema_version")
        if version not in READABLE_VERSIONS:
            raise ReportError(f"unsupported report schema version {version!r}")
        try:
            participants = tuple(str(p) for p in data["participants"])
            return cls(
                digests=InputDigests.from_dict(data["digests"]),
                participants=participants,
                num_samples=tuple(data["num_samples"]),
                model_spec=ModelSpec.from_dict(data["model_spec"]),
                config=RoundValuation.from_dict(data["config"]),
                utilities=CoalitionUtilities.from_dict(len(participants), data["utilities"]),
                duplicate_groups=tuple(tuple(g) for g in data["duplicate_groups"]),
                rejected=tuple(Rejection.from_dict(r) for r in data["rejected"]),
                result=ValuationResult.from_dict(data["result"]),
                payouts=tuple(data["payouts"]),
                fairness={str(k): float(v) for k, v in data["fairness"].items()},
                coefficients=data.get("coefficients"),
                normalizers=data.get("normalizers"),
                priority=data.get("priority"),
                previous_state=Evidence.from_dict(data.get("previous_state")),
                pay_basis=data.get("pay_basis"),
                state=None if data.get("state") is None else Evidence.from_dict(data["state"]),
                unspent=int(data.get("unspent", 0)),
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


def _list_or_none(vector: tuple[Any, ...] | None) -> list[Any] | None:
    return None if vector is None else list(vector)
