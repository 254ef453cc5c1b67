"""Valuation methods: exact and sampled Shapley, GTG-Shapley, Owen sampling, leave-one-out,
Banzhaf, CGSV."""

from valuation.methods.banzhaf import ExactBanzhaf, MSRBanzhaf, banzhaf_from_utilities
from valuation.methods.base import ValuationMethod
from valuation.methods.cgsv import cgsv, cgsv_values
from valuation.methods.exact import ExactShapley, shapley_from_utilities
from valuation.methods.gtg import GTGShapley
from valuation.methods.loo import LeaveOneOut
from valuation.methods.owen import OwenShapley
from valuation.methods.tmc import TMCShapley

__all__ = [
    "ExactBanzhaf",
    "ExactShapley",
    "GTGShapley",
    "LeaveOneOut",
    "MSRBanzhaf",
    "OwenShapley",
    "TMCShapley",
    "ValuationMethod",
    "banzhaf_from_utilities",
    "cgsv",
    "cgsv_values",
    "shapley_from_utilities",
]
