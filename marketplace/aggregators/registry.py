"""Aggregators by name: ``get_aggregator("trimmed_mean", beta=0.2)``."""

from __future__ import annotations

from typing import Any

from marketplace.aggregators.base import Aggregator
from marketplace.aggregators.fedavg import FedAvg
from marketplace.aggregators.krum import Krum
from marketplace.aggregators.median import Median
from marketplace.aggregators.qffl import QFFL
from marketplace.aggregators.trimmed_mean import TrimmedMean
from marketplace.errors import ConfigError

AGGREGATORS: dict[str, type[Aggregator]] = {
    cls.name: cls for cls in (FedAvg, Median, TrimmedMean, Krum, QFFL)
}
"""Registry name → class."""


def get_aggregator(name: str, **params: Any) -> Aggregator:
    """The aggregator ``name`` built with ``params``; ConfigError for unknown names or bad params.

    ``get_aggregator(a.name, **a.params())`` rebuilds an equal aggregator ``a``, which is how a
    valuation report names the aggregator it used.
    """
    cls = AGGREGATORS.get(name)
    if cls is None:
        raise ConfigError(
            f"unknown aggregator {name!r}", hint=f"choose one of {', '.join(AGGREGATORS)}"
        )
    try:
        return cls(**params)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"aggregator {name!r}: {exc}") from exc
