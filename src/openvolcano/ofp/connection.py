"""One OpenFlow 1.3 connection, sans-IO, for either role (h11-style).

Role: the state machine both ends of an OpenFlow channel run - magma (the
controller) and quake's agent (the switch) in the paper's terms - shared so
the two sides cannot disagree on framing, version negotiation, echo or error
handling. The shell owns the socket: it feeds received bytes to
:meth:`Connection.receive_data`, drains typed events with
:meth:`Connection.next_event` (or by iterating), writes what
:meth:`Connection.send` returns, and flushes :meth:`Connection.data_to_send`
(automatic replies) after every receive. No I/O, clocks or logging here.

Design:

* **Framing.** Bytes accumulate in one buffer; every complete message (by the
  header's ``length``) is decoded as soon as it is complete, so a message may
  arrive split over any number of reads and many messages may share one read.
  A header ``length`` under 8 cannot be framed past: that is the one
  unrecoverable error (BAD_REQUEST/BAD_LEN reply, then closed).
* **Negotiation** (spec 1.3.5 §6.3.1, §7.5.1). Our HELLO (header version 0x04
  plus a version-bitmap element for {0x04}) is queued in ``data_to_send()`` on
  construction. The peer's HELLO decides: if it carries a bitmap, the
  negotiated version is the highest one in both bitmaps; without one it is
  ``min(ours, peer's header version)``. If that is not 0x04 (the only version
  this codec speaks) we queue OFPET_HELLO_FAILED/OFPHFC_INCOMPATIBLE with an
  ASCII explanation and close.
* **Before HELLO.** Chosen policy: *reject*. The first message from the peer
  must be HELLO (the spec has each side send HELLO first on a new channel);
  anything else gets OFPET_HELLO_FAILED/OFPHFC_INCOMPATIBLE and the connection
  closes, as Open vSwitch does. An OFPT_ERROR is the exception: it is
  reported, and a HELLO_FAILED one closes the connection (the peer gave up).
  Locally, :meth:`Connection.send` refuses anything but HELLO/ERROR until
  :class:`Negotiated`.
* **Errors.** A message that frames but does not decode yields
  :class:`ProtocolError` with the OFPT_ERROR reply (type/code from the
  :class:`~openvolcano.ofp.errors.OFPDecodeError`, xid of the bad message,
  data = its first 64 bytes); the connection keeps going. A message that
  only the other role may send (e.g. a FLOW_MOD arriving at a controller) is
  answered with OFPET_BAD_REQUEST/OFPBRC_BAD_TYPE the same way.
* **Automatic replies** (ECHO_REPLY, OFPT_ERROR replies) are queued in
  ``data_to_send()`` - the single path for everything the connection itself
  wants to send - and the triggering event is still reported. A
  :class:`ProtocolError` carries a copy of its reply for the record; the shell
  must not send it a second time.
* **xids.** :meth:`Connection.send` gives a message with ``xid == 0`` the next
  value of a 32-bit counter that skips 0 when it wraps; use
  :meth:`Connection.assign_xid` first when the caller must match a reply.

Invariants: events come out in wire order; once :class:`ConnectionClosed` has
been reported no further event is produced and later input is discarded;
``data_to_send()`` still returns what was queued before closing (flush it,
then close the socket). The event queue grows only with the bytes fed in.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TypeVar

from openvolcano.ofp import consts as c
from openvolcano.ofp import messages as _messages  # noqa: F401 - registers the OFPT types
from openvolcano.ofp import multipart as _multipart  # noqa: F401 - registers OFPMP types
from openvolcano.ofp.base import Message, decode_header, decode_message
from openvolcano.ofp.errors import OFPDecodeError, OFPError
from openvolcano.ofp.messages import EchoReply, EchoRequest, Error, Hello

__all__ = [
    "SUPPORTED_VERSION",
    "ConnState",
    "Connection",
    "ConnectionClosed",
    "ConnectionUsageError",
    "Event",
    "MessageReceived",
    "Negotiated",
    "ProtocolError",
    "Role",
]

SUPPORTED_VERSION = c.OFP_VERSION  # 0x04: the only wire version this codec speaks
_XID_MASK = 0xFFFFFFFF
_MAX_PENDING_ECHOES = 256
_M = TypeVar("_M", bound=Message)


class Role(enum.Enum):
    CONTROLLER = "controller"
    SWITCH = "switch"


class ConnState(enum.Enum):
    HELLO_WAIT = "hello-wait"  # our HELLO queued, the peer's not yet received
    OPEN = "open"  # version negotiated
    CLOSED = "closed"  # EOF, fatal error, or failed negotiation


class ConnectionUsageError(OFPError, RuntimeError):
    """We used the connection wrongly (sent before negotiation, after close, wrong direction)."""


# Message types only a controller sends, and only a switch sends (spec 1.3.5 §7);
# HELLO, ERROR, ECHO_* and EXPERIMENTER are symmetric.
_FROM_CONTROLLER = frozenset(
    {
        c.OFPT_FEATURES_REQUEST,
        c.OFPT_GET_CONFIG_REQUEST,
        c.OFPT_SET_CONFIG,
        c.OFPT_PACKET_OUT,
        c.OFPT_FLOW_MOD,
        c.OFPT_GROUP_MOD,
        c.OFPT_PORT_MOD,
        c.OFPT_TABLE_MOD,
        c.OFPT_MULTIPART_REQUEST,
        c.OFPT_BARRIER_REQUEST,
        c.OFPT_QUEUE_GET_CONFIG_REQUEST,
        c.OFPT_ROLE_REQUEST,
        c.OFPT_GET_ASYNC_REQUEST,
        c.OFPT_SET_ASYNC,
        c.OFPT_METER_MOD,
    }
)
_FROM_SWITCH = frozenset(
    {
        c.OFPT_FEATURES_REPLY,
        c.OFPT_GET_CONFIG_REPLY,
        c.OFPT_PACKET_IN,
        c.OFPT_FLOW_REMOVED,
        c.OFPT_PORT_STATUS,
        c.OFPT_MULTIPART_REPLY,
        c.OFPT_BARRIER_REPLY,
        c.OFPT_QUEUE_GET_CONFIG_REPLY,
        c.OFPT_ROLE_REPLY,
        c.OFPT_GET_ASYNC_REPLY,
    }
)


# -- events ---------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Negotiated:
    """Both HELLOs exchanged; ``version`` is the agreed wire version (always 0x04)."""

    version: int


@dataclass(frozen=True, kw_only=True)
class MessageReceived:
    """A decoded message from the peer (ECHO_REQUESTs too: already answered)."""

    msg: Message


@dataclass(frozen=True, kw_only=True)
class ProtocolError:
    """The peer sent something invalid. ``reply`` (the OFPT_ERROR) is already queued.

    ``fatal`` is true when the connection closed because of it (framing lost,
    failed negotiation); a :class:`ConnectionClosed` event follows.
    """

    error: OFPDecodeError
    reply: bytes
    fatal: bool = False


@dataclass(frozen=True, kw_only=True)
class ConnectionClosed:
    """No more events. ``by_peer``: EOF (or the peer's HELLO_FAILED) rather than our decision."""

    reason: str
    by_peer: bool


Event = Negotiated | MessageReceived | ProtocolError | ConnectionClosed


# -- the state machine -------------------------------------------------------------


class Connection:
    """The OpenFlow channel state of one side. See the module docstring for the rules."""

    def __init__(self, role: Role, *, first_xid: int = 1) -> None:
        self.role = role
        self.state = ConnState.HELLO_WAIT
        self.version: int | None = None
        self._buf = bytearray()
        self._events: deque[Event] = deque()
        self._out = bytearray()
        self._next_xid = first_xid & _XID_MASK or 1
        # xids of our ECHO_REQUESTs not yet answered, oldest first (bounded, see make_echo_request).
        self._echoes: dict[int, None] = {}
        self._out += Hello.for_versions((SUPPORTED_VERSION,), xid=self.next_xid()).encode()

    # -- public API ----------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self.state is ConnState.CLOSED

    @property
    def unanswered_echoes(self) -> int:
        """ECHO_REQUESTs made by :meth:`make_echo_request` with no reply since (capped at 256)."""
        return len(self._echoes)

    def next_xid(self) -> int:
        """Allocate a transaction id: 1, 2, ..., 0xFFFFFFFF, 1, ... (never 0)."""
        xid = self._next_xid
        self._next_xid = (xid + 1) & _XID_MASK or 1
        return xid

    def assign_xid(self, msg: _M) -> _M:
        """``msg`` itself if its xid is set, else a copy with a freshly allocated xid."""
        return msg if msg.xid else msg.with_xid(self.next_xid())

    def send(self, msg: Message) -> bytes:
        """The bytes of ``msg`` (xid allocated if 0), for the caller to write.

        Raises :class:`ConnectionUsageError` if the connection is closed, not
        yet negotiated (only HELLO/ERROR may go before), or ``msg`` is a type
        only the peer's role may send.
        """
        if self.state is ConnState.CLOSED:
            raise ConnectionUsageError(f"cannot send {type(msg).__name__}: connection closed")
        if self.state is ConnState.HELLO_WAIT and msg.msg_type not in (
            c.OFPT_HELLO,
            c.OFPT_ERROR,
        ):
            raise ConnectionUsageError(
                f"cannot send {type(msg).__name__} before version negotiation completes"
            )
        if msg.msg_type in self._peer_only_types():
            raise ConnectionUsageError(f"a {self.role.value} does not send {type(msg).__name__}")
        return self.assign_xid(msg).encode(SUPPORTED_VERSION)

    def make_echo_request(self, data: bytes = b"") -> bytes:
        """A keepalive ECHO_REQUEST to write; its reply clears :attr:`unanswered_echoes`.

        The shell decides, with its own clock, when to call this and how many
        unanswered echoes mean the peer is dead.
        """
        msg = EchoRequest(xid=self.next_xid(), data=data)
        wire = self.send(msg)
        if len(self._echoes) >= _MAX_PENDING_ECHOES:  # full: forget the oldest
            del self._echoes[next(iter(self._echoes))]
        self._echoes[msg.xid] = None
        return wire

    def data_to_send(self) -> bytes:
        """Bytes the connection itself queued (our HELLO, echo replies, error replies)."""
        out = bytes(self._out)
        self._out.clear()
        return out

    def receive_data(self, data: bytes) -> None:
        """Feed bytes read from the peer; ``b""`` means EOF."""
        if self.state is ConnState.CLOSED:
            return
        if not data:
            pending = len(self._buf)
            reason = "peer closed the connection"
            if pending:
                reason += f" with {pending} bytes of an incomplete message pending"
            self._close(reason, by_peer=True)
            return
        self._buf += data
        self._parse()

    def next_event(self) -> Event | None:
        """The next event, or ``None`` when more data is needed (or after close)."""
        return self._events.popleft() if self._events else None

    def __iter__(self) -> Iterator[Event]:
        """The events available now (stops when more data is needed)."""
        while self._events:
            yield self._events.popleft()

    # -- internals -------------------------------------------------------------

    def _peer_only_types(self) -> frozenset[int]:
        """Types only the peer's role sends: we never send them."""
        return _FROM_SWITCH if self.role is Role.CONTROLLER else _FROM_CONTROLLER

    def _own_only_types(self) -> frozenset[int]:
        """Types only our role sends: receiving one is the peer's error."""
        return _FROM_CONTROLLER if self.role is Role.CONTROLLER else _FROM_SWITCH

    def _parse(self) -> None:
        buf = self._buf
        while self.state is not ConnState.CLOSED and len(buf) >= c.OFP_HEADER_LEN:
            _version, type_, length, xid = decode_header(bytes(buf[: c.OFP_HEADER_LEN]))
            if length < c.OFP_HEADER_LEN:
                err = OFPDecodeError(
                    c.OFPET_BAD_REQUEST,
                    c.OFPBRC_BAD_LEN,
                    f"header length {length} is under 8: cannot frame the stream",
                    bytes(buf[:64]),
                )
                self._reject(err, xid, fatal=True)
                return
            if len(buf) < length:
                return
            raw = bytes(buf[:length])
            del buf[:length]
            self._handle(raw, type_, xid)

    def _handle(self, raw: bytes, type_: int, xid: int) -> None:
        if type_ in self._own_only_types():
            who = "controller" if self.role is Role.CONTROLLER else "switch"
            err = OFPDecodeError(
                c.OFPET_BAD_REQUEST,
                c.OFPBRC_BAD_TYPE,
                f"a {who} does not accept {c.name_of('OFPT_', type_)}",
                raw,
            )
            self._reject(err, xid, fatal=self.state is ConnState.HELLO_WAIT)
            return
        try:
            msg = decode_message(raw)
        except OFPDecodeError as e:
            self._reject(e, xid, fatal=self.state is ConnState.HELLO_WAIT)
            return
        if self.state is ConnState.HELLO_WAIT:
            self._handle_before_hello(msg, raw)
            return
        self._events.append(MessageReceived(msg=msg))
        if isinstance(msg, EchoRequest):
            self._out += EchoReply(xid=msg.xid, data=msg.data).encode(SUPPORTED_VERSION)
        elif isinstance(msg, EchoReply) and msg.xid in self._echoes:
            # The peer is alive: this and every older outstanding echo are settled.
            for pending in list(self._echoes):
                del self._echoes[pending]
                if pending == msg.xid:
                    break

    def _handle_before_hello(self, msg: Message, raw: bytes) -> None:
        if isinstance(msg, Error):
            self._events.append(MessageReceived(msg=msg))
            if msg.type == c.OFPET_HELLO_FAILED:
                self._close(f"peer rejected the HELLO: {msg.name()}", by_peer=True)
            return
        if not isinstance(msg, Hello):
            self._hello_failed(f"expected OFPT_HELLO first, got {type(msg).__name__}", raw, msg.xid)
            return
        version = _negotiate(raw[0], msg.version_bitmap())
        if version != SUPPORTED_VERSION:
            offered = msg.version_bitmap() or frozenset({raw[0]})
            self._hello_failed(
                f"no common OpenFlow version: we speak 0x{SUPPORTED_VERSION:02x}, "
                f"peer offers {', '.join(f'0x{v:02x}' for v in sorted(offered))}",
                raw,
                msg.xid,
            )
            return
        self.state = ConnState.OPEN
        self.version = version
        self._events.append(Negotiated(version=version))

    def _hello_failed(self, reason: str, raw: bytes, xid: int) -> None:
        err = OFPDecodeError(c.OFPET_HELLO_FAILED, c.OFPHFC_INCOMPATIBLE, reason, raw)
        reply = Error(
            xid=xid,
            type=c.OFPET_HELLO_FAILED,
            code=c.OFPHFC_INCOMPATIBLE,
            data=reason.encode("ascii", "replace"),
        ).encode(SUPPORTED_VERSION)
        self._out += reply
        self._events.append(ProtocolError(error=err, reply=reply, fatal=True))
        self._close(f"version negotiation failed: {reason}", by_peer=False)

    def _reject(self, err: OFPDecodeError, xid: int, *, fatal: bool) -> None:
        reply = Error.from_decode_error(err, xid=xid).encode(SUPPORTED_VERSION)
        self._out += reply
        self._events.append(ProtocolError(error=err, reply=reply, fatal=fatal))
        if fatal:
            self._close(f"protocol error: {err}", by_peer=False)

    def _close(self, reason: str, *, by_peer: bool) -> None:
        self.state = ConnState.CLOSED
        self._buf.clear()
        self._events.append(ConnectionClosed(reason=reason, by_peer=by_peer))


def _negotiate(peer_header_version: int, peer_bitmap: frozenset[int] | None) -> int | None:
    """The version both sides speak (§6.3.1), or ``None``; we offer only 0x04."""
    if peer_bitmap is not None:
        common = peer_bitmap & {SUPPORTED_VERSION}
        return max(common) if common else None
    return min(SUPPORTED_VERSION, peer_header_version)
