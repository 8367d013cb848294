"""Switch description, flow, aggregate and table statistics (OFPMP_DESC ... OFPMP_TABLE).

Role: the counters magma collects from quake and exposes to geyser's GAL and
to crater (the paper's monitoring loop), and the description the controller
reads when a switch connects. Port and queue statistics are in
:mod:`.port_queue`.

Design: one request class and one reply class per ``OFPMP_*`` type, plus one
frozen dataclass per repeated body entry (``FlowStats``, ``TableStats``); list replies carry ``body: tuple[entry, ...]``
so :func:`openvolcano.ofp.multipart.split_reply` can cut them. Single-struct
bodies (``ofp_desc``, ``ofp_aggregate_stats_reply``) are flattened into the
reply's fields. The flow requests default to "every flow" (``OFPTT_ALL``, ``OFPP_ANY``,
``OFPG_ANY``, empty match).

Invariants: ``FlowStats.length`` is derived; a ``length`` shorter than the
fixed part or longer than the body is ``OFPET_BAD_REQUEST/OFPBRC_BAD_LEN``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar, Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.instructions import Instruction, decode_instructions, encode_instructions
from openvolcano.ofp.multipart.base import (
    EmptyMultipartRequest,
    EntryListReply,
    MultipartReply,
    MultipartRequest,
    register_reply,
    register_request,
)
from openvolcano.ofp.oxm import Match
from openvolcano.ofp.wire import Reader, check_uint, encode_cstr

__all__ = [
    "AggregateStatsReply",
    "AggregateStatsRequest",
    "DescReply",
    "DescRequest",
    "FlowStats",
    "FlowStatsReply",
    "FlowStatsRequest",
    "TableStats",
    "TableStatsReply",
    "TableStatsRequest",
]


# --- OFPMP_DESC ---------------------------------------------------------------

# struct ofp_desc {
#     char mfr_desc[DESC_STR_LEN];     /* Manufacturer description. */
#     char hw_desc[DESC_STR_LEN];      /* Hardware description. */
#     char sw_desc[DESC_STR_LEN];      /* Software description. */
#     char serial_num[SERIAL_NUM_LEN]; /* Serial number. */
#     char dp_desc[DESC_STR_LEN];      /* Human readable description of datapath. */
# };
_DESC = struct.Struct("!256s256s256s32s256s")
assert _DESC.size == c.OFP_DESC_LEN == 1056


@register_request
@dataclass(frozen=True, kw_only=True)
class DescRequest(EmptyMultipartRequest):
    """OFPMP_DESC request: empty body."""

    mp_type: ClassVar[int] = c.OFPMP_DESC


@register_reply
@dataclass(frozen=True, kw_only=True)
class DescReply(MultipartReply):
    """OFPMP_DESC reply: the ``ofp_desc`` strings."""

    mp_type: ClassVar[int] = c.OFPMP_DESC
    mfr_desc: str = ""
    hw_desc: str = ""
    sw_desc: str = ""
    serial_num: str = ""
    dp_desc: str = ""

    def encode_mp_body(self) -> bytes:
        return b"".join(
            (
                encode_cstr("mfr_desc", self.mfr_desc, c.DESC_STR_LEN),
                encode_cstr("hw_desc", self.hw_desc, c.DESC_STR_LEN),
                encode_cstr("sw_desc", self.sw_desc, c.DESC_STR_LEN),
                encode_cstr("serial_num", self.serial_num, c.SERIAL_NUM_LEN),
                encode_cstr("dp_desc", self.dp_desc, c.DESC_STR_LEN),
            )
        )

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        return cls(
            xid=xid,
            flags=flags,
            mfr_desc=r.cstr(c.DESC_STR_LEN),
            hw_desc=r.cstr(c.DESC_STR_LEN),
            sw_desc=r.cstr(c.DESC_STR_LEN),
            serial_num=r.cstr(c.SERIAL_NUM_LEN),
            dp_desc=r.cstr(c.DESC_STR_LEN),
        )


# --- OFPMP_FLOW and OFPMP_AGGREGATE -------------------------------------------

# struct ofp_flow_stats_request {      (also ofp_aggregate_stats_request)
#     uint8_t table_id;     /* ID of table to read (from ofp_table_stats), OFPTT_ALL for all. */
#     uint8_t pad[3];
#     uint32_t out_port;    /* Require matching entries to include this as an output port. */
#     uint32_t out_group;   /* Require matching entries to include this as an output group. */
#     uint8_t pad2[4];
#     uint64_t cookie;      /* Require matching entries to contain this cookie value */
#     uint64_t cookie_mask; /* Mask used to restrict the cookie bits that must match. */
#     struct ofp_match match; /* Fields to match. Variable size. */
# };
# (without the match: sizeof includes the 8-byte empty ofp_match)
_FLOW_REQ = struct.Struct("!B3xII4xQQ")
assert _FLOW_REQ.size + 8 == c.OFP_FLOW_STATS_REQUEST_LEN == 40


@dataclass(frozen=True, kw_only=True)
class _FlowFilterRequest(MultipartRequest):
    """The body shared by the flow and aggregate stats requests (which flow entries)."""

    table_id: int = c.OFPTT_ALL
    out_port: int = c.OFPP_ANY
    out_group: int = c.OFPG_ANY
    cookie: int = 0
    cookie_mask: int = 0
    match: Match = field(default_factory=Match)

    def encode_mp_body(self) -> bytes:
        check_uint("table_id", self.table_id, 8)
        check_uint("out_port", self.out_port, 32)
        check_uint("out_group", self.out_group, 32)
        check_uint("cookie", self.cookie, 64)
        check_uint("cookie_mask", self.cookie_mask, 64)
        return (
            _FLOW_REQ.pack(
                self.table_id, self.out_port, self.out_group, self.cookie, self.cookie_mask
            )
            + self.match.encode()
        )

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        table_id, out_port, out_group, cookie, cookie_mask = r.unpack(_FLOW_REQ)
        return cls(
            xid=xid,
            flags=flags,
            table_id=table_id,
            out_port=out_port,
            out_group=out_group,
            cookie=cookie,
            cookie_mask=cookie_mask,
            match=Match.decode(r),
        )


@register_request
@dataclass(frozen=True, kw_only=True)
class FlowStatsRequest(_FlowFilterRequest):
    """OFPMP_FLOW request: which flow entries to report."""

    mp_type: ClassVar[int] = c.OFPMP_FLOW


# struct ofp_flow_stats {
#     uint16_t length;        /* Length of this entry. */
#     uint8_t table_id;       /* ID of table flow came from. */
#     uint8_t pad;
#     uint32_t duration_sec;  /* Time flow has been alive in seconds. */
#     uint32_t duration_nsec; /* Time flow has been alive in nanoseconds beyond duration_sec. */
#     uint16_t priority;      /* Priority of the entry. */
#     uint16_t idle_timeout;  /* Number of seconds idle before expiration. */
#     uint16_t hard_timeout;  /* Number of seconds before expiration. */
#     uint16_t flags;         /* Bitmap of OFPFF_* flags. */
#     uint8_t pad2[4];
#     uint64_t cookie;        /* Opaque controller-issued identifier. */
#     uint64_t packet_count;  /* Number of packets in flow. */
#     uint64_t byte_count;    /* Number of bytes in flow. */
#     struct ofp_match match; /* Description of fields. Variable size. */
#     //struct ofp_instruction instructions[0];
# };
_FLOW_STATS = struct.Struct("!HBxIIHHHH4xQQQ")
assert _FLOW_STATS.size + 8 == c.OFP_FLOW_STATS_LEN == 56


@dataclass(frozen=True, kw_only=True)
class FlowStats:
    """One ``ofp_flow_stats`` entry of a flow stats reply."""

    table_id: int
    duration_sec: int = 0
    duration_nsec: int = 0
    priority: int = c.OFP_DEFAULT_PRIORITY
    idle_timeout: int = 0
    hard_timeout: int = 0
    flags: int = 0
    cookie: int = 0
    packet_count: int = 0
    byte_count: int = 0
    match: Match = field(default_factory=Match)
    instructions: tuple[Instruction, ...] = ()

    def encode(self) -> bytes:
        for name, bits in (
            ("table_id", 8),
            ("duration_sec", 32),
            ("duration_nsec", 32),
            ("priority", 16),
            ("idle_timeout", 16),
            ("hard_timeout", 16),
            ("flags", 16),
            ("cookie", 64),
            ("packet_count", 64),
            ("byte_count", 64),
        ):
            check_uint(f"FlowStats.{name}", getattr(self, name), bits)
        tail = self.match.encode() + encode_instructions(self.instructions)
        length = check_uint("FlowStats length", _FLOW_STATS.size + len(tail), 16)
        return (
            _FLOW_STATS.pack(
                length,
                self.table_id,
                self.duration_sec,
                self.duration_nsec,
                self.priority,
                self.idle_timeout,
                self.hard_timeout,
                self.flags,
                self.cookie,
                self.packet_count,
                self.byte_count,
            )
            + tail
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        length = r.peek_u16()
        if length < c.OFP_FLOW_STATS_LEN:
            raise r.fail(f"ofp_flow_stats length {length} < {c.OFP_FLOW_STATS_LEN}")
        s = r.sub(length)
        (_, table_id, dsec, dnsec, prio, idle, hard, flags, cookie, pkts, octets) = s.unpack(
            _FLOW_STATS
        )
        match = Match.decode(s)
        return cls(
            table_id=table_id,
            duration_sec=dsec,
            duration_nsec=dnsec,
            priority=prio,
            idle_timeout=idle,
            hard_timeout=hard,
            flags=flags,
            cookie=cookie,
            packet_count=pkts,
            byte_count=octets,
            match=match,
            instructions=decode_instructions(s),
        )


@register_reply
@dataclass(frozen=True, kw_only=True)
class FlowStatsReply(EntryListReply):
    """OFPMP_FLOW reply: one entry per flow."""

    mp_type: ClassVar[int] = c.OFPMP_FLOW
    entry: ClassVar[type[FlowStats]] = FlowStats
    body: tuple[FlowStats, ...] = ()


@register_request
@dataclass(frozen=True, kw_only=True)
class AggregateStatsRequest(_FlowFilterRequest):
    """OFPMP_AGGREGATE request: the same filter as a flow stats request."""

    mp_type: ClassVar[int] = c.OFPMP_AGGREGATE


# struct ofp_aggregate_stats_reply {
#     uint64_t packet_count; /* Number of packets in flows. */
#     uint64_t byte_count;   /* Number of bytes in flows. */
#     uint32_t flow_count;   /* Number of flows. */
#     uint8_t pad[4];        /* Align to 64 bits. */
# };
_AGGREGATE = struct.Struct("!QQI4x")
assert _AGGREGATE.size == c.OFP_AGGREGATE_STATS_REPLY_LEN == 24


@register_reply
@dataclass(frozen=True, kw_only=True)
class AggregateStatsReply(MultipartReply):
    """OFPMP_AGGREGATE reply: totals over the matching flows."""

    mp_type: ClassVar[int] = c.OFPMP_AGGREGATE
    packet_count: int = 0
    byte_count: int = 0
    flow_count: int = 0

    def encode_mp_body(self) -> bytes:
        check_uint("packet_count", self.packet_count, 64)
        check_uint("byte_count", self.byte_count, 64)
        check_uint("flow_count", self.flow_count, 32)
        return _AGGREGATE.pack(self.packet_count, self.byte_count, self.flow_count)

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        packets, octets, flows = r.unpack(_AGGREGATE)
        return cls(xid=xid, flags=flags, packet_count=packets, byte_count=octets, flow_count=flows)


# --- OFPMP_TABLE --------------------------------------------------------------


@register_request
@dataclass(frozen=True, kw_only=True)
class TableStatsRequest(EmptyMultipartRequest):
    """OFPMP_TABLE request: empty body."""

    mp_type: ClassVar[int] = c.OFPMP_TABLE


# struct ofp_table_stats {
#     uint8_t table_id;       /* Identifier of table. Lower numbered tables are consulted first. */
#     uint8_t pad[3];         /* Align to 32-bits. */
#     uint32_t active_count;  /* Number of active entries. */
#     uint64_t lookup_count;  /* Number of packets looked up in table. */
#     uint64_t matched_count; /* Number of packets that hit table. */
# };
_TABLE_STATS = struct.Struct("!B3xIQQ")
assert _TABLE_STATS.size == c.OFP_TABLE_STATS_LEN == 24


@dataclass(frozen=True, kw_only=True)
class TableStats:
    """One ``ofp_table_stats`` entry."""

    table_id: int
    active_count: int = 0
    lookup_count: int = 0
    matched_count: int = 0

    def encode(self) -> bytes:
        check_uint("TableStats.table_id", self.table_id, 8)
        check_uint("TableStats.active_count", self.active_count, 32)
        check_uint("TableStats.lookup_count", self.lookup_count, 64)
        check_uint("TableStats.matched_count", self.matched_count, 64)
        return _TABLE_STATS.pack(
            self.table_id, self.active_count, self.lookup_count, self.matched_count
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        table_id, active, lookup, matched = r.unpack(_TABLE_STATS)
        return cls(
            table_id=table_id, active_count=active, lookup_count=lookup, matched_count=matched
        )


@register_reply
@dataclass(frozen=True, kw_only=True)
class TableStatsReply(EntryListReply):
    """OFPMP_TABLE reply: one entry per table."""

    mp_type: ClassVar[int] = c.OFPMP_TABLE
    entry: ClassVar[type[TableStats]] = TableStats
    body: tuple[TableStats, ...] = ()
