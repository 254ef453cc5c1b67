"""The Kubo RPC backend against a local stand-in server, and against a real Kubo when given."""

from __future__ import annotations

import os
import socket

import httpx
import numpy as np
import pytest
from kubo_standin import StandinKubo

from marketplace.errors import (
    BackendUnavailable,
    CidMismatch,
    ContentNotFound,
    CorruptContent,
    StorageError,
)
from marketplace.settings import Settings
from marketplace.storage import CID, ContentStore, EmbeddedStore, MemoryStore, open_store
from marketplace.storage.kubo import KuboStore


def client(server: StandinKubo, **kwargs: float) -> KuboStore:
    options = {"timeout": 5.0, "retries": 1, "backoff": 0.01, **kwargs}
    return KuboStore(server.url, **options)  # type: ignore[arg-type]


def test_add_sends_explicit_parameters_and_returns_local_cid(
    kubo: StandinKubo, payload: bytes
) -> None:
    store = client(kubo)

    result = store.add(payload)

    method, path, params = kubo.requests[-1]
    assert (method, path) == ("POST", "/api/v0/add")
    assert params["cid-version"] == "1"
    assert params["raw-leaves"] == "true"
    assert params["chunker"] == "size-262144"
    assert params["pin"] == "true"
    assert result == MemoryStore().add(payload)


def test_every_call_is_a_post(kubo: StandinKubo) -> None:
    store = client(kubo)
    cid = store.add(b"hello world").cid

    store.cat_bytes(cid)
    store.has(cid)
    store.pin(cid)
    store.unpin(cid)
    store.version()

    assert {method for method, _, _ in kubo.requests} == {"POST"}


def test_cat_round_trip_and_ranges(kubo: StandinKubo, payload: bytes) -> None:
    store = client(kubo)
    cid = store.add(payload).cid

    assert store.cat_bytes(cid) == payload
    assert store.cat_bytes(cid, offset=262_000, length=5_000) == payload[262_000:267_000]
    assert store.get(cid) == payload


def test_range_read_fetches_only_the_blocks_it_needs(kubo: StandinKubo, payload: bytes) -> None:
    store = client(kubo)
    cid = store.add(payload).cid
    kubo.requests.clear()

    got = store.cat_bytes(cid, offset=3 * 262144 + 10, length=20)

    assert got == payload[3 * 262144 + 10 : 3 * 262144 + 30]
    fetched = {params["arg"] for _, path, params in kubo.requests if path == "/api/v0/block/get"}
    last_leaf = str(CID.of(0x55, payload[3 * 262144 :]))
    assert "/api/v0/cat" not in [path for _, path, _ in kubo.requests]
    assert fetched == {cid, last_leaf}  # the root and the one leaf holding the range


def test_range_read_from_a_corrupting_daemon_is_corrupt(payload: bytes) -> None:
    server = StandinKubo(mode="corrupt-cat")
    server.start()
    try:
        store = client(server)
        cid = store.add(payload).cid
        with pytest.raises(CorruptContent):
            store.cat_bytes(cid, offset=5, length=5)
    finally:
        server.stop()


def test_cat_of_empty_file(kubo: StandinKubo) -> None:
    store = client(kubo)
    cid = store.add(b"").cid

    assert store.cat_bytes(cid) == b""


def test_daemon_reporting_another_cid_is_a_mismatch(payload: bytes) -> None:
    server = StandinKubo(mode="wrong-cid")
    server.start()
    try:
        with pytest.raises(CidMismatch):
            client(server).add(payload)
    finally:
        server.stop()


def test_daemon_serving_altered_bytes_is_corrupt_and_nothing_is_returned(payload: bytes) -> None:
    server = StandinKubo(mode="corrupt-cat")
    server.start()
    try:
        store = client(server)
        cid = store.add(payload).cid
        received: list[bytes] = []
        with pytest.raises(CorruptContent):
            received.extend(store.cat(cid))
        assert received == []
    finally:
        server.stop()


def test_daemon_that_hangs_is_unavailable_after_bounded_retries() -> None:
    server = StandinKubo(mode="hang", hang_seconds=1.0)
    server.start()
    try:
        store = client(server, timeout=0.2, retries=1)
        with pytest.raises(BackendUnavailable, match="2 attempts"):
            store.add(b"hello world")
        assert len(server.requests) == 2
    finally:
        server.stop()


def test_transient_503_is_retried(payload: bytes) -> None:
    server = StandinKubo(mode="flaky")
    server.start()
    try:
        result = client(server).add(payload)
        assert result.cid == MemoryStore().add(payload).cid
        assert [p for _, p, _ in server.requests] == ["/api/v0/add", "/api/v0/add"]
    finally:
        server.stop()


def test_refused_connection_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = KuboStore(f"http://127.0.0.1:{port}", timeout=1.0, retries=1, backoff=0.01)

    with pytest.raises(BackendUnavailable):
        store.version()


def test_unknown_content_is_not_found(kubo: StandinKubo) -> None:
    store = client(kubo)
    absent = CID.of(0x55, b"absent")

    with pytest.raises(ContentNotFound):
        store.cat_bytes(absent)
    assert store.has(absent) is False


def test_kubo_error_message_is_surfaced(kubo: StandinKubo) -> None:
    store = client(kubo)
    cid = store.add(b"x", pin=False).cid

    with pytest.raises(StorageError, match="not pinned"):
        store.unpin(cid)


def test_unknown_endpoint_is_reported(kubo: StandinKubo) -> None:
    store = KuboStore(kubo.url + "/not-kubo", timeout=2.0, retries=0)

    with pytest.raises(StorageError, match="not a Kubo RPC endpoint") as excinfo:
        store.version()

    assert not isinstance(excinfo.value, ContentNotFound)


def test_pin_and_version(kubo: StandinKubo) -> None:
    store = client(kubo)
    cid = store.add(b"pin me", pin=False).cid

    store.pin(cid)

    assert cid in kubo.store.pins()
    assert store.version() == "0.32.1"


def test_mock_transport_can_replace_the_network() -> None:
    """Callers can inject an httpx transport, as other packages' tests may want to."""

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.method == "POST"
        return httpx.Response(200, json={"Version": "0.30.0"})

    store = KuboStore("http://kubo.invalid:5001", transport=httpx.MockTransport(answer))

    assert store.version() == "0.30.0"


def test_open_store_picks_the_backend(tmp_path: os.PathLike[str]) -> None:
    embedded = open_store(Settings(home=tmp_path, ipfs="embedded"))  # type: ignore[arg-type]
    remote = open_store(Settings(home=tmp_path, ipfs="http://127.0.0.1:5001"))  # type: ignore[arg-type]

    assert isinstance(embedded, EmbeddedStore)
    assert isinstance(remote, KuboStore)
    assert remote.api_url == "http://127.0.0.1:5001/api/v0"
    assert isinstance(remote, ContentStore)


KUBO_API = os.environ.get("FEDMARKET_TEST_KUBO_API")


@pytest.mark.skipif(not KUBO_API, reason="set FEDMARKET_TEST_KUBO_API to a Kubo RPC address")
def test_against_a_real_kubo() -> None:
    assert KUBO_API is not None
    store = KuboStore(KUBO_API, timeout=30.0)
    data = np.random.default_rng(11).bytes(175 * 262144 + 3)

    result = store.add(data)  # raises CidMismatch if Kubo disagrees with the local encoder

    assert result.cid == MemoryStore().add(data).cid
    assert store.cat_bytes(result.cid) == data
    assert store.has(result.cid)
    assert store.add(b"hello world").cid == (
        "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    )
    store.pin(result.cid)
    assert store.version()
