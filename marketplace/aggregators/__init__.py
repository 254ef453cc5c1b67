"""Aggregators: interchangeable rules that combine a round's updates (FedAvg, median, ...)."""

from marketplace.aggregators.base import Aggregator
from marketplace.aggregators.fedavg import FedAvg
from marketplace.aggregators.krum import Krum
from marketplace.aggregators.median import Median
from marketplace.aggregators.qffl import QFFL
from marketplace.aggregators.registry import AGGREGATORS, get_aggregator
from marketplace.aggregators.trimmed_mean import TrimmedMean

__all__ = [
    "AGGREGATORS",
    "QFFL",
    "Aggregator",
    "FedAvg",
    "Krum",
    "Median",
    "TrimmedMean",
    "get_aggregator",
]
