"""Golden cross-check of every non-multipart message against os-ken's OpenFlow 1.3 codec.

Controller->switch messages: os-ken serializes, we decode to the expected
values and re-encode the very same bytes. Switch->controller messages: we
encode, os-ken parses, and its attributes hold the same values. Symmetric
messages are checked both ways. What os-ken cannot do is an explicit strict
xfail with the reason, never a silent skip.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

import pytest
from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as ofpp

from openvolcano.ofp import consts as c
from openvolcano.ofp import messages as m
from openvolcano.ofp.actions import ActionGroup, ActionOutput, ActionPopVlan, ActionSetField
from openvolcano.ofp.base import Message, decode_message
from openvolcano.ofp.instructions import (
    InstructionApplyActions,
    InstructionGotoTable,
    InstructionWriteMetadata,
)
from openvolcano.ofp.oxm import Match, OxmTLV
from openvolcano.ofp.structs import (
    Bucket,
    HelloElemUnknown,
    HelloElemVersionBitmap,
    MeterBandDrop,
    MeterBandDscpRemark,
    MeterBandExperimenter,
    PacketQueue,
    Port,
    QueuePropExperimenter,
    QueuePropMaxRate,
    QueuePropMinRate,
)


class _Datapath:
    """The two attributes os-ken's message classes read from a datapath."""

    ofproto = ofp
    ofproto_parser = ofpp


DP = _Datapath()
XID = 0x1234


def _osken_bytes(build: Callable[[Any], Any]) -> bytes:
    msg = build(DP)
    msg.set_xid(XID)
    msg.serialize()
    return bytes(msg.buf)


def _osken_parse(raw: bytes) -> Any:
    version, msg_type, msg_len, xid = raw[0], raw[1], int.from_bytes(raw[2:4], "big"), XID
    return ofpp.msg_parser(DP, version, msg_type, msg_len, xid, raw)


# --------------------------------------------------------------------------
# os-ken serializes -> we decode and re-encode

OUR_MATCH = Match.of(in_port=1, eth_type=0x0800, ipv4_dst=("10.0.0.0", "255.0.0.0"))


def _osken_match() -> Any:
    return ofpp.OFPMatch(in_port=1, eth_type=0x0800, ipv4_dst=("10.0.0.0", "255.0.0.0"))


# (name, os-ken constructor, the message we expect); Any: pytest.param entries are mixed in.
TO_SWITCH: list[Any] = [
    ("FeaturesRequest", lambda dp: ofpp.OFPFeaturesRequest(dp), m.FeaturesRequest()),
    ("GetConfigRequest", lambda dp: ofpp.OFPGetConfigRequest(dp), m.GetConfigRequest()),
    (
        "SetConfig",
        lambda dp: ofpp.OFPSetConfig(dp, ofp.OFPC_FRAG_REASM, 0xFFE5),
        m.SetConfig(flags=c.OFPC_FRAG_REASM, miss_send_len=c.OFPCML_MAX),
    ),
    (
        "PacketOut",
        lambda dp: ofpp.OFPPacketOut(
            dp,
            buffer_id=ofp.OFP_NO_BUFFER,
            in_port=ofp.OFPP_CONTROLLER,
            actions=[ofpp.OFPActionPopVlan(), ofpp.OFPActionOutput(3, 0)],
            data=b"\x01\x02\x03",
        ),
        m.PacketOut(
            in_port=c.OFPP_CONTROLLER,
            actions=(ActionPopVlan(), ActionOutput(port=3, max_len=0)),
            data=b"\x01\x02\x03",
        ),
    ),
    (
        "FlowMod",
        lambda dp: ofpp.OFPFlowMod(
            dp,
            cookie=0xC0FFEE,
            cookie_mask=0xFFFF,
            table_id=2,
            command=ofp.OFPFC_MODIFY_STRICT,
            idle_timeout=10,
            hard_timeout=20,
            priority=300,
            buffer_id=7,
            out_port=ofp.OFPP_ANY,
            out_group=ofp.OFPG_ANY,
            flags=ofp.OFPFF_SEND_FLOW_REM | ofp.OFPFF_CHECK_OVERLAP,
            match=_osken_match(),
            instructions=[
                ofpp.OFPInstructionWriteMetadata(0x5, 0xFF),
                ofpp.OFPInstructionActions(
                    ofp.OFPIT_APPLY_ACTIONS,
                    [ofpp.OFPActionSetField(vlan_vid=0x1005), ofpp.OFPActionGroup(9)],
                ),
                ofpp.OFPInstructionGotoTable(3),
            ],
        ),
        m.FlowMod(
            cookie=0xC0FFEE,
            cookie_mask=0xFFFF,
            table_id=2,
            command=c.OFPFC_MODIFY_STRICT,
            idle_timeout=10,
            hard_timeout=20,
            priority=300,
            buffer_id=7,
            flags=c.OFPFF_SEND_FLOW_REM | c.OFPFF_CHECK_OVERLAP,
            match=OUR_MATCH,
            instructions=(
                InstructionWriteMetadata(metadata=0x5, metadata_mask=0xFF),
                InstructionApplyActions(
                    actions=(
                        ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_VLAN_VID, value=0x1005)),
                        ActionGroup(group_id=9),
                    )
                ),
                InstructionGotoTable(table_id=3),
            ),
        ),
    ),
    (
        "GroupMod",
        lambda dp: ofpp.OFPGroupMod(
            dp,
            ofp.OFPGC_ADD,
            ofp.OFPGT_SELECT,
            5,
            [
                ofpp.OFPBucket(10, ofp.OFPP_ANY, ofp.OFPG_ANY, [ofpp.OFPActionOutput(1, 0)]),
                ofpp.OFPBucket(20, 2, 3, [ofpp.OFPActionOutput(2, 0)]),
            ],
        ),
        m.GroupMod(
            command=c.OFPGC_ADD,
            type=c.OFPGT_SELECT,
            group_id=5,
            buckets=(
                Bucket(weight=10, actions=(ActionOutput(port=1, max_len=0),)),
                Bucket(
                    weight=20,
                    watch_port=2,
                    watch_group=3,
                    actions=(ActionOutput(port=2, max_len=0),),
                ),
            ),
        ),
    ),
    (
        "PortMod",
        lambda dp: ofpp.OFPPortMod(
            dp, 4, "02:00:00:00:00:04", ofp.OFPPC_NO_FWD, ofp.OFPPC_NO_FWD, ofp.OFPPF_1GB_FD
        ),
        m.PortMod(
            port_no=4,
            hw_addr=0x020000000004,
            config=c.OFPPC_NO_FWD,
            mask=c.OFPPC_NO_FWD,
            advertise=c.OFPPF_1GB_FD,
        ),
    ),
    (
        "TableMod",
        lambda dp: ofpp.OFPTableMod(dp, ofp.OFPTT_ALL, 3),
        m.TableMod(table_id=c.OFPTT_ALL, config=3),
    ),
    ("BarrierRequest", lambda dp: ofpp.OFPBarrierRequest(dp), m.BarrierRequest()),
    (
        "QueueGetConfigRequest",
        lambda dp: ofpp.OFPQueueGetConfigRequest(dp, 6),
        m.QueueGetConfigRequest(port=6),
    ),
    (
        "RoleRequest",
        lambda dp: ofpp.OFPRoleRequest(dp, ofp.OFPCR_ROLE_MASTER, 0xDEADBEEF),
        m.RoleRequest(role=c.OFPCR_ROLE_MASTER, generation_id=0xDEADBEEF),
    ),
    ("GetAsyncRequest", lambda dp: ofpp.OFPGetAsyncRequest(dp), m.GetAsyncRequest()),
    (
        "SetAsync",
        lambda dp: ofpp.OFPSetAsync(dp, [1, 2], [3, 4], [5, 6]),
        m.SetAsync(packet_in_mask=(1, 2), port_status_mask=(3, 4), flow_removed_mask=(5, 6)),
    ),
    (
        "MeterMod",
        lambda dp: ofpp.OFPMeterMod(
            dp,
            ofp.OFPMC_ADD,
            ofp.OFPMF_PKTPS | ofp.OFPMF_BURST,
            8,
            [
                ofpp.OFPMeterBandDrop(1000, 10),
                ofpp.OFPMeterBandDscpRemark(2000, 20, 2),
                ofpp.OFPMeterBandExperimenter(3000, 30, 0x2320),
            ],
        ),
        m.MeterMod(
            command=c.OFPMC_ADD,
            flags=c.OFPMF_PKTPS | c.OFPMF_BURST,
            meter_id=8,
            bands=(
                MeterBandDrop(rate=1000, burst_size=10),
                MeterBandDscpRemark(rate=2000, burst_size=20, prec_level=2),
                MeterBandExperimenter(rate=3000, burst_size=30, experimenter=0x2320),
            ),
        ),
    ),
    ("Hello", lambda dp: ofpp.OFPHello(dp), m.Hello()),
    (
        "EchoRequest",
        lambda dp: ofpp.OFPEchoRequest(dp, b"ping"),
        m.EchoRequest(data=b"ping"),
    ),
    ("EchoReply", lambda dp: ofpp.OFPEchoReply(dp, b"pong"), m.EchoReply(data=b"pong")),
    (
        "Experimenter",
        lambda dp: ofpp.OFPExperimenter(dp, 0x2320, 7, b"payload"),
        m.Experimenter(experimenter=0x2320, exp_type=7, data=b"payload"),
    ),
    (
        "Error",
        lambda dp: ofpp.OFPErrorMsg(
            dp, ofp.OFPET_FLOW_MOD_FAILED, ofp.OFPFMFC_TABLE_FULL, b"\x04\x0e"
        ),
        m.Error(type=c.OFPET_FLOW_MOD_FAILED, code=c.OFPFMFC_TABLE_FULL, data=b"\x04\x0e"),
    ),
    (
        "ErrorExperimenter",
        lambda dp: ofpp.OFPErrorMsg(
            dp, ofp.OFPET_EXPERIMENTER, data=b"xy", exp_type=4, experimenter=0x2320
        ),
        m.Error(type=c.OFPET_EXPERIMENTER, exp_type=4, experimenter=0x2320, data=b"xy"),
    ),
    pytest.param(
        "HelloWithBitmap",
        lambda dp: ofpp.OFPHello(dp, [ofpp.OFPHelloElemVersionBitmap([4])]),
        m.Hello.for_versions((4,)),
        marks=pytest.mark.xfail(
            strict=True,
            reason="os-ken's OFPHello has no body serializer: elements are dropped, a bare header is sent",
        ),
    ),
]


@pytest.mark.parametrize(
    ("name", "build", "expected"), TO_SWITCH, ids=lambda x: x if isinstance(x, str) else ""
)
def test_osken_serializes_we_decode_and_reencode(
    name: str, build: Callable[[Any], Any], expected: Message
) -> None:
    raw = _osken_bytes(build)
    ours = decode_message(raw)
    assert ours == expected.with_xid(XID), name
    assert ours.encode() == raw


# --------------------------------------------------------------------------
# we encode -> os-ken parses


def _osken_port(port: Any) -> dict[str, Any]:
    return {f: getattr(port, f) for f in port._fields}


FROM_SWITCH: list[tuple[Message, dict[str, Any]]] = [
    (
        m.FeaturesReply(
            datapath_id=0x0000_0000_0000_0ABC,
            n_buffers=256,
            n_tables=254,
            auxiliary_id=0,
            capabilities=c.OFPC_FLOW_STATS | c.OFPC_GROUP_STATS,
        ),
        {
            "datapath_id": 0xABC,
            "n_buffers": 256,
            "n_tables": 254,
            "auxiliary_id": 0,
            "capabilities": ofp.OFPC_FLOW_STATS | ofp.OFPC_GROUP_STATS,
        },
    ),
    (
        m.GetConfigReply(flags=c.OFPC_FRAG_DROP, miss_send_len=512),
        {"flags": ofp.OFPC_FRAG_DROP, "miss_send_len": 512},
    ),
    (
        m.PacketIn(
            buffer_id=c.OFP_NO_BUFFER,
            total_len=64,
            reason=c.OFPR_ACTION,
            table_id=3,
            cookie=0xFEED,
            match=OUR_MATCH,
            data=b"\xff" * 14,
        ),
        {
            "buffer_id": ofp.OFP_NO_BUFFER,
            "total_len": 64,
            "reason": ofp.OFPR_ACTION,
            "table_id": 3,
            "cookie": 0xFEED,
            "data": b"\xff" * 14,
            "match": {"in_port": 1, "eth_type": 0x0800, "ipv4_dst": ("10.0.0.0", "255.0.0.0")},
        },
    ),
    (
        m.FlowRemoved(
            cookie=9,
            priority=100,
            reason=c.OFPRR_DELETE,
            table_id=1,
            duration_sec=60,
            duration_nsec=500,
            idle_timeout=30,
            hard_timeout=90,
            packet_count=1000,
            byte_count=64000,
            match=OUR_MATCH,
        ),
        {
            "cookie": 9,
            "priority": 100,
            "reason": ofp.OFPRR_DELETE,
            "table_id": 1,
            "duration_sec": 60,
            "duration_nsec": 500,
            "idle_timeout": 30,
            "hard_timeout": 90,
            "packet_count": 1000,
            "byte_count": 64000,
            "match": {"in_port": 1, "eth_type": 0x0800, "ipv4_dst": ("10.0.0.0", "255.0.0.0")},
        },
    ),
    (
        m.PortStatus(
            reason=c.OFPPR_MODIFY,
            desc=Port(
                port_no=2,
                hw_addr=0x0A0000000002,
                name="eth2",
                config=c.OFPPC_PORT_DOWN,
                state=c.OFPPS_LINK_DOWN,
                curr=c.OFPPF_1GB_FD | c.OFPPF_COPPER,
                advertised=c.OFPPF_1GB_FD,
                supported=c.OFPPF_1GB_FD | c.OFPPF_100MB_FD,
                peer=0,
                curr_speed=1_000_000,
                max_speed=1_000_000,
            ),
        ),
        {
            "reason": ofp.OFPPR_MODIFY,
            "desc": {
                "port_no": 2,
                "hw_addr": "0a:00:00:00:00:02",
                "name": b"eth2",
                "config": ofp.OFPPC_PORT_DOWN,
                "state": ofp.OFPPS_LINK_DOWN,
                "curr": ofp.OFPPF_1GB_FD | ofp.OFPPF_COPPER,
                "advertised": ofp.OFPPF_1GB_FD,
                "supported": ofp.OFPPF_1GB_FD | ofp.OFPPF_100MB_FD,
                "peer": 0,
                "curr_speed": 1_000_000,
                "max_speed": 1_000_000,
            },
        },
    ),
    (m.BarrierReply(), {}),
    (
        m.QueueGetConfigReply(
            port=1,
            queues=(
                PacketQueue(
                    queue_id=0,
                    port=1,
                    properties=(QueuePropMinRate(rate=100), QueuePropMaxRate(rate=900)),
                ),
                PacketQueue(
                    queue_id=1,
                    port=1,
                    properties=(QueuePropExperimenter(experimenter=0x2320, data=b"abcdefgh"),),
                ),
            ),
        ),
        {
            "port": 1,
            "queues": [
                (0, 1, [(ofp.OFPQT_MIN_RATE, {"rate": 100}), (ofp.OFPQT_MAX_RATE, {"rate": 900})]),
                (
                    1,
                    1,
                    [(ofp.OFPQT_EXPERIMENTER, {"experimenter": 0x2320, "data": b"abcdefgh"})],
                ),
            ],
        },
    ),
    (
        m.RoleReply(role=c.OFPCR_ROLE_EQUAL, generation_id=77),
        {"role": ofp.OFPCR_ROLE_EQUAL, "generation_id": 77},
    ),
    (
        m.GetAsyncReply(packet_in_mask=(3, 1), port_status_mask=(7, 7), flow_removed_mask=(15, 0)),
        {"packet_in_mask": [3, 1], "port_status_mask": [7, 7], "flow_removed_mask": [15, 0]},
    ),
    (
        m.Error(type=c.OFPET_BAD_MATCH, code=c.OFPBMC_BAD_PREREQ, data=b"\x04\x0e\x00\x50"),
        {"type": ofp.OFPET_BAD_MATCH, "code": ofp.OFPBMC_BAD_PREREQ, "data": b"\x04\x0e\x00\x50"},
    ),
    (
        m.Error(type=c.OFPET_EXPERIMENTER, exp_type=1, experimenter=0xABCDEF, data=b"z"),
        {"type": ofp.OFPET_EXPERIMENTER, "exp_type": 1, "experimenter": 0xABCDEF, "data": b"z"},
    ),
    (m.EchoRequest(data=b"abc"), {"data": b"abc"}),
    (m.EchoReply(data=b""), {"data": b""}),
    (
        m.Experimenter(experimenter=0x4F4E4600, exp_type=9, data=b"\x00\x01"),
        {"experimenter": 0x4F4E4600, "exp_type": 9, "data": b"\x00\x01"},
    ),
    (m.Hello.for_versions((1, 4)), {"elements": [[1, 4]]}),
    (
        m.Hello(elements=(HelloElemVersionBitmap.of_versions((4, 0x21, 0x42)),)),
        {"elements": [[4, 0x21, 0x42]]},
    ),
]


_QPROP_ATTRS = ("rate", "experimenter", "data")


def _osken_value(name: str, value: Any) -> Any:
    """os-ken's attribute in the plain form used by FROM_SWITCH."""
    if name == "match":
        return dict(value.items())
    if name == "desc":
        return _osken_port(value)
    if name == "queues":
        return [
            (
                q.queue_id,
                q.port,
                [
                    (
                        p.property,
                        {k: _osken_value(k, getattr(p, k)) for k in _QPROP_ATTRS if hasattr(p, k)},
                    )
                    for p in q.properties
                ],
            )
            for q in value
        ]
    if name == "elements":
        return [list(e.versions) for e in value]
    if name == "data" and not isinstance(value, bytes):
        return bytes(value)  # os-ken hands some payloads out as bytearray or list of ints
    return value


@pytest.mark.parametrize(
    ("msg", "expected"),
    FROM_SWITCH,
    ids=lambda x: type(x).__name__ if isinstance(x, Message) else "",
)
def test_we_encode_osken_parses(msg: Message, expected: dict[str, Any]) -> None:
    raw = msg.with_xid(XID).encode()
    parsed = _osken_parse(raw)
    assert type(parsed).cls_msg_type == msg.msg_type
    assert (parsed.version, parsed.msg_len, parsed.xid) == (c.OFP_VERSION, len(raw), XID)
    got = {name: _osken_value(name, getattr(parsed, name)) for name in expected}
    assert got == expected


@pytest.mark.xfail(
    strict=True,
    raises=struct.error,
    reason="os-ken's OFPHello.parser steps over elements by their length without the padding "
    "to 8 bytes that openflow.h requires, so it misreads any element whose length is not a "
    "multiple of 8 (here an unknown 7-byte element)",
)
def test_osken_parses_hello_with_padded_unknown_element() -> None:
    hello = m.Hello(elements=(HelloElemUnknown(type=7, data=b"abc"),)).with_xid(XID)
    parsed = _osken_parse(hello.encode())
    assert parsed.elements == []


def test_every_message_class_is_cross_checked() -> None:
    """Each class appears in at least one direction (so a new message cannot be forgotten)."""
    checked = {type(exp) for _, _, exp in (getattr(p, "values", p) for p in TO_SWITCH)}
    checked |= {type(msg) for msg, _ in FROM_SWITCH}
    assert checked == {getattr(m, name) for name in m.__all__}
