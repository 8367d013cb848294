"""HELLO, ERROR, ECHO and EXPERIMENTER: exact bytes, round trips, bad input."""

from __future__ import annotations

import pytest

from openvolcano.ofp import consts as c
from openvolcano.ofp.base import decode_message
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError
from openvolcano.ofp.messages import EchoReply, EchoRequest, Error, Experimenter, Hello
from openvolcano.ofp.structs import HelloElemUnknown, HelloElemVersionBitmap


def test_hello_with_version_bitmap_exact_bytes() -> None:
    hello = Hello.for_versions((0x04,), xid=1)
    raw = hello.encode()
    assert raw == bytes.fromhex("04 00 0010 000000010001 0008 00000010")
    assert decode_message(raw) == hello
    assert hello.version_bitmap() == frozenset({4})


def test_bare_hello_and_one_from_another_version() -> None:
    assert Hello(xid=7).encode() == bytes.fromhex("04 00 0008 00000007")
    # A 1.5 peer's HELLO is still a HELLO (negotiation needs it); 1.0 has no elements.
    raw = bytes.fromhex("06 00 0010 00000002 0001 0008 00000052")
    hello = decode_message(raw)
    assert isinstance(hello, Hello)
    assert hello.version_bitmap() == frozenset({1, 4, 6})
    assert hello.encode(version=6) == raw
    assert Hello().version_bitmap() is None


def test_hello_keeps_unknown_elements() -> None:
    hello = Hello(
        xid=3,
        elements=(
            HelloElemUnknown(type=0x99, data=b"abc"),
            HelloElemVersionBitmap(bitmaps=(0x18,)),
        ),
    )
    raw = hello.encode()
    assert raw == bytes.fromhex("04 00 0018 000000030099 0007 616263 000001 0008 00000018")
    assert decode_message(raw) == hello
    assert hello.version_bitmap() == frozenset({3, 4})


def test_malformed_hello_element_is_bad_len() -> None:
    with pytest.raises(OFPDecodeError) as ei:
        decode_message(bytes.fromhex("04 00 000c 00000001 0001 0010"))
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN)


def test_error_exact_bytes() -> None:
    err = Error(xid=5, type=c.OFPET_BAD_REQUEST, code=c.OFPBRC_BAD_LEN, data=b"\x04\x05")
    raw = err.encode()
    assert raw == bytes.fromhex("04 01 000e 00000005 0001 0006 0405")
    assert decode_message(raw) == err
    assert err.name() == "OFPET_BAD_REQUEST/OFPBRC_BAD_LEN"


def test_experimenter_error_exact_bytes() -> None:
    err = Error(xid=1, type=c.OFPET_EXPERIMENTER, exp_type=3, experimenter=0x2320, data=b"x")
    raw = err.encode()
    assert raw == bytes.fromhex("04 01 0011 00000001 ffff 0003 00002320 78")
    assert decode_message(raw) == err
    assert "0x2320" in err.name()


@pytest.mark.parametrize(
    "err",
    [
        Error(type=c.OFPET_EXPERIMENTER, code=1, experimenter=1),
        Error(type=c.OFPET_BAD_REQUEST, code=0, exp_type=1),
        Error(type=c.OFPET_BAD_REQUEST, code=0, experimenter=1),
        Error(type=c.OFPET_BAD_REQUEST, code=1 << 16),
        Error(type=-1),
    ],
)
def test_inconsistent_error_does_not_encode(err: Error) -> None:
    with pytest.raises(OFPEncodeError):
        err.encode()


def test_error_from_decode_error_carries_the_offending_bytes() -> None:
    bad = bytes.fromhex("04 05 0009 00000042 00")  # FEATURES_REQUEST with a stray byte
    with pytest.raises(OFPDecodeError) as ei:
        decode_message(bad)
    err = Error.from_decode_error(ei.value, xid=0x42)
    assert (err.type, err.code, err.data) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN, bad)
    assert decode_message(err.encode()) == err


@pytest.mark.parametrize(
    "raw",
    [
        bytes.fromhex("04 01 000a 00000001 0001"),  # no code
        bytes.fromhex("04 01 000e 00000001 ffff 0003 0000"),  # experimenter id cut
    ],
)
def test_short_error_is_bad_len(raw: bytes) -> None:
    with pytest.raises(OFPDecodeError) as ei:
        decode_message(raw)
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN)


def test_echo_exact_bytes() -> None:
    assert EchoRequest(xid=9, data=b"hi").encode() == bytes.fromhex("04 02 000a 00000009 6869")
    assert EchoReply(xid=9).encode() == bytes.fromhex("04 03 0008 00000009")
    assert decode_message(bytes.fromhex("04 03 000a 00000009 6869")) == EchoReply(xid=9, data=b"hi")


def test_experimenter_exact_bytes() -> None:
    msg = Experimenter(xid=2, experimenter=0x00002320, exp_type=17, data=b"\x01")
    raw = msg.encode()
    assert raw == bytes.fromhex("04 04 0011 00000002 00002320 00000011 01")
    assert decode_message(raw) == msg
    with pytest.raises(OFPDecodeError) as ei:
        decode_message(raw[:12].replace(b"\x00\x11", b"\x00\x0c", 1))
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN)


def test_non_hello_of_other_version_is_bad_version() -> None:
    with pytest.raises(OFPDecodeError) as ei:
        decode_message(bytes.fromhex("01 02 0008 00000001"))
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_VERSION)
