"""OFPIT_* instructions: every type, hand-built wire vectors, every decode error."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies_oxm import instruction_lists, instructions

from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionGroup, ActionOutput, ActionPopVlan
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError
from openvolcano.ofp.instructions import (
    Instruction,
    InstructionApplyActions,
    InstructionClearActions,
    InstructionExperimenter,
    InstructionGotoTable,
    InstructionMeter,
    InstructionWriteActions,
    InstructionWriteMetadata,
    decode_instruction,
    decode_instructions,
    encode_instructions,
)
from openvolcano.ofp.wire import Reader

VECTORS: list[tuple[Instruction, str]] = [
    (InstructionGotoTable(table_id=3), "0001 0008 03 000000"),
    (
        InstructionWriteMetadata(metadata=0x1122334455667788, metadata_mask=0xFF),
        "0002 0018 00000000 1122334455667788 00000000000000ff",
    ),
    (
        InstructionWriteActions(actions=(ActionGroup(group_id=9),)),
        "0003 0010 00000000 0016000800000009",
    ),
    (
        InstructionApplyActions(actions=(ActionPopVlan(), ActionOutput(port=2, max_len=0))),
        "0004 0020 00000000 0012000800000000 0000001000000002 0000 000000000000",
    ),
    (InstructionApplyActions(), "0004 0008 00000000"),
    (InstructionClearActions(), "0005 0008 00000000"),
    (InstructionMeter(meter_id=0xFFFF0000), "0006 0008 ffff0000"),
    (InstructionExperimenter(experimenter=0x4F4E4600), "ffff 0008 4f4e4600"),
    (
        InstructionExperimenter(experimenter=1, data=b"\xab" * 8),
        "ffff 0010 00000001 abababababababab",
    ),
]


@pytest.mark.parametrize(("inst", "hexwire"), VECTORS, ids=lambda v: type(v).__name__)
def test_exact_bytes_and_round_trip(inst: Instruction, hexwire: str) -> None:
    wire = bytes.fromhex(hexwire.replace(" ", ""))
    assert inst.encode() == wire
    r = Reader(wire)
    assert decode_instruction(r) == inst
    assert r.remaining() == 0


def test_every_ofpit_type_has_a_class() -> None:
    types = {getattr(c, n) for n in dir(c) if n.startswith("OFPIT_")}
    assert {type(i).instruction_type for i, _ in VECTORS} == types


def test_write_metadata_mask_defaults_to_all_ones() -> None:
    assert InstructionWriteMetadata(metadata=1).metadata_mask == (1 << 64) - 1


def _hdr(type_: int, length: int) -> bytes:
    return struct.pack("!HH", type_, length)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x00\x01", c.OFPBIC_BAD_LEN),
        (_hdr(c.OFPIT_GOTO_TABLE, 4), c.OFPBIC_BAD_LEN),
        (_hdr(c.OFPIT_GOTO_TABLE, 8) + b"\x01", c.OFPBIC_BAD_LEN),  # truncated
        (_hdr(c.OFPIT_GOTO_TABLE, 16) + b"\0" * 12, c.OFPBIC_BAD_LEN),
        (_hdr(c.OFPIT_WRITE_METADATA, 16) + b"\0" * 12, c.OFPBIC_BAD_LEN),
        (_hdr(c.OFPIT_CLEAR_ACTIONS, 16) + b"\0" * 12, c.OFPBIC_BAD_LEN),  # clear has no actions
        (_hdr(c.OFPIT_METER, 12) + b"\0" * 8, c.OFPBIC_BAD_LEN),
        (_hdr(c.OFPIT_APPLY_ACTIONS, 20) + b"\0" * 16, c.OFPBIC_BAD_LEN),
        (_hdr(0, 8) + b"\0" * 4, c.OFPBIC_UNKNOWN_INST),
        (_hdr(7, 8) + b"\0" * 4, c.OFPBIC_UNKNOWN_INST),
        (_hdr(0xFFFE, 8) + b"\0" * 4, c.OFPBIC_UNKNOWN_INST),
    ],
)
def test_decode_errors(data: bytes, code: int) -> None:
    with pytest.raises(OFPDecodeError) as ei:
        decode_instructions(Reader(data))
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_INSTRUCTION, code)


def test_errors_inside_an_action_list_are_action_errors() -> None:
    bad_action = _hdr(1, 8) + b"\0" * 4  # unknown action type
    data = _hdr(c.OFPIT_APPLY_ACTIONS, 16) + b"\0" * 4 + bad_action
    with pytest.raises(OFPDecodeError) as ei:
        decode_instructions(Reader(data))
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_ACTION, c.OFPBAC_BAD_TYPE)


@pytest.mark.parametrize(
    "inst",
    [
        InstructionGotoTable(table_id=256),
        InstructionWriteMetadata(metadata=1 << 64),
        InstructionMeter(meter_id=-1),
        InstructionExperimenter(experimenter=1, data=b"\0"),
        InstructionApplyActions(actions=(ActionOutput(port=1 << 32),)),
        InstructionWriteActions(actions=(ActionGroup(group_id=1),) * 8200),
    ],
    ids=lambda i: type(i).__name__,
)
def test_encode_errors(inst: Instruction) -> None:
    with pytest.raises(OFPEncodeError):
        inst.encode()


def _decode_error_type(data: bytes) -> int | None:
    """The OFPET type of the decode error ``data`` raises, None if it decodes."""
    try:
        decode_instructions(Reader(data))
    except OFPDecodeError as e:
        return e.type
    return None


@given(instruction_lists())
def test_round_trip(insts: tuple[Instruction, ...]) -> None:
    wire = encode_instructions(insts)
    assert len(wire) % 8 == 0
    assert decode_instructions(Reader(wire)) == insts


@given(st.binary(max_size=48))
def test_random_bytes_only_raise_decode_errors(data: bytes) -> None:
    assert _decode_error_type(data) in (None, c.OFPET_BAD_INSTRUCTION, c.OFPET_BAD_ACTION)


@given(instructions(), st.data())
def test_mutated_instructions_only_raise_decode_errors(
    inst: Instruction, data: st.DataObject
) -> None:
    wire = bytearray(inst.encode())
    i = data.draw(st.integers(0, len(wire) - 1))
    wire[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    assert _decode_error_type(bytes(wire[:cut])) in (
        None,
        c.OFPET_BAD_INSTRUCTION,
        c.OFPET_BAD_ACTION,
    )
