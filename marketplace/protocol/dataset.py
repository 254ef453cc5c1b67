"""The dataset format of the protocol: the in-memory record, user files and the canonical bytes.

A task commits to its validation set by the sha256 of the canonical encoding
(:func:`dataset_to_bytes`): the requester publishes those exact bytes, and
:func:`dataset_sha256` is their sha256, so "the file on IPFS hashes to the committed digest" and
"the dataset I loaded hashes to the committed digest" are the same check. Participants read
their own data from ``.npz`` (arrays ``X``, ``y``) or ``.csv`` (a ``label`` column) with
:func:`load_npz` / :func:`load_csv`. Layout of the canonical encoding, version 1::

    b"FMDS1\\n"
    canonical JSON header (sorted keys, no spaces), UTF-8:
        {"num_classes":C,"x_dtype":"<f4","x_shape":[N,...],"y_dtype":"<i8","y_shape":[N]}
    b"\\n"
    X as little-endian float32, C order        (4 * prod(x_shape) bytes)
    y as little-endian int64                   (8 * N bytes)
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marketplace.errors import ConfigError

DATASET_MAGIC = b"FMDS1\n"
"""First bytes of the canonical dataset encoding (format name and version)."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Features ``X`` (float32, ``(N, d)`` or ``(N, *shape)``) and labels ``y`` (int64, ``(N,)``).

    Arrays are copied to their canonical dtypes and made read-only, so a dataset can be shared
    between partitions and behaviours without one of them mutating another's view.
    """

    X: np.ndarray
    y: np.ndarray
    num_classes: int

    def __post_init__(self) -> None:
        X = np.array(self.X, dtype=np.float32, order="C", copy=True)
        y_raw = np.asarray(self.y)
        if y_raw.ndim != 1:
            raise ValueError(f"labels must be one-dimensional, got shape {y_raw.shape}")
        whole = y_raw.size == 0 or np.issubdtype(y_raw.dtype, np.integer)
        if not whole and not (np.all(np.isfinite(y_raw)) and np.all(np.mod(y_raw, 1) == 0)):
            raise ValueError("labels must be integers")
        y = np.array(y_raw, dtype=np.int64, copy=True)
        if X.ndim < 2:
            raise ValueError(f"features must have shape (N, ...), got {X.shape}")
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"{X.shape[0]} feature rows but {y.shape[0]} labels")
        num_classes = int(self.num_classes)
        if num_classes < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}")
        if y.size and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"labels must lie in [0, {num_classes}), got [{y.min()}, {y.max()}]")
        X.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "num_classes", num_classes)

    def __len__(self) -> int:
        return int(self.y.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        """Shape of one sample."""
        return tuple(int(s) for s in self.X.shape[1:])

    def subset(self, indices: np.ndarray | Sequence[int]) -> Dataset:
        """The samples at ``indices`` (in that order), same ``num_classes``."""
        idx = np.asarray(indices, dtype=np.int64)
        return Dataset(self.X[idx], self.y[idx], self.num_classes)

    def with_labels(self, y: np.ndarray) -> Dataset:
        """Same features, other labels (used by label-noise behaviours)."""
        return Dataset(self.X, y, self.num_classes)

    def class_counts(self) -> np.ndarray:
        """Number of samples of each class, length ``num_classes``."""
        return np.bincount(self.y, minlength=self.num_classes)


# ---------------------------------------------------------------------------------------------
# User files


def _checked_user_arrays(
    X: np.ndarray, y: np.ndarray, num_classes: int | None, source: str
) -> Dataset:
    """Validate arrays read from a user's file and wrap them, raising ConfigError on any problem."""
    if X.dtype == object or not (
        np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.bool_)
    ):
        raise ConfigError(f"{source}: features are not numeric (dtype {X.dtype})")
    if y.dtype == object or not np.issubdtype(y.dtype, np.number):
        raise ConfigError(f"{source}: labels are not numeric (dtype {y.dtype})")
    if X.ndim < 2:
        raise ConfigError(f"{source}: features must have shape (N, ...), got {X.shape}")
    if X.shape[0] == 0 or X.size == 0:
        raise ConfigError(f"{source}: no samples (features shape {X.shape})")
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ConfigError(f"{source}: labels shape {y.shape} does not match {X.shape[0]} samples")
    if not np.all(np.isfinite(X)):
        raise ConfigError(f"{source}: features contain NaN or Inf")
    if not np.all(np.isfinite(y)) or not np.all(np.mod(y, 1) == 0):
        raise ConfigError(f"{source}: labels must be whole numbers")
    labels = y.astype(np.int64)
    if labels.min() < 0:
        raise ConfigError(f"{source}: labels must be non-negative class indices")
    classes = int(num_classes) if num_classes is not None else max(2, int(labels.max()) + 1)
    if labels.max() >= classes:
        raise ConfigError(f"{source}: label {labels.max()} is out of range for {classes} classes")
    return Dataset(X.astype(np.float32), labels, classes)


def load_npz(path: str | Path, num_classes: int | None = None) -> Dataset:
    """A dataset from an ``.npz`` with arrays ``X`` and ``y`` (and optionally ``num_classes``).

    ``num_classes`` (argument, else the file's, else ``max(y) + 1``) matters when a shard does not
    contain every class. Bad files raise :class:`ConfigError` naming the problem.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"dataset file not found: {p}")
    try:
        with np.load(p, allow_pickle=False) as npz:
            keys = set(npz.files)
            missing = {"X", "y"} - keys
            if missing:
                raise ConfigError(
                    f"{p}: missing array(s) {sorted(missing)}; found {sorted(keys)}",
                    hint="save features as X and integer labels as y",
                )
            X = np.asarray(npz["X"])
            y = np.asarray(npz["y"])
            stored = int(npz["num_classes"]) if "num_classes" in keys else None
    except ConfigError:
        raise
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{p}: not a readable .npz file ({exc})") from exc
    return _checked_user_arrays(X, y, num_classes if num_classes is not None else stored, str(p))


def load_csv(
    path: str | Path, label_column: str = "label", num_classes: int | None = None
) -> Dataset:
    """A dataset from a CSV with a header row; ``label_column`` is the label, every other column
    a numeric feature. Bad files raise :class:`ConfigError` naming the row and column."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"dataset file not found: {p}")
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header:
            raise ConfigError(f"{p}: empty file (expected a header row)")
        header = [h.strip() for h in header]
        if label_column not in header:
            raise ConfigError(
                f"{p}: no column {label_column!r}; columns are {header}",
                hint="pass the name of the label column",
            )
        label_at = header.index(label_column)
        feature_cols = [i for i in range(len(header)) if i != label_at]
        if not feature_cols:
            raise ConfigError(f"{p}: no feature columns besides {label_column!r}")
        rows_x: list[list[float]] = []
        rows_y: list[float] = []
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise ConfigError(f"{p}:{line_no}: {len(row)} fields, header has {len(header)}")
            try:
                values = [float(cell) for cell in row]
            except ValueError as exc:
                raise ConfigError(f"{p}:{line_no}: non-numeric value ({exc})") from exc
            rows_x.append([values[i] for i in feature_cols])
            rows_y.append(values[label_at])
    if not rows_x:
        raise ConfigError(f"{p}: header but no data rows")
    return _checked_user_arrays(
        np.asarray(rows_x, dtype=np.float64),
        np.asarray(rows_y, dtype=np.float64),
        num_classes,
        str(p),
    )


def save_npz(ds: Dataset, path: str | Path) -> Path:
    """Write ``ds`` as ``.npz`` (``X``, ``y``, ``num_classes``); :func:`load_npz` reads it back."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("wb") as fh:
        np.savez(fh, X=ds.X, y=ds.y, num_classes=np.int64(ds.num_classes))
    return p


# ---------------------------------------------------------------------------------------------
# Canonical encoding and digest


def _header(ds: Dataset) -> bytes:
    header = {
        "num_classes": ds.num_classes,
        "x_dtype": "<f4",
        "x_shape": list(ds.X.shape),
        "y_dtype": "<i8",
        "y_shape": list(ds.y.shape),
    }
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode()


def dataset_to_bytes(ds: Dataset) -> bytes:
    """The canonical encoding of ``ds`` (see the module docstring); publish these exact bytes."""
    x_bytes = np.ascontiguousarray(ds.X, dtype="<f4").tobytes(order="C")
    y_bytes = np.ascontiguousarray(ds.y, dtype="<i8").tobytes(order="C")
    return DATASET_MAGIC + _header(ds) + b"\n" + x_bytes + y_bytes


def dataset_from_bytes(data: bytes) -> Dataset:
    """Inverse of :func:`dataset_to_bytes`; raises ConfigError on anything malformed."""
    if not data.startswith(DATASET_MAGIC):
        raise ConfigError("not a fedmarket dataset encoding (bad magic)")
    end = data.find(b"\n", len(DATASET_MAGIC))
    if end < 0:
        raise ConfigError("dataset encoding has no header terminator")
    try:
        header = json.loads(data[len(DATASET_MAGIC) : end])
        x_shape = tuple(int(s) for s in header["x_shape"])
        y_shape = tuple(int(s) for s in header["y_shape"])
        num_classes = int(header["num_classes"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"dataset encoding has a bad header ({exc})") from exc
    if header.get("x_dtype") != "<f4" or header.get("y_dtype") != "<i8":
        raise ConfigError("dataset encoding uses unsupported dtypes")
    body = memoryview(data)[end + 1 :]
    x_len = 4 * math.prod(x_shape)
    y_len = 8 * math.prod(y_shape)
    if len(body) != x_len + y_len:
        raise ConfigError(f"dataset encoding body is {len(body)} bytes, expected {x_len + y_len}")
    X = np.frombuffer(body[:x_len], dtype="<f4").reshape(x_shape)
    y = np.frombuffer(body[x_len:], dtype="<i8").reshape(y_shape)
    try:
        ds = Dataset(X, y, num_classes)
    except ValueError as exc:
        raise ConfigError(f"dataset encoding is inconsistent ({exc})") from exc
    if dataset_to_bytes(ds) != bytes(data):
        raise ConfigError("dataset encoding is not canonical")
    return ds


def dataset_sha256(ds: Dataset) -> str:
    """Hex sha256 of :func:`dataset_to_bytes` — the digest a task commits its validation set by."""
    return hashlib.sha256(dataset_to_bytes(ds)).hexdigest()
