"""Port and queue statistics and the port list (OFPMP_PORT_STATS, OFPMP_QUEUE, OFPMP_PORT_DESC).

Role: per-port and per-queue counters of quake's ports (what geyser turns into
the paper's load and energy indicators) and the ``ofp_port`` list magma reads
when a switch connects.

Design: one request and one reply class per ``OFPMP_*`` type; entries
(``PortStats``, ``QueueStats``, :class:`~openvolcano.ofp.structs.Port`) are
frozen dataclasses in ``body: tuple[...]``. Requests default to every port
(``OFPP_ANY``) and every queue (``OFPQ_ALL``).

Invariant: entries are fixed-size; a body that is not a whole number of
entries is ``OFPET_BAD_REQUEST/OFPBRC_BAD_LEN``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.multipart.base import (
    EmptyMultipartRequest,
    EntryListReply,
    MultipartRequest,
    register_reply,
    register_request,
)
from openvolcano.ofp.structs import Port
from openvolcano.ofp.wire import Reader, check_uint

__all__ = [
    "PortDescReply",
    "PortDescRequest",
    "PortStats",
    "PortStatsReply",
    "PortStatsRequest",
    "QueueStats",
    "QueueStatsReply",
    "QueueStatsRequest",
]


# --- OFPMP_PORT_STATS ---------------------------------------------------------

# struct ofp_port_stats_request {
#     uint32_t port_no; /* OFPMP_PORT message must request statistics
#                        * either for a single port (specified in port_no) or for all ports
#                        * (if port_no == OFPP_ANY). */
#     uint8_t pad[4];
# };
_PORT_STATS_REQ = struct.Struct("!I4x")
assert _PORT_STATS_REQ.size == c.OFP_PORT_STATS_REQUEST_LEN == 8


@register_request
@dataclass(frozen=True, kw_only=True)
class PortStatsRequest(MultipartRequest):
    """OFPMP_PORT_STATS request for one port or ``OFPP_ANY``."""

    mp_type: ClassVar[int] = c.OFPMP_PORT_STATS
    port_no: int = c.OFPP_ANY

    def encode_mp_body(self) -> bytes:
        return _PORT_STATS_REQ.pack(check_uint("port_no", self.port_no, 32))

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        (port_no,) = r.unpack(_PORT_STATS_REQ)
        return cls(xid=xid, flags=flags, port_no=port_no)


# struct ofp_port_stats {
#     uint32_t port_no;
#     uint8_t pad[4];         /* Align to 64-bits. */
#     uint64_t rx_packets;    /* Number of received packets. */
#     uint64_t tx_packets;    /* Number of transmitted packets. */
#     uint64_t rx_bytes;      /* Number of received bytes. */
#     uint64_t tx_bytes;      /* Number of transmitted bytes. */
#     uint64_t rx_dropped;    /* Number of packets dropped by RX. */
#     uint64_t tx_dropped;    /* Number of packets dropped by TX. */
#     uint64_t rx_errors;     /* Number of receive errors. */
#     uint64_t tx_errors;     /* Number of transmit errors. */
#     uint64_t rx_frame_err;  /* Number of frame alignment errors. */
#     uint64_t rx_over_err;   /* Number of packets with RX overrun. */
#     uint64_t rx_crc_err;    /* Number of CRC errors. */
#     uint64_t collisions;    /* Number of collisions. */
#     uint32_t duration_sec;  /* Time port has been alive in seconds. */
#     uint32_t duration_nsec; /* Time port has been alive in nanoseconds beyond duration_sec. */
# };
_PORT_STATS = struct.Struct("!I4x12QII")
assert _PORT_STATS.size == c.OFP_PORT_STATS_LEN == 112

_PORT_COUNTERS = (
    "rx_packets",
    "tx_packets",
    "rx_bytes",
    "tx_bytes",
    "rx_dropped",
    "tx_dropped",
    "rx_errors",
    "tx_errors",
    "rx_frame_err",
    "rx_over_err",
    "rx_crc_err",
    "collisions",
)


@dataclass(frozen=True, kw_only=True)
class PortStats:
    """One ``ofp_port_stats`` entry."""

    port_no: int
    rx_packets: int = 0
    tx_packets: int = 0
    rx_bytes: int = 0
    tx_bytes: int = 0
    rx_dropped: int = 0
    tx_dropped: int = 0
    rx_errors: int = 0
    tx_errors: int = 0
    rx_frame_err: int = 0
    rx_over_err: int = 0
    rx_crc_err: int = 0
    collisions: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0

    def encode(self) -> bytes:
        counters = [check_uint(f"PortStats.{n}", getattr(self, n), 64) for n in _PORT_COUNTERS]
        return _PORT_STATS.pack(
            check_uint("PortStats.port_no", self.port_no, 32),
            *counters,
            check_uint("PortStats.duration_sec", self.duration_sec, 32),
            check_uint("PortStats.duration_nsec", self.duration_nsec, 32),
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        port_no, *rest = r.unpack(_PORT_STATS)
        counters = dict(zip(_PORT_COUNTERS, rest[:12], strict=True))
        return cls(port_no=port_no, duration_sec=rest[12], duration_nsec=rest[13], **counters)


@register_reply
@dataclass(frozen=True, kw_only=True)
class PortStatsReply(EntryListReply):
    """OFPMP_PORT_STATS reply: one entry per port."""

    mp_type: ClassVar[int] = c.OFPMP_PORT_STATS
    entry: ClassVar[type[PortStats]] = PortStats
    body: tuple[PortStats, ...] = ()


# --- OFPMP_QUEUE --------------------------------------------------------------

# struct ofp_queue_stats_request {
#     uint32_t port_no;  /* All ports if OFPP_ANY. */
#     uint32_t queue_id; /* All queues if OFPQ_ALL. */
# };
_QUEUE_STATS_REQ = struct.Struct("!II")
assert _QUEUE_STATS_REQ.size == c.OFP_QUEUE_STATS_REQUEST_LEN == 8


@register_request
@dataclass(frozen=True, kw_only=True)
class QueueStatsRequest(MultipartRequest):
    """OFPMP_QUEUE request for a port (or ``OFPP_ANY``) and queue (or ``OFPQ_ALL``)."""

    mp_type: ClassVar[int] = c.OFPMP_QUEUE
    port_no: int = c.OFPP_ANY
    queue_id: int = c.OFPQ_ALL

    def encode_mp_body(self) -> bytes:
        return _QUEUE_STATS_REQ.pack(
            check_uint("port_no", self.port_no, 32), check_uint("queue_id", self.queue_id, 32)
        )

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        port_no, queue_id = r.unpack(_QUEUE_STATS_REQ)
        return cls(xid=xid, flags=flags, port_no=port_no, queue_id=queue_id)


# struct ofp_queue_stats {
#     uint32_t port_no;
#     uint32_t queue_id;      /* Queue i.d */
#     uint64_t tx_bytes;      /* Number of transmitted bytes. */
#     uint64_t tx_packets;    /* Number of transmitted packets. */
#     uint64_t tx_errors;     /* Number of packets dropped due to overrun. */
#     uint32_t duration_sec;  /* Time queue has been alive in seconds. */
#     uint32_t duration_nsec; /* Time queue has been alive in nanoseconds beyond duration_sec. */
# };
_QUEUE_STATS = struct.Struct("!IIQQQII")
assert _QUEUE_STATS.size == c.OFP_QUEUE_STATS_LEN == 40


@dataclass(frozen=True, kw_only=True)
class QueueStats:
    """One ``ofp_queue_stats`` entry."""

    port_no: int
    queue_id: int
    tx_bytes: int = 0
    tx_packets: int = 0
    tx_errors: int = 0
    duration_sec: int = 0
    duration_nsec: int = 0

    def encode(self) -> bytes:
        return _QUEUE_STATS.pack(
            check_uint("QueueStats.port_no", self.port_no, 32),
            check_uint("QueueStats.queue_id", self.queue_id, 32),
            check_uint("QueueStats.tx_bytes", self.tx_bytes, 64),
            check_uint("QueueStats.tx_packets", self.tx_packets, 64),
            check_uint("QueueStats.tx_errors", self.tx_errors, 64),
            check_uint("QueueStats.duration_sec", self.duration_sec, 32),
            check_uint("QueueStats.duration_nsec", self.duration_nsec, 32),
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        port_no, queue_id, tx_bytes, tx_packets, tx_errors, dsec, dnsec = r.unpack(_QUEUE_STATS)
        return cls(
            port_no=port_no,
            queue_id=queue_id,
            tx_bytes=tx_bytes,
            tx_packets=tx_packets,
            tx_errors=tx_errors,
            duration_sec=dsec,
            duration_nsec=dnsec,
        )


@register_reply
@dataclass(frozen=True, kw_only=True)
class QueueStatsReply(EntryListReply):
    """OFPMP_QUEUE reply: one entry per queue."""

    mp_type: ClassVar[int] = c.OFPMP_QUEUE
    entry: ClassVar[type[QueueStats]] = QueueStats
    body: tuple[QueueStats, ...] = ()


# --- OFPMP_PORT_DESC ----------------------------------------------------------


@register_request
@dataclass(frozen=True, kw_only=True)
class PortDescRequest(EmptyMultipartRequest):
    """OFPMP_PORT_DESC request: empty body."""

    mp_type: ClassVar[int] = c.OFPMP_PORT_DESC


@register_reply
@dataclass(frozen=True, kw_only=True)
class PortDescReply(EntryListReply):
    """OFPMP_PORT_DESC reply: one ``ofp_port`` per port."""

    mp_type: ClassVar[int] = c.OFPMP_PORT_DESC
    entry: ClassVar[type[Port]] = Port
    body: tuple[Port, ...] = ()
