"""Storage errors that only this package raises (the shared tree lives in marketplace.errors)."""

from __future__ import annotations

from marketplace.errors import StorageError


class InvalidCid(StorageError, ValueError):
    """A string or byte sequence is not a CID this store understands (CIDv1, sha2-256)."""


class InvalidCar(StorageError, ValueError):
    """A file is not a well-formed CARv1 archive."""


class UnsupportedContent(StorageError, ValueError):
    """A DAG node is valid IPFS data but not a UnixFS file (a directory, a symlink, ...)."""
