"""magma against an emulated switch over real TCP: dead switches, back-pressure, errors, REST.

The peer is :class:`~openvolcano.stratov.magma.fakeswitch.FakeSwitch`, which
can go silent, stop reading its socket, or refuse a FLOW_MOD on demand.
Checks: a silent switch is declared dead after ``dead_after`` and a
switch-down event names the reason; with a switch that stops reading,
``try_send`` drops and counts exactly what it refused while ``send`` waits
and delivers once the switch reads again; an OFPT_ERROR is recorded with the
message that caused it (also on ``GET /errors``); ``/switches/{dpid}/ports``
and ``/switches/{dpid}/flows`` report a connected switch, including drift.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from openvolcano.api import magma as api
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.messages import BarrierRequest, FlowMod, PacketOut
from openvolcano.ofp.multipart import FlowStats
from openvolcano.ofp.oxm import Match
from openvolcano.stratov.magma.app import create_app
from openvolcano.stratov.magma.controller import Magma, MagmaConfig
from openvolcano.stratov.magma.fakeswitch import FakeSwitch

DPID = 0x5A


async def until(pred: Callable[[], bool], timeout: float = 10) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not pred():  # noqa: ASYNC110 - waits on real sockets, bounded by the timeout
            await asyncio.sleep(0.01)


def run(
    body: Callable[[Magma, FakeSwitch, httpx.AsyncClient], Awaitable[None]], **cfg: Any
) -> None:
    async def main() -> None:
        magma = Magma(MagmaConfig(host="127.0.0.1", port=0, lldp_interval=0, **cfg))
        listening = asyncio.Event()
        task = asyncio.create_task(magma.serve(lambda _port: listening.set()))
        sw = FakeSwitch(DPID)
        try:
            await asyncio.wait_for(listening.wait(), 10)
            assert magma.port is not None
            await sw.connect("127.0.0.1", magma.port)
            await until(lambda: DPID in magma.sessions and magma.sync_runs > 0)
            await asyncio.wait_for(sw.handshake_done.wait(), 10)
            transport = httpx.ASGITransport(app=create_app(magma))
            async with httpx.AsyncClient(transport=transport, base_url="http://magma") as http:
                await body(magma, sw, http)
        finally:
            await sw.close()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(main())


def flow(table_id: int = 0, priority: int = 10) -> dict[str, Any]:
    return {
        "table_id": table_id, "priority": priority, "match": {"in_port": 1},
        "instructions": [{"type": "apply_actions", "actions": [{"type": "output", "port": 2}]}],
    }  # fmt: skip


def owner(*flows: dict[str, Any]) -> api.OwnerState:
    return api.OwnerState.model_validate({"switches": {f"{DPID:x}": {"flows": list(flows)}}})


def test_silent_switch_is_declared_dead_and_reported_down() -> None:
    async def body(magma: Magma, sw: FakeSwitch, _: httpx.AsyncClient) -> None:
        sub = magma.bus.subscribe()
        sw.silent = True  # reads, answers nothing, not even echo requests
        async with asyncio.timeout(10):
            while not isinstance(ev := await sub.get(), api.SwitchDown):
                pass
        assert ev.dpid == api.format_dpid(DPID)
        assert "dead switch" in ev.reason
        assert DPID not in magma.sessions

    run(body, echo_interval=0.1, dead_after=0.5)


def test_send_queue_drops_and_counts_try_send_but_send_waits() -> None:
    async def body(magma: Magma, sw: FakeSwitch, _: httpx.AsyncClient) -> None:
        s = magma.sessions[DPID]
        sw.pause_reading()
        big = PacketOut(actions=(ActionOutput(port=1),), data=bytes(60_000))
        accepted = refused = 0
        for _ in range(2000):  # far more than the socket buffers hold
            if s.try_send(big):
                accepted += 1
            else:
                refused += 1
                if refused == 50:
                    break
            await asyncio.sleep(0)  # let the writer move what the socket takes
        assert refused == 50
        assert s.dropped == refused
        mod = asyncio.create_task(s.send(FlowMod(priority=1)))
        for _ in range(20):
            await asyncio.sleep(0)
        assert not mod.done()  # back-pressure: waits for room, never dropped
        sw.resume_reading()
        await asyncio.wait_for(mod, 10)
        await s.request(BarrierRequest(), 10)  # everything queued before it was delivered
        assert sw.packet_outs == accepted
        assert sw.flow_mods >= 1
        assert s.dropped == refused

    run(body, queue_size=4)


def test_switch_error_is_recorded_with_the_message_that_caused_it() -> None:
    async def body(magma: Magma, sw: FakeSwitch, http: httpx.AsyncClient) -> None:
        await magma.put_owner("pn-a", owner(flow(table_id=9)))  # the switch has 4 tables
        await until(lambda: bool(magma.errors))
        rec = magma.errors[0]
        assert (rec.type, rec.code) == (c.OFPET_FLOW_MOD_FAILED, c.OFPFMFC_BAD_TABLE_ID)
        assert rec.dpid == api.format_dpid(DPID)
        assert rec.caused_by is not None
        assert "FlowMod" in rec.caused_by
        assert "table_id=9" in rec.caused_by
        got = (await http.get("/errors")).json()
        assert got[0]["caused_by"] == rec.caused_by

    run(body)


def test_rest_ports_and_flows_of_a_connected_switch() -> None:
    async def body(magma: Magma, sw: FakeSwitch, http: httpx.AsyncClient) -> None:
        r = await http.get(f"/switches/{DPID:x}/ports")
        assert r.status_code == 200, r.text
        assert [(p["port_no"], p["rx_packets"], p["tx_packets"]) for p in r.json()] == [
            (1, 10, 1), (2, 20, 2)
        ]  # fmt: skip
        await magma.put_owner("pn-a", owner(flow()))
        report = (await http.get(f"/switches/{DPID:x}/flows")).json()
        assert report["connected"]
        assert report["in_sync"]
        assert {f["owner"] for f in report["installed"]} == {"pn-a", "magma-system"}
        sw.flows = {k: f for k, f in sw.flows.items() if f.priority != 10}  # the rule vanishes
        sw.flows[(0, 3, Match().encode())] = FlowStats(table_id=0, priority=3, cookie=0xBAD)
        report = (await http.get(f"/switches/{DPID:x}/flows")).json()
        assert not report["in_sync"]
        assert [(f["owner"], f["priority"]) for f in report["missing"]] == [("pn-a", 10)]
        assert [(f["owner"], f["priority"]) for f in report["stale"]] == [(None, 3)]
        assert all((await magma.sync()).values())
        assert (await http.get(f"/switches/{DPID:x}/flows")).json()["in_sync"]

    run(body)
