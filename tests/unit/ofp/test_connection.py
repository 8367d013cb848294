"""The sans-IO OpenFlow connection: negotiation, framing, echo, xids, error replies, EOF."""

from __future__ import annotations

import itertools
import struct
from dataclasses import dataclass
from typing import ClassVar, Self

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openvolcano.ofp import consts as c
from openvolcano.ofp.base import Message, decode_message
from openvolcano.ofp.connection import (
    Connection,
    ConnectionClosed,
    ConnectionUsageError,
    ConnState,
    Event,
    MessageReceived,
    Negotiated,
    ProtocolError,
    Role,
)
from openvolcano.ofp.messages import EchoReply, EchoRequest, Error, Experimenter, Hello
from openvolcano.ofp.structs import HelloElemVersionBitmap
from openvolcano.ofp.wire import Reader


def drain(conn: Connection) -> list[Event]:
    return list(conn)


def split_messages(data: bytes) -> list[Message]:
    """Decode a byte stream of whole messages (what a peer would read)."""
    out = []
    while data:
        length = struct.unpack_from("!H", data, 2)[0]
        out.append(decode_message(data[:length]))
        data = data[length:]
    return out


def open_pair() -> tuple[Connection, Connection]:
    """A controller and a switch that exchanged HELLOs; their events are drained."""
    ctl, sw = Connection(Role.CONTROLLER), Connection(Role.SWITCH)
    ctl.receive_data(sw.data_to_send())
    sw.receive_data(ctl.data_to_send())
    assert drain(ctl) == [Negotiated(version=4)]
    assert drain(sw) == [Negotiated(version=4)]
    return ctl, sw


def switch_after_hello() -> Connection:
    sw = Connection(Role.SWITCH)
    sw.data_to_send()
    sw.receive_data(Hello.for_versions((4,), xid=9).encode())
    assert drain(sw) == [Negotiated(version=4)]
    return sw


# -- version negotiation ------------------------------------------------------------


def test_both_roles_negotiate_0x04_and_send_a_bitmap_hello() -> None:
    ctl = Connection(Role.CONTROLLER)
    (hello,) = split_messages(ctl.data_to_send())
    assert isinstance(hello, Hello)
    assert hello.version_bitmap() == frozenset({4})
    assert hello.xid != 0
    assert ctl.state is ConnState.HELLO_WAIT
    assert ctl.version is None
    ctl2, sw = open_pair()
    assert ctl2.state is sw.state is ConnState.OPEN
    assert ctl2.version == sw.version == 4


def raw_hello(header_version: int, versions: tuple[int, ...] | None, xid: int = 5) -> bytes:
    elements = () if versions is None else (HelloElemVersionBitmap.of_versions(versions),)
    return Hello(xid=xid, elements=elements).encode(version=header_version)


@pytest.mark.parametrize(
    ("header_version", "bitmap"),
    [
        (4, None),  # plain 1.3 peer
        (6, None),  # newer peer without bitmap: min(4, 6) = 4
        (6, (1, 4, 5, 6)),  # highest common of the bitmaps
        (1, (1, 4)),  # bitmap wins over the header version
    ],
)
def test_negotiation_succeeds(header_version: int, bitmap: tuple[int, ...] | None) -> None:
    sw = Connection(Role.SWITCH)
    sw.receive_data(raw_hello(header_version, bitmap))
    assert drain(sw) == [Negotiated(version=4)]
    assert sw.version == 4


@pytest.mark.parametrize(
    ("header_version", "bitmap", "offered"),
    [
        (1, None, "0x01"),  # OpenFlow 1.0 peer
        (6, (5, 6), "0x05, 0x06"),  # bitmap without 1.3
        (4, (1,), "0x01"),
    ],
)
def test_negotiation_failure_sends_hello_failed_and_closes(
    header_version: int, bitmap: tuple[int, ...] | None, offered: str
) -> None:
    sw = Connection(Role.SWITCH)
    sw.data_to_send()
    sw.receive_data(raw_hello(header_version, bitmap, xid=77))
    events = drain(sw)
    assert len(events) == 2
    perr, closed = events
    assert isinstance(perr, ProtocolError)
    assert perr.fatal
    assert (perr.error.type, perr.error.code) == (c.OFPET_HELLO_FAILED, c.OFPHFC_INCOMPATIBLE)
    assert isinstance(closed, ConnectionClosed)
    assert not closed.by_peer
    wire = sw.data_to_send()
    assert wire == perr.reply
    (err,) = split_messages(wire)
    assert isinstance(err, Error)
    assert (err.type, err.code, err.xid) == (c.OFPET_HELLO_FAILED, c.OFPHFC_INCOMPATIBLE, 77)
    assert offered in err.data.decode("ascii")
    assert sw.closed
    with pytest.raises(ConnectionUsageError):
        sw.send(EchoRequest())
    sw.receive_data(raw_hello(4, (4,)))  # input after close is discarded
    assert sw.next_event() is None


def test_message_before_hello_is_rejected() -> None:
    ctl = Connection(Role.CONTROLLER)
    ctl.data_to_send()
    ctl.receive_data(EchoRequest(xid=3).encode())
    perr, closed = drain(ctl)
    assert isinstance(perr, ProtocolError)
    assert perr.fatal
    assert perr.error.type == c.OFPET_HELLO_FAILED
    assert "expected OFPT_HELLO" in perr.error.reason
    assert isinstance(closed, ConnectionClosed)
    (err,) = split_messages(ctl.data_to_send())
    assert isinstance(err, Error)
    assert err.xid == 3


def test_peer_hello_failed_error_closes_by_peer() -> None:
    ctl = Connection(Role.CONTROLLER)
    failed = Error(xid=1, type=c.OFPET_HELLO_FAILED, code=c.OFPHFC_INCOMPATIBLE, data=b"no")
    ctl.receive_data(failed.encode())
    received, closed = drain(ctl)
    assert received == MessageReceived(msg=failed)
    assert isinstance(closed, ConnectionClosed)
    assert closed.by_peer
    assert "OFPET_HELLO_FAILED" in closed.reason


def test_send_is_refused_before_negotiation_but_hello_and_error_pass() -> None:
    ctl = Connection(Role.CONTROLLER)
    with pytest.raises(ConnectionUsageError, match="before version negotiation"):
        ctl.send(EchoRequest())
    assert isinstance(decode_message(ctl.send(Error(type=c.OFPET_BAD_REQUEST))), Error)


@dataclass(frozen=True, kw_only=True)
class _PacketInStub(Message):
    """An unregistered stand-in with a switch-only type, for the direction checks."""

    msg_type: ClassVar[int] = c.OFPT_PACKET_IN

    def encode_body(self) -> bytes:
        return b"\0" * 8

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        r.skip(8)
        return cls(xid=xid)


def test_direction_rules_for_send_and_receive() -> None:
    ctl, sw = open_pair()
    with pytest.raises(ConnectionUsageError, match="controller does not send"):
        ctl.send(_PacketInStub())
    assert sw.send(_PacketInStub(xid=4))[1] == c.OFPT_PACKET_IN
    # A switch-only message arriving at a switch: BAD_TYPE, and the connection lives on.
    sw.receive_data(_PacketInStub(xid=4).encode())
    (perr,) = drain(sw)
    assert isinstance(perr, ProtocolError)
    assert not perr.fatal
    assert (perr.error.type, perr.error.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_TYPE)
    assert sw.state is ConnState.OPEN


# -- framing ------------------------------------------------------------------------

STREAM_MSGS: list[Message] = [
    EchoRequest(xid=10, data=b"a" * 3),
    Experimenter(xid=11, experimenter=0x2320, exp_type=7, data=bytes(range(40))),
    EchoReply(xid=12),
    Error(xid=13, type=c.OFPET_BAD_MATCH, code=c.OFPBMC_BAD_FIELD, data=b"x" * 70),
    EchoRequest(xid=14, data=b"\xff" * 200),
]
STREAM = b"".join(m.encode() for m in STREAM_MSGS)


@settings(max_examples=60, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_any_split_of_the_stream_gives_the_same_events(cuts: list[int]) -> None:
    sw = switch_after_hello()
    points = [0, *sorted(cuts), len(STREAM)]
    for a, b in itertools.pairwise(points):
        if b > a:
            sw.receive_data(STREAM[a:b])
    assert drain(sw) == [MessageReceived(msg=m) for m in STREAM_MSGS]
    replies = split_messages(sw.data_to_send())
    assert replies == [EchoReply(xid=10, data=b"aaa"), EchoReply(xid=14, data=b"\xff" * 200)]


def test_hello_and_messages_coalesced_in_one_read() -> None:
    sw = Connection(Role.SWITCH)
    sw.receive_data(Hello.for_versions(xid=1).encode() + STREAM)
    assert drain(sw) == [Negotiated(version=4)] + [MessageReceived(msg=m) for m in STREAM_MSGS]


def test_a_64k_message_fed_byte_by_byte() -> None:
    big = EchoRequest(xid=99, data=bytes(i & 0xFF for i in range(0xFFFF - 8)))
    wire = big.encode()
    assert len(wire) == 0xFFFF
    sw = switch_after_hello()
    for i in range(len(wire)):
        sw.receive_data(wire[i : i + 1])
        if i < len(wire) - 1:
            assert sw.next_event() is None
    assert drain(sw) == [MessageReceived(msg=big)]
    assert split_messages(sw.data_to_send()) == [EchoReply(xid=99, data=big.data)]


# -- echo, xids -----------------------------------------------------------------------


def test_echo_request_is_answered_and_still_reported() -> None:
    _ctl, sw = open_pair()
    sw.receive_data(EchoRequest(xid=0x1234, data=b"ping").encode())
    assert drain(sw) == [MessageReceived(msg=EchoRequest(xid=0x1234, data=b"ping"))]
    assert split_messages(sw.data_to_send()) == [EchoReply(xid=0x1234, data=b"ping")]
    assert sw.data_to_send() == b""


def test_keepalive_echo_round_trip_between_two_connections() -> None:
    ctl, sw = open_pair()
    first, second = ctl.make_echo_request(b"k1"), ctl.make_echo_request(b"k2")
    assert ctl.unanswered_echoes == 2
    sw.receive_data(first + second)
    drain(sw)
    replies = sw.data_to_send()
    ctl.receive_data(replies[: len(replies) // 2])  # only the first reply so far
    assert [type(e) for e in drain(ctl)] == [MessageReceived]
    assert ctl.unanswered_echoes == 1
    ctl.receive_data(replies[len(replies) // 2 :])
    drain(ctl)
    assert ctl.unanswered_echoes == 0


def test_xids_are_allocated_when_zero_and_kept_otherwise() -> None:
    ctl, _ = open_pair()
    a = decode_message(ctl.send(EchoRequest()))
    b = decode_message(ctl.send(EchoRequest()))
    assert a.xid != 0
    assert b.xid == a.xid + 1
    assert decode_message(ctl.send(EchoRequest(xid=0xABCD))).xid == 0xABCD
    msg = ctl.assign_xid(EchoRequest())
    assert msg.xid == b.xid + 1
    assert decode_message(ctl.send(msg)).xid == msg.xid


def test_xid_allocator_wraps_in_32_bits_and_skips_zero() -> None:
    conn = Connection(Role.CONTROLLER, first_xid=0xFFFFFFFE)
    (hello,) = split_messages(conn.data_to_send())
    assert hello.xid == 0xFFFFFFFE
    assert [conn.next_xid() for _ in range(3)] == [0xFFFFFFFF, 1, 2]
    assert Connection(Role.SWITCH, first_xid=0).next_xid() == 2  # 0 is never used


# -- error replies and fatal framing --------------------------------------------------


def test_malformed_body_gets_an_error_reply_and_the_connection_goes_on() -> None:
    sw = switch_after_hello()
    # An OFPT_ERROR whose body is 2 bytes: too short for type+code.
    bad = struct.pack("!BBHIH", 4, c.OFPT_ERROR, 10, 0x55, 1)
    unknown = struct.pack("!BBHI", 4, 200, 8, 0x56)  # no such message type
    sw.receive_data(bad + unknown + EchoRequest(xid=0x57).encode())
    e1, e2, ok = drain(sw)
    assert isinstance(e1, ProtocolError)
    assert not e1.fatal
    assert (e1.error.type, e1.error.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN)
    assert isinstance(e2, ProtocolError)
    assert (e2.error.type, e2.error.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_TYPE)
    assert ok == MessageReceived(msg=EchoRequest(xid=0x57))
    r1, r2, echo = split_messages(sw.data_to_send())
    assert r1 == Error(xid=0x55, type=c.OFPET_BAD_REQUEST, code=c.OFPBRC_BAD_LEN, data=bad)
    assert r2 == Error(xid=0x56, type=c.OFPET_BAD_REQUEST, code=c.OFPBRC_BAD_TYPE, data=unknown)
    assert e1.reply == r1.encode()
    assert echo == EchoReply(xid=0x57)


def test_error_reply_data_is_the_first_64_bytes_of_the_offending_message() -> None:
    sw = switch_after_hello()
    body = b"z" * 100  # an unknown type: the whole message is offending
    offending = struct.pack("!BBHI", 4, 201, 8 + len(body), 0x60) + body
    sw.receive_data(offending)
    (perr,) = drain(sw)
    assert isinstance(perr, ProtocolError)
    (reply,) = split_messages(sw.data_to_send())
    assert isinstance(reply, Error)
    assert reply.data == offending[:64]


def test_length_under_8_is_fatal() -> None:
    sw = switch_after_hello()
    sw.receive_data(EchoRequest(xid=1).encode() + struct.pack("!BBHI", 4, 2, 4, 0x61) + b"junk")
    ok, perr, closed = drain(sw)
    assert ok == MessageReceived(msg=EchoRequest(xid=1))
    assert isinstance(perr, ProtocolError)
    assert perr.fatal
    assert (perr.error.type, perr.error.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN)
    assert isinstance(closed, ConnectionClosed)
    assert not closed.by_peer
    echo_reply, err = split_messages(sw.data_to_send())
    assert isinstance(echo_reply, EchoReply)
    assert isinstance(err, Error)
    assert err.xid == 0x61
    sw.receive_data(EchoRequest(xid=2).encode())
    assert sw.next_event() is None
    assert sw.data_to_send() == b""


@settings(max_examples=150, deadline=None)
@given(junk=st.binary(max_size=300))
def test_random_bytes_only_ever_produce_events(junk: bytes) -> None:
    sw = switch_after_hello()
    sw.receive_data(junk)
    sw.receive_data(b"")
    events = drain(sw)
    assert isinstance(events[-1], ConnectionClosed)
    assert sum(isinstance(e, ConnectionClosed) for e in events) == 1
    for e in events:
        if isinstance(e, ProtocolError):
            assert isinstance(decode_message(e.reply), Error)


# -- EOF ------------------------------------------------------------------------------


def test_eof_closes_and_reports_a_pending_partial_message() -> None:
    ctl, sw = open_pair()
    sw.receive_data(b"")
    assert drain(sw) == [ConnectionClosed(reason="peer closed the connection", by_peer=True)]
    ctl.receive_data(EchoRequest(xid=3, data=b"abc").encode()[:9])
    ctl.receive_data(b"")
    (closed,) = drain(ctl)
    assert isinstance(closed, ConnectionClosed)
    assert "9 bytes" in closed.reason
    assert ctl.closed
    ctl.receive_data(b"")  # a second EOF is harmless
    assert ctl.next_event() is None


def test_a_controller_answers_a_controller_only_message_with_bad_type() -> None:
    ctl, _ = open_pair()
    flow_mod_header = struct.pack("!BBHI", 4, c.OFPT_FLOW_MOD, 8, 0x70)
    ctl.receive_data(flow_mod_header + EchoReply(xid=0x71).encode())
    perr, ok = drain(ctl)
    assert isinstance(perr, ProtocolError)
    assert not perr.fatal
    assert (perr.error.type, perr.error.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_TYPE)
    assert "OFPT_FLOW_MOD" in perr.error.reason
    assert ok == MessageReceived(msg=EchoReply(xid=0x71))
    (reply,) = split_messages(ctl.data_to_send())
    assert reply == Error(
        xid=0x70, type=c.OFPET_BAD_REQUEST, code=c.OFPBRC_BAD_TYPE, data=flow_mod_header
    )
