"""The lava node agent: a REST app that executes lava driver calls on a data-plane server.

Role: where a server's virtualization back-end cannot be driven from the
control plane directly (the netns back-end is local by nature), StratoV's
lava talks to this agent on that server (paper section IV). The agent wraps
whatever back-end object it is given and exposes it over HTTP/JSON.

Design: an app factory, :func:`create_app`, over a :class:`NodeBackend` - a
structural protocol with the same async methods as StratoV's ``VirtDriver``.
The agent never imports StratoV (import contract): the daemon's ``main()``
(the CLI) builds a concrete back-end and hands it in; requests and replies are
the models of ``openvolcano.api.lava``. Expected failures
(:class:`~openvolcano.common.errors.OpenVolcanoError`) become their HTTP
status with an :class:`~openvolcano.api.lava.ErrorBody`; the client turns
them back into the same exception classes.

Routes: ``GET /capabilities``, ``GET /servers``, ``GET /images``,
``POST /images`` (:class:`CreateImageRequest`), ``GET /images/{name}``,
``DELETE /images/{name}``, ``POST /images/{name}/start|stop``,
``GET /images/{name}/stats``, ``GET /images/{name}/console?max_bytes=``,
``POST /images/{name}/ports`` (:class:`PortSpec`),
``POST /images/{name}/migrate`` (:class:`MigrateRequest`), ``GET /health``.
"""

from __future__ import annotations

from typing import Protocol

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from openvolcano.api.lava import (
    Capabilities,
    ConsoleOutput,
    CreateImageRequest,
    ImageSpec,
    ImageStats,
    ImageStatus,
    MigrateRequest,
    MigrationMode,
    MigrationReport,
    PortAttachment,
    PortSpec,
)
from openvolcano.common.errors import OpenVolcanoError

__all__ = ["NodeBackend", "create_app"]


class NodeBackend(Protocol):
    """What the agent needs from a back-end (StratoV's VirtDriver has exactly this shape)."""

    backend: str

    async def capabilities(self) -> Capabilities: ...
    async def servers(self) -> list[str]: ...
    async def create(self, server: str, spec: ImageSpec) -> ImageStatus: ...
    async def start(self, name: str) -> ImageStatus: ...
    async def stop(self, name: str) -> ImageStatus: ...
    async def destroy(self, name: str) -> None: ...
    async def status(self, name: str) -> ImageStatus: ...
    async def list_images(self) -> list[ImageStatus]: ...
    async def stats(self, name: str) -> ImageStats: ...
    async def console(self, name: str, max_bytes: int = 65536) -> ConsoleOutput: ...
    async def attach_port(self, name: str, port: PortSpec) -> PortAttachment: ...
    async def migrate(self, name: str, target: str, mode: MigrationMode) -> MigrationReport: ...


def create_app(backend: NodeBackend) -> FastAPI:
    """The agent's ASGI app serving ``backend``."""
    app = FastAPI(title="OpenVolcano lava node agent")

    @app.exception_handler(OpenVolcanoError)
    async def _expected(_request: Request, exc: OpenVolcanoError) -> JSONResponse:
        return JSONResponse(exc.to_dict(), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        body = {"error": "invalid_input", "message": f"invalid request: {exc.errors()[0]['msg']}"}
        return JSONResponse(body, status_code=422)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "backend": backend.backend}

    @app.get("/capabilities")
    async def capabilities() -> Capabilities:
        return await backend.capabilities()

    @app.get("/servers")
    async def servers() -> list[str]:
        return await backend.servers()

    @app.get("/images")
    async def list_images() -> list[ImageStatus]:
        return await backend.list_images()

    @app.post("/images", status_code=201)
    async def create(req: CreateImageRequest) -> ImageStatus:
        status = await backend.create(req.server, req.spec)
        if req.start:
            status = await backend.start(req.spec.name)
        return status

    @app.get("/images/{name}")
    async def status(name: str) -> ImageStatus:
        return await backend.status(name)

    @app.delete("/images/{name}", status_code=204)
    async def destroy(name: str) -> None:
        await backend.destroy(name)

    @app.post("/images/{name}/start")
    async def start(name: str) -> ImageStatus:
        return await backend.start(name)

    @app.post("/images/{name}/stop")
    async def stop(name: str) -> ImageStatus:
        return await backend.stop(name)

    @app.get("/images/{name}/stats")
    async def stats(name: str) -> ImageStats:
        return await backend.stats(name)

    @app.get("/images/{name}/console")
    async def console(name: str, max_bytes: int = Query(65536, ge=0)) -> ConsoleOutput:
        return await backend.console(name, max_bytes)

    @app.post("/images/{name}/ports", status_code=201)
    async def attach_port(name: str, port: PortSpec) -> PortAttachment:
        return await backend.attach_port(name, port)

    @app.post("/images/{name}/migrate")
    async def migrate(name: str, req: MigrateRequest) -> MigrationReport:
        return await backend.migrate(name, req.target, req.mode)

    return app
