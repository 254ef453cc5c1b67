"""A read-only IPFS trustless gateway over the local content store: ``GET /ipfs/{cid}``.

It implements the verifiable subset of the IPFS HTTP Gateway spec (the *Trustless Gateway*):

* ``?format=raw`` or ``Accept: application/vnd.ipld.raw`` returns one block, whose bytes hash to
  the requested CID;
* ``?format=car`` or ``Accept: application/vnd.ipld.car`` returns a CARv1 stream of the DAG
  under the CID, depth-first (``order=dfs``), each block once (``dups=n``) unless the client
  asks for ``dups=y``; ``dag-scope=block`` sends the root block only, ``entity`` and ``all``
  the whole file (the same thing for UnixFS files, all fedmarket stores);
* ``format`` beats ``Accept``; a request with neither gets 400 (strict trustless mode: no
  deserialised responses); a root block this store lacks gets 404; ``HEAD`` answers the same
  headers without a body; ``/ipfs/bafkqaaa`` (the empty identity CID) is the spec's probe.

The gateway never recurses to other hosts and never returns bytes that fail their hash:
every block is read through the store's verifying ``get_block``. Clients verify anyway
(:mod:`marketplace.storage.gateway`). ``entity-bytes`` (partial CARs) is not implemented and
answers 400. ``create_gateway_app(store)`` is the standalone app behind ``fedmarket ipfs serve``;
``fedmarket serve`` mounts the same router next to the ledger API.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Protocol

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from marketplace.api.errors import GatewayRequestError
from marketplace.errors import ContentNotFound, StorageError
from marketplace.storage import car, dag
from marketplace.storage.errors import InvalidCid
from marketplace.storage.gateway import CAR_MEDIA_TYPE, RAW_MEDIA_TYPE
from marketplace.storage.multiformats import CID

#: The empty identity CID: the spec's probe path (``GET /ipfs/bafkqaaa`` answers 200).
PROBE_CID = "bafkqaaa"
_PROBE_BYTES = bytes((0x01, 0x55, 0x00, 0x00))  # CIDv1, raw, identity multihash, length 0
_IMMUTABLE = "public, max-age=29030400, immutable"
_SCOPES = ("block", "entity", "all")


class BlockSource(Protocol):
    """What the gateway serves from: verified blocks by CID (every store of ours has this)."""

    def get_block(self, cid: CID) -> bytes: ...

    def has(self, cid: CID | str) -> bool: ...


@dataclass(frozen=True)
class Wanted:
    """The response a request negotiated: ``raw`` or ``car`` and the CAR's parameters."""

    format: str
    explicit: bool  # named by ?format= (else by Accept: Content-Location is then returned)
    scope: str = "all"
    dups: bool = False


def negotiate(request: Request) -> Wanted:
    """Response format from ``?format=`` (first) or ``Accept``, with the CAR parameters."""
    query = request.query_params
    accepted = _accept_params(request.headers.get("accept", ""))
    fmt = query.get("format")
    if fmt is not None and fmt not in ("raw", "car"):
        raise GatewayRequestError(
            f"format={fmt} is not served here: a trustless gateway has raw and car"
        )
    if fmt is None:
        for media, _params in accepted:
            if media in (RAW_MEDIA_TYPE, CAR_MEDIA_TYPE):
                fmt = "raw" if media == RAW_MEDIA_TYPE else "car"
                break
    if fmt is None:
        raise GatewayRequestError(
            "a trustless gateway returns verifiable responses only: ask for ?format=raw or "
            f"?format=car (or Accept: {RAW_MEDIA_TYPE} / {CAR_MEDIA_TYPE})"
        )
    if fmt == "raw":
        return Wanted("raw", explicit="format" in query)
    car_params = next((p for m, p in accepted if m == CAR_MEDIA_TYPE), {})
    version = query.get("car-version") or car_params.get("version") or "1"
    order = query.get("car-order") or car_params.get("order") or "dfs"
    dups = query.get("car-dups") or car_params.get("dups") or "n"
    if version != "1":
        raise GatewayRequestError(f"CAR version {version} is not served here (only 1)", status=406)
    if order not in ("dfs", "unk"):
        raise GatewayRequestError(f"CAR order {order} is not served here (only dfs)", status=406)
    if dups not in ("y", "n"):
        raise GatewayRequestError(f"CAR dups={dups} is not valid (y or n)")
    scope = query.get("dag-scope", "all")
    if scope not in _SCOPES:
        raise GatewayRequestError(f"dag-scope={scope} is not valid ({', '.join(_SCOPES)})")
    if "entity-bytes" in query:
        raise GatewayRequestError(
            "entity-bytes is not supported by this gateway: ask for the whole DAG"
        )
    return Wanted("car", explicit="format" in query, scope=scope, dups=dups == "y")


def _accept_params(header: str) -> list[tuple[str, dict[str, str]]]:
    """Media ranges of an Accept header with their parameters, highest ``q`` first."""
    ranges = []
    for position, item in enumerate(header.split(",")):
        parts = [p.strip() for p in item.split(";")]
        if not parts[0]:
            continue
        params = {}
        for part in parts[1:]:
            key, _, value = part.partition("=")
            params[key.strip().lower()] = value.strip().strip('"')
        try:
            q = float(params.pop("q", "1"))
        except ValueError:
            q = 0.0
        if q > 0:
            ranges.append((-q, position, parts[0].lower(), params))
    return [(media, params) for _q, _pos, media, params in sorted(ranges)]


def get_blocks(request: Request) -> BlockSource:
    blocks: BlockSource = request.app.state.blocks
    return blocks


Blocks = Annotated[BlockSource, Depends(get_blocks)]
router = APIRouter(tags=["ipfs"])


# Not in the OpenAPI schema: the IPFS gateway spec, not this service, defines these responses
# (binary blocks and CAR streams, negotiated by format/Accept).
@router.api_route("/ipfs/{cid}", methods=["GET", "HEAD"], include_in_schema=False)
@router.api_route("/ipfs/{cid}/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
def ipfs(cid: str, request: Request, blocks: Blocks, path: str = "") -> Response:
    """A raw block or a CAR stream of ``cid`` (IPFS Trustless Gateway spec)."""
    try:
        wanted = negotiate(request)
        if path and wanted.format == "raw":
            raise GatewayRequestError(
                "a raw block request takes no path: GET /ipfs/{cid}?format=raw"
            )
        if cid == PROBE_CID:
            return _probe(wanted, request)
        try:
            root = CID.parse(cid)
        except InvalidCid as exc:
            raise GatewayRequestError(f"invalid CID: {exc}") from exc
    except GatewayRequestError as exc:
        return PlainTextResponse(str(exc), status_code=exc.status)
    try:
        root_block = blocks.get_block(root)
    except ContentNotFound:
        return PlainTextResponse(f"{root} is not in this store", status_code=404)
    except StorageError as exc:  # a damaged block is never served
        return PlainTextResponse(f"cannot read {root}: {exc}", status_code=500)
    if path:
        return PlainTextResponse(
            f"no path /{path} under {root}: fedmarket stores single files", status_code=404
        )
    headers = _headers(root, wanted, request)
    if request.headers.get("if-none-match") == headers["Etag"]:
        return Response(status_code=304, headers=headers)
    if wanted.format == "raw":
        body = b"" if request.method == "HEAD" else root_block
        headers["Content-Length"] = str(len(root_block))
        return Response(body, headers=headers, media_type=RAW_MEDIA_TYPE)
    if request.method == "HEAD":
        return Response(headers=headers, media_type=headers["Content-Type"])
    return StreamingResponse(
        _car_stream(blocks, root, root_block, wanted),
        headers=headers,
        media_type=headers["Content-Type"],
    )


def _car_stream(
    blocks: BlockSource, root: CID, root_block: bytes, wanted: Wanted
) -> Iterator[bytes]:
    """Header, then each block's section. A block missing mid-way ends the stream early
    (the status is already 200): the client sees an incomplete CAR, as the spec intends."""
    yield car.header_section([root])
    if wanted.scope == "block":
        yield car.block_section(root, root_block)
        return

    def get(cid: CID) -> bytes:
        return root_block if cid == root else blocks.get_block(cid)

    for cid, data in dag.dfs_blocks(get, root, dups=wanted.dups):
        yield car.block_section(cid, data)


def _headers(root: CID | str, wanted: Wanted, request: Request) -> dict[str, str]:
    if wanted.format == "raw":
        content_type, etag, name = RAW_MEDIA_TYPE, f'"{root}.raw"', f"{root}.bin"
    else:
        dups = "y" if wanted.dups else "n"
        content_type = f"{CAR_MEDIA_TYPE}; version=1; order=dfs; dups={dups}"
        etag, name = f'"{root}.car.{wanted.scope}.dfs.{dups}"', f"{root}.car"
    headers = {
        "Content-Type": content_type,
        "Content-Disposition": f'attachment; filename="{name}"',
        "Etag": etag,
        "Cache-Control": _IMMUTABLE,
        "X-Content-Type-Options": "nosniff",
        "X-Ipfs-Path": f"/ipfs/{root}",
        "X-Ipfs-Roots": str(root),
        "Vary": "Accept",
    }
    if not wanted.explicit:
        query = f"format={wanted.format}"
        if wanted.format == "car" and wanted.scope != "all":
            query += f"&dag-scope={wanted.scope}"
        headers["Content-Location"] = f"{request.url.path}?{query}"
    return headers


def _probe(wanted: Wanted, request: Request) -> Response:
    """``/ipfs/bafkqaaa``: an empty raw block, or a CAR whose only root is that CID."""
    headers = _headers(PROBE_CID, wanted, request)
    if wanted.format == "raw":
        return Response(b"", headers=headers, media_type=RAW_MEDIA_TYPE)
    body = b"" if request.method == "HEAD" else car.header_section([_PROBE_BYTES])
    return Response(body, headers=headers, media_type=headers["Content-Type"])


def create_gateway_app(blocks: BlockSource) -> FastAPI:
    """The gateway alone (``fedmarket ipfs serve``): no chain, no index, read-only."""
    app = FastAPI(
        title="fedmarket IPFS trustless gateway",
        version="1",
        summary="Verifiable raw blocks and CAR streams of this node's content store.",
    )
    app.state.blocks = blocks
    app.include_router(router)
    return app
