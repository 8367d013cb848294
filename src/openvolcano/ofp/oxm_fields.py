"""The OXM (OpenFlow eXtensible Match) field table and address text helpers.

Role: the single description of the 40 ``OFPXMC_OPENFLOW_BASIC`` match fields
of OpenFlow 1.3.5 (spec tables 11 and 12) that the codec
(:mod:`openvolcano.ofp.oxm`), quake's classifier (the paper's Caldera data
plane) and magma's flow builders all consult: name, field number, wire width,
meaningful bits, maskability, and prerequisites.

Design: the table is plain data. A prerequisite is a :class:`Prereq` - "the
match must pin ``field`` (under ``mask``) to one of ``values``" - and only the
*direct* prerequisites are listed: ``tcp_src`` needs ``ip_proto=6``, and
``ip_proto`` in turn needs ``eth_type`` IPv4 or IPv6, so checking every field
of a match against its direct prerequisites checks the transitive closure.
``vlan_pcp`` needs "VLAN_VID != NONE", written as ``vlan_vid`` pinned to
``OFPVID_PRESENT`` under the mask ``OFPVID_PRESENT``.

Values are ints (MACs 48-bit, IPv4 32-bit, IPv6 128-bit); :func:`mac`,
:func:`ipv4`, :func:`ipv6` parse text, ``format_*`` print it. ``vlan_vid``
values are as on the wire: the 12-bit VID *with* the ``OFPVID_PRESENT`` bit
(0x1000) for tagged packets, ``OFPVID_NONE`` (0) for untagged ones.

Invariant: ``OXM_FIELDS[f].field == f`` for every ``OFPXMT_OFB_*`` value
0..39, and no value has more than ``bits`` significant bits.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final, Literal

from openvolcano.ofp import consts as c

__all__ = [
    "OXM_FIELDS",
    "OXM_FIELDS_BY_NAME",
    "OxmField",
    "Prereq",
    "field_by_name",
    "format_ipv4",
    "format_ipv6",
    "format_mac",
    "format_value",
    "ipv4",
    "ipv6",
    "mac",
    "parse_value",
]

Kind = Literal["int", "mac", "ipv4", "ipv6"]

ETH_TYPE_IPV4: Final = 0x0800
ETH_TYPE_ARP: Final = 0x0806
ETH_TYPE_IPV6: Final = 0x86DD
ETH_TYPE_MPLS: Final = 0x8847
ETH_TYPE_MPLS_MCAST: Final = 0x8848
ETH_TYPE_PBB: Final = 0x88E7


@dataclass(frozen=True, kw_only=True)
class Prereq:
    """The match must fix ``field & mask`` to one of ``values`` (``values=None``: just be present)."""

    field: int
    values: tuple[int, ...] | None = None
    mask: int | None = None


@dataclass(frozen=True, kw_only=True)
class OxmField:
    """One OFPXMT_OFB_* field: ``width`` bytes on the wire, ``bits`` of them meaningful."""

    name: str
    field: int
    width: int
    bits: int
    maskable: bool
    prereqs: tuple[Prereq, ...] = ()
    kind: Kind = "int"

    @property
    def max_value(self) -> int:
        return (1 << self.bits) - 1


def _eth(*types: int) -> tuple[Prereq, ...]:
    return (Prereq(field=c.OFPXMT_OFB_ETH_TYPE, values=types),)


def _proto(proto: int) -> tuple[Prereq, ...]:
    return (Prereq(field=c.OFPXMT_OFB_IP_PROTO, values=(proto,)),)


_IP = _eth(ETH_TYPE_IPV4, ETH_TYPE_IPV6)
_V4 = _eth(ETH_TYPE_IPV4)
_V6 = _eth(ETH_TYPE_IPV6)
_ARP = _eth(ETH_TYPE_ARP)
_MPLS = _eth(ETH_TYPE_MPLS, ETH_TYPE_MPLS_MCAST)


def _icmpv6(*types: int) -> tuple[Prereq, ...]:
    return (Prereq(field=c.OFPXMT_OFB_ICMPV6_TYPE, values=types),)


def _f(
    name: str,
    field: int,
    width: int,
    bits: int,
    maskable: bool,
    prereqs: tuple[Prereq, ...] = (),
    kind: Kind = "int",
) -> OxmField:
    return OxmField(
        name=name,
        field=field,
        width=width,
        bits=bits,
        maskable=maskable,
        prereqs=prereqs,
        kind=kind,
    )


# OpenFlow 1.3.5 tables 11 (widths, masks) and 12 (prerequisites).
_TABLE: Final = (
    _f("in_port", c.OFPXMT_OFB_IN_PORT, 4, 32, False),
    _f("in_phy_port", c.OFPXMT_OFB_IN_PHY_PORT, 4, 32, False, (Prereq(field=c.OFPXMT_OFB_IN_PORT),)),
    _f("metadata", c.OFPXMT_OFB_METADATA, 8, 64, True),
    _f("eth_dst", c.OFPXMT_OFB_ETH_DST, 6, 48, True, kind="mac"),
    _f("eth_src", c.OFPXMT_OFB_ETH_SRC, 6, 48, True, kind="mac"),
    _f("eth_type", c.OFPXMT_OFB_ETH_TYPE, 2, 16, False),
    _f("vlan_vid", c.OFPXMT_OFB_VLAN_VID, 2, 13, True),
    _f("vlan_pcp", c.OFPXMT_OFB_VLAN_PCP, 1, 3, False,
       (Prereq(field=c.OFPXMT_OFB_VLAN_VID, values=(c.OFPVID_PRESENT,), mask=c.OFPVID_PRESENT),)),
    _f("ip_dscp", c.OFPXMT_OFB_IP_DSCP, 1, 6, False, _IP),
    _f("ip_ecn", c.OFPXMT_OFB_IP_ECN, 1, 2, False, _IP),
    _f("ip_proto", c.OFPXMT_OFB_IP_PROTO, 1, 8, False, _IP),
    _f("ipv4_src", c.OFPXMT_OFB_IPV4_SRC, 4, 32, True, _V4, "ipv4"),
    _f("ipv4_dst", c.OFPXMT_OFB_IPV4_DST, 4, 32, True, _V4, "ipv4"),
    _f("tcp_src", c.OFPXMT_OFB_TCP_SRC, 2, 16, False, _proto(6)),
    _f("tcp_dst", c.OFPXMT_OFB_TCP_DST, 2, 16, False, _proto(6)),
    _f("udp_src", c.OFPXMT_OFB_UDP_SRC, 2, 16, False, _proto(17)),
    _f("udp_dst", c.OFPXMT_OFB_UDP_DST, 2, 16, False, _proto(17)),
    _f("sctp_src", c.OFPXMT_OFB_SCTP_SRC, 2, 16, False, _proto(132)),
    _f("sctp_dst", c.OFPXMT_OFB_SCTP_DST, 2, 16, False, _proto(132)),
    _f("icmpv4_type", c.OFPXMT_OFB_ICMPV4_TYPE, 1, 8, False, _proto(1)),
    _f("icmpv4_code", c.OFPXMT_OFB_ICMPV4_CODE, 1, 8, False, _proto(1)),
    _f("arp_op", c.OFPXMT_OFB_ARP_OP, 2, 16, False, _ARP),
    _f("arp_spa", c.OFPXMT_OFB_ARP_SPA, 4, 32, True, _ARP, "ipv4"),
    _f("arp_tpa", c.OFPXMT_OFB_ARP_TPA, 4, 32, True, _ARP, "ipv4"),
    _f("arp_sha", c.OFPXMT_OFB_ARP_SHA, 6, 48, True, _ARP, "mac"),
    _f("arp_tha", c.OFPXMT_OFB_ARP_THA, 6, 48, True, _ARP, "mac"),
    _f("ipv6_src", c.OFPXMT_OFB_IPV6_SRC, 16, 128, True, _V6, "ipv6"),
    _f("ipv6_dst", c.OFPXMT_OFB_IPV6_DST, 16, 128, True, _V6, "ipv6"),
    _f("ipv6_flabel", c.OFPXMT_OFB_IPV6_FLABEL, 4, 20, True, _V6),
    _f("icmpv6_type", c.OFPXMT_OFB_ICMPV6_TYPE, 1, 8, False, _proto(58)),
    _f("icmpv6_code", c.OFPXMT_OFB_ICMPV6_CODE, 1, 8, False, _proto(58)),
    _f("ipv6_nd_target", c.OFPXMT_OFB_IPV6_ND_TARGET, 16, 128, False, _icmpv6(135, 136), "ipv6"),
    _f("ipv6_nd_sll", c.OFPXMT_OFB_IPV6_ND_SLL, 6, 48, False, _icmpv6(135), "mac"),
    _f("ipv6_nd_tll", c.OFPXMT_OFB_IPV6_ND_TLL, 6, 48, False, _icmpv6(136), "mac"),
    _f("mpls_label", c.OFPXMT_OFB_MPLS_LABEL, 4, 20, False, _MPLS),
    _f("mpls_tc", c.OFPXMT_OFB_MPLS_TC, 1, 3, False, _MPLS),
    _f("mpls_bos", c.OFPXMT_OFB_MPLS_BOS, 1, 1, False, _MPLS),
    _f("pbb_isid", c.OFPXMT_OFB_PBB_ISID, 3, 24, True, _eth(ETH_TYPE_PBB)),
    _f("tunnel_id", c.OFPXMT_OFB_TUNNEL_ID, 8, 64, True),
    _f("ipv6_exthdr", c.OFPXMT_OFB_IPV6_EXTHDR, 2, 9, True, _V6),
)  # fmt: skip

#: field number -> description, for every OFPXMT_OFB_* field.
OXM_FIELDS: Final[dict[int, OxmField]] = {f.field: f for f in _TABLE}
#: lowercase name ('in_port', 'ipv4_dst', ...) -> description.
OXM_FIELDS_BY_NAME: Final[dict[str, OxmField]] = {f.name: f for f in _TABLE}

assert sorted(OXM_FIELDS) == list(range(40))


def field_by_name(name: str) -> OxmField:
    """The description of match field ``name``; ``KeyError`` lists the valid names."""
    try:
        return OXM_FIELDS_BY_NAME[name]
    except KeyError:
        raise KeyError(
            f"unknown OXM field {name!r}; known: {', '.join(OXM_FIELDS_BY_NAME)}"
        ) from None


# --- text forms ----------------------------------------------------------------


def mac(text: str) -> int:
    """``'aa:bb:cc:dd:ee:ff'`` (or ``-`` separated) -> 48-bit int; ``ValueError`` if malformed."""
    parts = text.replace("-", ":").split(":")
    if len(parts) != 6 or not all(1 <= len(p) <= 2 for p in parts):
        raise ValueError(f"not a MAC address: {text!r}")
    try:
        return int.from_bytes(bytes(int(p, 16) for p in parts), "big")
    except ValueError:
        raise ValueError(f"not a MAC address: {text!r}") from None


def format_mac(value: int) -> str:
    return ":".join(f"{b:02x}" for b in value.to_bytes(6, "big"))


def ipv4(text: str) -> int:
    """``'10.0.0.1'`` -> 32-bit int; ``ValueError`` if malformed."""
    try:
        return int(ipaddress.IPv4Address(text))
    except ValueError as e:
        raise ValueError(f"not an IPv4 address: {text!r} ({e})") from None


def format_ipv4(value: int) -> str:
    return str(ipaddress.IPv4Address(value))


def ipv6(text: str) -> int:
    """``'fe80::1'`` -> 128-bit int; ``ValueError`` if malformed."""
    try:
        return int(ipaddress.IPv6Address(text))
    except ValueError as e:
        raise ValueError(f"not an IPv6 address: {text!r} ({e})") from None


def format_ipv6(value: int) -> str:
    return str(ipaddress.IPv6Address(value))


_PARSE = {"mac": mac, "ipv4": ipv4, "ipv6": ipv6}
_FORMAT = {"mac": format_mac, "ipv4": format_ipv4, "ipv6": format_ipv6}


def parse_value(f: OxmField, value: int | str) -> int:
    """An int as is; a text form parsed according to the field's kind (MAC, IPv4, IPv6)."""
    if isinstance(value, bool):
        raise TypeError(f"{f.name}: expected an int or a string, got a bool")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        parse = _PARSE.get(f.kind)
        if parse is None:
            return int(value, 0)
        return parse(value)
    raise TypeError(f"{f.name}: expected an int or a string, got {type(value).__name__}")


def format_value(f: OxmField, value: int) -> str:
    """Display form: addresses as text, other values in decimal (vlan_vid and flags in hex)."""
    fmt = _FORMAT.get(f.kind)
    if fmt is not None and 0 <= value <= (1 << (8 * f.width)) - 1:
        return fmt(value)
    if f.field in (c.OFPXMT_OFB_VLAN_VID, c.OFPXMT_OFB_ETH_TYPE, c.OFPXMT_OFB_IPV6_EXTHDR):
        return f"{value:#x}"
    if f.field in (c.OFPXMT_OFB_METADATA, c.OFPXMT_OFB_TUNNEL_ID):
        return f"{value:#x}"
    return str(value)
