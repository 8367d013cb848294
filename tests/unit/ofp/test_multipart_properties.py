"""Property tests of the multipart codec: round trips and robustness against garbage."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies_multipart import multipart_messages, multipart_strategies

from openvolcano.ofp import multipart as mp
from openvolcano.ofp.base import Message, decode_message
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError

_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_strategies_cover_every_registered_class() -> None:
    registered = set(mp.request_types().values()) | set(mp.reply_types().values())
    assert set(multipart_strategies()) == registered
    assert len(registered) == 30  # 15 OFPMP_* types, request and reply each


@_SETTINGS
@given(multipart_messages())
def test_decode_encode_round_trip(msg: Message) -> None:
    raw = msg.encode()
    back = decode_message(raw)
    assert back == msg
    assert back.encode() == raw


@pytest.mark.parametrize("cls", list(multipart_strategies()), ids=lambda k: k.__name__)
def test_each_class_round_trips(cls: type[Message]) -> None:
    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(multipart_strategies()[cls].flatmap(lambda m: st.integers(0, 2**32 - 1).map(m.with_xid)))
    def check(msg: Message) -> None:
        assert type(msg) is cls
        assert decode_message(msg.encode()) == msg

    check()


def _decode_or_error(raw: bytes) -> None:
    try:
        back = decode_message(raw)
    except OFPDecodeError:
        return
    # Whatever decodes encodes again or is refused with a clear OFPEncodeError
    # (a 256-byte desc string without its NUL, a non-ASCII name).
    with contextlib.suppress(OFPEncodeError):
        back.encode()


@_SETTINGS
@given(multipart_messages(), st.data())
def test_truncated_messages_only_raise_decode_errors(msg: Message, data: st.DataObject) -> None:
    raw = msg.encode()
    cut = data.draw(st.integers(8, len(raw) - 1)) if len(raw) > 8 else 8
    short = bytearray(raw[:cut])
    short[2:4] = len(short).to_bytes(2, "big")  # a consistent header over a short body
    _decode_or_error(bytes(short))


@_SETTINGS
@given(multipart_messages(), st.data())
def test_mutated_messages_only_raise_decode_errors(msg: Message, data: st.DataObject) -> None:
    raw = bytearray(msg.encode())
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(8, len(raw) - 1))  # keep the header framing sane
        raw[pos] = data.draw(st.integers(0, 255))
    _decode_or_error(bytes(raw))


@_SETTINGS
@given(st.integers(0, 1), st.binary(max_size=200), st.integers(0, 0xFFFF))
def test_random_bodies_only_raise_decode_errors(direction: int, body: bytes, mp_type: int) -> None:
    # Bias the type towards the known ones so the body decoders get exercised.
    known = sorted(mp.request_types())
    mp_type = known[mp_type % len(known)] if mp_type % 3 else mp_type
    payload = mp_type.to_bytes(2, "big") + b"\0" * 6 + body
    header = bytes([4, 18 + direction]) + (8 + len(payload)).to_bytes(2, "big") + b"\0" * 4
    _decode_or_error(header + payload)
