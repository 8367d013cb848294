"""quake with memory ports, driven by a controller built on ofp.Connection over loopback TCP.

Every wait is bounded (``asyncio.wait_for``); nothing sleeps to let time pass.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import TypeVar

import pytest

from openvolcano.caldera.quake.agent import SwitchAgent
from openvolcano.caldera.quake.agent_net import ControllerTarget, QuakeSwitch
from openvolcano.caldera.quake.datapath import SwitchDatapath
from openvolcano.caldera.quake.ports import MemoryPort, memory_pair
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.base import Message
from openvolcano.ofp.connection import (
    Connection,
    ConnectionClosed,
    MessageReceived,
    Negotiated,
    Role,
)
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import (
    BarrierReply,
    BarrierRequest,
    Error,
    FeaturesReply,
    FeaturesRequest,
    FlowMod,
    PacketIn,
    PacketOut,
    PortStatus,
    RoleReply,
    RoleRequest,
)
from openvolcano.ofp.multipart import FlowStatsReply, FlowStatsRequest
from openvolcano.ofp.oxm import Match

pytestmark = pytest.mark.anyio
T = TypeVar("T", bound=Message)
WAIT = 5.0
LOOPBACK = "127.0.0.1"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Controller:
    """A minimal OpenFlow controller: Connection + asyncio streams."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.conn = Connection(Role.CONTROLLER)
        self.inbox: list[Message] = []
        self.closed = False
        self.answer_echoes = True

    @classmethod
    async def connect(cls, port: int) -> Controller:
        r, w = await asyncio.open_connection(LOOPBACK, port)
        ctl = cls(r, w)
        w.write(ctl.conn.data_to_send())
        await ctl._until(lambda ev: isinstance(ev, Negotiated))
        return ctl

    async def _pump(self) -> list[object]:
        data = await self.reader.read(65536)
        self.conn.receive_data(data)
        events: list[object] = list(self.conn)
        auto = self.conn.data_to_send()
        if self.answer_echoes:
            self.writer.write(auto)
        for ev in events:
            if isinstance(ev, MessageReceived):
                self.inbox.append(ev.msg)
            elif isinstance(ev, ConnectionClosed):
                self.closed = True
        return events

    async def _until(self, pred: object) -> None:
        async def loop() -> None:
            while True:
                for ev in await self._pump():
                    if callable(pred) and pred(ev):
                        return
                if self.closed:
                    raise ConnectionError("switch closed the connection")

        await asyncio.wait_for(loop(), WAIT)

    def send(self, msg: Message) -> int:
        msg = self.conn.assign_xid(msg)
        self.writer.write(self.conn.send(msg))
        return msg.xid

    async def expect(self, kind: type[T], xid: int | None = None) -> T:
        async def loop() -> T:
            while True:
                for i, m in enumerate(self.inbox):
                    if isinstance(m, kind) and (xid is None or m.xid == xid):
                        del self.inbox[i]
                        return m
                await self._pump()
                if self.closed:
                    raise ConnectionError("switch closed the connection")

        return await asyncio.wait_for(loop(), WAIT)

    async def request(self, msg: Message, kind: type[T]) -> T:
        return await self.expect(kind, self.send(msg))

    async def wait_closed(self) -> None:
        async def loop() -> None:
            while not self.closed:
                await self._pump()

        await asyncio.wait_for(loop(), WAIT)

    def close(self) -> None:
        self.writer.close()


@asynccontextmanager
async def running(
    *,
    fail_mode: str = "secure",
    controllers: Sequence[ControllerTarget] = (),
    echo_interval: float = 5.0,
    echo_misses: int = 3,
) -> AsyncIterator[tuple[QuakeSwitch, dict[int, MemoryPort], int]]:
    dp = SwitchDatapath(n_tables=4)
    sw = QuakeSwitch(
        SwitchAgent(dp, 0x51, fail_mode=fail_mode),
        controllers=controllers,
        echo_interval=echo_interval,
        echo_misses=echo_misses,
    )
    hosts: dict[int, MemoryPort] = {}
    for n in (1, 2):
        port, host = memory_pair(f"p{n}", f"h{n}")
        host.open()
        sw.add_port(port, n)
        hosts[n] = host
    stop = asyncio.Event()
    task = asyncio.create_task(sw.run(stop, [ControllerTarget(True, LOOPBACK, 0)]))
    await asyncio.wait_for(sw.ready.wait(), WAIT)
    try:
        yield sw, hosts, sw.listen_addresses[0][1]
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)


def eth(size: int = 80) -> bytes:
    return (bytes.fromhex("ffffffffffff020000000001") + b"\x88\xb5").ljust(size, b"\x07")


async def host_receives(host: MemoryPort) -> list[bytes]:
    """Wait (bounded) until ``host``'s queue is readable, then drain it."""
    loop = asyncio.get_running_loop()
    ready = asyncio.Event()
    loop.add_reader(host.fileno(), ready.set)
    try:
        await asyncio.wait_for(ready.wait(), WAIT)
    finally:
        loop.remove_reader(host.fileno())
    return host.recv_batch(16)


def fwd(in_port: int, out_port: int, **kw: int) -> FlowMod:
    acts = (ActionOutput(port=out_port, max_len=kw.pop("max_len", 0)),)
    return FlowMod(
        match=Match.of(in_port=in_port), instructions=(InstructionApplyActions(actions=acts),), **kw
    )


async def test_handshake_flows_packet_in_out_and_stats() -> None:
    async with running() as (sw, hosts, port):
        ctl = await Controller.connect(port)
        feats = await ctl.request(FeaturesRequest(), FeaturesReply)
        assert feats.datapath_id == 0x51
        assert feats.n_tables == 4
        ctl.send(fwd(1, 2))
        ctl.send(fwd(2, c.OFPP_CONTROLLER, max_len=c.OFPCML_NO_BUFFER))
        await ctl.request(BarrierRequest(), BarrierReply)
        hosts[1].send(eth())
        assert await host_receives(hosts[2]) == [eth()]
        hosts[2].send(eth(120))
        pin = await ctl.expect(PacketIn)
        assert pin.reason == c.OFPR_ACTION
        assert pin.data == eth(120)
        assert pin.buffer_id == c.OFP_NO_BUFFER
        ctl.send(
            PacketOut(in_port=c.OFPP_CONTROLLER, actions=(ActionOutput(port=1),), data=b"x" * 64)
        )
        assert await host_receives(hosts[1]) == [b"x" * 64]
        stats = await ctl.request(FlowStatsRequest(), FlowStatsReply)
        assert sorted(s.packet_count for s in stats.body) == [1, 1]
        err = await ctl.request(fwd(1, 2, table_id=7), Error)
        assert (err.type, err.code) == (c.OFPET_FLOW_MOD_FAILED, c.OFPFMFC_BAD_TABLE_ID)
        assert sw.status()["channels"] != []
        ctl.close()


async def test_roles_over_two_connections() -> None:
    async with running() as (_sw, hosts, port):
        a = await Controller.connect(port)
        b = await Controller.connect(port)
        ra = await a.request(RoleRequest(role=c.OFPCR_ROLE_MASTER, generation_id=1), RoleReply)
        rb = await b.request(RoleRequest(role=c.OFPCR_ROLE_SLAVE, generation_id=1), RoleReply)
        assert (ra.role, rb.role) == (c.OFPCR_ROLE_MASTER, c.OFPCR_ROLE_SLAVE)
        err = await b.request(fwd(1, c.OFPP_CONTROLLER), Error)
        assert err.code == c.OFPBRC_IS_SLAVE
        a.send(fwd(1, c.OFPP_CONTROLLER, max_len=c.OFPCML_NO_BUFFER))
        await a.request(BarrierRequest(), BarrierReply)
        hosts[1].send(eth())
        assert (await a.expect(PacketIn)).data == eth()
        await b.request(BarrierRequest(), BarrierReply)  # b's channel is flushed: no packet-in
        assert not any(isinstance(m, PacketIn) for m in b.inbox)
        a.close()
        b.close()


async def test_active_connection_and_port_status() -> None:
    accepted: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()

    async def on_connect(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        await accepted.put((r, w))

    server = await asyncio.start_server(on_connect, LOOPBACK, 0)
    ctl_port = server.sockets[0].getsockname()[1]
    try:
        async with running(controllers=[ControllerTarget(False, LOOPBACK, ctl_port)]) as (
            sw,
            hosts,
            _,
        ):
            r, w = await asyncio.wait_for(accepted.get(), WAIT)
            ctl = Controller(r, w)
            w.write(ctl.conn.data_to_send())
            await ctl._until(lambda ev: isinstance(ev, Negotiated))
            await ctl.request(BarrierRequest(), BarrierReply)
            hosts[2].set_link(False)
            st = await ctl.expect(PortStatus)
            assert st.reason == c.OFPPR_MODIFY
            assert st.desc.port_no == 2
            assert st.desc.state & c.OFPPS_LINK_DOWN
            assert sw.status()["controllers"] == [
                {"target": f"tcp:{LOOPBACK}:{ctl_port}", "connected": True, "attempts": 1,
                 "last_error": ""}
            ]  # fmt: skip
            ctl.close()
    finally:
        server.close()


async def test_controller_that_ignores_echoes_is_dropped() -> None:
    async with running(echo_interval=0.02, echo_misses=2) as (sw, _hosts, port):
        ctl = await Controller.connect(port)
        ctl.answer_echoes = False
        await ctl.wait_closed()
        ctl.close()
        assert sw.counters.dead_controllers == 1


async def test_standalone_switch_floods_until_a_controller_connects() -> None:
    async with running(fail_mode="standalone") as (_sw, hosts, port):
        hosts[1].send(eth())
        assert await host_receives(hosts[2]) == [eth()]
        ctl = await Controller.connect(port)
        await ctl.request(BarrierRequest(), BarrierReply)
        hosts[1].send(eth())
        await ctl.request(BarrierRequest(), BarrierReply)
        assert hosts[2].recv_batch(16) == []  # secure pipeline now: empty tables drop
        ctl.close()
