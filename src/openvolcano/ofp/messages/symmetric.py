"""Symmetric OpenFlow 1.3 messages: HELLO, ERROR, ECHO_REQUEST/REPLY, EXPERIMENTER.

Role: the messages either side of a connection may send (spec 1.3.5 §7.5).
HELLO carries the version-bitmap element used by the version negotiation of
:mod:`openvolcano.ofp.connection`; ERROR carries the type/code that
:class:`~openvolcano.ofp.errors.OFPDecodeError` computed for a bad request.
Part of the paper's ofp_lib, shared by quake and magma.

Design: frozen keyword-only dataclasses registered by ``msg_type``; lengths are
derived, never stored. Unknown hello element types are kept as raw
:class:`~openvolcano.ofp.structs.HelloElemUnknown` so a newer peer's HELLO
round-trips byte-exact.

Invariants: ``decode_message(m.encode()) == m``; a decoder raises only
``OFPDecodeError``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.base import Message, register
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError
from openvolcano.ofp.structs import HelloElem, HelloElemVersionBitmap, decode_hello_elements
from openvolcano.ofp.wire import Reader, check_uint

__all__ = ["EchoReply", "EchoRequest", "Error", "Experimenter", "Hello"]


# struct ofp_hello {
#     struct ofp_header header;
#     /* Hello element list */
#     struct ofp_hello_elem_header elements[0]; /* List of elements - 0 or more */
# };
# OFP_ASSERT(sizeof(struct ofp_hello) == 8);
@register
@dataclass(frozen=True, kw_only=True)
class Hello(Message):
    """OFPT_HELLO with its elements (usually one :class:`HelloElemVersionBitmap`)."""

    msg_type: ClassVar[int] = c.OFPT_HELLO
    elements: tuple[HelloElem, ...] = ()

    @classmethod
    def for_versions(cls, versions: tuple[int, ...] = (c.OFP_VERSION,), xid: int = 0) -> Self:
        """The HELLO advertising ``versions`` in a version-bitmap element."""
        return cls(xid=xid, elements=(HelloElemVersionBitmap.of_versions(versions),))

    def version_bitmap(self) -> frozenset[int] | None:
        """The versions of the first bitmap element, or ``None`` if there is none."""
        for e in self.elements:
            if isinstance(e, HelloElemVersionBitmap):
                return e.versions()
        return None

    def encode_body(self) -> bytes:
        return b"".join(e.encode() for e in self.elements)

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        return cls(xid=xid, elements=decode_hello_elements(r))


# struct ofp_error_msg {
#     struct ofp_header header;
#     uint16_t type;
#     uint16_t code;
#     uint8_t data[0];          /* Variable-length data.  Interpreted based
#                                  on the type and code.  No padding. */
# };
# OFP_ASSERT(sizeof(struct ofp_error_msg) == 12);
_ERROR = struct.Struct("!HH")
assert c.OFP_HEADER_LEN + _ERROR.size == c.OFP_ERROR_MSG_LEN == 12

# struct ofp_error_experimenter_msg {
#     struct ofp_header header;
#     uint16_t type;            /* OFPET_EXPERIMENTER. */
#     uint16_t exp_type;        /* Experimenter defined. */
#     uint32_t experimenter;    /* Experimenter ID which takes the same form
#                                  as in struct ofp_experimenter_header. */
#     uint8_t data[0];          /* Variable-length data.  Interpreted based
#                                  on the type and code.  No padding. */
# };
# OFP_ASSERT(sizeof(struct ofp_error_experimenter_msg) == 16);
_ERROR_EXP = struct.Struct("!HHI")
assert c.OFP_HEADER_LEN + _ERROR_EXP.size == c.OFP_ERROR_EXPERIMENTER_MSG_LEN == 16


@register
@dataclass(frozen=True, kw_only=True)
class Error(Message):
    """OFPT_ERROR, both forms.

    For ``type == OFPET_EXPERIMENTER`` the wire carries ``exp_type`` and
    ``experimenter`` in place of ``code`` (which must then be 0); for every
    other type ``exp_type`` and ``experimenter`` must be 0. ``data`` is usually
    the first 64 bytes (or more) of the failed request.
    """

    msg_type: ClassVar[int] = c.OFPT_ERROR
    type: int
    code: int = 0
    exp_type: int = 0
    experimenter: int = 0
    data: bytes = b""

    @classmethod
    def from_decode_error(cls, e: OFPDecodeError, xid: int = 0) -> Self:
        """The ERROR to send back for a request our decoder rejected."""
        return cls(xid=xid, type=e.type, code=e.code, data=e.data)

    def name(self) -> str:
        """``OFPET_X/OFPXXC_Y`` for logs."""
        if self.type == c.OFPET_EXPERIMENTER:
            return (
                f"OFPET_EXPERIMENTER(experimenter={self.experimenter:#x}, exp_type={self.exp_type})"
            )
        return c.error_name(self.type, self.code)

    def encode_body(self) -> bytes:
        check_uint("type", self.type, 16)
        if self.type == c.OFPET_EXPERIMENTER:
            if self.code:
                raise OFPEncodeError("an OFPET_EXPERIMENTER error has exp_type, not code")
            check_uint("exp_type", self.exp_type, 16)
            check_uint("experimenter", self.experimenter, 32)
            return _ERROR_EXP.pack(self.type, self.exp_type, self.experimenter) + self.data
        if self.exp_type or self.experimenter:
            raise OFPEncodeError("exp_type/experimenter are only for OFPET_EXPERIMENTER errors")
        check_uint("code", self.code, 16)
        return _ERROR.pack(self.type, self.code) + self.data

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        type_, code = r.unpack(_ERROR)
        if type_ == c.OFPET_EXPERIMENTER:
            experimenter = r.u32()
            return cls(xid=xid, type=type_, exp_type=code, experimenter=experimenter, data=r.rest())
        return cls(xid=xid, type=type_, code=code, data=r.rest())


@register
@dataclass(frozen=True, kw_only=True)
class EchoRequest(Message):
    """OFPT_ECHO_REQUEST: a bare header plus arbitrary ``data``."""

    msg_type: ClassVar[int] = c.OFPT_ECHO_REQUEST
    data: bytes = b""

    def encode_body(self) -> bytes:
        return self.data

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        return cls(xid=xid, data=r.rest())


@register
@dataclass(frozen=True, kw_only=True)
class EchoReply(Message):
    """OFPT_ECHO_REPLY: echoes the request's ``data`` (and xid)."""

    msg_type: ClassVar[int] = c.OFPT_ECHO_REPLY
    data: bytes = b""

    def encode_body(self) -> bytes:
        return self.data

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        return cls(xid=xid, data=r.rest())


# struct ofp_experimenter_header {
#     struct ofp_header header;   /* Type OFPT_EXPERIMENTER. */
#     uint32_t experimenter;      /* Experimenter ID:
#                                  * - MSB 0: low-order bytes are IEEE OUI.
#                                  * - MSB != 0: defined by ONF. */
#     uint32_t exp_type;          /* Experimenter defined. */
#     /* Experimenter-defined arbitrary additional data. */
# };
# OFP_ASSERT(sizeof(struct ofp_experimenter_header) == 16);
_EXPERIMENTER = struct.Struct("!II")
assert c.OFP_HEADER_LEN + _EXPERIMENTER.size == c.OFP_EXPERIMENTER_HEADER_LEN == 16


@register
@dataclass(frozen=True, kw_only=True)
class Experimenter(Message):
    """OFPT_EXPERIMENTER: ``experimenter`` id, ``exp_type`` and opaque ``data``."""

    msg_type: ClassVar[int] = c.OFPT_EXPERIMENTER
    experimenter: int
    exp_type: int = 0
    data: bytes = b""

    def encode_body(self) -> bytes:
        check_uint("experimenter", self.experimenter, 32)
        check_uint("exp_type", self.exp_type, 32)
        return _EXPERIMENTER.pack(self.experimenter, self.exp_type) + self.data

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        experimenter, exp_type = r.unpack(_EXPERIMENTER)
        return cls(xid=xid, experimenter=experimenter, exp_type=exp_type, data=r.rest())
