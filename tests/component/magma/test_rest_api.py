"""magma's REST API through httpx's ASGI transport: desired state per owner, and bad input.

Bad input (unknown switch, malformed flow, conflicting owners, reserved or
malformed owner names) is a 4xx with a message naming the problem, and
changes nothing. No switch is connected here: desired state is stored and
applied when switches connect (tested against Open vSwitch in
tests/integration/magma).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from openvolcano.stratov.magma.app import create_app
from openvolcano.stratov.magma.controller import Magma, MagmaConfig

FLOW = {
    "priority": 10,
    "match": {"eth_type": 0x0800, "ipv4_dst": "10.0.0.0/255.255.255.0"},
    "instructions": [{"type": "apply_actions", "actions": [{"type": "output", "port": 2}]}],
}


def run(body: Callable[[httpx.AsyncClient, Magma], Awaitable[None]]) -> None:
    async def main() -> None:
        magma = Magma(MagmaConfig(lldp_interval=0))
        transport = httpx.ASGITransport(app=create_app(magma))
        async with httpx.AsyncClient(transport=transport, base_url="http://magma") as client:
            await body(client, magma)

    asyncio.run(main())


def state(*flows: dict[str, Any], dpid: str = "1") -> dict[str, Any]:
    return {"switches": {dpid: {"flows": list(flows)}}}


def test_put_get_delete_owner() -> None:
    async def body(client: httpx.AsyncClient, magma: Magma) -> None:
        r = await client.put("/owners/pn-a", json=state(FLOW))
        assert r.status_code == 200, r.text
        assert (await client.get("/owners")).json() == ["pn-a"]
        got = (await client.get("/owners/pn-a")).json()
        assert list(got["switches"]) == ["0000000000000001"]
        assert got["switches"]["0000000000000001"]["flows"][0]["match"] == FLOW["match"]
        assert (await client.delete("/owners/pn-a")).status_code == 204
        assert (await client.get("/owners")).json() == []
        assert (await client.delete("/owners/pn-a")).status_code == 404

    run(body)


def test_bad_input_is_4xx_with_a_message_and_changes_nothing() -> None:
    async def body(client: httpx.AsyncClient, magma: Magma) -> None:
        assert (await client.put("/owners/pn-a", json=state(FLOW))).status_code == 200
        before = magma.desired.copy()
        bad_match = {**FLOW, "match": {"ipv4_dst": "10.0.0.1"}}
        r = await client.put("/owners/pn-b", json=state(bad_match))
        assert r.status_code == 422
        assert "ipv4_dst needs eth_type" in r.text
        r = await client.put(
            "/owners/pn-b", json=state({**FLOW, "instructions": [{"type": "fly"}]})
        )
        assert r.status_code == 422
        assert "fly" in r.text
        r = await client.put("/owners/pn-b", json=state(FLOW, dpid="switch-one"))
        assert r.status_code == 422
        assert "hex digits" in r.text
        r = await client.put("/owners/pn-b", json=state(FLOW))  # same entry as pn-a
        assert r.status_code == 409
        assert "'pn-a' and 'pn-b' both want" in r.json()["message"]
        assert (await client.put("/owners/magma-system", json=state())).status_code == 409
        assert (await client.put("/owners/bad name", json=state())).status_code == 422
        assert magma.desired == before

        r = await client.get("/switches/00000000000000ff/flows")
        assert r.status_code == 404
        assert "unknown switch" in r.text
        assert (await client.get("/switches/zz")).status_code == 422
        assert (await client.get("/switches/0x2/ports")).status_code == 404

    run(body)


def test_empty_views() -> None:
    async def body(client: httpx.AsyncClient, magma: Magma) -> None:
        for path in ("/switches", "/links", "/hosts", "/errors"):
            r = await client.get(path)
            assert r.status_code == 200
            assert r.json() == []
        assert "/owners/{owner}" in (await client.get("/openapi.json")).json()["paths"]

    run(body)
