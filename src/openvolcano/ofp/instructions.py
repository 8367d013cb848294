"""OpenFlow 1.3 instructions (``OFPIT_*``): what a matching flow entry does next.

Role: the instruction list of a FlowMod and of a flow-stats entry - go to
another table, write metadata, apply or write or clear actions, send through
a meter. magma builds them; quake's pipeline (the paper's Caldera data plane)
executes them.

Design: one frozen keyword-only dataclass per ``OFPIT_*`` type with the C
member names; ``instruction_type`` (a ClassVar) is the ``OFPIT_*`` value.
Action lists are tuples of :mod:`openvolcano.ofp.actions` values.

Decode errors (``OFPET_BAD_INSTRUCTION``): a length that is short, not a
multiple of 8, past the end, or wrong for the type -> ``OFPBIC_BAD_LEN``; an
unknown type -> ``OFPBIC_UNKNOWN_INST``. Errors inside an action list keep
their ``OFPET_BAD_ACTION`` type and code. Whether a table id, meter or
metadata mask is supported is the switch's decision.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import ClassVar, Final, Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import Action, decode_actions, encode_actions
from openvolcano.ofp.errors import OFPEncodeError
from openvolcano.ofp.wire import Reader, check_uint

__all__ = [
    "Instruction",
    "InstructionApplyActions",
    "InstructionClearActions",
    "InstructionExperimenter",
    "InstructionGotoTable",
    "InstructionMeter",
    "InstructionWriteActions",
    "InstructionWriteMetadata",
    "decode_instruction",
    "decode_instructions",
    "encode_instructions",
]

# struct ofp_instruction { uint16_t type; uint16_t len; };
INSTRUCTION_HEADER = struct.Struct("!HH")
assert INSTRUCTION_HEADER.size == c.OFP_INSTRUCTION_LEN

# struct ofp_instruction_goto_table { uint16_t type; uint16_t len; uint8_t table_id; uint8_t pad[3]; };
INSTRUCTION_GOTO_TABLE = struct.Struct("!HHB3x")
assert INSTRUCTION_GOTO_TABLE.size == c.OFP_INSTRUCTION_GOTO_TABLE_LEN

# struct ofp_instruction_write_metadata { uint16_t type; uint16_t len; uint8_t pad[4];
#                                         uint64_t metadata; uint64_t metadata_mask; };
INSTRUCTION_WRITE_METADATA = struct.Struct("!HH4xQQ")
assert INSTRUCTION_WRITE_METADATA.size == c.OFP_INSTRUCTION_WRITE_METADATA_LEN

# struct ofp_instruction_actions { uint16_t type; uint16_t len; uint8_t pad[4];
#                                  struct ofp_action_header actions[0]; };
INSTRUCTION_ACTIONS = struct.Struct("!HH4x")
assert INSTRUCTION_ACTIONS.size == c.OFP_INSTRUCTION_ACTIONS_LEN

# struct ofp_instruction_meter { uint16_t type; uint16_t len; uint32_t meter_id; };
# struct ofp_instruction_experimenter { uint16_t type; uint16_t len; uint32_t experimenter; };
INSTRUCTION_U32 = struct.Struct("!HHI")
assert INSTRUCTION_U32.size == c.OFP_INSTRUCTION_METER_LEN == c.OFP_INSTRUCTION_EXPERIMENTER_LEN

_MAX_LEN: Final = 0xFFFF


class _InstructionBase:
    instruction_type: ClassVar[int]

    def encode(self) -> bytes:
        raise NotImplementedError(type(self).__name__)


@dataclass(frozen=True, kw_only=True)
class InstructionGotoTable(_InstructionBase):
    """OFPIT_GOTO_TABLE: continue the pipeline at table ``table_id``."""

    instruction_type: ClassVar[int] = c.OFPIT_GOTO_TABLE
    table_id: int

    def encode(self) -> bytes:
        check_uint("table_id", self.table_id, 8)
        return INSTRUCTION_GOTO_TABLE.pack(
            self.instruction_type, INSTRUCTION_GOTO_TABLE.size, self.table_id
        )

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        (table_id,) = struct.unpack("!B3x", r.bytes(4))
        return cls(table_id=table_id)


@dataclass(frozen=True, kw_only=True)
class InstructionWriteMetadata(_InstructionBase):
    """OFPIT_WRITE_METADATA: ``metadata = (metadata & ~mask) | (value & mask)``."""

    instruction_type: ClassVar[int] = c.OFPIT_WRITE_METADATA
    metadata: int
    metadata_mask: int = 0xFFFF_FFFF_FFFF_FFFF

    def encode(self) -> bytes:
        check_uint("metadata", self.metadata, 64)
        check_uint("metadata_mask", self.metadata_mask, 64)
        return INSTRUCTION_WRITE_METADATA.pack(
            self.instruction_type,
            INSTRUCTION_WRITE_METADATA.size,
            self.metadata,
            self.metadata_mask,
        )

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        r.skip(4)
        return cls(metadata=r.u64(), metadata_mask=r.u64())


@dataclass(frozen=True, kw_only=True)
class _WithActions(_InstructionBase):
    actions: tuple[Action, ...] = ()

    def encode(self) -> bytes:
        body = encode_actions(self.actions)
        length = INSTRUCTION_ACTIONS.size + len(body)
        if length > _MAX_LEN:
            raise OFPEncodeError(f"instruction with {len(body)} bytes of actions is too long")
        return INSTRUCTION_ACTIONS.pack(self.instruction_type, length) + body

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        r.skip(4)
        return cls(actions=decode_actions(r))


@dataclass(frozen=True, kw_only=True)
class InstructionWriteActions(_WithActions):
    """OFPIT_WRITE_ACTIONS: merge ``actions`` into the action set."""

    instruction_type: ClassVar[int] = c.OFPIT_WRITE_ACTIONS


@dataclass(frozen=True, kw_only=True)
class InstructionApplyActions(_WithActions):
    """OFPIT_APPLY_ACTIONS: apply ``actions`` to the packet now, in order."""

    instruction_type: ClassVar[int] = c.OFPIT_APPLY_ACTIONS


@dataclass(frozen=True, kw_only=True)
class InstructionClearActions(_InstructionBase):
    """OFPIT_CLEAR_ACTIONS: empty the action set (encoded with no actions)."""

    instruction_type: ClassVar[int] = c.OFPIT_CLEAR_ACTIONS

    def encode(self) -> bytes:
        return INSTRUCTION_ACTIONS.pack(self.instruction_type, INSTRUCTION_ACTIONS.size)

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        r.skip(4)
        return cls()


@dataclass(frozen=True, kw_only=True)
class InstructionMeter(_InstructionBase):
    """OFPIT_METER: send the packet through meter ``meter_id``."""

    instruction_type: ClassVar[int] = c.OFPIT_METER
    meter_id: int

    def encode(self) -> bytes:
        check_uint("meter_id", self.meter_id, 32)
        return INSTRUCTION_U32.pack(self.instruction_type, INSTRUCTION_U32.size, self.meter_id)

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        return cls(meter_id=r.u32())


@dataclass(frozen=True, kw_only=True)
class InstructionExperimenter(_InstructionBase):
    """OFPIT_EXPERIMENTER: ``data`` follows the id; 8 + len(data) must be a multiple of 8."""

    instruction_type: ClassVar[int] = c.OFPIT_EXPERIMENTER
    experimenter: int
    data: bytes = b""

    def encode(self) -> bytes:
        check_uint("experimenter", self.experimenter, 32)
        length = INSTRUCTION_U32.size + len(self.data)
        if length % 8 or length > _MAX_LEN:
            raise OFPEncodeError(
                f"experimenter instruction data of {len(self.data)} bytes: "
                "the instruction must be a multiple of 8 bytes"
            )
        return INSTRUCTION_U32.pack(self.instruction_type, length, self.experimenter) + self.data

    @classmethod
    def _decode(cls, r: Reader) -> Self:
        return cls(experimenter=r.u32(), data=r.rest())


Instruction = (
    InstructionGotoTable
    | InstructionWriteMetadata
    | InstructionWriteActions
    | InstructionApplyActions
    | InstructionClearActions
    | InstructionMeter
    | InstructionExperimenter
)

# type -> (exact length or None for "8 or more", decoder)
_DECODERS: Final[dict[int, tuple[int | None, Callable[[Reader], Instruction]]]] = {
    c.OFPIT_GOTO_TABLE: (INSTRUCTION_GOTO_TABLE.size, InstructionGotoTable._decode),
    c.OFPIT_WRITE_METADATA: (INSTRUCTION_WRITE_METADATA.size, InstructionWriteMetadata._decode),
    c.OFPIT_WRITE_ACTIONS: (None, InstructionWriteActions._decode),
    c.OFPIT_APPLY_ACTIONS: (None, InstructionApplyActions._decode),
    c.OFPIT_CLEAR_ACTIONS: (INSTRUCTION_ACTIONS.size, InstructionClearActions._decode),
    c.OFPIT_METER: (INSTRUCTION_U32.size, InstructionMeter._decode),
    c.OFPIT_EXPERIMENTER: (None, InstructionExperimenter._decode),
}


def decode_instruction(r: Reader) -> Instruction:
    """Consume one instruction from ``r``."""
    if r.remaining() < INSTRUCTION_HEADER.size:
        raise r.fail("truncated instruction header", c.OFPET_BAD_INSTRUCTION, c.OFPBIC_BAD_LEN)
    type_, length = r.unpack(INSTRUCTION_HEADER)
    if length < 8 or length % 8 or length - 4 > r.remaining():
        raise r.fail(
            f"instruction type {type_} has bad length {length} ({r.remaining() + 4} bytes left)",
            c.OFPET_BAD_INSTRUCTION,
            c.OFPBIC_BAD_LEN,
        )
    body = r.sub(length - 4, err_type=c.OFPET_BAD_INSTRUCTION, err_code=c.OFPBIC_BAD_LEN)
    entry = _DECODERS.get(type_)
    if entry is None:
        raise r.fail(
            f"unknown instruction type {type_}", c.OFPET_BAD_INSTRUCTION, c.OFPBIC_UNKNOWN_INST
        )
    size, decode = entry
    if size is not None and length != size:
        raise r.fail(
            f"{c.name_of('OFPIT_', type_)} has length {length}, expected {size}",
            c.OFPET_BAD_INSTRUCTION,
            c.OFPBIC_BAD_LEN,
        )
    return decode(body)


# Decoded instruction lists by their wire bytes. Controllers send the same few action
# lists with thousands of flow-mods; the decoded objects are frozen, so a repeat is one
# dict probe. Only successful decodes are kept (errors are raised afresh every time);
# bounded: emptied when full.
_DECODED: dict[bytes, tuple[Instruction, ...]] = {}
_DECODED_MAX = 1024
_DECODED_MAX_LEN = 256


def decode_instructions(r: Reader) -> tuple[Instruction, ...]:
    """Decode instructions until ``r`` is exhausted (bound it with ``r.sub`` first)."""
    n = r.end - r.pos
    if not n:
        return ()
    raw = bytes(r.buf[r.pos : r.end]) if n <= _DECODED_MAX_LEN else None
    if raw is not None:
        hit = _DECODED.get(raw)
        if hit is not None:
            r.pos = r.end
            return hit
    out: list[Instruction] = []
    while r.remaining():
        out.append(decode_instruction(r))
    result = tuple(out)
    if raw is not None:
        if len(_DECODED) >= _DECODED_MAX:
            _DECODED.clear()
        _DECODED[raw] = result
    return result


def encode_instructions(instructions: Iterable[Instruction]) -> bytes:
    return b"".join(i.encode() for i in instructions)
