"""OpenFlow 1.3 actions (``OFPAT_*``): what a flow, bucket or packet-out does to a packet.

Role: the action lists inside APPLY/WRITE_ACTIONS instructions, group
buckets and PacketOut, built by magma and executed by quake's action engine
(the paper's Caldera data plane).

Design: one frozen keyword-only dataclass per ``OFPAT_*`` type, named after
the C struct, with the C member names; each has ``encode()`` and the module
has :func:`decode_action` / :func:`decode_actions` / :func:`encode_actions`.
``action_type`` (a ClassVar) is the ``OFPAT_*`` value. Actions with no
argument share ``struct ofp_action_generic`` (type, len, 4 pad bytes).

Decode errors (``OFPET_BAD_ACTION``): a length that is short, not a multiple
of 8, past the end, or wrong for the type -> ``OFPBAC_BAD_LEN``; an unknown
type -> ``OFPBAC_BAD_TYPE``. Inside SET_FIELD the OXM errors are translated:
unknown field -> ``OFPBAC_BAD_SET_TYPE``, bad OXM or padding length ->
``OFPBAC_BAD_SET_LEN``, a mask (not allowed in 1.3) or an out-of-range value
-> ``OFPBAC_BAD_SET_ARGUMENT``. Checking ports, groups, queues and
consistency with the match is the switch's job, not the codec's.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar, Final, Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError
from openvolcano.ofp.oxm import Oxm, OxmTLV, decode_oxm
from openvolcano.ofp.wire import Reader, check_uint, padding

__all__ = [
    "Action",
    "ActionCopyTtlIn",
    "ActionCopyTtlOut",
    "ActionDecMplsTtl",
    "ActionDecNwTtl",
    "ActionExperimenter",
    "ActionGroup",
    "ActionOutput",
    "ActionPopMpls",
    "ActionPopPbb",
    "ActionPopVlan",
    "ActionPushMpls",
    "ActionPushPbb",
    "ActionPushVlan",
    "ActionSetField",
    "ActionSetMplsTtl",
    "ActionSetNwTtl",
    "ActionSetQueue",
    "decode_action",
    "decode_actions",
    "encode_actions",
]

# struct ofp_action_header { uint16_t type; uint16_t len; uint8_t pad[4]; };
# (also struct ofp_action_generic, used by the actions without arguments)
ACTION_HEADER = struct.Struct("!HH4x")
assert ACTION_HEADER.size == c.OFP_ACTION_HEADER_LEN

# struct ofp_action_output { uint16_t type; uint16_t len; uint32_t port;
#                            uint16_t max_len; uint8_t pad[6]; };
ACTION_OUTPUT = struct.Struct("!HHIH6x")
assert ACTION_OUTPUT.size == c.OFP_ACTION_OUTPUT_LEN

# struct ofp_action_mpls_ttl { uint16_t type; uint16_t len; uint8_t mpls_ttl; uint8_t pad[3]; };
# struct ofp_action_nw_ttl   { uint16_t type; uint16_t len; uint8_t nw_ttl;   uint8_t pad[3]; };
ACTION_TTL = struct.Struct("!HHB3x")
assert ACTION_TTL.size == c.OFP_ACTION_MPLS_TTL_LEN == c.OFP_ACTION_NW_TTL_LEN

# struct ofp_action_push     { uint16_t type; uint16_t len; uint16_t ethertype; uint8_t pad[2]; };
# struct ofp_action_pop_mpls { uint16_t type; uint16_t len; uint16_t ethertype; uint8_t pad[2]; };
ACTION_ETHERTYPE = struct.Struct("!HHH2x")
assert ACTION_ETHERTYPE.size == c.OFP_ACTION_PUSH_LEN == c.OFP_ACTION_POP_MPLS_LEN

# struct ofp_action_set_queue { uint16_t type; uint16_t len; uint32_t queue_id; };
# struct ofp_action_group     { uint16_t type; uint16_t len; uint32_t group_id; };
# struct ofp_action_experimenter_header { uint16_t type; uint16_t len; uint32_t experimenter; };
ACTION_U32 = struct.Struct("!HHI")
assert ACTION_U32.size == c.OFP_ACTION_SET_QUEUE_LEN == c.OFP_ACTION_GROUP_LEN
assert ACTION_U32.size == c.OFP_ACTION_EXPERIMENTER_HEADER_LEN

# struct ofp_action_set_field { uint16_t type; uint16_t len; uint8_t field[4]; };
# The OXM TLV follows type/len; the whole action is zero-padded to a multiple of 8.
ACTION_SET_FIELD_HEADER = struct.Struct("!HH")
assert ACTION_SET_FIELD_HEADER.size + 4 == c.OFP_ACTION_SET_FIELD_LEN

_MAX_LEN: Final = 0xFFFF


class _ActionBase:
    action_type: ClassVar[int]

    def encode(self) -> bytes:
        raise NotImplementedError(type(self).__name__)


# --- actions without arguments (struct ofp_action_generic) ----------------------


@dataclass(frozen=True, kw_only=True)
class _Generic(_ActionBase):
    def encode(self) -> bytes:
        return ACTION_HEADER.pack(self.action_type, ACTION_HEADER.size)

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        r.skip(4)
        return cls()


@dataclass(frozen=True, kw_only=True)
class ActionCopyTtlOut(_Generic):
    """OFPAT_COPY_TTL_OUT: copy TTL "outwards", from next-to-outermost to outermost header."""

    action_type: ClassVar[int] = c.OFPAT_COPY_TTL_OUT


@dataclass(frozen=True, kw_only=True)
class ActionCopyTtlIn(_Generic):
    """OFPAT_COPY_TTL_IN: copy TTL "inwards", from outermost to next-to-outermost header."""

    action_type: ClassVar[int] = c.OFPAT_COPY_TTL_IN


@dataclass(frozen=True, kw_only=True)
class ActionDecMplsTtl(_Generic):
    """OFPAT_DEC_MPLS_TTL."""

    action_type: ClassVar[int] = c.OFPAT_DEC_MPLS_TTL


@dataclass(frozen=True, kw_only=True)
class ActionPopVlan(_Generic):
    """OFPAT_POP_VLAN: pop the outer VLAN tag."""

    action_type: ClassVar[int] = c.OFPAT_POP_VLAN


@dataclass(frozen=True, kw_only=True)
class ActionDecNwTtl(_Generic):
    """OFPAT_DEC_NW_TTL: decrement the IPv4 TTL / IPv6 hop limit."""

    action_type: ClassVar[int] = c.OFPAT_DEC_NW_TTL


@dataclass(frozen=True, kw_only=True)
class ActionPopPbb(_Generic):
    """OFPAT_POP_PBB: pop the outer PBB service tag (I-TAG)."""

    action_type: ClassVar[int] = c.OFPAT_POP_PBB


# --- actions with a fixed-size argument -----------------------------------------


@dataclass(frozen=True, kw_only=True)
class ActionOutput(_ActionBase):
    """OFPAT_OUTPUT to ``port``; ``max_len`` bytes go to the controller (OFPCML_NO_BUFFER: all)."""

    action_type: ClassVar[int] = c.OFPAT_OUTPUT
    port: int
    max_len: int = c.OFPCML_NO_BUFFER

    def encode(self) -> bytes:
        check_uint("port", self.port, 32)
        check_uint("max_len", self.max_len, 16)
        return ACTION_OUTPUT.pack(self.action_type, ACTION_OUTPUT.size, self.port, self.max_len)

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        port, max_len = struct.unpack("!IH6x", r.bytes(12))
        return cls(port=port, max_len=max_len)


@dataclass(frozen=True, kw_only=True)
class ActionSetMplsTtl(_ActionBase):
    """OFPAT_SET_MPLS_TTL."""

    action_type: ClassVar[int] = c.OFPAT_SET_MPLS_TTL
    mpls_ttl: int

    def encode(self) -> bytes:
        check_uint("mpls_ttl", self.mpls_ttl, 8)
        return ACTION_TTL.pack(self.action_type, ACTION_TTL.size, self.mpls_ttl)

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        return cls(mpls_ttl=struct.unpack("!B3x", r.bytes(4))[0])


@dataclass(frozen=True, kw_only=True)
class ActionSetNwTtl(_ActionBase):
    """OFPAT_SET_NW_TTL: set the IPv4 TTL / IPv6 hop limit."""

    action_type: ClassVar[int] = c.OFPAT_SET_NW_TTL
    nw_ttl: int

    def encode(self) -> bytes:
        check_uint("nw_ttl", self.nw_ttl, 8)
        return ACTION_TTL.pack(self.action_type, ACTION_TTL.size, self.nw_ttl)

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        return cls(nw_ttl=struct.unpack("!B3x", r.bytes(4))[0])


@dataclass(frozen=True, kw_only=True)
class _Ethertype(_ActionBase):
    ethertype: int

    def encode(self) -> bytes:
        check_uint("ethertype", self.ethertype, 16)
        return ACTION_ETHERTYPE.pack(self.action_type, ACTION_ETHERTYPE.size, self.ethertype)

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        return cls(ethertype=struct.unpack("!H2x", r.bytes(4))[0])


@dataclass(frozen=True, kw_only=True)
class ActionPushVlan(_Ethertype):
    """OFPAT_PUSH_VLAN with TPID ``ethertype`` (0x8100 or 0x88a8)."""

    action_type: ClassVar[int] = c.OFPAT_PUSH_VLAN


@dataclass(frozen=True, kw_only=True)
class ActionPushMpls(_Ethertype):
    """OFPAT_PUSH_MPLS with ``ethertype`` 0x8847 or 0x8848."""

    action_type: ClassVar[int] = c.OFPAT_PUSH_MPLS


@dataclass(frozen=True, kw_only=True)
class ActionPopMpls(_Ethertype):
    """OFPAT_POP_MPLS; ``ethertype`` is the payload's after the pop."""

    action_type: ClassVar[int] = c.OFPAT_POP_MPLS


@dataclass(frozen=True, kw_only=True)
class ActionPushPbb(_Ethertype):
    """OFPAT_PUSH_PBB with ``ethertype`` 0x88e7."""

    action_type: ClassVar[int] = c.OFPAT_PUSH_PBB


@dataclass(frozen=True, kw_only=True)
class ActionSetQueue(_ActionBase):
    """OFPAT_SET_QUEUE: the queue of the output port to use."""

    action_type: ClassVar[int] = c.OFPAT_SET_QUEUE
    queue_id: int

    def encode(self) -> bytes:
        check_uint("queue_id", self.queue_id, 32)
        return ACTION_U32.pack(self.action_type, ACTION_U32.size, self.queue_id)

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        return cls(queue_id=r.u32())


@dataclass(frozen=True, kw_only=True)
class ActionGroup(_ActionBase):
    """OFPAT_GROUP: process the packet through group ``group_id``."""

    action_type: ClassVar[int] = c.OFPAT_GROUP
    group_id: int

    def encode(self) -> bytes:
        check_uint("group_id", self.group_id, 32)
        return ACTION_U32.pack(self.action_type, ACTION_U32.size, self.group_id)

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        return cls(group_id=r.u32())


# --- variable-length actions ----------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ActionSetField(_ActionBase):
    """OFPAT_SET_FIELD: rewrite one header field; ``field`` is an unmasked OXM.

    ``ActionSetField(field=OxmTLV(field=OFPXMT_OFB_IPV4_DST, value=ipv4("10.0.0.1")))``.
    """

    action_type: ClassVar[int] = c.OFPAT_SET_FIELD
    field: Oxm

    def encode(self) -> bytes:
        if isinstance(self.field, OxmTLV) and self.field.mask is not None:
            raise OFPEncodeError("OpenFlow 1.3 SET_FIELD does not take a mask")
        oxm = self.field.encode()
        length = ACTION_SET_FIELD_HEADER.size + len(oxm)
        length += padding(length)
        return (
            ACTION_SET_FIELD_HEADER.pack(self.action_type, length)
            + oxm
            + b"\0" * (length - 4 - len(oxm))
        )

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        length = r.remaining() + 4
        try:
            oxm = decode_oxm(r, c.OFPET_BAD_ACTION)
        except OFPDecodeError as e:
            code = _SET_FIELD_CODES.get(e.code, c.OFPBAC_BAD_SET_ARGUMENT)
            raise OFPDecodeError(
                c.OFPET_BAD_ACTION, code, f"SET_FIELD: {e.reason}", e.data
            ) from None
        oxm_len = length - r.remaining() - 4
        if r.remaining() != padding(4 + oxm_len):
            raise r.fail(
                f"SET_FIELD length {length} does not match its {oxm_len}-byte OXM",
                c.OFPET_BAD_ACTION,
                c.OFPBAC_BAD_SET_LEN,
            )
        r.skip(r.remaining())
        if isinstance(oxm, OxmTLV) and oxm.mask is not None:
            raise r.fail(
                "OpenFlow 1.3 SET_FIELD does not take a mask",
                c.OFPET_BAD_ACTION,
                c.OFPBAC_BAD_SET_ARGUMENT,
            )
        return cls(field=oxm)


_SET_FIELD_CODES: Final = {
    c.OFPBMC_BAD_FIELD: c.OFPBAC_BAD_SET_TYPE,
    c.OFPBMC_BAD_LEN: c.OFPBAC_BAD_SET_LEN,
    c.OFPBMC_BAD_MASK: c.OFPBAC_BAD_SET_ARGUMENT,
    c.OFPBMC_BAD_VALUE: c.OFPBAC_BAD_SET_ARGUMENT,
}


@dataclass(frozen=True, kw_only=True)
class ActionExperimenter(_ActionBase):
    """OFPAT_EXPERIMENTER: ``data`` follows the id; 8 + len(data) must be a multiple of 8."""

    action_type: ClassVar[int] = c.OFPAT_EXPERIMENTER
    experimenter: int
    data: bytes = b""

    def encode(self) -> bytes:
        check_uint("experimenter", self.experimenter, 32)
        length = ACTION_U32.size + len(self.data)
        if length % 8 or length > _MAX_LEN:
            raise OFPEncodeError(
                f"experimenter action data of {len(self.data)} bytes: the action must be a multiple of 8 bytes"
            )
        return ACTION_U32.pack(self.action_type, length, self.experimenter) + self.data

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        return cls(experimenter=r.u32(), data=r.rest())


Action = (
    ActionOutput
    | ActionCopyTtlOut
    | ActionCopyTtlIn
    | ActionSetMplsTtl
    | ActionDecMplsTtl
    | ActionPushVlan
    | ActionPopVlan
    | ActionPushMpls
    | ActionPopMpls
    | ActionSetQueue
    | ActionGroup
    | ActionSetNwTtl
    | ActionDecNwTtl
    | ActionSetField
    | ActionPushPbb
    | ActionPopPbb
    | ActionExperimenter
)

_FIXED: Final[dict[int, tuple[int, Callable[[Reader], Action]]]] = {
    c.OFPAT_OUTPUT: (ACTION_OUTPUT.size, ActionOutput._decode),
    c.OFPAT_COPY_TTL_OUT: (8, ActionCopyTtlOut._decode),
    c.OFPAT_COPY_TTL_IN: (8, ActionCopyTtlIn._decode),
    c.OFPAT_SET_MPLS_TTL: (8, ActionSetMplsTtl._decode),
    c.OFPAT_DEC_MPLS_TTL: (8, ActionDecMplsTtl._decode),
    c.OFPAT_PUSH_VLAN: (8, ActionPushVlan._decode),
    c.OFPAT_POP_VLAN: (8, ActionPopVlan._decode),
    c.OFPAT_PUSH_MPLS: (8, ActionPushMpls._decode),
    c.OFPAT_POP_MPLS: (8, ActionPopMpls._decode),
    c.OFPAT_SET_QUEUE: (8, ActionSetQueue._decode),
    c.OFPAT_GROUP: (8, ActionGroup._decode),
    c.OFPAT_SET_NW_TTL: (8, ActionSetNwTtl._decode),
    c.OFPAT_DEC_NW_TTL: (8, ActionDecNwTtl._decode),
    c.OFPAT_PUSH_PBB: (8, ActionPushPbb._decode),
    c.OFPAT_POP_PBB: (8, ActionPopPbb._decode),
}
# Variable-length actions: any multiple of 8 from 8 bytes up; the decoder checks the rest.
_VARIABLE: Final[dict[int, Callable[[Reader], Action]]] = {
    c.OFPAT_SET_FIELD: ActionSetField._decode,
    c.OFPAT_EXPERIMENTER: ActionExperimenter._decode,
}


def decode_action(r: Reader) -> Action:
    """Consume one action from ``r``."""
    if r.remaining() < 4:
        raise r.fail("truncated action header", c.OFPET_BAD_ACTION, c.OFPBAC_BAD_LEN)
    type_, length = r.unpack(ACTION_SET_FIELD_HEADER)
    if length < c.OFP_ACTION_HEADER_LEN or length % 8 or length - 4 > r.remaining():
        raise r.fail(
            f"action type {type_} has bad length {length} ({r.remaining() + 4} bytes left)",
            c.OFPET_BAD_ACTION,
            c.OFPBAC_BAD_LEN,
        )
    body = r.sub(length - 4, err_type=c.OFPET_BAD_ACTION, err_code=c.OFPBAC_BAD_LEN)
    fixed = _FIXED.get(type_)
    if fixed is not None:
        size, decode = fixed
        if length != size:
            raise r.fail(
                f"{c.name_of('OFPAT_', type_)} has length {length}, expected {size}",
                c.OFPET_BAD_ACTION,
                c.OFPBAC_BAD_LEN,
            )
        return decode(body)
    variable = _VARIABLE.get(type_)
    if variable is None:
        raise r.fail(f"unknown action type {type_}", c.OFPET_BAD_ACTION, c.OFPBAC_BAD_TYPE)
    return variable(body)


def decode_actions(r: Reader) -> tuple[Action, ...]:
    """Decode actions until ``r`` is exhausted (bound it with ``r.sub`` first)."""
    out: list[Action] = []
    while r.remaining():
        out.append(decode_action(r))
    return tuple(out)


def encode_actions(actions: Iterable[Action]) -> bytes:
    return b"".join(a.encode() for a in actions)
