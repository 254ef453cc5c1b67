"""Tests for participant.data: loading, validation, splits, partitions, label flips, digests."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.errors import ConfigError
from marketplace.protocol.dataset import (
    Dataset,
    dataset_from_bytes,
    dataset_sha256,
    dataset_to_bytes,
    load_csv,
    load_npz,
    save_npz,
)
from participant.data import (
    dirichlet_partition,
    flip_labels,
    iid_partition,
    load_digits,
    make_synthetic,
    train_validation_split,
)


def tiny() -> Dataset:
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    return Dataset(X, np.array([0, 1, 2, 0, 1, 2]), 3)


# --- Dataset and built-in data -----------------------------------------------------------------


def test_digits_is_scaled_and_typed() -> None:
    ds = load_digits()

    assert ds.X.shape == (1797, 64)
    assert ds.X.dtype == np.float32 and ds.y.dtype == np.int64
    assert ds.X.min() == 0.0 and ds.X.max() == 1.0
    assert ds.num_classes == 10
    assert set(np.unique(ds.y)) == set(range(10))


def test_digits_image_layout_holds_the_same_pixels() -> None:
    flat, images = load_digits(flat=True), load_digits(flat=False)

    assert images.X.shape == (1797, 1, 8, 8)
    assert images.input_shape == (1, 8, 8)
    np.testing.assert_array_equal(images.X.reshape(1797, 64), flat.X)


def test_dataset_rejects_inconsistent_arrays() -> None:
    with pytest.raises(ValueError, match="labels"):
        Dataset(np.zeros((3, 2)), np.zeros(2, dtype=np.int64), 2)
    with pytest.raises(ValueError, match="lie in"):
        Dataset(np.zeros((2, 2)), np.array([0, 5]), 3)
    with pytest.raises(ValueError, match="integers"):
        Dataset(np.zeros((2, 2)), np.array([0.5, 1.0]), 3)


def test_dataset_arrays_are_read_only_copies() -> None:
    X = np.zeros((2, 2), dtype=np.float32)
    ds = Dataset(X, np.array([0, 1]), 2)

    X[0, 0] = 7.0

    assert ds.X[0, 0] == 0.0
    with pytest.raises(ValueError):
        ds.X[0, 0] = 1.0


def test_synthetic_is_seeded() -> None:
    a = make_synthetic(120, 10, 3, seed=4)
    b = make_synthetic(120, 10, 3, seed=4)
    c = make_synthetic(120, 10, 3, seed=5)

    assert dataset_sha256(a) == dataset_sha256(b)
    assert dataset_sha256(a) != dataset_sha256(c)
    assert a.X.shape == (120, 10) and set(np.unique(a.y)) == {0, 1, 2}


def test_synthetic_rejects_too_few_features() -> None:
    with pytest.raises(ValueError, match="features"):
        make_synthetic(100, 1, 8, seed=0)


# --- user files ---------------------------------------------------------------------------------


def test_npz_round_trip_keeps_num_classes(tmp_path: Path) -> None:
    ds = Dataset(np.ones((3, 4)), np.array([0, 1, 1]), 10)

    loaded = load_npz(save_npz(ds, tmp_path / "sub" / "shard.npz"))

    assert dataset_sha256(loaded) == dataset_sha256(ds)
    assert loaded.num_classes == 10


def test_npz_without_num_classes_infers_it(tmp_path: Path) -> None:
    path = tmp_path / "d.npz"
    np.savez(path, X=np.ones((3, 2)), y=np.array([0, 4, 1]))

    assert load_npz(path).num_classes == 5
    assert load_npz(path, num_classes=7).num_classes == 7


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        ({"X": np.ones((2, 2))}, "missing"),
        ({"X": np.array([["a", "b"], ["c", "d"]]), "y": np.array([0, 1])}, "numeric"),
        ({"X": np.zeros((0, 2)), "y": np.zeros(0, dtype=np.int64)}, "no samples"),
        ({"X": np.ones(3), "y": np.array([0, 1, 1])}, "shape"),
        ({"X": np.array([[1.0, np.nan], [0.0, 0.0]]), "y": np.array([0, 1])}, "NaN"),
        ({"X": np.ones((2, 2)), "y": np.array([0.5, 1.0])}, "whole"),
        ({"X": np.ones((2, 2)), "y": np.array([0, -1])}, "non-negative"),
        ({"X": np.ones((3, 2)), "y": np.array([0, 1])}, "does not match"),
    ],
)
def test_bad_npz_files_raise_config_error(
    tmp_path: Path, arrays: dict[str, np.ndarray], message: str
) -> None:
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)

    with pytest.raises(ConfigError, match=message):
        load_npz(path)


def test_unreadable_or_missing_npz_raise_config_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"not a zip file")

    with pytest.raises(ConfigError, match="not a readable"):
        load_npz(garbage)
    with pytest.raises(ConfigError, match="not found"):
        load_npz(tmp_path / "absent.npz")


def test_csv_reads_features_and_label_column(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,label,b\n1.5,2,3\n0,0,-1\n\n")

    ds = load_csv(path)

    np.testing.assert_array_equal(ds.X, np.array([[1.5, 3.0], [0.0, -1.0]], dtype=np.float32))
    np.testing.assert_array_equal(ds.y, [2, 0])
    assert ds.num_classes == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("a,b\n1,2\n", "no column 'label'"),
        ("a,label\nx,1\n", "non-numeric"),
        ("a,label\n", "no data rows"),
        ("a,label\nnan,1\n", "NaN"),
        ("a,label\n1,2,3\n", "fields"),
        ("label\n1\n", "no feature columns"),
    ],
)
def test_bad_csv_files_raise_config_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)

    with pytest.raises(ConfigError, match=message):
        load_csv(path)


def test_csv_error_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("a,label\nx,1\n")

    with pytest.raises(ValueError):
        load_csv(path)


# --- splits and partitions ----------------------------------------------------------------------


def test_validation_split_is_stratified_disjoint_and_complete() -> None:
    ds = load_digits()

    train, val = train_validation_split(ds, 0.2, seed=1)

    assert len(train) + len(val) == len(ds)
    expected = 0.2 * ds.class_counts()
    assert np.all(np.abs(val.class_counts() - expected) <= 1)
    rows = {r.tobytes() for r in np.concatenate([train.X, val.X])}
    assert len(rows) == len({r.tobytes() for r in ds.X})


def test_validation_split_depends_only_on_the_seed() -> None:
    ds = load_digits()

    a = train_validation_split(ds, 0.25, seed=3)[1]
    b = train_validation_split(ds, 0.25, seed=3)[1]
    c = train_validation_split(ds, 0.25, seed=4)[1]

    assert dataset_sha256(a) == dataset_sha256(b)
    assert dataset_sha256(a) != dataset_sha256(c)


def test_validation_split_keeps_one_of_each_class_on_both_sides() -> None:
    ds = Dataset(np.zeros((4, 1)), np.array([0, 0, 1, 1]), 2)

    train, val = train_validation_split(ds, 0.01, seed=0)

    assert list(train.class_counts()) == [1, 1]
    assert list(val.class_counts()) == [1, 1]


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1])
def test_validation_split_rejects_bad_fraction(fraction: float) -> None:
    with pytest.raises(ValueError):
        train_validation_split(tiny(), fraction, seed=0)


@settings(max_examples=50, deadline=None)
@given(n_items=st.integers(1, 300), n_parts=st.integers(1, 20), seed=st.integers(0, 2**32))
def test_iid_partition_covers_every_item_once_in_balanced_parts(
    n_items: int, n_parts: int, seed: int
) -> None:
    if n_items < n_parts:
        with pytest.raises(ValueError):
            iid_partition(n_items, n_parts, seed)
        return

    parts = iid_partition(n_items, n_parts, seed)

    assert len(parts) == n_parts
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(n_items))
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1


def test_iid_partition_is_seeded() -> None:
    a = iid_partition(100, 4, seed=9)
    b = iid_partition(100, 4, seed=9)
    c = iid_partition(100, 4, seed=10)

    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def _mean_top_class_share(labels: np.ndarray, parts: list[np.ndarray]) -> float:
    shares = [np.bincount(labels[p]).max() / len(p) for p in parts]
    return float(np.mean(shares))


def test_dirichlet_partition_covers_every_item_and_respects_min_size() -> None:
    labels = load_digits().y

    parts = dirichlet_partition(labels, 10, alpha=0.5, seed=2, min_size=20)

    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(labels.size))
    assert min(len(p) for p in parts) >= 20


def test_dirichlet_small_alpha_is_more_skewed_than_large_alpha() -> None:
    labels = load_digits().y

    skewed = dirichlet_partition(labels, 10, alpha=0.1, seed=0, min_size=5)
    near_iid = dirichlet_partition(labels, 10, alpha=100.0, seed=0, min_size=5)

    assert _mean_top_class_share(labels, skewed) > 0.4
    assert _mean_top_class_share(labels, near_iid) < 0.2


def test_balanced_dirichlet_partition_caps_part_sizes() -> None:
    labels = load_digits().y
    largest_class = int(np.bincount(labels).max())

    parts = dirichlet_partition(labels, 10, alpha=0.3, seed=4, min_size=5, balance=True)

    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(labels.size))
    assert max(len(p) for p in parts) < labels.size / 10 + largest_class


def test_dirichlet_partition_is_seeded() -> None:
    labels = load_digits().y

    a = dirichlet_partition(labels, 5, alpha=0.5, seed=1)
    b = dirichlet_partition(labels, 5, alpha=0.5, seed=1)

    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_dirichlet_partition_rejects_impossible_requests() -> None:
    labels = np.array([0, 1] * 10)

    with pytest.raises(ValueError, match="min_size"):
        dirichlet_partition(labels, 5, alpha=0.5, seed=0, min_size=5)
    with pytest.raises(ValueError, match="alpha"):
        dirichlet_partition(labels, 2, alpha=0.0, seed=0, min_size=1)


@settings(max_examples=50, deadline=None)
@given(
    n=st.integers(0, 200),
    fraction=st.floats(0.0, 1.0),
    num_classes=st.integers(2, 12),
    seed=st.integers(0, 2**32),
)
def test_flip_labels_changes_exactly_the_requested_number(
    n: int, fraction: float, num_classes: int, seed: int
) -> None:
    y = np.random.default_rng(seed).integers(0, num_classes, size=n)

    flipped = flip_labels(y, fraction, num_classes, seed)

    assert int((flipped != y).sum()) == round(fraction * n)
    assert flipped.min(initial=0) >= 0 and flipped.max(initial=0) < num_classes


def test_flip_labels_does_not_modify_its_input_and_is_seeded() -> None:
    y = np.arange(50) % 5
    before = y.copy()

    a = flip_labels(y, 0.4, 5, seed=1)
    b = flip_labels(y, 0.4, 5, seed=1)

    np.testing.assert_array_equal(y, before)
    np.testing.assert_array_equal(a, b)


# --- canonical encoding and digest --------------------------------------------------------------


def test_encoding_follows_the_documented_layout() -> None:
    ds = Dataset(np.array([[1.5], [-2.0]]), np.array([1, 0]), 2)
    header = b'{"num_classes":2,"x_dtype":"<f4","x_shape":[2,1],"y_dtype":"<i8","y_shape":[2]}'
    expected = (
        b"FMDS1\n" + header + b"\n" + struct.pack("<2f", 1.5, -2.0) + struct.pack("<2q", 1, 0)
    )

    encoded = dataset_to_bytes(ds)

    assert encoded == expected
    assert dataset_sha256(ds) == hashlib.sha256(expected).hexdigest()


def test_digest_changes_with_any_label_pixel_or_class_count() -> None:
    ds = tiny()
    y = ds.y.copy()
    y[0] = 1
    X = ds.X.copy()
    X[5, 1] += np.float32(1e-3)

    digests = {
        dataset_sha256(ds),
        dataset_sha256(ds.with_labels(y)),
        dataset_sha256(Dataset(X, ds.y, 3)),
        dataset_sha256(Dataset(ds.X, ds.y, 4)),
        dataset_sha256(Dataset(ds.X.reshape(6, 1, 2), ds.y, 3)),
    }

    assert len(digests) == 5


def test_encoding_round_trips_and_rejects_tampering() -> None:
    ds = load_digits(flat=False).subset(np.arange(10))
    data = dataset_to_bytes(ds)

    back = dataset_from_bytes(data)

    np.testing.assert_array_equal(back.X, ds.X)
    np.testing.assert_array_equal(back.y, ds.y)
    for bad in (data[:-1], b"XXXXX\n" + data[6:], data[:6] + b"{}\n"):
        with pytest.raises(ConfigError):
            dataset_from_bytes(bad)
