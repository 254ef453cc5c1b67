"""Reading content across hosts from IPFS trustless gateways, with every block verified.

A *trustless gateway* (the IPFS HTTP Gateway spec's verifiable subset) answers
``GET /ipfs/{cid}?format=raw`` with one block and ``GET /ipfs/{cid}?format=car`` with a CAR
stream of the DAG under the CID. Both are verifiable by the client, so the gateway need not be
trusted: :class:`TrustlessGateway` hashes every block it receives against its CID, keeps only
blocks reachable from the requested root, and fails unless the DAG is complete. Any gateway
that speaks the spec works: ``fedmarket ipfs serve``, ``fedmarket serve`` (under ``/ipfs/``)
or Kubo's own gateway (port 8080).

:class:`GatewayStore` is a :class:`~marketplace.storage.protocol.ContentStore` over a local
store and a list of gateways: writes go to the local store (embedded, or a Kubo RPC API),
reads come from the local store when it holds the whole DAG, otherwise from the first gateway
that returns a complete, verified DAG. Fetched DAGs are written into a local embedded store
and pinned, so this node can serve them in turn (an aggregator keeps the updates it verified
for auditors). A lying or broken gateway costs a warning and a retry elsewhere, never wrong
bytes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from typing import BinaryIO, TypeVar, cast

import httpx

from marketplace.errors import (
    BackendUnavailable,
    ConfigError,
    ContentNotFound,
    CorruptContent,
    StorageError,
)
from marketplace.storage import car, dag
from marketplace.storage.dagstore import DagStore
from marketplace.storage.multiformats import CID, RAW, as_cid
from marketplace.storage.protocol import AddResult, ContentStore, Progress, Source

RAW_MEDIA_TYPE = "application/vnd.ipld.raw"
CAR_MEDIA_TYPE = "application/vnd.ipld.car"
#: What the client asks for: CARv1, depth-first, each block once.
CAR_ACCEPT = f"{CAR_MEDIA_TYPE};version=1;order=dfs;dups=n"
#: The largest DAG fetched into memory before it is written to the local store.
DEFAULT_MAX_BYTES = 1 << 30

log = logging.getLogger(__name__)
T = TypeVar("T")


class TrustlessGateway:
    """One trustless gateway at ``url`` (``http://host:port``, the prefix before ``/ipfs/``).

    ``transport`` replaces the network (tests); ``timeout`` bounds each HTTP operation.
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        max_bytes: int = DEFAULT_MAX_BYTES,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"gateway {url!r} is not an http(s) URL",
                hint="name gateways like http://10.0.0.2:8080 (FEDMARKET_IPFS_GATEWAYS)",
            )
        self.url = url.rstrip("/").removesuffix("/ipfs")
        self.max_bytes = max_bytes
        self.bytes_received = 0
        self._client = httpx.Client(
            base_url=self.url,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
        )

    def __repr__(self) -> str:
        return f"TrustlessGateway({self.url!r})"

    def close(self) -> None:
        self._client.close()

    def block(self, cid: CID) -> bytes:
        """One block (``?format=raw``), checked against ``cid``."""
        with self._get(cid, "raw", RAW_MEDIA_TYPE) as response:
            data = response.read()
        self.bytes_received += len(data)
        if not cid.matches(data):
            raise CorruptContent(f"gateway {self.url} returned a block that does not hash to {cid}")
        return data

    def dag(self, root: CID) -> list[tuple[CID, bytes]]:
        """Every block under ``root`` (``?format=car``), each verified, parents first.

        Blocks the DAG does not reach are ignored (the spec lets gateways send extras);
        a block that does not hash to its CID, or a DAG with a block missing, is an error.
        """
        with self._get(root, "car", CAR_ACCEPT, scope="all") as response:
            media = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if media != CAR_MEDIA_TYPE:
                raise StorageError(
                    f"gateway {self.url} answered {media or 'no content type'} for a CAR request"
                )
            reader = _StreamReader(response.iter_bytes(), self.max_bytes)
            try:
                _roots, blocks = car.read_car(cast(BinaryIO, reader))  # roots: ignored (spec)
                wanted = {root}
                got: dict[CID, bytes] = {}
                for cid, data in blocks:  # read_car raises CorruptContent on a bad hash
                    if cid not in wanted or cid in got:
                        continue
                    got[cid] = data
                    wanted.update(dag.child_links(cid, data))
            finally:
                self.bytes_received += reader.consumed
        missing = wanted - got.keys()
        if missing:
            raise StorageError(
                f"gateway {self.url} sent an incomplete DAG for {root}: "
                f"{len(missing)} block(s) missing, e.g. {min(missing)}"
            )
        return list(got.items())

    @contextlib.contextmanager
    def _get(
        self, cid: CID, fmt: str, accept: str, *, scope: str | None = None
    ) -> Iterator[httpx.Response]:
        """GET ``/ipfs/{cid}`` streaming; transport failures and bad statuses become errors."""
        params = {"format": fmt} if scope is None else {"format": fmt, "dag-scope": scope}
        request = self._client.build_request(
            "GET", f"/ipfs/{cid}", params=params, headers={"Accept": accept}
        )
        try:
            response = self._client.send(request, stream=True)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise BackendUnavailable(f"gateway {self.url} is unreachable: {exc}") from exc
        try:
            if response.status_code == 404:
                raise ContentNotFound(f"gateway {self.url} does not have {cid}")
            if response.status_code != 200:
                raise BackendUnavailable(
                    f"gateway {self.url} answered HTTP {response.status_code} for {cid}"
                )
            yield response
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise BackendUnavailable(f"gateway {self.url} broke off: {exc}") from exc
        finally:
            response.close()


class _StreamReader:
    """A file-like ``read(n)`` over an iterator of byte chunks (what ``read_car`` needs)."""

    def __init__(self, chunks: Iterator[bytes], limit: int) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self._limit = limit
        self.consumed = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                break
            self.consumed += len(chunk)
            if self.consumed > self._limit:
                raise StorageError(f"gateway response exceeds {self._limit} bytes; refused")
            self._buffer += chunk
        if size < 0:
            size = len(self._buffer)
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out


class GatewayStore:
    """A content store that writes locally and reads through trustless gateways when needed.

    ``local`` takes every write (and, when it is a block store, every DAG fetched);
    ``gateways`` are tried in order for content ``local`` does not hold in full.
    """

    def __init__(self, local: ContentStore, gateways: Sequence[TrustlessGateway | str]) -> None:
        if not gateways:
            raise ConfigError("a gateway store needs at least one gateway")
        self.local = local
        self.gateways = [
            g if isinstance(g, TrustlessGateway) else TrustlessGateway(g) for g in gateways
        ]
        #: one line per source that failed, newest last (tests and operators read these)
        self.failures: list[str] = []

    def __repr__(self) -> str:
        return f"GatewayStore({self.local!r}, {[g.url for g in self.gateways]})"

    @property
    def bytes_received(self) -> int:
        """Bytes read from gateways so far (what crossing hosts cost)."""
        return sum(g.bytes_received for g in self.gateways)

    # ---- ContentStore ------------------------------------------------------------------
    def add(self, data: Source, *, pin: bool = True, progress: Progress | None = None) -> AddResult:
        return self.local.add(data, pin=pin, progress=progress)

    def cat(self, cid: CID | str, *, offset: int = 0, length: int | None = None) -> Iterator[bytes]:
        """Verified bytes of ``cid``: from the local store, else fetched (and kept) first."""
        root = as_cid(cid)
        if self._held_locally(root):
            return self.local.cat(root, offset=offset, length=length)
        blocks = self.fetch(root)
        if isinstance(self.local, DagStore):
            self._keep(root, blocks)
            return self.local.cat(root, offset=offset, length=length)
        by_cid = dict(blocks)
        return dag.read_range(by_cid.__getitem__, root, offset, length)

    def cat_bytes(self, cid: CID | str, *, offset: int = 0, length: int | None = None) -> bytes:
        return b"".join(self.cat(cid, offset=offset, length=length))

    def get(self, cid: CID | str) -> bytes:
        return self.cat_bytes(cid)

    def has(self, cid: CID | str) -> bool:
        """Whether the *local* store holds the root block (nothing is fetched)."""
        return self.local.has(cid)

    def pin(self, cid: CID | str) -> None:
        self.local.pin(cid)

    def unpin(self, cid: CID | str) -> None:
        self.local.unpin(cid)

    def get_block(self, cid: CID) -> bytes:
        """One verified block: local, else the first gateway that has a good copy."""
        if self.local.has(cid):
            return cast(DagStore, self.local).get_block(cid)
        return self._first(cid, lambda gateway: gateway.block(cid))

    # ---- fetching ----------------------------------------------------------------------
    def fetch(self, root: CID) -> list[tuple[CID, bytes]]:
        """The verified DAG under ``root`` from the first gateway that serves all of it."""
        return self._first(root, lambda gateway: gateway.dag(root))

    def _first(self, cid: CID, attempt: Callable[[TrustlessGateway], T]) -> T:
        """``attempt`` on each gateway in turn; the first success, or one error for all."""
        errors: list[StorageError] = []
        for gateway in self.gateways:
            try:
                return attempt(gateway)
            except StorageError as exc:
                errors.append(exc)
                line = f"{gateway.url}: {exc.user_message()}"
                self.failures.append(line)
                if not isinstance(exc, ContentNotFound):
                    log.warning("content source failed, trying the next one: %s", line)
        summary = "; ".join(str(e) for e in errors)
        if all(isinstance(e, ContentNotFound) for e in errors):
            raise ContentNotFound(f"{cid} is on none of {len(errors)} gateway(s): {summary}")
        if any(isinstance(e, CorruptContent) for e in errors):
            raise CorruptContent(f"no gateway served {cid} intact: {summary}")
        raise BackendUnavailable(
            f"no gateway could serve {cid}: {summary}",
            hint="check FEDMARKET_IPFS_GATEWAYS and that those hosts are reachable",
        )

    def _held_locally(self, root: CID) -> bool:
        """Whether every block under ``root`` is in the local store (root alone for Kubo)."""
        if not self.local.has(root):
            return False
        if not isinstance(self.local, DagStore):
            return True  # a Kubo daemon fetches missing children itself
        try:
            for cid, _ in dag.walk(self.local.get_block, root, read_leaves=False):
                if cid.codec == RAW and not self.local.has(cid):
                    return False
        except ContentNotFound:
            return False
        return True

    def _keep(self, root: CID, blocks: list[tuple[CID, bytes]]) -> None:
        """Write a verified DAG into the local block store, children first, and pin it."""
        assert isinstance(self.local, DagStore)
        for cid, data in reversed(blocks):  # fetched parents first, so reversed: children first
            self.local.put_block(cid, data)
        self.local.pin(root)


__all__ = ["CAR_ACCEPT", "CAR_MEDIA_TYPE", "RAW_MEDIA_TYPE", "GatewayStore", "TrustlessGateway"]
