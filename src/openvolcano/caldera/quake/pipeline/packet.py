"""A packet in flight through the pipeline, and the header rewrites actions perform.

Role: OpenFlow actions modify the packet (set-field, push/pop of VLAN, MPLS
and PBB tags, TTL operations). :class:`Packet` owns the frame as a
``bytearray`` plus its parse (:class:`~.parse.Parsed`) and implements each
rewrite so that the frame on the wire is exactly what a hardware switch
would send: checksums covering rewritten bytes (IPv4 header, TCP/UDP/ICMP
incl. the IPv4/IPv6 pseudo-header, SCTP CRC32c) are updated.

Design: field rewrites patch bytes in place and update the key entry; a
rewrite that changes the frame's structure (push/pop, or a field that
selects a layer: eth_type, ip_proto, icmpv6_type) re-parses the frame, so
subsequent tables always match on the packet as modified (spec §5.4).
Metadata, the action set and the queue are pipeline state and are kept
across re-parses.

Invariant: a rewrite of a header the packet does not have is a no-op that
returns ``False`` (flow-mod validation refuses such actions where the spec
requires; at run time a packet can still lack the layer).
"""

from __future__ import annotations

from openvolcano.ofp import consts as c

from .checksum import adjust, crc32c, even_span
from .parse import Parsed, parse

__all__ = ["Packet"]


class Packet:
    """A mutable frame with its flow key. Owned by one pipeline pass."""

    __slots__ = ("data", "in_port", "metadata", "p", "queue_id")

    def __init__(self, data: bytes | bytearray, in_port: int, metadata: int = 0) -> None:
        self.data = bytearray(data)
        self.in_port = in_port
        self.metadata = metadata
        self.queue_id: int | None = None
        self.p: Parsed = parse(self.data, in_port, metadata)

    @property
    def key(self) -> list[int | None]:
        return self.p.key

    def copy(self) -> Packet:
        q = Packet.__new__(Packet)
        q.data = bytearray(self.data)
        q.in_port = self.in_port
        q.metadata = self.metadata
        q.queue_id = self.queue_id
        q.p = parse(q.data, self.in_port, self.metadata)
        return q

    def set_metadata(self, value: int) -> None:
        self.metadata = value
        self.p.key[c.OFPXMT_OFB_METADATA] = value

    def reparse(self) -> None:
        self.p = parse(self.data, self.in_port, self.metadata)

    # --- byte patching with checksum maintenance -------------------------------
    def _l4_csum(self) -> int:
        """Offset of the L4 checksum that covers the IP pseudo-header, or -1."""
        p = self.p
        if p.l4_off < 0:
            return -1
        if p.l4_proto == 6:
            return p.l4_off + 16
        if p.l4_proto == 17:
            off = p.l4_off + 6
            if p.ip_ver == 4 and self.data[off] == 0 and self.data[off + 1] == 0:
                return -1  # IPv4 UDP without checksum stays without
            return off
        if p.l4_proto == 58:
            return p.l4_off + 2
        return -1

    def _patch(self, off: int, new: bytes, csums: tuple[tuple[int, int], ...]) -> None:
        """Write ``new`` at ``off``; adjust each checksum ``(csum_off, base)`` covering it."""
        d = self.data
        lo, hi = off, off + len(new)
        spans = [even_span(lo, hi, base) for _, base in csums]
        olds = [bytes(d[a:b]) for a, b in spans]
        d[lo:hi] = new
        for (coff, _), (a, b), old in zip(csums, spans, olds, strict=True):
            if coff < 0 or coff + 2 > len(d):
                continue
            v = adjust((d[coff] << 8) | d[coff + 1], old, bytes(d[a:b]))
            if v == 0 and self.p.l4_proto == 17 and coff == self.p.l4_off + 6:
                v = 0xFFFF
            d[coff] = v >> 8
            d[coff + 1] = v & 0xFF

    def _ip_csums(self, pseudo: bool) -> tuple[tuple[int, int], ...]:
        p = self.p
        out: list[tuple[int, int]] = []
        if p.ip_ver == 4:
            out.append((p.l3_off + 10, p.l3_off))
        if pseudo:
            l4c = self._l4_csum()
            if l4c >= 0:
                out.append((l4c, p.l3_off))
        return tuple(out)

    def _l4_only(self) -> tuple[tuple[int, int], ...]:
        p = self.p
        if p.l4_proto == 1 or p.l4_proto == 58:
            return ((p.l4_off + 2, p.l4_off),)
        l4c = self._l4_csum()
        return ((l4c, p.l4_off),) if l4c >= 0 else ()

    def _sctp_fix(self) -> None:
        p = self.p
        if p.l4_proto != 132:
            return
        d = self.data
        end = p.l3_end
        d[p.l4_off + 8 : p.l4_off + 12] = b"\0\0\0\0"
        crc = crc32c(d[p.l4_off : end])
        d[p.l4_off + 8 : p.l4_off + 12] = crc.to_bytes(4, "little")

    # --- set-field ------------------------------------------------------------
    def set_field(self, field: int, value: int) -> bool:
        """Rewrite one header field (OFPAT_SET_FIELD). ``False`` if the layer is absent."""
        p, key = self.p, self.p.key
        if key[field] is None and field not in (c.OFPXMT_OFB_VLAN_PCP,):
            return False
        d = self.data
        l3, l4 = p.l3_off, p.l4_off
        if field == c.OFPXMT_OFB_ETH_DST:
            d[0:6] = value.to_bytes(6, "big")
        elif field == c.OFPXMT_OFB_ETH_SRC:
            d[6:12] = value.to_bytes(6, "big")
        elif field == c.OFPXMT_OFB_ETH_TYPE:
            d[p.eth_type_off : p.eth_type_off + 2] = value.to_bytes(2, "big")
            self.reparse()
            return True
        elif field in (c.OFPXMT_OFB_VLAN_VID, c.OFPXMT_OFB_VLAN_PCP):
            if p.vlan_off < 0:
                return False
            o = p.vlan_off + 2
            tci = (d[o] << 8) | d[o + 1]
            if field == c.OFPXMT_OFB_VLAN_VID:
                tci = (tci & 0xF000) | (value & 0x0FFF)
                key[field] = (value & 0x0FFF) | c.OFPVID_PRESENT
            else:
                tci = (tci & 0x1FFF) | ((value & 7) << 13)
                key[field] = value & 7
            d[o : o + 2] = tci.to_bytes(2, "big")
            return True
        elif field in (c.OFPXMT_OFB_IP_DSCP, c.OFPXMT_OFB_IP_ECN):
            if p.ip_ver == 4:
                tos = d[l3 + 1]
                if field == c.OFPXMT_OFB_IP_DSCP:
                    tos = (tos & 3) | ((value & 0x3F) << 2)
                else:
                    tos = (tos & 0xFC) | (value & 3)
                self._patch(l3 + 1, bytes([tos]), self._ip_csums(False))
            else:
                vtcf = int.from_bytes(d[l3 : l3 + 4], "big")
                if field == c.OFPXMT_OFB_IP_DSCP:
                    vtcf = (vtcf & ~(0x3F << 22)) | ((value & 0x3F) << 22)
                else:
                    vtcf = (vtcf & ~(3 << 20)) | ((value & 3) << 20)
                d[l3 : l3 + 4] = vtcf.to_bytes(4, "big")
        elif field == c.OFPXMT_OFB_IP_PROTO:
            if p.ip_ver == 4:
                old = d[l3 + 9]
                self._patch(l3 + 9, bytes([value & 0xFF]), self._ip_csums(False))
                l4c = self._l4_csum()
                if l4c >= 0:
                    v = adjust((d[l4c] << 8) | d[l4c + 1], bytes([0, old]), bytes([0, value]))
                    d[l4c : l4c + 2] = v.to_bytes(2, "big")
            else:
                d[l3 + 6] = value & 0xFF
            self.reparse()
            return True
        elif field in (c.OFPXMT_OFB_IPV4_SRC, c.OFPXMT_OFB_IPV4_DST):
            off = l3 + (12 if field == c.OFPXMT_OFB_IPV4_SRC else 16)
            self._patch(off, value.to_bytes(4, "big"), self._ip_csums(True))
            self._sctp_fix()
        elif field in (c.OFPXMT_OFB_IPV6_SRC, c.OFPXMT_OFB_IPV6_DST):
            off = l3 + (8 if field == c.OFPXMT_OFB_IPV6_SRC else 24)
            self._patch(off, value.to_bytes(16, "big"), self._ip_csums(True))
            self._sctp_fix()
        elif field == c.OFPXMT_OFB_IPV6_FLABEL:
            vtcf = (int.from_bytes(d[l3 : l3 + 4], "big") & ~0xFFFFF) | (value & 0xFFFFF)
            d[l3 : l3 + 4] = vtcf.to_bytes(4, "big")
        elif field in (c.OFPXMT_OFB_TCP_SRC, c.OFPXMT_OFB_UDP_SRC, c.OFPXMT_OFB_SCTP_SRC):
            self._patch(l4, value.to_bytes(2, "big"), self._l4_only())
            self._sctp_fix()
        elif field in (c.OFPXMT_OFB_TCP_DST, c.OFPXMT_OFB_UDP_DST, c.OFPXMT_OFB_SCTP_DST):
            self._patch(l4 + 2, value.to_bytes(2, "big"), self._l4_only())
            self._sctp_fix()
        elif field in (c.OFPXMT_OFB_ICMPV4_TYPE, c.OFPXMT_OFB_ICMPV6_TYPE):
            self._patch(l4, bytes([value & 0xFF]), self._l4_only())
            if field == c.OFPXMT_OFB_ICMPV6_TYPE:
                self.reparse()
                return True
        elif field in (c.OFPXMT_OFB_ICMPV4_CODE, c.OFPXMT_OFB_ICMPV6_CODE):
            self._patch(l4 + 1, bytes([value & 0xFF]), self._l4_only())
        elif field == c.OFPXMT_OFB_IPV6_ND_TARGET:
            self._patch(l4 + 8, value.to_bytes(16, "big"), self._l4_only())
        elif field in (c.OFPXMT_OFB_IPV6_ND_SLL, c.OFPXMT_OFB_IPV6_ND_TLL):
            off = p.nd_sll_off if field == c.OFPXMT_OFB_IPV6_ND_SLL else p.nd_tll_off
            if off < 0:
                return False  # no link-layer option to rewrite
            self._patch(off, value.to_bytes(6, "big"), self._l4_only())
        elif field == c.OFPXMT_OFB_ARP_OP:
            d[p.arp_off + 6 : p.arp_off + 8] = value.to_bytes(2, "big")
        elif field == c.OFPXMT_OFB_ARP_SHA:
            d[p.arp_off + 8 : p.arp_off + 14] = value.to_bytes(6, "big")
        elif field == c.OFPXMT_OFB_ARP_SPA:
            d[p.arp_off + 14 : p.arp_off + 18] = value.to_bytes(4, "big")
        elif field == c.OFPXMT_OFB_ARP_THA:
            d[p.arp_off + 18 : p.arp_off + 24] = value.to_bytes(6, "big")
        elif field == c.OFPXMT_OFB_ARP_TPA:
            d[p.arp_off + 24 : p.arp_off + 28] = value.to_bytes(4, "big")
        elif field in (c.OFPXMT_OFB_MPLS_LABEL, c.OFPXMT_OFB_MPLS_TC):
            o = p.mpls_off
            lse = int.from_bytes(d[o : o + 4], "big")
            if field == c.OFPXMT_OFB_MPLS_LABEL:
                lse = (lse & 0xFFF) | ((value & 0xFFFFF) << 12)
            else:
                lse = (lse & ~(7 << 9)) | ((value & 7) << 9)
            d[o : o + 4] = lse.to_bytes(4, "big")
        elif field == c.OFPXMT_OFB_PBB_ISID:
            o = p.pbb_off + 1
            d[o : o + 3] = (value & 0xFFFFFF).to_bytes(3, "big")
        else:
            return False  # in_port, metadata, tunnel_id, mpls_bos, exthdr: not settable
        key[field] = value
        return True

    # --- tags -----------------------------------------------------------------
    def push_vlan(self, ethertype: int) -> None:
        """Insert a new outermost tag; VID/PCP copied from the current outer tag, else 0."""
        d = self.data
        tci = b"\0\0" if self.p.vlan_off < 0 else bytes(d[14:16])
        d[12:12] = ethertype.to_bytes(2, "big") + tci
        self.reparse()

    def pop_vlan(self) -> bool:
        if self.p.vlan_off < 0:
            return False
        del self.data[12:16]
        self.reparse()
        return True

    def _ip_ttl(self) -> int | None:
        p = self.p
        if p.ip_ver == 4:
            return self.data[p.l3_off + 8]
        if p.ip_ver == 6:
            return self.data[p.l3_off + 7]
        return None

    def push_mpls(self, ethertype: int) -> None:
        """Push a label stack entry after the Ethernet and VLAN headers (OF 1.3 placement)."""
        p, d = self.p, self.data
        et_off = p.eth_type_off if p.eth_type_off >= 0 else 12
        if p.mpls_off >= 0:
            lse = int.from_bytes(d[p.mpls_off : p.mpls_off + 4], "big") & ~0x100  # copy, BoS=0
        else:
            ttl = self._ip_ttl() or 0
            lse = 0x100 | ttl
        d[et_off : et_off + 2] = ethertype.to_bytes(2, "big")
        d[et_off + 2 : et_off + 2] = lse.to_bytes(4, "big")
        self.reparse()

    def pop_mpls(self, ethertype: int) -> bool:
        p, d = self.p, self.data
        if p.mpls_off < 0:
            return False
        del d[p.mpls_off : p.mpls_off + 4]
        d[p.eth_type_off : p.eth_type_off + 2] = ethertype.to_bytes(2, "big")
        self.reparse()
        return True

    def push_pbb(self, ethertype: int) -> None:
        """Encapsulate in a new backbone header: B-DA/B-SA copied from C-DA/C-SA, I-SID copied or 0."""
        p, d = self.p, self.data
        isid = bytes(d[p.pbb_off + 1 : p.pbb_off + 4]) if p.pbb_off >= 0 else b"\0\0\0"
        self.data = bytearray(d[0:12] + ethertype.to_bytes(2, "big") + b"\0" + isid) + d
        self.reparse()

    def pop_pbb(self) -> bool:
        if self.p.pbb_off < 0 or len(self.data) < self.p.pbb_off + 4 + 14:
            return False
        del self.data[0 : self.p.pbb_off + 4]
        self.reparse()
        return True

    # --- TTLs -----------------------------------------------------------------
    def _set_ip_ttl(self, ttl: int) -> bool:
        p = self.p
        if p.ip_ver == 4:
            self._patch(p.l3_off + 8, bytes([ttl]), ((p.l3_off + 10, p.l3_off),))
        elif p.ip_ver == 6:
            self.data[p.l3_off + 7] = ttl
        else:
            return False
        return True

    def set_nw_ttl(self, ttl: int) -> bool:
        return self._set_ip_ttl(ttl & 0xFF)

    def dec_nw_ttl(self) -> bool | None:
        """``None`` if no IP header, ``False`` if the TTL was already 0/1 (invalid), else ``True``."""
        ttl = self._ip_ttl()
        if ttl is None:
            return None
        if ttl <= 1:
            return False
        self._set_ip_ttl(ttl - 1)
        return True

    def set_mpls_ttl(self, ttl: int) -> bool:
        if self.p.mpls_off < 0:
            return False
        self.data[self.p.mpls_off + 3] = ttl & 0xFF
        return True

    def dec_mpls_ttl(self) -> bool | None:
        o = self.p.mpls_off
        if o < 0:
            return None
        ttl = self.data[o + 3]
        if ttl <= 1:
            return False
        self.data[o + 3] = ttl - 1
        return True

    def _inner_of_mpls(self) -> tuple[str, int]:
        """What follows the outermost label: ('mpls', off) / ('ipv4'|'ipv6', off) / ('', -1)."""
        o, d = self.p.mpls_off, self.data
        if o < 0 or len(d) < o + 8:
            return "", -1
        if not d[o + 2] & 1:
            return "mpls", o + 4
        ver = d[o + 4] >> 4
        if ver == 4 and len(d) >= o + 24:
            return "ipv4", o + 4
        if ver == 6 and len(d) >= o + 44:
            return "ipv6", o + 4
        return "", -1

    def copy_ttl_out(self) -> bool:
        """Next-to-outermost TTL -> outermost (IP -> MPLS, or MPLS -> MPLS)."""
        kind, off = self._inner_of_mpls()
        if not kind:
            return False
        ttl = self.data[off + {"mpls": 3, "ipv4": 8, "ipv6": 7}[kind]]
        self.data[self.p.mpls_off + 3] = ttl
        return True

    def copy_ttl_in(self) -> bool:
        """Outermost TTL -> next-to-outermost (MPLS -> MPLS, or MPLS -> IP)."""
        kind, off = self._inner_of_mpls()
        if not kind:
            return False
        ttl = self.data[self.p.mpls_off + 3]
        if kind == "mpls":
            self.data[off + 3] = ttl
        elif kind == "ipv6":
            self.data[off + 7] = ttl
        else:
            saved, self.p.ip_ver, self.p.l3_off = (self.p.ip_ver, self.p.l3_off), 4, off
            self._patch(off + 8, bytes([ttl]), ((off + 10, off),))
            self.p.ip_ver, self.p.l3_off = saved
        return True
