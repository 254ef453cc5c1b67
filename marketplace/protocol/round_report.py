"""The round report: what the coordinator publishes on IPFS with every settlement.

It wraps the pure valuation report (``valuation.report``) with the chain-side facts an auditor
needs to redo the round: which reveals were fetched, which were rejected and why, how the new
global model was aggregated, the seed and where it came from, and this round's payouts, whose
Merkle root is settled on-chain (claims of this round are made against that root). A round's
report covers that round alone: what a participant earned over the task is the sum of its
payouts in the effective report of every final round (the corrected one where the arbiter
upheld a challenge); ``previous_report_cid`` links the reports in that order.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from marketplace.errors import ConfigError

#: 2: per-round payout roots (version 1 carried cumulative payouts and their root).
REPORT_VERSION = 2


class SubmissionStatus(StrEnum):
    """Whether a revealed update went into the round (aggregated and valued) or not."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"


@dataclass(frozen=True)
class SubmissionRecord:
    """One revealed update, in participant-address order (``reason`` only when rejected)."""

    participant: str
    cid: str
    sha256: str
    num_samples: int
    status: SubmissionStatus
    reason: str = ""
    detail: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", SubmissionStatus(self.status))


@dataclass(frozen=True)
class RoundReport:
    """Everything needed to recompute one round and its payouts; canonical JSON on IPFS."""

    task_id: int
    round: int
    marketplace: str
    chain_id: int
    spec_cid: str
    global_model_cid: str
    new_global_cid: str
    seed: int
    seed_source: dict[str, Any]
    aggregator: str
    aggregator_params: dict[str, Any]
    submissions: list[SubmissionRecord]
    valuation: dict[str, Any] | None
    round_budget: int
    round_payouts: dict[str, int]
    previous_report_cid: str
    payout_root: str
    total_paid: int
    accuracy: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    version: int = REPORT_VERSION

    @property
    def accepted(self) -> list[SubmissionRecord]:
        return [s for s in self.submissions if s.status is SubmissionStatus.ACCEPTED]

    def contributions(self) -> dict[str, float]:
        """Each valued participant's contribution (Shapley value) in this round."""
        if not self.valuation:
            return {}
        values = self.valuation["result"]["values"]
        return dict(zip(self.valuation["participants"], map(float, values), strict=True))

    @property
    def fairness(self) -> dict[str, float]:
        """Jain's index, Gini and contribution-reward correlation of this round's payouts."""
        return dict((self.valuation or {}).get("fairness", {}))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        # JSON numbers lose precision past 2^53: token amounts travel as decimal strings.
        data["round_payouts"] = {k: str(v) for k, v in self.round_payouts.items()}
        data["round_budget"] = str(self.round_budget)
        data["total_paid"] = str(self.total_paid)
        return data

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> RoundReport:
        try:
            data = json.loads(raw)
            if data.get("version") != REPORT_VERSION:
                raise ConfigError(f"unsupported round report version {data.get('version')!r}")
            data["submissions"] = [SubmissionRecord(**s) for s in data["submissions"]]
            data["round_payouts"] = {k: int(v) for k, v in data["round_payouts"].items()}
            data["round_budget"] = int(data["round_budget"])
            data["total_paid"] = int(data["total_paid"])
            return cls(**data)
        except ConfigError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"malformed round report: {exc}") from exc
