"""A content store backed by a Kubo daemon, spoken to over its RPC API with httpx.

Every call is a POST (Kubo refuses GET on ``/api/v0``). ``add`` always sends the parameters
the embedded store reproduces (``cid-version=1``, ``raw-leaves=true``,
``chunker=size-262144``), computes the CID locally while uploading, and raises
:class:`~marketplace.errors.CidMismatch` if the daemon answers anything else. ``cat`` streams
the daemon's bytes through the same importer and releases them only once they re-derive the
requested CID (range reads fetch and verify single blocks instead), so a lying or broken
daemon yields :class:`~marketplace.errors.CorruptContent`, never wrong bytes. Timeouts and connection failures are retried a bounded number of times,
then reported as :class:`~marketplace.errors.BackendUnavailable`.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Iterator
from typing import IO, Any

import httpx

from marketplace.errors import (
    BackendUnavailable,
    CidMismatch,
    ContentNotFound,
    CorruptContent,
    StorageError,
)
from marketplace.storage import dag
from marketplace.storage.importer import CHUNK_SIZE, DagBuilder, chunks_of
from marketplace.storage.multiformats import CID, as_cid
from marketplace.storage.protocol import AddResult, Progress, Source

ADD_PARAMS = {
    "cid-version": "1",
    "raw-leaves": "true",
    "chunker": f"size-{CHUNK_SIZE}",
    "hash": "sha2-256",
    "progress": "false",
}
_SPOOL_IN_MEMORY = 32 * 2**20
_RETRY_STATUS = {502, 503, 504}


class KuboStore:
    """:class:`~marketplace.storage.protocol.ContentStore` over a Kubo RPC API URL.

    ``transport`` replaces the network (tests); ``timeout`` bounds each HTTP operation;
    ``retries`` extra attempts follow a timeout, refused connection or 502/503/504.
    """

    def __init__(
        self,
        api_url: str,
        *,
        timeout: float = 60.0,
        retries: int = 2,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        base = api_url.rstrip("/")
        if not base.endswith("/api/v0"):
            base += "/api/v0"
        self.api_url = base
        self.retries = retries
        self.backoff = backoff
        self._client = httpx.Client(
            base_url=base,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"KuboStore({self.api_url!r})"

    def close(self) -> None:
        self._client.close()

    # ---- HTTP plumbing -----------------------------------------------------------------
    @contextlib.contextmanager
    def _post(
        self, path: str, params: dict[str, str], *, body: IO[bytes] | None = None
    ) -> Iterator[httpx.Response]:
        """POST with bounded retries before any response byte is consumed; yield the response."""
        last: Exception | str = "no attempt made"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            files = None
            if body is not None:
                body.seek(0)
                files = {"file": ("data", body, "application/octet-stream")}
            request = self._client.build_request("POST", path, params=params, files=files)
            try:
                response = self._client.send(request, stream=True)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                last = exc
                continue
            if response.status_code in _RETRY_STATUS:
                last = f"HTTP {response.status_code}"
                response.close()
                continue
            try:
                if response.status_code != 200:
                    response.read()
                    raise _error_for(path, params, response)
                yield response
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise BackendUnavailable(
                    f"Kubo at {self.api_url} failed during {path}: {exc}"
                ) from exc
            finally:
                response.close()
            return
        raise BackendUnavailable(
            f"Kubo at {self.api_url} did not answer {path} after {self.retries + 1} attempts"
            f" ({last})",
            hint="is the daemon running, and is FEDMARKET_IPFS its RPC address (port 5001)?",
        )

    def _json(self, path: str, params: dict[str, str], body: IO[bytes] | None = None) -> Any:
        """The reply's JSON objects (Kubo streams one per line)."""
        with self._post(path, params, body=body) as response:
            text = response.read().decode("utf-8", "replace")
        try:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise StorageError(f"Kubo {path} answered non-JSON: {text[:200]!r}") from exc

    # ---- ContentStore ------------------------------------------------------------------
    def version(self) -> str:
        """The daemon's version string (a cheap liveness check)."""
        replies = self._json("/version", {})
        if not replies or "Version" not in replies[-1]:
            raise StorageError(f"unexpected /version reply from {self.api_url}")
        return str(replies[-1]["Version"])

    def add(self, data: Source, *, pin: bool = True, progress: Progress | None = None) -> AddResult:
        """Upload ``data`` with fedmarket's add parameters; check the daemon's CID."""
        builder = DagBuilder()
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
            for chunk in chunks_of(data):
                builder.push(chunk)
                spool.write(chunk)
                if progress is not None:
                    progress(builder.size)
            builder.finish()
            assert builder.root is not None
            params = {**ADD_PARAMS, "pin": "true" if pin else "false"}
            replies = self._json("/add", params, spool)
        hashes = [r["Hash"] for r in replies if isinstance(r, dict) and "Hash" in r]
        if not hashes:
            raise StorageError(f"Kubo /add answered without a CID: {replies!r:.200}")
        expected = str(builder.root)
        if hashes[-1] != expected:
            raise CidMismatch(
                f"Kubo at {self.api_url} stored the data as {hashes[-1]}, expected {expected}",
                hint="the daemon ignored cid-version/raw-leaves/chunker; check its version",
            )
        return AddResult(expected, builder.size, builder.sha256)

    def cat(self, cid: CID | str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Stream verified bytes of ``cid``.

        A whole-file read uses ``/cat``: the bytes are spooled while being re-chunked, and are
        released only if they re-derive ``cid``. A range read walks the DAG with
        ``/block/get`` instead, checking every block against its CID and fetching only the
        blocks on the way to the range.
        """
        root = as_cid(cid)
        if offset < 0 or (length is not None and length < 0):
            raise ValueError("offset and length must be non-negative")
        if offset or length is not None:
            self.get_block(root)  # fail now, not at the first iteration
            return dag.read_range(self.get_block, root, offset, length)
        # The spool outlives this call: the returned generator closes it.
        spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115
        try:
            self._fetch_verified(root, spool)
        except BaseException:
            spool.close()
            raise
        return _stream_range(spool, offset, length)

    def _fetch_verified(self, root: CID, spool: IO[bytes]) -> None:
        builder = DagBuilder()
        pending = bytearray()
        with self._post("/cat", {"arg": str(root)}) as response:
            for piece in response.iter_bytes():
                spool.write(piece)
                pending += piece
                while len(pending) >= CHUNK_SIZE:
                    builder.push(bytes(pending[:CHUNK_SIZE]))
                    del pending[:CHUNK_SIZE]
        if pending or builder.size == 0:
            builder.push(bytes(pending))
        builder.finish()
        if builder.root != root:
            raise CorruptContent(
                f"Kubo at {self.api_url} returned {builder.size} bytes for {root} that hash to"
                f" {builder.root}",
                hint="the daemon or its blocks are damaged (or the CID was not made by fedmarket)",
            )

    def get_block(self, cid: CID) -> bytes:
        """One raw block from the daemon, verified against its CID."""
        with self._post("/block/get", {"arg": str(cid)}) as response:
            data = response.read()
        if not cid.matches(data):
            raise CorruptContent(f"Kubo at {self.api_url} returned a block that is not {cid}")
        return data

    def cat_bytes(self, cid: CID | str, *, offset: int = 0, length: int | None = None) -> bytes:
        return b"".join(self.cat(cid, offset=offset, length=length))

    def get(self, cid: CID | str) -> bytes:
        return self.cat_bytes(cid)

    def has(self, cid: CID | str) -> bool:
        """Whether the daemon holds the root block locally (it is not fetched from the network)."""
        try:
            self._json("/block/stat", {"arg": str(as_cid(cid)), "offline": "true"})
        except ContentNotFound:
            return False
        return True

    def pin(self, cid: CID | str) -> None:
        self._json("/pin/add", {"arg": str(as_cid(cid)), "recursive": "true"})

    def unpin(self, cid: CID | str) -> None:
        self._json("/pin/rm", {"arg": str(as_cid(cid)), "recursive": "true"})


def _stream_range(spool: IO[bytes], offset: int, length: int | None) -> Iterator[bytes]:
    try:
        spool.seek(offset)
        remaining = length
        while remaining is None or remaining > 0:
            piece = spool.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
            if not piece:
                return
            if remaining is not None:
                remaining -= len(piece)
            yield piece
    finally:
        spool.close()


def _error_for(path: str, params: dict[str, str], response: httpx.Response) -> StorageError:
    """Map a Kubo error reply (JSON ``{"Message", "Code", "Type": "error"}``) to our tree."""
    message = response.text.strip()
    kubo_error = False
    with contextlib.suppress(ValueError, AttributeError):
        message = str(json.loads(message)["Message"])
        kubo_error = True
    what = f"{path} {params.get('arg', '')}".strip()
    if not kubo_error and response.status_code in (404, 405):
        return StorageError(
            f"{response.url} is not a Kubo RPC endpoint (HTTP {response.status_code})",
            hint="FEDMARKET_IPFS should be the daemon's API address, e.g. http://127.0.0.1:5001",
        )
    lowered = message.lower()
    if "not found" in lowered or "could not find" in lowered:
        return ContentNotFound(f"Kubo: {what}: {message}")
    return StorageError(f"Kubo {what} failed (HTTP {response.status_code}): {message}")


__all__ = ["ADD_PARAMS", "KuboStore"]
