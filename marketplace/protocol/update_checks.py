"""Screening of revealed updates before aggregation: which are accepted, which rejected and why.

:func:`check_update` validates one decoded update against the task's model spec and raises the
matching :class:`~marketplace.errors.InvalidUpdate` subclass. :func:`screen_updates` runs it over
a round's candidates (already fetched, or failed to fetch) and returns the accepted ones plus a
:class:`RejectedUpdate` for every other, with a short stable reason code. The codes appear in
valuation reports and in the audit, so they never change meaning:

=================  ==============================================================================
``fetch_failed``   the content could not be retrieved (not found, backend down, timeout)
``hash_mismatch``  the bytes do not hash to the revealed CID or sha256
``malformed``      the bytes are not a decodable update (bad safetensors, oversized blob)
``shape_mismatch`` tensor names, shapes or dtypes differ from the model spec
``non_finite``     a tensor holds NaN or Inf
``norm_bound``     the update's L2 norm exceeds the task's bound
``duplicate_cid``  two or more participants revealed the same CID: only the earliest committer
                   (chain order of the Committed events) is kept; without a commit order all
                   of them are rejected. Commit-reveal blocks copying within a round unless the
                   update leaked or the parties collude; whoever committed it first is the only
                   one who can have had it first.
``near_duplicate`` the update's cosine similarity with an earlier committer's update reaches the
                   task's duplicate threshold: a copy plus noise, kept out like an exact copy
                   (set by the round computation, not by this module)
``empty_update``   the update is all zeros (set by the round computation, not by this module)
``replayed_cid``   the CID was revealed in an earlier round (set by the round computation)
=================  ==============================================================================
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from marketplace.errors import (
    CidMismatch,
    CorruptContent,
    InvalidUpdate,
    NonFiniteWeights,
    OversizedInput,
    ShapeMismatch,
    StorageError,
)
from valuation.model_spec import ModelSpec, parameter_shapes


class RejectionReason(StrEnum):
    """Why a revealed update was left out of a round (stable codes; see the module docstring)."""

    FETCH_FAILED = "fetch_failed"
    HASH_MISMATCH = "hash_mismatch"
    MALFORMED = "malformed"
    SHAPE_MISMATCH = "shape_mismatch"
    NON_FINITE = "non_finite"
    NORM_BOUND = "norm_bound"
    DUPLICATE_CID = "duplicate_cid"
    NEAR_DUPLICATE = "near_duplicate"
    EMPTY_UPDATE = "empty_update"
    REPLAYED_CID = "replayed_cid"


REASONS: tuple[str, ...] = tuple(RejectionReason)
"""Every rejection reason code, as plain strings."""


@dataclass(frozen=True)
class RejectedUpdate:
    """Why one participant's update was left out of a round's aggregate."""

    participant: str
    reason: RejectionReason
    detail: str

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"unknown rejection reason {self.reason!r}; choose one of {REASONS}")
        object.__setattr__(self, "reason", RejectionReason(self.reason))

    def to_dict(self) -> dict[str, str]:
        """JSON-ready form for valuation reports."""
        return {
            "participant": self.participant,
            "reason": str(self.reason),
            "detail": self.detail,
        }


@dataclass(frozen=True, eq=False)
class CandidateUpdate:
    """A revealed update as the coordinator fetched it.

    ``params`` is the decoded update, or ``None`` when fetching or decoding failed, in which case
    ``error`` says why (a StorageError or InvalidUpdate, mapped to a reason by
    :func:`reason_for`).
    """

    participant: str
    params: Mapping[str, np.ndarray] | None
    num_samples: int = 0
    cid: str | None = None
    error: Exception | None = None

    def __post_init__(self) -> None:
        if self.params is None and self.error is None:
            raise ValueError("a candidate without params must carry the error that explains it")


def update_norm(params: Mapping[str, np.ndarray]) -> float:
    """L2 norm over all tensors, accumulated in float64 in sorted name order."""
    total = 0.0
    for name in sorted(params):
        flat = np.asarray(params[name], dtype=np.float64).ravel()
        total += float(np.dot(flat, flat))
    return math.sqrt(total)


def _problem(
    params: Mapping[str, np.ndarray], spec: ModelSpec, max_norm: float
) -> tuple[RejectionReason, InvalidUpdate] | None:
    """The first thing wrong with ``params`` as ``(reason, exception)``, or None."""
    shapes = parameter_shapes(spec)
    if set(params) != set(shapes):
        missing = sorted(set(shapes) - set(params))
        extra = sorted(set(params) - set(shapes))
        return RejectionReason.SHAPE_MISMATCH, ShapeMismatch(
            f"tensor names differ from the model: missing {missing}, unexpected {extra}"
        )
    for name, shape in shapes.items():
        value = params[name]
        if not isinstance(value, np.ndarray) or value.dtype != np.float32:
            dtype = getattr(value, "dtype", type(value).__name__)
            return RejectionReason.SHAPE_MISMATCH, ShapeMismatch(
                f"{name!r} has dtype {dtype}, expected float32"
            )
        if value.shape != shape:
            return RejectionReason.SHAPE_MISMATCH, ShapeMismatch(
                f"{name!r} has shape {value.shape}, the model needs {shape}"
            )
    for name in sorted(shapes):
        bad = int(np.count_nonzero(~np.isfinite(params[name])))
        if bad:
            return RejectionReason.NON_FINITE, NonFiniteWeights(
                f"{name!r} holds {bad} NaN or Inf value(s)"
            )
    norm = update_norm(params)
    if norm > max_norm:
        return RejectionReason.NORM_BOUND, OversizedInput(
            f"update L2 norm {norm:.6g} exceeds bound {max_norm:g}"
        )
    return None


def check_update(params: Mapping[str, np.ndarray], spec: ModelSpec, *, max_norm: float) -> None:
    """Raise unless ``params`` is a well-formed update for ``spec`` within the norm bound.

    Checks, in order: exact tensor names, float32 dtype and shapes (:class:`ShapeMismatch`),
    finiteness (:class:`NonFiniteWeights`), total L2 norm ``<= max_norm``
    (:class:`OversizedInput`; pass ``math.inf`` to disable the bound).
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    found = _problem(params, spec, max_norm)
    if found is not None:
        raise found[1]


#: Error type → reason code, most specific first (the first match wins).
_REASON_OF_ERROR: tuple[
    tuple[type[Exception] | tuple[type[Exception], ...], RejectionReason], ...
] = (
    ((CorruptContent, CidMismatch), RejectionReason.HASH_MISMATCH),
    (StorageError, RejectionReason.FETCH_FAILED),
    (ShapeMismatch, RejectionReason.SHAPE_MISMATCH),
    (NonFiniteWeights, RejectionReason.NON_FINITE),
    (InvalidUpdate, RejectionReason.MALFORMED),
)


def reason_for(error: Exception) -> RejectionReason:
    """The reason code for an error met while fetching, verifying or decoding an update."""
    for types, reason in _REASON_OF_ERROR:
        if isinstance(error, types):
            return reason
    return RejectionReason.FETCH_FAILED


def screen_updates(
    candidates: Sequence[CandidateUpdate],
    spec: ModelSpec,
    *,
    max_norm: float,
    commit_rank: Mapping[str, int] | None = None,
) -> tuple[list[CandidateUpdate], list[RejectedUpdate]]:
    """Split a round's candidates into accepted ones and rejections, both in input order.

    The caller passes candidates ordered by participant address; that order is kept so the
    accepted list can go straight to an aggregator. ``commit_rank`` (participant → position of
    its Committed event in chain order) decides who keeps a CID several participants revealed:
    the earliest committer; without it every one of them is rejected.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, got {max_norm}")
    cid_counts = Counter(c.cid for c in candidates if c.cid is not None)
    first_of: dict[str, str] = {}
    if commit_rank is not None:
        for cand in sorted(candidates, key=lambda c: _rank(commit_rank, c.participant)):
            if cand.cid is not None:
                first_of.setdefault(cand.cid, cand.participant)
    accepted: list[CandidateUpdate] = []
    rejected: list[RejectedUpdate] = []
    for cand in candidates:
        if cand.cid is not None and cid_counts[cand.cid] > 1:
            first = first_of.get(cand.cid)
            if first != cand.participant:
                detail = f"{cand.cid} was revealed by {cid_counts[cand.cid]} participants"
                if first is not None:
                    detail += f"; {first} committed it first"
                rejected.append(
                    RejectedUpdate(cand.participant, RejectionReason.DUPLICATE_CID, detail)
                )
                continue
        if cand.params is None:
            error = cand.error if cand.error is not None else ValueError("no params")
            rejected.append(RejectedUpdate(cand.participant, reason_for(error), str(error)))
            continue
        found = _problem(cand.params, spec, max_norm)
        if found is not None:
            rejected.append(RejectedUpdate(cand.participant, found[0], str(found[1])))
            continue
        accepted.append(cand)
    return accepted, rejected


def _rank(commit_rank: Mapping[str, int], participant: str) -> tuple[int, str]:
    """Commit position (participants that never committed, if any, last), then address."""
    return commit_rank.get(participant, len(commit_rank)), participant.lower()
