"""Data-driven conformance cases for quake's OpenFlow 1.3 pipeline.

Each :class:`Case` is plain data: the controller messages to install
(FlowMod / GroupMod / MeterMod, applied in order), the switch ports, one
ingress frame, and what must come out: the exact (port, frame) list and
the packet-ins (reason, table_id). The same list runs in memory
(``tests/unit/quake/pipeline/test_conformance.py``) and can be replayed
against a live quake in network namespaces, so cases never reference
pipeline internals.
"""

from __future__ import annotations

from dataclasses import dataclass

import quake_frames as fr

from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import (
    ActionDecNwTtl,
    ActionGroup,
    ActionOutput,
    ActionPopVlan,
    ActionPushMpls,
    ActionPushVlan,
    ActionSetField,
)
from openvolcano.ofp.base import Message
from openvolcano.ofp.instructions import (
    InstructionApplyActions,
    InstructionGotoTable,
    InstructionWriteActions,
)
from openvolcano.ofp.messages import FlowMod, GroupMod
from openvolcano.ofp.oxm import Match, OxmTLV
from openvolcano.ofp.structs import Bucket


@dataclass(frozen=True, kw_only=True)
class Case:
    name: str
    setup: tuple[Message, ...]
    in_port: int
    frame: bytes
    outputs: tuple[tuple[int, bytes], ...] = ()
    packet_ins: tuple[tuple[int, int], ...] = ()  # (reason, table_id)
    ports: tuple[int, ...] = (1, 2, 3, 4)


def _apply(*actions: object) -> tuple[InstructionApplyActions]:
    return (InstructionApplyActions(actions=tuple(actions)),)  # type: ignore[arg-type]


def _out(port: int) -> ActionOutput:
    return ActionOutput(port=port, max_len=c.OFPCML_NO_BUFFER)


def _sf(field: int, value: int) -> ActionSetField:
    return ActionSetField(field=OxmTLV(field=field, value=value))


_TCP = fr.tcp4_frame()
_NAT_SRC = bytes([192, 0, 2, 9])

CASES: tuple[Case, ...] = (
    Case(
        name="l2 forward on eth_dst",
        setup=(
            FlowMod(
                priority=10,
                match=Match.of(eth_dst="02:00:00:00:00:02"),
                instructions=_apply(_out(2)),
            ),
        ),
        in_port=1,
        frame=_TCP,
        outputs=((2, _TCP),),
    ),
    Case(
        name="table-miss to controller is OFPR_NO_MATCH",
        setup=(
            FlowMod(
                priority=0, instructions=_apply(ActionOutput(port=c.OFPP_CONTROLLER, max_len=128))
            ),
        ),
        in_port=3,
        frame=_TCP,
        packet_ins=((c.OFPR_NO_MATCH, 0),),
    ),
    Case(
        name="no table-miss entry drops",
        setup=(FlowMod(priority=10, match=Match.of(in_port=2), instructions=_apply(_out(1))),),
        in_port=1,
        frame=_TCP,
    ),
    Case(
        name="source NAT rewrites address and both checksums",
        setup=(
            FlowMod(
                priority=10,
                match=Match.of(eth_type=0x800, ip_proto=6, tcp_dst=80),
                instructions=_apply(
                    _sf(c.OFPXMT_OFB_IPV4_SRC, 0xC0000209),
                    _sf(c.OFPXMT_OFB_TCP_SRC, 40000),
                    _out(2),
                ),
            ),
        ),
        in_port=1,
        frame=_TCP,
        outputs=((2, fr.tcp4_frame(sport=40000, src=_NAT_SRC)),),
    ),
    Case(
        name="push VLAN then set VID, via the action set across two tables",
        setup=(
            FlowMod(
                table_id=0,
                priority=1,
                instructions=(
                    InstructionWriteActions(
                        actions=(
                            _out(3),
                            _sf(c.OFPXMT_OFB_VLAN_VID, 0x1000 | 10),
                            ActionPushVlan(ethertype=0x8100),
                        )
                    ),
                    InstructionGotoTable(table_id=1),
                ),
            ),
            FlowMod(table_id=1, priority=1),  # empty instructions: the action set runs
        ),
        in_port=1,
        frame=_TCP,
        outputs=((3, fr.tcp4_frame(vlans=((0x8100, 10, 0),))),),
    ),
    Case(
        name="pop VLAN",
        setup=(
            FlowMod(
                priority=1,
                match=Match.of(vlan_vid=(0x1000, 0x1000)),
                instructions=_apply(ActionPopVlan(), _out(2)),
            ),
        ),
        in_port=1,
        frame=fr.tcp4_frame(vlans=((0x8100, 5, 3),)),
        outputs=((2, _TCP),),
    ),
    Case(
        name="decrement TTL and route",
        setup=(
            FlowMod(
                priority=1,
                match=Match.of(eth_type=0x800, ipv4_dst=("10.0.0.0", "255.255.255.0")),
                instructions=_apply(ActionDecNwTtl(), _out(4)),
            ),
        ),
        in_port=1,
        frame=fr.tcp4_frame(ttl=9),
        outputs=((4, fr.tcp4_frame(ttl=8)),),
    ),
    Case(
        name="push MPLS copies the IP TTL",
        setup=(
            FlowMod(
                priority=1,
                match=Match.of(eth_type=0x800),
                instructions=_apply(
                    ActionPushMpls(ethertype=0x8847), _sf(c.OFPXMT_OFB_MPLS_LABEL, 100), _out(2)
                ),
            ),
        ),
        in_port=1,
        frame=fr.eth() + fr.ipv4(17, fr.udp(), ttl=32),
        outputs=((2, fr.mpls_frame(label=100, ttl=32, inner=fr.ipv4(17, fr.udp(), ttl=32))),),
    ),
    Case(
        name="group ALL replicates, excluding nothing but the packet's ingress",
        setup=(
            GroupMod(
                group_id=1,
                type=c.OFPGT_ALL,
                buckets=(Bucket(actions=(_out(2),)), Bucket(actions=(_out(3),))),
            ),
            FlowMod(priority=1, instructions=_apply(ActionGroup(group_id=1))),
        ),
        in_port=1,
        frame=fr.arp_frame(),
        outputs=((2, fr.arp_frame()), (3, fr.arp_frame())),
    ),
    Case(
        name="flood skips the ingress port",
        setup=(FlowMod(priority=1, instructions=_apply(_out(c.OFPP_FLOOD))),),
        in_port=2,
        frame=fr.arp_frame(),
        outputs=((1, fr.arp_frame()), (3, fr.arp_frame()), (4, fr.arp_frame())),
    ),
    Case(
        name="ARP reply matched on arp_op and arp_tpa",
        setup=(
            FlowMod(
                priority=1,
                match=Match.of(eth_type=0x806, arp_op=2, arp_tpa="10.0.0.2"),
                instructions=_apply(_out(4)),
            ),
        ),
        in_port=1,
        frame=fr.arp_frame(op=2),
        outputs=((4, fr.arp_frame(op=2)),),
    ),
    Case(
        name="IPv6 TCP matched on ipv6_dst prefix",
        setup=(
            FlowMod(
                priority=1,
                match=Match.of(eth_type=0x86DD, ipv6_dst=("2001:db8::", "ffff:ffff::")),
                instructions=_apply(_out(2)),
            ),
        ),
        in_port=1,
        frame=fr.tcp6_frame(),
        outputs=((2, fr.tcp6_frame()),),
    ),
)
