"""Throughput of the embedded store's add and cat next to a floor measured in the same run.

The floor is the least any content store must do with the bytes: hash them once (sha256)
and write them durably to one file (write + fsync). ``add`` additionally chunks, hashes every
block, writes one file per block atomically (temp file, fsync, rename) and fsyncs the
directories; ``cat`` reads every block back and re-hashes it. Target: add and cat at least
half the floor's speed at 100 MB.

    python bench/storage.py [--json] [--repeat N] [--dir PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from marketplace.storage import EmbeddedStore

SIZES_MB = (1, 10, 100)
TARGET_RATIO = 0.5


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def floor_seconds(data: bytes, workdir: Path) -> float:
    """sha256 of the bytes plus writing them to one fsynced file."""
    path = workdir / "floor.bin"

    def run() -> None:
        hashlib.sha256(data).hexdigest()
        with open(path, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    seconds = _timed(run)
    path.unlink()
    return seconds


def add_and_cat_seconds(data: bytes, workdir: Path) -> tuple[float, float]:
    """One add into an empty store and one full verified cat of it."""
    root = workdir / "store"
    store = EmbeddedStore(root)
    result: list[str] = []
    add_s = _timed(lambda: result.append(store.add(data).cid))

    def cat() -> None:
        total = sum(len(piece) for piece in store.cat(result[0]))
        assert total == len(data)

    cat_s = _timed(cat)
    shutil.rmtree(root)
    return add_s, cat_s


def measure(size_mb: int, repeat: int, workdir: Path) -> dict[str, float]:
    """Median MB/s of floor, add and cat for one input size."""
    data = os.urandom(size_mb * 2**20)
    floors, adds, cats = [], [], []
    for _ in range(repeat):
        floors.append(floor_seconds(data, workdir))
        add_s, cat_s = add_and_cat_seconds(data, workdir)
        adds.append(add_s)
        cats.append(cat_s)
    mb = len(data) / 1e6
    row = {
        "size_mb": size_mb,
        "floor_mb_s": mb / statistics.median(floors),
        "add_mb_s": mb / statistics.median(adds),
        "cat_mb_s": mb / statistics.median(cats),
    }
    row["add_ratio"] = row["add_mb_s"] / row["floor_mb_s"]
    row["cat_ratio"] = row["cat_mb_s"] / row["floor_mb_s"]
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size (median kept)")
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: tmp)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(dir=args.dir, prefix="fedmarket-bench-") as tmp:
        rows = [measure(size, args.repeat, Path(tmp)) for size in SIZES_MB]
    largest = rows[-1]
    meets = largest["add_ratio"] >= TARGET_RATIO and largest["cat_ratio"] >= TARGET_RATIO

    if args.json:
        print(json.dumps({"rows": rows, "target_ratio": TARGET_RATIO, "meets_target": meets}))
        return 0
    print(f"{'size':>6} {'floor MB/s':>11} {'add MB/s':>9} {'add/floor':>9} {'cat MB/s':>9} "
          f"{'cat/floor':>9}")  # fmt: skip
    for r in rows:
        print(
            f"{r['size_mb']:>4}MB {r['floor_mb_s']:>11.0f} {r['add_mb_s']:>9.0f} "
            f"{r['add_ratio']:>9.2f} {r['cat_mb_s']:>9.0f} {r['cat_ratio']:>9.2f}"
        )
    verdict = "meets" if meets else "misses"
    print(f"100 MB {verdict} the target (add and cat >= {TARGET_RATIO:.0%} of the floor)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
