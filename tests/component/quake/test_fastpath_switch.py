"""quake with ``--workers``: agent + worker processes, a controller over TCP, geyser's client.

The switch namespace's ports are driven from generator/sink namespaces (the
``net`` fixture of ``test_fastpath_pool``). The controller is the minimal
``ofp.Connection`` client of ``test_switch_session``. Checks: flow-mods reach
the workers and BARRIER_REPLY comes only once they run them; table-miss
packet-ins come up from a worker; packet-out leaves through the agent; port
and flow statistics include the workers' counts; the management API speaks
exactly what geyser's :class:`HttpQuakeWorkers` expects.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import AsyncIterator

import pytest
from test_fastpath_pool import Net, frame, net  # the fixture is shared on purpose
from test_switch_session import Controller
from typer.testing import CliRunner

from openvolcano.caldera.geyser.actuators import HttpQuakeWorkers
from openvolcano.caldera.quake.daemon import make_config
from openvolcano.caldera.quake.fastpath.mgmt import start_mgmt_api
from openvolcano.caldera.quake.fastpath.switch import (
    FastQuakeSwitch,
    start_fastpath,
    stop_fastpath,
)
from openvolcano.cli.main import app
from openvolcano.common.errors import InvalidInput
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import BarrierReply, BarrierRequest, FlowMod, PacketIn, PacketOut
from openvolcano.ofp.multipart import (
    FlowStatsReply,
    FlowStatsRequest,
    PortStatsReply,
    PortStatsRequest,
)
from openvolcano.ofp.oxm import Match

pytestmark = [pytest.mark.root, pytest.mark.anyio]
__all__ = ["net"]
WAIT = 10.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def fwd(in_port: int, out_port: int, **kw: int) -> FlowMod:
    acts = (ActionOutput(port=out_port, max_len=kw.pop("max_len", 0)),)
    return FlowMod(
        match=Match.of(in_port=in_port), instructions=(InstructionApplyActions(actions=acts),), **kw
    )


async def sink(net: Net, port: int, n: int) -> list[bytes]:
    deadline = time.monotonic() + WAIT
    while len(net.got[port]) < n and time.monotonic() < deadline:
        await asyncio.to_thread(net.drain, 0.2)
    return net.got[port]


@contextlib.asynccontextmanager
async def running(net: Net, dpid: str, tables: int) -> AsyncIterator[tuple[FastQuakeSwitch, str]]:
    """A switch with 2 workers on the ``sw`` ports, serving OpenFlow and its management API
    (its URL); stopped, workers and all, on the way out."""
    lab = net.lab
    ports = [f"{lab.iface('sw', f'p{i}')}={i}" for i in (1, 2, 3)]
    cfg = make_config(dpid=dpid, ports=ports, listen=["ptcp:0:127.0.0.1"], tables=tables)
    sw = start_fastpath(cfg, 2, netns=lab.netns("sw"))
    stop = asyncio.Event()
    task = asyncio.create_task(sw.run(stop, cfg.listen))
    api = await start_mgmt_api("127.0.0.1", 0, sw.pool, sw.status)
    try:
        await asyncio.wait_for(sw.ready.wait(), WAIT)
        host, port = api.sockets[0].getsockname()[:2]
        yield sw, f"http://{host}:{port}"
    finally:
        api.close()
        stop.set()
        await asyncio.wait_for(task, WAIT)
        stop_fastpath(sw)


async def test_controller_drives_the_workers_and_geyser_sets_active_workers(net: Net) -> None:
    async with running(net, "0x51", tables=2) as (sw, url):
        ctl = await Controller.connect(sw.listen_addresses[0][1])
        ctl.send(fwd(1, 2))
        for i in range(2000):  # a burst: shipped as few updates, the barrier waits for them
            ctl.send(fwd(3, 1, priority=i + 1))
        await ctl.request(BarrierRequest(), BarrierReply)
        assert min(sw.pool.log.acked.values()) == sw.pool.log.version
        assert sw.updates_published < 2001  # coalesced
        sent = [frame(1000 + i % 16, i) for i in range(64)]
        net.gen.send_batch(sent)
        assert sorted(await sink(net, 2, 64)) == sorted(sent)

        ctl.send(FlowMod(command=c.OFPFC_DELETE, table_id=c.OFPTT_ALL, match=Match()))
        ctl.send(fwd(1, c.OFPP_CONTROLLER, max_len=c.OFPCML_NO_BUFFER))
        await ctl.request(BarrierRequest(), BarrierReply)
        net.gen.send_batch([frame(7, 999)])
        pin = await ctl.expect(PacketIn)
        assert pin.data[:46] == frame(7, 999)[:46]
        assert pin.reason == c.OFPR_ACTION

        out = PacketOut(in_port=c.OFPP_CONTROLLER, actions=(ActionOutput(port=3, max_len=0),),
                        data=frame(8, 4242))  # fmt: skip
        ctl.send(out)
        assert frame(8, 4242) in await sink(net, 3, 1)

        sw.pool.publish([])  # (flush the workers' counters now rather than in 1 s)
        flows = await ctl.request(FlowStatsRequest(), FlowStatsReply)
        deadline = time.monotonic() + WAIT
        while not any(s.packet_count for s in flows.body) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)  # bounded: the workers report every second
            flows = await ctl.request(FlowStatsRequest(), FlowStatsReply)
        assert [s.packet_count for s in flows.body] == [1]
        stats = await ctl.request(PortStatsRequest(port_no=c.OFPP_ANY), PortStatsReply)
        rx1 = next(s.rx_packets for s in stats.body if s.port_no == 1)
        assert rx1 >= 65

        geyser = HttpQuakeWorkers(url)
        st = await asyncio.to_thread(geyser.status)
        assert (st.active, st.maximum, len(st.pids)) == (2, 2, 2)
        await asyncio.to_thread(geyser.set_active, 1)
        assert sw.pool.active == 1
        with pytest.raises(InvalidInput, match=r"1\.\.2"):
            await asyncio.to_thread(geyser.set_active, 3)
        geyser.close()
        ctl.close()


async def test_a_worker_that_dies_leaves_its_traffic_and_barriers_to_the_others(net: Net) -> None:
    """Worker 0 is killed (by pid, SIGKILL): the kernel moves the fanout group's last member
    (the agent's socket) into its place; the pool must steer around that, stop waiting for
    it at barriers and say what happened."""
    async with running(net, "0x52", tables=1) as (sw, url):
        ctl = await Controller.connect(sw.listen_addresses[0][1])
        ctl.send(fwd(1, 2))
        await ctl.request(BarrierRequest(), BarrierReply)
        pids = sw.pool.status()["pids"]
        assert isinstance(pids, list)
        assert len(pids) == 2
        os.kill(pids[0], signal.SIGKILL)  # worker 0, our own child
        for _ in range(int(WAIT / 0.05)):  # the agent's loop reads its end of file
            if 0 in sw.pool.exited:
                break
            await asyncio.sleep(0.05)
        client = HttpQuakeWorkers(url)
        try:
            st = await asyncio.to_thread(client.status)
        finally:
            client.close()
        assert st.exited == ((0, -signal.SIGKILL),)
        assert list(st.pids) == pids[1:]
        res = await asyncio.to_thread(CliRunner().invoke, app, ["quake", "workers", "--api", url])
        assert res.exit_code == 0, res.output
        assert f"worker 0 exited (status {-signal.SIGKILL})" in res.output

        ctl.send(fwd(3, 1, priority=7))  # the barrier no longer waits for the dead worker
        await asyncio.wait_for(ctl.request(BarrierRequest(), BarrierReply), WAIT)
        sent = [frame(2000 + i, i) for i in range(64)]  # ~half hashed to worker 0 before
        net.gen.send_batch(sent)
        assert sorted(await sink(net, 2, 64)) == sorted(sent)
        ctl.close()
