"""Data for experiments: built-in data sets, splits, partitions and label noise.

Everything here is plain numpy (no chain, no IPFS). Every random choice uses
``numpy.random.Generator(PCG64(seed))``, so the same seed always gives the same split,
partition or label noise, on any machine. The dataset record itself, user files and the
canonical encoding a task commits to live in :mod:`marketplace.protocol.dataset`.
"""

from __future__ import annotations

import math

import numpy as np

from marketplace.protocol.dataset import Dataset


def rng_for(seed: int) -> np.random.Generator:
    """The one kind of random generator used by every seeded function of the participant."""
    return np.random.Generator(np.random.PCG64(seed))


# ---------------------------------------------------------------------------------------------
# Built-in data


def load_digits(flat: bool = True) -> Dataset:
    """scikit-learn's bundled 8x8 digits (1,797 samples, 10 classes), pixels scaled to [0, 1].

    ``flat=True`` gives ``(N, 64)`` for logreg/MLP; ``flat=False`` gives ``(N, 1, 8, 8)`` for the
    CNN. The data ships inside scikit-learn, so nothing is downloaded.
    """
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    X = np.asarray(bunch.data, dtype=np.float32) / np.float32(16.0)
    if not flat:
        X = X.reshape(-1, 1, 8, 8)
    return Dataset(X, np.asarray(bunch.target, dtype=np.int64), 10)


def make_synthetic(n_samples: int, n_features: int, n_classes: int, seed: int) -> Dataset:
    """A seeded, learnable classification problem (sklearn ``make_classification``), standardised.

    Half the features (at least enough for ``n_classes``) are informative, the rest noise.
    """
    from sklearn.datasets import make_classification

    if n_samples < n_classes:
        raise ValueError(f"need at least one sample per class ({n_classes}), got {n_samples}")
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    needed = max(2, math.ceil(math.log2(n_classes)))
    if n_features < needed:
        raise ValueError(f"{n_classes} classes need at least {needed} features, got {n_features}")
    n_informative = max(needed, n_features // 2)
    X, y = make_classification(
        n_samples=n_samples,
        n_features=n_features,
        n_informative=n_informative,
        n_redundant=0,
        n_classes=n_classes,
        n_clusters_per_class=1,
        class_sep=1.5,
        random_state=seed,
    )
    X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-8)
    return Dataset(X.astype(np.float32), y.astype(np.int64), n_classes)


# ---------------------------------------------------------------------------------------------
# Splits and partitions


def train_validation_split(ds: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Stratified split: about ``fraction`` of every class goes to the validation set.

    Each class with at least two samples keeps at least one on each side. Indices stay in their
    original order within each side, so the result depends only on ``ds``, ``fraction``, ``seed``.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"validation fraction must lie in (0, 1), got {fraction}")
    rng = rng_for(seed)
    val_mask = np.zeros(len(ds), dtype=bool)
    for c in range(ds.num_classes):
        members = np.flatnonzero(ds.y == c)
        if members.size == 0:
            continue
        k = round(fraction * members.size)
        if members.size >= 2:
            k = min(max(k, 1), members.size - 1)
        chosen = rng.permutation(members)[:k]
        val_mask[chosen] = True
    return ds.subset(np.flatnonzero(~val_mask)), ds.subset(np.flatnonzero(val_mask))


def iid_partition(n_items: int, n_parts: int, seed: int) -> list[np.ndarray]:
    """Shuffle ``0..n_items-1`` and cut it into ``n_parts`` near-equal parts (sorted indices)."""
    if n_parts < 1:
        raise ValueError(f"n_parts must be at least 1, got {n_parts}")
    if n_items < n_parts:
        raise ValueError(f"cannot split {n_items} items into {n_parts} non-empty parts")
    order = rng_for(seed).permutation(n_items)
    return [np.sort(part).astype(np.int64) for part in np.array_split(order, n_parts)]


def dirichlet_partition(
    labels: np.ndarray,
    n_parts: int,
    alpha: float,
    seed: int,
    min_size: int = 10,
    max_attempts: int = 100,
    balance: bool = False,
) -> list[np.ndarray]:
    """Non-IID partition: each class is spread over parts by proportions drawn from Dir(alpha).

    Small ``alpha`` (0.1) gives parts dominated by one or two classes; large ``alpha`` (100) is
    close to IID; part sizes vary too, as data owners' do. With ``balance`` a part that already
    holds its fair share (``N / n_parts``) takes no more (the NIID-Bench convention, which keeps
    sizes close; classes are then dealt in a random order so no class is systematically the one
    squeezed into the remaining parts). Draws are repeated until every part has ``min_size``
    samples (at most ``max_attempts`` times, then ValueError). Returns sorted index arrays, one
    per part.
    """
    y = np.asarray(labels, dtype=np.int64)
    n = int(y.shape[0])
    if n_parts < 1:
        raise ValueError(f"n_parts must be at least 1, got {n_parts}")
    if alpha <= 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    if min_size < 0:
        raise ValueError(f"min_size must be non-negative, got {min_size}")
    if n < n_parts * min_size:
        raise ValueError(
            f"{n} samples cannot give {n_parts} parts of at least {min_size}; lower min_size"
        )
    rng = rng_for(seed)
    classes = np.unique(y)
    fair_share = n / n_parts if balance else math.inf
    for _ in range(max_attempts):
        parts: list[list[int]] = [[] for _ in range(n_parts)]
        for c in rng.permutation(classes):
            members = rng.permutation(np.flatnonzero(y == c))
            proportions = rng.dirichlet(np.full(n_parts, alpha))
            sizes = np.array([len(p) for p in parts])
            proportions = np.where(sizes < fair_share, proportions, 0.0)
            total = proportions.sum()
            proportions = np.full(n_parts, 1.0 / n_parts) if total <= 0 else proportions / total
            cuts = (np.cumsum(proportions) * members.size).astype(np.int64)[:-1]
            for part, chunk in zip(parts, np.split(members, cuts), strict=True):
                part.extend(int(i) for i in chunk)
        if min(len(p) for p in parts) >= min_size:
            return [np.sort(np.asarray(p, dtype=np.int64)) for p in parts]
    raise ValueError(
        f"no Dirichlet(alpha={alpha}) partition into {n_parts} parts reached min_size={min_size} "
        f"in {max_attempts} attempts; raise alpha or lower min_size"
    )


def flip_labels(y: np.ndarray, fraction: float, num_classes: int, seed: int) -> np.ndarray:
    """A copy of ``y`` where ``round(fraction * N)`` labels, chosen at random, become another class.

    Each flipped label moves to a class drawn uniformly from the ``num_classes - 1`` others, so
    exactly that many labels end up wrong.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    if num_classes < 2:
        raise ValueError(f"num_classes must be at least 2, got {num_classes}")
    labels = np.array(y, dtype=np.int64, copy=True)
    rng = rng_for(seed)
    k = round(fraction * labels.size)
    chosen = rng.choice(labels.size, size=k, replace=False)
    shift = rng.integers(1, num_classes, size=k)
    labels[chosen] = (labels[chosen] + shift) % num_classes
    return labels
