"""The exact-match flow cache: with cache == without cache (hypothesis), key modes, eviction.

The oracle is :meth:`Pipeline.process` alone on a second pipeline that receives
the same flow-mods and port changes: frames emitted per port (in order),
packet-ins, and (after ``flush``) flow, table and port counters must agree.
"""

from __future__ import annotations

import struct

import quake_frames as fr
from hypothesis import given, settings
from hypothesis import strategies as st

from openvolcano.caldera.quake.pipeline import Pipeline, PipelineError, StaticPorts
from openvolcano.caldera.quake.pipeline.cache import FlowCache, key_profile
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import (
    Action,
    ActionDecNwTtl,
    ActionOutput,
    ActionPopVlan,
    ActionPushVlan,
    ActionSetField,
)
from openvolcano.ofp.instructions import (
    Instruction,
    InstructionApplyActions,
    InstructionGotoTable,
    InstructionWriteActions,
    InstructionWriteMetadata,
)
from openvolcano.ofp.messages import FlowMod
from openvolcano.ofp.oxm import Match, OxmTLV

MAC_C = bytes.fromhex("02000000000c")
IP_C = bytes([10, 0, 0, 3])


def _frame(kind: int, dst: bytes, src_ip: bytes, dport: int, ip_id: int) -> bytes:
    if kind == 0:
        f = fr.eth(dst=dst) + fr.ipv4(17, fr.udp(5000, dport, src=src_ip), src=src_ip)
    elif kind == 1:
        f = fr.eth(dst=dst) + fr.ipv4(6, fr.tcp(1234, dport, src=src_ip), src=src_ip)
    elif kind == 2:
        f = fr.arp_frame()
    elif kind == 3:  # VLAN-tagged UDP: never cached under the IPv4 profile
        f = fr.eth(dst=dst, vlans=((0x8100, 7, 1),)) + fr.ipv4(17, fr.udp(5000, dport))
    elif kind == 4:  # TCP cut inside its header: L4 absent, malformed
        f = (fr.eth(dst=dst) + fr.ipv4(6, fr.tcp(1234, dport, src=src_ip), src=src_ip))[:40]
    else:  # non-first fragment: no L4 fields
        f = fr.eth(dst=dst) + fr.ipv4(17, fr.udp(5000, dport), frag=8)
    if kind != 2 and len(f) >= 20 + (4 if kind == 3 else 0):
        o = 18 + (4 if kind == 3 else 0)
        f = f[:o] + struct.pack("!H", ip_id) + f[o + 2 :]  # IP id: volatile byte
    return f


frame_st = st.builds(
    _frame,
    st.sampled_from([0, 0, 0, 1, 1, 2, 3, 4, 5]),  # mostly well-formed IPv4
    st.sampled_from([fr.MAC_B, MAC_C]),
    st.sampled_from([fr.IP_A, IP_C]),
    st.sampled_from([53, 80]),
    st.integers(0, 1),
)

# (field, values, prerequisite fields)
_MATCHABLE = [
    (c.OFPXMT_OFB_IN_PORT, (1, 2), ()),
    (c.OFPXMT_OFB_ETH_DST, (int.from_bytes(fr.MAC_B, "big"), int.from_bytes(MAC_C, "big")), ()),
    (c.OFPXMT_OFB_ETH_TYPE, (0x0800, 0x0806), ()),
    (c.OFPXMT_OFB_IPV4_SRC, (int.from_bytes(fr.IP_A, "big"), int.from_bytes(IP_C, "big")),
     ((c.OFPXMT_OFB_ETH_TYPE, 0x0800),)),
    (c.OFPXMT_OFB_IP_PROTO, (6, 17), ((c.OFPXMT_OFB_ETH_TYPE, 0x0800),)),
    (c.OFPXMT_OFB_UDP_DST, (53, 80),
     ((c.OFPXMT_OFB_ETH_TYPE, 0x0800), (c.OFPXMT_OFB_IP_PROTO, 17))),
    (c.OFPXMT_OFB_TCP_DST, (53, 80),
     ((c.OFPXMT_OFB_ETH_TYPE, 0x0800), (c.OFPXMT_OFB_IP_PROTO, 6))),
    (c.OFPXMT_OFB_VLAN_VID, (c.OFPVID_NONE, c.OFPVID_PRESENT | 7), ()),
]  # fmt: skip


@st.composite
def match_st(draw: st.DrawFn) -> Match:
    chosen: dict[int, int] = {}
    for field, values, prereq in draw(st.lists(st.sampled_from(_MATCHABLE), max_size=2)):
        v = draw(st.sampled_from(values))
        for pf, pv in prereq:
            if chosen.get(pf, pv) != pv:
                break
        else:
            chosen.update(prereq)
            chosen.setdefault(field, v)
    return Match(fields=tuple(OxmTLV(field=f, value=v) for f, v in sorted(chosen.items())))


action_st = st.one_of(
    st.builds(ActionOutput, port=st.sampled_from([1, 2, 3, 4, c.OFPP_IN_PORT]), max_len=st.just(0)),
    st.builds(ActionOutput, port=st.just(c.OFPP_CONTROLLER), max_len=st.just(c.OFPCML_NO_BUFFER)),
    st.builds(lambda v: ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_ETH_DST, value=v)),
              st.sampled_from([0x0A0000000001, int.from_bytes(MAC_C, "big")])),
    st.builds(lambda v: ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_ETH_SRC, value=v)),
              st.just(0x0A0000000002)),
    st.builds(lambda v: ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_VLAN_VID, value=v)),
              st.sampled_from([c.OFPVID_PRESENT | 9, c.OFPVID_PRESENT | 7])),
    st.just(ActionPushVlan(ethertype=0x8100)),
    st.just(ActionPopVlan()),
    st.just(ActionDecNwTtl()),
)  # fmt: skip


@st.composite
def flow_mod_st(draw: st.DrawFn) -> FlowMod:
    table = draw(st.integers(0, 1))
    port = draw(st.sampled_from([1, 2, 3, c.OFPP_IN_PORT]))
    common = [  # the shapes the fast path specialises, then anything
        [ActionOutput(port=port, max_len=0)],
        [ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_ETH_DST, value=0x0A0000000001)),
         ActionOutput(port=port, max_len=0)],
        [ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_ETH_DST, value=0x0A0000000001)),
         ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_ETH_SRC, value=0x0A0000000002)),
         ActionOutput(port=port, max_len=0)],
    ]  # fmt: skip
    acts_st = st.one_of(st.sampled_from(common), st.lists(action_st, max_size=4))
    ins: list[Instruction] = [InstructionApplyActions(actions=tuple(draw(acts_st)))]
    if draw(st.booleans()):
        acts: tuple[Action, ...] = (ActionOutput(port=draw(st.integers(1, 3)), max_len=0),)
        ins.append(InstructionWriteActions(actions=acts))
    if table == 0 and draw(st.booleans()):
        ins.append(InstructionWriteMetadata(metadata=5, metadata_mask=0xFF))
        ins.append(InstructionGotoTable(table_id=1))
    delete = draw(st.integers(0, 5)) == 0
    return FlowMod(
        table_id=table,
        command=c.OFPFC_DELETE if delete else c.OFPFC_ADD,
        priority=draw(st.integers(0, 3)),
        match=draw(match_st()),
        instructions=() if delete else tuple(ins),
        out_port=c.OFPP_ANY,
        out_group=c.OFPG_ANY,
        buffer_id=c.OFP_NO_BUFFER,
    )


frames_op = st.tuples(
    st.just("frames"), st.integers(1, 2), st.lists(st.integers(0, 3), min_size=1, max_size=8)
)
op_st = st.one_of(
    frames_op,
    frames_op,
    frames_op,
    st.tuples(st.just("mod"), flow_mod_st()),
    st.tuples(st.just("port"), st.integers(1, 4), st.sampled_from([0, c.OFPPC_NO_FWD,
              c.OFPPC_NO_RECV]), st.sampled_from([0, c.OFPPS_LINK_DOWN])),
)  # fmt: skip


def _counters(pl: Pipeline) -> tuple[object, ...]:
    flows = sorted(
        (s.table_id, s.priority, str(s.match), s.packet_count, s.byte_count)
        for s in pl.flow_stats(0.0)
    )
    tables = [(t.lookup_count, t.matched_count) for t in pl.tables[:2]]
    ports = {p: v for p, v in pl.port_counters.items() if any(v)}
    return flows, tables, ports


@settings(max_examples=250, deadline=None)
@given(
    st.lists(frame_st, min_size=4, max_size=4),
    st.lists(op_st, max_size=25),
    st.integers(1, 6),
    st.booleans(),
)
def test_cache_agrees_with_the_pipeline(
    pool: list[bytes], ops: list, capacity: int, gapped: bool
) -> None:
    """Frames come from a pool of four so that keys repeat and hit."""
    ref_ports, ports = StaticPorts([1, 2, 3, 4]), StaticPorts([1, 2, 3, 4])
    ref, pl = Pipeline(n_tables=2, ports=ref_ports), Pipeline(n_tables=2, ports=ports)
    cache = FlowCache(pl, capacity=capacity)
    cache.gapped = gapped
    now = 1.0
    for op in ops:
        now += 0.5
        if op[0] != "frames":
            cache.flush(now)  # the owner's protocol: flush, change, invalidate
        if op[0] == "mod":
            outcome = []
            for p in (ref, pl):
                try:
                    p.apply_flow_mod(op[1], now)
                    outcome.append(None)
                except PipelineError as e:
                    outcome.append((e.type, e.code))
            assert outcome[0] == outcome[1]
            cache.invalidate(now)
        elif op[0] == "port":
            _, port, cfg, state = op
            ref_ports.set(port, cfg, state)
            ports.set(port, cfg, state)
            cache.invalidate(now)
        else:
            _, in_port, picks = op
            frames = [pool[i] for i in picks]
            want: dict[int, list[bytes]] = {}
            want_pins = []
            for f in frames:
                res = ref.process(in_port, f, now)
                for o in res.outputs:
                    want.setdefault(o.port, []).append(o.data)
                want_pins += [(d.reason, d.table_id, d.cookie, d.data) for d in res.packet_ins]
            pins = cache.run(in_port, frames, now)
            got = {p: [bytes(x) for x in lst] for p, lst in cache.out.items() if lst}
            for lst in cache.out.values():
                lst.clear()
            assert got == want
            assert [(d.reason, d.table_id, d.cookie, d.data) for d in pins] == want_pins
    cache.flush(now)
    assert _counters(pl) == _counters(ref)
    assert len(cache) <= capacity


def _exact_udp_rules(pl: Pipeline, n: int, actions: tuple[Action, ...]) -> None:
    for i in range(n):
        m = Match(
            fields=(
                OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=1),
                OxmTLV(field=c.OFPXMT_OFB_ETH_TYPE, value=0x0800),
                OxmTLV(field=c.OFPXMT_OFB_IP_PROTO, value=17),
                OxmTLV(field=c.OFPXMT_OFB_UDP_SRC, value=i),
            )
        )
        ins = (InstructionApplyActions(actions=actions),)
        pl.apply_flow_mod(FlowMod(command=c.OFPFC_ADD, match=m, instructions=ins), 0.0)


def test_hits_after_one_miss_per_flow_and_rewrite_is_one_splice() -> None:
    pl = Pipeline(n_tables=1, ports=StaticPorts([1, 2]))
    dst = ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_ETH_DST, value=0x0A0B0C0D0E0F))
    _exact_udp_rules(pl, 4, (dst, ActionOutput(port=2, max_len=0)))
    cache = FlowCache(pl)
    assert cache.profile.layout == "ipv4"
    assert cache.profile.runs[-1] == (34, 38)
    frames = [fr.udp4_frame(sport=i % 4) for i in range(40)]
    cache.run(1, frames, 1.0)
    assert (cache.misses, cache.hits) == (4, 36)
    sent = cache.out[2]
    assert len(sent) == 40
    assert all(f[:6] == bytes.fromhex("0a0b0c0d0e0f") for f in sent)
    assert [f[6:] for f in sent] == [f[6:] for f in frames]


def test_volatile_ip_id_switches_to_gapped_keys() -> None:
    pl = Pipeline(n_tables=1, ports=StaticPorts([1, 2]))
    _exact_udp_rules(pl, 1, (ActionOutput(port=2, max_len=0),))
    cache = FlowCache(pl)
    base = fr.udp4_frame(sport=0)
    frames = [base[:18] + struct.pack("!H", i) + base[20:] for i in range(400)]
    cache.run(1, frames, 1.0)
    assert cache.gapped
    hits = cache.hits
    cache.run(1, frames, 2.0)
    assert cache.hits - hits == len(frames)  # every IP id now hits the same key


def test_wildcard_in_port_rule_keys_on_the_ethertype_only() -> None:
    assert key_profile([((c.OFPXMT_OFB_IN_PORT, 0xFFFFFFFF),)]).runs == ((12, 14),)
    pl = Pipeline(n_tables=1, ports=StaticPorts([1, 2]))
    m = Match(fields=(OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=1),))
    ins = (InstructionApplyActions(actions=(ActionOutput(port=2, max_len=0),)),)
    pl.apply_flow_mod(FlowMod(command=c.OFPFC_ADD, match=m, instructions=ins), 0.0)
    cache = FlowCache(pl)
    cache.run(1, [fr.udp4_frame(sport=i) for i in range(100)], 1.0)
    assert (cache.misses, cache.hits, len(cache)) == (1, 99, 1)
    cache.flush(2.0)
    (stats,) = pl.flow_stats(2.0)
    assert stats.packet_count == 100


def test_push_vlan_then_goto_counts_the_longer_frame_like_the_pipeline() -> None:
    ref, pl = (Pipeline(n_tables=2, ports=StaticPorts([1, 2])) for _ in range(2))
    t0 = (
        InstructionApplyActions(actions=(ActionPushVlan(ethertype=0x8100),)),
        InstructionGotoTable(table_id=1),
    )
    vid = ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_VLAN_VID, value=c.OFPVID_PRESENT | 9))
    t1 = (InstructionApplyActions(actions=(vid, ActionOutput(port=2, max_len=0))),)
    for p in (ref, pl):
        p.apply_flow_mod(FlowMod(command=c.OFPFC_ADD, match=Match(), instructions=t0), 0.0)
        p.apply_flow_mod(
            FlowMod(command=c.OFPFC_ADD, table_id=1, match=Match(), instructions=t1), 0.0
        )
    cache = FlowCache(pl)
    frames = [fr.udp4_frame()] * 5
    cache.run(1, frames, 1.0)
    want = [o.data for f in frames for o in ref.process(1, f, 1.0).outputs]
    assert cache.out[2] == want
    assert cache.hits == 4
    assert want[0][12:16] == bytes.fromhex("81000009")
    cache.flush(1.0)
    assert _counters(pl) == _counters(ref)
