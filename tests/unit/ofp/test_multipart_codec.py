"""Hand-derived byte vectors and error cases of the multipart codec."""

from __future__ import annotations

import pytest

from openvolcano.ofp import consts as c
from openvolcano.ofp import multipart as mp
from openvolcano.ofp.base import decode_message
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError
from openvolcano.ofp.instructions import InstructionGotoTable
from openvolcano.ofp.oxm import Match
from openvolcano.ofp.structs import MeterBandDrop


def h(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", "").replace("\n", ""))


def _hdr(type_: int, length: int, xid: int, mp_type: int, flags: int = 0) -> bytes:
    return h(f"04 {type_:02x} {length:04x} {xid:08x} {mp_type:04x} {flags:04x} 00000000")


def _decode_error(raw: bytes) -> OFPDecodeError:
    with pytest.raises(OFPDecodeError) as info:
        decode_message(raw)
    return info.value


# --- exact bytes ----------------------------------------------------------------


def test_port_stats_request_exact_bytes() -> None:
    msg = mp.PortStatsRequest(xid=0x12345678, port_no=3, flags=c.OFPMPF_REQ_MORE)
    raw = h("04 12 0018 12345678  0004 0001 00000000  00000003 00000000")
    assert msg.encode() == raw
    assert decode_message(raw) == msg


def test_default_flow_stats_request_exact_bytes() -> None:
    raw = _hdr(18, 56, 7, c.OFPMP_FLOW) + h(
        "ff 000000 ffffffff ffffffff 00000000"
        "0000000000000000 0000000000000000"
        "0001 0004 00000000"  # empty OXM match, padded to 8
    )
    assert mp.FlowStatsRequest(xid=7).encode() == raw
    assert decode_message(raw) == mp.FlowStatsRequest(xid=7)


def test_flow_stats_reply_exact_bytes() -> None:
    entry = mp.FlowStats(
        table_id=1,
        duration_sec=2,
        duration_nsec=3,
        priority=4,
        idle_timeout=5,
        hard_timeout=6,
        flags=c.OFPFF_SEND_FLOW_REM,
        cookie=7,
        packet_count=8,
        byte_count=9,
        match=Match.of(in_port=1),
        instructions=(InstructionGotoTable(table_id=2),),
    )
    body = h(
        "0048 01 00 00000002 00000003 0004 0005 0006 0001 00000000"
        "0000000000000007 0000000000000008 0000000000000009"
        "0001 000c 80000004 00000001 00000000"  # match in_port=1 (12 bytes + 4 pad)
        "0001 0008 02 000000"  # goto table 2
    )
    raw = _hdr(19, 16 + len(body), 9, c.OFPMP_FLOW) + body
    msg = mp.FlowStatsReply(xid=9, body=(entry,))
    assert msg.encode() == raw
    assert decode_message(raw) == msg


def test_desc_reply_is_five_nul_padded_strings() -> None:
    raw = mp.DescReply(mfr_desc="OpenVolcano", serial_num="42", dp_desc="quake").encode()
    assert len(raw) == 16 + c.OFP_DESC_LEN
    assert raw[16:32] == b"OpenVolcano\0\0\0\0\0"
    assert raw[16 + 768 : 16 + 768 + 3] == b"42\0"
    assert raw[16 + 800 : 16 + 806] == b"quake\0"


def test_table_features_reply_exact_bytes_with_property_padding() -> None:
    tf = mp.TableFeatures(
        table_id=0,
        name="t0",
        metadata_match=0xFF,
        metadata_write=0,
        config=0,
        max_entries=1000,
        properties=(
            mp.TableFeaturePropNextTables(type=c.OFPTFPT_NEXT_TABLES, next_table_ids=(1, 2, 3)),
            mp.TableFeaturePropOxm(
                type=c.OFPTFPT_MATCH, oxm_ids=(mp.OxmId.of(c.OFPXMT_OFB_IN_PORT, 4),)
            ),
        ),
    )
    entry = (
        h("0050 00 0000000000")
        + b"t0".ljust(32, b"\0")
        + h("00000000000000ff 0000000000000000 00000000 000003e8")
        + h("0002 0007 010203 00")  # next tables: length 7, one pad byte
        + h("0008 0008 80000004")  # match: OXM id in_port, length 4
    )
    raw = _hdr(19, 16 + len(entry), 1, c.OFPMP_TABLE_FEATURES) + entry
    msg = mp.TableFeaturesReply(xid=1, body=(tf,))
    assert msg.encode() == raw
    assert decode_message(raw) == msg
    oxm_id = mp.OxmId(header=0x80000004)
    assert (oxm_id.oxm_class, oxm_id.oxm_field, oxm_id.oxm_hasmask, oxm_id.oxm_length) == (
        c.OFPXMC_OPENFLOW_BASIC,
        c.OFPXMT_OFB_IN_PORT,
        False,
        4,
    )


def test_experimenter_ids_carry_their_experimenter() -> None:
    prop = mp.TableFeaturePropInstructions(
        type=c.OFPTFPT_INSTRUCTIONS_MISS,
        instruction_ids=(
            mp.InstructionId(type=c.OFPIT_GOTO_TABLE),
            mp.InstructionIdExperimenter(experimenter=0x2320, exp_data=b"\x01"),
        ),
    )
    # 4 + 4 + 9 = 17 bytes, padded to 24
    assert prop.encode() == h("0001 0011 0001 0004 ffff 0009 00002320 01 00000000000000")
    oxm = mp.OxmIdExperimenter(header=0xFFFF0104, experimenter=0x4F4E4600)
    assert mp.TableFeaturePropOxm(type=c.OFPTFPT_WILDCARDS, oxm_ids=(oxm,)).encode() == h(
        "000a 000c ffff0104 4f4e4600 00000000"
    )


def test_group_and_meter_entries_exact_bytes() -> None:
    gs = mp.GroupStats(
        group_id=5,
        ref_count=1,
        packet_count=2,
        byte_count=3,
        duration_sec=4,
        duration_nsec=5,
        bucket_stats=(mp.BucketCounter(packet_count=6, byte_count=7),),
    )
    assert gs.encode() == h(
        "0038 0000 00000005 00000001 00000000 0000000000000002 0000000000000003"
        "00000004 00000005 0000000000000006 0000000000000007"
    )
    ms = mp.MeterStats(meter_id=9, flow_count=1, band_stats=(mp.MeterBandStats(),))
    assert ms.encode()[:8] == h("00000009 0038 0000")  # len sits after meter_id
    mc = mp.MeterConfig(
        flags=c.OFPMF_KBPS, meter_id=2, bands=(MeterBandDrop(rate=10, burst_size=0),)
    )
    assert mc.encode() == h("0018 0001 00000002 0001 0010 0000000a 00000000 00000000")
    gf = mp.GroupFeaturesReply(
        types=1, capabilities=2, max_groups=(3, 4, 5, 6), actions=(7, 8, 9, 10)
    )
    assert gf.encode()[16:] == h("00000001 00000002" + "".join(f"{i:08x}" for i in range(3, 11)))


def test_experimenter_multipart_exact_bytes() -> None:
    msg = mp.ExperimenterMultipartReply(xid=3, experimenter=0x2320, exp_type=1, data=b"ab")
    raw = h("04 13 001a 00000003 ffff 0000 00000000 00002320 00000001 6162")
    assert msg.encode() == raw
    assert decode_message(raw) == msg


# --- decode errors ---------------------------------------------------------------


def test_unknown_multipart_type_is_bad_multipart() -> None:
    for msg_type in (18, 19):
        e = _decode_error(_hdr(msg_type, 16, 1, 14))
        assert (e.type, e.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_MULTIPART)


@pytest.mark.parametrize(
    "raw",
    [
        h("04 12 000c 00000001 0004 0000"),  # multipart header cut
        _hdr(18, 20, 1, c.OFPMP_PORT_STATS) + h("00000001"),  # short port stats request
        _hdr(18, 24, 1, c.OFPMP_DESC) + bytes(8),  # desc request with a body
        _hdr(19, 16 + 55, 1, c.OFPMP_FLOW) + h("0037") + bytes(53),  # flow stats len 55 < 56
        _hdr(19, 16 + 56, 1, c.OFPMP_FLOW) + h("0040") + bytes(54),  # flow stats len past body
        _hdr(19, 16 + 20, 1, c.OFPMP_TABLE) + bytes(20),  # not a whole table stats entry
        _hdr(19, 16 + 63, 1, c.OFPMP_TABLE_FEATURES) + h("003f") + bytes(61),  # len < 64
        _hdr(19, 16 + 39, 1, c.OFPMP_GROUP) + h("0027") + bytes(37),  # group stats < 40
        _hdr(19, 16 + 48, 1, c.OFPMP_GROUP) + h("0030") + bytes(46),  # half a bucket counter
        _hdr(19, 16 + 48, 1, c.OFPMP_METER) + h("00000000 0030") + bytes(42),  # half a band stat
    ],
)
def test_short_or_inconsistent_bodies_are_bad_len(raw: bytes) -> None:
    e = _decode_error(raw)
    assert (e.type, e.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN)


def _tf_reply(props: bytes) -> bytes:
    entry = h(f"{64 + len(props):04x} 00 0000000000") + bytes(56) + props
    return _hdr(19, 16 + len(entry), 1, c.OFPMP_TABLE_FEATURES) + entry


@pytest.mark.parametrize(
    ("props", "code"),
    [
        (h("0009 0004 00000000"), c.OFPTFFC_BAD_TYPE),  # 9 is not an OFPTFPT_*
        (h("0002 0003 00000000"), c.OFPTFFC_BAD_LEN),  # length below the header
        (h("0002 0005 01"), c.OFPTFFC_BAD_LEN),  # padding missing
        (h("0002 0010 01020304"), c.OFPTFFC_BAD_LEN),  # length past the entry
        (h("0000 0008 0001 0008"), c.OFPTFFC_BAD_LEN),  # plain instruction id of len 8
        (h("0004 0008 ffff 0006"), c.OFPTFFC_BAD_LEN),  # experimenter action id shorter than 8
        (h("0000 0008 ffff 0010"), c.OFPTFFC_BAD_LEN),  # experimenter id past its property
        (h("0008 0006 8000 0000"), c.OFPTFFC_BAD_LEN),  # half an OXM id
        (h("0008 0008 ffff0004"), c.OFPTFFC_BAD_LEN),  # experimenter OXM id without experimenter
        (h("fffe 0008 00000001"), c.OFPTFFC_BAD_LEN),  # experimenter property without exp_type
    ],
)
def test_bad_table_feature_properties(props: bytes, code: int) -> None:
    e = _decode_error(_tf_reply(props))
    assert (e.type, e.code) == (c.OFPET_TABLE_FEATURES_FAILED, code)


def test_bad_match_inside_flow_stats_request_is_a_match_error() -> None:
    raw = _hdr(18, 56, 1, c.OFPMP_FLOW) + bytes(32) + h("0000 0004 00000000")  # OFPMT_STANDARD
    e = _decode_error(raw)
    assert e.type == c.OFPET_BAD_MATCH


# --- encode errors ---------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: mp.DescReply(mfr_desc="x" * 256),
        lambda: mp.DescReply(serial_num="x" * 32),
        lambda: mp.DescReply(dp_desc="caf\u00e9"),
        lambda: mp.PortStatsRequest(port_no=1 << 32),
        lambda: mp.TableStatsRequest(flags=1 << 16),
        lambda: mp.GroupFeaturesReply(max_groups=(1, 2, 3)),
        lambda: mp.TableFeaturesReply(
            body=(
                mp.TableFeatures(
                    table_id=0,
                    properties=(mp.TableFeaturePropOxm(type=c.OFPTFPT_INSTRUCTIONS),),
                ),
            )
        ),
        lambda: mp.TableFeaturesRequest(body=(mp.TableFeatures(table_id=256),)),
        lambda: mp.TableFeaturePropActions(
            type=c.OFPTFPT_APPLY_ACTIONS, action_ids=(mp.ActionId(type=c.OFPAT_EXPERIMENTER),)
        ),
        lambda: mp.TableFeaturePropInstructions(
            type=c.OFPTFPT_INSTRUCTIONS,
            instruction_ids=(mp.InstructionId(type=c.OFPIT_EXPERIMENTER),),
        ),
        lambda: mp.TableFeaturePropOxm(
            type=c.OFPTFPT_MATCH, oxm_ids=(mp.OxmId(header=0xFFFF0004),)
        ),
        lambda: mp.TableFeaturePropOxm(
            type=c.OFPTFPT_MATCH, oxm_ids=(mp.OxmIdExperimenter(header=0x80000004, experimenter=1),)
        ),
        lambda: mp.FlowStatsReply(body=(mp.FlowStats(table_id=0, priority=1 << 16),)),
        lambda: mp.PortStatsReply(body=tuple(mp.PortStats(port_no=0) for _ in range(600))),
    ],
)
def test_invalid_values_do_not_encode(build: object) -> None:
    with pytest.raises(OFPEncodeError):
        build().encode()  # type: ignore[operator]
