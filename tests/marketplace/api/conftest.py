"""Fixtures for the API tests: the shared demo run and an app over its chain."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ledger_demo import LedgerDemo, anvil_available, shared_demo, shutdown

from marketplace.api.app import create_app


@pytest.fixture(scope="session")
def ledger_demo() -> Iterator[LedgerDemo]:
    """A finished two-round demo on its own Anvil (session-wide, stopped at the end)."""
    if not anvil_available():
        pytest.fail("node_modules is missing: run `make setup` (npm ci) first")
    try:
        yield shared_demo()
    finally:
        shutdown()


@pytest.fixture(scope="session")
def demo_app(ledger_demo: LedgerDemo) -> FastAPI:
    """The service over the demo's chain (syncing on request, no background thread)."""
    return create_app(ledger_demo.settings, validations={ledger_demo.task_id: ledger_demo.validation},
                      background_sync=False)  # fmt: skip


@pytest.fixture(scope="session")
def api(demo_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(demo_app) as client:
        yield client
