"""Valuation methods by name: ``make_method("gtg", n_players, seed=7, max_evaluations=500)``.

The one list of method names. The task spec validates against it, ``valuation.value`` builds
from it and a report names the method it ran by it. An entry builds its method from plain
options; ``make_method(m.name, n, **m.params())`` rebuilds an equal method ``m`` (the params a
:class:`~valuation.result.ValuationResult` records), the same round trip as the aggregator
registry. Importing this module is light (no numpy): each entry imports its class when used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from valuation.errors import MethodError

if TYPE_CHECKING:
    from valuation.methods.base import ValuationMethod

#: Players up to which ``"banzhaf"`` is computed exactly (power set), sampled (MSR) above.
BANZHAF_EXACT_LIMIT = 14


@dataclass(frozen=True)
class MethodEntry:
    """One registered method: its name, the class behind it and whether it takes a seed."""

    name: str
    target: str  # "module:Class"
    seeded: bool
    summary: str

    def load(self) -> type[ValuationMethod]:
        module, cls = self.target.split(":")
        loaded: type[ValuationMethod] = getattr(importlib.import_module(module), cls)
        return loaded


_ENTRIES = (
    MethodEntry("exact", "valuation.methods.exact:ExactShapley", False, "exact Shapley (2^n)"),
    MethodEntry("tmc", "valuation.methods.tmc:TMCShapley", True, "truncated Monte Carlo Shapley"),
    MethodEntry("gtg", "valuation.methods.gtg:GTGShapley", True, "GTG-Shapley, size-stratified"),
    MethodEntry("loo", "valuation.methods.loo:LeaveOneOut", False, "leave-one-out"),
    MethodEntry("owen", "valuation.methods.owen:OwenShapley", True, "Owen sampling (large rounds)"),
    MethodEntry(
        "banzhaf-exact", "valuation.methods.banzhaf:ExactBanzhaf", False, "exact Banzhaf (2^n)"
    ),
    MethodEntry(
        "banzhaf-msr", "valuation.methods.banzhaf:MSRBanzhaf", True, "Banzhaf by sample reuse"
    ),
)

METHODS: dict[str, MethodEntry] = {entry.name: entry for entry in _ENTRIES}
"""Registry name → entry (the concrete methods)."""

#: ``"banzhaf"`` is exact up to ``exact_limit`` players (default 14) and sampled (MSR) above.
ALIASES: dict[str, tuple[str, str]] = {"banzhaf": ("banzhaf-exact", "banzhaf-msr")}

METHOD_NAMES: tuple[str, ...] = ("exact", "tmc", "gtg", "owen", "loo", "banzhaf")
"""The names a task spec or ``valuation.value`` accepts (``banzhaf`` picks exact or MSR)."""

ALL_NAMES: tuple[str, ...] = (*METHOD_NAMES, *(n for n in METHODS if n not in METHOD_NAMES))


def resolve_name(method: str, n_players: int, options: dict[str, Any]) -> str:
    """The concrete registry name for ``method`` (an alias picks by size; pops its option)."""
    if method in ALIASES:
        exact, sampled = ALIASES[method]
        limit = int(options.pop("exact_limit", BANZHAF_EXACT_LIMIT))
        if n_players <= limit:
            options.pop("stop", None)
            options.pop("batch_size", None)
            return exact
        return sampled
    if method not in METHODS:
        raise MethodError(
            f"unknown valuation method {method!r}; choose one of {', '.join(ALL_NAMES)}"
        )
    return method


def make_method(method: str, n_players: int, seed: int = 0, **options: Any) -> ValuationMethod:
    """The method object behind a name; ``options`` go to its constructor.

    Deterministic methods (exact, loo, exact Banzhaf) ignore ``seed``; for seeded ones a
    ``seed`` inside ``options`` (as recorded in a result's params) wins over the argument.
    """
    options = dict(options)
    entry = METHODS[resolve_name(method, n_players, options)]
    seed = int(options.pop("seed", seed))
    try:
        if entry.seeded:
            return entry.load()(seed=seed, **options)  # type: ignore[call-arg]
        return entry.load()(**options)
    except TypeError as exc:
        raise MethodError(f"bad options for method {method!r}: {exc}") from exc
