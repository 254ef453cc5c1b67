"""Fixtures shared by the storage tests: stores on disk and in memory, a Kubo stand-in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from kubo_standin import StandinKubo

from marketplace.storage import EmbeddedStore, MemoryStore


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "ipfs")


@pytest.fixture
def memory() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def kubo() -> Iterator[StandinKubo]:
    server = StandinKubo()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def payload() -> bytes:
    """Three chunks and a bit: a two-level file with a short last leaf."""
    return np.random.default_rng(3).bytes(3 * 262144 + 1000)
