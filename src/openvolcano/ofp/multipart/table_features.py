"""Table features (OFPMP_TABLE_FEATURES): what each of quake's tables can match, do and jump to.

Role: magma reads these once per switch to know quake's pipeline (the paper's
multi-table fast path) before it compiles crater's policies into flow-mods; a
controller may also send a full list to reconfigure the pipeline.

Design: :class:`TableFeatures` (``ofp_table_features``) holds a tuple of
properties, one frozen dataclass per property struct of ``openflow.h``:

* :class:`TableFeaturePropInstructions` - ``OFPTFPT_INSTRUCTIONS[_MISS]``,
  ``instruction_ids`` of :class:`InstructionId` / :class:`InstructionIdExperimenter`;
* :class:`TableFeaturePropNextTables` - ``OFPTFPT_NEXT_TABLES[_MISS]``, ``next_table_ids``;
* :class:`TableFeaturePropActions` - ``OFPTFPT_{WRITE,APPLY}_ACTIONS[_MISS]``,
  ``action_ids`` of :class:`ActionId` / :class:`ActionIdExperimenter`;
* :class:`TableFeaturePropOxm` - ``OFPTFPT_MATCH``, ``OFPTFPT_WILDCARDS``,
  ``OFPTFPT_{WRITE,APPLY}_SETFIELD[_MISS]``, ``oxm_ids`` of :class:`OxmId`
  (the raw 32-bit OXM header) / :class:`OxmIdExperimenter` (header + experimenter id);
* :class:`TableFeaturePropExperimenter` - ``OFPTFPT_EXPERIMENTER[_MISS]``.

Each property class carries its ``type`` (the property struct is shared by
the table and table-miss variants). The ids encode only the ``type``/``len``
header (plus the experimenter id and any experimenter data), never a full
action or instruction.

Invariants: every property is followed by ``(length + 7) / 8 * 8 - length``
zero pad bytes and the ``ofp_table_features.length`` counts them; a bad
property length is ``OFPET_TABLE_FEATURES_FAILED/OFPTFFC_BAD_LEN`` and an
unknown property type ``OFPTFFC_BAD_TYPE``; a short entry is
``OFPET_BAD_REQUEST/OFPBRC_BAD_LEN``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.errors import OFPEncodeError
from openvolcano.ofp.multipart.base import (
    EntryListReply,
    EntryListRequest,
    encode_entries,
    register_reply,
    register_request,
)
from openvolcano.ofp.wire import Reader, check_uint, encode_cstr, padding

__all__ = [
    "ActionId",
    "ActionIdExperimenter",
    "InstructionId",
    "InstructionIdExperimenter",
    "OxmId",
    "OxmIdExperimenter",
    "TableFeatureProp",
    "TableFeaturePropActions",
    "TableFeaturePropExperimenter",
    "TableFeaturePropInstructions",
    "TableFeaturePropNextTables",
    "TableFeaturePropOxm",
    "TableFeatures",
    "TableFeaturesReply",
    "TableFeaturesRequest",
    "decode_table_feature_props",
]

_TFF = c.OFPET_TABLE_FEATURES_FAILED

# struct ofp_instruction_id {            struct ofp_action_id {
#     uint16_t type;                         uint16_t type;
#     uint16_t len;  /* 4 or experimenter */ uint16_t len;
#     uint8_t exp_data[0];                   uint8_t exp_data[0];
# };                                     };
# (1.3.5 names; an experimenter id starts exp_data with its uint32_t experimenter)
_ID_HEADER = struct.Struct("!HH")
assert _ID_HEADER.size == 4
_ID_EXPERIMENTER = struct.Struct("!HHI")
assert _ID_EXPERIMENTER.size == 8


def _decode_id(r: Reader, exp_type: int, what: str) -> tuple[int, int | None, bytes]:
    """(type, experimenter or None, exp_data after the experimenter id) of one id."""
    type_, length = r.unpack(_ID_HEADER)
    if type_ != exp_type:
        if length != _ID_HEADER.size:
            raise r.fail(
                f"{what} id of type {type_} has len {length}, not 4", _TFF, c.OFPTFFC_BAD_LEN
            )
        return type_, None, b""
    if length < _ID_EXPERIMENTER.size:
        raise r.fail(f"experimenter {what} id has len {length} < 8", _TFF, c.OFPTFFC_BAD_LEN)
    if length - _ID_HEADER.size > r.remaining():
        raise r.fail(
            f"experimenter {what} id of len {length} runs past its property",
            _TFF,
            c.OFPTFFC_BAD_LEN,
        )
    experimenter = r.u32()
    return type_, experimenter, r.bytes(length - _ID_EXPERIMENTER.size)


def _encode_exp_id(type_: int, experimenter: int, exp_data: bytes) -> bytes:
    length = check_uint("experimenter id len", _ID_EXPERIMENTER.size + len(exp_data), 16)
    return (
        _ID_EXPERIMENTER.pack(type_, length, check_uint("experimenter", experimenter, 32))
        + exp_data
    )


@dataclass(frozen=True, kw_only=True)
class InstructionId:
    """An instruction type a table supports (``OFPIT_*`` but experimenter): 4 bytes."""

    type: int

    def encode(self) -> bytes:
        if check_uint("InstructionId.type", self.type, 16) == c.OFPIT_EXPERIMENTER:
            raise OFPEncodeError("use InstructionIdExperimenter for OFPIT_EXPERIMENTER")
        return _ID_HEADER.pack(self.type, _ID_HEADER.size)


@dataclass(frozen=True, kw_only=True)
class InstructionIdExperimenter:
    """An experimenter instruction id: ``OFPIT_EXPERIMENTER``, len, experimenter, exp_data."""

    experimenter: int
    exp_data: bytes = b""

    def encode(self) -> bytes:
        return _encode_exp_id(c.OFPIT_EXPERIMENTER, self.experimenter, self.exp_data)


@dataclass(frozen=True, kw_only=True)
class ActionId:
    """An action type a table supports (``OFPAT_*`` but experimenter): 4 bytes."""

    type: int

    def encode(self) -> bytes:
        if check_uint("ActionId.type", self.type, 16) == c.OFPAT_EXPERIMENTER:
            raise OFPEncodeError("use ActionIdExperimenter for OFPAT_EXPERIMENTER")
        return _ID_HEADER.pack(self.type, _ID_HEADER.size)


@dataclass(frozen=True, kw_only=True)
class ActionIdExperimenter:
    """An experimenter action id: ``OFPAT_EXPERIMENTER``, len, experimenter, exp_data."""

    experimenter: int
    exp_data: bytes = b""

    def encode(self) -> bytes:
        return _encode_exp_id(c.OFPAT_EXPERIMENTER, self.experimenter, self.exp_data)


def _oxm_class(header: int) -> int:
    return header >> 16


@dataclass(frozen=True, kw_only=True)
class OxmId:
    """A non-experimenter OXM id: the 32-bit OXM header (class | field | hasmask | length).

    Since 1.3.3 ``oxm_length`` is the payload length; switches disagree on
    whether ``hasmask`` doubles it, so the header is kept raw and byte-exact.
    """

    header: int

    @classmethod
    def of(cls, oxm_field: int, oxm_length: int, oxm_hasmask: bool = False) -> Self:
        """The id of an ``OFPXMC_OPENFLOW_BASIC`` field."""
        return cls(
            header=(c.OFPXMC_OPENFLOW_BASIC << 16)
            | (oxm_field << 9)
            | (int(oxm_hasmask) << 8)
            | oxm_length
        )

    @property
    def oxm_class(self) -> int:
        return _oxm_class(self.header)

    @property
    def oxm_field(self) -> int:
        return (self.header >> 9) & 0x7F

    @property
    def oxm_hasmask(self) -> bool:
        return bool(self.header >> 8 & 1)

    @property
    def oxm_length(self) -> int:
        return self.header & 0xFF

    def encode(self) -> bytes:
        check_uint("OxmId.header", self.header, 32)
        if _oxm_class(self.header) == c.OFPXMC_EXPERIMENTER:
            raise OFPEncodeError("use OxmIdExperimenter for OFPXMC_EXPERIMENTER headers")
        return struct.pack("!I", self.header)


@dataclass(frozen=True, kw_only=True)
class OxmIdExperimenter:
    """An experimenter OXM id: the 32-bit header (class ``OFPXMC_EXPERIMENTER``) + experimenter id."""

    header: int
    experimenter: int

    def encode(self) -> bytes:
        check_uint("OxmIdExperimenter.header", self.header, 32)
        if _oxm_class(self.header) != c.OFPXMC_EXPERIMENTER:
            raise OFPEncodeError("OxmIdExperimenter.header must have class OFPXMC_EXPERIMENTER")
        return struct.pack("!II", self.header, check_uint("experimenter", self.experimenter, 32))


# struct ofp_table_feature_prop_header {
#     uint16_t type;   /* One of OFPTFPT_*. */
#     uint16_t length; /* Length in bytes of this property. */
# };
_PROP_HEADER = struct.Struct("!HH")
assert _PROP_HEADER.size == c.OFP_TABLE_FEATURE_PROP_HEADER_LEN == 4

_INSTRUCTION_TYPES = frozenset({c.OFPTFPT_INSTRUCTIONS, c.OFPTFPT_INSTRUCTIONS_MISS})
_NEXT_TABLES_TYPES = frozenset({c.OFPTFPT_NEXT_TABLES, c.OFPTFPT_NEXT_TABLES_MISS})
_ACTION_TYPES = frozenset(
    {
        c.OFPTFPT_WRITE_ACTIONS,
        c.OFPTFPT_WRITE_ACTIONS_MISS,
        c.OFPTFPT_APPLY_ACTIONS,
        c.OFPTFPT_APPLY_ACTIONS_MISS,
    }
)
_OXM_TYPES = frozenset(
    {
        c.OFPTFPT_MATCH,
        c.OFPTFPT_WILDCARDS,
        c.OFPTFPT_WRITE_SETFIELD,
        c.OFPTFPT_WRITE_SETFIELD_MISS,
        c.OFPTFPT_APPLY_SETFIELD,
        c.OFPTFPT_APPLY_SETFIELD_MISS,
    }
)
_EXPERIMENTER_TYPES = frozenset({c.OFPTFPT_EXPERIMENTER, c.OFPTFPT_EXPERIMENTER_MISS})


def _encode_prop(type_: int, allowed: frozenset[int], cls_name: str, payload: bytes) -> bytes:
    if type_ not in allowed:
        raise OFPEncodeError(f"{cls_name} cannot have type {type_}")
    length = check_uint(f"{cls_name} length", _PROP_HEADER.size + len(payload), 16)
    return _PROP_HEADER.pack(type_, length) + payload + b"\0" * padding(length)


# struct ofp_table_feature_prop_instructions {
#     uint16_t type;   /* One of OFPTFPT_INSTRUCTIONS, OFPTFPT_INSTRUCTIONS_MISS. */
#     uint16_t length; /* Length in bytes of this property. */
#     struct ofp_instruction_id instruction_ids[0]; /* List of instructions */
# };
@dataclass(frozen=True, kw_only=True)
class TableFeaturePropInstructions:
    type: int
    instruction_ids: tuple[InstructionId | InstructionIdExperimenter, ...] = ()

    def encode(self) -> bytes:
        payload = encode_entries(self.instruction_ids)
        return _encode_prop(self.type, _INSTRUCTION_TYPES, type(self).__name__, payload)

    @classmethod
    def decode_payload(cls, type_: int, r: Reader) -> Self:
        ids: list[InstructionId | InstructionIdExperimenter] = []
        while r.remaining():
            t, exp, data = _decode_id(r, c.OFPIT_EXPERIMENTER, "instruction")
            ids.append(
                InstructionId(type=t)
                if exp is None
                else InstructionIdExperimenter(experimenter=exp, exp_data=data)
            )
        return cls(type=type_, instruction_ids=tuple(ids))


# struct ofp_table_feature_prop_next_tables {
#     uint16_t type;   /* One of OFPTFPT_NEXT_TABLES, OFPTFPT_NEXT_TABLES_MISS. */
#     uint16_t length; /* Length in bytes of this property. */
#     uint8_t next_table_ids[0]; /* List of table ids. */
# };
@dataclass(frozen=True, kw_only=True)
class TableFeaturePropNextTables:
    type: int
    next_table_ids: tuple[int, ...] = ()

    def encode(self) -> bytes:
        payload = bytes(check_uint("next_table_id", t, 8) for t in self.next_table_ids)
        return _encode_prop(self.type, _NEXT_TABLES_TYPES, type(self).__name__, payload)

    @classmethod
    def decode_payload(cls, type_: int, r: Reader) -> Self:
        return cls(type=type_, next_table_ids=tuple(r.rest()))


# struct ofp_table_feature_prop_actions {
#     uint16_t type;   /* One of OFPTFPT_WRITE_ACTIONS, OFPTFPT_WRITE_ACTIONS_MISS,
#                         OFPTFPT_APPLY_ACTIONS, OFPTFPT_APPLY_ACTIONS_MISS. */
#     uint16_t length; /* Length in bytes of this property. */
#     struct ofp_action_id action_ids[0]; /* List of actions */
# };
@dataclass(frozen=True, kw_only=True)
class TableFeaturePropActions:
    type: int
    action_ids: tuple[ActionId | ActionIdExperimenter, ...] = ()

    def encode(self) -> bytes:
        payload = encode_entries(self.action_ids)
        return _encode_prop(self.type, _ACTION_TYPES, type(self).__name__, payload)

    @classmethod
    def decode_payload(cls, type_: int, r: Reader) -> Self:
        ids: list[ActionId | ActionIdExperimenter] = []
        while r.remaining():
            t, exp, data = _decode_id(r, c.OFPAT_EXPERIMENTER, "action")
            ids.append(
                ActionId(type=t)
                if exp is None
                else ActionIdExperimenter(experimenter=exp, exp_data=data)
            )
        return cls(type=type_, action_ids=tuple(ids))


# struct ofp_table_feature_prop_oxm {
#     uint16_t type;   /* One of OFPTFPT_MATCH, OFPTFPT_WILDCARDS, OFPTFPT_WRITE_SETFIELD,
#                         OFPTFPT_WRITE_SETFIELD_MISS, OFPTFPT_APPLY_SETFIELD,
#                         OFPTFPT_APPLY_SETFIELD_MISS. */
#     uint16_t length; /* Length in bytes of this property. */
#     uint32_t oxm_ids[0]; /* Array of OXM headers */
# };
@dataclass(frozen=True, kw_only=True)
class TableFeaturePropOxm:
    type: int
    oxm_ids: tuple[OxmId | OxmIdExperimenter, ...] = ()

    def encode(self) -> bytes:
        payload = encode_entries(self.oxm_ids)
        return _encode_prop(self.type, _OXM_TYPES, type(self).__name__, payload)

    @classmethod
    def decode_payload(cls, type_: int, r: Reader) -> Self:
        ids: list[OxmId | OxmIdExperimenter] = []
        while r.remaining():
            if r.remaining() < 4:
                raise r.fail(
                    f"{r.remaining()} stray bytes after the OXM ids", _TFF, c.OFPTFFC_BAD_LEN
                )
            header = r.u32()
            if _oxm_class(header) == c.OFPXMC_EXPERIMENTER:
                if r.remaining() < 4:
                    raise r.fail(
                        "experimenter OXM id without experimenter", _TFF, c.OFPTFFC_BAD_LEN
                    )
                ids.append(OxmIdExperimenter(header=header, experimenter=r.u32()))
            else:
                ids.append(OxmId(header=header))
        return cls(type=type_, oxm_ids=tuple(ids))


# struct ofp_table_feature_prop_experimenter {
#     uint16_t type;    /* One of OFPTFPT_EXPERIMENTER, OFPTFPT_EXPERIMENTER_MISS. */
#     uint16_t length;  /* Length in bytes of this property. */
#     uint32_t experimenter; /* Experimenter ID which takes the same form as in struct
#                               ofp_experimenter_header. */
#     uint32_t exp_type;     /* Experimenter defined. */
#     /* Followed by: - Exactly (length - 12) bytes containing the experimenter data, then
#      *              - Exactly (length + 7)/8*8 - (length) (between 0 and 7) bytes of all-zero bytes */
#     uint32_t experimenter_data[0];
# };
_PROP_EXPERIMENTER = struct.Struct("!II")
assert (
    _PROP_HEADER.size + _PROP_EXPERIMENTER.size == c.OFP_TABLE_FEATURE_PROP_EXPERIMENTER_LEN == 12
)


@dataclass(frozen=True, kw_only=True)
class TableFeaturePropExperimenter:
    type: int
    experimenter: int
    exp_type: int
    data: bytes = b""

    def encode(self) -> bytes:
        payload = (
            _PROP_EXPERIMENTER.pack(
                check_uint("experimenter", self.experimenter, 32),
                check_uint("exp_type", self.exp_type, 32),
            )
            + self.data
        )
        return _encode_prop(self.type, _EXPERIMENTER_TYPES, type(self).__name__, payload)

    @classmethod
    def decode_payload(cls, type_: int, r: Reader) -> Self:
        if r.remaining() < _PROP_EXPERIMENTER.size:
            raise r.fail(
                "experimenter table feature property shorter than 12 bytes", _TFF, c.OFPTFFC_BAD_LEN
            )
        experimenter, exp_type = r.unpack(_PROP_EXPERIMENTER)
        return cls(type=type_, experimenter=experimenter, exp_type=exp_type, data=r.rest())


TableFeatureProp = (
    TableFeaturePropInstructions
    | TableFeaturePropNextTables
    | TableFeaturePropActions
    | TableFeaturePropOxm
    | TableFeaturePropExperimenter
)

_PROP_CLASSES: dict[int, type[TableFeatureProp]] = {
    **dict.fromkeys(_INSTRUCTION_TYPES, TableFeaturePropInstructions),
    **dict.fromkeys(_NEXT_TABLES_TYPES, TableFeaturePropNextTables),
    **dict.fromkeys(_ACTION_TYPES, TableFeaturePropActions),
    **dict.fromkeys(_OXM_TYPES, TableFeaturePropOxm),
    **dict.fromkeys(_EXPERIMENTER_TYPES, TableFeaturePropExperimenter),
}


def decode_table_feature_props(r: Reader) -> tuple[TableFeatureProp, ...]:
    """Every (padded) table feature property left in ``r``."""
    out: list[TableFeatureProp] = []
    while r.remaining():
        if r.remaining() < _PROP_HEADER.size:
            raise r.fail(
                f"{r.remaining()} stray bytes after the properties", _TFF, c.OFPTFFC_BAD_LEN
            )
        type_, length = r.unpack(_PROP_HEADER)
        prop_cls = _PROP_CLASSES.get(type_)
        if prop_cls is None:
            raise r.fail(f"unknown table feature property type {type_}", _TFF, c.OFPTFFC_BAD_TYPE)
        pad = padding(length)
        if length < _PROP_HEADER.size or length - _PROP_HEADER.size + pad > r.remaining():
            raise r.fail(
                f"table feature property length {length} (+{pad} pad) does not fit in "
                f"{r.remaining() + _PROP_HEADER.size} bytes",
                _TFF,
                c.OFPTFFC_BAD_LEN,
            )
        payload = r.sub(length - _PROP_HEADER.size, err_type=_TFF, err_code=c.OFPTFFC_BAD_LEN)
        r.skip(pad)
        out.append(prop_cls.decode_payload(type_, payload))
    return tuple(out)


# struct ofp_table_features {
#     uint16_t length;         /* Length is padded to 64 bits. */
#     uint8_t table_id;        /* Identifier of table. Lower numbered tables are consulted first. */
#     uint8_t pad[5];          /* Align to 64-bits. */
#     char name[OFP_MAX_TABLE_NAME_LEN];
#     uint64_t metadata_match; /* Bits of metadata table can match. */
#     uint64_t metadata_write; /* Bits of metadata table can write. */
#     uint32_t config;         /* Bitmap of OFPTC_* values */
#     uint32_t max_entries;    /* Max number of entries supported. */
#     /* Table Feature Property list */
#     struct ofp_table_feature_prop_header properties[0];
# };
_TABLE_FEATURES = struct.Struct("!HB5x32sQQII")
assert _TABLE_FEATURES.size == c.OFP_TABLE_FEATURES_LEN == 64


@dataclass(frozen=True, kw_only=True)
class TableFeatures:
    """One ``ofp_table_features`` entry: a table's name, limits and property list."""

    table_id: int
    name: str = ""
    metadata_match: int = 0
    metadata_write: int = 0
    config: int = 0
    max_entries: int = 0
    properties: tuple[TableFeatureProp, ...] = ()

    def encode(self) -> bytes:
        props = encode_entries(self.properties)
        length = check_uint("TableFeatures length", _TABLE_FEATURES.size + len(props), 16)
        return (
            _TABLE_FEATURES.pack(
                length,
                check_uint("TableFeatures.table_id", self.table_id, 8),
                encode_cstr("TableFeatures.name", self.name, c.OFP_MAX_TABLE_NAME_LEN),
                check_uint("TableFeatures.metadata_match", self.metadata_match, 64),
                check_uint("TableFeatures.metadata_write", self.metadata_write, 64),
                check_uint("TableFeatures.config", self.config, 32),
                check_uint("TableFeatures.max_entries", self.max_entries, 32),
            )
            + props
        )

    @classmethod
    def decode(cls, r: Reader) -> Self:
        length = r.peek_u16()
        if length < _TABLE_FEATURES.size:
            raise r.fail(f"ofp_table_features length {length} < {_TABLE_FEATURES.size}")
        s = r.sub(length)
        _, table_id, raw_name, mmatch, mwrite, config, max_entries = s.unpack(_TABLE_FEATURES)
        name = bytes(raw_name).split(b"\0", 1)[0].decode("ascii", "replace")
        return cls(
            table_id=table_id,
            name=name,
            metadata_match=mmatch,
            metadata_write=mwrite,
            config=config,
            max_entries=max_entries,
            properties=decode_table_feature_props(s),
        )


@register_request
@dataclass(frozen=True, kw_only=True)
class TableFeaturesRequest(EntryListRequest):
    """OFPMP_TABLE_FEATURES request: empty (query) or the full desired pipeline."""

    mp_type: ClassVar[int] = c.OFPMP_TABLE_FEATURES
    entry: ClassVar[type[TableFeatures]] = TableFeatures
    body: tuple[TableFeatures, ...] = ()


@register_reply
@dataclass(frozen=True, kw_only=True)
class TableFeaturesReply(EntryListReply):
    """OFPMP_TABLE_FEATURES reply: one entry per table."""

    mp_type: ClassVar[int] = c.OFPMP_TABLE_FEATURES
    entry: ClassVar[type[TableFeatures]] = TableFeatures
    body: tuple[TableFeatures, ...] = ()
