"""`LedgerIndex`: the read side of the index — the domain queries the API's routers call.

It returns plain domain records (frozen dataclasses), never HTTP schemas; the routers map them
to response models. Each call opens its own short-lived SQLite connection, so request threads
read concurrently while the indexer writes (WAL journal). Unknown ids raise :class:`NotFound`.

Payout semantics follow :class:`marketplace.protocol.ledger.Ledger`: a round's *effective*
settlement is the arbiter's correction where it upheld a challenge, else the aggregator's; a
report pays its own round only, so cumulative payouts are running sums of the effective
reports' round payouts in round order, and what a participant is *entitled* to is the sum over
final rounds. Claims are per round.
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
from marketplace.chain.structs import EndReason, Outcome, RoundStatus


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
    arbiter: str
    spec_cid: str
    initial_model_cid: str
    rounds: int
    round_budget: str
    min_stake: str
    status: str
    ended_reason: str | None  # EndReason.label
    ended_at: int | None
    created_block: int
    participants: int
    rounds_opened: int
    rounds_settled: int
    rounds_final: int
    allocated: str  # total paid by the final rounds' effective settlements
    claimed: str
    staked: str
    slashed: str
    refunded: str
    withdrawn: str
    forfeited: str  # aggregator bond forfeited to the requester
    validation_cid: str | None


@dataclass(frozen=True)
class RoundRecord:
    """One round; settlement fields are the effective settlement's (the correction, if any)."""

    round: int
    status: str  # RoundStatus name: open | settled | challenged | final
    outcome: str | None  # Outcome.label once final: unchallenged, rejected, corrected, ...
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
    corrected: bool
    aggregator_report_cid: str | None  # the aggregator's own report (replaced if corrected)
    challenge_deadline: int | None
    settled_block: int | None
    challengers: int
    evidence_revealed: int
    arbiter: str | None  # who ruled (rejected or corrected), None without a ruling
    final: bool
    final_at: int | None
    claimed: str
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
class ChallengeRecord:
    challenger: str
    commitment: str
    evidence_cid: str | None  # None until revealed
    collected: str | None  # what ChallengerPaid returned (bond, plus a share if upheld)
    block_number: int


@dataclass(frozen=True)
class ContributionRecord:
    participant: str
    status: str
    num_samples: int
    value: float | None
    round_payout: str
    cumulative_payout: str  # running sum over the effective reports up to this round


@dataclass(frozen=True)
class RoundDetail:
    summary: RoundRecord
    commits: list[CommitRecord]
    reveals: list[RevealRecord]
    slashes: dict[str, str]
    challenges: list[ChallengeRecord]
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
    round: int
    amount: str
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


#: The round's effective report: the arbiter's correction where there is one.
EFFECTIVE_REPORT = "COALESCE(r.corrected_report_cid, r.report_cid)"


#: A round with a cached effective report, and whether the round is final.
Reported = tuple[RoundContributions, bool]


def _payout_of(reported: RoundContributions, address: str) -> int:
    return sum(int(e.round_payout) for e in reported.entries if e.participant == address)


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
            "SELECT COUNT(*), COUNT(report_cid), COUNT(final_total_paid) FROM rounds"
            " WHERE task_id = ?", (task_id,),
        ).fetchone()  # fmt: skip
        reason = row["ended_reason"]
        return TaskRecord(
            task_id=task_id,
            requester=row["requester"],
            aggregator=row["aggregator"],
            arbiter=row["arbiter"],
            spec_cid=row["spec_cid"],
            initial_model_cid=row["initial_model_cid"],
            rounds=int(row["rounds"]),
            round_budget=row["round_budget"],
            min_stake=row["min_stake"],
            status=row["status"],
            ended_reason=None if reason is None else EndReason(int(reason)).label,
            ended_at=row["ended_at"],
            created_block=int(row["created_block"]),
            participants=len(column("SELECT participant FROM participants WHERE task_id = ?")),
            rounds_opened=int(rounds[0]),
            rounds_settled=int(rounds[1]),
            rounds_final=int(rounds[2]),
            allocated=_sum(column("SELECT final_total_paid FROM rounds"
                                  " WHERE task_id = ? AND final_total_paid IS NOT NULL")),
            claimed=_sum(column("SELECT amount FROM claims WHERE task_id = ?")),
            staked=_sum(column("SELECT stake FROM participants WHERE task_id = ?")),
            slashed=_sum(column("SELECT amount FROM slashes WHERE task_id = ?")),
            refunded=_sum(column("SELECT amount FROM refunds WHERE task_id = ?")),
            withdrawn=_sum(column("SELECT amount FROM withdrawals WHERE task_id = ?")),
            forfeited=_sum(column("SELECT to_requester FROM bonds"
                                  " WHERE task_id = ? AND kind = 'forfeited'")),
            validation_cid=row["validation_cid"],
        )  # fmt: skip

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
            challenges = [ChallengeRecord(r["challenger"], r["commitment"], r["evidence_cid"],
                                          r["collected"], int(r["block_number"]))
                          for r in conn.execute(
                              "SELECT * FROM challenges WHERE task_id = ? AND round = ?"
                              " ORDER BY block_number, log_index", (task_id, round_))]  # fmt: skip
            reported = {r.round: r for r, _final in self._reported(conn, task_id)}
            entries = reported[round_].entries if round_ in reported else []
        return RoundDetail(summary, commits, reveals, slashes, challenges, entries)

    def _round(self, conn: sqlite3.Connection, task_id: int, round_: int) -> RoundRecord:
        row = conn.execute(
            "SELECT r.*, p.accuracy, p.jain, p.gini, p.pearson, p.cid AS cached,"
            " (SELECT COUNT(*) FROM commits c WHERE c.task_id = r.task_id AND c.round = r.round)"
            "   AS n_commits,"
            " (SELECT COUNT(*) FROM reveals v WHERE v.task_id = r.task_id AND v.round = r.round)"
            "   AS n_reveals,"
            " (SELECT COUNT(*) FROM challenges h WHERE h.task_id = r.task_id"
            "   AND h.round = r.round) AS n_challengers,"
            " (SELECT COUNT(evidence_cid) FROM challenges h WHERE h.task_id = r.task_id"
            "   AND h.round = r.round) AS n_evidence"
            f" FROM rounds r LEFT JOIN reports p ON p.cid = {EFFECTIVE_REPORT}"
            " WHERE r.task_id = ? AND r.round = ?",
            (task_id, round_),
        ).fetchone()
        if row is None:
            raise NotFound(f"round {round_} of task {task_id} is not indexed")
        outcome = Outcome(int(row["outcome"]))
        if outcome is not Outcome.NONE:
            status = RoundStatus.FINAL
        elif row["n_challengers"]:
            status = RoundStatus.CHALLENGED
        elif row["report_cid"] is not None:
            status = RoundStatus.SETTLED
        else:
            status = RoundStatus.OPEN
        corrected = row["corrected_report_cid"] is not None

        def effective(name: str) -> Any:
            return row[f"corrected_{name}"] if corrected else row[name]

        claimed = _sum([str(r[0]) for r in conn.execute(
            "SELECT amount FROM claims WHERE task_id = ? AND round = ?", (task_id, round_))])  # fmt: skip
        cached = row["cached"] is not None
        return RoundRecord(
            round=round_,
            status=status.name.lower(),
            outcome=None if outcome is Outcome.NONE else outcome.label,
            global_model_cid=row["global_model_cid"],
            opened_block=int(row["opened_block"]),
            commit_deadline=int(row["commit_deadline"]),
            reveal_deadline=int(row["reveal_deadline"]),
            settle_deadline=int(row["settle_deadline"]),
            commits=int(row["n_commits"]),
            reveals=int(row["n_reveals"]),
            new_global_cid=row["corrected_global_cid"] if corrected else row["new_global_cid"],
            report_cid=effective("report_cid"),
            payout_root=effective("payout_root"),
            total_paid=effective("total_paid"),
            corrected=corrected,
            aggregator_report_cid=row["report_cid"],
            challenge_deadline=row["challenge_deadline"],
            settled_block=row["settled_block"],
            challengers=int(row["n_challengers"]),
            evidence_revealed=int(row["n_evidence"]),
            arbiter=row["arbiter"],
            final=outcome is not Outcome.NONE,
            final_at=row["final_at"],
            claimed=claimed,
            accuracy=row["accuracy"],
            fairness=Fairness(row["jain"], row["gini"], row["pearson"]) if cached else None,
            report_cached=cached,
        )

    # -- contributions and payouts -------------------------------------------------------

    def _reported(self, conn: sqlite3.Connection, task_id: int) -> list[Reported]:
        """Rounds whose effective report is cached, in round order, each with whether it is
        final; every entry's ``cumulative_payout`` adds its round payout to the participant's
        payouts in the earlier rounds listed (a report pays its own round only)."""
        rows = conn.execute(
            "SELECT r.round, r.outcome, p.cid, p.accuracy, p.method, p.jain, p.gini, p.pearson"
            " FROM rounds r"
            f" JOIN reports p ON p.cid = {EFFECTIVE_REPORT}"
            " WHERE r.task_id = ? ORDER BY r.round",
            (task_id,),
        ).fetchall()
        running: dict[str, int] = {}
        out = []
        for row in rows:
            entries = []
            for c in conn.execute(
                "SELECT * FROM contributions WHERE cid = ? ORDER BY lower(participant)",
                (row["cid"],),
            ):
                total = running.get(c["participant"], 0) + int(c["round_payout"])
                running[c["participant"]] = total
                entries.append(ContributionRecord(c["participant"], c["status"],
                                                  int(c["num_samples"]), c["value"],
                                                  c["round_payout"], str(total)))  # fmt: skip
            contributions = RoundContributions(
                round=int(row["round"]), report_cid=row["cid"], accuracy=row["accuracy"],
                method=row["method"], fairness=Fairness(row["jain"], row["gini"], row["pearson"]),
                entries=entries,
            )  # fmt: skip
            out.append((contributions, int(row["outcome"]) != Outcome.NONE))
        return out

    def contributions(self, task_id: int, limit: int, offset: int) -> Page[RoundContributions]:
        """Per round with a cached effective report: every submission's value and payouts."""
        with self._read() as conn:
            self._task_exists(conn, task_id)
            reported = self._reported(conn, task_id)
            participants = self._participant_addresses(conn, task_id)
        items = [r for r, _final in reported[offset : offset + limit]]
        return Page(items, len(reported), limit, offset, extra={"participants": participants})

    def payouts(self, task_id: int, limit: int, offset: int) -> Page[PayoutSeries]:
        """Per participant: round and cumulative payouts of each reported round, and claims.

        ``entitled`` sums the final rounds only (a settled round can still be corrected).
        """
        with self._read() as conn:
            self._task_exists(conn, task_id)
            reported = self._reported(conn, task_id)
            addresses = self._participant_addresses(conn, task_id)
            claimed = self._claimed_by(conn, task_id)
        series = []
        for address in addresses[offset : offset + limit]:
            paid = [_payout_of(r, address) for r, _final in reported]
            cumulative = [str(sum(paid[: i + 1])) for i in range(len(paid))]
            entitled = sum(p for p, (_r, final) in zip(paid, reported, strict=True) if final)
            series.append(PayoutSeries(address, [str(p) for p in paid], cumulative,
                                       str(entitled), claimed.get(address, "0")))  # fmt: skip
        extra = {"rounds": [r.round for r, _final in reported],
                 "final_rounds": [r.round for r, final in reported if final]}  # fmt: skip
        return Page(series, len(addresses), limit, offset, extra=extra)

    # -- participants and claims ---------------------------------------------------------

    def participants(self, task_id: int, limit: int, offset: int) -> Page[ParticipantRecord]:
        with self._read() as conn:
            self._task_exists(conn, task_id)
            addresses = self._participant_addresses(conn, task_id)
            claimed = self._claimed_by(conn, task_id)
            final = [r for r, is_final in self._reported(conn, task_id) if is_final]
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
                entitled = sum(_payout_of(r, address) for r in final)
                items.append(ParticipantRecord(
                    address=address, stake=row["stake"], joined_block=int(row["block_number"]),
                    withdrawn=withdrawn, slashed=slashed, claimed=claimed.get(address, "0"),
                    entitled=str(entitled),
                ))  # fmt: skip
        return Page(items, len(addresses), limit, offset)

    def claims(self, task_id: int, limit: int, offset: int) -> Page[ClaimRecord]:
        """Claims, one per account and round claimed, oldest first."""
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
        items = [ClaimRecord(r["account"], int(r["round"]), r["amount"], int(r["block_number"]),
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
