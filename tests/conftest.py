"""Shared fixtures: a real Anvil devnet for the session, and the round-protocol test kit."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/fmkit.py

from fmkit import Devnet

from devnet import manager
from devnet.process import free_port
from devnet.tools import NODE_MODULES
from marketplace.settings import Settings


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
