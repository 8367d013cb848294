"""OFPP_LOCAL: optional local port (a TAP in production, a memory pair here) and its absence."""

from __future__ import annotations

import pytest

from openvolcano.caldera.quake.agent import SwitchAgent
from openvolcano.caldera.quake.daemon import make_config
from openvolcano.caldera.quake.datapath import SwitchDatapath
from openvolcano.caldera.quake.ports import MemoryPort, memory_pair
from openvolcano.common.errors import InvalidInput
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import FlowMod, PortMod
from openvolcano.ofp.multipart import (
    PortDescReply,
    PortDescRequest,
    PortStatsReply,
    PortStatsRequest,
)
from openvolcano.ofp.oxm import Match

FRAME = bytes.fromhex("020000000002020000000001") + b"\x88\xb5" + bytes(46)
LOCAL = c.OFPP_LOCAL


def _flow(in_port: int, out: int) -> FlowMod:
    return FlowMod(
        priority=10,
        match=Match.of(in_port=in_port),
        instructions=(InstructionApplyActions(actions=(ActionOutput(port=out),)),),
    )


def _switch(with_local: bool) -> tuple[SwitchDatapath, dict[int, MemoryPort]]:
    dp = SwitchDatapath(n_tables=2)
    far: dict[int, MemoryPort] = {}
    numbers = [1, 2, LOCAL] if with_local else [1, 2]
    for n in numbers:
        port, host = memory_pair(f"p{n}", f"h{n}")
        host.open()
        dp.add_port(port, n, 0.0)
        far[n] = host
    return dp, far


def test_output_to_local_reaches_the_local_port_and_back() -> None:
    dp, far = _switch(with_local=True)
    dp.flow_mod(_flow(1, LOCAL), 0.0)
    dp.flow_mod(_flow(LOCAL, 2), 0.0)
    far[1].send(FRAME)
    dp.receive(1, 1.0)
    assert far[LOCAL].recv_batch(8) == [FRAME]
    far[LOCAL].send(FRAME)  # the host stack answers through the local port
    dp.receive(LOCAL, 1.0)
    assert far[2].recv_batch(8) == [FRAME]
    assert dp.dropped_local == 0


def test_flood_leaves_local_out_and_port_desc_names_it() -> None:
    dp, far = _switch(with_local=True)
    dp.flow_mod(_flow(1, c.OFPP_FLOOD), 0.0)
    far[1].send(FRAME)
    dp.receive(1, 1.0)
    assert far[2].recv_batch(8) == [FRAME]
    assert far[LOCAL].recv_batch(8) == []
    agent = SwitchAgent(dp, 1)
    ch = agent.open_channel("test")
    ((_, reply),) = agent.handle(ch, PortDescRequest(xid=5), 1.0)
    assert isinstance(reply, PortDescReply)
    assert [(p.port_no, p.name) for p in reply.body] == [(1, "p1"), (2, "p2"), (LOCAL, f"p{LOCAL}")]
    ((_, stats),) = agent.handle(ch, PortStatsRequest(xid=6, port_no=LOCAL), 1.0)
    assert isinstance(stats, PortStatsReply)
    assert [s.port_no for s in stats.body] == [LOCAL]


def test_local_port_honours_port_mod() -> None:
    dp, far = _switch(with_local=True)
    dp.flow_mod(_flow(1, LOCAL), 0.0)
    hw = dp.ports[LOCAL].backend.hw_addr
    status = dp.port_mod(PortMod(port_no=LOCAL, hw_addr=hw, config=c.OFPPC_NO_FWD,
                                 mask=c.OFPPC_NO_FWD))  # fmt: skip
    assert status is not None
    assert status.desc.port_no == LOCAL
    far[1].send(FRAME)
    dp.receive(1, 1.0)
    assert far[LOCAL].recv_batch(8) == []


def test_without_a_local_port_outputs_to_local_are_dropped_and_counted() -> None:
    dp, far = _switch(with_local=False)
    dp.flow_mod(_flow(1, LOCAL), 0.0)
    far[1].send(FRAME)
    far[1].send(FRAME)
    dp.receive(1, 1.0)
    assert dp.dropped_local == 2
    assert [p.port_no for p in dp.port_descs()] == [1, 2]


def test_local_port_option() -> None:
    cfg = make_config(dpid="1", ports=["eth0"], local_port="qk-local0")
    assert cfg.local_port == "qk-local0"
    with pytest.raises(InvalidInput, match="local-port"):
        make_config(dpid="1", ports=["eth0"], local_port="x" * 16)
    with pytest.raises(InvalidInput, match="also given as --port"):
        make_config(dpid="1", ports=["eth0"], local_port="eth0")
