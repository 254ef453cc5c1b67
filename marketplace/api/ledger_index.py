"""`LedgerIndex`: the read side of the index — the domain queries the API's routers call.

It returns the API's records (the models of :mod:`marketplace.api.schemas`, each record defined
once there), which the routers serve as they are. Each call opens its own short-lived SQLite
connection, so request threads read concurrently while the indexer writes (WAL journal).
Unknown ids raise :class:`NotFound`.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from marketplace.api.db import connect
from marketplace.api.errors import NotFound
from marketplace.api.schemas import (
    Challenge,
    Claim,
    Commit,
    Contribution,
    ContributionsPage,
    Fairness,
    PageOf,
    Participant,
    PayoutSeries,
    PayoutsPage,
    Reveal,
    Round,
    RoundContributions,
    RoundDetail,
    Task,
)
from marketplace.chain.events import ChainEvent
from marketplace.chain.structs import EndReason, Outcome, RoundStatus


@dataclass(frozen=True)
class IndexStatus:
    """How far the index got (the health route adds the chain head and the sync loop's state)."""

    chain_id: int | None
    marketplace: str | None
    indexed_block: int | None
    indexed_block_hash: str | None
    events: int
    tasks: int


def _sum(values: Iterator[str] | list[str]) -> str:
    return str(sum(int(v) for v in values))


#: The round's effective report: the arbiter's correction where there is one.
EFFECTIVE_REPORT = "COALESCE(r.corrected_report_cid, r.report_cid)"


#: A round with a cached effective report, and whether the round is final.
Reported = tuple[RoundContributions, bool]


def _fairness(row: sqlite3.Row) -> Fairness:
    return Fairness(jain=row["jain"], gini=row["gini"], pearson=row["pearson"])


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

    def tasks(self, limit: int, offset: int) -> PageOf[Task]:
        with self._read() as conn:
            total = int(conn.execute("SELECT COUNT(*) FROM tasks").fetchone()[0])
            ids = [
                int(r[0])
                for r in conn.execute(
                    "SELECT task_id FROM tasks ORDER BY task_id LIMIT ? OFFSET ?", (limit, offset)
                )
            ]
            items = [self._task(conn, task_id) for task_id in ids]
        return PageOf[Task](items=items, total=total, limit=limit, offset=offset)

    def task(self, task_id: int) -> Task:
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

    def _task(self, conn: sqlite3.Connection, task_id: int) -> Task:
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
        return Task(
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

    def rounds(self, task_id: int, limit: int, offset: int) -> PageOf[Round]:
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
        return PageOf[Round](items=items, total=total, limit=limit, offset=offset)

    def round(self, task_id: int, round_: int) -> RoundDetail:
        with self._read() as conn:
            self._task_exists(conn, task_id)
            summary = self._round(conn, task_id, round_)
            commits = [Commit(participant=r["participant"], commitment=r["commitment"],
                              block_number=int(r["block_number"]))
                       for r in conn.execute(
                           "SELECT * FROM commits WHERE task_id = ? AND round = ?"
                           " ORDER BY block_number, log_index", (task_id, round_))]  # fmt: skip
            reveals = [Reveal(participant=r["participant"], cid=r["cid"], sha256=r["sha256"],
                              num_samples=int(r["num_samples"]),
                              block_number=int(r["block_number"]))
                       for r in conn.execute(
                           "SELECT * FROM reveals WHERE task_id = ? AND round = ?"
                           " ORDER BY block_number, log_index", (task_id, round_))]  # fmt: skip
            slashes = {r["participant"]: r["amount"] for r in conn.execute(
                "SELECT participant, amount FROM slashes WHERE task_id = ? AND round = ?",
                (task_id, round_))}  # fmt: skip
            challenges = [Challenge(challenger=r["challenger"], commitment=r["commitment"],
                                    evidence_cid=r["evidence_cid"], collected=r["collected"],
                                    block_number=int(r["block_number"]))
                          for r in conn.execute(
                              "SELECT * FROM challenges WHERE task_id = ? AND round = ?"
                              " ORDER BY block_number, log_index", (task_id, round_))]  # fmt: skip
            reported = {r.round: r for r, _final in self._reported(conn, task_id)}
            entries = reported[round_].entries if round_ in reported else []
        return RoundDetail(summary=summary, commits=commits, reveals=reveals, slashes=slashes,
                           challenges=challenges, contributions=entries)  # fmt: skip

    def _round(self, conn: sqlite3.Connection, task_id: int, round_: int) -> Round:
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
        return Round(
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
            fairness=_fairness(row) if cached else None,
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
                entries.append(Contribution(
                    participant=c["participant"], status=c["status"],
                    num_samples=int(c["num_samples"]), value=c["value"],
                    round_payout=c["round_payout"], cumulative_payout=str(total),
                ))  # fmt: skip
            contributions = RoundContributions(
                round=int(row["round"]), report_cid=row["cid"], accuracy=row["accuracy"],
                method=row["method"], fairness=_fairness(row),
                entries=entries,
            )  # fmt: skip
            out.append((contributions, int(row["outcome"]) != Outcome.NONE))
        return out

    def contributions(self, task_id: int, limit: int, offset: int) -> ContributionsPage:
        """Per round with a cached effective report: every submission's value and payouts."""
        with self._read() as conn:
            self._task_exists(conn, task_id)
            reported = self._reported(conn, task_id)
            participants = self._participant_addresses(conn, task_id)
        items = [r for r, _final in reported[offset : offset + limit]]
        return ContributionsPage(
            items=items, total=len(reported), limit=limit, offset=offset, participants=participants
        )

    def payouts(self, task_id: int, limit: int, offset: int) -> PayoutsPage:
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
            series.append(PayoutSeries(
                address=address, round_payouts=[str(p) for p in paid], cumulative=cumulative,
                entitled=str(entitled), claimed=claimed.get(address, "0"),
            ))  # fmt: skip
        return PayoutsPage(
            items=series, total=len(addresses), limit=limit, offset=offset,
            rounds=[r.round for r, _final in reported],
            final_rounds=[r.round for r, final in reported if final],
        )  # fmt: skip

    # -- participants and claims ---------------------------------------------------------

    def participants(self, task_id: int, limit: int, offset: int) -> PageOf[Participant]:
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
                items.append(Participant(
                    address=address, stake=row["stake"], joined_block=int(row["block_number"]),
                    withdrawn=withdrawn, slashed=slashed, claimed=claimed.get(address, "0"),
                    entitled=str(entitled),
                ))  # fmt: skip
        return PageOf[Participant](items=items, total=len(addresses), limit=limit, offset=offset)

    def claims(self, task_id: int, limit: int, offset: int) -> PageOf[Claim]:
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
        items = [Claim(account=r["account"], round=int(r["round"]), amount=r["amount"],
                       block_number=int(r["block_number"]), tx_hash=r["tx_hash"])
                 for r in rows]  # fmt: skip
        return PageOf[Claim](items=items, total=total, limit=limit, offset=offset)

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
