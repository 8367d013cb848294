"""quake's keepalive: bytes from the peer prove it alive; only a silent peer is dropped.

The bug this guards: ``ovs-ofctl add-flows`` with 65,536 rules writes
flow-mods without reading, so it never answers quake's echoes while quake is
still decoding its backlog; quake used to drop it for unanswered echoes.
Here a peer streams flow-mods for many echo intervals without ever reading
(so without answering anything) and must stay connected with every rule
installed; a peer that says nothing after HELLO is still dropped.
Every wait is bounded (``asyncio.wait_for``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from openvolcano.caldera.quake.agent import SwitchAgent
from openvolcano.caldera.quake.agent_net import ControllerTarget, QuakeSwitch
from openvolcano.caldera.quake.datapath import SwitchDatapath
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.connection import Connection, MessageReceived, Negotiated, Role
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import BarrierReply, BarrierRequest, EchoRequest, FlowMod
from openvolcano.ofp.oxm import Match

pytestmark = pytest.mark.anyio
WAIT = 10.0
INTERVAL = 0.02
MISSES = 2


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@asynccontextmanager
async def running() -> AsyncIterator[tuple[QuakeSwitch, int]]:
    sw = QuakeSwitch(
        SwitchAgent(SwitchDatapath(n_tables=2), 0x52),
        echo_interval=INTERVAL,
        echo_misses=MISSES,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sw.run(stop, [ControllerTarget(True, "127.0.0.1", 0)]))
    await asyncio.wait_for(sw.ready.wait(), WAIT)
    try:
        yield sw, sw.listen_addresses[0][1]
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)


async def handshake(port: int) -> tuple[Connection, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    conn = Connection(Role.CONTROLLER)
    writer.write(conn.data_to_send())

    async def until_negotiated() -> None:
        while True:
            data = await reader.read(65536)
            assert data, "switch closed during HELLO"
            conn.receive_data(data)
            if any(isinstance(ev, Negotiated) for ev in conn):
                return

    await asyncio.wait_for(until_negotiated(), WAIT)
    return conn, reader, writer


def flow_mod(i: int) -> FlowMod:
    acts = (ActionOutput(port=2),)
    return FlowMod(
        priority=100,
        match=Match.of(in_port=1, eth_type=0x0800, ipv4_src=i + 1),
        instructions=(InstructionApplyActions(actions=acts),),
    )


async def test_peer_streaming_flow_mods_without_reading_is_not_dropped() -> None:
    async with running() as (sw, port):
        conn, reader, writer = await handshake(port)
        loop = asyncio.get_running_loop()
        end = loop.time() + 10 * INTERVAL * (MISSES + 1)  # several times the drop deadline
        sent = 0

        async def stream() -> None:
            nonlocal sent
            while loop.time() < end:  # write, never read: echoes stay unanswered
                writer.write(conn.send(conn.assign_xid(flow_mod(sent))))
                sent += 1
                await writer.drain()
                await asyncio.sleep(0)  # yield to the switch (same event loop)

        await asyncio.wait_for(stream(), WAIT)
        barrier = conn.assign_xid(BarrierRequest())
        writer.write(conn.send(barrier))

        async def until_barrier() -> list[object]:
            seen: list[object] = []
            while True:
                data = await reader.read(65536)
                assert data, "switch dropped a peer that was streaming flow-mods"
                conn.receive_data(data)
                for ev in conn:
                    if isinstance(ev, MessageReceived):
                        seen.append(ev.msg)
                        if isinstance(ev.msg, BarrierReply) and ev.msg.xid == barrier.xid:
                            return seen

        await asyncio.wait_for(until_barrier(), WAIT)
        assert sw.counters.dead_controllers == 0
        assert len(sw.dp.pipeline.tables[0]) == sent
        writer.close()


async def test_silent_peer_is_echoed_then_dropped() -> None:
    async with running() as (sw, port):
        conn, reader, writer = await handshake(port)
        echoes = 0

        async def until_eof() -> None:
            nonlocal echoes
            while True:
                data = await reader.read(65536)
                if not data:
                    return
                conn.receive_data(data)
                echoes += sum(
                    isinstance(ev, MessageReceived) and isinstance(ev.msg, EchoRequest)
                    for ev in conn
                )

        await asyncio.wait_for(until_eof(), WAIT)  # never answered, never wrote
        assert echoes == MISSES
        assert sw.counters.dead_controllers == 1
        writer.close()
