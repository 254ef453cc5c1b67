"""The FastAPI app factory: JSON routes, error mapping, the dashboard's static files, sync lifecycle.

``create_app(settings)`` connects to the configured chain (a ``ChainError`` if nothing answers),
opens the index and, while the app runs, keeps it in step with the chain from a background
thread. ``create_app(service)`` takes ready parts instead (tests). The server holds no keys and
has no write endpoints. The local content store is served read-only under ``/ipfs/`` as an IPFS
trustless gateway (``marketplace/api/gateway.py``), so other hosts can fetch what this one holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from marketplace.api.deps import Service, build_service
from marketplace.api.errors import AuditBusy, NotFound
from marketplace.api.gateway import router as gateway_router
from marketplace.api.routes import router
from marketplace.errors import ChainError, ConfigError, FedmarketError, StorageError
from marketplace.settings import Settings

STATIC_DIR = Path(__file__).parent / "static"


def create_app(
    source: Settings | Service,
    *,
    rpc_url: str | None = None,
    validations: Mapping[int, Path] | None = None,
    background_sync: bool = True,
) -> FastAPI:
    """The ledger API and dashboard over ``source`` (settings to connect with, or a service)."""
    service = (
        source
        if isinstance(source, Service)
        else build_service(source, rpc_url=rpc_url, validations=validations)
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if background_sync:
            service.syncer.start()
        try:
            yield
        finally:
            service.syncer.stop()

    app = FastAPI(
        title="fedmarket ledger",
        version="1",
        summary="Read-only view of the Marketplace's ledger: tasks, rounds, contributions, "
        "payouts, claims and audits.",
        lifespan=lifespan,
    )
    app.state.service = service
    service.syncer.sync_once()  # serve a populated index from the first request
    app.include_router(router)
    if service.blocks is not None:
        app.state.blocks = service.blocks
        app.include_router(gateway_router)
    _add_error_handlers(app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False)
    def dashboard() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html")

    return app


def _add_error_handlers(app: FastAPI) -> None:
    def problem(status: int, exc: Exception, headers: dict[str, str] | None = None) -> JSONResponse:
        message = exc.user_message() if isinstance(exc, FedmarketError) else str(exc)
        return JSONResponse({"detail": message}, status_code=status, headers=headers)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return problem(404, exc)

    @app.exception_handler(AuditBusy)
    async def busy(request: Request, exc: AuditBusy) -> JSONResponse:
        return problem(503, exc, {"Retry-After": "5"})

    @app.exception_handler(ChainError)
    async def chain_down(request: Request, exc: ChainError) -> JSONResponse:
        return problem(503, exc, {"Retry-After": "5"})

    @app.exception_handler(StorageError)
    async def storage_down(request: Request, exc: StorageError) -> JSONResponse:
        return problem(503, exc, {"Retry-After": "5"})

    @app.exception_handler(ConfigError)
    async def unknown(request: Request, exc: ConfigError) -> JSONResponse:
        # audit_task raises ConfigError for a task the chain does not know
        return problem(404, exc)
