"""PACKET_IN/OUT, FLOW_MOD, FLOW_REMOVED, PORT_STATUS, GROUP_MOD and METER_MOD."""

from __future__ import annotations

import pytest

from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput, ActionPopVlan
from openvolcano.ofp.base import Message, decode_message
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError
from openvolcano.ofp.instructions import InstructionApplyActions, InstructionGotoTable
from openvolcano.ofp.messages import (
    FlowMod,
    FlowRemoved,
    GroupMod,
    MeterMod,
    PacketIn,
    PacketOut,
    PortStatus,
)
from openvolcano.ofp.oxm import Match
from openvolcano.ofp.structs import Bucket, MeterBandDrop, Port

IN_PORT_1 = "0001 000c 80000004 00000001 00000000"  # ofp_match{in_port=1}, padded to 16
EMPTY_MATCH = "0001 0004 00000000"
OUTPUT_2 = "0000 0010 00000002 ffff 000000000000"  # ActionOutput(port=2), max_len NO_BUFFER

EXACT: list[tuple[Message, str]] = [
    (
        PacketIn(
            xid=1,
            buffer_id=c.OFP_NO_BUFFER,
            total_len=60,
            reason=c.OFPR_ACTION,
            table_id=2,
            cookie=0xABC,
            match=Match.of(in_port=1),
            data=b"\xaa\xbb",
        ),
        f"04 0a 002c 00000001 ffffffff 003c 01 02 0000000000000abc {IN_PORT_1} 0000 aabb",
    ),
    (
        FlowRemoved(
            xid=2,
            cookie=1,
            priority=100,
            reason=c.OFPRR_HARD_TIMEOUT,
            table_id=0,
            duration_sec=3,
            duration_nsec=4,
            idle_timeout=5,
            hard_timeout=6,
            packet_count=7,
            byte_count=8,
            match=Match(),
        ),
        "04 0b 0038 00000002 0000000000000001 0064 01 00 00000003 00000004 0005 0006"
        f" 0000000000000007 0000000000000008 {EMPTY_MATCH}",
    ),
    (
        PortStatus(xid=3, reason=c.OFPPR_DELETE, desc=Port(port_no=1, name="p1")),
        "04 0c 0050 00000003 01 00000000000000"
        " 00000001 00000000 000000000000 0000 7031" + "00" * 14 + " 00000000" * 8,
    ),
    (
        PacketOut(xid=4, in_port=c.OFPP_CONTROLLER, actions=(ActionOutput(port=2),), data=b"\x01"),
        f"04 0d 0029 00000004 ffffffff fffffffd 0010 000000000000 {OUTPUT_2} 01",
    ),
    (
        FlowMod(
            xid=5,
            cookie=0x10,
            cookie_mask=0,
            table_id=1,
            command=c.OFPFC_ADD,
            idle_timeout=30,
            hard_timeout=0,
            priority=0x8000,
            flags=c.OFPFF_SEND_FLOW_REM,
            match=Match.of(in_port=1),
            instructions=(InstructionGotoTable(table_id=2),),
        ),
        "04 0e 0048 00000005 0000000000000010 0000000000000000 01 00 001e 0000 8000"
        f" ffffffff ffffffff ffffffff 0001 0000 {IN_PORT_1} 0001 0008 02 000000",
    ),
    (
        GroupMod(
            xid=6,
            command=c.OFPGC_ADD,
            type=c.OFPGT_SELECT,
            group_id=1,
            buckets=(Bucket(weight=1, actions=(ActionOutput(port=2),)),),
        ),
        f"04 0f 0030 00000006 0000 01 00 00000001 0020 0001 ffffffff ffffffff 00000000 {OUTPUT_2}",
    ),
    (
        MeterMod(
            xid=7,
            command=c.OFPMC_ADD,
            flags=c.OFPMF_KBPS | c.OFPMF_BURST,
            meter_id=1,
            bands=(MeterBandDrop(rate=1000, burst_size=100),),
        ),
        "04 1d 0020 00000007 0000 0005 00000001 0001 0010 000003e8 00000064 00000000",
    ),
]


def _decode_or_error(raw: bytes) -> Message | OFPDecodeError:
    try:
        return decode_message(raw)
    except OFPDecodeError as e:
        return e


@pytest.mark.parametrize(("msg", "wire"), EXACT, ids=lambda x: type(x).__name__)
def test_exact_bytes_and_round_trip(msg: Message, wire: str) -> None:
    raw = bytes.fromhex(wire)
    assert msg.encode() == raw
    assert decode_message(raw) == msg


@pytest.mark.parametrize(("msg", "wire"), EXACT, ids=lambda x: type(x).__name__)
def test_every_truncation_raises_a_length_error(msg: Message, wire: str) -> None:
    """Cutting the message anywhere gives a *_BAD_LEN-style error or a shorter valid list."""
    raw = bytes.fromhex(wire)
    length_errors = {
        (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN),
        (c.OFPET_BAD_MATCH, c.OFPBMC_BAD_LEN),
        (c.OFPET_BAD_ACTION, c.OFPBAC_BAD_LEN),
        (c.OFPET_BAD_INSTRUCTION, c.OFPBIC_BAD_LEN),
        (c.OFPET_GROUP_MOD_FAILED, c.OFPGMFC_BAD_BUCKET),
    }
    for n in range(8, len(raw)):
        cut = raw[:2] + n.to_bytes(2, "big") + raw[4:n]
        out = _decode_or_error(cut)
        if isinstance(out, OFPDecodeError):
            assert (out.type, out.code) in length_errors, (n, out)
        else:  # data/payload or whole list entries may go
            assert type(out) is type(msg), n
            assert isinstance(msg, (PacketIn, PacketOut, FlowMod, GroupMod, MeterMod)), n


def test_flow_mod_defaults() -> None:
    fm = FlowMod()
    assert (fm.command, fm.priority, fm.buffer_id, fm.out_port, fm.out_group) == (
        c.OFPFC_ADD,
        c.OFP_DEFAULT_PRIORITY,
        c.OFP_NO_BUFFER,
        c.OFPP_ANY,
        c.OFPG_ANY,
    )
    assert len(fm.encode()) == c.OFP_FLOW_MOD_LEN


def test_flow_mod_with_apply_actions_round_trips() -> None:
    fm = FlowMod(
        match=Match.of(in_port=3, eth_type=0x0800, ipv4_dst=("10.0.0.0", "255.0.0.0")),
        instructions=(
            InstructionApplyActions(actions=(ActionPopVlan(), ActionOutput(port=4))),
            InstructionGotoTable(table_id=9),
        ),
    )
    assert decode_message(fm.encode()) == fm


def _with_length(raw: bytes) -> bytes:
    return raw[:2] + len(raw).to_bytes(2, "big") + raw[4:]


FLOW_MOD_HEAD = (
    "04 0e 0000 00000005" + "00" * 16 + "01 00 0000 0000 8000 ffffffff ffffffff ffffffff 0000 0000"
)


@pytest.mark.parametrize(
    ("raw", "err"),
    [
        # actions_len past the end of the message
        (
            _with_length(
                bytes.fromhex(f"04 0d 0000 00000001 ffffffff fffffffd 0020 000000000000 {OUTPUT_2}")
            ),
            (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN),
        ),
        # unknown action type inside a PACKET_OUT
        (
            _with_length(
                bytes.fromhex(
                    "04 0d 0000 00000001 ffffffff fffffffd 0008 000000000000 7777 0008 00000000"
                )
            ),
            (c.OFPET_BAD_ACTION, c.OFPBAC_BAD_TYPE),
        ),
        # unknown instruction type inside a FLOW_MOD
        (
            _with_length(bytes.fromhex(f"{FLOW_MOD_HEAD} {EMPTY_MATCH} 0042 0008 00000000")),
            (c.OFPET_BAD_INSTRUCTION, c.OFPBIC_UNKNOWN_INST),
        ),
        # match type OFPMT_STANDARD (1.0/1.1 style) in a FLOW_MOD
        (
            _with_length(bytes.fromhex(f"{FLOW_MOD_HEAD} 0000 0004 00000000")),
            (c.OFPET_BAD_MATCH, c.OFPBMC_BAD_TYPE),
        ),
        # unknown meter band type
        (
            _with_length(
                bytes.fromhex(
                    "04 1d 0000 00000007 0000 0001 00000001 0009 0010 00000001 00000001 00000000"
                )
            ),
            (c.OFPET_METER_MOD_FAILED, c.OFPMMFC_BAD_BAND),
        ),
        # bucket shorter than ofp_bucket
        (
            _with_length(
                bytes.fromhex("04 0f 0000 00000006 0000 00 00 00000001 0008 0000 00000000")
            ),
            (c.OFPET_GROUP_MOD_FAILED, c.OFPGMFC_BAD_BUCKET),
        ),
        # PACKET_IN without the 2 pad bytes after the match
        (
            _with_length(
                bytes.fromhex(
                    f"04 0a 0000 00000001 ffffffff 003c 01 02 0000000000000abc {EMPTY_MATCH} 00"
                )
            ),
            (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN),
        ),
    ],
)
def test_bad_content_raises_the_structure_error(raw: bytes, err: tuple[int, int]) -> None:
    with pytest.raises(OFPDecodeError) as ei:
        decode_message(raw)
    assert (ei.value.type, ei.value.code) == err
    assert ei.value.data == raw[:64]


@pytest.mark.parametrize(
    "msg",
    [
        FlowMod(priority=1 << 16),
        FlowMod(cookie=-1),
        PacketIn(total_len=1 << 16),
        PacketOut(buffer_id=1 << 32),
        FlowRemoved(byte_count=1 << 64),
        PortStatus(reason=256, desc=Port(port_no=1)),
        GroupMod(group_id=1, type=256),
        MeterMod(meter_id=1 << 32),
        PacketOut(data=b"x" * 0x10000),
    ],
)
def test_out_of_range_fields_do_not_encode(msg: Message) -> None:
    with pytest.raises(OFPEncodeError):
        msg.encode()
