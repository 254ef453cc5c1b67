"""Reading through trustless gateways: verified fetches, lying servers, fallback, caching."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # tests/gateway_kit.py

from gateway_kit import LyingGateway, serve_app

from marketplace.api.gateway import create_gateway_app
from marketplace.errors import BackendUnavailable, ConfigError, ContentNotFound, CorruptContent
from marketplace.settings import Settings
from marketplace.storage import CID, EmbeddedStore, MemoryStore, open_store
from marketplace.storage.gateway import GatewayStore, TrustlessGateway


@pytest.fixture
def origin(payload: bytes) -> MemoryStore:
    """The host that holds the content."""
    store = MemoryStore()
    store.add(payload)
    store.add(b"hello world")
    return store


@pytest.fixture
def honest(origin: MemoryStore) -> Iterator[str]:
    """Our real gateway (uvicorn) serving ``origin``."""
    with serve_app(create_gateway_app(origin)) as url:
        yield url


@pytest.fixture
def liar(origin: MemoryStore) -> Iterator[LyingGateway]:
    gateway = LyingGateway(origin, "corrupt").start()
    try:
        yield gateway
    finally:
        gateway.stop()


def test_fetches_a_dag_verifies_it_and_keeps_it(
    tmp_path: Path, payload: bytes, origin: MemoryStore, honest: str
) -> None:
    cid = str(origin.add(payload).cid)
    local = EmbeddedStore(tmp_path / "ipfs", durable=False)
    store = GatewayStore(local, [honest])
    assert store.cat_bytes(cid) == payload
    assert store.bytes_received > len(payload)  # the CAR: the file plus framing
    assert local.verify(cid).ok and cid in local.pins()  # kept for others to read here
    before = store.bytes_received
    assert store.cat_bytes(cid, offset=262144, length=10) == payload[262144 : 262144 + 10]
    assert store.bytes_received == before  # the second read is local


@pytest.mark.parametrize("mode", ["corrupt", "incomplete", "wrong-type", "error"])
def test_a_lying_gateway_yields_an_error_never_wrong_bytes(
    payload: bytes, origin: MemoryStore, mode: str
) -> None:
    cid = origin.add(payload).cid
    gateway = LyingGateway(origin, mode).start()
    try:
        store = GatewayStore(MemoryStore(), [gateway.url])
        expected = CorruptContent if mode == "corrupt" else BackendUnavailable
        with pytest.raises(expected):
            store.cat_bytes(cid)
        assert store.local.has(cid) is False  # nothing unverified was kept
        if mode in ("corrupt", "error"):  # the other modes lie about CARs only
            with pytest.raises(CorruptContent if mode == "corrupt" else BackendUnavailable):
                TrustlessGateway(gateway.url).block(CID.parse(cid))
    finally:
        gateway.stop()


def test_unrelated_extra_blocks_in_a_car_are_ignored(payload: bytes, origin: MemoryStore) -> None:
    cid = origin.add(payload).cid
    gateway = LyingGateway(origin, "extra").start()
    try:
        local = MemoryStore()
        assert GatewayStore(local, [gateway.url]).cat_bytes(cid) == payload
        assert len(local.blocks) == 5  # the DAG's blocks only
    finally:
        gateway.stop()


def test_falls_back_to_the_next_source_after_corruption(
    payload: bytes,
    origin: MemoryStore,
    liar: LyingGateway,
    honest: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cid = origin.add(payload).cid
    store = GatewayStore(MemoryStore(), [liar.url, honest])
    assert store.cat_bytes(cid) == payload
    assert liar.requests, "the lying gateway was asked first"
    assert len(store.failures) == 1 and "does not hash" in store.failures[0]
    assert "trying the next one" in caplog.text


def test_not_found_everywhere_is_content_not_found(honest: str) -> None:
    absent = str(CID.of(0x55, b"nobody has this"))
    store = GatewayStore(MemoryStore(), [honest, honest])
    with pytest.raises(ContentNotFound):
        store.cat_bytes(absent)
    assert store.has(absent) is False  # has() never fetches


def test_unreachable_gateway_then_a_good_one() -> None:
    origin = MemoryStore()
    cid = origin.add(b"hello world").cid

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    dead = TrustlessGateway("http://192.0.2.1:8080", transport=httpx.MockTransport(refuse))
    with serve_app(create_gateway_app(origin)) as url:
        store = GatewayStore(MemoryStore(), [dead, url])
        assert store.get(cid) == b"hello world"
    assert "unreachable" in store.failures[0]


def test_a_block_swapped_in_transit_is_rejected() -> None:
    """A man in the middle that returns another (well-formed) block for the CID asked."""
    origin = MemoryStore()
    cid = CID.parse(origin.add(b"the real bytes").cid)

    def swap(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=b"other bytes", headers={"content-type": "application/vnd.ipld.raw"}
        )

    with pytest.raises(CorruptContent):
        TrustlessGateway("http://gw.test", transport=httpx.MockTransport(swap)).block(cid)


def test_settings_name_the_gateways(tmp_path: Path, honest: str, origin: MemoryStore) -> None:
    settings = Settings.from_env(
        {"FEDMARKET_HOME": str(tmp_path), "FEDMARKET_IPFS_GATEWAYS": f" {honest}, http://x.test "}
    )
    assert settings.ipfs_gateways == (honest, "http://x.test")
    store = open_store(settings)
    assert isinstance(store, GatewayStore) and isinstance(store.local, EmbeddedStore)
    assert store.get(origin.add(b"hello world").cid) == b"hello world"
    with pytest.raises(ConfigError):
        open_store(Settings(home=tmp_path, ipfs_gateways=("ftp://nope",)))
