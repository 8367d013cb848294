"""OpenFlow 1.3 packet queues and their properties (``ofp_packet_queue``, ``OFPQT_*``).

Role: the queue descriptions of QUEUE_GET_CONFIG_REPLY, with which quake
tells magma the minimum/maximum rates of a port's queues (spec 1.3.5
§7.3.6). Split out of :mod:`openvolcano.ofp.structs` (which re-exports every
name here) only to keep modules short.

Design and invariants: as in :mod:`openvolcano.ofp.structs` - frozen
keyword-only dataclasses, ``encode()``/``decode(r)`` consuming exactly one
structure, lengths derived; a bad length -> OFPET_BAD_REQUEST/OFPBRC_BAD_LEN,
an unknown property -> OFPET_BAD_REQUEST/OFPBRC_BAD_TYPE.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.wire import Reader, check_uint

__all__ = [
    "PacketQueue",
    "QueueProp",
    "QueuePropExperimenter",
    "QueuePropMaxRate",
    "QueuePropMinRate",
    "decode_queue_props",
    "decode_queues",
]


# struct ofp_queue_prop_header {
#     uint16_t property;    /* One of OFPQT_. */
#     uint16_t len;         /* Length of property, including this header. */
#     uint8_t pad[4];       /* 64-bit alignemnt. */
# };
# OFP_ASSERT(sizeof(struct ofp_queue_prop_header) == 8);
_QPROP_HEADER = struct.Struct("!HH4x")
assert _QPROP_HEADER.size == c.OFP_QUEUE_PROP_HEADER_LEN == 8

# struct ofp_queue_prop_min_rate {          (ofp_queue_prop_max_rate is identical)
#     struct ofp_queue_prop_header prop_header; /* prop: OFPQT_MIN, len: 16. */
#     uint16_t rate;        /* In 1/10 of a percent; >1000 -> disabled. */
#     uint8_t pad[6];       /* 64-bit alignment */
# };
# OFP_ASSERT(sizeof(struct ofp_queue_prop_min_rate) == 16);
_QPROP_RATE = struct.Struct("!HH4xH6x")
assert _QPROP_RATE.size == c.OFP_QUEUE_PROP_MIN_RATE_LEN == c.OFP_QUEUE_PROP_MAX_RATE_LEN

# struct ofp_queue_prop_experimenter {
#     struct ofp_queue_prop_header prop_header; /* prop: OFPQT_EXPERIMENTER, len: 16. */
#     uint32_t experimenter;     /* Experimenter ID which takes the same
#                                   form as in struct ofp_experimenter_header. */
#     uint8_t pad[4];            /* 64-bit alignment */
#     uint8_t data[0];           /* Experimenter defined data. */
# };
# OFP_ASSERT(sizeof(struct ofp_queue_prop_experimenter) == 16);
_QPROP_EXP = struct.Struct("!HH4xI4x")
assert _QPROP_EXP.size == c.OFP_QUEUE_PROP_EXPERIMENTER_LEN == 16


@dataclass(frozen=True, kw_only=True)
class QueuePropMinRate:
    """``ofp_queue_prop_min_rate`` (OFPQT_MIN_RATE); ``rate`` in 1/10 of a percent."""

    rate: int

    def encode(self) -> bytes:
        check_uint("rate", self.rate, 16)
        return _QPROP_RATE.pack(c.OFPQT_MIN_RATE, _QPROP_RATE.size, self.rate)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(rate=r.unpack(_QPROP_RATE)[2])


@dataclass(frozen=True, kw_only=True)
class QueuePropMaxRate:
    """``ofp_queue_prop_max_rate`` (OFPQT_MAX_RATE); ``rate`` in 1/10 of a percent."""

    rate: int

    def encode(self) -> bytes:
        check_uint("rate", self.rate, 16)
        return _QPROP_RATE.pack(c.OFPQT_MAX_RATE, _QPROP_RATE.size, self.rate)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        return cls(rate=r.unpack(_QPROP_RATE)[2])


@dataclass(frozen=True, kw_only=True)
class QueuePropExperimenter:
    """``ofp_queue_prop_experimenter`` (OFPQT_EXPERIMENTER) and its data."""

    experimenter: int
    data: bytes = b""

    def encode(self) -> bytes:
        check_uint("experimenter", self.experimenter, 32)
        length = _QPROP_EXP.size + len(self.data)
        check_uint("queue property len", length, 16)
        return _QPROP_EXP.pack(c.OFPQT_EXPERIMENTER, length, self.experimenter) + self.data

    @classmethod
    def decode(cls, r: Reader) -> Self:
        experimenter = r.unpack(_QPROP_EXP)[2]
        return cls(experimenter=experimenter, data=r.rest())


QueueProp = QueuePropMinRate | QueuePropMaxRate | QueuePropExperimenter

_QPROP_TYPES: dict[int, tuple[type[QueueProp], int | None]] = {
    c.OFPQT_MIN_RATE: (QueuePropMinRate, _QPROP_RATE.size),
    c.OFPQT_MAX_RATE: (QueuePropMaxRate, _QPROP_RATE.size),
    c.OFPQT_EXPERIMENTER: (QueuePropExperimenter, None),
}


def decode_queue_props(r: Reader) -> tuple[QueueProp, ...]:
    """Every queue property left in ``r``."""
    out: list[QueueProp] = []
    while r.remaining():
        if r.remaining() < _QPROP_HEADER.size:
            raise r.fail(f"truncated queue property: {r.remaining()} bytes")
        prop, length = r.peek_u16(), r.peek_u16(2)
        entry = _QPROP_TYPES.get(prop)
        if entry is None:
            raise r.fail(f"unknown queue property {prop}", c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_TYPE)
        prop_cls, exact = entry
        if length < 16 or (exact is not None and length != exact):
            raise r.fail(f"queue property {prop} has invalid length {length}")
        out.append(prop_cls.decode(r.sub(length)))
    return tuple(out)


# struct ofp_packet_queue {
#     uint32_t queue_id;     /* id for the specific queue. */
#     uint32_t port;         /* Port this queue is attached to. */
#     uint16_t len;          /* Length in bytes of this queue desc. */
#     uint8_t pad[6];        /* 64-bit alignment. */
#     struct ofp_queue_prop_header properties[0]; /* List of properties. */
# };
# OFP_ASSERT(sizeof(struct ofp_packet_queue) == 16);
_PACKET_QUEUE = struct.Struct("!IIH6x")
assert _PACKET_QUEUE.size == c.OFP_PACKET_QUEUE_LEN == 16


@dataclass(frozen=True, kw_only=True)
class PacketQueue:
    """``ofp_packet_queue``: one queue of a port and its properties."""

    queue_id: int
    port: int
    properties: tuple[QueueProp, ...] = ()

    def encode(self) -> bytes:
        check_uint("queue_id", self.queue_id, 32)
        check_uint("port", self.port, 32)
        body = b"".join(p.encode() for p in self.properties)
        length = _PACKET_QUEUE.size + len(body)
        check_uint("packet queue len", length, 16)
        return _PACKET_QUEUE.pack(self.queue_id, self.port, length) + body

    @classmethod
    def decode(cls, r: Reader) -> Self:
        if r.remaining() < _PACKET_QUEUE.size:
            raise r.fail(f"truncated ofp_packet_queue: {r.remaining()} bytes")
        length = r.peek_u16(8)
        if length < _PACKET_QUEUE.size:
            raise r.fail(f"ofp_packet_queue length {length} is under 16")
        qr = r.sub(length)
        queue_id, port, _ = qr.unpack(_PACKET_QUEUE)
        return cls(queue_id=queue_id, port=port, properties=decode_queue_props(qr))


def decode_queues(r: Reader) -> tuple[PacketQueue, ...]:
    """Every ``ofp_packet_queue`` left in ``r``."""
    out: list[PacketQueue] = []
    while r.remaining():
        out.append(PacketQueue.decode(r))
    return tuple(out)
