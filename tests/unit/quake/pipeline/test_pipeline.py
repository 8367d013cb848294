"""Pipeline semantics: flow-mods and their errors, tables, timeouts, groups, meters, packet-in, trace."""

from __future__ import annotations

import pytest
import quake_frames as fr

from openvolcano.caldera.quake.pipeline import Pipeline, PipelineError, StaticPorts
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import (
    ActionDecNwTtl,
    ActionGroup,
    ActionOutput,
    ActionPushVlan,
    ActionSetField,
)
from openvolcano.ofp.instructions import (
    InstructionApplyActions,
    InstructionClearActions,
    InstructionGotoTable,
    InstructionMeter,
    InstructionWriteActions,
    InstructionWriteMetadata,
)
from openvolcano.ofp.messages import FlowMod, GroupMod, MeterMod, PacketOut, TableMod
from openvolcano.ofp.oxm import Match, OxmTLV
from openvolcano.ofp.structs import Bucket, MeterBandDrop


def apply(*actions: object) -> tuple[InstructionApplyActions]:
    return (InstructionApplyActions(actions=tuple(actions)),)  # type: ignore[arg-type]


def out(port: int, max_len: int = c.OFPCML_NO_BUFFER) -> ActionOutput:
    return ActionOutput(port=port, max_len=max_len)


@pytest.fixture
def ports() -> StaticPorts:
    return StaticPorts([1, 2, 3, 4])


@pytest.fixture
def pl(ports: StaticPorts) -> Pipeline:
    return Pipeline(n_tables=4, ports=ports)


def err(excinfo: pytest.ExceptionInfo[PipelineError]) -> tuple[int, int]:
    return excinfo.value.type, excinfo.value.code


def test_no_entries_drops_and_table_miss_sends_no_match(pl: Pipeline) -> None:
    assert pl.process(1, fr.tcp4_frame(), 0).outputs == []
    pl.apply_flow_mod(FlowMod(priority=0, instructions=apply(out(c.OFPP_CONTROLLER, 128))), 0)
    res = pl.process(1, fr.tcp4_frame(), 0)
    (pi,) = res.packet_ins
    assert pi.reason == c.OFPR_NO_MATCH
    assert pi.table_id == 0
    assert pi.max_len == 128
    assert pi.match.to_dict() == {"in_port": 1}
    frame = fr.tcp4_frame() + b"x" * 100
    (pi,) = pl.process(1, frame, 0).packet_ins
    buffered = pi.message(buffer_id=7)
    assert (buffered.buffer_id, buffered.total_len, buffered.data) == (7, len(frame), frame[:128])
    assert pi.message().data == frame


def test_priority_and_masks(pl: Pipeline) -> None:
    pl.apply_flow_mod(
        FlowMod(
            priority=10,
            match=Match.of(eth_type=0x800, ipv4_dst=("10.0.0.0", "255.0.0.0")),
            instructions=apply(out(2)),
        ),
        0,
    )
    pl.apply_flow_mod(
        FlowMod(
            priority=20,
            match=Match.of(eth_type=0x800, ip_proto=6, tcp_dst=80),
            instructions=apply(out(3)),
        ),
        0,
    )
    assert pl.process(1, fr.tcp4_frame(dport=80), 0).ports == [3]
    assert pl.process(1, fr.tcp4_frame(dport=22), 0).ports == [2]
    assert pl.process(1, fr.tcp4_frame(dport=22, dst=bytes([11, 0, 0, 1])), 0).ports == []


@pytest.mark.parametrize(
    ("match", "code"),
    [
        (Match(fields=(OxmTLV(field=c.OFPXMT_OFB_TCP_DST, value=80),)), c.OFPBMC_BAD_PREREQ),
        (Match.of(eth_type=0x806, tcp_dst=80), c.OFPBMC_BAD_PREREQ),
        (Match.of(eth_type=0x800, ip_proto=17, tcp_dst=80), c.OFPBMC_BAD_PREREQ),
        (Match.of(vlan_pcp=3), c.OFPBMC_BAD_PREREQ),
        (
            Match(fields=(OxmTLV(field=c.OFPXMT_OFB_ETH_DST, value=0xFF, mask=0x0F),)),
            c.OFPBMC_BAD_WILDCARDS,
        ),
        (
            Match(fields=(OxmTLV(field=c.OFPXMT_OFB_ETH_TYPE, value=0x800, mask=0xFFFF),)),
            c.OFPBMC_BAD_MASK,
        ),
        (Match(fields=(OxmTLV(field=c.OFPXMT_OFB_VLAN_PCP, value=9),)), c.OFPBMC_BAD_VALUE),
        (
            Match(
                fields=(
                    OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=1),
                    OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=2),
                )
            ),
            c.OFPBMC_DUP_FIELD,
        ),
    ],
)
def test_bad_matches(pl: Pipeline, match: Match, code: int) -> None:
    with pytest.raises(PipelineError) as e:
        pl.apply_flow_mod(FlowMod(match=match), 0)
    assert err(e) == (c.OFPET_BAD_MATCH, code)
    assert len(pl.tables[0]) == 0


def test_instruction_and_action_errors(pl: Pipeline) -> None:
    cases = [
        (
            FlowMod(table_id=2, instructions=(InstructionGotoTable(table_id=1),)),
            (c.OFPET_BAD_INSTRUCTION, c.OFPBIC_BAD_TABLE_ID),
        ),
        (
            FlowMod(table_id=3, instructions=(InstructionGotoTable(table_id=4),)),
            (c.OFPET_BAD_INSTRUCTION, c.OFPBIC_BAD_TABLE_ID),
        ),
        (FlowMod(table_id=9), (c.OFPET_FLOW_MOD_FAILED, c.OFPFMFC_BAD_TABLE_ID)),
        (
            FlowMod(instructions=apply(ActionGroup(group_id=5))),
            (c.OFPET_BAD_ACTION, c.OFPBAC_BAD_OUT_GROUP),
        ),
        (
            FlowMod(instructions=apply(out(c.OFPP_TABLE))),
            (c.OFPET_BAD_ACTION, c.OFPBAC_BAD_OUT_PORT),
        ),
        (
            FlowMod(instructions=(InstructionMeter(meter_id=3),)),
            (c.OFPET_METER_MOD_FAILED, c.OFPMMFC_UNKNOWN_METER),
        ),
        (
            FlowMod(
                instructions=apply(
                    ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_IPV4_DST, value=1))
                )
            ),
            (c.OFPET_BAD_ACTION, c.OFPBAC_MATCH_INCONSISTENT),
        ),
        (
            FlowMod(
                instructions=apply(
                    ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=1))
                )
            ),
            (c.OFPET_BAD_ACTION, c.OFPBAC_BAD_SET_TYPE),
        ),
        (
            FlowMod(instructions=apply(ActionPushVlan(ethertype=0x800))),
            (c.OFPET_BAD_ACTION, c.OFPBAC_BAD_ARGUMENT),
        ),
        (FlowMod(command=9), (c.OFPET_FLOW_MOD_FAILED, c.OFPFMFC_BAD_COMMAND)),
    ]
    for fm, want in cases:
        with pytest.raises(PipelineError) as e:
            pl.apply_flow_mod(fm, 0)
        assert err(e) == want, fm


def test_goto_write_metadata_and_action_set_order(pl: Pipeline) -> None:
    # table 0: write output:2 + dec ttl, metadata, goto 1; table 1 matches metadata, pushes vlan via set.
    pl.apply_flow_mod(FlowMod(table_id=0, priority=1, instructions=(
        InstructionWriteActions(actions=(out(2), ActionDecNwTtl())),
        InstructionWriteMetadata(metadata=0xAB, metadata_mask=0xFF),
        InstructionGotoTable(table_id=1),
    )), 0)  # fmt: skip
    pl.apply_flow_mod(FlowMod(table_id=1, priority=1, match=Match.of(metadata=0xAB), instructions=(
        InstructionWriteActions(actions=(ActionPushVlan(ethertype=0x8100), ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_VLAN_VID, value=0x1000 | 7)))),
    )), 0)  # fmt: skip
    res = pl.process(1, fr.tcp4_frame(ttl=10), 0)
    (o,) = res.outputs
    assert o.port == 2
    assert o.data[12:16] == bytes.fromhex("81000007")  # push before set (§5.10)
    assert o.data[18 + 8] == 9
    assert fr.verify_ipv4(o.data, l3=18)["ip"]
    assert [s.table_id for s in res.trace.steps] == [0, 1]


def test_clear_actions_and_apply_outputs_current_packet(pl: Pipeline) -> None:
    pl.apply_flow_mod(
        FlowMod(
            priority=1,
            instructions=(
                InstructionWriteActions(actions=(out(2),)),
                InstructionGotoTable(table_id=1),
            ),
        ),
        0,
    )
    pl.apply_flow_mod(FlowMod(table_id=1, priority=1, match=Match.of(eth_type=0x800), instructions=(
        InstructionApplyActions(actions=(out(3), ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_IPV4_DST, value=0x01010101)), out(4))),
        InstructionClearActions(),
    )), 0)  # fmt: skip
    res = pl.process(1, fr.tcp4_frame(), 0)
    assert res.ports == [3, 4]
    assert res.outputs[0].data == fr.tcp4_frame()
    assert res.outputs[1].data[30:34] == bytes([1, 1, 1, 1])
    assert fr.verify_ipv4(res.outputs[1].data) == {"ip": True, "l4": True}


def test_add_replace_overlap_modify_delete(pl: Pipeline) -> None:
    m = Match.of(eth_type=0x800)
    pl.apply_flow_mod(FlowMod(priority=5, cookie=1, match=m, instructions=apply(out(2))), 0)
    pl.process(1, fr.tcp4_frame(), 1)
    pl.apply_flow_mod(
        FlowMod(priority=5, cookie=2, match=m, instructions=apply(out(3))), 2
    )  # replaces, keeps counts
    (fs,) = pl.flow_stats(5)
    assert (fs.cookie, fs.packet_count, fs.duration_sec) == (2, 1, 3)
    with pytest.raises(PipelineError) as e:
        pl.apply_flow_mod(
            FlowMod(
                priority=5,
                flags=c.OFPFF_CHECK_OVERLAP,
                match=Match.of(eth_type=0x800, ip_proto=6),
                instructions=apply(out(4)),
            ),
            2,
        )
    assert err(e) == (c.OFPET_FLOW_MOD_FAILED, c.OFPFMFC_OVERLAP)
    pl.apply_flow_mod(
        FlowMod(
            priority=6,
            flags=c.OFPFF_CHECK_OVERLAP,
            match=Match.of(eth_type=0x800, ip_proto=6),
            cookie=0x10,
            instructions=apply(out(4)),
        ),
        2,
    )
    assert pl.process(1, fr.tcp4_frame(), 3).ports == [4]
    pl.apply_flow_mod(
        FlowMod(
            command=c.OFPFC_MODIFY,
            match=m,
            cookie=0x10,
            cookie_mask=0xF0,
            flags=c.OFPFF_RESET_COUNTS,
            instructions=apply(out(1), out(2)),
        ),
        4,
    )
    assert pl.process(1, fr.tcp4_frame(), 3).ports == [2]  # in_port 1 excluded
    assert [f.packet_count for f in pl.flow_stats(5)] == [1, 1]  # priority 6 reset, then hit once
    pl.apply_flow_mod(
        FlowMod(
            command=c.OFPFC_MODIFY_STRICT,
            priority=5,
            match=m,
            instructions=apply(out(c.OFPP_IN_PORT)),
        ),
        4,
    )
    assert pl.process(2, fr.udp4_frame(), 3).ports == [2]
    removed = pl.apply_flow_mod(
        FlowMod(command=c.OFPFC_DELETE, table_id=c.OFPTT_ALL, out_port=c.OFPP_IN_PORT), 5
    )
    assert removed == []
    assert len(pl.tables[0]) == 1


def test_table_full_and_table_mod(ports: StaticPorts) -> None:
    pl = Pipeline(n_tables=2, ports=ports, max_entries=2)
    pl.apply_flow_mod(FlowMod(priority=1), 0)
    pl.apply_flow_mod(FlowMod(priority=2), 0)
    pl.apply_flow_mod(FlowMod(priority=2), 0)  # replacement is fine when full
    with pytest.raises(PipelineError) as e:
        pl.apply_flow_mod(FlowMod(priority=3), 0)
    assert err(e) == (c.OFPET_FLOW_MOD_FAILED, c.OFPFMFC_TABLE_FULL)
    pl.apply_table_mod(TableMod(table_id=c.OFPTT_ALL, config=0))
    with pytest.raises(PipelineError):
        pl.apply_table_mod(TableMod(table_id=5))


def test_timeouts_and_flow_removed(pl: Pipeline) -> None:
    flags = c.OFPFF_SEND_FLOW_REM
    pl.apply_flow_mod(
        FlowMod(
            priority=1,
            idle_timeout=10,
            flags=flags,
            cookie=1,
            match=Match.of(in_port=1),
            instructions=apply(out(2)),
        ),
        100,
    )
    pl.apply_flow_mod(
        FlowMod(
            priority=1,
            hard_timeout=15,
            flags=flags,
            cookie=2,
            match=Match.of(in_port=2),
            instructions=apply(out(1)),
        ),
        100,
    )
    pl.apply_flow_mod(
        FlowMod(priority=1, idle_timeout=1, cookie=3, match=Match.of(in_port=3)), 100
    )  # no SEND_FLOW_REM
    pl.process(1, fr.tcp4_frame(), 105)
    pl.process(2, fr.tcp4_frame(), 109)
    assert pl.expire(109) == []
    assert len(pl.tables[0]) == 2  # the silent one expired
    assert pl.expire(114.9) == []
    removed = pl.expire(115.5)
    got = sorted((x.cookie, x.reason, x.packet_count, x.duration_sec) for x in removed)
    assert got == [(1, c.OFPRR_IDLE_TIMEOUT, 1, 15), (2, c.OFPRR_HARD_TIMEOUT, 1, 15)]
    assert len(pl.tables[0]) == 0
    pl.apply_flow_mod(FlowMod(priority=1, flags=flags, match=Match.of(in_port=4)), 120)
    (d,) = pl.apply_flow_mod(
        FlowMod(command=c.OFPFC_DELETE_STRICT, priority=1, match=Match.of(in_port=4)), 121.25
    )
    assert (d.reason, d.duration_sec, d.duration_nsec) == (c.OFPRR_DELETE, 1, 250_000_000)


def test_groups_all_select_indirect_ff_and_delete(pl: Pipeline, ports: StaticPorts) -> None:
    pl.apply_group_mod(
        GroupMod(
            group_id=1,
            type=c.OFPGT_ALL,
            buckets=(Bucket(actions=(out(2),)), Bucket(actions=(out(3),))),
        ),
        0,
    )
    pl.apply_group_mod(GroupMod(group_id=2, type=c.OFPGT_FF, buckets=(
        Bucket(watch_port=2, actions=(out(2),)), Bucket(watch_port=3, actions=(out(3),)))), 0)  # fmt: skip
    pl.apply_group_mod(GroupMod(group_id=3, type=c.OFPGT_SELECT, buckets=(
        Bucket(weight=1, actions=(out(2),)), Bucket(weight=1, actions=(out(4),)), Bucket(weight=0, actions=(out(1),)))), 0)  # fmt: skip
    pl.apply_group_mod(
        GroupMod(
            group_id=4, type=c.OFPGT_INDIRECT, buckets=(Bucket(actions=(ActionGroup(group_id=1),)),)
        ),
        0,
    )

    def fm(port, gid):
        return FlowMod(
            priority=1,
            flags=c.OFPFF_SEND_FLOW_REM,
            match=Match.of(in_port=port),
            instructions=apply(ActionGroup(group_id=gid)),
        )

    for port, gid in ((1, 4), (2, 2), (3, 3)):
        pl.apply_flow_mod(fm(port, gid), 0)
    assert pl.process(1, fr.tcp4_frame(), 1).ports == [2, 3]  # indirect -> all
    assert pl.process(2, fr.tcp4_frame(), 1).ports == []  # FF picks port 2 == in_port: dropped
    ports.set(2, state=c.OFPPS_LINK_DOWN)
    assert pl.process(4, fr.tcp4_frame(), 1).ports == []  # no flow for port 4
    pl.apply_flow_mod(fm(4, 2), 0)
    assert pl.process(4, fr.tcp4_frame(), 1).ports == [3]  # failed over
    ports.set(2)
    seen = {tuple(pl.process(3, fr.tcp4_frame(sport=s), 1).ports) for s in range(1000, 1040)}
    assert seen == {(2,), (4,)}  # weight 0 bucket never used; per-flow hash spreads
    assert (
        pl.process(3, fr.tcp4_frame(sport=1000), 1).ports
        == pl.process(3, fr.tcp4_frame(sport=1000), 1).ports
    )
    gs = {g.group_id: g for g in pl.group_stats(2)}
    assert gs[1].ref_count == 1
    assert gs[4].packet_count == 1
    assert gs[1].bucket_stats[0].packet_count == 1
    # loop and chained-delete errors
    with pytest.raises(PipelineError) as e:
        pl.apply_group_mod(
            GroupMod(
                command=c.OFPGC_MODIFY,
                group_id=1,
                type=c.OFPGT_ALL,
                buckets=(Bucket(actions=(ActionGroup(group_id=4),)),),
            ),
            2,
        )
    assert err(e) == (c.OFPET_GROUP_MOD_FAILED, c.OFPGMFC_LOOP)
    with pytest.raises(PipelineError) as e:
        pl.apply_group_mod(GroupMod(command=c.OFPGC_DELETE, group_id=1), 2)
    assert err(e) == (c.OFPET_GROUP_MOD_FAILED, c.OFPGMFC_CHAINED_GROUP)
    for bad, code in [
        (GroupMod(group_id=1, type=c.OFPGT_ALL), c.OFPGMFC_GROUP_EXISTS),
        (GroupMod(command=c.OFPGC_MODIFY, group_id=99, type=c.OFPGT_ALL), c.OFPGMFC_UNKNOWN_GROUP),
        (GroupMod(group_id=9, type=7), c.OFPGMFC_BAD_TYPE),
        (GroupMod(group_id=c.OFPG_ALL, type=c.OFPGT_ALL), c.OFPGMFC_INVALID_GROUP),
        (
            GroupMod(group_id=9, type=c.OFPGT_FF, buckets=(Bucket(actions=(out(2),)),)),
            c.OFPGMFC_BAD_WATCH,
        ),
        (GroupMod(group_id=9, type=c.OFPGT_INDIRECT), c.OFPGMFC_INVALID_GROUP),
    ]:
        with pytest.raises(PipelineError) as e:
            pl.apply_group_mod(bad, 2)
        assert err(e) == (c.OFPET_GROUP_MOD_FAILED, code), bad
    removed = pl.apply_group_mod(GroupMod(command=c.OFPGC_DELETE, group_id=2), 3)
    assert sorted(r.match.to_dict()["in_port"] for r in removed) == [2, 4]
    assert {r.reason for r in removed} == {c.OFPRR_GROUP_DELETE}
    assert pl.group_features().capabilities & c.OFPGFC_CHAINING


def test_meter_drop_band_pktps(pl: Pipeline) -> None:
    pl.apply_meter_mod(
        MeterMod(
            meter_id=1,
            flags=c.OFPMF_PKTPS | c.OFPMF_BURST | c.OFPMF_STATS,
            bands=(MeterBandDrop(rate=10, burst_size=5),),
        ),
        0,
    )
    pl.apply_flow_mod(
        FlowMod(priority=1, instructions=(InstructionMeter(meter_id=1), *apply(out(2)))), 0
    )
    sent = sum(len(pl.process(1, fr.tcp4_frame(), 0.0).outputs) for _ in range(20))
    assert sent == 5  # burst of 5 at t=0
    sent = sum(len(pl.process(1, fr.tcp4_frame(), 1.0).outputs) for _ in range(20))
    assert sent == 5  # refilled 10 tokens, capped at depth 5
    (ms,) = pl.meter_stats(1.0)
    assert (ms.packet_in_count, ms.flow_count, ms.band_stats[0].packet_band_count) == (40, 1, 30)
    for bad, code in [
        (
            MeterMod(meter_id=1, flags=c.OFPMF_PKTPS, bands=(MeterBandDrop(rate=1),)),
            c.OFPMMFC_METER_EXISTS,
        ),
        (
            MeterMod(
                meter_id=2, flags=c.OFPMF_PKTPS | c.OFPMF_KBPS, bands=(MeterBandDrop(rate=1),)
            ),
            c.OFPMMFC_BAD_FLAGS,
        ),
        (
            MeterMod(meter_id=2, flags=c.OFPMF_KBPS, bands=(MeterBandDrop(rate=0),)),
            c.OFPMMFC_BAD_RATE,
        ),
        (MeterMod(meter_id=0, flags=c.OFPMF_KBPS), c.OFPMMFC_INVALID_METER),
        (MeterMod(command=c.OFPMC_MODIFY, meter_id=5, flags=c.OFPMF_KBPS), c.OFPMMFC_UNKNOWN_METER),
    ]:
        with pytest.raises(PipelineError) as e:
            pl.apply_meter_mod(bad, 1)
        assert err(e) == (c.OFPET_METER_MOD_FAILED, code), bad
    pl.apply_meter_mod(MeterMod(command=c.OFPMC_DELETE, meter_id=1), 2)
    assert len(pl.tables[0]) == 0


def test_meter_kbps() -> None:
    pl = Pipeline(n_tables=1, ports=StaticPorts([1, 2]))
    frame = fr.tcp4_frame()  # 59 bytes = 472 bits
    pl.apply_meter_mod(
        MeterMod(
            meter_id=7,
            flags=c.OFPMF_KBPS | c.OFPMF_BURST,
            bands=(MeterBandDrop(rate=8, burst_size=1),),
        ),
        0,
    )
    pl.apply_flow_mod(FlowMod(instructions=(InstructionMeter(meter_id=7), *apply(out(2)))), 0)
    assert [len(pl.process(1, frame, 0).outputs) for _ in range(3)] == [1, 1, 0]  # 1000-bit bucket
    assert len(pl.process(1, frame, 0.1).outputs) == 1  # 800 bits refilled


def test_port_config_and_flood(pl: Pipeline, ports: StaticPorts) -> None:
    pl.apply_flow_mod(FlowMod(instructions=apply(out(c.OFPP_FLOOD), out(c.OFPP_CONTROLLER))), 0)
    ports.set(3, config=c.OFPPC_NO_FWD)
    ports.set(4, config=c.OFPPC_PORT_DOWN)
    res = pl.process(1, fr.tcp4_frame(), 0)
    assert res.ports == [2]
    assert res.packet_ins[0].reason == c.OFPR_ACTION
    ports.set(1, config=c.OFPPC_NO_PACKET_IN)
    assert pl.process(1, fr.tcp4_frame(), 0).packet_ins == []
    ports.set(1, config=c.OFPPC_NO_RECV)
    assert pl.process(1, fr.tcp4_frame(), 0).ports == []
    assert pl.port_stats(1)[0].rx_dropped == 1
    assert pl.port_stats(2)[0].tx_packets == 2


def test_invalid_ttl(pl: Pipeline) -> None:
    pl.apply_flow_mod(FlowMod(instructions=apply(ActionDecNwTtl(), out(2))), 0)
    assert pl.process(1, fr.tcp4_frame(ttl=1), 0).outputs == []
    pl.invalid_ttl_to_controller = True
    (pi,) = pl.process(1, fr.tcp4_frame(ttl=1), 0).packet_ins
    assert pi.reason == c.OFPR_INVALID_TTL


def test_packet_out_table_and_trace_is_side_effect_free(pl: Pipeline) -> None:
    pl.apply_flow_mod(
        FlowMod(
            priority=3,
            cookie=0x42,
            match=Match.of(in_port=c.OFPP_CONTROLLER),
            instructions=apply(out(4)),
        ),
        0,
    )
    res = pl.packet_out(PacketOut(actions=(out(c.OFPP_TABLE), out(1)), data=fr.arp_frame()), 0)
    assert res.ports == [4, 1]
    with pytest.raises(PipelineError):
        pl.apply_flow_mod(FlowMod(instructions=apply(out(c.OFPP_TABLE))), 0)
    before = [t.lookup_count for t in pl.table_stats()]
    tr = pl.trace(c.OFPP_CONTROLLER, fr.arp_frame(), 0)
    assert tr.ports == [4]
    assert tr.trace.steps[0].cookie == 0x42
    assert "table 0" in tr.trace.render()
    assert [t.lookup_count for t in pl.table_stats()] == before
    assert pl.flow_stats(0)[0].packet_count == 1
    assert pl.aggregate_stats() == (1, len(fr.arp_frame()), 1)


def test_trace_names_a_drop_only_when_nothing_was_sent(pl: Pipeline) -> None:
    pl.apply_flow_mod(FlowMod(priority=2, match=Match.of(in_port=1), instructions=apply(out(2))), 0)
    pl.apply_flow_mod(FlowMod(priority=1, match=Match.of(in_port=3)), 0)
    sent = pl.trace(1, fr.arp_frame(), 0)
    assert sent.ports == [2]
    assert sent.trace.drops == []
    dropped = pl.trace(3, fr.arp_frame(), 0)
    assert dropped.ports == []
    assert dropped.trace.drops == ["empty action set"]
