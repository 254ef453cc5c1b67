"""`LedgerIndex`: the read side of the index — the domain queries the API's routers call.

It returns plain domain records (frozen dataclasses), never HTTP schemas; the routers map them
to response models. Each call opens its own short-lived SQLite connection, so request threads
read concurrently while the indexer writes (WAL journal). Unknown ids raise :class:`NotFound`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from marketplace.api.db import connect
from marketplace.api.errors import NotFound
from marketplace.chain.events import ChainEvent


@dataclass(frozen=True)
class Fairness:
    jain: float | None
    gini: float | None
    pearson: float | None


@dataclass(frozen=True)
class TaskRecord:
    task_id: int
    requester: str
    aggregator: str
    spec_cid: str
    initial_model_cid: str
    rounds: int
    round_budget: str
    min_stake: str
    status: str
    ended_reason: int | None
    created_block: int
    participants: int
    rounds_opened: int
    rounds_settled: int
    allocated: str
    claimed: str
    staked: str
    slashed: str
    refunded: str
    withdrawn: str
    validation_cid: str | None


@dataclass(frozen=True)
class RoundRecord:
    round: int
    status: str  # open | settled | challenged | voided | final
    global_model_cid: str
    opened_block: int
    commit_deadline: int
    reveal_deadline: int
    settle_deadline: int
    commits: int
    reveals: int
    new_global_cid: str | None
    report_cid: str | None
    payout_root: str | None
    total_paid: str | None
    challenge_deadline: int | None
    settled_block: int | None
    challenger: str | None
    upheld: bool | None
    final: bool
    accuracy: float | None
    fairness: Fairness | None
    report_cached: bool


@dataclass(frozen=True)
class CommitRecord:
    participant: str
    commitment: str
    block_number: int


@dataclass(frozen=True)
class RevealRecord:
    participant: str
    cid: str
    sha256: str
    num_samples: int
    block_number: int


@dataclass(frozen=True)
class ContributionRecord:
    participant: str
    status: str
    num_samples: int
    value: float | None
    round_payout: str
    cumulative_payout: str


@dataclass(frozen=True)
class RoundDetail:
    summary: RoundRecord
    commits: list[CommitRecord]
    reveals: list[RevealRecord]
    slashes: dict[str, str]
    contributions: list[ContributionRecord]


@dataclass(frozen=True)
class RoundContributions:
    round: int
    report_cid: str
    accuracy: float | None
    method: str | None
    fairness: Fairness
    entries: list[ContributionRecord]


@dataclass(frozen=True)
class ParticipantRecord:
    address: str
    stake: str
    joined_block: int
    withdrawn: str
    slashed: str
    claimed: str
    entitled: str


@dataclass(frozen=True)
class PayoutSeries:
    """One participant's payouts across the task's reported rounds (aligned with ``rounds``)."""

    address: str
    round_payouts: list[str]
    cumulative: list[str]
    entitled: str
    claimed: str


@dataclass(frozen=True)
class Payouts:
    rounds: list[int]
    participants: list[PayoutSeries]


@dataclass(frozen=True)
class ClaimRecord:
    account: str
    amount: str
    cumulative: str
    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class IndexStatus:
    chain_id: int | None
    marketplace: str | None
    indexed_block: int | None
    indexed_block_hash: str | None
    events: int
    tasks: int


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, with the total count (and any list-wide extras)."""

    items: list[T]
    total: int
    limit: int
    offset: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _sum(values: Iterator[str] | list[str]) -> str:
    return str(sum(int(v) for v in values))


class LedgerIndex:
    """Queries over one index database (see :mod:`marketplace.api.tables`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        conn = connect(self.path)
        try:
            yield conn
        finally:
            conn.close()

    # -- status --------------------------------------------------------------------------

    def status(self) -> IndexStatus:
        with self._read() as conn:
            meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta")}
            events = int(conn.execute("SELECT COUNT(*) FROM events").fetchone()[0])
            tasks = int(conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])
        return IndexStatus(
            chain_id=int(meta["chain_id"]) if "chain_id" in meta else None,
            marketplace=meta.get("marketplace"),
            indexed_block=int(meta["last_block"]) if "last_block" in meta else None,
            indexed_block_hash=meta.get("last_block_hash"),
            events=events,
            tasks=tasks,
        )

    # -- tasks ---------------------------------------------------------------------------

    def tasks(self, limit: int, offset: int) -> Page[TaskRecord]:
        with self._read() as conn:
            total = int(conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])
            ids = [
                int(r[0])
                for r in conn.execute(
                    "SELECT task_id FROM tasks ORDER BY task_id LIMIT ? OFFSET ?", (limit, offset)
                )
            ]
            items = [self._task(conn, task_id) for task_id in ids]
        return Page(items, total, limit, offset)

    def task(self, task_id: int) -> TaskRecord:
        with self._read() as conn:
            return self._task(conn, task_id)

    def task_version(self, task_id: int) -> tuple[int, int]:
        """Position of the task's latest event: changes exactly when its ledger changes."""
        with self._read() as conn:
            row = conn.execute(
                "SELECT last_block, last_log_index FROM tasks WHERE task_id = ?", (task_id,)
            ).fetchone()
        if row is None:
            raise NotFound(f"task {task_id} is not indexed")
        return int(row[0]), int(row[1])

    def _task(self, conn: sqlite3.Connection, task_id: int) -> TaskRecord:
        row = conn.execute("SELECT * FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        if row is None:
            raise NotFound(f"task {task_id} is not indexed")

        def column(sql: str) -> list[str]:
            return [str(r[0]) for r in conn.execute(sql, (task_id,))]

        rounds = conn.execute(
            "SELECT COUNT(*), COUNT(report_cid) FROM rounds WHERE task_id = ?", (task_id,)
        ).fetchone()
        return TaskRecord(
            task_id=task_id,
            requester=row["requester"],
            aggregator=row["aggregator"],
            spec_cid=row["spec_cid"],
            initial_model_cid=row["initial_model_cid"],
            rounds=int(row["rounds"]),
            round_budget=row["round_budget"],
            min_stake=row["min_stake"],
            status=row["status"],
            ended_reason=row["ended_reason"],
            created_block=int(row["created_block"]),
            participants=len(column("SELECT participant FROM participants WHERE task_id = ?")),
            rounds_opened=int(rounds[0]),
            rounds_settled=int(rounds[1]),
            allocated=row["allocated"],
            claimed=_sum(column("SELECT amount FROM claims WHERE task_id = ?")),
            staked=_sum(column("SELECT stake FROM participants WHERE task_id = ?")),
            slashed=_sum(column("SELECT amount FROM slashes WHERE task_id = ?")),
            refunded=_sum(column("SELECT amount FROM refunds WHERE task_id = ?")),
            withdrawn=_sum(column("SELECT amount FROM withdrawals WHERE task_id = ?")),
            validation_cid=row["validation_cid"],
        )

    def task_events(self, task_id: int) -> list[ChainEvent]:
        """The task's raw events, oldest first (what ``Ledger.from_events`` folds)."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT * FROM events WHERE task_id = ? ORDER BY block_number, log_index",
                (task_id,),
            ).fetchall()
        return [ChainEvent(r["name"], json.loads(r["args"]), int(r["block_number"]),
                           r["tx_hash"], int(r["log_index"])) for r in rows]  # fmt: skip

    # -- rounds --------------------------------------------------------------------------

    def rounds(self, task_id: int, limit: int, offset: int) -> Page[RoundRecord]:
        with self._read() as conn:
            self._task_exists(conn, task_id)
            total = int(
                conn.execute(
                    "SELECT COUNT(*) FROM rounds WHERE task_id = ?", (task_id,)
                ).fetchone()[0]
            )
            numbers = [int(r[0]) for r in conn.execute(
                "SELECT round FROM rounds WHERE task_id = ? ORDER BY round LIMIT ? OFFSET ?",
                (task_id, limit, offset))]  # fmt: skip
            items = [self._round(conn, task_id, r) for r in numbers]
        return Page(items, total, limit, offset)

    def round(self, task_id: int, round_: int) -> RoundDetail:
        with self._read() as conn:
            self._task_exists(conn, task_id)
            summary = self._round(conn, task_id, round_)
            commits = [CommitRecord(r["participant"], r["commitment"], int(r["block_number"]))
                       for r in conn.execute(
                           "SELECT * FROM commits WHERE task_id = ? AND round = ?"
                           " ORDER BY block_number, log_index", (task_id, round_))]  # fmt: skip
            reveals = [RevealRecord(r["participant"], r["cid"], r["sha256"],
                                    int(r["num_samples"]), int(r["block_number"]))
                       for r in conn.execute(
                           "SELECT * FROM reveals WHERE task_id = ? AND round = ?"
                           " ORDER BY block_number, log_index", (task_id, round_))]  # fmt: skip
            slashes = {r["participant"]: r["amount"] for r in conn.execute(
                "SELECT participant, amount FROM slashes WHERE task_id = ? AND round = ?",
                (task_id, round_))}  # fmt: skip
            entries = (self._contributions(conn, summary.report_cid)
                       if summary.report_cid else [])  # fmt: skip
        return RoundDetail(summary, commits, reveals, slashes, entries)

    def _round(self, conn: sqlite3.Connection, task_id: int, round_: int) -> RoundRecord:
        row = conn.execute(
            "SELECT r.*, p.accuracy, p.jain, p.gini, p.pearson, p.cid AS cached,"
            " (SELECT COUNT(*) FROM commits c WHERE c.task_id = r.task_id AND c.round = r.round)"
            "   AS n_commits,"
            " (SELECT COUNT(*) FROM reveals v WHERE v.task_id = r.task_id AND v.round = r.round)"
            "   AS n_reveals"
            " FROM rounds r LEFT JOIN reports p ON p.cid = r.report_cid"
            " WHERE r.task_id = ? AND r.round = ?",
            (task_id, round_),
        ).fetchone()
        if row is None:
            raise NotFound(f"round {round_} of task {task_id} is not indexed")
        upheld = None if row["upheld"] is None else bool(row["upheld"])
        if upheld:
            status = "voided"
        elif row["final"]:
            status = "final"
        elif row["challenger"] is not None:
            status = "challenged"
        elif row["report_cid"] is not None:
            status = "settled"
        else:
            status = "open"
        cached = row["cached"] is not None
        return RoundRecord(
            round=round_,
            status=status,
            global_model_cid=row["global_model_cid"],
            opened_block=int(row["opened_block"]),
            commit_deadline=int(row["commit_deadline"]),
            reveal_deadline=int(row["reveal_deadline"]),
            settle_deadline=int(row["settle_deadline"]),
            commits=int(row["n_commits"]),
            reveals=int(row["n_reveals"]),
            new_global_cid=row["new_global_cid"],
            report_cid=row["report_cid"],
            payout_root=row["payout_root"],
            total_paid=row["total_paid"],
            challenge_deadline=row["challenge_deadline"],
            settled_block=row["settled_block"],
            challenger=row["challenger"],
            upheld=upheld,
            final=bool(row["final"]),
            accuracy=row["accuracy"],
            fairness=Fairness(row["jain"], row["gini"], row["pearson"]) if cached else None,
            report_cached=cached,
        )

    # -- contributions and payouts -------------------------------------------------------

    def contributions(self, task_id: int, limit: int, offset: int) -> Page[RoundContributions]:
        """Per settled (and cached) round: every submission's value and payouts."""
        with self._read() as conn:
            self._task_exists(conn, task_id)
            base = (" FROM rounds r JOIN reports p ON p.cid = r.report_cid"
                    " WHERE r.task_id = ?")  # fmt: skip
            total = int(conn.execute("SELECT COUNT(*)" + base, (task_id,)).fetchone()[0])
            rows = conn.execute(
                "SELECT r.round, p.cid, p.accuracy, p.method, p.jain, p.gini, p.pearson"
                + base
                + " ORDER BY r.round LIMIT ? OFFSET ?",
                (task_id, limit, offset),
            ).fetchall()
            items = [RoundContributions(
                round=int(r["round"]), report_cid=r["cid"], accuracy=r["accuracy"],
                method=r["method"], fairness=Fairness(r["jain"], r["gini"], r["pearson"]),
                entries=self._contributions(conn, r["cid"]),
            ) for r in rows]  # fmt: skip
            participants = self._participant_addresses(conn, task_id)
        return Page(items, total, limit, offset, extra={"participants": participants})

    def payouts(self, task_id: int, limit: int, offset: int) -> Page[PayoutSeries]:
        """Per participant: round and cumulative payouts of each reported round, and claims."""
        with self._read() as conn:
            self._task_exists(conn, task_id)
            reported = conn.execute(
                "SELECT r.round, r.report_cid, r.upheld FROM rounds r"
                " JOIN reports p ON p.cid = r.report_cid WHERE r.task_id = ? ORDER BY r.round",
                (task_id,),
            ).fetchall()
            rounds = [int(r["round"]) for r in reported]
            per_round = [
                {c.participant: c for c in self._contributions(conn, r["report_cid"])}
                for r in reported
            ]
            addresses = self._participant_addresses(conn, task_id)
            claimed = self._claimed_by(conn, task_id)
            series = []
            for address in addresses[offset : offset + limit]:
                cumulative, running, paid = [], "0", []
                for r, entries in zip(reported, per_round, strict=True):
                    entry = entries.get(address)
                    voided = bool(r["upheld"])
                    paid.append("0" if entry is None or voided else entry.round_payout)
                    if entry is not None and not voided:
                        running = entry.cumulative_payout
                    cumulative.append(running)
                series.append(PayoutSeries(address, paid, cumulative, running,
                                           claimed.get(address, "0")))  # fmt: skip
        return Page(series, len(addresses), limit, offset, extra={"rounds": rounds})

    def _contributions(self, conn: sqlite3.Connection, cid: str) -> list[ContributionRecord]:
        return [ContributionRecord(r["participant"], r["status"], int(r["num_samples"]),
                                   r["value"], r["round_payout"], r["cumulative_payout"])
                for r in conn.execute(
                    "SELECT * FROM contributions WHERE cid = ? ORDER BY lower(participant)",
                    (cid,))]  # fmt: skip

    # -- participants and claims ---------------------------------------------------------

    def participants(self, task_id: int, limit: int, offset: int) -> Page[ParticipantRecord]:
        with self._read() as conn:
            self._task_exists(conn, task_id)
            addresses = self._participant_addresses(conn, task_id)
            claimed = self._claimed_by(conn, task_id)
            entitled = self._latest_cumulative(conn, task_id)
            items = []
            for address in addresses[offset : offset + limit]:
                row = conn.execute(
                    "SELECT stake, block_number FROM participants"
                    " WHERE task_id = ? AND participant = ?", (task_id, address),
                ).fetchone()  # fmt: skip
                withdrawn = _sum([str(r[0]) for r in conn.execute(
                    "SELECT amount FROM withdrawals WHERE task_id = ? AND participant = ?",
                    (task_id, address))])  # fmt: skip
                slashed = _sum([str(r[0]) for r in conn.execute(
                    "SELECT amount FROM slashes WHERE task_id = ? AND participant = ?",
                    (task_id, address))])  # fmt: skip
                items.append(ParticipantRecord(
                    address=address, stake=row["stake"], joined_block=int(row["block_number"]),
                    withdrawn=withdrawn, slashed=slashed, claimed=claimed.get(address, "0"),
                    entitled=entitled.get(address, "0"),
                ))  # fmt: skip
        return Page(items, len(addresses), limit, offset)

    def claims(self, task_id: int, limit: int, offset: int) -> Page[ClaimRecord]:
        with self._read() as conn:
            self._task_exists(conn, task_id)
            total = int(
                conn.execute(
                    "SELECT COUNT(*) FROM claims WHERE task_id = ?", (task_id,)
                ).fetchone()[0]
            )
            rows = conn.execute(
                "SELECT c.*, e.tx_hash FROM claims c JOIN events e"
                " ON e.block_number = c.block_number AND e.log_index = c.log_index"
                " WHERE c.task_id = ? ORDER BY c.block_number, c.log_index LIMIT ? OFFSET ?",
                (task_id, limit, offset),
            ).fetchall()
        items = [ClaimRecord(r["account"], r["amount"], r["cumulative"], int(r["block_number"]),
                             r["tx_hash"]) for r in rows]  # fmt: skip
        return Page(items, total, limit, offset)

    # -- helpers -------------------------------------------------------------------------

    def _task_exists(self, conn: sqlite3.Connection, task_id: int) -> None:
        if conn.execute("SELECT 1 FROM tasks WHERE task_id = ?", (task_id,)).fetchone() is None:
            raise NotFound(f"task {task_id} is not indexed")

    def _participant_addresses(self, conn: sqlite3.Connection, task_id: int) -> list[str]:
        return [str(r[0]) for r in conn.execute(
            "SELECT participant FROM participants WHERE task_id = ? ORDER BY lower(participant)",
            (task_id,))]  # fmt: skip

    def _claimed_by(self, conn: sqlite3.Connection, task_id: int) -> dict[str, str]:
        totals: dict[str, int] = {}
        for account, amount in conn.execute(
            "SELECT account, amount FROM claims WHERE task_id = ?", (task_id,)
        ):
            totals[str(account)] = totals.get(str(account), 0) + int(amount)
        return {k: str(v) for k, v in totals.items()}

    def _latest_cumulative(self, conn: sqlite3.Connection, task_id: int) -> dict[str, str]:
        """Cumulative payouts in the latest cached report of a round that was not voided."""
        row = conn.execute(
            "SELECT r.report_cid FROM rounds r JOIN reports p ON p.cid = r.report_cid"
            " WHERE r.task_id = ? AND COALESCE(r.upheld, 0) = 0 ORDER BY r.round DESC LIMIT 1",
            (task_id,),
        ).fetchone()
        if row is None:
            return {}
        report = json.loads(conn.execute(
            "SELECT body FROM reports WHERE cid = ?", (row[0],)).fetchone()[0])  # fmt: skip
        return {str(k): str(v) for k, v in report.get("cumulative_payouts", {}).items()}
