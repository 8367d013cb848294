"""ports/vnet.py: partial checksums finished and GSO super-frames segmented, checked independently.

Frames are built with tests/conformance/quake_frames.py (naive RFC 1071
reference checksums); the expected segments are built from scratch, never
by the code under test.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "conformance"))
import quake_frames as fr

from openvolcano.caldera.quake.ports.vnet import (
    VIRTIO_NET_HDR_F_NEEDS_CSUM,
    VIRTIO_NET_HDR_GSO_TCPV4,
    VIRTIO_NET_HDR_GSO_TCPV6,
    VIRTIO_NET_HDR_GSO_UDP,
    VIRTIO_NET_HDR_GSO_UDP_L4,
    VNET_HDR,
    VnetError,
    normalize,
)

L4 = 14 + 20


def _hdr(flags: int = 0, gso: int = 0, gso_size: int = 0, start: int = 0, off: int = 0) -> bytes:
    return VNET_HDR.pack(flags, gso, 0, gso_size, start, off)


def _pseudo_partial(frame: bytes, l4: int, at: int, proto: int, v6: bool = False) -> bytes:
    """What a CHECKSUM_PARTIAL frame looks like: the field holds the folded pseudo-header sum."""
    if v6:
        src, dst = frame[22:38], frame[38:54]
    else:
        src, dst = frame[26:30], frame[30:34]
    length = len(frame) - l4
    pseudo = src + dst + struct.pack("!HH", proto, length)
    partial = ~fr.ref_checksum(pseudo) & 0xFFFF
    return frame[:at] + struct.pack("!H", partial) + frame[at + 2 :]


def _tcp_segment(seq: int, flags: int, payload: bytes, ip_id: int, v6: bool = False) -> bytes:
    src, dst = (fr.IP6_A, fr.IP6_B) if v6 else (fr.IP_A, fr.IP_B)
    seg = struct.pack("!HHIIBBHHH", 1234, 80, seq, 7, 5 << 4, flags, 8192, 0, 0) + payload
    if v6:
        ph = src + dst + struct.pack("!IxxxB", len(seg), 6)
    else:
        ph = src + dst + struct.pack("!BBH", 0, 6, len(seg))
    seg = seg[:16] + struct.pack("!H", fr.ref_checksum(ph + seg)) + seg[18:]
    if v6:
        return fr.eth(ethertype=0x86DD) + fr.ipv6(6, seg)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(seg), ip_id, 0x4000, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", fr.ref_checksum(ip)) + ip[12:]
    return fr.eth() + ip + seg


def test_plain_frame_passes_through() -> None:
    frame = fr.tcp4_frame()
    assert normalize(_hdr() + frame) == [frame]


def test_partial_tcp_checksum_is_finished() -> None:
    good = fr.tcp4_frame()
    partial = _pseudo_partial(good, L4, L4 + 16, 6)
    assert partial != good
    out = normalize(_hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, start=L4, off=16) + partial)
    assert out == [good]


def test_partial_udp_checksum_is_finished() -> None:
    good = fr.udp4_frame()
    partial = _pseudo_partial(good, L4, L4 + 6, 17)
    out = normalize(_hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, start=L4, off=6) + partial)
    assert out == [good]
    assert fr.verify_ipv4(out[0]) == {"ip": True, "l4": True}


@pytest.mark.parametrize("v6", [False, True], ids=["tcpv4", "tcpv6"])
def test_tso_super_frame_is_segmented(v6: bool) -> None:
    payload = bytes(range(256)) * 11 + b"xyz"  # 2819 bytes: 1000 + 1000 + 819
    flags = 0x80 | 0x18 | 0x01  # CWR, PSH, ACK, FIN
    big = _tcp_segment(5000, flags, payload, ip_id=77, v6=v6)
    l4 = 14 + (40 if v6 else 20)
    big = _pseudo_partial(big, l4, l4 + 16, 6, v6=v6)
    gso = VIRTIO_NET_HDR_GSO_TCPV6 if v6 else VIRTIO_NET_HDR_GSO_TCPV4
    out = normalize(_hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, gso | 0x80, 1000, l4, 16) + big)
    assert out == [
        _tcp_segment(5000, 0x80 | 0x10, payload[:1000], 77, v6),
        _tcp_segment(6000, 0x10, payload[1000:2000], 78, v6),
        _tcp_segment(7000, 0x18 | 0x01, payload[2000:], 79, v6),
    ]
    for seg in out:
        if v6:
            assert fr.verify_ipv6_l4(seg)
        else:
            assert fr.verify_ipv4(seg) == {"ip": True, "l4": True}


def test_uso_super_frame_is_segmented() -> None:
    payload = b"u" * 250
    big = fr.eth() + fr.ipv4(17, fr.udp(payload=payload))
    big = _pseudo_partial(big, L4, L4 + 6, 17)
    out = normalize(_hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP_L4, 100, L4, 6) + big)
    assert [len(f) - L4 - 8 for f in out] == [100, 100, 50]
    for f in out:
        assert fr.verify_ipv4(f) == {"ip": True, "l4": True}


@pytest.mark.parametrize(
    "data",
    [
        b"\x01\x00",  # shorter than the header
        _hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, start=500, off=16) + fr.tcp4_frame(),
        _hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_UDP, 100, L4, 6) + fr.udp4_frame(),
        _hdr(0, VIRTIO_NET_HDR_GSO_TCPV4, 100) + fr.tcp4_frame(),
        _hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, 100, L4, 16) + fr.arp_frame(),
    ],
    ids=["short", "offsets-outside", "ufo", "gso-without-csum", "gso-not-ip"],
)
def test_unusable_headers_are_refused(data: bytes) -> None:
    with pytest.raises(VnetError):
        normalize(data)


def test_partial_sctp_checksum_is_a_crc32c() -> None:
    good = fr.eth() + fr.ipv4(132, fr.sctp())
    partial = good[: L4 + 8] + b"\0\0\0\0" + good[L4 + 12 :]
    out = normalize(_hdr(VIRTIO_NET_HDR_F_NEEDS_CSUM, start=L4, off=8) + partial)
    assert out == [good]
