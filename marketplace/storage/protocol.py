"""The one small interface every content store implements, and what ``add`` returns."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

from marketplace.storage.multiformats import CID

Source = bytes | bytearray | memoryview | BinaryIO | io.RawIOBase | io.BufferedIOBase
"""What ``add`` accepts: bytes, or a binary stream read to its end."""
Progress = Callable[[int], None]
"""Called with the number of input bytes consumed so far."""

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class AddResult:
    """Where content went: its CID (base32 text), its size in bytes and its hex sha256.

    The sha256 is of the file bytes themselves (what fedmarket commits on-chain next to the
    CID), not of any block.
    """

    cid: str
    size: int
    sha256: str

    def __post_init__(self) -> None:
        CID.parse(self.cid)
        if self.size < 0:
            raise ValueError("size must be non-negative")
        if not _HEX64.fullmatch(self.sha256):
            raise ValueError("sha256 must be 64 lower-case hex digits")


@runtime_checkable
class ContentStore(Protocol):
    """Content-addressed storage of files; the rest of fedmarket sees only this."""

    def add(self, data: Source, *, pin: bool = True, progress: Progress | None = None) -> AddResult:
        """Store ``data`` (bytes or a binary stream) and return its CID, size and sha256."""
        ...

    def cat(self, cid: CID | str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream verified file bytes from ``offset`` (``length`` bytes, or to the end)."""
        ...

    def cat_bytes(self, cid: CID | str, *, offset: int = 0, length: int | None = None) -> bytes:
        """The same bytes as :meth:`cat`, joined."""
        ...

    def get(self, cid: CID | str) -> bytes:
        """The whole file (alias of :meth:`cat_bytes` with no range)."""
        ...

    def has(self, cid: CID | str) -> bool:
        """Whether the root block of ``cid`` is available without fetching."""
        ...

    def pin(self, cid: CID | str) -> None:
        """Keep ``cid`` and every block under it through garbage collection."""
        ...

    def unpin(self, cid: CID | str) -> None:
        """Drop the pin on ``cid`` (its blocks go at the next gc unless pinned elsewhere)."""
        ...
