"""Property tests: every non-multipart message round-trips; bad bytes only raise OFPDecodeError."""

from __future__ import annotations

import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies_messages import MESSAGE_STRATEGIES, messages

from openvolcano.ofp import consts as c
from openvolcano.ofp import messages as m
from openvolcano.ofp.base import Message, decode_message, registered_types
from openvolcano.ofp.errors import OFPDecodeError

# Shared CI cores: no per-example deadline; health checks stay on.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

OWNED_TYPES = sorted(cls.msg_type for cls in MESSAGE_STRATEGIES)


def test_strategy_covers_every_message_class() -> None:
    exported = {getattr(m, name) for name in m.__all__}
    assert set(MESSAGE_STRATEGIES) == exported
    for cls in exported:
        assert registered_types()[cls.msg_type] is cls


@relaxed
@given(messages())
def test_round_trip(msg: Message) -> None:
    raw = msg.encode()
    assert len(raw) == struct.unpack_from("!H", raw, 2)[0]
    assert raw[1] == msg.msg_type
    back = decode_message(raw)
    assert back == msg
    assert back.encode() == raw


def _decode_only_ofp_errors(raw: bytes) -> None:
    """Decoding succeeds or raises OFPDecodeError with a real OFPET_X/OFPXXC_Y pair."""
    err: OFPDecodeError | None = None
    try:
        decode_message(raw)
    except OFPDecodeError as e:
        err = e
    if err is not None:
        assert not any(part.isdigit() for part in c.error_name(err.type, err.code).split("/"))
        assert len(err.data) <= 64


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid message with a few bytes overwritten, cut or extended (header length kept consistent)."""
    raw = bytearray(draw(messages()).encode())
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        if len(raw) > 8:
            i = draw(st.integers(min_value=8, max_value=len(raw) - 1))
            raw[i] = draw(st.integers(min_value=0, max_value=255))
    edit = draw(st.sampled_from(["none", "cut", "extend"]))
    if edit == "cut" and len(raw) > 8:
        del raw[draw(st.integers(min_value=8, max_value=len(raw) - 1)) :]
    elif edit == "extend":
        raw += draw(st.binary(min_size=1, max_size=16))
    raw[2:4] = len(raw).to_bytes(2, "big")
    return bytes(raw)


@relaxed
@given(mutated())
def test_mutated_messages_only_raise_decode_errors(raw: bytes) -> None:
    _decode_only_ofp_errors(raw)


@relaxed
@given(st.sampled_from(OWNED_TYPES), st.binary(max_size=200))
def test_random_bodies_only_raise_decode_errors(msg_type: int, body: bytes) -> None:
    raw = struct.pack("!BBHI", c.OFP_VERSION, msg_type, 8 + len(body), 0) + body
    _decode_only_ofp_errors(raw)


@relaxed
@given(st.binary(max_size=100))
def test_random_bytes_only_raise_decode_errors(raw: bytes) -> None:
    _decode_only_ofp_errors(raw)
