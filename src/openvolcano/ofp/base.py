"""The OpenFlow message base class, the header, and the type registry.

Every message is a frozen, keyword-only dataclass deriving from
:class:`Message`, named after its ``OFPT_*`` type, with fields named as in
``openflow.h``. A message knows how to encode its body and decode its body;
:meth:`Message.encode` adds the header and :func:`decode_message` reads the
header, finds the class for ``type`` in the registry and checks that the body
decoder consumed exactly ``length`` bytes.

Design rules (the same for every module of :mod:`openvolcano.ofp`):

* sans-IO: bytes in, typed values out; no sockets, clocks or logging;
* decoding raises only :class:`~openvolcano.ofp.errors.OFPDecodeError`,
  carrying the OFPT_ERROR type/code to send back;
* encoding validates ranges and raises
  :class:`~openvolcano.ofp.errors.OFPEncodeError` for a message we built wrong;
* ``decode(encode(m)) == m`` for every valid message, and
  ``encode(decode(b)) == b`` for every valid wire message (golden tests).
"""

from __future__ import annotations

import dataclasses
import struct
from dataclasses import dataclass
from typing import ClassVar, Self, TypeVar

from openvolcano.ofp import consts as c
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError
from openvolcano.ofp.wire import Reader, check_uint

__all__ = [
    "OFP_HEADER",
    "Message",
    "decode_header",
    "decode_message",
    "register",
    "registered_types",
]

# struct ofp_header {
#     uint8_t version;    /* OFP_VERSION. */
#     uint8_t type;       /* One of the OFPT_ constants. */
#     uint16_t length;    /* Length including this ofp_header. */
#     uint32_t xid;       /* Transaction id associated with this packet. */
# };
OFP_HEADER = struct.Struct("!BBHI")
assert OFP_HEADER.size == c.OFP_HEADER_LEN == 8

OFP_MAX_MESSAGE_LEN = 0xFFFF


@dataclass(frozen=True, kw_only=True)
class Message:
    """Base of every OpenFlow 1.3 message. ``xid`` is the transaction id."""

    msg_type: ClassVar[int]
    xid: int = 0

    def encode_body(self) -> bytes:
        """The bytes after the 8-byte header."""
        raise NotImplementedError(type(self).__name__)

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        """Decode the body from ``r`` (bounded to the message); must consume all of it."""
        raise NotImplementedError(cls.__name__)

    def encode(self, version: int = c.OFP_VERSION) -> bytes:
        check_uint("xid", self.xid, 32)
        body = self.encode_body()
        length = c.OFP_HEADER_LEN + len(body)
        if length > OFP_MAX_MESSAGE_LEN:
            raise OFPEncodeError(
                f"{type(self).__name__} is {length} bytes, over the 65535-byte OpenFlow limit"
            )
        return OFP_HEADER.pack(version, self.msg_type, length, self.xid) + body

    def with_xid(self, xid: int) -> Self:
        return dataclasses.replace(self, xid=xid)


_M = TypeVar("_M", bound=type[Message])
_REGISTRY: dict[int, type[Message]] = {}


def register(cls: _M) -> _M:
    """Class decorator: make ``cls`` the decoder of its ``msg_type``."""
    if cls.msg_type in _REGISTRY:
        raise RuntimeError(f"OFPT type {cls.msg_type} registered twice")
    _REGISTRY[cls.msg_type] = cls
    return cls


def registered_types() -> dict[int, type[Message]]:
    return dict(_REGISTRY)


def decode_header(data: bytes | memoryview) -> tuple[int, int, int, int]:
    """(version, type, length, xid) of the message at the start of ``data``."""
    if len(data) < c.OFP_HEADER_LEN:
        raise OFPDecodeError(
            c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN, "shorter than an ofp_header", bytes(data)
        )
    version, type_, length, xid = OFP_HEADER.unpack_from(data, 0)
    return int(version), int(type_), int(length), int(xid)


def decode_message(data: bytes | memoryview) -> Message:
    """Decode exactly one complete message (framing is the caller's job).

    HELLO and ERROR are accepted with any version (needed for negotiation);
    every other type must carry version 0x04.
    """
    version, type_, length, xid = decode_header(data)
    raw = bytes(data[: min(len(data), 64)])
    if length != len(data) or length < c.OFP_HEADER_LEN:
        raise OFPDecodeError(
            c.OFPET_BAD_REQUEST,
            c.OFPBRC_BAD_LEN,
            f"header length {length} but {len(data)} bytes given",
            raw,
        )
    if version != c.OFP_VERSION and type_ not in (c.OFPT_HELLO, c.OFPT_ERROR):
        raise OFPDecodeError(
            c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_VERSION, f"version {version:#x} is not 0x04", raw
        )
    cls = _REGISTRY.get(type_)
    if cls is None:
        raise OFPDecodeError(c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_TYPE, f"unknown type {type_}", raw)
    r = Reader(data, c.OFP_HEADER_LEN, length)
    try:
        msg = cls.decode_body(r, xid)
    except OFPDecodeError as e:
        # Report the whole failed request, not the inner structure.
        e.data = raw
        raise
    if r.remaining():
        raise OFPDecodeError(
            c.OFPET_BAD_REQUEST,
            c.OFPBRC_BAD_LEN,
            f"{cls.__name__}: {r.remaining()} unexpected trailing bytes",
            raw,
        )
    return msg
