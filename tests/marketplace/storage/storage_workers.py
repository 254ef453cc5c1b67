"""Code run in child processes by the concurrency and crash tests (importable under spawn)."""

from __future__ import annotations

import hashlib
import io
import os
import sys
import time

import numpy as np

from marketplace.errors import ContentNotFound
from marketplace.storage import EmbeddedStore


def content(tag: int, size: int = 600_000) -> bytes:
    """Deterministic bytes per tag; tag 0 is the content every worker shares."""
    return np.random.default_rng(1000 + tag).bytes(size)


def hammer(root: str, worker: int, workers: int, rounds: int) -> list[str]:
    """Add shared and own content, read everything back; return a list of failures."""
    store = EmbeddedStore(root)
    failures: list[str] = []
    expected = {tag: hashlib.sha256(content(tag)).hexdigest() for tag in range(workers + 1)}
    for _ in range(rounds):
        for tag in (0, worker):
            result = store.add(content(tag))
            if result.sha256 != expected[tag]:
                failures.append(f"add of {tag} reported the wrong sha256")
            if hashlib.sha256(store.cat_bytes(result.cid)).hexdigest() != expected[tag]:
                failures.append(f"worker {worker} read back wrong bytes for {tag}")
        for tag in range(1, workers + 1):  # others' content: absent or exact, never wrong
            cid = _cid_of(tag)
            try:
                got = store.cat_bytes(cid)
            except ContentNotFound:
                continue
            if hashlib.sha256(got).hexdigest() != expected[tag]:
                failures.append(f"worker {worker} read wrong bytes for {tag}")
    return failures


def collect(root: str, seconds: float) -> list[str]:
    """Run gc repeatedly while the others add; gc must never break pinned content."""
    store = EmbeddedStore(root)
    deadline = time.monotonic() + seconds
    runs = 0
    while time.monotonic() < deadline:
        store.gc()
        runs += 1
    return [] if runs else ["gc never ran"]


def _cid_of(tag: int) -> str:
    from marketplace.storage import compute_cid

    return str(compute_cid(content(tag)))


class Generated(io.RawIOBase):
    """``size`` bytes of deterministic data produced on demand (nothing held in memory)."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.rng = np.random.default_rng(5)

    def readable(self) -> bool:
        return True

    def readinto(self, b: bytearray) -> int:  # type: ignore[override]
        n = min(len(b), self.left)
        b[:n] = self.rng.bytes(n)
        self.left -= n
        return n


def slow_add_until_killed(root: str, size: int, signal_after: int) -> None:
    """Add a large stream, printing 'adding' once ``signal_after`` bytes are in."""
    store = EmbeddedStore(root)
    told = False

    def progress(done: int) -> None:
        nonlocal told
        if not told and done >= signal_after:
            print("adding", flush=True)
            told = True

    store.add(Generated(size), progress=progress)
    print("finished", flush=True)


def hang_before_rename(root: str) -> None:
    """Write one block's temporary file, then stop before os.replace (killed there)."""
    real_replace = os.replace

    def stuck(src: str, dst: str) -> None:
        print("written", flush=True)
        time.sleep(60)
        real_replace(src, dst)

    os.replace = stuck  # type: ignore[assignment]
    EmbeddedStore(root).add(b"x" * 1000)


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "slow-add":
        slow_add_until_killed(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif command == "hang-before-rename":
        hang_before_rename(sys.argv[2])
