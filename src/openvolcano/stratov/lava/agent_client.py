"""AgentDriver: the VirtDriver of a server whose back-end runs behind a lava node agent.

Role: StratoV's side of the node agent (``openvolcano.caldera.lavanode.agent``,
paper section IV): every driver call becomes one HTTP request to the agent
on that server, with the models of ``openvolcano.api.lava`` as bodies.

Design: an :class:`httpx.AsyncClient` (its transport is injectable, so tests
can drive the agent's ASGI app in-process); error replies are rebuilt into
the same exception classes the agent raised
(:func:`~openvolcano.api.lava.error_from_body`), connection failures become
:class:`~openvolcano.common.errors.Unavailable`.

Invariants: the client holds no image state of its own - the agent is the
source of truth - so a restarted StratoV loses nothing.
"""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from openvolcano.api.lava import (
    Capabilities,
    ConsoleOutput,
    CreateImageRequest,
    ErrorBody,
    ImageSpec,
    ImageStats,
    ImageStatus,
    MigrateRequest,
    MigrationMode,
    MigrationReport,
    PortAttachment,
    PortSpec,
    error_from_body,
)
from openvolcano.common.errors import OpenVolcanoError, Unavailable
from openvolcano.stratov.lava.driver import VirtDriver

__all__ = ["AgentDriver"]

T = TypeVar("T")


class AgentDriver(VirtDriver):
    """A VirtDriver proxy: ``AgentDriver("http://server:8700")``."""

    backend = "agent"

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 120.0,
    ) -> None:
        self._base_url = base_url
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=timeout)

    async def _request(
        self, method: str, path: str, body: BaseModel | None = None, **params: Any
    ) -> Any:
        try:
            resp = await self._http.request(
                method,
                path,
                json=body.model_dump(mode="json") if body is not None else None,
                params=params or None,
            )
        except httpx.HTTPError as exc:
            raise Unavailable(f"lava node agent at {self._base_url} unreachable: {exc}") from exc
        if resp.status_code >= 400:
            try:
                err = ErrorBody.model_validate(resp.json())
            except (ValueError, ValidationError):
                raise OpenVolcanoError(
                    f"lava node agent answered {resp.status_code}: {resp.text[:200]}"
                ) from None
            raise error_from_body(resp.status_code, err)
        return resp.json() if resp.content else None

    async def _get(
        self, kind: type[T], method: str, path: str, body: BaseModel | None = None, **params: Any
    ) -> T:
        return TypeAdapter(kind).validate_python(await self._request(method, path, body, **params))

    async def capabilities(self) -> Capabilities:
        return await self._get(Capabilities, "GET", "/capabilities")

    async def servers(self) -> list[str]:
        return await self._get(list[str], "GET", "/servers")

    async def create(self, server: str, spec: ImageSpec) -> ImageStatus:
        return await self._get(
            ImageStatus, "POST", "/images", CreateImageRequest(server=server, spec=spec)
        )

    async def start(self, name: str) -> ImageStatus:
        return await self._get(ImageStatus, "POST", f"/images/{name}/start")

    async def stop(self, name: str) -> ImageStatus:
        return await self._get(ImageStatus, "POST", f"/images/{name}/stop")

    async def destroy(self, name: str) -> None:
        await self._request("DELETE", f"/images/{name}")

    async def status(self, name: str) -> ImageStatus:
        return await self._get(ImageStatus, "GET", f"/images/{name}")

    async def list_images(self) -> list[ImageStatus]:
        return await self._get(list[ImageStatus], "GET", "/images")

    async def stats(self, name: str) -> ImageStats:
        return await self._get(ImageStats, "GET", f"/images/{name}/stats")

    async def console(self, name: str, max_bytes: int = 65536) -> ConsoleOutput:
        return await self._get(ConsoleOutput, "GET", f"/images/{name}/console", max_bytes=max_bytes)

    async def attach_port(self, name: str, port: PortSpec) -> PortAttachment:
        return await self._get(PortAttachment, "POST", f"/images/{name}/ports", port)

    async def migrate(self, name: str, target: str, mode: MigrationMode) -> MigrationReport:
        req = MigrateRequest(target=target, mode=mode)
        return await self._get(MigrationReport, "POST", f"/images/{name}/migrate", req)

    async def close(self) -> None:
        await self._http.aclose()
