"""Caching round reports from the content store into the index, keyed by report CID.

A report is fetched once (verified by the store against its CID), parsed with
:class:`~marketplace.protocol.round_report.RoundReport` and flattened into one ``reports`` row (accuracy,
fairness, total paid) and one ``contributions`` row per submission (value, round payout). A
report covers its own round only; cumulative payouts are sums over the rounds' effective
reports, computed by :class:`~marketplace.api.ledger_index.LedgerIndex`. Both the
aggregator's report and an arbiter's corrected one are cached. A CID names immutable bytes, so
a cached row never needs refreshing; fetch failures are retried after a back-off instead of
on every sync.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from dataclasses import dataclass, field
from typing import Any

from marketplace.api.db import transaction
from marketplace.errors import FedmarketError
from marketplace.protocol.round_report import RoundReport
from marketplace.storage import ContentStore

#: Seconds before a report that could not be fetched is tried again.
RETRY_AFTER_S = 30.0


def finite_or_none(value: object) -> float | None:
    """A float for JSON, or None when missing or not finite (NaN has no JSON spelling)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def contributions(report: RoundReport) -> dict[str, float]:
    """Participant -> contribution value; reads the current report layout and the first one
    (``players``/``values`` at the top of the valuation record), so older chains stay legible."""
    valuation = report.valuation or {}
    if "participants" in valuation:
        return report.contributions()
    return dict(zip(valuation.get("players", []), valuation.get("values", []), strict=False))


def report_rows(cid: str, report: RoundReport) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
    """The ``reports`` row and the ``contributions`` rows of one parsed report."""
    valuation = report.valuation or {}
    fairness = report.fairness
    method = (valuation.get("config") or {}).get("method", valuation.get("method"))
    report_row = (
        cid,
        report.task_id,
        report.round,
        finite_or_none(report.accuracy),
        str(report.total_paid),
        finite_or_none(fairness.get("jain")),
        finite_or_none(fairness.get("gini")),
        finite_or_none(fairness.get("pearson")),
        method,
        json.dumps(report.to_dict(), sort_keys=True),
    )
    values = contributions(report)
    rows = []
    for sub in report.submissions:
        rows.append((
            cid,
            sub.participant,
            sub.status,
            int(sub.num_samples),
            finite_or_none(values.get(sub.participant)),
            str(report.round_payouts.get(sub.participant, 0)),
        ))  # fmt: skip
    return report_row, rows


@dataclass
class ReportCache:
    """Fills the ``reports``/``contributions`` tables for settled rounds not cached yet."""

    store: ContentStore
    retry_after: float = RETRY_AFTER_S
    failures: dict[str, tuple[float, str]] = field(default_factory=dict)

    def missing(self, conn: sqlite3.Connection) -> list[str]:
        """Report CIDs of settlements (the aggregator's and any correction) not cached yet."""
        rows = conn.execute(
            "SELECT cid FROM (SELECT report_cid AS cid, settled_block AS block FROM rounds"
            " UNION ALL SELECT corrected_report_cid, corrected_block FROM rounds)"
            " WHERE cid IS NOT NULL AND cid NOT IN (SELECT cid FROM reports)"
            " GROUP BY cid ORDER BY MIN(block)"
        ).fetchall()
        return [str(row[0]) for row in rows]

    def fill(self, conn: sqlite3.Connection) -> int:
        """Fetch and cache every missing report whose back-off has expired; returns how many."""
        now = time.monotonic()
        cached = 0
        for cid in self.missing(conn):
            failed = self.failures.get(cid)
            if failed is not None and now - failed[0] < self.retry_after:
                continue
            try:
                report = RoundReport.from_json(self.store.cat_bytes(cid))
            except FedmarketError as exc:
                self.failures[cid] = (now, exc.user_message())
                continue
            self.failures.pop(cid, None)
            report_row, contribution_rows = report_rows(cid, report)
            with transaction(conn):
                conn.execute(
                    "INSERT OR REPLACE INTO reports VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    report_row,
                )
                conn.executemany(
                    "INSERT OR REPLACE INTO contributions VALUES (?, ?, ?, ?, ?, ?)",
                    contribution_rows,
                )
            cached += 1
        return cached
