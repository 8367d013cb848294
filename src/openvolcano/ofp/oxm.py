"""OXM TLVs and ``struct ofp_match``: how a flow says which packets it wants.

Role: the match half of every FlowMod, FlowRemoved, PacketIn and flow-stats
entry exchanged between magma (controller) and quake (switch), and the
payload of the SET_FIELD action. The paper's quake classifier hashes the
decoded ints directly.

Design:

* :class:`OxmTLV` is one ``OFPXMC_OPENFLOW_BASIC`` field: ``field`` (an
  ``OFPXMT_OFB_*`` number), ``value`` and optional ``mask`` as ints. Width,
  maskability and prerequisites come from :data:`OXM_FIELDS`
  (:mod:`openvolcano.ofp.oxm_fields`).
* Other OXM classes are carried through untouched: :class:`OxmExperimenter`
  for ``OFPXMC_EXPERIMENTER`` (with its 32-bit experimenter id) and
  :class:`OxmRaw` for everything else (NXM_0/NXM_1 and unassigned classes).
  Whether a switch accepts them is a pipeline decision, not a codec one.
* :class:`Match` keeps its fields in wire order, so ``encode(decode(b)) == b``.

Decode errors (``OFPET_BAD_MATCH``): a match type other than OFPMT_OXM ->
``OFPBMC_BAD_TYPE``; inconsistent lengths or truncation -> ``OFPBMC_BAD_LEN``;
an unknown basic field -> ``OFPBMC_BAD_FIELD``; a mask on a non-maskable field
-> ``OFPBMC_BAD_MASK``; a value with bits beyond the field (e.g.
``vlan_pcp=8``) -> ``OFPBMC_BAD_VALUE``; the same field twice ->
``OFPBMC_DUP_FIELD``. Missing prerequisites (``OFPBMC_BAD_PREREQ``) and value
bits outside the mask (``OFPBMC_BAD_WILDCARDS``) are checked by the pipeline;
:meth:`Match.unmet_prerequisite` helps it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final, Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.errors import OFPEncodeError
from openvolcano.ofp.oxm_fields import (
    OXM_FIELDS,
    OXM_FIELDS_BY_NAME,
    OxmField,
    Prereq,
    field_by_name,
    format_ipv4,
    format_ipv6,
    format_mac,
    format_value,
    ipv4,
    ipv6,
    mac,
    parse_value,
)
from openvolcano.ofp.wire import Reader, check_uint, padding

__all__ = [
    "OXM_FIELDS",
    "OXM_FIELDS_BY_NAME",
    "Match",
    "Oxm",
    "OxmExperimenter",
    "OxmField",
    "OxmRaw",
    "OxmTLV",
    "Prereq",
    "decode_oxm",
    "decode_oxms",
    "field_by_name",
    "format_ipv4",
    "format_ipv6",
    "format_mac",
    "ipv4",
    "ipv6",
    "mac",
]

# The 32-bit OXM header: oxm_class:16 | oxm_field:7 | oxm_hasmask:1 | oxm_length:8
OXM_HEADER = struct.Struct("!I")
assert OXM_HEADER.size == c.OFP_OXM_HEADER_LEN

# struct ofp_match {
#     uint16_t type;             /* One of OFPMT_* */
#     uint16_t length;           /* Length of ofp_match (excluding padding) */
#     uint8_t oxm_fields[0];     /* 0 or more OXM match fields */
#     uint8_t pad[4];            /* Zero bytes - see above for sizing */
# };
MATCH_HEADER = struct.Struct("!HH")
assert MATCH_HEADER.size + 4 == c.OFP_MATCH_LEN

_MAX_OXM_PAYLOAD: Final = 0xFF


def _oxm_header(oxm_class: int, field: int, hasmask: bool, length: int) -> bytes:
    return OXM_HEADER.pack((oxm_class << 16) | (field << 9) | (int(hasmask) << 8) | length)


@dataclass(frozen=True, kw_only=True)
class OxmTLV:
    """One OpenFlow-basic OXM: ``field`` is an OFPXMT_OFB_* number; ``mask`` None = exact."""

    field: int
    value: int
    mask: int | None = None

    @property
    def info(self) -> OxmField:
        """The field's table entry (``KeyError`` for an unknown field number)."""
        return OXM_FIELDS[self.field]

    @property
    def name(self) -> str:
        f = OXM_FIELDS.get(self.field)
        return f.name if f is not None else f"ofb_{self.field}"

    def encode(self) -> bytes:
        f = OXM_FIELDS.get(self.field)
        if f is None:
            raise OFPEncodeError(f"unknown OXM basic field {self.field!r}")
        check_uint(f.name, self.value, f.bits)
        out = self.value.to_bytes(f.width, "big")
        if self.mask is not None:
            if not f.maskable:
                raise OFPEncodeError(f"OXM field {f.name} is not maskable")
            check_uint(f"{f.name} mask", self.mask, 8 * f.width)
            out += self.mask.to_bytes(f.width, "big")
        return _oxm_header(c.OFPXMC_OPENFLOW_BASIC, f.field, self.mask is not None, len(out)) + out

    def __str__(self) -> str:
        f = OXM_FIELDS.get(self.field)
        if f is None:
            return f"ofb_{self.field}={self.value:#x}"
        text = f"{f.name}={format_value(f, self.value)}"
        return text if self.mask is None else f"{text}/{format_value(f, self.mask)}"


@dataclass(frozen=True, kw_only=True)
class OxmExperimenter:
    """An ``OFPXMC_EXPERIMENTER`` OXM; ``payload`` is what follows the experimenter id."""

    oxm_class: int = c.OFPXMC_EXPERIMENTER
    field: int
    hasmask: bool
    experimenter: int
    payload: bytes = b""

    def encode(self) -> bytes:
        if self.oxm_class != c.OFPXMC_EXPERIMENTER:
            raise OFPEncodeError(f"OxmExperimenter needs oxm_class 0xffff, not {self.oxm_class:#x}")
        check_uint("oxm_field", self.field, 7)
        check_uint("experimenter", self.experimenter, 32)
        length = 4 + len(self.payload)
        if length > _MAX_OXM_PAYLOAD:
            raise OFPEncodeError(
                f"experimenter OXM payload of {len(self.payload)} bytes is too long"
            )
        return (
            _oxm_header(self.oxm_class, self.field, self.hasmask, length)
            + struct.pack("!I", self.experimenter)
            + self.payload
        )


@dataclass(frozen=True, kw_only=True)
class OxmRaw:
    """An OXM of another class (NXM_0, NXM_1, ...), carried through byte for byte."""

    oxm_class: int
    field: int
    hasmask: bool
    payload: bytes = b""

    def encode(self) -> bytes:
        check_uint("oxm_class", self.oxm_class, 16)
        if self.oxm_class in (c.OFPXMC_OPENFLOW_BASIC, c.OFPXMC_EXPERIMENTER):
            raise OFPEncodeError(f"use OxmTLV/OxmExperimenter for class {self.oxm_class:#x}")
        check_uint("oxm_field", self.field, 7)
        if len(self.payload) > _MAX_OXM_PAYLOAD:
            raise OFPEncodeError(f"OXM payload of {len(self.payload)} bytes is too long")
        return (
            _oxm_header(self.oxm_class, self.field, self.hasmask, len(self.payload)) + self.payload
        )


Oxm = OxmTLV | OxmExperimenter | OxmRaw


def _valid_basic_headers() -> dict[int, tuple[int, int, bool, int]]:
    """Every well-formed OpenFlow-basic OXM header -> (field, width, hasmask, max_value).

    A basic OXM's 32-bit header fixes class, field, mask bit and length, so one
    dictionary probe validates all four; anything not in here takes the slow
    path below, which names the exact error.
    """
    table: dict[int, tuple[int, int, bool, int]] = {}
    for f in OXM_FIELDS.values():
        for hasmask in (False, True) if f.maskable else (False,):
            length = f.width * (2 if hasmask else 1)
            header = (c.OFPXMC_OPENFLOW_BASIC << 16) | (f.field << 9) | (hasmask << 8) | length
            table[header] = (f.field, f.width, hasmask, f.max_value)
    return table


_VALID_BASIC: Final = _valid_basic_headers()


def decode_oxm(r: Reader, err_type: int = c.OFPET_BAD_MATCH) -> Oxm:
    """Decode one OXM TLV; errors use ``err_type`` with the OFPBMC_* codes.

    ``err_type`` lets SET_FIELD reuse this and translate the codes
    (see :mod:`openvolcano.ofp.actions`).
    """
    # Fast path (flow-mod ingest is hot in quake and magma): a well-formed
    # basic OXM is decoded straight from the buffer.
    pos = r.pos
    if pos + 4 <= r.end:
        spec = _VALID_BASIC.get(int.from_bytes(r.buf[pos : pos + 4], "big"))
        if spec is not None:
            field, width, hasmask, max_value = spec
            start = pos + 4
            stop = start + width
            if stop + (width if hasmask else 0) <= r.end:
                buf = r.buf
                value = int.from_bytes(buf[start:stop], "big")
                if value <= max_value:
                    if hasmask:
                        r.pos = stop + width
                        return OxmTLV(
                            field=field,
                            value=value,
                            mask=int.from_bytes(buf[stop : stop + width], "big"),
                        )
                    r.pos = stop
                    return OxmTLV(field=field, value=value)
    if r.remaining() < c.OFP_OXM_HEADER_LEN:
        raise r.fail("truncated OXM header", err_type, c.OFPBMC_BAD_LEN)
    (header,) = r.unpack(OXM_HEADER)
    oxm_class = header >> 16
    field = (header >> 9) & 0x7F
    hasmask = bool((header >> 8) & 1)
    length = header & 0xFF
    if length > r.remaining():
        raise r.fail(
            f"OXM length {length} runs past the end ({r.remaining()} bytes left)",
            err_type,
            c.OFPBMC_BAD_LEN,
        )
    body = r.sub(length, err_type=err_type, err_code=c.OFPBMC_BAD_LEN)
    if oxm_class == c.OFPXMC_OPENFLOW_BASIC:
        f = OXM_FIELDS.get(field)
        if f is None:
            raise r.fail(f"unknown OXM basic field {field}", err_type, c.OFPBMC_BAD_FIELD)
        if hasmask and not f.maskable:
            raise r.fail(f"OXM field {f.name} is not maskable", err_type, c.OFPBMC_BAD_MASK)
        if length != f.width * (2 if hasmask else 1):
            raise r.fail(
                f"OXM field {f.name} has length {length}, expected "
                f"{f.width * (2 if hasmask else 1)}",
                err_type,
                c.OFPBMC_BAD_LEN,
            )
        value = body.uint(f.width)
        if value > f.max_value:
            raise r.fail(
                f"OXM field {f.name} value {value:#x} exceeds {f.bits} bits",
                err_type,
                c.OFPBMC_BAD_VALUE,
            )
        mask = body.uint(f.width) if hasmask else None
        return OxmTLV(field=field, value=value, mask=mask)
    if oxm_class == c.OFPXMC_EXPERIMENTER:
        if length < 4:
            raise r.fail("experimenter OXM shorter than its id", err_type, c.OFPBMC_BAD_LEN)
        experimenter = body.u32()
        return OxmExperimenter(
            field=field, hasmask=hasmask, experimenter=experimenter, payload=body.rest()
        )
    return OxmRaw(oxm_class=oxm_class, field=field, hasmask=hasmask, payload=body.rest())


def _dup_key(oxm: Oxm) -> tuple[int, ...]:
    if isinstance(oxm, OxmTLV):
        return (c.OFPXMC_OPENFLOW_BASIC, oxm.field)
    if isinstance(oxm, OxmExperimenter):
        return (oxm.oxm_class, oxm.field, oxm.experimenter)
    return (oxm.oxm_class, oxm.field)


# Decoded basic TLVs by (field, value, mask): OxmTLV is frozen, so equal TLVs can be one
# object, and flow-mod bursts repeat most of their fields (eth_type, ip_proto, addresses).
# Bounded: emptied when full.
_TLVS: dict[tuple[int, int, int | None], OxmTLV] = {}
_TLVS_MAX = 8192


def _tlv(field: int, value: int, mask: int | None) -> OxmTLV:
    k = (field, value, mask)
    tlv = _TLVS.get(k)
    if tlv is None:
        if len(_TLVS) >= _TLVS_MAX:
            _TLVS.clear()
        tlv = _TLVS[k] = OxmTLV(field=field, value=value, mask=mask)
    return tlv


def decode_oxms(r: Reader) -> tuple[Oxm, ...]:
    """Decode OXM TLVs until ``r`` is exhausted, rejecting duplicates (OFPBMC_DUP_FIELD)."""
    out: list[Oxm] = []
    seen_basic: set[int] = set()  # basic fields by number (the fast path's dup check)
    seen: set[tuple[int, ...]] = set()  # other classes, by _dup_key
    buf, end, valid = r.buf, r.end, _VALID_BASIC
    pos = r.pos
    while pos < end:
        # Fast path, as in decode_oxm: a well-formed basic OXM straight from the buffer.
        spec = valid.get(int.from_bytes(buf[pos : pos + 4], "big")) if pos + 4 <= end else None
        if spec is not None:
            field, width, hasmask, max_value = spec
            start = pos + 4
            stop = start + width
            nxt = stop + width if hasmask else stop
            if nxt <= end:
                value = int.from_bytes(buf[start:stop], "big")
                if value <= max_value:
                    if field in seen_basic:
                        r.pos = nxt
                        raise r.fail(
                            "OXM field appears twice in the match",
                            c.OFPET_BAD_MATCH,
                            c.OFPBMC_DUP_FIELD,
                        )
                    seen_basic.add(field)
                    mask = int.from_bytes(buf[stop:nxt], "big") if hasmask else None
                    out.append(_tlv(field, value, mask))
                    pos = nxt
                    continue
        r.pos = pos
        oxm = decode_oxm(r)
        pos = r.pos
        if isinstance(oxm, OxmTLV):
            dup = oxm.field in seen_basic
            seen_basic.add(oxm.field)
        else:
            key = _dup_key(oxm)
            dup = key in seen
            seen.add(key)
        if dup:
            raise r.fail(
                "OXM field appears twice in the match", c.OFPET_BAD_MATCH, c.OFPBMC_DUP_FIELD
            )
        out.append(oxm)
    r.pos = pos
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class Match:
    """``struct ofp_match`` of type OFPMT_OXM: the OXM fields in wire order.

    An empty match matches every packet. Equality is order-sensitive (it
    compares wire forms); use :meth:`to_dict` for an order-free view.
    """

    fields: tuple[Oxm, ...] = ()

    @classmethod
    def of(cls, **kw: int | str | tuple[int | str, int | str]) -> Self:
        """Build from keyword fields, in the order given.

        ``Match.of(in_port=1, eth_type=0x800, ipv4_dst=("10.0.0.0", "255.0.0.0"),
        eth_dst="aa:bb:cc:dd:ee:ff")``. Values are ints or text (MAC, IPv4,
        IPv6 forms for address fields); a ``(value, mask)`` tuple makes a masked
        field. ``vlan_vid`` is the wire value: ``0x1000 | vid`` for a tagged packet.
        """
        tlvs: list[Oxm] = []
        for name, spec in kw.items():
            f = field_by_name(name)
            if isinstance(spec, tuple):
                value, mask = spec
                tlv = OxmTLV(field=f.field, value=parse_value(f, value), mask=parse_value(f, mask))
            else:
                tlv = OxmTLV(field=f.field, value=parse_value(f, spec))
            tlv.encode()  # validate now, not when the FlowMod is sent
            tlvs.append(tlv)
        return cls(fields=tuple(tlvs))

    def get(self, name: str) -> OxmTLV | None:
        """The basic-class TLV for field ``name`` ('ipv4_dst', ...), or None."""
        number = field_by_name(name).field
        for oxm in self.fields:
            if isinstance(oxm, OxmTLV) and oxm.field == number:
                return oxm
        return None

    def to_dict(self) -> dict[str, int | tuple[int, int]]:
        """``{name: value}`` or ``{name: (value, mask)}`` for the basic-class fields."""
        out: dict[str, int | tuple[int, int]] = {}
        for oxm in self.fields:
            if isinstance(oxm, OxmTLV):
                out[oxm.name] = oxm.value if oxm.mask is None else (oxm.value, oxm.mask)
        return out

    def unmet_prerequisite(self) -> tuple[OxmTLV, Prereq] | None:
        """The first field whose prerequisite the match does not pin, with that prerequisite.

        A prerequisite holds when the match has the prerequisite field, its
        mask covers the prerequisite's mask (exact match when none) and the
        masked value is one of the allowed values. None means all are met
        (the pipeline answers OFPBMC_BAD_PREREQ otherwise).
        """
        basic = {o.field: o for o in self.fields if isinstance(o, OxmTLV)}
        for tlv in basic.values():
            f = OXM_FIELDS.get(tlv.field)
            for pre in f.prereqs if f is not None else ():
                if not _prereq_met(basic.get(pre.field), pre):
                    return tlv, pre
        return None

    def encode(self) -> bytes:
        body = b"".join(oxm.encode() for oxm in self.fields)
        length = MATCH_HEADER.size + len(body)
        if length > 0xFFFF:
            raise OFPEncodeError(f"match of {length} bytes is too long")
        keys = [_dup_key(o) for o in self.fields]
        if len(set(keys)) != len(keys):
            raise OFPEncodeError("match has the same OXM field twice")
        return MATCH_HEADER.pack(c.OFPMT_OXM, length) + body + b"\0" * padding(length)

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Consume one padded ``ofp_match`` from ``r``."""
        if r.remaining() < MATCH_HEADER.size:
            raise r.fail("truncated ofp_match header", c.OFPET_BAD_MATCH, c.OFPBMC_BAD_LEN)
        type_, length = r.unpack(MATCH_HEADER)
        if type_ != c.OFPMT_OXM:
            raise r.fail(
                f"match type {type_} is not OFPMT_OXM", c.OFPET_BAD_MATCH, c.OFPBMC_BAD_TYPE
            )
        total = length + padding(length)
        if length < MATCH_HEADER.size or total - MATCH_HEADER.size > r.remaining():
            raise r.fail(
                f"ofp_match length {length} inconsistent with {r.remaining() + 4} bytes available",
                c.OFPET_BAD_MATCH,
                c.OFPBMC_BAD_LEN,
            )
        body = r.sub(
            length - MATCH_HEADER.size, err_type=c.OFPET_BAD_MATCH, err_code=c.OFPBMC_BAD_LEN
        )
        r.skip(padding(length))
        return cls(fields=decode_oxms(body))

    def __str__(self) -> str:
        return ",".join(str(o) for o in self.fields) or "any"


def _prereq_met(tlv: OxmTLV | None, pre: Prereq) -> bool:
    if tlv is None:
        return False
    if pre.values is None:
        return True
    f = OXM_FIELDS[tlv.field]
    need = pre.mask if pre.mask is not None else (1 << (8 * f.width)) - 1
    have = tlv.mask if tlv.mask is not None else (1 << (8 * f.width)) - 1
    if have & need != need:
        return False
    return (tlv.value & need) in pre.values
