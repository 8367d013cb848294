"""Header parser and header rewrites (set-field, push/pop, TTL) with checksums checked independently."""

from __future__ import annotations

import struct

import pytest
import quake_frames as fr
from hypothesis import given, settings
from hypothesis import strategies as st

from openvolcano.caldera.quake.pipeline.checksum import adjust, internet_checksum
from openvolcano.caldera.quake.pipeline.packet import Packet
from openvolcano.caldera.quake.pipeline.parse import parse
from openvolcano.ofp import consts as c


def test_tcp4_key() -> None:
    k = parse(fr.tcp4_frame(1234, 80, tos=0xB9), 3).key
    assert k[c.OFPXMT_OFB_IN_PORT] == 3
    assert k[c.OFPXMT_OFB_ETH_TYPE] == 0x0800
    assert k[c.OFPXMT_OFB_ETH_SRC] == int.from_bytes(fr.MAC_A, "big")
    assert k[c.OFPXMT_OFB_VLAN_VID] == c.OFPVID_NONE
    assert k[c.OFPXMT_OFB_IP_DSCP] == 0xB9 >> 2
    assert k[c.OFPXMT_OFB_IP_ECN] == 1
    assert k[c.OFPXMT_OFB_IPV4_SRC] == 0x0A000001
    assert (k[c.OFPXMT_OFB_TCP_SRC], k[c.OFPXMT_OFB_TCP_DST]) == (1234, 80)
    assert k[c.OFPXMT_OFB_UDP_SRC] is None
    assert k[c.OFPXMT_OFB_ARP_OP] is None


def test_vlan_qinq_outer_tag_is_matched() -> None:
    f = fr.tcp4_frame(vlans=((0x88A8, 100, 5), (0x8100, 200, 1)))
    p = parse(f, 1)
    assert p.key[c.OFPXMT_OFB_VLAN_VID] == 100 | c.OFPVID_PRESENT
    assert p.key[c.OFPXMT_OFB_VLAN_PCP] == 5
    assert p.key[c.OFPXMT_OFB_ETH_TYPE] == 0x0800
    assert p.key[c.OFPXMT_OFB_TCP_DST] == 80


def test_arp_mpls_ipv6_nd_sctp_icmp() -> None:
    k = parse(fr.arp_frame(op=2), 1).key
    assert (k[c.OFPXMT_OFB_ARP_OP], k[c.OFPXMT_OFB_ARP_TPA]) == (2, 0x0A000002)
    k = parse(fr.mpls_frame(label=1000, tc=3), 1).key
    assert (k[c.OFPXMT_OFB_MPLS_LABEL], k[c.OFPXMT_OFB_MPLS_TC], k[c.OFPXMT_OFB_MPLS_BOS]) == (
        1000,
        3,
        1,
    )
    assert k[c.OFPXMT_OFB_IPV4_SRC] is None  # no parsing beyond MPLS
    k = parse(fr.ns_frame(), 1).key
    assert k[c.OFPXMT_OFB_ICMPV6_TYPE] == 135
    assert k[c.OFPXMT_OFB_IPV6_ND_TARGET] == int.from_bytes(fr.IP6_B, "big")
    assert k[c.OFPXMT_OFB_IPV6_ND_SLL] == int.from_bytes(fr.MAC_A, "big")
    assert parse(fr.ns_frame(sll=None), 1).key[c.OFPXMT_OFB_IPV6_ND_SLL] == 0
    k = parse(fr.eth() + fr.ipv4(132, fr.sctp(7, 9)), 1).key
    assert (k[c.OFPXMT_OFB_SCTP_SRC], k[c.OFPXMT_OFB_SCTP_DST]) == (7, 9)
    k = parse(fr.eth() + fr.ipv4(1, fr.icmp4(8, 0)), 1).key
    assert (k[c.OFPXMT_OFB_ICMPV4_TYPE], k[c.OFPXMT_OFB_ICMPV4_CODE]) == (8, 0)


def test_ipv6_extension_headers() -> None:
    hop = bytes([60, 0]) + b"\0" * 6  # hop-by-hop -> dest options
    dst = bytes([6, 0]) + b"\0" * 6  # dest options -> TCP
    f = fr.eth(ethertype=0x86DD) + fr.ipv6(0, hop + dst + fr.tcp(v6=True))
    k = parse(f, 1).key
    assert k[c.OFPXMT_OFB_IPV6_EXTHDR] == c.OFPIEH_HOP | c.OFPIEH_DEST
    assert k[c.OFPXMT_OFB_IP_PROTO] == 6
    assert k[c.OFPXMT_OFB_TCP_DST] == 80
    # hop-by-hop not first and repeated -> UNSEQ | UNREP
    f2 = fr.eth(ethertype=0x86DD) + fr.ipv6(
        60, bytes([0, 0]) + b"\0" * 6 + bytes([0, 0]) + b"\0" * 6 + bytes([59, 0]) + b"\0" * 6
    )
    flags = parse(f2, 1).key[c.OFPXMT_OFB_IPV6_EXTHDR]
    assert flags & c.OFPIEH_UNSEQ
    assert flags & c.OFPIEH_UNREP
    assert flags & c.OFPIEH_NONEXT


def test_non_first_fragment_has_no_l4() -> None:
    f = fr.eth() + fr.ipv4(6, fr.tcp(), frag=100)
    k = parse(f, 1).key
    assert k[c.OFPXMT_OFB_IP_PROTO] == 6
    assert k[c.OFPXMT_OFB_TCP_SRC] is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.integers(0, 119))
def test_parse_never_raises(data: bytes, cut: int) -> None:
    for frame in (data, fr.tcp4_frame()[:cut], fr.ns_frame()[:cut], fr.mpls_frame()[:cut] + data):
        p = parse(frame, 1)
        assert len(p.key) == 40


def test_truncated_counts_as_malformed() -> None:
    p = parse(fr.tcp4_frame()[:30], 1)
    assert p.malformed
    assert p.key[c.OFPXMT_OFB_IPV4_SRC] is None
    assert p.key[c.OFPXMT_OFB_ETH_TYPE] == 0x0800


@given(
    st.binary(min_size=2, max_size=40).filter(lambda b: len(b) % 2 == 0),
    st.integers(0, 19),
    st.binary(min_size=2, max_size=2),
)
def test_incremental_checksum_matches_full(data: bytes, pos: int, new: bytes) -> None:
    pos = (pos % (len(data) // 2)) * 2
    cs = fr.ref_checksum(data)
    changed = data[:pos] + new + data[pos + 2 :]
    got, want = adjust(cs, data[pos : pos + 2], new), fr.ref_checksum(changed)
    # One's complement has two zeros: 0x0000 and 0xFFFF are the same checksum value.
    assert got == want or {got, want} == {0, 0xFFFF}
    assert internet_checksum(changed) == fr.ref_checksum(changed)


SETS = [
    (c.OFPXMT_OFB_IPV4_SRC, 0xC0A80101),
    (c.OFPXMT_OFB_IPV4_DST, 0x08080808),
    (c.OFPXMT_OFB_TCP_SRC, 4321),
    (c.OFPXMT_OFB_TCP_DST, 8080),
    (c.OFPXMT_OFB_IP_DSCP, 46),
    (c.OFPXMT_OFB_IP_ECN, 3),
]


@pytest.mark.parametrize(("field", "value"), SETS)
def test_set_field_tcp4_keeps_checksums_valid(field: int, value: int) -> None:
    pkt = Packet(fr.tcp4_frame(), 1)
    assert pkt.set_field(field, value)
    assert pkt.key[field] == value
    assert fr.verify_ipv4(bytes(pkt.data)) == {"ip": True, "l4": True}
    assert Packet(bytes(pkt.data), 1).key[field] == value


@pytest.mark.parametrize(
    ("field", "value"), [(c.OFPXMT_OFB_IPV4_DST, 0x01020304), (c.OFPXMT_OFB_UDP_DST, 99)]
)
def test_set_field_udp_and_sctp_and_icmp(field: int, value: int) -> None:
    pkt = Packet(fr.udp4_frame(), 1)
    pkt.set_field(field, value)
    assert fr.verify_ipv4(bytes(pkt.data)) == {"ip": True, "l4": True}
    s = Packet(fr.eth() + fr.ipv4(132, fr.sctp()), 1)
    s.set_field(c.OFPXMT_OFB_SCTP_DST, 4444)
    s.set_field(c.OFPXMT_OFB_IPV4_SRC, 0x0B000001)
    assert fr.verify_ipv4(bytes(s.data)) == {"ip": True, "l4": True}
    i = Packet(fr.eth() + fr.ipv4(1, fr.icmp4()), 1)
    i.set_field(c.OFPXMT_OFB_ICMPV4_TYPE, 0)
    assert fr.verify_ipv4(bytes(i.data)) == {"ip": True, "l4": True}


def test_set_field_ipv6_and_nd() -> None:
    pkt = Packet(fr.tcp6_frame(), 1)
    pkt.set_field(c.OFPXMT_OFB_IPV6_DST, 0xFE80 << 112 | 5)
    pkt.set_field(c.OFPXMT_OFB_IPV6_FLABEL, 0x12345)
    assert fr.verify_ipv6_l4(bytes(pkt.data))
    assert Packet(bytes(pkt.data), 1).key[c.OFPXMT_OFB_IPV6_FLABEL] == 0x12345
    nd = Packet(fr.ns_frame(), 1)
    nd.set_field(c.OFPXMT_OFB_IPV6_ND_SLL, 0x0A0B0C0D0E0F)
    nd.set_field(c.OFPXMT_OFB_IPV6_ND_TARGET, 7)
    assert fr.verify_ipv6_l4(bytes(nd.data))
    assert Packet(bytes(nd.data), 1).key[c.OFPXMT_OFB_IPV6_ND_SLL] == 0x0A0B0C0D0E0F


def test_vlan_push_pop_set() -> None:
    pkt = Packet(fr.tcp4_frame(), 1)
    pkt.push_vlan(0x8100)
    assert pkt.key[c.OFPXMT_OFB_VLAN_VID] == c.OFPVID_PRESENT
    pkt.set_field(c.OFPXMT_OFB_VLAN_VID, 0x1000 | 42)
    pkt.set_field(c.OFPXMT_OFB_VLAN_PCP, 6)
    assert bytes(pkt.data[12:16]) == struct.pack("!HH", 0x8100, (6 << 13) | 42)
    pkt.push_vlan(0x88A8)  # QinQ: outer copies the inner's VID/PCP
    assert bytes(pkt.data[12:16]) == struct.pack("!HH", 0x88A8, (6 << 13) | 42)
    assert pkt.pop_vlan()
    assert pkt.pop_vlan()
    assert bytes(pkt.data) == fr.tcp4_frame()
    assert not pkt.pop_vlan()


def test_mpls_push_pop_and_ttls() -> None:
    pkt = Packet(fr.udp4_frame(ttl=17), 1)
    pkt.push_mpls(0x8847)
    assert pkt.key[c.OFPXMT_OFB_MPLS_BOS] == 1
    assert pkt.data[14 + 3] == 17  # TTL copied from IP
    pkt.set_field(c.OFPXMT_OFB_MPLS_LABEL, 77)
    assert pkt.dec_mpls_ttl() is True
    assert pkt.data[17] == 16
    assert pkt.copy_ttl_in()
    assert pkt.pop_mpls(0x0800)
    assert pkt.key[c.OFPXMT_OFB_UDP_DST] == 53
    assert pkt.data[14 + 8] == 16  # IP TTL from MPLS
    assert fr.verify_ipv4(bytes(pkt.data))["ip"]
    pkt.push_mpls(0x8847)
    pkt.set_mpls_ttl(3)
    assert pkt.copy_ttl_out()
    assert pkt.data[17] == 16


def test_pbb_push_pop() -> None:
    orig = fr.tcp4_frame()
    pkt = Packet(orig, 1)
    pkt.push_pbb(0x88E7)
    assert pkt.key[c.OFPXMT_OFB_ETH_TYPE] == 0x88E7
    pkt.set_field(c.OFPXMT_OFB_PBB_ISID, 0xABCDE)
    assert pkt.key[c.OFPXMT_OFB_PBB_ISID] == 0xABCDE
    assert pkt.pop_pbb()
    assert bytes(pkt.data) == orig


def test_dec_nw_ttl() -> None:
    pkt = Packet(fr.tcp4_frame(ttl=2), 1)
    assert pkt.dec_nw_ttl() is True
    assert pkt.data[22] == 1
    assert fr.verify_ipv4(bytes(pkt.data))["ip"]
    assert pkt.dec_nw_ttl() is False
    assert Packet(fr.arp_frame(), 1).dec_nw_ttl() is None
    v6 = Packet(fr.tcp6_frame(), 1)
    assert v6.set_nw_ttl(9)
    assert v6.data[14 + 7] == 9
