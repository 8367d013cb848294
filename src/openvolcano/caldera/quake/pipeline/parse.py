"""The header parser: raw Ethernet frame bytes -> OpenFlow 1.3 flow key.

Role: the first step of quake's fast path (paper §4, Caldera data plane):
every received frame is turned into a *flow key*, a list indexed by OXM
field number (``OFPXMT_OFB_*``), holding an ``int`` for each field present
in the packet and ``None`` for each field absent. The classifier masks and
hashes these ints directly. Alongside the key the parser records the byte
offsets of each layer (:class:`Parsed`), which the action code uses to
rewrite headers in place.

Design:

* one linear pass, no allocation beyond the key list and a few ints;
  layers: Ethernet, 802.1Q/802.1ad tags (OXM VLAN fields describe the
  *outermost* tag; inner tags are skipped), PBB I-TAG, MPLS (outermost
  label), ARP (Ethernet/IPv4 only), IPv4, IPv6 (+ extension-header chain
  summarised in the ``ipv6_exthdr`` pseudo-field), TCP, UDP, SCTP,
  ICMPv4, ICMPv6 and Neighbor Discovery (target, SLL/TLL options);
* ``vlan_vid`` is always present: ``OFPVID_NONE`` (0) untagged, else
  ``vid | OFPVID_PRESENT`` - the spec's encoding, so a match on
  "no VLAN" is an ordinary exact match;
* IPv4 non-first fragments and IPv6 fragments with a non-zero offset carry
  no L4 fields (the L4 header is not there); ESP ends the IPv6 chain.

Invariant: :func:`parse` never raises on any byte string. A header that is
cut short makes that layer (and those above it) absent and sets
``Parsed.malformed``, which the pipeline counts.
"""

from __future__ import annotations

from openvolcano.ofp import consts as c

__all__ = ["ETH_TYPE_VLANS", "N_FIELDS", "Parsed", "parse"]

N_FIELDS = 40  # OFPXMT_OFB_IN_PORT .. OFPXMT_OFB_IPV6_EXTHDR

ETH_TYPE_VLANS = (0x8100, 0x88A8)
_IN_PORT = c.OFPXMT_OFB_IN_PORT
_IPV6_EXT = {0: c.OFPIEH_HOP, 43: c.OFPIEH_ROUTER, 44: c.OFPIEH_FRAG, 51: c.OFPIEH_AUTH,
             50: c.OFPIEH_ESP, 60: c.OFPIEH_DEST}  # fmt: skip
# Preferred order of RFC 2460 §4.1; Destination Options may appear before routing (1) or last (6).
_IPV6_RANK = {0: 0, 43: 2, 44: 3, 51: 4, 50: 5}


class Parsed:
    """Flow key plus layer offsets of one frame. Offsets are -1 when the layer is absent.

    Written by :func:`parse` only; read by the classifier (``key``) and the
    action code (offsets).
    """

    __slots__ = ("arp_off", "eth_type_off", "ip_ver", "key", "l3_end", "l3_off", "l4_off",
                 "l4_proto", "malformed", "mpls_off", "nd_sll_off", "nd_tll_off", "pbb_off",
                 "vlan_off")  # fmt: skip

    def __init__(self, key: list[int | None]) -> None:
        self.key = key
        self.malformed = False
        self.vlan_off = -1  # outermost 802.1Q/802.1ad TPID
        self.eth_type_off = -1  # the ethertype that names the L3 payload
        self.pbb_off = -1  # I-TAG
        self.mpls_off = -1  # outermost label stack entry
        self.arp_off = -1
        self.l3_off = -1  # IPv4/IPv6 header
        self.l3_end = -1  # end of the IP datagram within the frame (excludes Ethernet padding)
        self.ip_ver = 0
        self.l4_off = -1
        self.l4_proto = -1  # 6/17/132/1/58 when that L4 header is complete
        self.nd_sll_off = -1  # the 6-byte address inside the ND option
        self.nd_tll_off = -1


def _u16(d: bytes | bytearray, o: int) -> int:
    return (d[o] << 8) | d[o + 1]


def _u32(d: bytes | bytearray, o: int) -> int:
    return int.from_bytes(d[o : o + 4], "big")


def parse(data: bytes | bytearray, in_port: int, metadata: int = 0) -> Parsed:
    """Parse ``data`` (a whole Ethernet frame) received on ``in_port``. Never raises."""
    key: list[int | None] = [None] * N_FIELDS
    key[_IN_PORT] = in_port
    key[c.OFPXMT_OFB_IN_PHY_PORT] = in_port
    key[c.OFPXMT_OFB_METADATA] = metadata
    key[c.OFPXMT_OFB_TUNNEL_ID] = 0
    key[c.OFPXMT_OFB_VLAN_VID] = c.OFPVID_NONE
    p = Parsed(key)
    n = len(data)
    if n < 14:
        p.malformed = True
        return p
    key[c.OFPXMT_OFB_ETH_DST] = int.from_bytes(data[0:6], "big")
    key[c.OFPXMT_OFB_ETH_SRC] = int.from_bytes(data[6:12], "big")
    off = 12
    et = _u16(data, 12)
    if et in ETH_TYPE_VLANS:
        if n < 18:
            p.malformed = True
            key[c.OFPXMT_OFB_ETH_TYPE] = et
            return p
        p.vlan_off = 12
        tci = _u16(data, 14)
        key[c.OFPXMT_OFB_VLAN_VID] = (tci & 0x0FFF) | c.OFPVID_PRESENT
        key[c.OFPXMT_OFB_VLAN_PCP] = tci >> 13
        off = 16
        et = _u16(data, 16)
        while et in ETH_TYPE_VLANS:
            if n < off + 8:
                p.malformed = True
                break
            off += 4
            et = _u16(data, off)
    p.eth_type_off = off
    key[c.OFPXMT_OFB_ETH_TYPE] = et
    l3 = off + 2
    if et == 0x0800:
        _ipv4(data, l3, p)
    elif et == 0x86DD:
        _ipv6(data, l3, p)
    elif et == 0x0806:
        if n < l3 + 28 or data[l3 : l3 + 6] != b"\x00\x01\x08\x00\x06\x04":
            p.malformed = n < l3 + 28
            return p
        p.arp_off = l3
        key[c.OFPXMT_OFB_ARP_OP] = _u16(data, l3 + 6)
        key[c.OFPXMT_OFB_ARP_SHA] = int.from_bytes(data[l3 + 8 : l3 + 14], "big")
        key[c.OFPXMT_OFB_ARP_SPA] = _u32(data, l3 + 14)
        key[c.OFPXMT_OFB_ARP_THA] = int.from_bytes(data[l3 + 18 : l3 + 24], "big")
        key[c.OFPXMT_OFB_ARP_TPA] = _u32(data, l3 + 24)
    elif et in (0x8847, 0x8848):
        if n < l3 + 4:
            p.malformed = True
            return p
        p.mpls_off = l3
        lse = _u32(data, l3)
        key[c.OFPXMT_OFB_MPLS_LABEL] = lse >> 12
        key[c.OFPXMT_OFB_MPLS_TC] = (lse >> 9) & 7
        key[c.OFPXMT_OFB_MPLS_BOS] = (lse >> 8) & 1
    elif et == 0x88E7:
        if n < l3 + 4:
            p.malformed = True
            return p
        p.pbb_off = l3
        key[c.OFPXMT_OFB_PBB_ISID] = _u32(data, l3) & 0xFFFFFF
    return p


def _ipv4(data: bytes | bytearray, l3: int, p: Parsed) -> None:
    n = len(data)
    key = p.key
    if n < l3 + 20 or data[l3] >> 4 != 4:
        p.malformed = True
        return
    ihl = (data[l3] & 0x0F) * 4
    if ihl < 20 or n < l3 + ihl:
        p.malformed = True
        return
    p.l3_off = l3
    p.ip_ver = 4
    total = _u16(data, l3 + 2)
    p.l3_end = min(n, l3 + total) if total >= ihl else n
    tos = data[l3 + 1]
    key[c.OFPXMT_OFB_IP_DSCP] = tos >> 2
    key[c.OFPXMT_OFB_IP_ECN] = tos & 3
    proto = data[l3 + 9]
    key[c.OFPXMT_OFB_IP_PROTO] = proto
    key[c.OFPXMT_OFB_IPV4_SRC] = _u32(data, l3 + 12)
    key[c.OFPXMT_OFB_IPV4_DST] = _u32(data, l3 + 16)
    if _u16(data, l3 + 6) & 0x1FFF:  # non-first fragment: no L4 header here
        return
    _l4(data, l3 + ihl, proto, p)


def _ipv6(data: bytes | bytearray, l3: int, p: Parsed) -> None:
    n = len(data)
    key = p.key
    if n < l3 + 40 or data[l3] >> 4 != 6:
        p.malformed = True
        return
    p.l3_off = l3
    p.ip_ver = 6
    vtcf = _u32(data, l3)
    p.l3_end = min(n, l3 + 40 + _u16(data, l3 + 4))
    key[c.OFPXMT_OFB_IP_DSCP] = (vtcf >> 22) & 0x3F
    key[c.OFPXMT_OFB_IP_ECN] = (vtcf >> 20) & 3
    key[c.OFPXMT_OFB_IPV6_FLABEL] = vtcf & 0xFFFFF
    key[c.OFPXMT_OFB_IPV6_SRC] = int.from_bytes(data[l3 + 8 : l3 + 24], "big")
    key[c.OFPXMT_OFB_IPV6_DST] = int.from_bytes(data[l3 + 24 : l3 + 40], "big")
    nh = data[l3 + 6]
    off = l3 + 40
    flags = 0
    seen: dict[int, int] = {}
    rank = -1
    first = True
    parse_l4 = True
    while True:
        if nh == 59:
            flags |= c.OFPIEH_NONEXT
            parse_l4 = False
            break
        bit = _IPV6_EXT.get(nh)
        if bit is None:
            break
        count = seen.get(nh, 0) + 1
        seen[nh] = count
        if count > (2 if nh == 60 else 1):
            flags |= c.OFPIEH_UNREP
        flags |= bit
        r = (1 if rank <= 1 else 6) if nh == 60 else _IPV6_RANK[nh]
        if (nh == 0 and not first) or r < rank:
            flags |= c.OFPIEH_UNSEQ
        rank = max(rank, r)
        first = False
        if nh == 50:  # ESP: the rest is encrypted
            parse_l4 = False
            break
        if n < off + 8:
            p.malformed = True
            parse_l4 = False
            break
        if nh == 44:
            length = 8
            if _u16(data, off + 2) >> 3:  # non-first fragment
                parse_l4 = False
        elif nh == 51:
            length = (data[off + 1] + 2) * 4
        else:
            length = (data[off + 1] + 1) * 8
        nh = data[off]
        off += length
        if not parse_l4:
            break
    key[c.OFPXMT_OFB_IPV6_EXTHDR] = flags
    key[c.OFPXMT_OFB_IP_PROTO] = nh
    if parse_l4:
        _l4(data, off, nh, p)


def _l4(data: bytes | bytearray, l4: int, proto: int, p: Parsed) -> None:
    n = len(data)
    key = p.key
    need = {6: 20, 17: 8, 132: 12, 1: 4, 58: 4}.get(proto)
    if need is None or (proto == 1 and p.ip_ver != 4) or (proto == 58 and p.ip_ver != 6):
        return
    if n < l4 + need:
        p.malformed = True
        return
    p.l4_off = l4
    p.l4_proto = proto
    if proto == 6:
        key[c.OFPXMT_OFB_TCP_SRC] = _u16(data, l4)
        key[c.OFPXMT_OFB_TCP_DST] = _u16(data, l4 + 2)
    elif proto == 17:
        key[c.OFPXMT_OFB_UDP_SRC] = _u16(data, l4)
        key[c.OFPXMT_OFB_UDP_DST] = _u16(data, l4 + 2)
    elif proto == 132:
        key[c.OFPXMT_OFB_SCTP_SRC] = _u16(data, l4)
        key[c.OFPXMT_OFB_SCTP_DST] = _u16(data, l4 + 2)
    elif proto == 1:
        key[c.OFPXMT_OFB_ICMPV4_TYPE] = data[l4]
        key[c.OFPXMT_OFB_ICMPV4_CODE] = data[l4 + 1]
    else:
        t = data[l4]
        key[c.OFPXMT_OFB_ICMPV6_TYPE] = t
        key[c.OFPXMT_OFB_ICMPV6_CODE] = data[l4 + 1]
        if t in (135, 136) and data[l4 + 1] == 0:
            _nd(data, l4, t, p)


def _nd(data: bytes | bytearray, l4: int, t: int, p: Parsed) -> None:
    end = p.l3_end
    if end < l4 + 24:
        p.malformed = True
        return
    key = p.key
    key[c.OFPXMT_OFB_IPV6_ND_TARGET] = int.from_bytes(data[l4 + 8 : l4 + 24], "big")
    # An absent link-layer option reads as 0 (so "sll=0" matches "no option").
    want = 1 if t == 135 else 2
    field = c.OFPXMT_OFB_IPV6_ND_SLL if t == 135 else c.OFPXMT_OFB_IPV6_ND_TLL
    key[field] = 0
    off = l4 + 24
    while off + 2 <= end:
        otype, olen = data[off], data[off + 1] * 8
        if olen == 0 or off + olen > end:
            p.malformed = True
            return
        if otype == want and olen == 8:
            key[field] = int.from_bytes(data[off + 2 : off + 8], "big")
            if t == 135:
                p.nd_sll_off = off + 2
            else:
                p.nd_tll_off = off + 2
            return
        off += olen
