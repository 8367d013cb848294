"""Flow and packet OpenFlow 1.3 messages: PACKET_IN, FLOW_REMOVED, PORT_STATUS,
PACKET_OUT and FLOW_MOD.

Role: the messages that carry packets between the data plane and the
controller and program the flow tables (spec 1.3.5 §7.3.4, §7.3.7, §7.4).
In the paper magma installs each Personal Network as FLOW_MODs on quake and
handles the first packet of unknown traffic as a PACKET_IN; PORT_STATUS tells
cinder a link went down. Part of ofp_lib, shared by switch and controller.

Design: frozen keyword-only dataclasses; the ``ofp_match`` (padded to 8 bytes),
actions and instructions are the typed values of :mod:`~openvolcano.ofp.oxm`,
:mod:`~openvolcano.ofp.actions` and :mod:`~openvolcano.ofp.instructions`.
Derived lengths (``actions_len``) are not fields.

Invariants: ``decode_message(m.encode()) == m``; a short fixed part raises
OFPET_BAD_REQUEST/OFPBRC_BAD_LEN, a bad match/action/instruction inside raises
that structure's own error; nothing else escapes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar, Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import Action, decode_actions, encode_actions
from openvolcano.ofp.base import Message, register
from openvolcano.ofp.instructions import Instruction, decode_instructions, encode_instructions
from openvolcano.ofp.oxm import Match
from openvolcano.ofp.structs import Port
from openvolcano.ofp.wire import Reader, check_uint

__all__ = ["FlowMod", "FlowRemoved", "PacketIn", "PacketOut", "PortStatus"]

_H = c.OFP_HEADER_LEN
_MATCH_HDR = c.OFP_MATCH_LEN  # the ofp_match fixed part counted in the C struct sizes

# struct ofp_packet_in {
#     struct ofp_header header;
#     uint32_t buffer_id;     /* ID assigned by datapath. */
#     uint16_t total_len;     /* Full length of frame. */
#     uint8_t reason;         /* Reason packet is being sent (one of OFPR_*) */
#     uint8_t table_id;       /* ID of the table that was looked up */
#     uint64_t cookie;        /* Cookie of the flow entry that was looked up. */
#     struct ofp_match match; /* Packet metadata. Variable size. */
#     /* The variable size and padded match is always followed by:
#      *   - Exactly 2 all-zero padding bytes, then
#      *   - An Ethernet frame whose length is inferred from header.length.
#      * The padding bytes preceding the Ethernet frame ensure that the IP
#      * header (if any) following the Ethernet header is 32-bit aligned.
#      */
#     //uint8_t pad[2];       /* Align to 64 bit + 16 bit */
#     //uint8_t data[0];      /* Ethernet frame */
# };
# OFP_ASSERT(sizeof(struct ofp_packet_in) == 32);
_PACKET_IN = struct.Struct("!IHBBQ")
assert _H + _PACKET_IN.size + _MATCH_HDR == c.OFP_PACKET_IN_LEN == 32


@register
@dataclass(frozen=True, kw_only=True)
class PacketIn(Message):
    """OFPT_PACKET_IN: ``data`` is the (possibly truncated) frame of ``total_len`` bytes."""

    msg_type: ClassVar[int] = c.OFPT_PACKET_IN
    buffer_id: int = c.OFP_NO_BUFFER
    total_len: int = 0
    reason: int = c.OFPR_NO_MATCH
    table_id: int = 0
    cookie: int = 0
    match: Match = field(default_factory=Match)
    data: bytes = b""

    def encode_body(self) -> bytes:
        check_uint("buffer_id", self.buffer_id, 32)
        check_uint("total_len", self.total_len, 16)
        check_uint("reason", self.reason, 8)
        check_uint("table_id", self.table_id, 8)
        check_uint("cookie", self.cookie, 64)
        return (
            _PACKET_IN.pack(self.buffer_id, self.total_len, self.reason, self.table_id, self.cookie)
            + self.match.encode()
            + b"\0\0"
            + self.data
        )

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        buffer_id, total_len, reason, table_id, cookie = r.unpack(_PACKET_IN)
        match = Match.decode(r)
        r.skip(2)
        return cls(
            xid=xid,
            buffer_id=buffer_id,
            total_len=total_len,
            reason=reason,
            table_id=table_id,
            cookie=cookie,
            match=match,
            data=r.rest(),
        )


# struct ofp_flow_removed {
#     struct ofp_header header;
#     uint64_t cookie;          /* Opaque controller-issued identifier. */
#     uint16_t priority;        /* Priority level of flow entry. */
#     uint8_t reason;           /* One of OFPRR_*. */
#     uint8_t table_id;         /* ID of the table */
#     uint32_t duration_sec;    /* Time flow was alive in seconds. */
#     uint32_t duration_nsec;   /* Time flow was alive in nanoseconds beyond
#                                  duration_sec. */
#     uint16_t idle_timeout;    /* Idle timeout from original flow mod. */
#     uint16_t hard_timeout;    /* Hard timeout from original flow mod. */
#     uint64_t packet_count;
#     uint64_t byte_count;
#     struct ofp_match match;   /* Description of fields. Variable size. */
# };
# OFP_ASSERT(sizeof(struct ofp_flow_removed) == 56);
_FLOW_REMOVED = struct.Struct("!QHBBIIHHQQ")
assert _H + _FLOW_REMOVED.size + _MATCH_HDR == c.OFP_FLOW_REMOVED_LEN == 56


@register
@dataclass(frozen=True, kw_only=True)
class FlowRemoved(Message):
    """OFPT_FLOW_REMOVED: ``reason`` is one of ``OFPRR_*``."""

    msg_type: ClassVar[int] = c.OFPT_FLOW_REMOVED
    cookie: int = 0
    priority: int = c.OFP_DEFAULT_PRIORITY
    reason: int = c.OFPRR_IDLE_TIMEOUT
    table_id: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    packet_count: int = 0
    byte_count: int = 0
    match: Match = field(default_factory=Match)

    def encode_body(self) -> bytes:
        for name, bits in (
            ("cookie", 64),
            ("priority", 16),
            ("reason", 8),
            ("table_id", 8),
            ("duration_sec", 32),
            ("duration_nsec", 32),
            ("idle_timeout", 16),
            ("hard_timeout", 16),
            ("packet_count", 64),
            ("byte_count", 64),
        ):
            check_uint(name, getattr(self, name), bits)
        return (
            _FLOW_REMOVED.pack(
                self.cookie,
                self.priority,
                self.reason,
                self.table_id,
                self.duration_sec,
                self.duration_nsec,
                self.idle_timeout,
                self.hard_timeout,
                self.packet_count,
                self.byte_count,
            )
            + self.match.encode()
        )

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        (
            cookie,
            priority,
            reason,
            table_id,
            duration_sec,
            duration_nsec,
            idle_timeout,
            hard_timeout,
            packet_count,
            byte_count,
        ) = r.unpack(_FLOW_REMOVED)
        return cls(
            xid=xid,
            cookie=cookie,
            priority=priority,
            reason=reason,
            table_id=table_id,
            duration_sec=duration_sec,
            duration_nsec=duration_nsec,
            idle_timeout=idle_timeout,
            hard_timeout=hard_timeout,
            packet_count=packet_count,
            byte_count=byte_count,
            match=Match.decode(r),
        )


# struct ofp_port_status {
#     struct ofp_header header;
#     uint8_t reason;          /* One of OFPPR_*. */
#     uint8_t pad[7];          /* Align to 64-bits. */
#     struct ofp_port desc;
# };
# OFP_ASSERT(sizeof(struct ofp_port_status) == 80);
_PORT_STATUS = struct.Struct("!B7x")
assert _H + _PORT_STATUS.size + c.OFP_PORT_LEN == c.OFP_PORT_STATUS_LEN == 80


@register
@dataclass(frozen=True, kw_only=True)
class PortStatus(Message):
    """OFPT_PORT_STATUS: ``reason`` is one of ``OFPPR_*``."""

    msg_type: ClassVar[int] = c.OFPT_PORT_STATUS
    reason: int
    desc: Port

    def encode_body(self) -> bytes:
        check_uint("reason", self.reason, 8)
        return _PORT_STATUS.pack(self.reason) + self.desc.encode()

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        (reason,) = r.unpack(_PORT_STATUS)
        return cls(xid=xid, reason=reason, desc=Port.decode(r))


# struct ofp_packet_out {
#     struct ofp_header header;
#     uint32_t buffer_id;           /* ID assigned by datapath (OFP_NO_BUFFER
#                                      if none). */
#     uint32_t in_port;             /* Packet's input port or OFPP_CONTROLLER. */
#     uint16_t actions_len;         /* Size of action array in bytes. */
#     uint8_t pad[6];
#     struct ofp_action_header actions[0]; /* Action list - 0 or more. */
#     /* The variable size action list is optionally followed by packet data.
#      * This data is only present and meaningful if buffer_id == -1. */
#     /* uint8_t data[0]; */        /* Packet data.  The length is inferred
#                                      from the length field in the header. */
# };
# OFP_ASSERT(sizeof(struct ofp_packet_out) == 24);
_PACKET_OUT = struct.Struct("!IIH6x")
assert _H + _PACKET_OUT.size == c.OFP_PACKET_OUT_LEN == 24


@register
@dataclass(frozen=True, kw_only=True)
class PacketOut(Message):
    """OFPT_PACKET_OUT: apply ``actions`` to ``data`` (or to the buffered packet)."""

    msg_type: ClassVar[int] = c.OFPT_PACKET_OUT
    buffer_id: int = c.OFP_NO_BUFFER
    in_port: int = c.OFPP_CONTROLLER
    actions: tuple[Action, ...] = ()
    data: bytes = b""

    def encode_body(self) -> bytes:
        check_uint("buffer_id", self.buffer_id, 32)
        check_uint("in_port", self.in_port, 32)
        acts = encode_actions(self.actions)
        check_uint("actions_len", len(acts), 16)
        return _PACKET_OUT.pack(self.buffer_id, self.in_port, len(acts)) + acts + self.data

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        buffer_id, in_port, actions_len = r.unpack(_PACKET_OUT)
        if actions_len > r.remaining():
            raise r.fail(f"actions_len {actions_len} exceeds the {r.remaining()} bytes left")
        actions = decode_actions(r.sub(actions_len))
        return cls(xid=xid, buffer_id=buffer_id, in_port=in_port, actions=actions, data=r.rest())


# struct ofp_flow_mod {
#     struct ofp_header header;
#     uint64_t cookie;             /* Opaque controller-issued identifier. */
#     uint64_t cookie_mask;        /* Mask used to restrict the cookie bits
#                                     that must match when the command is
#                                     OFPFC_MODIFY* or OFPFC_DELETE*. A value
#                                     of 0 indicates no restriction. */
#     uint8_t table_id;            /* ID of the table to put the flow in.
#                                     For OFPFC_DELETE_* commands, OFPTT_ALL
#                                     can also be used to delete matching
#                                     flows from all tables. */
#     uint8_t command;             /* One of OFPFC_*. */
#     uint16_t idle_timeout;       /* Idle time before discarding (seconds). */
#     uint16_t hard_timeout;       /* Max time before discarding (seconds). */
#     uint16_t priority;           /* Priority level of flow entry. */
#     uint32_t buffer_id;          /* Buffered packet to apply to, or
#                                     OFP_NO_BUFFER.
#                                     Not meaningful for OFPFC_DELETE*. */
#     uint32_t out_port;           /* For OFPFC_DELETE* commands, require
#                                     matching entries to include this as an
#                                     output port.  A value of OFPP_ANY
#                                     indicates no restriction. */
#     uint32_t out_group;          /* For OFPFC_DELETE* commands, require
#                                     matching entries to include this as an
#                                     output group.  A value of OFPG_ANY
#                                     indicates no restriction. */
#     uint16_t flags;              /* Bitmap of OFPFF_* flags. */
#     uint8_t pad[2];
#     struct ofp_match match;      /* Fields to match. Variable size. */
#     //struct ofp_instruction instructions[0]; /* Instruction set - 0 or more. */
# };
# OFP_ASSERT(sizeof(struct ofp_flow_mod) == 56);
_FLOW_MOD = struct.Struct("!QQBBHHHIIIH2x")
assert _H + _FLOW_MOD.size + _MATCH_HDR == c.OFP_FLOW_MOD_LEN == 56


@register
@dataclass(frozen=True, kw_only=True)
class FlowMod(Message):
    """OFPT_FLOW_MOD: add/modify/delete flow entries (``command`` is one of ``OFPFC_*``)."""

    msg_type: ClassVar[int] = c.OFPT_FLOW_MOD
    cookie: int = 0
    cookie_mask: int = 0
    table_id: int = 0
    command: int = c.OFPFC_ADD
    idle_timeout: int = 0
    hard_timeout: int = 0
    priority: int = c.OFP_DEFAULT_PRIORITY
    buffer_id: int = c.OFP_NO_BUFFER
    out_port: int = c.OFPP_ANY
    out_group: int = c.OFPG_ANY
    flags: int = 0
    match: Match = field(default_factory=Match)
    instructions: tuple[Instruction, ...] = ()

    def encode_body(self) -> bytes:
        for name, bits in (
            ("cookie", 64),
            ("cookie_mask", 64),
            ("table_id", 8),
            ("command", 8),
            ("idle_timeout", 16),
            ("hard_timeout", 16),
            ("priority", 16),
            ("buffer_id", 32),
            ("out_port", 32),
            ("out_group", 32),
            ("flags", 16),
        ):
            check_uint(name, getattr(self, name), bits)
        return (
            _FLOW_MOD.pack(
                self.cookie,
                self.cookie_mask,
                self.table_id,
                self.command,
                self.idle_timeout,
                self.hard_timeout,
                self.priority,
                self.buffer_id,
                self.out_port,
                self.out_group,
                self.flags,
            )
            + self.match.encode()
            + encode_instructions(self.instructions)
        )

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        (
            cookie,
            cookie_mask,
            table_id,
            command,
            idle_timeout,
            hard_timeout,
            priority,
            buffer_id,
            out_port,
            out_group,
            flags,
        ) = r.unpack(_FLOW_MOD)
        match = Match.decode(r)
        return cls(
            xid=xid,
            cookie=cookie,
            cookie_mask=cookie_mask,
            table_id=table_id,
            command=command,
            idle_timeout=idle_timeout,
            hard_timeout=hard_timeout,
            priority=priority,
            buffer_id=buffer_id,
            out_port=out_port,
            out_group=out_group,
            flags=flags,
            match=match,
            instructions=decode_instructions(r),
        )
