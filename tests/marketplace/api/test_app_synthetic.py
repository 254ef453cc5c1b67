"""The app over a synthetic chain (no Anvil): sync on request, degraded health, error mapping."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from synthetic_chain import ALICE, FakeChain, claimed, joined, task_created

from marketplace.api.app import create_app
from marketplace.api.deps import Service
from marketplace.api.indexer import Indexer
from marketplace.api.ledger_index import LedgerIndex
from marketplace.api.sync_loop import SyncLoop


class FlakyChain(FakeChain):
    """A chain whose endpoint can be switched off."""

    down: bool = False

    def head(self) -> int:
        if self.down:
            raise ConnectionError("endpoint unreachable")
        return super().head()


@pytest.fixture
def chain() -> FlakyChain:
    chain = FlakyChain()
    chain.mine(task_created(1), joined(1, ALICE))
    return chain


@pytest.fixture
def client(chain: FlakyChain, tmp_path: Path) -> TestClient:
    indexer = Indexer(chain, tmp_path / "i.sqlite3")
    service = Service(LedgerIndex(indexer.path), SyncLoop(indexer, interval=0.0))
    return TestClient(create_app(service, background_sync=False))


def test_requests_sync_new_blocks_first(client: TestClient, chain: FlakyChain) -> None:
    before = client.get("/api/tasks/1").json()

    chain.mine(claimed(1, ALICE, 1, 5))
    after = client.get("/api/tasks/1").json()

    assert before["claimed"] == "0" and after["claimed"] == "5"


def test_an_unreachable_chain_degrades_health_but_reads_go_on(
    client: TestClient, chain: FlakyChain
) -> None:
    assert client.get("/api/health").json()["status"] == "ok"

    chain.down = True
    health = client.get("/api/health").json()
    tasks = client.get("/api/tasks")

    assert health["status"] == "degraded" and "unreachable" in health["last_error"]
    assert tasks.status_code == 200 and tasks.json()["total"] == 1


def test_audit_without_an_audit_runner_is_503(client: TestClient) -> None:
    response = client.get("/api/tasks/1/audit")

    assert response.status_code == 503


def test_round_numbers_beyond_uint32_are_422(client: TestClient) -> None:
    response = client.get(f"/api/tasks/1/rounds/{2**32}")

    assert response.status_code == 422


def test_the_ledger_service_also_serves_its_store_as_a_gateway(
    chain: FlakyChain, tmp_path: Path
) -> None:
    from marketplace.storage import MemoryStore

    store = MemoryStore()
    cid = store.add(b"hello world").cid
    indexer = Indexer(chain, tmp_path / "i.sqlite3")
    service = Service(LedgerIndex(indexer.path), SyncLoop(indexer, interval=0.0), blocks=store)
    client = TestClient(create_app(service, background_sync=False))

    block = client.get(f"/ipfs/{cid}?format=raw")

    assert block.status_code == 200 and block.content == b"hello world"
    assert client.get("/api/tasks/1").status_code == 200  # next to the ledger API
