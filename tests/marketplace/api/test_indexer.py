"""The indexer on synthetic events: chunking, idempotence, crash safety, reorgs, report cache."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import pytest
from synthetic_chain import (
    ALICE,
    ARBITER,
    BOB,
    TOKEN,
    FakeChain,
    bond_forfeited,
    challenged,
    challenger_paid,
    claimed,
    committed,
    corrected,
    evidence_revealed,
    finalized,
    joined,
    opened,
    rejected,
    revealed,
    settled,
    task_created,
    task_ended,
)

from marketplace.api.errors import NotFound
from marketplace.api.indexer import ChunkProgress, Indexer
from marketplace.api.ledger_index import LedgerIndex
from marketplace.api.report_cache import report_rows
from marketplace.api.tables import CHAIN_TABLES, PROJECTIONS, task_topic_events
from marketplace.chain.structs import Outcome
from marketplace.protocol.ledger import HANDLERS
from marketplace.protocol.round_report import RoundReport, SubmissionRecord
from marketplace.storage import MemoryStore


def make_report(
    round_: int,
    payouts: dict[str, int],
    values: dict[str, float],
    accuracy: float,
) -> RoundReport:
    players = sorted(values, key=str.lower)
    return RoundReport(
        task_id=1, round=round_, marketplace="0xaa", chain_id=31337, spec_cid="bafyspec1",
        global_model_cid=f"bafymodel{round_}", new_global_cid=f"bafymodel{round_ + 1}", seed=7,
        seed_source={}, aggregator="fedavg", aggregator_params={},
        submissions=[SubmissionRecord(p, f"bafyupdate{round_}{p[-4:]}", "cd" * 32, 100,
                                      "accepted") for p in players],
        valuation={"config": {"method": "exact"}, "participants": players,
                   "result": {"values": [values[p] for p in players]},
                   "fairness": {"jain": 0.5, "gini": 0.25, "pearson": float("nan")}},
        round_budget=100 * TOKEN, round_payouts=payouts,
        previous_report_cid="", payout_root="0x" + "ef" * 32, total_paid=sum(payouts.values()),
        accuracy=accuracy,
    )  # fmt: skip


def one_round_chain(store: MemoryStore) -> FakeChain:
    """Task 1: Alice and Bob join, round 1 is committed, revealed, settled, finalized, claimed."""
    report = make_report(1, {ALICE: 60 * TOKEN, BOB: 40 * TOKEN}, {ALICE: 0.3, BOB: 0.2}, 0.8)
    cid = store.add(report.to_json()).cid
    chain = FakeChain()
    chain.mine(task_created(1))
    chain.mine(joined(1, ALICE), joined(1, BOB))
    chain.mine(opened(1, 1))
    chain.mine(committed(1, 1, ALICE), committed(1, 1, BOB))
    chain.mine_empty(3)
    chain.mine(revealed(1, 1, ALICE), revealed(1, 1, BOB))
    chain.mine(settled(1, 1, cid, 100 * TOKEN))
    chain.mine(finalized(1, 1, 100 * TOKEN))
    chain.mine(claimed(1, ALICE, 1, 60 * TOKEN))
    return chain


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every chain table's rows (sorted) plus the cursor: what two syncs must agree on."""
    conn = sqlite3.connect(path)
    try:
        out = {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in CHAIN_TABLES}
        out["cursor"] = sorted(
            conn.execute(
                "SELECT * FROM meta WHERE key IN ('last_block', 'last_block_hash')"
            ).fetchall()
        )
        return out
    finally:
        conn.close()


def test_sync_projects_events_into_tables(tmp_path: Path) -> None:
    store = MemoryStore()
    chain = one_round_chain(store)
    indexer = Indexer(chain, tmp_path / "i.sqlite3", store=store)

    report = indexer.sync()

    assert report.to_block == chain.head() and report.events == 11
    index = LedgerIndex(indexer.path)
    task = index.task(1)
    assert (task.participants, task.rounds_opened, task.rounds_settled) == (2, 1, 1)
    assert task.staked == str(2 * TOKEN) and task.claimed == str(60 * TOKEN)
    assert task.allocated == str(100 * TOKEN)
    detail = index.round(1, 1)
    assert (detail.summary.status, detail.summary.outcome) == ("final", "unchallenged")
    assert detail.summary.claimed == str(60 * TOKEN) and not detail.summary.corrected
    assert {c.participant for c in detail.commits} == {ALICE, BOB}
    assert {c.participant: c.value for c in detail.contributions} == {ALICE: 0.3, BOB: 0.2}


def test_chunks_cover_the_range_once_and_move_the_cursor(tmp_path: Path) -> None:
    chain = one_round_chain(MemoryStore())
    seen: list[ChunkProgress] = []
    indexer = Indexer(chain, tmp_path / "i.sqlite3", chunk_size=3, on_chunk=seen.append)

    indexer.sync()

    assert [(c.from_block, c.to_block) for c in seen] == [
        (s, min(s + 2, chain.head())) for s in range(0, chain.head() + 1, 3)
    ]
    assert sum(c.events for c in seen) == 11
    cursor = indexer.cursor()
    assert cursor is not None and cursor.block == chain.head()
    assert cursor.hash == chain.block_hash(chain.head())


def test_second_sync_is_a_no_op_and_new_blocks_are_appended(tmp_path: Path) -> None:
    chain = one_round_chain(MemoryStore())
    indexer = Indexer(chain, tmp_path / "i.sqlite3")
    indexer.sync()
    before = dump(indexer.path)

    again = indexer.sync()
    unchanged = dump(indexer.path)
    chain.mine(claimed(1, BOB, 1, 40 * TOKEN))
    later = indexer.sync()

    assert again.events == 0 and unchanged == before
    assert later.events == 1 and later.from_block == chain.head()
    assert LedgerIndex(indexer.path).task(1).claimed == str(100 * TOKEN)


def test_resumed_sync_equals_uninterrupted_sync(tmp_path: Path) -> None:
    chain = one_round_chain(MemoryStore())
    stepwise = Indexer(chain, tmp_path / "a.sqlite3", chunk_size=2)
    whole = Indexer(chain, tmp_path / "b.sqlite3", chunk_size=2)

    while stepwise.sync(max_chunks=1).chunks:
        pass
    whole.sync()

    assert dump(stepwise.path) == dump(whole.path)


def test_failure_inside_a_chunk_rolls_the_whole_chunk_back(tmp_path: Path) -> None:
    chain = one_round_chain(MemoryStore())

    def explode_on_third(progress: ChunkProgress) -> None:
        if progress.number == 3:
            raise RuntimeError("killed mid-chunk")

    indexer = Indexer(chain, tmp_path / "i.sqlite3", chunk_size=2, on_chunk=explode_on_third)
    with pytest.raises(RuntimeError):
        indexer.sync()
    cursor = indexer.cursor()
    conn = sqlite3.connect(indexer.path)
    max_block = conn.execute("SELECT MAX(block_number) FROM events").fetchone()[0]
    conn.close()

    assert cursor is not None and cursor.block == 3  # chunks [0,1] and [2,3] committed
    assert max_block <= 3  # nothing of chunk [4,5]
    indexer.on_chunk = None
    indexer.sync()
    reference = Indexer(chain, tmp_path / "ref.sqlite3", chunk_size=2)
    reference.sync()
    assert dump(indexer.path) == dump(reference.path)


def test_reorg_is_detected_by_block_hash_and_rebuilds(tmp_path: Path) -> None:
    chain = one_round_chain(MemoryStore())
    indexer = Indexer(chain, tmp_path / "i.sqlite3")
    indexer.sync()

    chain.blocks[-1] = []  # the claim is reorganised away ...
    chain.mine(claimed(1, BOB, 1, 40 * TOKEN))  # ... and another one lands instead
    report = indexer.sync()

    assert report.rebuilt
    claims = LedgerIndex(indexer.path).claims(1, 10, 0)
    assert [c.account for c in claims.items] == [BOB]


def test_a_shorter_chain_also_counts_as_a_reorg(tmp_path: Path) -> None:
    chain = one_round_chain(MemoryStore())
    indexer = Indexer(chain, tmp_path / "i.sqlite3")
    indexer.sync()

    del chain.blocks[-2:]  # finalization and claim vanish
    report = indexer.sync()

    assert report.rebuilt
    assert LedgerIndex(indexer.path).round(1, 1).summary.status == "settled"


def test_rebuild_reproduces_the_same_tables(tmp_path: Path) -> None:
    chain = one_round_chain(MemoryStore())
    indexer = Indexer(chain, tmp_path / "i.sqlite3")
    indexer.sync()
    before = dump(indexer.path)

    report = indexer.rebuild()

    assert report.rebuilt and dump(indexer.path) == before


def test_applying_an_event_twice_stores_it_once(tmp_path: Path) -> None:
    chain = one_round_chain(MemoryStore())
    indexer = Indexer(chain, tmp_path / "i.sqlite3")
    indexer.sync()
    from marketplace.api.tables import apply_event

    event = chain.fetch(0, chain.head())[-1]
    conn = sqlite3.connect(indexer.path, isolation_level=None)
    inserted = apply_event(conn, event)
    claims = conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0]
    conn.close()

    assert not inserted and claims == 1


def test_report_cache_retries_a_missing_report_after_the_back_off(tmp_path: Path) -> None:
    store = MemoryStore()
    report = make_report(1, {ALICE: TOKEN}, {ALICE: 0.1}, 0.5)
    blob = report.to_json()
    from marketplace.storage import compute_cid

    cid = str(compute_cid(blob))  # settled, but not in the store yet
    chain = FakeChain()
    chain.mine(task_created(1), joined(1, ALICE), opened(1, 1))
    chain.mine(settled(1, 1, cid, TOKEN))
    indexer = Indexer(chain, tmp_path / "i.sqlite3", store=store)

    assert indexer.reports is not None
    first = indexer.sync()
    failed = set(indexer.reports.failures)
    store.add(blob)
    during_back_off = indexer.sync()
    indexer.reports.retry_after = 0.0
    second = indexer.sync()

    assert first.reports_cached == 0 and failed == {cid}
    assert during_back_off.reports_cached == 0  # not refetched on every sync
    assert second.reports_cached == 1 and not indexer.reports.failures
    round_ = LedgerIndex(indexer.path).round(1, 1).summary
    assert round_.report_cached and round_.accuracy == 0.5
    assert round_.fairness is not None and round_.fairness.pearson is None  # NaN -> null


def three_round_chain(store: MemoryStore) -> tuple[FakeChain, dict[str, str]]:
    """Round 1 final unchallenged; round 2 challenged, upheld and corrected by the arbiter;
    round 3 settled, not final yet. Alice claims rounds 1 and 2 in one transaction."""
    reports = {
        "r1": make_report(1, {ALICE: 60 * TOKEN, BOB: 40 * TOKEN}, {ALICE: 0.3, BOB: 0.2}, 0.6),
        "r2": make_report(2, {ALICE: 10 * TOKEN, BOB: 90 * TOKEN}, {ALICE: 0.1, BOB: 0.4}, 0.7),
        "r2fix": make_report(2, {ALICE: 50 * TOKEN, BOB: 50 * TOKEN}, {ALICE: 0.3, BOB: 0.3}, 0.75),
        "r3": make_report(3, {ALICE: 30 * TOKEN, BOB: 70 * TOKEN}, {ALICE: 0.2, BOB: 0.5}, 0.8),
    }
    cids = {name: store.add(r.to_json()).cid for name, r in reports.items()}
    chain = FakeChain()
    chain.mine(task_created(1, rounds=3), joined(1, ALICE), joined(1, BOB), opened(1, 1))
    chain.mine(settled(1, 1, cids["r1"], 100 * TOKEN), finalized(1, 1, 100 * TOKEN),
               opened(1, 2))  # fmt: skip
    chain.mine(settled(1, 2, cids["r2"], 100 * TOKEN), challenged(1, 2, ALICE))
    chain.mine(evidence_revealed(1, 2, ALICE))
    chain.mine(corrected(1, 2, cids["r2fix"], 100 * TOKEN), bond_forfeited(1, 2, TOKEN, 1),
               finalized(1, 2, 100 * TOKEN, outcome=Outcome.CORRECTED), opened(1, 3))  # fmt: skip
    chain.mine(claimed(1, ALICE, 1, 60 * TOKEN), claimed(1, ALICE, 2, 50 * TOKEN),
               challenger_paid(1, 2, ALICE, 2 * TOKEN - 1))  # fmt: skip
    chain.mine(settled(1, 3, cids["r3"], 100 * TOKEN))
    return chain, cids


def test_payouts_sum_the_effective_reports_round_by_round(tmp_path: Path) -> None:
    store = MemoryStore()
    chain, _cids = three_round_chain(store)
    indexer = Indexer(chain, tmp_path / "i.sqlite3", store=store)
    indexer.sync()
    index = LedgerIndex(indexer.path)

    payouts = index.payouts(1, 10, 0)
    participants = {p.address: p for p in index.participants(1, 10, 0).items}

    assert payouts.rounds == [1, 2, 3] and payouts.final_rounds == [1, 2]
    by = {s.address: s for s in payouts.items}
    # round 2 pays what the arbiter's correction says, not the aggregator's 10/90
    assert by[BOB].round_payouts == [str(40 * TOKEN), str(50 * TOKEN), str(70 * TOKEN)]
    assert by[BOB].cumulative == [str(40 * TOKEN), str(90 * TOKEN), str(160 * TOKEN)]
    assert by[BOB].entitled == participants[BOB].entitled == str(90 * TOKEN)  # final rounds
    assert by[ALICE].entitled == str(110 * TOKEN) and by[ALICE].claimed == str(110 * TOKEN)
    assert participants[BOB].claimed == "0"


def test_rounds_expose_status_outcome_and_the_effective_settlement(tmp_path: Path) -> None:
    store = MemoryStore()
    chain, cids = three_round_chain(store)
    indexer = Indexer(chain, tmp_path / "i.sqlite3", store=store)
    indexer.sync()
    index = LedgerIndex(indexer.path)

    rounds = index.rounds(1, 10, 0).items
    detail = index.round(1, 2)
    task = index.task(1)

    assert [(r.status, r.outcome) for r in rounds] == [
        ("final", "unchallenged"), ("final", "corrected"), ("settled", None)
    ]  # fmt: skip
    two = detail.summary
    assert two.corrected and two.report_cid == cids["r2fix"]
    assert two.aggregator_report_cid == cids["r2"] and two.new_global_cid == "bafyfixed3"
    assert two.payout_root == "0x" + "fa" * 32 and two.arbiter == ARBITER
    assert (two.challengers, two.evidence_revealed) == (1, 1)
    assert two.accuracy == 0.75 and two.claimed == str(50 * TOKEN)  # the corrected report's
    assert [(c.challenger, c.evidence_cid, c.collected) for c in detail.challenges] == [
        (ALICE, "bafyevidence2", str(2 * TOKEN - 1))
    ]
    assert {c.participant: c.cumulative_payout for c in detail.contributions} == {
        ALICE: str(110 * TOKEN), BOB: str(90 * TOKEN)
    }  # fmt: skip
    assert [(c.round, c.amount) for c in index.claims(1, 10, 0).items] == [
        (1, str(60 * TOKEN)), (2, str(50 * TOKEN))
    ]  # fmt: skip
    assert (task.rounds_settled, task.rounds_final) == (3, 2)
    assert task.allocated == str(200 * TOKEN) and task.forfeited == "1"
    assert cids["r2"] in {r for (r,) in sqlite3.connect(indexer.path).execute(
        "SELECT cid FROM reports")}  # the replaced report is cached too  # fmt: skip


def test_a_rejected_challenge_leaves_the_settlement_and_the_task_end_is_labelled(
    tmp_path: Path,
) -> None:
    chain = FakeChain()
    chain.mine(task_created(1, rounds=1), joined(1, ALICE), opened(1, 1))
    chain.mine(settled(1, 1, "bafyreport1", 7), challenged(1, 1, BOB), challenged(1, 1, ALICE))
    chain.mine(evidence_revealed(1, 1, BOB))
    chain.mine(rejected(1, 1), finalized(1, 1, 7, outcome=Outcome.REJECTED), task_ended(1))
    indexer = Indexer(chain, tmp_path / "i.sqlite3")
    indexer.sync()
    index = LedgerIndex(indexer.path)

    round_ = index.round(1, 1).summary
    task = index.task(1)

    assert (round_.status, round_.outcome, round_.corrected) == ("final", "rejected", False)
    assert round_.report_cid == "bafyreport1" and round_.arbiter == ARBITER
    assert (round_.challengers, round_.evidence_revealed) == (2, 1)
    assert (task.status, task.ended_reason, task.ended_at) == ("ended", "completed", 900)
    assert task.allocated == "7"


def test_every_task_event_has_a_projection_like_the_ledger_fold() -> None:
    assert set(PROJECTIONS) == set(HANDLERS)
    assert task_topic_events() == set(HANDLERS)


def test_pagination_and_unknown_ids(tmp_path: Path) -> None:
    chain = FakeChain()
    chain.mine(*(task_created(t) for t in range(1, 6)))
    indexer = Indexer(chain, tmp_path / "i.sqlite3")
    indexer.sync()
    index = LedgerIndex(indexer.path)

    page = index.tasks(limit=2, offset=3)

    assert page.total == 5 and [t.task_id for t in page.items] == [4, 5]
    with pytest.raises(NotFound):
        index.task(6)
    with pytest.raises(NotFound):
        index.round(1, 1)


def test_an_index_of_an_older_schema_is_rebuilt(tmp_path: Path) -> None:
    chain = one_round_chain(MemoryStore())
    path = tmp_path / "i.sqlite3"
    Indexer(chain, path).sync()
    conn = sqlite3.connect(path)  # what schema 2 had: cumulative claims and payouts
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.execute("DROP TABLE claims")
    conn.execute("CREATE TABLE claims (task_id, account, amount, cumulative, block_number,"
                 " log_index, UNIQUE (block_number, log_index))")  # fmt: skip
    conn.execute("INSERT INTO reports (cid, task_id, round, total_paid, body)"
                 " VALUES ('bafystale', 1, 1, '0', '{}')")  # fmt: skip
    conn.commit()
    conn.close()

    indexer = Indexer(chain, path)

    assert indexer.cursor() is None
    assert indexer.sync().events == 11
    claims = LedgerIndex(path).claims(1, 10, 0).items
    assert [(c.account, c.round) for c in claims] == [(ALICE, 1)]
    conn = sqlite3.connect(path)
    stale = conn.execute("SELECT COUNT(*) FROM reports WHERE cid = 'bafystale'").fetchone()[0]
    conn.close()
    assert stale == 0  # the caches of the old layout went too


def test_syncing_to_an_earlier_block_than_indexed_is_no_reorg(tmp_path: Path) -> None:
    chain = one_round_chain(MemoryStore())
    indexer = Indexer(chain, tmp_path / "i.sqlite3")
    indexer.sync()
    before = dump(indexer.path)

    report = indexer.sync(to_block=3)

    assert not report.rebuilt and report.chunks == 0 and dump(indexer.path) == before


def test_contributions_are_read_from_both_report_layouts() -> None:
    current = make_report(1, {ALICE: TOKEN}, {ALICE: 0.25, BOB: -0.5}, 0.5)
    legacy_valuation = {"method": "exact", "players": [ALICE, BOB], "values": [0.25, -0.5],
                        "fairness": {"jain": 1.0, "gini": 0.0, "pearson": 0.5}}  # fmt: skip
    legacy = dataclasses.replace(current, valuation=legacy_valuation)

    row, entries = report_rows("bafycurrent", current)
    old_row, old_entries = report_rows("bafylegacy", legacy)

    assert {e[1]: e[4] for e in entries} == {ALICE: 0.25, BOB: -0.5}
    assert {e[1]: e[4] for e in old_entries} == {ALICE: 0.25, BOB: -0.5}
    assert row[8] == old_row[8] == "exact"
