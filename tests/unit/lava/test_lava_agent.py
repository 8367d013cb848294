"""The node agent's REST surface: bad input and unreachable agents fail with typed errors."""

from __future__ import annotations

import httpx
import pytest

from openvolcano.api.lava import ImageKind, ImageSpec
from openvolcano.caldera.lavanode.agent import create_app
from openvolcano.common.errors import NotFound, Unavailable
from openvolcano.stratov.lava.agent_client import AgentDriver
from openvolcano.stratov.lava.fake import FakeDriver

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_invalid_body_is_a_422_with_an_error_body() -> None:
    app = create_app(FakeDriver({"a": 1}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        resp = await c.post("/images", json={"server": "a", "spec": {"name": "Bad Name!"}})
        assert resp.status_code == 422
        assert resp.json()["error"] == "invalid_input"
        resp = await c.get("/images/ghost")
        assert resp.status_code == 404
        assert resp.json() == {
            "error": "not_found",
            "message": "virtual image 'ghost' not found",
            "details": {"image": "ghost"},
        }
        resp = await c.post("/images", json={"server": "a", "start": True,
                                             "spec": {"name": "nas1", "kind": "nas"}})  # fmt: skip
        assert resp.status_code == 201
        assert resp.json()["state"] == "running"


async def test_client_rebuilds_typed_errors() -> None:
    transport = httpx.ASGITransport(app=create_app(FakeDriver({"a": 1})))
    driver = AgentDriver("http://agent", transport=transport)
    with pytest.raises(NotFound, match="server 'zz'"):
        await driver.create("zz", ImageSpec(name="x", kind=ImageKind.NAS))
    await driver.close()


async def test_unreachable_agent_is_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    driver = AgentDriver("http://agent", transport=httpx.MockTransport(refuse))
    with pytest.raises(Unavailable, match="unreachable"):
        await driver.servers()
    await driver.close()
