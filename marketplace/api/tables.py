"""The index's SQLite tables and the projection of one chain event into their rows.

Every table a chain event writes to carries the event's ``(block_number, log_index)`` as a
unique key, so applying the same event twice is a no-op (the raw ``events`` table is the gate:
a projection runs only when the raw row was new). Token amounts are uint256 on chain and can
exceed SQLite's 64-bit integers, so they are stored as decimal TEXT.

A round keeps the aggregator's settlement and, where the arbiter upheld a challenge, its
corrected settlement next to it; the corrected one is the round's *effective* settlement (the
one claims are made against), as in :class:`marketplace.protocol.ledger.RoundLedger`. Payouts
are per round; cumulative payouts are sums over rounds, computed when read.

``reports`` and ``contributions`` are not chain data: they cache round reports fetched from the
content store, keyed by the report's CID (content-addressed, so a cached row never goes stale).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable
from typing import Any

from marketplace.chain.contracts import abi
from marketplace.chain.events import ChainEvent

#: 3: per-round payouts and claims, corrected settlements, outcomes, challenges and bonds
#: (the contract of issue 10); 2 was the cumulative-payout contract. Any other stored version
#: drops every table, caches included (their rows changed shape too), and rebuilds.
SCHEMA_VERSION = 3

#: Tables rebuilt from the chain; ``rebuild()`` drops exactly these.
CHAIN_TABLES = (
    "events",
    "tasks",
    "participants",
    "rounds",
    "commits",
    "reveals",
    "claims",
    "challenges",
    "bonds",
    "slashes",
    "refunds",
    "withdrawals",
)

#: Tables caching content-store data (kept across rebuilds: keyed by content address).
CACHE_TABLES = ("reports", "contributions")

DDL = """
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    tx_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    task_id INTEGER,
    args TEXT NOT NULL,
    PRIMARY KEY (block_number, log_index)
);
CREATE INDEX IF NOT EXISTS events_task ON events (task_id, block_number, log_index);
CREATE TABLE IF NOT EXISTS tasks (
    task_id INTEGER PRIMARY KEY,
    requester TEXT NOT NULL,
    aggregator TEXT NOT NULL,
    arbiter TEXT NOT NULL,
    spec_cid TEXT NOT NULL,
    initial_model_cid TEXT NOT NULL,
    rounds INTEGER NOT NULL,
    round_budget TEXT NOT NULL,
    min_stake TEXT NOT NULL,
    params TEXT NOT NULL,
    created_block INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    ended_reason INTEGER,
    ended_at INTEGER,
    validation_cid TEXT,
    last_block INTEGER NOT NULL,
    last_log_index INTEGER NOT NULL,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    UNIQUE (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS participants (
    task_id INTEGER NOT NULL,
    participant TEXT NOT NULL,
    stake TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    PRIMARY KEY (task_id, participant),
    UNIQUE (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS rounds (
    task_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    global_model_cid TEXT NOT NULL,
    opened_block INTEGER NOT NULL,
    commit_deadline INTEGER NOT NULL,
    reveal_deadline INTEGER NOT NULL,
    settle_deadline INTEGER NOT NULL,
    new_global_cid TEXT,
    report_cid TEXT,
    payout_root TEXT,
    total_paid TEXT,
    challenge_deadline INTEGER,
    settled_block INTEGER,
    corrected_global_cid TEXT,
    corrected_report_cid TEXT,
    corrected_payout_root TEXT,
    corrected_total_paid TEXT,
    corrected_block INTEGER,
    arbiter TEXT,
    rejected INTEGER NOT NULL DEFAULT 0,
    outcome INTEGER NOT NULL DEFAULT 0,
    final_at INTEGER,
    final_total_paid TEXT,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    PRIMARY KEY (task_id, round),
    UNIQUE (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS commits (
    task_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    participant TEXT NOT NULL,
    commitment TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    UNIQUE (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS reveals (
    task_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    participant TEXT NOT NULL,
    cid TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    num_samples INTEGER NOT NULL,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    UNIQUE (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS claims (
    task_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    account TEXT NOT NULL,
    amount TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    UNIQUE (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS challenges (
    task_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    challenger TEXT NOT NULL,
    commitment TEXT NOT NULL,
    evidence_cid TEXT,
    collected TEXT,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    PRIMARY KEY (task_id, round, challenger),
    UNIQUE (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS bonds (
    task_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    round INTEGER,
    amount TEXT NOT NULL,
    to_requester TEXT,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    UNIQUE (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS slashes (
    task_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    participant TEXT NOT NULL,
    amount TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    UNIQUE (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS refunds (
    task_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    amount TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    UNIQUE (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS withdrawals (
    task_id INTEGER NOT NULL,
    participant TEXT NOT NULL,
    amount TEXT NOT NULL,
    block_number INTEGER NOT NULL,
    log_index INTEGER NOT NULL,
    UNIQUE (block_number, log_index)
);
CREATE TABLE IF NOT EXISTS reports (
    cid TEXT PRIMARY KEY,
    task_id INTEGER NOT NULL,
    round INTEGER NOT NULL,
    accuracy REAL,
    total_paid TEXT NOT NULL,
    jain REAL,
    gini REAL,
    pearson REAL,
    method TEXT,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS contributions (
    cid TEXT NOT NULL,
    participant TEXT NOT NULL,
    status TEXT NOT NULL,
    num_samples INTEGER NOT NULL,
    value REAL,
    round_payout TEXT NOT NULL,
    PRIMARY KEY (cid, participant)
);
"""


def create_tables(conn: sqlite3.Connection) -> None:
    """Create every table that does not exist yet (statement by statement: ``executescript``
    would commit the caller's open transaction)."""
    for statement in DDL.split(";"):
        if statement.strip():
            conn.execute(statement)


def drop_chain_tables(conn: sqlite3.Connection) -> None:
    """Drop the chain-derived tables (the cache tables survive: they are content-addressed)."""
    for table in CHAIN_TABLES:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def drop_all_tables(conn: sqlite3.Connection) -> None:
    """Drop every table, caches and meta included (a schema change)."""
    for table in (*CHAIN_TABLES, *CACHE_TABLES, "meta"):
        conn.execute(f"DROP TABLE IF EXISTS {table}")


@functools.cache
def task_topic_events() -> frozenset[str]:
    """Events whose first indexed argument is the task id: a task's own events.

    ``MarketplaceClient.task_events`` selects a task's events by that topic at the node, so the
    index's ``events.task_id`` follows the same rule (``CreditAdded`` names a task too, but an
    account first: it belongs to the account's credit, not to the task's ledger).
    """
    names = set()
    for item in abi("Marketplace"):
        if item.get("type") != "event":
            continue
        indexed = [i["name"] for i in item["inputs"] if i.get("indexed")]
        if indexed[:1] == ["taskId"]:
            names.add(str(item["name"]))
    return frozenset(names)


def apply_event(conn: sqlite3.Connection, event: ChainEvent) -> bool:
    """Store ``event`` and project it into the typed tables; False when it was already there."""
    a = event.args
    task_id = a.get("task_id") if event.name in task_topic_events() else None
    cur = conn.execute(
        "INSERT OR IGNORE INTO events (block_number, log_index, tx_hash, name, task_id, args) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (event.block_number, event.log_index, event.tx_hash, event.name,
         None if task_id is None else int(task_id), json.dumps(a, sort_keys=True)),
    )  # fmt: skip
    if cur.rowcount == 0:
        return False
    handler = PROJECTIONS.get(event.name)
    if handler is not None:
        handler(conn, event, a)
    if task_id is not None:
        conn.execute(
            "UPDATE tasks SET last_block = ?, last_log_index = ? WHERE task_id = ?",
            (event.block_number, event.log_index, int(task_id)),
        )
    return True


# -- projections, one per event name -----------------------------------------------------

Row = dict[str, Any]
Handler = Callable[[sqlite3.Connection, ChainEvent, Row], None]


def _pos(event: ChainEvent) -> tuple[int, int]:
    return (event.block_number, event.log_index)


def _task_created(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    p = a["params"]
    conn.execute(
        "INSERT OR IGNORE INTO tasks (task_id, requester, aggregator, arbiter, spec_cid,"
        " initial_model_cid, rounds, round_budget, min_stake, params, created_block, last_block,"
        " last_log_index, block_number, log_index)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (int(a["task_id"]), str(a["requester"]), str(p["aggregator"]), str(p["arbiter"]),
         str(p["spec_cid"]),
         str(p["initial_model_cid"]), int(p["rounds"]), str(p["round_budget"]),
         str(p["min_stake"]), json.dumps(p, sort_keys=True), e.block_number, *_pos(e), *_pos(e)),
    )  # fmt: skip


def _task_cancelled(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute("UPDATE tasks SET status = 'cancelled' WHERE task_id = ?", (int(a["task_id"]),))
    conn.execute(
        "INSERT OR IGNORE INTO refunds VALUES (?, 'cancelled', ?, ?, ?)",
        (int(a["task_id"]), str(a["refund"]), *_pos(e)),
    )


def _task_ended(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "UPDATE tasks SET status = 'ended', ended_reason = ?, ended_at = ? WHERE task_id = ?",
        (int(a["reason"]), int(a["ended_at"]), int(a["task_id"])),
    )


def _validation_published(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "UPDATE tasks SET validation_cid = ? WHERE task_id = ?", (str(a["cid"]), int(a["task_id"]))
    )


def _joined(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO participants VALUES (?, ?, ?, ?, ?)",
        (int(a["task_id"]), str(a["participant"]), str(a["stake"]), *_pos(e)),
    )


def _round_opened(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO rounds (task_id, round, global_model_cid, opened_block,"
        " commit_deadline, reveal_deadline, settle_deadline, block_number, log_index)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (int(a["task_id"]), int(a["round"]), str(a["global_model_cid"]), e.block_number,
         int(a["commit_deadline"]), int(a["reveal_deadline"]), int(a["settle_deadline"]),
         *_pos(e)),
    )  # fmt: skip


def _committed(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO commits VALUES (?, ?, ?, ?, ?, ?)",
        (int(a["task_id"]), int(a["round"]), str(a["participant"]), str(a["commitment"]),
         *_pos(e)),
    )  # fmt: skip


def _revealed(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO reveals VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (int(a["task_id"]), int(a["round"]), str(a["participant"]), str(a["cid"]),
         str(a["sha256_digest"]), int(a["num_samples"]), *_pos(e)),
    )  # fmt: skip


def _settled(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "UPDATE rounds SET new_global_cid = ?, report_cid = ?, payout_root = ?, total_paid = ?,"
        " challenge_deadline = ?, settled_block = ? WHERE task_id = ? AND round = ?",
        (str(a["new_global_cid"]), str(a["report_cid"]), str(a["payout_root"]),
         str(a["total_paid"]), int(a["challenge_deadline"]), e.block_number,
         int(a["task_id"]), int(a["round"])),
    )  # fmt: skip


def _challenged(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO challenges (task_id, round, challenger, commitment, block_number,"
        " log_index) VALUES (?, ?, ?, ?, ?, ?)",
        (int(a["task_id"]), int(a["round"]), str(a["challenger"]), str(a["commitment"]),
         *_pos(e)),
    )  # fmt: skip


def _evidence_revealed(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "UPDATE challenges SET evidence_cid = ? WHERE task_id = ? AND round = ? AND challenger = ?",
        (str(a["evidence_cid"]), int(a["task_id"]), int(a["round"]), str(a["challenger"])),
    )


def _challenger_paid(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "UPDATE challenges SET collected = ? WHERE task_id = ? AND round = ? AND challenger = ?",
        (str(a["amount"]), int(a["task_id"]), int(a["round"]), str(a["challenger"])),
    )


def _challenge_rejected(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "UPDATE rounds SET rejected = 1, arbiter = ? WHERE task_id = ? AND round = ?",
        (str(a["arbiter"]), int(a["task_id"]), int(a["round"])),
    )


def _corrected(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "UPDATE rounds SET corrected_global_cid = ?, corrected_report_cid = ?,"
        " corrected_payout_root = ?, corrected_total_paid = ?, corrected_block = ?, arbiter = ?"
        " WHERE task_id = ? AND round = ?",
        (str(a["new_global_cid"]), str(a["report_cid"]), str(a["payout_root"]),
         str(a["total_paid"]), e.block_number, str(a["arbiter"]), int(a["task_id"]),
         int(a["round"])),
    )  # fmt: skip


def _finalized(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "UPDATE rounds SET outcome = ?, final_at = ?, final_total_paid = ?"
        " WHERE task_id = ? AND round = ?",
        (int(a["outcome"]), int(a["final_at"]), str(a["total_paid"]), int(a["task_id"]),
         int(a["round"])),
    )  # fmt: skip


def _bond(kind: str) -> Handler:
    """AggregatorBondPosted/Returned/Forfeited: one ``bonds`` row of ``kind``."""

    def project(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
        to_requester = a.get("to_requester")
        conn.execute(
            "INSERT OR IGNORE INTO bonds VALUES (?, ?, ?, ?, ?, ?, ?)",
            (int(a["task_id"]), kind, None if "round" not in a else int(a["round"]),
             str(a["amount"]), None if to_requester is None else str(to_requester), *_pos(e)),
        )  # fmt: skip

    return project


def _slashed(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO slashes VALUES (?, ?, ?, ?, ?, ?)",
        (int(a["task_id"]), int(a["round"]), str(a["participant"]), str(a["amount"]), *_pos(e)),
    )


def _claimed(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO claims VALUES (?, ?, ?, ?, ?, ?)",
        (int(a["task_id"]), int(a["round"]), str(a["account"]), str(a["amount"]), *_pos(e)),
    )


def _refunded(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO refunds VALUES (?, 'budget', ?, ?, ?)",
        (int(a["task_id"]), str(a["amount"]), *_pos(e)),
    )


def _withdrawn(conn: sqlite3.Connection, e: ChainEvent, a: Row) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO withdrawals VALUES (?, ?, ?, ?, ?)",
        (int(a["task_id"]), str(a["participant"]), str(a["amount"]), *_pos(e)),
    )


#: Event name -> its projection. Every task event of the ABI is listed (a test checks it
#: against :data:`marketplace.protocol.ledger.HANDLERS`), so the tables tell what the ledger
#: fold tells; the raw ``events`` table keeps every event either way.
PROJECTIONS: dict[str, Handler] = {
    "TaskCreated": _task_created,
    "TaskCancelled": _task_cancelled,
    "TaskEnded": _task_ended,
    "ValidationPublished": _validation_published,
    "ParticipantJoined": _joined,
    "RoundOpened": _round_opened,
    "Committed": _committed,
    "Revealed": _revealed,
    "RoundSettled": _settled,
    "SettlementChallenged": _challenged,
    "EvidenceRevealed": _evidence_revealed,
    "ChallengeRejected": _challenge_rejected,
    "SettlementCorrected": _corrected,
    "SettlementFinalized": _finalized,
    "ChallengerPaid": _challenger_paid,
    "AggregatorBondPosted": _bond("posted"),
    "AggregatorBondReturned": _bond("returned"),
    "AggregatorBondForfeited": _bond("forfeited"),
    "ParticipantSlashed": _slashed,
    "Claimed": _claimed,
    "BudgetRefunded": _refunded,
    "StakeWithdrawn": _withdrawn,
}
