"""An indexer killed mid-sync and restarted ends with the same database as an uninterrupted sync."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ledger_demo import LedgerDemo
from test_indexer import dump

from marketplace.api.indexer import ChainSource, Indexer
from marketplace.chain.factory import make_client

pytestmark = [pytest.mark.anvil, pytest.mark.slow]

CHILD = Path(__file__).with_name("sync_child.py")
CHUNK = 7


def run_child(ledger_demo: LedgerDemo, db: Path, to_block: int, kill_at: int,
              ) -> subprocess.Popen[str]:  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(ledger_demo.settings.home), str(db), str(CHUNK),
         str(to_block), str(kill_at)],
        stdout=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def finish_and_compare(ledger_demo: LedgerDemo, db: Path, tmp_path: Path, to_block: int) -> None:
    source = ChainSource(make_client(ledger_demo.settings))
    resumed = Indexer(source, db, chunk_size=CHUNK)
    cursor = resumed.cursor()
    resumed.sync(to_block=to_block)
    fresh = Indexer(source, tmp_path / "fresh.sqlite3", chunk_size=1_000)
    fresh.sync(to_block=to_block)

    assert cursor is not None and cursor.block < to_block  # the kill left work to do
    assert dump(db) == dump(fresh.path)
    assert sum(len(rows) for rows in dump(db).values()) > 40  # the demo's events are there


def test_killed_inside_a_chunk_transaction(ledger_demo: LedgerDemo, tmp_path: Path) -> None:
    to_block = ChainSource(make_client(ledger_demo.settings)).head()
    db = tmp_path / "killed.sqlite3"
    kill_at = 6

    child = run_child(ledger_demo, db, to_block, kill_at)
    out, _ = child.communicate(timeout=120)

    assert child.returncode == -signal.SIGKILL
    assert out.splitlines()[-1].startswith(f"chunk {kill_at - 1} ")
    finish_and_compare(ledger_demo, db, tmp_path, to_block)


def test_killed_from_outside_at_an_arbitrary_moment(ledger_demo: LedgerDemo,
                                                    tmp_path: Path) -> None:  # fmt: skip
    to_block = ChainSource(make_client(ledger_demo.settings)).head()
    db = tmp_path / "killed.sqlite3"

    child = run_child(ledger_demo, db, to_block, kill_at=0)
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("chunk 4 "):
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=60)

    assert child.returncode == -signal.SIGKILL
    finish_and_compare(ledger_demo, db, tmp_path, to_block)
