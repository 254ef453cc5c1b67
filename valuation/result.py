"""ValuationResult: the immutable, JSON-serialisable record of one valuation."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from valuation.errors import ResultError


@dataclass(frozen=True)
class ValuationResult:
    """Values of players ``0..n-1`` and how they were obtained.

    ``stderr`` is the standard error of each estimate for sampled methods (``None`` for exact
    ones); ``evaluations`` counts utility evaluations that were actually computed and
    ``cache_hits`` those served from the cache; ``samples`` counts what the method sampled
    (permutations, subsets, or coalitions for exact methods); ``converged`` says whether a
    convergence criterion (not merely a budget) ended the run, and is always true for exact
    methods. ``params`` holds the method's parameters (JSON types only) so a report can be
    replayed.
    """

    values: np.ndarray
    stderr: np.ndarray | None
    method: str
    evaluations: int
    cache_hits: int
    samples: int
    converged: bool
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64)
        if values.ndim != 1:
            raise ResultError(f"values must be a 1-d array, got shape {values.shape}")
        if not np.all(np.isfinite(values)):
            raise ResultError("values must be finite")
        values.setflags(write=False)
        object.__setattr__(self, "values", values)
        if self.stderr is not None:
            stderr = np.array(self.stderr, dtype=np.float64)
            if stderr.shape != values.shape:
                raise ResultError(
                    f"stderr shape {stderr.shape} does not match values shape {values.shape}"
                )
            if np.any(stderr < 0) or np.any(np.isnan(stderr)):
                raise ResultError("stderr must be non-negative (inf allowed when unknown)")
            stderr.setflags(write=False)
            object.__setattr__(self, "stderr", stderr)
        if not self.method:
            raise ResultError("method must be named")
        for name in ("evaluations", "cache_hits", "samples"):
            count = getattr(self, name)
            if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
                raise ResultError(f"{name} must be a non-negative integer, got {count!r}")
            object.__setattr__(self, name, int(count))
        object.__setattr__(self, "converged", bool(self.converged))
        object.__setattr__(self, "params", dict(self.params))

    @property
    def n_players(self) -> int:
        return int(self.values.shape[0])

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types; floats keep full precision (``repr`` round-trips), inf as null."""
        return {
            "values": self.values.tolist(),
            "stderr": None
            if self.stderr is None
            else [None if math.isinf(s) else s for s in self.stderr.tolist()],
            "method": self.method,
            "evaluations": self.evaluations,
            "cache_hits": self.cache_hits,
            "samples": self.samples,
            "converged": self.converged,
            "params": dict(self.params),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ValuationResult:
        """Inverse of :meth:`to_dict`."""
        try:
            stderr = data["stderr"]
            return cls(
                values=np.asarray(data["values"], dtype=np.float64),
                stderr=None
                if stderr is None
                else np.array([math.inf if s is None else s for s in stderr], dtype=np.float64),
                method=str(data["method"]),
                evaluations=int(data["evaluations"]),
                cache_hits=int(data["cache_hits"]),
                samples=int(data["samples"]),
                converged=bool(data["converged"]),
                params=dict(data.get("params", {})),
            )
        except KeyError as exc:
            raise ResultError(f"missing field {exc.args[0]!r} in a valuation result") from exc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ValuationResult):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]
