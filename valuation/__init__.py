"""Contribution valuation and fairness-aware allocation for federated rounds (pure: no chain, no IPFS, no web)."""

from valuation.accumulate import Accumulator, accumulate
from valuation.allocation import Allocation, allocate, allocation
from valuation.api import make_method, shapley_values, value
from valuation.duplicates import MergedUtility, duplicate_groups, split_group_values
from valuation.errors import (
    AllocationError,
    GameError,
    MethodError,
    ResultError,
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
    "StandardErrorBelow",
    "StoppingRule",
    "TMCShapley",
    "UniformSubsetSampler",
    "Utility",
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
