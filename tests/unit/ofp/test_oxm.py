"""OXM TLVs and ofp_match: every field, hand-built wire vectors, every decode error."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies_oxm import matches, oxms

from openvolcano.ofp import consts as c
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError
from openvolcano.ofp.oxm import (
    OXM_FIELDS,
    OXM_FIELDS_BY_NAME,
    Match,
    OxmExperimenter,
    OxmField,
    OxmRaw,
    OxmTLV,
    decode_oxm,
    format_ipv4,
    format_ipv6,
    format_mac,
    ipv4,
    ipv6,
    mac,
)
from openvolcano.ofp.wire import Reader


def _decode_match(data: bytes) -> Match:
    r = Reader(data)
    m = Match.decode(r)
    assert r.remaining() == 0
    return m


def _match_error(data: bytes) -> tuple[int, int]:
    with pytest.raises(OFPDecodeError) as ei:
        Match.decode(Reader(data))
    return ei.value.type, ei.value.code


def _match_bytes(*oxm: bytes) -> bytes:
    body = b"".join(oxm)
    length = 4 + len(body)
    return struct.pack("!HH", c.OFPMT_OXM, length) + body + b"\0" * ((-length) % 8)


def _oxm_header(field: int, hasmask: bool, length: int, oxm_class: int = 0x8000) -> bytes:
    return struct.pack("!I", (oxm_class << 16) | (field << 9) | (hasmask << 8) | length)


# --- the field table ----------------------------------------------------------


def test_table_covers_every_ofb_field_with_spec_names() -> None:
    for name in dir(c):
        if name.startswith("OFPXMT_OFB_"):
            f = OXM_FIELDS[getattr(c, name)]
            assert f.name == name.removeprefix("OFPXMT_OFB_").lower()
    assert len(OXM_FIELDS) == 40
    assert OXM_FIELDS_BY_NAME["ipv6_exthdr"].field == 39


@pytest.mark.parametrize("info", list(OXM_FIELDS.values()), ids=lambda f: f.name)
def test_every_field_round_trips_exact_and_masked(info: OxmField) -> None:
    value = info.max_value
    tlv = OxmTLV(field=info.field, value=value)
    wire = tlv.encode()
    assert wire[:4] == _oxm_header(info.field, False, info.width)
    assert int.from_bytes(wire[4:], "big") == value
    assert decode_oxm(Reader(wire)) == tlv
    if info.maskable:
        mask = (1 << (8 * info.width)) - 2
        masked = OxmTLV(field=info.field, value=value & mask, mask=mask)
        wire = masked.encode()
        assert wire[:4] == _oxm_header(info.field, True, 2 * info.width)
        assert decode_oxm(Reader(wire)) == masked
    else:
        with pytest.raises(OFPEncodeError, match="not maskable"):
            OxmTLV(field=info.field, value=0, mask=0).encode()
    with pytest.raises(OFPEncodeError):
        OxmTLV(field=info.field, value=value + 1).encode()


def test_hand_built_vectors() -> None:
    # OXM_OF_IN_PORT = 0x80000004, value 1
    assert OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=1).encode() == bytes.fromhex("8000000400000001")
    # OXM_OF_VLAN_VID = 0x80000c02, VID 5 with OFPVID_PRESENT
    assert OxmTLV(
        field=c.OFPXMT_OFB_VLAN_VID, value=c.OFPVID_PRESENT | 5
    ).encode() == bytes.fromhex("80000c021005")
    # OXM_OF_ETH_DST_W = 0x8000070c
    wire = OxmTLV(
        field=c.OFPXMT_OFB_ETH_DST, value=mac("01:00:00:00:00:00"), mask=mac("01:00:00:00:00:00")
    ).encode()
    assert wire == bytes.fromhex("8000070c010000000000010000000000")
    # ofp_match: type=1, length=12, in_port=1, 4 pad bytes
    m = Match.of(in_port=1)
    assert m.encode() == bytes.fromhex("0001000c800000040000000100000000")
    # the empty match is 4 bytes plus 4 bytes of padding
    assert Match().encode() == bytes.fromhex("0001000400000000")
    assert _decode_match(bytes.fromhex("0001000400000000")) == Match()
    # IPv4 destination 10.0.0.0/8: OXM_OF_IPV4_DST_W = 0x80001908
    m = Match.of(eth_type=0x0800, ipv4_dst=("10.0.0.0", "255.0.0.0"))
    assert m.encode() == bytes.fromhex("0001001680000a020800800019080a000000ff0000000000")


def test_experimenter_and_other_classes_pass_through() -> None:
    exp = OxmExperimenter(field=3, hasmask=True, experimenter=0x4F4E4600, payload=b"\x01\x02")
    wire = exp.encode()
    assert wire == _oxm_header(3, True, 6, 0xFFFF) + bytes.fromhex("4f4e4600") + b"\x01\x02"
    raw = OxmRaw(oxm_class=c.OFPXMC_NXM_1, field=33, hasmask=False, payload=b"\xaa" * 4)
    assert raw.encode() == _oxm_header(33, False, 4, 1) + b"\xaa" * 4
    m = Match(fields=(exp, raw, OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=7)))
    assert _decode_match(m.encode()) == m
    with pytest.raises(OFPEncodeError):
        OxmRaw(oxm_class=c.OFPXMC_OPENFLOW_BASIC, field=0, hasmask=False).encode()
    with pytest.raises(OFPEncodeError):
        OxmExperimenter(oxm_class=1, field=0, hasmask=False, experimenter=0).encode()


# --- decode errors --------------------------------------------------------------

IN_PORT_1 = bytes.fromhex("8000000400000001")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", c.OFPBMC_BAD_LEN),
        (b"\x00\x01\x00", c.OFPBMC_BAD_LEN),
        (struct.pack("!HH4x", c.OFPMT_STANDARD, 88), c.OFPBMC_BAD_TYPE),
        (struct.pack("!HH4x", 7, 4), c.OFPBMC_BAD_TYPE),
        (struct.pack("!HH4x", c.OFPMT_OXM, 3), c.OFPBMC_BAD_LEN),
        (struct.pack("!HH4x", c.OFPMT_OXM, 12), c.OFPBMC_BAD_LEN),  # body past the end
        (_match_bytes(IN_PORT_1)[:-4], c.OFPBMC_BAD_LEN),  # padding missing
        (_match_bytes(IN_PORT_1[:6]), c.OFPBMC_BAD_LEN),  # OXM payload truncated
        (_match_bytes(b"\x80\x00"), c.OFPBMC_BAD_LEN),  # OXM header truncated
        (_match_bytes(_oxm_header(0, False, 2) + b"\0\0"), c.OFPBMC_BAD_LEN),  # in_port len 2
        (_match_bytes(_oxm_header(40, False, 1) + b"\0"), c.OFPBMC_BAD_FIELD),
        (_match_bytes(_oxm_header(127, False, 0)), c.OFPBMC_BAD_FIELD),
        (_match_bytes(_oxm_header(0, True, 8) + b"\0" * 8), c.OFPBMC_BAD_MASK),
        (_match_bytes(_oxm_header(7, False, 1) + b"\x08"), c.OFPBMC_BAD_VALUE),  # vlan_pcp 8
        (_match_bytes(_oxm_header(6, False, 2) + b"\x20\x00"), c.OFPBMC_BAD_VALUE),  # vlan_vid
        (_match_bytes(IN_PORT_1, IN_PORT_1), c.OFPBMC_DUP_FIELD),
        (_match_bytes(_oxm_header(1, False, 2, 0xFFFF) + b"\0\0"), c.OFPBMC_BAD_LEN),
    ],
)
def test_match_decode_errors(data: bytes, code: int) -> None:
    assert _match_error(data) == (c.OFPET_BAD_MATCH, code)


def test_duplicate_non_basic_fields_are_rejected_but_distinct_ones_are_not() -> None:
    a = OxmRaw(oxm_class=1, field=2, hasmask=False, payload=b"\x01")
    b = OxmRaw(oxm_class=1, field=3, hasmask=False, payload=b"\x01")
    assert _decode_match(Match(fields=(a, b)).encode()).fields == (a, b)
    dup = _match_bytes(a.encode(), a.encode())
    assert _match_error(dup) == (c.OFPET_BAD_MATCH, c.OFPBMC_DUP_FIELD)
    with pytest.raises(OFPEncodeError, match="twice"):
        Match(fields=(a, a)).encode()


# --- convenience API ------------------------------------------------------------


def test_match_of_text_forms_get_and_to_dict() -> None:
    m = Match.of(
        in_port=1,
        eth_type=0x86DD,
        eth_dst="aa:bb:cc:dd:ee:ff",
        ipv6_src=("2001:db8::", "ffff:ffff::"),
        vlan_vid=c.OFPVID_PRESENT | 10,
    )
    assert m.get("eth_dst") == OxmTLV(field=c.OFPXMT_OFB_ETH_DST, value=0xAABBCCDDEEFF)
    assert m.get("tcp_dst") is None
    assert m.to_dict() == {
        "in_port": 1,
        "eth_type": 0x86DD,
        "eth_dst": 0xAABBCCDDEEFF,
        "ipv6_src": (0x20010DB8 << 96, 0xFFFFFFFF << 96),
        "vlan_vid": 0x100A,
    }
    assert str(m) == (
        "in_port=1,eth_type=0x86dd,eth_dst=aa:bb:cc:dd:ee:ff,"
        "ipv6_src=2001:db8::/ffff:ffff::,vlan_vid=0x100a"
    )
    assert str(Match()) == "any"
    with pytest.raises(KeyError, match="unknown OXM field 'ipv4'"):
        Match.of(ipv4=1)
    with pytest.raises(OFPEncodeError):
        Match.of(in_port=(1, 1))
    with pytest.raises(OFPEncodeError):
        Match.of(vlan_pcp=8)
    with pytest.raises(ValueError, match="MAC"):
        Match.of(eth_src="aa:bb")


def test_address_helpers() -> None:
    assert mac("00:1B:21:3c:4d:5e") == 0x001B213C4D5E
    assert mac("00-1b-21-3c-4d-5e") == 0x001B213C4D5E
    assert format_mac(0x001B213C4D5E) == "00:1b:21:3c:4d:5e"
    assert ipv4("192.168.1.254") == 0xC0A801FE
    assert format_ipv4(0xC0A801FE) == "192.168.1.254"
    assert ipv6("fe80::1") == (0xFE80 << 112) | 1
    assert format_ipv6((0xFE80 << 112) | 1) == "fe80::1"
    for bad in ("", "1:2:3:4:5", "gg:00:00:00:00:00", "001:0:0:0:0:0"):
        with pytest.raises(ValueError, match="MAC"):
            mac(bad)
    with pytest.raises(ValueError, match="IPv4"):
        ipv4("10.0.0.256")
    with pytest.raises(ValueError, match="IPv6"):
        ipv6("fe80:::1")


@pytest.mark.parametrize(
    ("kw", "unmet"),
    [
        ({}, None),
        ({"tcp_dst": 80}, ("tcp_dst", c.OFPXMT_OFB_IP_PROTO)),
        ({"ip_proto": 6, "tcp_dst": 80}, ("ip_proto", c.OFPXMT_OFB_ETH_TYPE)),
        ({"eth_type": 0x800, "ip_proto": 6, "tcp_dst": 80}, None),
        ({"eth_type": 0x86DD, "ip_proto": 17, "tcp_dst": 80}, ("tcp_dst", c.OFPXMT_OFB_IP_PROTO)),
        ({"eth_type": 0x800, "ipv6_src": 1}, ("ipv6_src", c.OFPXMT_OFB_ETH_TYPE)),
        ({"vlan_vid": (0x0005, 0x0FFF), "vlan_pcp": 3}, ("vlan_pcp", c.OFPXMT_OFB_VLAN_VID)),
        ({"vlan_pcp": 3}, ("vlan_pcp", c.OFPXMT_OFB_VLAN_VID)),
        ({"vlan_vid": c.OFPVID_NONE, "vlan_pcp": 3}, ("vlan_pcp", c.OFPXMT_OFB_VLAN_VID)),
        ({"vlan_vid": (0x1000, 0x1000), "vlan_pcp": 3}, None),
        ({"vlan_vid": 0x1007, "vlan_pcp": 3}, None),
        ({"in_phy_port": 2}, ("in_phy_port", c.OFPXMT_OFB_IN_PORT)),
        ({"in_port": 1, "in_phy_port": 2}, None),
        (
            {"eth_type": 0x86DD, "ip_proto": 58, "icmpv6_type": 136, "ipv6_nd_sll": 1},
            ("ipv6_nd_sll", c.OFPXMT_OFB_ICMPV6_TYPE),
        ),
        ({"eth_type": 0x86DD, "ip_proto": 58, "icmpv6_type": 136, "ipv6_nd_target": 1}, None),
        ({"eth_type": 0x8848, "mpls_label": 5, "mpls_bos": 1}, None),
        ({"eth_type": 0x88E7, "pbb_isid": 5}, None),
        ({"eth_type": 0x0806, "arp_op": 1}, None),
    ],
)
def test_unmet_prerequisite(
    kw: dict[str, int | tuple[int, int]], unmet: tuple[str, int] | None
) -> None:
    result = Match.of(**kw).unmet_prerequisite()
    if unmet is None:
        assert result is None
    else:
        assert result is not None
        assert (result[0].name, result[1].field) == unmet


# --- properties -------------------------------------------------------------------


def _decode_error_type(data: bytes) -> int | None:
    """The OFPET type of the decode error ``data`` raises, None if it decodes."""
    try:
        Match.decode(Reader(data))
    except OFPDecodeError as e:
        return e.type
    return None


@given(matches())
def test_match_round_trip(m: Match) -> None:
    wire = m.encode()
    assert len(wire) % 8 == 0
    assert _decode_match(wire) == m
    assert _decode_match(wire).encode() == wire


@given(oxms())
def test_oxm_round_trip(o: OxmTLV | OxmExperimenter | OxmRaw) -> None:
    r = Reader(o.encode())
    assert decode_oxm(r) == o
    assert r.remaining() == 0


@given(st.binary(max_size=64))
def test_random_bytes_only_raise_decode_errors(data: bytes) -> None:
    assert _decode_error_type(data) in (None, c.OFPET_BAD_MATCH)


@given(matches(), st.data())
def test_mutated_matches_only_raise_decode_errors(m: Match, data: st.DataObject) -> None:
    wire = bytearray(m.encode())
    i = data.draw(st.integers(0, len(wire) - 1))
    wire[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    assert _decode_error_type(bytes(wire[:cut])) in (None, c.OFPET_BAD_MATCH)
