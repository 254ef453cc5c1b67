"""The embedded store: round trips, ranges, pins and gc, and every way a block can go bad."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.errors import ContentNotFound, CorruptContent, StorageError
from marketplace.storage import CID, ContentStore, EmbeddedStore, MemoryStore
from marketplace.storage.importer import CHUNK_SIZE


def leaf_paths(store: EmbeddedStore, cid: str) -> list[Path]:
    """Files of the raw leaves under ``cid``, in file order."""
    from marketplace.storage.dagpb import decode_node

    root = CID.parse(cid)
    node = decode_node(store.get_block(root))
    return [store.block_path(link.cid) for link in node.links]


def test_round_trip_is_byte_exact(store: EmbeddedStore, payload: bytes) -> None:
    result = store.add(payload)

    assert store.cat_bytes(result.cid) == payload
    assert result.size == len(payload)
    assert result.sha256 == __import__("hashlib").sha256(payload).hexdigest()


def test_stream_input_gives_same_result_as_bytes(
    store: EmbeddedStore, payload: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(payload)

    with open(path, "rb") as fh:
        from_stream = store.add(fh)

    assert from_stream == store.add(payload)


def test_both_stores_satisfy_the_protocol(store: EmbeddedStore, memory: MemoryStore) -> None:
    assert isinstance(store, ContentStore)
    assert isinstance(memory, ContentStore)


def test_memory_and_embedded_give_the_same_cid(
    store: EmbeddedStore, memory: MemoryStore, payload: bytes
) -> None:
    assert store.add(payload) == memory.add(payload)


@settings(max_examples=60, deadline=None)
@given(offset=st.integers(0, 3 * CHUNK_SIZE + 2000), length=st.none() | st.integers(0, 700_000))
def test_ranges_match_slicing(offset: int, length: int | None) -> None:
    data = np.random.default_rng(1).bytes(3 * CHUNK_SIZE + 1000)
    store = MemoryStore()
    cid = store.add(data).cid

    got = store.cat_bytes(cid, offset=offset, length=length)

    end = None if length is None else offset + length
    assert got == data[offset:end]


def test_cat_streams_in_pieces(store: EmbeddedStore, payload: bytes) -> None:
    cid = store.add(payload).cid

    pieces = list(store.cat(cid))

    assert len(pieces) == 4
    assert b"".join(pieces) == payload


def test_flipped_byte_is_reported_with_cid_and_path(store: EmbeddedStore, payload: bytes) -> None:
    cid = store.add(payload).cid
    victim = leaf_paths(store, cid)[1]
    raw = bytearray(victim.read_bytes())
    raw[100] ^= 0x01
    victim.write_bytes(bytes(raw))

    with pytest.raises(CorruptContent) as excinfo:
        store.cat_bytes(cid)

    assert victim.name in str(excinfo.value)
    assert str(victim) in str(excinfo.value)


def test_corruption_never_leaks_data_before_the_bad_block(
    store: EmbeddedStore, payload: bytes
) -> None:
    """Blocks before the bad one are streamed; the bad block itself is never yielded."""
    cid = store.add(payload).cid
    victim = leaf_paths(store, cid)[1]
    victim.write_bytes(b"\x00" * len(victim.read_bytes()))
    received = []

    with pytest.raises(CorruptContent):
        for piece in store.cat(cid):
            received.append(piece)

    assert b"".join(received) == payload[:CHUNK_SIZE]


def test_truncated_block_is_corrupt(store: EmbeddedStore, payload: bytes) -> None:
    cid = store.add(payload).cid
    victim = leaf_paths(store, cid)[0]
    victim.write_bytes(victim.read_bytes()[:-1])

    with pytest.raises(CorruptContent):
        store.cat_bytes(cid)


def test_missing_block_is_content_not_found(store: EmbeddedStore, payload: bytes) -> None:
    cid = store.add(payload).cid
    leaf_paths(store, cid)[2].unlink()

    with pytest.raises(ContentNotFound):
        store.cat_bytes(cid)


def test_unknown_cid_is_content_not_found(store: EmbeddedStore) -> None:
    absent = CID.of(0x55, b"never stored")

    with pytest.raises(ContentNotFound):
        store.cat(absent)
    assert not store.has(absent)


def test_corrupt_single_block_root(store: EmbeddedStore) -> None:
    cid = store.add(b"hello world").cid
    store.block_path(CID.parse(cid)).write_bytes(b"hello wOrld")

    with pytest.raises(CorruptContent):
        store.cat(cid)


def test_verify_reports_each_problem(store: EmbeddedStore, payload: bytes) -> None:
    cid = store.add(payload).cid
    paths = leaf_paths(store, cid)
    paths[0].write_bytes(b"junk")
    paths[3].unlink()

    whole = store.verify()
    one = store.verify(cid)

    for report in (whole, one):
        kinds = sorted((p.kind, p.location) for p in report.problems)
        assert kinds == [("corrupt", str(paths[0])), ("missing", str(paths[3]))]
        assert not report.ok


def test_verify_passes_on_a_healthy_store(store: EmbeddedStore, payload: bytes) -> None:
    store.add(payload)
    store.add(b"hello world")

    report = store.verify()

    assert report.ok
    assert report.checked == 6  # 4 leaves + root + hello world


def test_re_adding_repairs_a_damaged_block(store: EmbeddedStore, payload: bytes) -> None:
    cid = store.add(payload).cid
    leaf_paths(store, cid)[1].write_bytes(b"damaged")

    store.add(payload)

    assert store.cat_bytes(cid) == payload


def test_gc_keeps_pinned_and_removes_unpinned(store: EmbeddedStore, payload: bytes) -> None:
    kept = store.add(payload).cid
    dropped = store.add(b"temporary", pin=False).cid

    report = store.gc()

    assert report.removed == 1
    assert store.cat_bytes(kept) == payload
    assert not store.has(dropped)


def test_unpin_then_gc_empties_the_store(store: EmbeddedStore, payload: bytes) -> None:
    cid = store.add(payload).cid
    store.unpin(cid)

    report = store.gc()

    assert report.kept == 0
    assert report.removed == 5
    assert not store.has(cid)


def test_shared_blocks_survive_when_one_pin_goes(store: EmbeddedStore, payload: bytes) -> None:
    whole = store.add(payload).cid
    first_chunk = store.add(payload[:CHUNK_SIZE]).cid  # the same block as the first leaf
    store.unpin(whole)

    store.gc()

    assert store.cat_bytes(first_chunk) == payload[:CHUNK_SIZE]


def test_gc_refuses_to_run_when_a_pinned_dag_is_broken(
    store: EmbeddedStore, payload: bytes
) -> None:
    cid = store.add(payload).cid
    store.add(b"unpinned", pin=False)
    root = store.block_path(CID.parse(cid))
    root.write_bytes(b"broken root")

    with pytest.raises(StorageError, match="nothing deleted"):
        store.gc()

    assert store.has(CID.of(0x55, b"unpinned"))


def test_gc_removes_leftover_temporary_files(store: EmbeddedStore) -> None:
    cid = CID.parse(store.add(b"hello world").cid)
    leftover = store.block_path(cid).parent / ".tmp-interrupted-123-abcd"
    leftover.write_bytes(b"partial")

    store.gc()

    assert not leftover.exists()
    assert store.cat_bytes(cid) == b"hello world"


def test_pin_requires_every_block(store: EmbeddedStore, payload: bytes) -> None:
    cid = store.add(payload, pin=False).cid
    leaf_paths(store, cid)[0].unlink()

    with pytest.raises(ContentNotFound):
        store.pin(cid)

    assert cid not in store.pins()


def test_unpin_of_unpinned_cid_is_not_found(store: EmbeddedStore) -> None:
    cid = store.add(b"x", pin=False).cid

    with pytest.raises(ContentNotFound):
        store.unpin(cid)


def test_store_is_shared_by_two_handles(tmp_path: Path, payload: bytes) -> None:
    writer = EmbeddedStore(tmp_path / "s")
    reader = EmbeddedStore(tmp_path / "s")

    cid = writer.add(payload).cid

    assert reader.cat_bytes(cid) == payload
    assert reader.pins() == [cid]


def test_non_durable_store_still_writes_atomically(tmp_path: Path, payload: bytes) -> None:
    store = EmbeddedStore(tmp_path / "fast", durable=False)

    cid = store.add(payload).cid

    assert store.cat_bytes(cid) == payload
    leftovers = [p for p in (tmp_path / "fast").rglob(".tmp-*")]
    assert leftovers == []


def test_progress_reports_bytes_consumed(memory: MemoryStore, payload: bytes) -> None:
    seen: list[int] = []

    memory.add(payload, progress=seen.append)

    assert seen == sorted(seen)
    assert seen[-1] == len(payload)


def test_unwritable_directory_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")

    with pytest.raises(StorageError):
        EmbeddedStore(blocker / "ipfs")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_store_reports_write_failure(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path / "ro")
    (tmp_path / "ro" / "blocks").chmod(0o500)
    try:
        with pytest.raises(StorageError):
            store.add(b"hello world")
    finally:
        (tmp_path / "ro" / "blocks").chmod(0o700)


def test_long_stream_round_trips_past_the_write_queue_limit(tmp_path: Path) -> None:
    data = np.random.default_rng(9).bytes(90 * CHUNK_SIZE + 3)  # more leaves than in flight
    store = EmbeddedStore(tmp_path / "s", durable=False)
    path = tmp_path / "big.bin"
    path.write_bytes(data)

    with open(path, "rb") as fh:
        result = store.add(fh)

    assert result == MemoryStore().add(data)
    assert store.cat_bytes(result.cid) == data


def test_failing_source_leaves_no_pin_and_a_healthy_store(store: EmbeddedStore) -> None:
    class Broken(io.RawIOBase):
        """Two chunks of data, then a read error (a network stream dropping)."""

        def __init__(self) -> None:
            self.reads = 0

        def readable(self) -> bool:
            return True

        def readinto(self, b: bytearray) -> int:  # type: ignore[override]
            self.reads += 1
            if self.reads > 2:
                raise OSError("connection reset")
            b[:] = b"\x07" * len(b)
            return len(b)

    with pytest.raises(OSError, match="connection reset"):
        store.add(Broken())

    assert store.pins() == []
    assert store.verify().ok


def test_text_must_be_encoded_first(memory: MemoryStore) -> None:
    with pytest.raises(TypeError, match="encode"):
        memory.add("a JSON document")  # type: ignore[arg-type]
