"""Several processes on one store directory, and processes killed in the middle of an add."""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import storage_workers

from marketplace.storage import EmbeddedStore

WORKERS = Path(storage_workers.__file__)


@pytest.mark.slow
def test_concurrent_adds_reads_and_gc_never_fail_or_corrupt(tmp_path: Path) -> None:
    root = str(tmp_path / "shared")
    EmbeddedStore(root)
    workers = 4
    ctx = multiprocessing.get_context("spawn")

    with ctx.Pool(workers + 1) as pool:
        gc_run = pool.apply_async(storage_workers.collect, (root, 4.0))
        runs = [
            pool.apply_async(storage_workers.hammer, (root, w, workers, 6))
            for w in range(1, workers + 1)
        ]
        failures = [f for run in runs for f in run.get(timeout=120)]
        failures += gc_run.get(timeout=120)

    assert failures == []
    store = EmbeddedStore(root)
    assert store.verify().ok
    assert len(store.pins()) == workers + 1
    for tag in range(workers + 1):
        assert store.cat_bytes(storage_workers._cid_of(tag)) == storage_workers.content(tag)


def _run_child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKERS), *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=WORKERS.parent,
    )


@pytest.mark.slow
def test_add_killed_midway_leaves_only_whole_blocks(tmp_path: Path) -> None:
    root = tmp_path / "store"
    size, signal_after = 400 * 2**20, 24 * 2**20
    child = _run_child("slow-add", str(root), str(size), str(signal_after))
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "adding"

    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    store = EmbeddedStore(root)
    report = store.verify()
    assert child.returncode == -signal.SIGKILL
    assert report.ok, report.problems
    assert report.checked >= signal_after // 262144 - 64  # blocks written before the kill
    assert store.pins() == []  # the root was never written, so nothing got pinned
    store.gc()
    assert list(root.rglob(".tmp-*")) == []


@pytest.mark.slow
def test_kill_between_write_and_rename_leaves_no_visible_block(tmp_path: Path) -> None:
    root = tmp_path / "store"
    child = _run_child("hang-before-rename", str(root))
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "written"

    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)

    store = EmbeddedStore(root)
    leftovers = list(root.rglob(".tmp-*"))
    assert len(leftovers) == 1  # the interrupted write exists only under a temporary name
    assert store.verify().checked == 0
    assert not store.has(cid_of(b"x" * 1000))
    store.gc()
    assert list(root.rglob(".tmp-*")) == []
    assert store.add(b"x" * 1000).cid == str(cid_of(b"x" * 1000))


def cid_of(data: bytes) -> str:
    from marketplace.storage import compute_cid

    return str(compute_cid(data))
