"""Frame builders for quake pipeline tests and conformance cases (struct packing, no scapy).

Every builder returns complete frame ``bytes`` with correct checksums,
computed by :func:`ref_checksum`, a deliberately naive RFC 1071 loop kept
independent of the pipeline's incremental checksum code, so tests can
verify the switch's rewrites against it. ``verify_*`` recompute checksums
of a frame and return whether each stored one is right.
"""

from __future__ import annotations

import struct

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
IP_A = bytes([10, 0, 0, 1])
IP_B = bytes([10, 0, 0, 2])
IP6_A = bytes.fromhex("20010db8000000000000000000000001")
IP6_B = bytes.fromhex("20010db8000000000000000000000002")


def ref_checksum(data: bytes) -> int:
    """RFC 1071, word by word."""
    if len(data) % 2:
        data += b"\0"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) + data[i + 1]
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total) & 0xFFFF


def ref_crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def eth(
    dst: bytes = MAC_B,
    src: bytes = MAC_A,
    ethertype: int = 0x0800,
    vlans: tuple[tuple[int, int, int], ...] = (),
) -> bytes:
    """Ethernet header; ``vlans`` = ((tpid, vid, pcp), ...) outermost first."""
    tags = b"".join(struct.pack("!HH", tpid, (pcp << 13) | vid) for tpid, vid, pcp in vlans)
    return dst + src + tags + struct.pack("!H", ethertype)


def ipv4(
    proto: int,
    payload: bytes,
    src: bytes = IP_A,
    dst: bytes = IP_B,
    ttl: int = 64,
    tos: int = 0,
    frag: int = 0,
) -> bytes:
    hdr = struct.pack(
        "!BBHHHBBH4s4s", 0x45, tos, 20 + len(payload), 1, frag, ttl, proto, 0, src, dst
    )
    hdr = hdr[:10] + struct.pack("!H", ref_checksum(hdr)) + hdr[12:]
    return hdr + payload


def _pseudo4(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    return src + dst + struct.pack("!BBH", 0, proto, length)


def _pseudo6(src: bytes, dst: bytes, proto: int, length: int) -> bytes:
    return src + dst + struct.pack("!IxxxB", length, proto)


def tcp(
    sport: int = 1234,
    dport: int = 80,
    payload: bytes = b"hello",
    src: bytes = IP_A,
    dst: bytes = IP_B,
    v6: bool = False,
) -> bytes:
    seg = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x18, 8192, 0, 0) + payload
    ph = (_pseudo6 if v6 else _pseudo4)(src, dst, 6, len(seg))
    cs = ref_checksum(ph + seg)
    return seg[:16] + struct.pack("!H", cs) + seg[18:]


def udp(
    sport: int = 5000,
    dport: int = 53,
    payload: bytes = b"data",
    src: bytes = IP_A,
    dst: bytes = IP_B,
    v6: bool = False,
) -> bytes:
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ph = (_pseudo6 if v6 else _pseudo4)(src, dst, 17, len(seg))
    cs = ref_checksum(ph + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", cs) + seg[8:]


def sctp(sport: int = 7, dport: int = 9, payload: bytes = b"\x00" * 16) -> bytes:
    seg = struct.pack("!HHII", sport, dport, 42, 0) + payload
    return seg[:8] + struct.pack("<I", ref_crc32c(seg)) + seg[12:]


def icmp4(type_: int = 8, code: int = 0, payload: bytes = b"\x00\x01\x00\x01ping") -> bytes:
    msg = struct.pack("!BBH", type_, code, 0) + payload
    return msg[:2] + struct.pack("!H", ref_checksum(msg)) + msg[4:]


def icmp6(type_: int, body: bytes, src: bytes = IP6_A, dst: bytes = IP6_B) -> bytes:
    msg = struct.pack("!BBH", type_, 0, 0) + body
    cs = ref_checksum(_pseudo6(src, dst, 58, len(msg)) + msg)
    return msg[:2] + struct.pack("!H", cs) + msg[4:]


def ipv6(
    nh: int,
    payload: bytes,
    src: bytes = IP6_A,
    dst: bytes = IP6_B,
    hlim: int = 64,
    tc: int = 0,
    flabel: int = 0,
) -> bytes:
    return (
        struct.pack("!IHBB", (6 << 28) | (tc << 20) | flabel, len(payload), nh, hlim)
        + src
        + dst
        + payload
    )


def tcp4_frame(
    sport: int = 1234,
    dport: int = 80,
    ttl: int = 64,
    tos: int = 0,
    vlans: tuple[tuple[int, int, int], ...] = (),
    src: bytes = IP_A,
    dst: bytes = IP_B,
) -> bytes:
    return eth(vlans=vlans) + ipv4(
        6, tcp(sport, dport, src=src, dst=dst), src=src, dst=dst, ttl=ttl, tos=tos
    )


def udp4_frame(
    sport: int = 5000, dport: int = 53, ttl: int = 64, src: bytes = IP_A, dst: bytes = IP_B
) -> bytes:
    return eth() + ipv4(17, udp(sport, dport, src=src, dst=dst), src=src, dst=dst, ttl=ttl)


def tcp6_frame(sport: int = 1234, dport: int = 80) -> bytes:
    return eth(ethertype=0x86DD) + ipv6(6, tcp(sport, dport, src=IP6_A, dst=IP6_B, v6=True))


def arp_frame(
    op: int = 1, sha: bytes = MAC_A, spa: bytes = IP_A, tha: bytes = b"\0" * 6, tpa: bytes = IP_B
) -> bytes:
    return (
        eth(dst=b"\xff" * 6, ethertype=0x0806)
        + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op)
        + sha
        + spa
        + tha
        + tpa
    )


def mpls_frame(label: int = 100, tc: int = 0, ttl: int = 32, inner: bytes | None = None) -> bytes:
    inner = inner if inner is not None else ipv4(17, udp())
    return (
        eth(ethertype=0x8847)
        + struct.pack("!I", (label << 12) | (tc << 9) | (1 << 8) | ttl)
        + inner
    )


def ns_frame(target: bytes = IP6_B, sll: bytes | None = MAC_A) -> bytes:
    body = b"\0" * 4 + target + (b"\x01\x01" + sll if sll is not None else b"")
    return eth(dst=b"\x33\x33\xff\x00\x00\x02", ethertype=0x86DD) + ipv6(
        58, icmp6(135, body), hlim=255
    )


def verify_ipv4(frame: bytes, l3: int = 14) -> dict[str, bool]:
    """Recompute the IPv4 header and L4 checksums of ``frame``: {'ip': ok, 'l4': ok}."""
    ihl = (frame[l3] & 0xF) * 4
    hdr = frame[l3 : l3 + ihl]
    out = {"ip": ref_checksum(hdr) == 0}
    total = struct.unpack("!H", frame[l3 + 2 : l3 + 4])[0]
    proto = frame[l3 + 9]
    seg = frame[l3 + ihl : l3 + total]
    src, dst = frame[l3 + 12 : l3 + 16], frame[l3 + 16 : l3 + 20]
    if proto in (6, 17):
        out["l4"] = ref_checksum(_pseudo4(src, dst, proto, len(seg)) + seg) == 0
    elif proto == 1:
        out["l4"] = ref_checksum(seg) == 0
    elif proto == 132:
        stored = struct.unpack("<I", seg[8:12])[0]
        out["l4"] = ref_crc32c(seg[:8] + b"\0\0\0\0" + seg[12:]) == stored
    return out


def verify_ipv6_l4(frame: bytes, l3: int = 14) -> bool:
    nh = frame[l3 + 6]
    plen = struct.unpack("!H", frame[l3 + 4 : l3 + 6])[0]
    seg = frame[l3 + 40 : l3 + 40 + plen]
    return (
        ref_checksum(
            _pseudo6(frame[l3 + 8 : l3 + 24], frame[l3 + 24 : l3 + 40], nh, len(seg)) + seg
        )
        == 0
    )
