"""virtio-net headers on packet sockets: finish offloaded checksums, segment GSO super-frames.

Role (paper §VI): quake forwards frames between Linux interfaces in user
space. Frames a *local* sender (a host or VM on a veth/TAP) hands to the
kernel are often not finished: with TX checksum offload the TCP/UDP checksum
holds only the pseudo-header sum (``CHECKSUM_PARTIAL``), and with TSO/GSO one
"frame" is a super-frame of up to 64 KiB that the NIC was supposed to cut
into MTU-sized segments. A packet socket without ``PACKET_VNET_HDR`` hands
such frames over as they are, so forwarding them sends broken checksums and
oversized frames. With ``PACKET_VNET_HDR`` each received frame is preceded
by a ``struct virtio_net_hdr`` describing the pending work, and this module
does it in software before the pipeline sees the frame:

* ``VIRTIO_NET_HDR_F_NEEDS_CSUM``: the ones' complement sum from
  ``csum_start`` to the end is folded into ``csum_start + csum_offset``
  (as the kernel's ``skb_checksum_help`` does; a zero result is stored as
  0xFFFF, which means the same and keeps UDP's "no checksum" 0 distinct).
  SCTP (IP protocol 132) is the exception: its offloaded checksum is a
  CRC32c over the SCTP packet, stored little-endian.
* ``gso_type`` TCPV4/TCPV6 (TSO) and UDP_L4 (USO): the super-frame is cut
  into ``gso_size`` payload segments, each with copied headers, fixed
  lengths, IPv4 identification and header checksum, TCP sequence numbers
  and flags (CWR on the first segment only; FIN and PSH on the last only),
  and a complete L4 checksum. The ECN bit of ``gso_type`` needs nothing.
* Anything else (UFO ``gso_type`` UDP, unknown types, a header that does not
  fit the frame) raises :class:`VnetError`; the backend counts ``rx_errors``.

Transmission needs a header too once the option is set: :data:`TX_HDR` is
the all-zero header (no offload requested: quake only sends finished frames).

Offsets in the header are relative to the frame *as delivered*, i.e. with
any 802.1Q tag the kernel stripped into metadata still absent: callers
normalise first, then restore the tag.

Pure functions, no I/O. The PACKET_MMAP backend can share them (the
virtio header sits in front of the frame in a ring slot as well).
"""

from __future__ import annotations

import struct

from ..pipeline.checksum import crc32c

__all__ = [
    "PACKET_VNET_HDR",
    "TX_HDR",
    "VNET_HDR",
    "VnetError",
    "finish_checksum",
    "normalize",
    "segment",
]

PACKET_VNET_HDR = 15  # setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)

# struct virtio_net_hdr { __u8 flags, gso_type; __virtio16 hdr_len, gso_size,
#                         csum_start, csum_offset; };  (native endian on a legacy header)
VNET_HDR = struct.Struct("=BBHHHH")
assert VNET_HDR.size == 10
TX_HDR = bytes(VNET_HDR.size)

VIRTIO_NET_HDR_F_NEEDS_CSUM = 1
VIRTIO_NET_HDR_GSO_NONE = 0
VIRTIO_NET_HDR_GSO_TCPV4 = 1
VIRTIO_NET_HDR_GSO_UDP = 3
VIRTIO_NET_HDR_GSO_TCPV6 = 4
VIRTIO_NET_HDR_GSO_UDP_L4 = 5
VIRTIO_NET_HDR_GSO_ECN = 0x80

_VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
_TCP_FIN, _TCP_PSH, _TCP_CWR = 0x01, 0x08, 0x80


class VnetError(ValueError):
    """The virtio-net header asks for something quake cannot (or must not) do."""


def _ones_sum(data: bytes | bytearray | memoryview) -> int:
    """Folded 16-bit ones' complement sum; 2**16 == 1 (mod 0xFFFF) makes it one bigint op."""
    if len(data) % 2:
        data = bytes(data) + b"\0"
    n = int.from_bytes(data, "big")
    s = n % 0xFFFF
    return 0xFFFF if s == 0 and n else s


def _fold_store(
    buf: bytearray, at: int, partial: int, data: bytes | bytearray | memoryview
) -> None:
    s = partial + _ones_sum(data)
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    csum = ~s & 0xFFFF
    struct.pack_into("!H", buf, at, csum or 0xFFFF)


def finish_checksum(frame: bytes | bytearray, csum_start: int, csum_offset: int) -> bytes:
    """``frame`` with the partial checksum at ``csum_start + csum_offset`` completed."""
    at = csum_start + csum_offset
    if csum_start >= len(frame) or at + 2 > len(frame):
        raise VnetError(
            f"checksum offsets {csum_start}+{csum_offset} outside a {len(frame)}-byte frame"
        )
    buf = bytearray(frame)
    if _ip_proto(frame) == 132:  # SCTP: CRC32c over the packet with the field zeroed
        struct.pack_into("<I", buf, at, 0)
        struct.pack_into("<I", buf, at, crc32c(memoryview(buf)[csum_start:]))
        return bytes(buf)
    _fold_store(buf, at, 0, memoryview(buf)[csum_start:])
    return bytes(buf)


def _ip_proto(frame: bytes | bytearray) -> int | None:
    """The IPv4 protocol / IPv6 next header (first one) of ``frame``, None if not IP."""
    try:
        l3, etype = _l3_offset(frame)
    except VnetError:
        return None
    if etype == 0x0800 and l3 + 10 <= len(frame):
        return frame[l3 + 9]
    if etype == 0x86DD and l3 + 7 <= len(frame):
        return frame[l3 + 6]
    return None


def _l3_offset(frame: bytes | bytearray) -> tuple[int, int]:
    """(offset of the IP header, its ethertype), past any VLAN tags."""
    off = 12
    while off + 2 <= len(frame):
        etype = int.from_bytes(frame[off : off + 2], "big")
        if etype not in _VLAN_TPIDS:
            return off + 2, etype
        off += 4
    raise VnetError("truncated Ethernet header")


def segment(frame: bytes | bytearray, gso_type: int, gso_size: int, l4: int) -> list[bytes]:
    """Cut a TSO/USO super-frame into ``gso_size``-byte payload segments, checksums complete.

    ``l4`` is the offset of the TCP/UDP header (the header's ``csum_start``).
    """
    kind = gso_type & ~VIRTIO_NET_HDR_GSO_ECN
    if kind not in (VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6, VIRTIO_NET_HDR_GSO_UDP_L4):
        raise VnetError(f"unsupported gso_type {gso_type:#x}")
    if gso_size <= 0:
        raise VnetError("gso_size 0")
    l3, etype = _l3_offset(frame)
    v4 = etype == 0x0800
    if etype not in (0x0800, 0x86DD) or l4 <= l3 or l4 + 8 > len(frame):
        raise VnetError("GSO frame without an IP/L4 header where the header says")
    tcp = kind != VIRTIO_NET_HDR_GSO_UDP_L4
    if tcp:
        if l4 + 20 > len(frame):
            raise VnetError("truncated TCP header")
        l4_len = (frame[l4 + 12] >> 4) * 4
        if l4_len < 20 or l4 + l4_len > len(frame):
            raise VnetError("bad TCP data offset")
    else:
        l4_len = 8
    head = bytes(frame[: l4 + l4_len])
    payload = memoryview(bytes(frame))[l4 + l4_len :]
    if v4:
        src_dst = head[l3 + 12 : l3 + 20]
        ip_id = int.from_bytes(head[l3 + 4 : l3 + 6], "big")
    else:
        src_dst = head[l3 + 8 : l3 + 40]
        ip_id = 0
    proto = 6 if tcp else 17
    seq = int.from_bytes(head[l4 + 4 : l4 + 8], "big") if tcp else 0
    flags = head[l4 + 13] if tcp else 0
    chunks = [payload[i : i + gso_size] for i in range(0, len(payload), gso_size)] or [payload]
    out: list[bytes] = []
    for i, chunk in enumerate(chunks):
        seg = bytearray(head)
        seg += chunk
        l4_total = l4_len + len(chunk)
        if v4:
            struct.pack_into("!HH", seg, l3 + 2, l4 - l3 + l4_total, (ip_id + i) & 0xFFFF)
            struct.pack_into("!H", seg, l3 + 10, 0)
            ihl = (seg[l3] & 0x0F) * 4
            struct.pack_into("!H", seg, l3 + 10, ~_ones_sum(seg[l3 : l3 + ihl]) & 0xFFFF)
        else:
            struct.pack_into("!H", seg, l3 + 4, l4 - l3 - 40 + l4_total)
        if tcp:
            struct.pack_into("!I", seg, l4 + 4, (seq + i * gso_size) & 0xFFFFFFFF)
            f = flags
            if i:
                f &= ~_TCP_CWR
            if i != len(chunks) - 1:
                f &= ~(_TCP_FIN | _TCP_PSH)
            seg[l4 + 13] = f
            at = l4 + 16
        else:
            struct.pack_into("!H", seg, l4 + 4, l4_total)
            at = l4 + 6
        struct.pack_into("!H", seg, at, 0)
        pseudo = _ones_sum(src_dst + struct.pack("!HH", proto, l4_total))
        _fold_store(seg, at, pseudo, memoryview(seg)[l4:])
        out.append(bytes(seg))
    return out


def normalize(data: bytes) -> list[bytes]:
    """Frames ready for the pipeline from one ``recv`` on a ``PACKET_VNET_HDR`` socket.

    ``data`` is the virtio-net header followed by the frame. Usually one
    frame comes back; a GSO super-frame gives its segments. Raises
    :class:`VnetError` for a header quake cannot honour.
    """
    if len(data) < VNET_HDR.size:
        raise VnetError("shorter than a virtio-net header")
    flags, gso_type, _hdr_len, gso_size, csum_start, csum_offset = VNET_HDR.unpack_from(data)
    frame = data[VNET_HDR.size :]
    if gso_type != VIRTIO_NET_HDR_GSO_NONE:
        if not flags & VIRTIO_NET_HDR_F_NEEDS_CSUM:
            raise VnetError("GSO frame without checksum offsets")
        return segment(frame, gso_type, gso_size, csum_start)
    if flags & VIRTIO_NET_HDR_F_NEEDS_CSUM:
        return [finish_checksum(frame, csum_start, csum_offset)]
    return [frame]
