"""quake's agent protocol logic against the real pipeline and memory ports (no sockets, no mocks)."""

from __future__ import annotations

import pytest

from openvolcano.caldera.quake.agent import Channel, SwitchAgent
from openvolcano.caldera.quake.datapath import SwitchDatapath
from openvolcano.caldera.quake.ports import MemoryPort, memory_pair
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.base import Message
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import (
    BarrierReply,
    BarrierRequest,
    Error,
    Experimenter,
    FeaturesReply,
    FeaturesRequest,
    FlowMod,
    FlowRemoved,
    GetAsyncReply,
    GetAsyncRequest,
    GetConfigReply,
    GetConfigRequest,
    PacketIn,
    PacketOut,
    PortMod,
    PortStatus,
    RoleReply,
    RoleRequest,
    SetAsync,
    SetConfig,
)
from openvolcano.ofp.multipart import (
    DescReply,
    DescRequest,
    FlowStatsReply,
    FlowStatsRequest,
    PortDescReply,
    PortDescRequest,
    PortStatsReply,
    PortStatsRequest,
    TableFeaturesReply,
    TableFeaturesRequest,
    merge_replies,
)
from openvolcano.ofp.oxm import Match

MASTER, SLAVE, EQUAL = c.OFPCR_ROLE_MASTER, c.OFPCR_ROLE_SLAVE, c.OFPCR_ROLE_EQUAL


class Rig:
    """A 3-port switch; ``hosts[n]`` is the far end of port n."""

    def __init__(self, n_tables: int = 4, fail_mode: str = "secure", n_buffers: int = 16) -> None:
        self.dp = SwitchDatapath(n_tables=n_tables, n_buffers=n_buffers)
        self.agent = SwitchAgent(self.dp, 0xABC, fail_mode=fail_mode)
        self.hosts: dict[int, MemoryPort] = {}
        for n in (1, 2, 3):
            port, host = memory_pair(f"p{n}", f"h{n}")
            host.open()
            self.dp.add_port(port, n, 0.0)
            self.hosts[n] = host

    def send(self, ch: Channel, msg: Message, now: float = 1.0) -> list[tuple[Channel, Message]]:
        return self.agent.handle(ch, msg, now)

    def only(self, ch: Channel, msg: Message, now: float = 1.0) -> Message:
        out = self.send(ch, msg, now)
        assert len(out) == 1, out
        assert out[0][0] is ch
        return out[0][1]

    def inject(self, port: int, frame: bytes, now: float = 1.0) -> list[PacketIn]:
        self.hosts[port].send(frame)
        return self.dp.receive(port, now)


def eth(dst: str = "ff:ff:ff:ff:ff:ff", src: str = "02:00:00:00:00:01", size: int = 100) -> bytes:
    raw = bytes.fromhex(dst.replace(":", "")) + bytes.fromhex(src.replace(":", ""))
    return (raw + b"\x88\xb5").ljust(size, b"\x01")


def flow(port_in: int, port_out: int, **kw: int) -> FlowMod:
    return FlowMod(
        match=Match.of(in_port=port_in),
        instructions=(InstructionApplyActions(actions=(ActionOutput(port=port_out),)),),
        **kw,
    )


def to_controller(max_len: int) -> FlowMod:
    act = ActionOutput(port=c.OFPP_CONTROLLER, max_len=max_len)
    return FlowMod(priority=0, instructions=(InstructionApplyActions(actions=(act,)),))


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_features_config_and_desc(rig: Rig) -> None:
    ch = rig.agent.open_channel("c1")
    reply = rig.only(ch, FeaturesRequest(xid=7))
    assert isinstance(reply, FeaturesReply)
    assert (reply.xid, reply.datapath_id, reply.n_tables, reply.n_buffers) == (7, 0xABC, 4, 16)
    assert rig.send(ch, SetConfig(xid=8, flags=0, miss_send_len=200)) == []
    cfg = rig.only(ch, GetConfigRequest(xid=9))
    assert isinstance(cfg, GetConfigReply)
    assert cfg.miss_send_len == 200
    desc = rig.only(ch, DescRequest(xid=10))
    assert isinstance(desc, DescReply)
    assert desc.mfr_desc == "OpenVolcano"
    assert desc.xid == 10
    ports = rig.only(ch, PortDescRequest(xid=11))
    assert isinstance(ports, PortDescReply)
    assert [p.port_no for p in ports.body] == [1, 2, 3]
    assert [p.name for p in ports.body] == ["p1", "p2", "p3"]


def test_flow_mod_then_barrier_then_traffic_and_stats(rig: Rig) -> None:
    ch = rig.agent.open_channel("c1")
    assert rig.send(ch, flow(1, 2, xid=3)) == []
    barrier = rig.only(ch, BarrierRequest(xid=4))
    assert isinstance(barrier, BarrierReply)
    assert barrier.xid == 4
    assert rig.inject(1, eth()) == []
    assert rig.hosts[2].recv_batch(10) == [eth()]
    assert rig.hosts[3].recv_batch(10) == []
    stats = rig.only(ch, FlowStatsRequest(xid=5))
    assert isinstance(stats, FlowStatsReply)
    assert [(s.packet_count, s.byte_count) for s in stats.body] == [(1, 100)]
    ps = rig.only(ch, PortStatsRequest(xid=6, port_no=2))
    assert isinstance(ps, PortStatsReply)
    assert ps.body[0].tx_packets == 1


def test_refused_request_gets_error_with_first_64_bytes(rig: Rig) -> None:
    ch = rig.agent.open_channel("c1")
    bad = flow(1, 2, xid=21, table_id=9)  # the switch has 4 tables
    err = rig.only(ch, bad)
    assert isinstance(err, Error)
    assert (err.xid, err.type, err.code) == (21, c.OFPET_FLOW_MOD_FAILED, c.OFPFMFC_BAD_TABLE_ID)
    assert err.data == bad.encode()[:64]
    exp = rig.only(ch, Experimenter(xid=22, experimenter=0x2320))
    assert isinstance(exp, Error)
    assert exp.code == c.OFPBRC_BAD_EXPERIMENTER
    cfg = rig.only(ch, SetConfig(xid=23, flags=c.OFPC_FRAG_DROP))
    assert isinstance(cfg, Error)
    assert cfg.type == c.OFPET_SWITCH_CONFIG_FAILED
    tf = rig.only(ch, TableFeaturesRequest(xid=24, body=(TableFeaturesReply().body)))
    assert isinstance(tf, TableFeaturesReply)  # an empty body is a query
    assert rig.agent.recent_errors[-1].request == "SetConfig"


def test_roles_generation_ids_and_slave_restrictions(rig: Rig) -> None:
    a, b = rig.agent.open_channel("a"), rig.agent.open_channel("b")
    r = rig.only(a, RoleRequest(xid=1, role=MASTER, generation_id=10))
    assert isinstance(r, RoleReply)
    assert (r.role, r.generation_id) == (MASTER, 10)
    r = rig.only(b, RoleRequest(xid=2, role=MASTER, generation_id=11))
    assert isinstance(r, RoleReply)
    assert r.role == MASTER
    assert a.role == SLAVE  # demoted by the new master
    stale = rig.only(a, RoleRequest(xid=3, role=MASTER, generation_id=9))
    assert isinstance(stale, Error)
    assert (stale.type, stale.code) == (c.OFPET_ROLE_REQUEST_FAILED, c.OFPRRFC_STALE)
    denied = rig.only(a, flow(1, 2, xid=4))
    assert isinstance(denied, Error)
    assert denied.code == c.OFPBRC_IS_SLAVE
    assert rig.dp.pipeline.flow_stats(1.0) == []
    nochange = rig.only(a, RoleRequest(xid=5, role=c.OFPCR_ROLE_NOCHANGE))
    assert isinstance(nochange, RoleReply)
    assert nochange.role == SLAVE
    bad = rig.only(a, RoleRequest(xid=6, role=9))
    assert isinstance(bad, Error)
    assert bad.code == c.OFPRRFC_BAD_ROLE
    # Generation ids are compared as a signed 64-bit distance, so they may wrap around.
    for gen in ((1 << 63) + 5, (1 << 64) - 1, 0):
        ok = rig.only(b, RoleRequest(xid=7, role=MASTER, generation_id=gen))
        assert isinstance(ok, RoleReply)
        assert ok.generation_id == gen


def test_async_config_filters_by_role(rig: Rig) -> None:
    master, slave = rig.agent.open_channel("m"), rig.agent.open_channel("s")
    rig.only(master, RoleRequest(role=MASTER, generation_id=1))
    rig.only(slave, RoleRequest(role=SLAVE, generation_id=1))
    rig.send(master, to_controller(c.OFPCML_NO_BUFFER))
    pins = rig.inject(1, eth())
    assert [ch.name for ch, _ in rig.agent.publish(pins)] == ["m"]
    st = PortStatus(reason=c.OFPPR_MODIFY, desc=rig.dp.port_descs()[0])
    assert sorted(ch.name for ch, _ in rig.agent.publish([st])) == ["m", "s"]
    rig.send(slave, SetAsync(packet_in_mask=(0, 1 << c.OFPR_NO_MATCH), port_status_mask=(0, 0),
                             flow_removed_mask=(0, 0)))  # fmt: skip
    assert [ch.name for ch, _ in rig.agent.publish(pins)] == ["m", "s"]
    assert [ch.name for ch, _ in rig.agent.publish([st])] == ["m"]
    got = rig.only(slave, GetAsyncRequest(xid=3))
    assert isinstance(got, GetAsyncReply)
    assert got.packet_in_mask == (0, 1 << c.OFPR_NO_MATCH)


def test_buffered_packet_in_then_packet_out_by_buffer_id(rig: Rig) -> None:
    ch = rig.agent.open_channel("c1")
    rig.send(ch, to_controller(64))
    frame = eth(size=300)
    (pin,) = rig.inject(1, frame)
    assert pin.buffer_id != c.OFP_NO_BUFFER
    assert (pin.total_len, len(pin.data), pin.reason) == (300, 64, c.OFPR_NO_MATCH)
    assert pin.data == frame[:64]
    out = PacketOut(xid=9, buffer_id=pin.buffer_id, in_port=1, actions=(ActionOutput(port=3),))
    assert rig.send(ch, out) == []
    assert rig.hosts[3].recv_batch(10) == [frame]
    again = rig.only(ch, out)
    assert isinstance(again, Error)
    assert again.code == c.OFPBRC_BUFFER_UNKNOWN


def test_unbuffered_packet_in_and_flow_mod_releasing_a_buffer(rig: Rig) -> None:
    ch = rig.agent.open_channel("c1")
    rig.send(ch, to_controller(c.OFPCML_NO_BUFFER))
    (pin,) = rig.inject(1, eth(size=300))
    assert pin.buffer_id == c.OFP_NO_BUFFER
    assert len(pin.data) == 300
    rig.send(ch, to_controller(32))
    (pin,) = rig.inject(1, eth(size=200))
    assert rig.send(ch, flow(1, 2, priority=10, buffer_id=pin.buffer_id)) == []
    assert rig.hosts[2].recv_batch(10) == [eth(size=200)]


def test_buffer_pool_is_bounded() -> None:
    rig = Rig(n_buffers=2)
    ch = rig.agent.open_channel("c1")
    rig.send(ch, to_controller(16))
    ids = [rig.inject(1, eth(src=f"02:00:00:00:00:0{i}"))[0].buffer_id for i in range(3)]
    assert len(rig.dp.buffers) == 2
    assert rig.dp.buffers.evicted == 1
    po = PacketOut(buffer_id=ids[0], in_port=1, actions=(ActionOutput(port=2),))
    err = rig.only(ch, po)
    assert isinstance(err, Error)
    assert err.code == c.OFPBRC_BUFFER_UNKNOWN
    assert (
        rig.send(ch, PacketOut(buffer_id=ids[2], in_port=1, actions=(ActionOutput(port=2),))) == []
    )


def test_port_mod_no_fwd_and_port_down_and_errors(rig: Rig) -> None:
    ch = rig.agent.open_channel("c1")
    rig.send(ch, flow(1, 2))
    hw2 = rig.dp.ports[2].backend.hw_addr
    out = rig.send(ch, PortMod(port_no=2, hw_addr=hw2, config=c.OFPPC_NO_FWD, mask=c.OFPPC_NO_FWD))
    assert len(out) == 1
    assert isinstance(out[0][1], PortStatus)
    assert out[0][1].desc.config == c.OFPPC_NO_FWD
    rig.inject(1, eth())
    assert rig.hosts[2].recv_batch(10) == []
    rig.send(ch, PortMod(port_no=2, hw_addr=hw2, config=0, mask=c.OFPPC_NO_FWD))
    hw1 = rig.dp.ports[1].backend.hw_addr
    rig.send(ch, PortMod(port_no=1, hw_addr=hw1, config=c.OFPPC_PORT_DOWN, mask=c.OFPPC_PORT_DOWN))
    rig.inject(1, eth())
    assert rig.hosts[2].recv_batch(10) == []
    assert rig.dp.dropped_port_down == 1
    wrong = rig.only(ch, PortMod(port_no=3, hw_addr=hw1, config=0, mask=0))
    assert isinstance(wrong, Error)
    assert wrong.code == c.OFPPMFC_BAD_HW_ADDR
    missing = rig.only(ch, PortMod(port_no=42, hw_addr=hw1))
    assert isinstance(missing, Error)
    assert missing.code == c.OFPPMFC_BAD_PORT


def test_no_packet_in_port_config_suppresses_packet_ins(rig: Rig) -> None:
    ch = rig.agent.open_channel("c1")
    rig.send(ch, to_controller(c.OFPCML_NO_BUFFER))
    hw1 = rig.dp.ports[1].backend.hw_addr
    bit = c.OFPPC_NO_PACKET_IN
    rig.send(ch, PortMod(port_no=1, hw_addr=hw1, config=bit, mask=bit))
    assert rig.inject(1, eth()) == []
    assert len(rig.inject(2, eth())) == 1


def test_large_flow_stats_reply_is_split() -> None:
    rig = Rig()
    ch = rig.agent.open_channel("c1")
    for i in range(1500):
        rig.send(ch, FlowMod(priority=i, match=Match.of(in_port=1, eth_type=0x800, ipv4_dst=i + 1)))
    parts = [m for _, m in rig.send(ch, FlowStatsRequest(xid=77))]
    assert len(parts) > 1
    assert all(isinstance(p, FlowStatsReply) and p.xid == 77 for p in parts)
    assert all(p.flags & c.OFPMPF_REPLY_MORE for p in parts[:-1])  # type: ignore[attr-defined]
    assert all(len(p.encode()) <= 0xFFFF for p in parts)
    merged = merge_replies(parts)  # type: ignore[arg-type]
    assert isinstance(merged, FlowStatsReply)
    assert len(merged.body) == 1500


def test_flow_expiry_sends_flow_removed_to_masters_only(rig: Rig) -> None:
    m, s = rig.agent.open_channel("m"), rig.agent.open_channel("s")
    rig.only(s, RoleRequest(role=SLAVE, generation_id=1))
    rig.send(m, flow(1, 2, idle_timeout=5, flags=c.OFPFF_SEND_FLOW_REM), now=0.0)
    assert rig.dp.expire(4.0) == []
    removed = rig.dp.expire(6.0)
    assert [r.reason for r in removed] == [c.OFPRR_IDLE_TIMEOUT]
    out = rig.agent.publish(removed)
    assert [(ch.name, type(msg)) for ch, msg in out] == [("m", FlowRemoved)]


def test_standalone_learns_while_no_controller_is_connected() -> None:
    rig = Rig(fail_mode="standalone")
    assert rig.dp.standalone
    a, b = "02:00:00:00:00:0a", "02:00:00:00:00:0b"
    rig.inject(1, eth(dst=b, src=a))  # unknown destination: flooded
    assert len(rig.hosts[2].recv_batch(10)) == 1
    assert len(rig.hosts[3].recv_batch(10)) == 1
    rig.inject(2, eth(dst=a, src=b))  # learned: only to port 1
    assert len(rig.hosts[1].recv_batch(10)) == 1
    assert rig.hosts[3].recv_batch(10) == []
    ch = rig.agent.open_channel("c1")
    assert not rig.dp.standalone  # a controller took over: the (empty) pipeline drops
    rig.inject(2, eth(dst=a, src=b))
    assert rig.hosts[1].recv_batch(10) == []
    rig.agent.close_channel(ch)
    assert rig.dp.standalone


def test_secure_mode_never_learns() -> None:
    rig = Rig(fail_mode="secure")
    assert not rig.dp.standalone
    rig.inject(1, eth())
    assert all(h.recv_batch(10) == [] for h in rig.hosts.values())


def test_bad_fail_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="fail mode"):
        SwitchAgent(SwitchDatapath(n_tables=1), 1, fail_mode="open")
