"""Shared structures: ports, buckets, meter bands, queues, hello elements."""

from __future__ import annotations

import pytest

from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError
from openvolcano.ofp.structs import (
    Bucket,
    HelloElemUnknown,
    HelloElemVersionBitmap,
    MeterBandDrop,
    MeterBandDscpRemark,
    MeterBandExperimenter,
    PacketQueue,
    Port,
    QueuePropExperimenter,
    QueuePropMaxRate,
    QueuePropMinRate,
    decode_buckets,
    decode_hello_elements,
    decode_meter_bands,
    decode_queues,
)
from openvolcano.ofp.wire import Reader


def test_port_exact_bytes() -> None:
    p = Port(
        port_no=3,
        hw_addr=0x0A0B0C0D0E0F,
        name="veth0",
        config=c.OFPPC_PORT_DOWN,
        state=c.OFPPS_LIVE,
        curr=c.OFPPF_10GB_FD,
        curr_speed=10_000_000,
        max_speed=10_000_000,
    )
    raw = p.encode()
    name = b"veth0".ljust(16, b"\0").hex()
    assert raw == bytes.fromhex(
        f"00000003 00000000 0a0b0c0d0e0f 0000 {name} 00000001 00000004 00000040"
        " 00000000 00000000 00000000 00989680 00989680"
    )
    r = Reader(raw)
    assert Port.decode(r) == p
    assert r.remaining() == 0


def test_port_truncated_is_bad_len() -> None:
    raw = Port(port_no=1).encode()
    with pytest.raises(OFPDecodeError) as ei:
        Port.decode(Reader(raw[:63]))
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN)


@pytest.mark.parametrize(
    "port",
    [
        Port(port_no=1, name="x" * 16),
        Port(port_no=1, name="é"),
        Port(port_no=1, hw_addr=1 << 48),
        Port(port_no=1 << 32),
        Port(port_no=1, max_speed=-1),
    ],
)
def test_port_encode_rejects_bad_values(port: Port) -> None:
    with pytest.raises(OFPEncodeError):
        port.encode()


def test_bucket_exact_bytes_and_round_trip() -> None:
    b = Bucket(weight=5, watch_port=2, watch_group=c.OFPG_ANY, actions=(ActionOutput(port=7),))
    raw = b.encode()
    assert raw[:16] == bytes.fromhex("0020000500000002ffffffff00000000")
    assert raw[16:] == ActionOutput(port=7).encode()
    assert decode_buckets(Reader(raw + raw)) == (b, b)


@pytest.mark.parametrize(
    "raw",
    [
        bytes.fromhex("0008 0000 00000000"),  # shorter than ofp_bucket
        bytes.fromhex("0014 0000 00000000 00000000 00000000 00000000"),  # not 8-aligned
        bytes.fromhex("0018 0000 00000000 00000000 00000000"),  # len past the end
    ],
)
def test_bad_bucket_length_is_bad_bucket(raw: bytes) -> None:
    with pytest.raises(OFPDecodeError) as ei:
        decode_buckets(Reader(raw))
    assert (ei.value.type, ei.value.code) == (c.OFPET_GROUP_MOD_FAILED, c.OFPGMFC_BAD_BUCKET)


def test_bucket_with_bad_action_reports_the_action_error() -> None:
    raw = bytes.fromhex("0018 0000 00000000 00000000 00000000") + bytes.fromhex(
        "7777 0008 00000000"
    )
    with pytest.raises(OFPDecodeError) as ei:
        decode_buckets(Reader(raw))
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_ACTION, c.OFPBAC_BAD_TYPE)


def test_meter_bands_exact_bytes() -> None:
    bands = (
        MeterBandDrop(rate=1000, burst_size=10),
        MeterBandDscpRemark(rate=2000, burst_size=20, prec_level=1),
        MeterBandExperimenter(rate=3, burst_size=4, experimenter=0x00002320, data=b"12345678"),
    )
    raw = b"".join(b.encode() for b in bands)
    assert (
        raw
        == bytes.fromhex(
            "0001 0010 000003e8 0000000a 00000000"
            "0002 0010 000007d0 00000014 01 000000"
            "ffff 0018 00000003 00000004 00002320"
        )
        + b"12345678"
    )
    assert decode_meter_bands(Reader(raw)) == bands


def test_unknown_meter_band_is_bad_band() -> None:
    with pytest.raises(OFPDecodeError) as ei:
        decode_meter_bands(Reader(bytes.fromhex("0003 0010 00000001 00000001 00000000")))
    assert (ei.value.type, ei.value.code) == (c.OFPET_METER_MOD_FAILED, c.OFPMMFC_BAD_BAND)


@pytest.mark.parametrize(
    "raw",
    [
        bytes.fromhex("0001 0018 00000001 00000001 00000000 00000000 00000000"),  # drop of 24
        bytes.fromhex("0001 0010 00000001"),  # truncated
        bytes.fromhex("ffff 000c 00000001 00000001"),  # experimenter under 16
        bytes.fromhex("00"),
    ],
)
def test_bad_meter_band_length_is_bad_len(raw: bytes) -> None:
    with pytest.raises(OFPDecodeError) as ei:
        decode_meter_bands(Reader(raw))
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN)


def test_experimenter_band_must_stay_aligned() -> None:
    with pytest.raises(OFPEncodeError):
        MeterBandExperimenter(rate=1, experimenter=1, data=b"abc").encode()


def test_packet_queue_exact_bytes_and_round_trip() -> None:
    q = PacketQueue(
        queue_id=1,
        port=2,
        properties=(
            QueuePropMinRate(rate=100),
            QueuePropMaxRate(rate=900),
            QueuePropExperimenter(experimenter=0xABCD, data=b"\x01\x02"),
        ),
    )
    raw = q.encode()
    assert raw == bytes.fromhex(
        "00000001 00000002 0042 000000000000"
        "0001 0010 00000000 0064 000000000000"
        "0002 0010 00000000 0384 000000000000"
        "ffff 0012 00000000 0000abcd 00000000 0102"
    )
    assert decode_queues(Reader(raw)) == (q,)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (bytes.fromhex("00000001 00000002 0008 000000000000"), c.OFPBRC_BAD_LEN),
        (bytes.fromhex("00000001 00000002 0020 000000000000"), c.OFPBRC_BAD_LEN),
        (
            bytes.fromhex(
                "00000001 00000002 0020 000000000000 0001 0018 00000000 0064 000000000000"
            ),
            c.OFPBRC_BAD_LEN,
        ),
        (
            bytes.fromhex(
                "00000001 00000002 0020 000000000000 0009 0010 00000000 0064 000000000000"
            ),
            c.OFPBRC_BAD_TYPE,
        ),
    ],
)
def test_bad_queue(raw: bytes, code: int) -> None:
    with pytest.raises(OFPDecodeError) as ei:
        decode_queues(Reader(raw))
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_REQUEST, code)


def test_version_bitmap_helpers() -> None:
    e = HelloElemVersionBitmap.of_versions((0x01, 0x04, 0x21))
    assert e.bitmaps == (0x12, 0x2)
    assert e.versions() == frozenset({0x01, 0x04, 0x21})
    # 4 + 8 bytes of bitmaps, padded to 16.
    assert e.encode() == bytes.fromhex("0001 000c 00000012 00000002 00000000")


def test_hello_elements_keep_unknown_types_and_padding() -> None:
    elems = (HelloElemUnknown(type=7, data=b"xyz"), HelloElemVersionBitmap(bitmaps=(0x10,)))
    raw = b"".join(e.encode() for e in elems)
    assert raw == bytes.fromhex("0007 0007 78797a 000001 0008 00000010")
    assert decode_hello_elements(Reader(raw)) == elems


def test_unknown_hello_element_cannot_claim_the_bitmap_type() -> None:
    with pytest.raises(OFPEncodeError):
        HelloElemUnknown(type=c.OFPHET_VERSIONBITMAP).encode()


@pytest.mark.parametrize(
    "raw",
    [
        bytes.fromhex("0001 0002"),  # length under the header
        bytes.fromhex("0001 0007 000000 00"),  # bitmap not a multiple of 4
        bytes.fromhex("0001 0010 00000010"),  # length past the end
        bytes.fromhex("0007 0005 00 0001 0008 00000010"),  # padding missing mid-list
        bytes.fromhex("00"),
    ],
)
def test_bad_hello_elements(raw: bytes) -> None:
    with pytest.raises(OFPDecodeError) as ei:
        decode_hello_elements(Reader(raw))
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN)
