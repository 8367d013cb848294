"""OFPT_MULTIPART_REQUEST / OFPT_MULTIPART_REPLY: the two registered messages and their dispatch.

Role: every statistics and description exchange between magma (the controller)
and quake (the switch) - the paper's "monitoring" path that geyser and crater
read counters from - travels in these two messages. OpenFlow 1.3 multiplexes
fourteen kinds of body (``OFPMP_*``) behind one header::

    ofp_header | type (OFPMP_*) | flags (OFPMPF_*_MORE) | pad[4] | body

Design: :class:`MultipartRequest` and :class:`MultipartReply` are the classes
registered with :func:`openvolcano.ofp.base.register`; they read the 8-byte
multipart header and dispatch on ``type`` to the subclass registered for it
with :func:`register_request` / :func:`register_reply`. A subclass only
implements :meth:`encode_mp_body` and :meth:`decode_mp_body` for what follows
the header. Every request and reply carries ``flags``.

Invariants: an unknown ``OFPMP_*`` type decodes to
``OFPET_BAD_REQUEST/OFPBRC_BAD_MULTIPART``; a short body to
``OFPET_BAD_REQUEST/OFPBRC_BAD_LEN``; list bodies are decoded by
:func:`decode_entries`, which consumes the whole body.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self, TypeVar

from openvolcano.ofp import consts as c
from openvolcano.ofp.base import Message, register
from openvolcano.ofp.wire import Reader, check_uint

__all__ = [
    "MP_HEADER",
    "EmptyMultipartRequest",
    "EntryListReply",
    "EntryListRequest",
    "MultipartReply",
    "MultipartRequest",
    "decode_entries",
    "encode_entries",
    "register_reply",
    "register_request",
    "reply_types",
    "request_types",
]

# struct ofp_multipart_request {            struct ofp_multipart_reply {
#     struct ofp_header header;                 struct ofp_header header;
#     uint16_t type;   /* OFPMP_* */            uint16_t type;
#     uint16_t flags;  /* OFPMPF_REQ_* */       uint16_t flags;  /* OFPMPF_REPLY_* */
#     uint8_t pad[4];                           uint8_t pad[4];
#     uint8_t body[0];                          uint8_t body[0];
# };                                        };
# (the part after ofp_header; the same layout for both directions)
MP_HEADER = struct.Struct("!HH4x")
assert c.OFP_HEADER_LEN + MP_HEADER.size == c.OFP_MULTIPART_REQUEST_LEN == 16
assert c.OFP_HEADER_LEN + MP_HEADER.size == c.OFP_MULTIPART_REPLY_LEN == 16


class _Encodable(Protocol):
    def encode(self) -> bytes: ...


_E = TypeVar("_E")


def encode_entries(entries: Iterable[_Encodable]) -> bytes:
    """Concatenate the encodings of a list body."""
    return b"".join(e.encode() for e in entries)


def decode_entries(r: Reader, decode: Callable[[Reader], _E]) -> tuple[_E, ...]:
    """Decode entries with ``decode`` until ``r`` is exhausted."""
    out: list[_E] = []
    while r.remaining():
        out.append(decode(r))
    return tuple(out)


@dataclass(frozen=True, kw_only=True)
class MultipartRequest(Message):
    """Base of every OFPT_MULTIPART_REQUEST; ``flags`` is 0 or ``OFPMPF_REQ_MORE``."""

    msg_type: ClassVar[int] = c.OFPT_MULTIPART_REQUEST
    mp_type: ClassVar[int]
    more_flag: ClassVar[int] = c.OFPMPF_REQ_MORE
    flags: int = 0

    def encode_mp_body(self) -> bytes:
        """The bytes after the 16-byte multipart header."""
        raise NotImplementedError(type(self).__name__)

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        """Decode the body after the multipart header; must consume all of ``r``."""
        raise NotImplementedError(cls.__name__)

    def encode_body(self) -> bytes:
        check_uint("flags", self.flags, 16)
        return MP_HEADER.pack(self.mp_type, self.flags) + self.encode_mp_body()

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        mp_type, flags = r.unpack(MP_HEADER)
        sub = _REQUESTS.get(mp_type)
        if sub is None or not issubclass(sub, cls):
            raise r.fail(
                f"unknown multipart request type {mp_type}",
                c.OFPET_BAD_REQUEST,
                c.OFPBRC_BAD_MULTIPART,
            )
        return sub.decode_mp_body(r, xid=xid, flags=flags)


@dataclass(frozen=True, kw_only=True)
class EmptyMultipartRequest(MultipartRequest):
    """A multipart request whose body is empty (DESC, TABLE, PORT_DESC, GROUP_DESC, ...)."""

    def encode_mp_body(self) -> bytes:
        return b""

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        if r.remaining():
            raise r.fail(f"{cls.__name__} has no body but {r.remaining()} bytes follow")
        return cls(xid=xid, flags=flags)


class _Entry(Protocol):
    """A list-body entry: ``decode(r)`` consumes exactly one entry."""

    @classmethod
    def decode(cls, r: Reader) -> Any: ...

    def encode(self) -> bytes: ...


@dataclass(frozen=True, kw_only=True)
class EntryListRequest(MultipartRequest):
    """A multipart request whose body is a list of ``entry`` structures."""

    entry: ClassVar[type[_Entry]]
    body: tuple[Any, ...] = ()

    def encode_mp_body(self) -> bytes:
        return encode_entries(self.body)

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        return cls(xid=xid, flags=flags, body=decode_entries(r, cls.entry.decode))


@dataclass(frozen=True, kw_only=True)
class MultipartReply(Message):
    """Base of every OFPT_MULTIPART_REPLY; ``flags`` is 0 or ``OFPMPF_REPLY_MORE``."""

    msg_type: ClassVar[int] = c.OFPT_MULTIPART_REPLY
    mp_type: ClassVar[int]
    more_flag: ClassVar[int] = c.OFPMPF_REPLY_MORE
    flags: int = 0

    def encode_mp_body(self) -> bytes:
        """The bytes after the 16-byte multipart header."""
        raise NotImplementedError(type(self).__name__)

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        """Decode the body after the multipart header; must consume all of ``r``."""
        raise NotImplementedError(cls.__name__)

    def encode_body(self) -> bytes:
        check_uint("flags", self.flags, 16)
        return MP_HEADER.pack(self.mp_type, self.flags) + self.encode_mp_body()

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        mp_type, flags = r.unpack(MP_HEADER)
        sub = _REPLIES.get(mp_type)
        if sub is None or not issubclass(sub, cls):
            raise r.fail(
                f"unknown multipart reply type {mp_type}",
                c.OFPET_BAD_REQUEST,
                c.OFPBRC_BAD_MULTIPART,
            )
        return sub.decode_mp_body(r, xid=xid, flags=flags)


register(MultipartRequest)
register(MultipartReply)

_REQUESTS: dict[int, type[MultipartRequest]] = {}
_REPLIES: dict[int, type[MultipartReply]] = {}

_Q = TypeVar("_Q", bound=type[MultipartRequest])
_P = TypeVar("_P", bound=type[MultipartReply])


@dataclass(frozen=True, kw_only=True)
class EntryListReply(MultipartReply):
    """A multipart reply whose body is a list of ``entry`` structures (one per flow, port...)."""

    entry: ClassVar[type[_Entry]]
    body: tuple[Any, ...] = ()

    def encode_mp_body(self) -> bytes:
        return encode_entries(self.body)

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        return cls(xid=xid, flags=flags, body=decode_entries(r, cls.entry.decode))


def register_request(cls: _Q) -> _Q:
    """Class decorator: make ``cls`` the decoder of requests of its ``mp_type``."""
    if cls.mp_type in _REQUESTS:
        raise RuntimeError(f"OFPMP request type {cls.mp_type} registered twice")
    _REQUESTS[cls.mp_type] = cls
    return cls


def register_reply(cls: _P) -> _P:
    """Class decorator: make ``cls`` the decoder of replies of its ``mp_type``."""
    if cls.mp_type in _REPLIES:
        raise RuntimeError(f"OFPMP reply type {cls.mp_type} registered twice")
    _REPLIES[cls.mp_type] = cls
    return cls


def request_types() -> dict[int, type[MultipartRequest]]:
    return dict(_REQUESTS)


def reply_types() -> dict[int, type[MultipartReply]]:
    return dict(_REPLIES)
