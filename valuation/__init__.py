"""Contribution valuation and fairness-aware allocation for federated rounds (pure: no chain, no IPFS, no web).

The package's public names are importable from here (``valuation.shapley_values``, ...). They
are loaded on first use, so importing one light submodule (``valuation.model_spec``) does not
pull in torch through the coalition utilities.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

# Two public functions share their submodule's name (``valuation.allocation`` and
# ``valuation.accumulate``); importing the submodule would bind the module to that name, so these
# two (numpy only, no torch) are imported eagerly, which binds the functions instead.
from valuation.accumulate import accumulate
from valuation.allocation import allocation

#: public name -> the submodule that defines it
_EXPORTS: dict[str, str] = {
    "Accumulator": "valuation.accumulate",
    "AllOf": "valuation.stopping",
    "Allocation": "valuation.allocation",
    "AllocationError": "valuation.errors",
    "AnyOf": "valuation.stopping",
    "CachedUtility": "valuation.utility",
    "ExactBanzhaf": "valuation.methods",
    "ExactShapley": "valuation.methods",
    "FLIQueues": "valuation.fli",
    "FunctionUtility": "valuation.utility",
    "GTGShapley": "valuation.methods",
    "GameError": "valuation.errors",
    "GuidedPermutationSampler": "valuation.samplers",
    "HistoryDeviation": "valuation.stopping",
    "LeaveOneOut": "valuation.methods",
    "MSRBanzhaf": "valuation.methods",
    "MaxEvaluations": "valuation.stopping",
    "MaxUpdates": "valuation.stopping",
    "MergedUtility": "valuation.duplicates",
    "MethodError": "valuation.errors",
    "PermutationSampler": "valuation.samplers",
    "PowerSetSampler": "valuation.samplers",
    "Progress": "valuation.stopping",
    "ResultError": "valuation.errors",
    "RoundValuation": "valuation.config",
    "StandardErrorBelow": "valuation.stopping",
    "StoppingRule": "valuation.stopping",
    "TMCShapley": "valuation.methods",
    "UniformSubsetSampler": "valuation.samplers",
    "Utility": "valuation.utility",
    "ValuationError": "valuation.errors",
    "ValuationMethod": "valuation.methods",
    "ValuationConfig": "valuation.config",
    "ValuationConfigError": "valuation.errors",
    "ValuationResult": "valuation.result",
    "accumulate": "valuation.accumulate",
    "allocate": "valuation.allocation",
    "allocation": "valuation.allocation",
    "banzhaf_from_utilities": "valuation.methods",
    "cgsv": "valuation.methods",
    "cgsv_values": "valuation.methods",
    "duplicate_groups": "valuation.duplicates",
    "fairness_metrics": "valuation.fairness",
    "gini": "valuation.fairness",
    "jain_index": "valuation.fairness",
    "make_method": "valuation.registry",
    "pearson": "valuation.fairness",
    "shapley_from_utilities": "valuation.methods",
    "shapley_values": "valuation.api",
    "split_group_values": "valuation.duplicates",
    "value": "valuation.api",
}

__all__ = [
    "Accumulator",
    "AllOf",
    "Allocation",
    "AllocationError",
    "AnyOf",
    "CachedUtility",
    "ExactBanzhaf",
    "ExactShapley",
    "FLIQueues",
    "FunctionUtility",
    "GTGShapley",
    "GameError",
    "GuidedPermutationSampler",
    "HistoryDeviation",
    "LeaveOneOut",
    "MSRBanzhaf",
    "MaxEvaluations",
    "MaxUpdates",
    "MergedUtility",
    "MethodError",
    "PermutationSampler",
    "PowerSetSampler",
    "Progress",
    "ResultError",
    "RoundValuation",
    "StandardErrorBelow",
    "StoppingRule",
    "TMCShapley",
    "UniformSubsetSampler",
    "Utility",
    "ValuationConfig",
    "ValuationConfigError",
    "ValuationError",
    "ValuationMethod",
    "ValuationResult",
    "accumulate",
    "allocate",
    "allocation",
    "banzhaf_from_utilities",
    "cgsv",
    "cgsv_values",
    "duplicate_groups",
    "fairness_metrics",
    "gini",
    "jain_index",
    "make_method",
    "pearson",
    "shapley_from_utilities",
    "shapley_values",
    "split_group_values",
    "value",
]


#: Public functions named like the submodule that defines them. Importing a submodule binds
#: its name on the package, which would shadow the function (``from valuation import
#: allocation`` would give the module), so the package keeps the function under that name.
_SHADOWED = frozenset(n for n, m in _EXPORTS.items() if m == f"valuation.{n}")


class _Package(types.ModuleType):
    """The package's module type: never lets a submodule shadow a public function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return  # the submodule stays reachable through sys.modules and ``from ... import``
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'valuation' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # static checkers see the real names
    from valuation.accumulate import Accumulator, accumulate
    from valuation.allocation import Allocation, allocate, allocation
    from valuation.api import shapley_values, value
    from valuation.config import RoundValuation, ValuationConfig
    from valuation.duplicates import MergedUtility, duplicate_groups, split_group_values
    from valuation.errors import (
        AllocationError,
        GameError,
        MethodError,
        ResultError,
        ValuationConfigError,
        ValuationError,
    )
    from valuation.fairness import fairness_metrics, gini, jain_index, pearson
    from valuation.fli import FLIQueues
    from valuation.methods import (
        ExactBanzhaf,
        ExactShapley,
        GTGShapley,
        LeaveOneOut,
        MSRBanzhaf,
        TMCShapley,
        ValuationMethod,
        banzhaf_from_utilities,
        cgsv,
        cgsv_values,
        shapley_from_utilities,
    )
    from valuation.registry import make_method
    from valuation.result import ValuationResult
    from valuation.samplers import (
        GuidedPermutationSampler,
        PermutationSampler,
        PowerSetSampler,
        UniformSubsetSampler,
    )
    from valuation.stopping import (
        AllOf,
        AnyOf,
        HistoryDeviation,
        MaxEvaluations,
        MaxUpdates,
        Progress,
        StandardErrorBelow,
        StoppingRule,
    )
    from valuation.utility import CachedUtility, FunctionUtility, Utility
