"""Group and meter statistics, descriptions and features (OFPMP_GROUP ... OFPMP_METER_FEATURES).

Role: how magma learns what quake's group table (fast failover, select load
balancing of the paper's service chains) and meter table (per-tenant rate
limits) contain, what they counted, and what the switch supports.

Design: one request and one reply class per ``OFPMP_*`` type; repeated body
entries (``GroupStats``, ``GroupDesc``, ``MeterStats``, ``MeterConfig``) are
frozen dataclasses in ``body: tuple[...]``; their own nested lists
(``bucket_stats``, ``buckets``, ``band_stats``, ``bands``) are tuples of
:class:`BucketCounter`, :class:`~openvolcano.ofp.structs.Bucket`,
:class:`MeterBandStats` and the ``structs`` meter bands. Feature replies are
flattened; ``max_groups`` and ``actions`` are 4-tuples indexed by ``OFPGT_*``.

Invariants: every ``length``/``len`` is derived on encode and checked on
decode; a length shorter than the fixed part or running past the body is
``OFPET_BAD_REQUEST/OFPBRC_BAD_LEN``; a per-entry counter list that is not a
whole number of entries is ``OFPBRC_BAD_LEN`` too.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.errors import OFPEncodeError
from openvolcano.ofp.multipart.base import (
    EmptyMultipartRequest,
    EntryListReply,
    MultipartReply,
    MultipartRequest,
    decode_entries,
    encode_entries,
    register_reply,
    register_request,
)
from openvolcano.ofp.structs import Bucket, MeterBand, decode_buckets, decode_meter_bands
from openvolcano.ofp.wire import Reader, check_uint

__all__ = [
    "BucketCounter",
    "GroupDesc",
    "GroupDescReply",
    "GroupDescRequest",
    "GroupFeaturesReply",
    "GroupFeaturesRequest",
    "GroupStats",
    "GroupStatsReply",
    "GroupStatsRequest",
    "MeterBandStats",
    "MeterConfig",
    "MeterConfigReply",
    "MeterConfigRequest",
    "MeterFeaturesReply",
    "MeterFeaturesRequest",
    "MeterStats",
    "MeterStatsReply",
    "MeterStatsRequest",
]


def _entry_reader(r: Reader, length_offset: int, fixed: int, what: str) -> Reader:
    """Consume one variable-length entry whose u16 length is at ``length_offset``."""
    length = r.peek_u16(length_offset)
    if length < fixed:
        raise r.fail(f"{what} length {length} < {fixed}")
    return r.sub(length)


# --- OFPMP_GROUP --------------------------------------------------------------

# struct ofp_group_stats_request {
#     uint32_t group_id; /* All groups if OFPG_ALL. */
#     uint8_t pad[4];    /* Align to 64 bits. */
# };
_GROUP_STATS_REQ = struct.Struct("!I4x")
assert _GROUP_STATS_REQ.size == c.OFP_GROUP_STATS_REQUEST_LEN == 8


@register_request
@dataclass(frozen=True, kw_only=True)
class GroupStatsRequest(MultipartRequest):
    """OFPMP_GROUP request for one group or ``OFPG_ALL``."""

    mp_type: ClassVar[int] = c.OFPMP_GROUP
    group_id: int = c.OFPG_ALL

    def encode_mp_body(self) -> bytes:
        return _GROUP_STATS_REQ.pack(check_uint("group_id", self.group_id, 32))

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        (group_id,) = r.unpack(_GROUP_STATS_REQ)
        return cls(xid=xid, flags=flags, group_id=group_id)


# struct ofp_bucket_counter {
#     uint64_t packet_count; /* Number of packets processed by bucket. */
#     uint64_t byte_count;   /* Number of bytes processed by bucket. */
# };
_BUCKET_COUNTER = struct.Struct("!QQ")
assert _BUCKET_COUNTER.size == c.OFP_BUCKET_COUNTER_LEN == 16


@dataclass(frozen=True, kw_only=True)
class BucketCounter:
    """``ofp_bucket_counter``: the counters of one bucket, in bucket order."""

    packet_count: int = 0
    byte_count: int = 0

    def encode(self) -> bytes:
        return _BUCKET_COUNTER.pack(
            check_uint("BucketCounter.packet_count", self.packet_count, 64),
            check_uint("BucketCounter.byte_count", self.byte_count, 64),
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        packets, octets = r.unpack(_BUCKET_COUNTER)
        return cls(packet_count=packets, byte_count=octets)


# struct ofp_group_stats {
#     uint16_t length;        /* Length of this entry. */
#     uint8_t pad[2];         /* Align to 32 bits. */
#     uint32_t group_id;      /* Group identifier. */
#     uint32_t ref_count;     /* Number of flows or groups that directly forward to this group. */
#     uint8_t pad2[4];        /* Align to 64 bits. */
#     uint64_t packet_count;  /* Number of packets processed by group. */
#     uint64_t byte_count;    /* Number of bytes processed by group. */
#     uint32_t duration_sec;  /* Time group has been alive in seconds. */
#     uint32_t duration_nsec; /* Time group has been alive in nanoseconds beyond duration_sec. */
#     struct ofp_bucket_counter bucket_stats[0];
# };
_GROUP_STATS = struct.Struct("!H2xII4xQQII")
assert _GROUP_STATS.size == c.OFP_GROUP_STATS_LEN == 40


@dataclass(frozen=True, kw_only=True)
class GroupStats:
    """One ``ofp_group_stats`` entry."""

    group_id: int
    ref_count: int = 0
    packet_count: int = 0
    byte_count: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    bucket_stats: tuple[BucketCounter, ...] = ()

    def encode(self) -> bytes:
        counters = encode_entries(self.bucket_stats)
        length = check_uint("GroupStats length", _GROUP_STATS.size + len(counters), 16)
        return (
            _GROUP_STATS.pack(
                length,
                check_uint("GroupStats.group_id", self.group_id, 32),
                check_uint("GroupStats.ref_count", self.ref_count, 32),
                check_uint("GroupStats.packet_count", self.packet_count, 64),
                check_uint("GroupStats.byte_count", self.byte_count, 64),
                check_uint("GroupStats.duration_sec", self.duration_sec, 32),
                check_uint("GroupStats.duration_nsec", self.duration_nsec, 32),
            )
            + counters
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        s = _entry_reader(r, 0, _GROUP_STATS.size, "ofp_group_stats")
        _, group_id, ref_count, packets, octets, dsec, dnsec = s.unpack(_GROUP_STATS)
        if s.remaining() % _BUCKET_COUNTER.size:
            raise s.fail(f"ofp_group_stats bucket_stats of {s.remaining()} bytes")
        return cls(
            group_id=group_id,
            ref_count=ref_count,
            packet_count=packets,
            byte_count=octets,
            duration_sec=dsec,
            duration_nsec=dnsec,
            bucket_stats=decode_entries(s, BucketCounter.decode),
        )


@register_reply
@dataclass(frozen=True, kw_only=True)
class GroupStatsReply(EntryListReply):
    """OFPMP_GROUP reply: one entry per group."""

    mp_type: ClassVar[int] = c.OFPMP_GROUP
    entry: ClassVar[type[GroupStats]] = GroupStats
    body: tuple[GroupStats, ...] = ()


# --- OFPMP_GROUP_DESC ---------------------------------------------------------


@register_request
@dataclass(frozen=True, kw_only=True)
class GroupDescRequest(EmptyMultipartRequest):
    """OFPMP_GROUP_DESC request: empty body."""

    mp_type: ClassVar[int] = c.OFPMP_GROUP_DESC


# struct ofp_group_desc {
#     uint16_t length;   /* Length of this entry. */
#     uint8_t type;      /* One of OFPGT_*. */
#     uint8_t pad;       /* Pad to 64 bits. */
#     uint32_t group_id; /* Group identifier. */
#     struct ofp_bucket buckets[0]; /* List of buckets - 0 or more. */
# };
_GROUP_DESC = struct.Struct("!HBxI")
assert _GROUP_DESC.size == c.OFP_GROUP_DESC_LEN == 8


@dataclass(frozen=True, kw_only=True)
class GroupDesc:
    """One ``ofp_group_desc`` entry: a group and its buckets."""

    type: int
    group_id: int
    buckets: tuple[Bucket, ...] = ()

    def encode(self) -> bytes:
        buckets = encode_entries(self.buckets)
        length = check_uint("GroupDesc length", _GROUP_DESC.size + len(buckets), 16)
        return (
            _GROUP_DESC.pack(
                length,
                check_uint("GroupDesc.type", self.type, 8),
                check_uint("GroupDesc.group_id", self.group_id, 32),
            )
            + buckets
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        s = _entry_reader(r, 0, _GROUP_DESC.size, "ofp_group_desc")
        _, type_, group_id = s.unpack(_GROUP_DESC)
        return cls(type=type_, group_id=group_id, buckets=decode_buckets(s))


@register_reply
@dataclass(frozen=True, kw_only=True)
class GroupDescReply(EntryListReply):
    """OFPMP_GROUP_DESC reply: one entry per group."""

    mp_type: ClassVar[int] = c.OFPMP_GROUP_DESC
    entry: ClassVar[type[GroupDesc]] = GroupDesc
    body: tuple[GroupDesc, ...] = ()


# --- OFPMP_GROUP_FEATURES -----------------------------------------------------


@register_request
@dataclass(frozen=True, kw_only=True)
class GroupFeaturesRequest(EmptyMultipartRequest):
    """OFPMP_GROUP_FEATURES request: empty body."""

    mp_type: ClassVar[int] = c.OFPMP_GROUP_FEATURES


# struct ofp_group_features {
#     uint32_t types;         /* Bitmap of (1 << OFPGT_*) values supported. */
#     uint32_t capabilities;  /* Bitmap of OFPGFC_* capability supported. */
#     uint32_t max_groups[4]; /* Maximum number of groups for each type. */
#     uint32_t actions[4];    /* Bitmaps of (1 << OFPAT_*) values supported. */
# };
_GROUP_FEATURES = struct.Struct("!II4I4I")
assert _GROUP_FEATURES.size == c.OFP_GROUP_FEATURES_LEN == 40


def _four(name: str, values: tuple[int, ...]) -> tuple[int, ...]:
    if len(values) != 4:
        raise OFPEncodeError(f"{name} needs 4 values (one per OFPGT_*), got {len(values)}")
    return tuple(check_uint(f"{name}[{i}]", v, 32) for i, v in enumerate(values))


@register_reply
@dataclass(frozen=True, kw_only=True)
class GroupFeaturesReply(MultipartReply):
    """OFPMP_GROUP_FEATURES reply (``ofp_group_features``, flattened)."""

    mp_type: ClassVar[int] = c.OFPMP_GROUP_FEATURES
    types: int = 0
    capabilities: int = 0
    max_groups: tuple[int, ...] = (0, 0, 0, 0)
    actions: tuple[int, ...] = (0, 0, 0, 0)

    def encode_mp_body(self) -> bytes:
        return _GROUP_FEATURES.pack(
            check_uint("types", self.types, 32),
            check_uint("capabilities", self.capabilities, 32),
            *_four("max_groups", self.max_groups),
            *_four("actions", self.actions),
        )

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        types, capabilities, *rest = r.unpack(_GROUP_FEATURES)
        return cls(
            xid=xid,
            flags=flags,
            types=types,
            capabilities=capabilities,
            max_groups=tuple(rest[:4]),
            actions=tuple(rest[4:]),
        )


# --- OFPMP_METER and OFPMP_METER_CONFIG ---------------------------------------

# struct ofp_meter_multipart_request {
#     uint32_t meter_id; /* Meter instance, or OFPM_ALL. */
#     uint8_t pad[4];    /* Align to 64 bits. */
# };
_METER_REQ = struct.Struct("!I4x")
assert _METER_REQ.size == c.OFP_METER_MULTIPART_REQUEST_LEN == 8


@dataclass(frozen=True, kw_only=True)
class _MeterRequest(MultipartRequest):
    """``ofp_meter_multipart_request``: shared by the meter stats and config requests."""

    meter_id: int = c.OFPM_ALL

    def encode_mp_body(self) -> bytes:
        return _METER_REQ.pack(check_uint("meter_id", self.meter_id, 32))

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        (meter_id,) = r.unpack(_METER_REQ)
        return cls(xid=xid, flags=flags, meter_id=meter_id)


@register_request
@dataclass(frozen=True, kw_only=True)
class MeterStatsRequest(_MeterRequest):
    """OFPMP_METER request for one meter or ``OFPM_ALL``."""

    mp_type: ClassVar[int] = c.OFPMP_METER


# struct ofp_meter_band_stats {
#     uint64_t packet_band_count; /* Number of packets in band. */
#     uint64_t byte_band_count;   /* Number of bytes in band. */
# };
_BAND_STATS = struct.Struct("!QQ")
assert _BAND_STATS.size == c.OFP_METER_BAND_STATS_LEN == 16


@dataclass(frozen=True, kw_only=True)
class MeterBandStats:
    """``ofp_meter_band_stats``: the counters of one band, in band order."""

    packet_band_count: int = 0
    byte_band_count: int = 0

    def encode(self) -> bytes:
        return _BAND_STATS.pack(
            check_uint("MeterBandStats.packet_band_count", self.packet_band_count, 64),
            check_uint("MeterBandStats.byte_band_count", self.byte_band_count, 64),
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        packets, octets = r.unpack(_BAND_STATS)
        return cls(packet_band_count=packets, byte_band_count=octets)


# struct ofp_meter_stats {
#     uint32_t meter_id;        /* Meter instance. */
#     uint16_t len;             /* Length in bytes of this stats. */
#     uint8_t pad[6];
#     uint32_t flow_count;      /* Number of flows bound to meter. */
#     uint64_t packet_in_count; /* Number of packets in input. */
#     uint64_t byte_in_count;   /* Number of bytes in input. */
#     uint32_t duration_sec;    /* Time meter has been alive in seconds. */
#     uint32_t duration_nsec;   /* Time meter has been alive in nanoseconds beyond duration_sec. */
#     struct ofp_meter_band_stats band_stats[0]; /* The band_stats length is inferred from the length field. */
# };
_METER_STATS = struct.Struct("!IH6xIQQII")
assert _METER_STATS.size == c.OFP_METER_STATS_LEN == 40


@dataclass(frozen=True, kw_only=True)
class MeterStats:
    """One ``ofp_meter_stats`` entry."""

    meter_id: int
    flow_count: int = 0
    packet_in_count: int = 0
    byte_in_count: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0
    band_stats: tuple[MeterBandStats, ...] = ()

    def encode(self) -> bytes:
        bands = encode_entries(self.band_stats)
        length = check_uint("MeterStats len", _METER_STATS.size + len(bands), 16)
        return (
            _METER_STATS.pack(
                check_uint("MeterStats.meter_id", self.meter_id, 32),
                length,
                check_uint("MeterStats.flow_count", self.flow_count, 32),
                check_uint("MeterStats.packet_in_count", self.packet_in_count, 64),
                check_uint("MeterStats.byte_in_count", self.byte_in_count, 64),
                check_uint("MeterStats.duration_sec", self.duration_sec, 32),
                check_uint("MeterStats.duration_nsec", self.duration_nsec, 32),
            )
            + bands
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        s = _entry_reader(r, 4, _METER_STATS.size, "ofp_meter_stats")
        meter_id, _, flow_count, packets, octets, dsec, dnsec = s.unpack(_METER_STATS)
        if s.remaining() % _BAND_STATS.size:
            raise s.fail(f"ofp_meter_stats band_stats of {s.remaining()} bytes")
        return cls(
            meter_id=meter_id,
            flow_count=flow_count,
            packet_in_count=packets,
            byte_in_count=octets,
            duration_sec=dsec,
            duration_nsec=dnsec,
            band_stats=decode_entries(s, MeterBandStats.decode),
        )


@register_reply
@dataclass(frozen=True, kw_only=True)
class MeterStatsReply(EntryListReply):
    """OFPMP_METER reply: one entry per meter."""

    mp_type: ClassVar[int] = c.OFPMP_METER
    entry: ClassVar[type[MeterStats]] = MeterStats
    body: tuple[MeterStats, ...] = ()


@register_request
@dataclass(frozen=True, kw_only=True)
class MeterConfigRequest(_MeterRequest):
    """OFPMP_METER_CONFIG request for one meter or ``OFPM_ALL``."""

    mp_type: ClassVar[int] = c.OFPMP_METER_CONFIG


# struct ofp_meter_config {
#     uint16_t length;   /* Length of this entry. */
#     uint16_t flags;    /* All OFPMF_* that apply. */
#     uint32_t meter_id; /* Meter instance. */
#     struct ofp_meter_band_header bands[0]; /* The bands length is inferred from the length field. */
# };
_METER_CONFIG = struct.Struct("!HHI")
assert _METER_CONFIG.size == c.OFP_METER_CONFIG_LEN == 8


@dataclass(frozen=True, kw_only=True)
class MeterConfig:
    """One ``ofp_meter_config`` entry: a meter's flags and bands."""

    flags: int = 0
    meter_id: int
    bands: tuple[MeterBand, ...] = ()

    def encode(self) -> bytes:
        bands = encode_entries(self.bands)
        length = check_uint("MeterConfig length", _METER_CONFIG.size + len(bands), 16)
        return (
            _METER_CONFIG.pack(
                length,
                check_uint("MeterConfig.flags", self.flags, 16),
                check_uint("MeterConfig.meter_id", self.meter_id, 32),
            )
            + bands
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        s = _entry_reader(r, 0, _METER_CONFIG.size, "ofp_meter_config")
        _, flags, meter_id = s.unpack(_METER_CONFIG)
        return cls(flags=flags, meter_id=meter_id, bands=decode_meter_bands(s))


@register_reply
@dataclass(frozen=True, kw_only=True)
class MeterConfigReply(EntryListReply):
    """OFPMP_METER_CONFIG reply: one entry per meter."""

    mp_type: ClassVar[int] = c.OFPMP_METER_CONFIG
    entry: ClassVar[type[MeterConfig]] = MeterConfig
    body: tuple[MeterConfig, ...] = ()


# --- OFPMP_METER_FEATURES -----------------------------------------------------


@register_request
@dataclass(frozen=True, kw_only=True)
class MeterFeaturesRequest(EmptyMultipartRequest):
    """OFPMP_METER_FEATURES request: empty body."""

    mp_type: ClassVar[int] = c.OFPMP_METER_FEATURES


# struct ofp_meter_features {
#     uint32_t max_meter;    /* Maximum number of meters. */
#     uint32_t band_types;   /* Bitmaps of (1 << OFPMBT_*) values supported. */
#     uint32_t capabilities; /* Bitmaps of "ofp_meter_flags". */
#     uint8_t max_bands;     /* Maximum bands per meters */
#     uint8_t max_color;     /* Maximum color value */
#     uint8_t pad[2];
# };
_METER_FEATURES = struct.Struct("!IIIBB2x")
assert _METER_FEATURES.size == c.OFP_METER_FEATURES_LEN == 16


@register_reply
@dataclass(frozen=True, kw_only=True)
class MeterFeaturesReply(MultipartReply):
    """OFPMP_METER_FEATURES reply (``ofp_meter_features``, flattened)."""

    mp_type: ClassVar[int] = c.OFPMP_METER_FEATURES
    max_meter: int = 0
    band_types: int = 0
    capabilities: int = 0
    max_bands: int = 0
    max_color: int = 0

    def encode_mp_body(self) -> bytes:
        return _METER_FEATURES.pack(
            check_uint("max_meter", self.max_meter, 32),
            check_uint("band_types", self.band_types, 32),
            check_uint("capabilities", self.capabilities, 32),
            check_uint("max_bands", self.max_bands, 8),
            check_uint("max_color", self.max_color, 8),
        )

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        max_meter, band_types, capabilities, max_bands, max_color = r.unpack(_METER_FEATURES)
        return cls(
            xid=xid,
            flags=flags,
            max_meter=max_meter,
            band_types=band_types,
            capabilities=capabilities,
            max_bands=max_bands,
            max_color=max_color,
        )
