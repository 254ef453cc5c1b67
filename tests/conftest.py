"""Shared fixtures: a real Anvil devnet for the session, and the round-protocol test kit."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/fmkit.py

from fmkit import Devnet

from devnet import manager
from devnet.tools import NODE_MODULES
from marketplace.settings import Settings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def devnet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Devnet]:
    """One Anvil for the whole session (every test makes its own task on it)."""
    if not (NODE_MODULES / "@foundry-rs").exists():
        pytest.fail("node_modules is missing: run `make setup` (npm ci) first")
    home = tmp_path_factory.mktemp("fedmarket-home")
    settings = Settings(home=home)
    result = manager.up(settings, port=free_port())
    try:
        yield Devnet(settings=settings, deployments=result.deployments)
    finally:
        manager.down(settings)
