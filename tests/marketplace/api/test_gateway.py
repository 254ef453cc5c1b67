"""The trustless gateway against the spec's checks: raw blocks, CARs, negotiation, 404/400."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from fastapi.testclient import TestClient

from marketplace.api.gateway import create_gateway_app
from marketplace.storage import CID, MemoryStore
from marketplace.storage.car import read_car
from marketplace.storage.dag import child_links

PAYLOAD = np.random.default_rng(5).bytes(3 * 262144 + 1000)  # root + 4 leaves


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def client(store: MemoryStore) -> TestClient:
    return TestClient(create_gateway_app(store))


def test_raw_block_hashes_to_its_cid_with_spec_headers(
    store: MemoryStore, client: TestClient
) -> None:
    cid = store.add(PAYLOAD).cid
    response = client.get(f"/ipfs/{cid}?format=raw")
    assert response.status_code == 200
    assert hashlib.sha256(response.content).digest() == CID.parse(cid).digest
    assert response.headers["content-type"] == "application/vnd.ipld.raw"
    assert response.headers["content-disposition"] == f'attachment; filename="{cid}.bin"'
    assert response.headers["etag"] == f'"{cid}.raw"'
    assert "immutable" in response.headers["cache-control"]
    assert "content-location" not in response.headers  # format was explicit
    for child in child_links(CID.parse(cid), response.content):  # every leaf too
        leaf = client.get(f"/ipfs/{child}", headers={"Accept": "application/vnd.ipld.raw"})
        assert leaf.status_code == 200
        assert child.matches(leaf.content)
        assert leaf.headers["content-location"] == f"/ipfs/{child}?format=raw"


def test_car_reimports_to_the_same_root_and_bytes(store: MemoryStore, client: TestClient) -> None:
    cid = store.add(PAYLOAD).cid
    response = client.get(f"/ipfs/{cid}?format=car")
    assert response.status_code == 200
    assert response.headers["content-type"] == (
        "application/vnd.ipld.car; version=1; order=dfs; dups=n"
    )
    assert response.headers["content-disposition"] == f'attachment; filename="{cid}.car"'
    assert response.headers["etag"].startswith(f'"{cid}.car.all')
    again = MemoryStore()
    assert again.import_car(io.BytesIO(response.content)) == [cid]
    assert again.cat_bytes(cid) == PAYLOAD
    _roots, blocks = read_car(io.BytesIO(response.content))
    order = [c for c, _ in blocks]
    assert order[0] == CID.parse(cid)  # depth-first: the root first
    assert len(order) == len(set(order)) == 5


def test_accept_header_selects_car_and_format_wins(store: MemoryStore, client: TestClient) -> None:
    cid = store.add(PAYLOAD).cid
    car = client.get(f"/ipfs/{cid}", headers={"Accept": "application/vnd.ipld.car"})
    assert car.headers["content-type"].startswith("application/vnd.ipld.car")
    assert car.headers["content-location"] == f"/ipfs/{cid}?format=car"
    raw = client.get(f"/ipfs/{cid}?format=raw", headers={"Accept": "application/vnd.ipld.car"})
    assert raw.headers["content-type"] == "application/vnd.ipld.raw"
    preferred = client.get(
        f"/ipfs/{cid}",
        headers={"Accept": "application/vnd.ipld.raw;q=0.5, application/vnd.ipld.car"},
    )
    assert preferred.headers["content-type"].startswith("application/vnd.ipld.car")


def test_dag_scope_block_sends_only_the_root(store: MemoryStore, client: TestClient) -> None:
    cid = store.add(PAYLOAD).cid
    response = client.get(f"/ipfs/{cid}?format=car&dag-scope=block")
    _roots, blocks = read_car(io.BytesIO(response.content))
    assert [c for c, _ in blocks] == [CID.parse(cid)]
    assert response.headers["etag"] != client.get(f"/ipfs/{cid}?format=car").headers["etag"]


def test_dups_y_repeats_a_block_linked_twice(store: MemoryStore, client: TestClient) -> None:
    cid = store.add(b"\0" * (2 * 262144)).cid  # two identical leaves: one block, linked twice
    once = list(read_car(io.BytesIO(client.get(f"/ipfs/{cid}?format=car").content))[1])
    twice = client.get(f"/ipfs/{cid}?format=car&car-dups=y")
    assert twice.headers["content-type"].endswith("dups=y")
    assert (len(once), len(list(read_car(io.BytesIO(twice.content))[1]))) == (2, 3)


def test_missing_content_is_404_and_bad_requests_are_400(client: TestClient) -> None:
    absent = str(CID.of(0x55, b"never stored"))
    for fmt in ("raw", "car"):
        assert client.get(f"/ipfs/{absent}?format={fmt}").status_code == 404
        assert client.head(f"/ipfs/{absent}?format={fmt}").status_code == 404
    assert client.get(f"/ipfs/{absent}").status_code == 400  # no format: strict trustless mode
    assert client.get(f"/ipfs/{absent}?format=json").status_code == 400
    assert client.get("/ipfs/not-a-cid?format=raw").status_code == 400
    assert client.get(f"/ipfs/{absent}?format=car&car-version=2").status_code == 406
    assert client.get(f"/ipfs/{absent}?format=car&dag-scope=most").status_code == 400
    assert client.get(f"/ipfs/{absent}/a/path?format=raw").status_code == 400


def test_head_and_etag_revalidation(store: MemoryStore, client: TestClient) -> None:
    cid = store.add(b"hello world").cid
    head = client.head(f"/ipfs/{cid}?format=raw")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == "11"
    again = client.get(f"/ipfs/{cid}?format=raw", headers={"If-None-Match": head.headers["etag"]})
    assert again.status_code == 304


def test_probe_path_answers_without_any_content(client: TestClient) -> None:
    raw = client.get("/ipfs/bafkqaaa?format=raw")
    assert (raw.status_code, raw.content) == (200, b"")
    car = client.get("/ipfs/bafkqaaa?format=car")
    assert car.status_code == 200
    assert car.content[1:].startswith(b"\xa2eroots")  # a CARv1 header, its root the probe CID
    assert bytes((0x01, 0x55, 0x00, 0x00)) in car.content
    assert client.head("/ipfs/bafkqaaa?format=raw").status_code == 200


def test_a_damaged_block_is_never_served(store: MemoryStore, client: TestClient) -> None:
    cid = CID.parse(store.add(PAYLOAD).cid)
    leaf = child_links(cid, store.blocks[cid])[-1]
    store.blocks[leaf] = b"garbage"
    with pytest.raises(Exception):  # noqa: B017 - the stream breaks off after a 200
        response = client.get(f"/ipfs/{cid}?format=car")
        MemoryStore().import_car(io.BytesIO(response.content))
    assert client.get(f"/ipfs/{leaf}?format=raw").status_code == 500
    store.blocks[cid] = b"garbage"
    assert client.get(f"/ipfs/{cid}?format=raw").status_code == 500
