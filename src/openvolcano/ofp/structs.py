"""Shared OpenFlow 1.3 structures: ports, buckets, meter bands, queues, hello elements.

Role: the sub-structures that appear in more than one message. ``ofp_port``
is carried by PORT_STATUS and the PORT_DESC multipart reply; ``ofp_bucket`` by
GROUP_MOD and GROUP_DESC; meter bands by METER_MOD and METER_CONFIG; packet
queues by QUEUE_GET_CONFIG_REPLY. In the paper they are part of ofp_lib, the
OpenFlow library shared by the switch (quake) and the controller (magma).

Design: each structure is a frozen keyword-only dataclass with ``encode()``
and a classmethod ``decode(r)`` that consumes exactly its bytes from a
:class:`~openvolcano.ofp.wire.Reader`; ``decode_*s(r)`` consume everything
left in ``r``. Lengths are computed on encode and checked on decode, never
stored. Queues live in :mod:`openvolcano.ofp.structs_queues` (module size)
and are re-exported here: import every name from ``structs``.

Invariants: ``X.decode(Reader(x.encode())) == x`` for every valid ``x``;
decoders raise only :class:`~openvolcano.ofp.errors.OFPDecodeError` (length
problems -> OFPET_BAD_REQUEST/OFPBRC_BAD_LEN unless the spec names a more
precise code: a malformed bucket -> OFPET_GROUP_MOD_FAILED/OFPGMFC_BAD_BUCKET,
an unknown meter band -> OFPET_METER_MOD_FAILED/OFPMMFC_BAD_BAND).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import Action, decode_actions, encode_actions
from openvolcano.ofp.errors import OFPEncodeError
from openvolcano.ofp.structs_queues import (
    PacketQueue,
    QueueProp,
    QueuePropExperimenter,
    QueuePropMaxRate,
    QueuePropMinRate,
    decode_queue_props,
    decode_queues,
)
from openvolcano.ofp.wire import Reader, check_uint, encode_cstr, pad_to, padding

__all__ = [
    "Bucket",
    "HelloElem",
    "HelloElemUnknown",
    "HelloElemVersionBitmap",
    "MeterBand",
    "MeterBandDrop",
    "MeterBandDscpRemark",
    "MeterBandExperimenter",
    "PacketQueue",
    "Port",
    "QueueProp",
    "QueuePropExperimenter",
    "QueuePropMaxRate",
    "QueuePropMinRate",
    "decode_buckets",
    "decode_hello_elements",
    "decode_meter_bands",
    "decode_queue_props",
    "decode_queues",
]


# ---------------------------------------------------------------------------
# Ports

# struct ofp_port {
#     uint32_t port_no;
#     uint8_t pad[4];
#     uint8_t hw_addr[OFP_ETH_ALEN];
#     uint8_t pad2[2];
#     char name[OFPc.OFP_MAX_PORT_NAME_LEN]; /* Null-terminated */
#     uint32_t config;        /* Bitmap of OFPPC_* flags. */
#     uint32_t state;         /* Bitmap of OFPPS_* flags. */
#     uint32_t curr;          /* Current features. */
#     uint32_t advertised;    /* Features being advertised by the port. */
#     uint32_t supported;     /* Features supported by the port. */
#     uint32_t peer;          /* Features advertised by peer. */
#     uint32_t curr_speed;    /* Current port bitrate in kbps. */
#     uint32_t max_speed;     /* Max port bitrate in kbps */
# };
# OFP_ASSERT(sizeof(struct ofp_port) == 64);
_PORT = struct.Struct("!I4x6s2x16s8I")
assert _PORT.size == c.OFP_PORT_LEN == 64


@dataclass(frozen=True, kw_only=True)
class Port:
    """``ofp_port``: a port description; ``hw_addr`` is the MAC as a 48-bit int."""

    port_no: int
    hw_addr: int = 0
    name: str = ""
    config: int = 0
    state: int = 0
    curr: int = 0
    advertised: int = 0
    supported: int = 0
    peer: int = 0
    curr_speed: int = 0
    max_speed: int = 0

    def encode(self) -> bytes:
        check_uint("port_no", self.port_no, 32)
        check_uint("hw_addr", self.hw_addr, 48)
        u32s = (
            self.config,
            self.state,
            self.curr,
            self.advertised,
            self.supported,
            self.peer,
            self.curr_speed,
            self.max_speed,
        )
        for name, value in zip(
            (
                "config",
                "state",
                "curr",
                "advertised",
                "supported",
                "peer",
                "curr_speed",
                "max_speed",
            ),
            u32s,
            strict=True,
        ):
            check_uint(name, value, 32)
        return _PORT.pack(
            self.port_no,
            self.hw_addr.to_bytes(6, "big"),
            _encode_name(self.name),
            *u32s,
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        port_no = r.u32()
        r.skip(4)
        hw_addr = r.uint(6)
        r.skip(2)
        name = r.cstr(c.OFP_MAX_PORT_NAME_LEN)
        config, state, curr, advertised, supported, peer, curr_speed, max_speed = (
            r.u32() for _ in range(8)
        )
        return cls(
            port_no=port_no,
            hw_addr=hw_addr,
            name=name,
            config=config,
            state=state,
            curr=curr,
            advertised=advertised,
            supported=supported,
            peer=peer,
            curr_speed=curr_speed,
            max_speed=max_speed,
        )


def _encode_name(name: str) -> bytes:
    try:
        return encode_cstr("name", name, c.OFP_MAX_PORT_NAME_LEN)
    except UnicodeEncodeError as e:
        raise OFPEncodeError(f"port name {name!r} is not ASCII") from e


# ---------------------------------------------------------------------------
# Group buckets

# struct ofp_bucket {
#     uint16_t len;           /* Length of the bucket in bytes, including
#                                this header and any padding to make it
#                                64-bit aligned. */
#     uint16_t weight;        /* Relative weight of bucket.  Only
#                                defined for select groups. */
#     uint32_t watch_port;    /* Port whose state affects whether this
#                                bucket is live.  Only required for fast
#                                failover groups. */
#     uint32_t watch_group;   /* Group whose state affects whether this
#                                bucket is live.  Only required for fast
#                                failover groups. */
#     uint8_t pad[4];
#     struct ofp_action_header actions[0];
# };
# OFP_ASSERT(sizeof(struct ofp_bucket) == 16);
_BUCKET = struct.Struct("!HHII4x")
assert _BUCKET.size == c.OFP_BUCKET_LEN == 16


@dataclass(frozen=True, kw_only=True)
class Bucket:
    """``ofp_bucket``: one action bucket of a group."""

    weight: int = 0
    watch_port: int = c.OFPP_ANY
    watch_group: int = c.OFPG_ANY
    actions: tuple[Action, ...] = ()

    def encode(self) -> bytes:
        check_uint("weight", self.weight, 16)
        check_uint("watch_port", self.watch_port, 32)
        check_uint("watch_group", self.watch_group, 32)
        body = encode_actions(self.actions)
        length = _BUCKET.size + len(body)
        check_uint("bucket len", length, 16)
        return _BUCKET.pack(length, self.weight, self.watch_port, self.watch_group) + body

    @classmethod
    def decode(cls, r: Reader) -> Self:
        length = r.peek_u16()
        if length < _BUCKET.size or length % 8:
            raise r.fail(
                f"bucket length {length} is not a multiple of 8 of at least 16",
                c.OFPET_GROUP_MOD_FAILED,
                c.OFPGMFC_BAD_BUCKET,
            )
        if length > r.remaining():
            raise r.fail(
                f"bucket length {length} but only {r.remaining()} bytes left",
                c.OFPET_GROUP_MOD_FAILED,
                c.OFPGMFC_BAD_BUCKET,
            )
        br = r.sub(length)
        _, weight, watch_port, watch_group = br.unpack(_BUCKET)
        return cls(
            weight=weight,
            watch_port=watch_port,
            watch_group=watch_group,
            actions=decode_actions(br),
        )


def decode_buckets(r: Reader) -> tuple[Bucket, ...]:
    """Every bucket left in ``r``."""
    out: list[Bucket] = []
    while r.remaining():
        out.append(Bucket.decode(r))
    return tuple(out)


# ---------------------------------------------------------------------------
# Meter bands

# struct ofp_meter_band_header {
#     uint16_t type;        /* One of OFPMBT_*. */
#     uint16_t len;         /* Length in bytes of this band. */
#     uint32_t rate;        /* Rate for this band. */
#     uint32_t burst_size;  /* Size of bursts. */
# };
# OFP_ASSERT(sizeof(struct ofp_meter_band_header) == 12);
_BAND_HEADER = struct.Struct("!HHII")
assert _BAND_HEADER.size == c.OFP_METER_BAND_HEADER_LEN == 12

# struct ofp_meter_band_drop {
#     uint16_t type;        /* OFPMBT_DROP. */
#     uint16_t len;         /* Length in bytes of this band. */
#     uint32_t rate;        /* Rate for dropping packets. */
#     uint32_t burst_size;  /* Size of bursts. */
#     uint8_t pad[4];
# };
# OFP_ASSERT(sizeof(struct ofp_meter_band_drop) == 16);
_BAND_DROP = struct.Struct("!HHII4x")
assert _BAND_DROP.size == c.OFP_METER_BAND_DROP_LEN == 16

# struct ofp_meter_band_dscp_remark {
#     uint16_t type;        /* OFPMBT_DSCP_REMARK. */
#     uint16_t len;         /* Length in bytes of this band. */
#     uint32_t rate;        /* Rate for remarking packets. */
#     uint32_t burst_size;  /* Size of bursts. */
#     uint8_t prec_level;   /* Number of drop precedence level to add. */
#     uint8_t pad[3];
# };
# OFP_ASSERT(sizeof(struct ofp_meter_band_dscp_remark) == 16);
_BAND_DSCP = struct.Struct("!HHIIB3x")
assert _BAND_DSCP.size == c.OFP_METER_BAND_DSCP_REMARK_LEN == 16

# struct ofp_meter_band_experimenter {
#     uint16_t type;        /* One of OFPMBT_*. */
#     uint16_t len;         /* Length in bytes of this band. */
#     uint32_t rate;        /* Rate for this band. */
#     uint32_t burst_size;  /* Size of bursts. */
#     uint32_t experimenter; /* Experimenter ID which takes the same
#                               form as in struct ofp_experimenter_header. */
# };
# OFP_ASSERT(sizeof(struct ofp_meter_band_experimenter) == 16);
_BAND_EXP = struct.Struct("!HHIII")
assert _BAND_EXP.size == c.OFP_METER_BAND_EXPERIMENTER_LEN == 16


@dataclass(frozen=True, kw_only=True)
class MeterBandDrop:
    """``ofp_meter_band_drop`` (OFPMBT_DROP)."""

    rate: int
    burst_size: int = 0

    def encode(self) -> bytes:
        check_uint("rate", self.rate, 32)
        check_uint("burst_size", self.burst_size, 32)
        return _BAND_DROP.pack(c.OFPMBT_DROP, _BAND_DROP.size, self.rate, self.burst_size)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        _, _, rate, burst_size = _band_reader(r, _BAND_DROP.size).unpack(_BAND_DROP)
        return cls(rate=rate, burst_size=burst_size)


@dataclass(frozen=True, kw_only=True)
class MeterBandDscpRemark:
    """``ofp_meter_band_dscp_remark`` (OFPMBT_DSCP_REMARK)."""

    rate: int
    burst_size: int = 0
    prec_level: int = 0

    def encode(self) -> bytes:
        check_uint("rate", self.rate, 32)
        check_uint("burst_size", self.burst_size, 32)
        check_uint("prec_level", self.prec_level, 8)
        return _BAND_DSCP.pack(
            c.OFPMBT_DSCP_REMARK, _BAND_DSCP.size, self.rate, self.burst_size, self.prec_level
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        _, _, rate, burst_size, prec_level = _band_reader(r, _BAND_DSCP.size).unpack(_BAND_DSCP)
        return cls(rate=rate, burst_size=burst_size, prec_level=prec_level)


@dataclass(frozen=True, kw_only=True)
class MeterBandExperimenter:
    """``ofp_meter_band_experimenter`` (OFPMBT_EXPERIMENTER) and its trailing data.

    ``data`` is the experimenter-defined body after the 16-byte header; its
    length must keep the band 8-byte aligned.
    """

    rate: int
    burst_size: int = 0
    experimenter: int
    data: bytes = b""

    def encode(self) -> bytes:
        check_uint("rate", self.rate, 32)
        check_uint("burst_size", self.burst_size, 32)
        check_uint("experimenter", self.experimenter, 32)
        length = _BAND_EXP.size + len(self.data)
        if length % 8:
            raise OFPEncodeError(
                f"experimenter band data of {len(self.data)} bytes breaks 8-byte alignment"
            )
        check_uint("band len", length, 16)
        return (
            _BAND_EXP.pack(
                c.OFPMBT_EXPERIMENTER, length, self.rate, self.burst_size, self.experimenter
            )
            + self.data
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        br = _band_reader(r, None)
        _, _, rate, burst_size, experimenter = br.unpack(_BAND_EXP)
        return cls(rate=rate, burst_size=burst_size, experimenter=experimenter, data=br.rest())


MeterBand = MeterBandDrop | MeterBandDscpRemark | MeterBandExperimenter

_BAND_TYPES: dict[
    int, type[MeterBandDrop] | type[MeterBandDscpRemark] | type[MeterBandExperimenter]
] = {
    c.OFPMBT_DROP: MeterBandDrop,
    c.OFPMBT_DSCP_REMARK: MeterBandDscpRemark,
    c.OFPMBT_EXPERIMENTER: MeterBandExperimenter,
}


def _band_reader(r: Reader, exact: int | None) -> Reader:
    """Consume one band (``len`` from its header) and return a reader over it.

    ``exact`` is the only valid length for fixed-size bands; ``None`` allows any
    8-byte-aligned length of at least 16 (experimenter bands).
    """
    if r.remaining() < 4:
        raise r.fail(f"truncated meter band: {r.remaining()} bytes")
    length = r.peek_u16(2)
    ok = length == exact if exact is not None else length >= 16 and length % 8 == 0
    if not ok:
        raise r.fail(
            f"meter band length {length} is invalid", c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN
        )
    return r.sub(length)


def decode_meter_bands(r: Reader) -> tuple[MeterBand, ...]:
    """Every meter band left in ``r``; an unknown band type -> OFPMMFC_BAD_BAND."""
    out: list[MeterBand] = []
    while r.remaining():
        band_type = r.peek_u16()
        band_cls = _BAND_TYPES.get(band_type)
        if band_cls is None:
            raise r.fail(
                f"unknown meter band type {band_type}", c.OFPET_METER_MOD_FAILED, c.OFPMMFC_BAD_BAND
            )
        out.append(band_cls.decode(r))
    return tuple(out)


# ---------------------------------------------------------------------------
# Hello elements

# struct ofp_hello_elem_header {
#     uint16_t type;    /* One of OFPHET_*. */
#     uint16_t length;  /* Length in bytes of the element,
#                          including this header, excluding padding. */
# };
# OFP_ASSERT(sizeof(struct ofp_hello_elem_header) == 4);
#
# struct ofp_hello_elem_versionbitmap {
#     uint16_t type;    /* OFPHET_VERSIONBITMAP. */
#     uint16_t length;  /* Length in bytes of this element,
#                          including this header, excluding padding. */
#     /* Followed by:
#      *   - Exactly (length - 4) bytes containing the bitmaps, then
#      *   - Exactly (length + 7)/8*8 - (length) (between 0 and 7)
#      *     bytes of all-zero bytes */
#     uint32_t bitmaps[0];  /* List of bitmaps - supported versions */
# };
# OFP_ASSERT(sizeof(struct ofp_hello_elem_versionbitmap) == 4);
_HELLO_ELEM = struct.Struct("!HH")
assert _HELLO_ELEM.size == c.OFP_HELLO_ELEM_HEADER_LEN == 4


@dataclass(frozen=True, kw_only=True)
class HelloElemVersionBitmap:
    """OFPHET_VERSIONBITMAP: bit ``v % 32`` of ``bitmaps[v // 32]`` set = version ``v`` supported."""

    bitmaps: tuple[int, ...]

    @classmethod
    def of_versions(cls, versions: tuple[int, ...] | list[int]) -> Self:
        """The bitmap advertising exactly ``versions`` (e.g. ``(0x04,)``)."""
        words = [0] * (max(versions, default=0) // 32 + 1)
        for v in versions:
            words[v // 32] |= 1 << (v % 32)
        return cls(bitmaps=tuple(words))

    def versions(self) -> frozenset[int]:
        return frozenset(
            i * 32 + bit
            for i, word in enumerate(self.bitmaps)
            for bit in range(32)
            if word >> bit & 1
        )

    def encode(self) -> bytes:
        for w in self.bitmaps:
            check_uint("bitmap", w, 32)
        body = b"".join(struct.pack("!I", w) for w in self.bitmaps)
        return pad_to(_HELLO_ELEM.pack(c.OFPHET_VERSIONBITMAP, 4 + len(body)) + body)


@dataclass(frozen=True, kw_only=True)
class HelloElemUnknown:
    """A hello element of a type we do not know, kept as raw bytes (``data`` excludes padding)."""

    type: int
    data: bytes = b""

    def encode(self) -> bytes:
        check_uint("type", self.type, 16)
        if self.type == c.OFPHET_VERSIONBITMAP:
            raise OFPEncodeError("use HelloElemVersionBitmap for OFPHET_VERSIONBITMAP")
        length = _HELLO_ELEM.size + len(self.data)
        check_uint("hello element length", length, 16)
        return pad_to(_HELLO_ELEM.pack(self.type, length) + self.data)


HelloElem = HelloElemVersionBitmap | HelloElemUnknown


def decode_hello_elements(r: Reader) -> tuple[HelloElem, ...]:
    """Every hello element left in ``r`` (each padded to 8 bytes on the wire)."""
    out: list[HelloElem] = []
    while r.remaining():
        if r.remaining() < _HELLO_ELEM.size:
            raise r.fail(f"truncated hello element: {r.remaining()} bytes")
        elem_type, length = r.peek_u16(), r.peek_u16(2)
        if length < _HELLO_ELEM.size:
            raise r.fail(f"hello element length {length} is under 4")
        er = r.sub(length)
        if r.remaining():  # a missing pad after the last element is tolerated
            r.skip(padding(length))
        er.skip(_HELLO_ELEM.size)
        if elem_type == c.OFPHET_VERSIONBITMAP:
            if (length - _HELLO_ELEM.size) % 4:
                raise er.fail(f"version bitmap length {length} is not 4 + a multiple of 4")
            out.append(
                HelloElemVersionBitmap(bitmaps=tuple(er.u32() for _ in range(er.remaining() // 4)))
            )
        else:
            out.append(HelloElemUnknown(type=elem_type, data=er.rest()))
    return tuple(out)
