"""Desired-state models (``openvolcano.api.magma``) to OpenFlow objects, and back for display.

Role: the one place where magma's readable JSON rules become codec values
(:mod:`openvolcano.ofp`): FlowMod/GroupMod/MeterMod bodies for
:mod:`.reconcile`, and the text forms the REST API shows for installed
entries. Also the cookie scheme: **every rule magma installs carries its
owner's id hash in the high 32 bits of the cookie**, so an installed entry
names its owner and an owner's rules can be selected with one cookie mask.

Pure functions, no I/O.
"""

from __future__ import annotations

import hashlib

from openvolcano.api import magma as api
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import (
    Action,
    ActionDecNwTtl,
    ActionGroup,
    ActionOutput,
    ActionPopVlan,
    ActionPushVlan,
    ActionSetField,
    ActionSetQueue,
)
from openvolcano.ofp.instructions import (
    Instruction,
    InstructionApplyActions,
    InstructionClearActions,
    InstructionGotoTable,
    InstructionMeter,
    InstructionWriteActions,
    InstructionWriteMetadata,
)
from openvolcano.ofp.oxm import Match, OxmTLV
from openvolcano.ofp.oxm_fields import OXM_FIELDS, field_by_name, format_value, parse_value
from openvolcano.ofp.structs import Bucket, MeterBand, MeterBandDrop, MeterBandDscpRemark

__all__ = [
    "OWNER_COOKIE_MASK",
    "action_text",
    "bands_to_ofp",
    "buckets_to_ofp",
    "instruction_text",
    "instructions_to_ofp",
    "match_to_json",
    "owner_cookie",
]

#: The cookie bits that name the owner (high 32 bits); the low 32 bits are 0.
OWNER_COOKIE_MASK = 0xFFFFFFFF_00000000

_PORT_NAMES: dict[str, int] = {
    "controller": c.OFPP_CONTROLLER,
    "flood": c.OFPP_FLOOD,
    "all": c.OFPP_ALL,
    "in_port": c.OFPP_IN_PORT,
    "local": c.OFPP_LOCAL,
    "table": c.OFPP_TABLE,
}
_PORT_TEXT = {v: k for k, v in _PORT_NAMES.items()}
_GROUP_TYPES = {
    "all": c.OFPGT_ALL,
    "select": c.OFPGT_SELECT,
    "indirect": c.OFPGT_INDIRECT,
    "fast_failover": c.OFPGT_FF,
}


def owner_cookie(owner: str) -> int:
    """The cookie of every rule of ``owner``: blake2b(owner) in the high 32 bits."""
    digest = hashlib.blake2b(owner.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") << 32


def _action(a: api.Action) -> Action:
    if isinstance(a, api.OutputAction):
        port = _PORT_NAMES[a.port] if isinstance(a.port, str) else a.port
        max_len = a.max_len
        if max_len is None:
            max_len = c.OFPCML_NO_BUFFER if port == c.OFPP_CONTROLLER else 0
        return ActionOutput(port=port, max_len=max_len)
    if isinstance(a, api.SetFieldAction):
        f = field_by_name(a.field)
        return ActionSetField(field=OxmTLV(field=f.field, value=parse_value(f, a.value)))
    if isinstance(a, api.GroupAction):
        return ActionGroup(group_id=a.group_id)
    if isinstance(a, api.PushVlanAction):
        return ActionPushVlan(ethertype=a.ethertype)
    if isinstance(a, api.PopVlanAction):
        return ActionPopVlan()
    if isinstance(a, api.SetQueueAction):
        return ActionSetQueue(queue_id=a.queue_id)
    assert isinstance(a, api.DecNwTtlAction)
    return ActionDecNwTtl()


def actions_to_ofp(actions: tuple[api.Action, ...]) -> tuple[Action, ...]:
    return tuple(_action(a) for a in actions)


def instructions_to_ofp(instructions: tuple[api.Instruction, ...]) -> tuple[Instruction, ...]:
    out: list[Instruction] = []
    for i in instructions:
        if isinstance(i, api.ApplyActions):
            out.append(InstructionApplyActions(actions=actions_to_ofp(i.actions)))
        elif isinstance(i, api.WriteActions):
            out.append(InstructionWriteActions(actions=actions_to_ofp(i.actions)))
        elif isinstance(i, api.ClearActions):
            out.append(InstructionClearActions())
        elif isinstance(i, api.GotoTable):
            out.append(InstructionGotoTable(table_id=i.table_id))
        elif isinstance(i, api.WriteMetadata):
            out.append(InstructionWriteMetadata(metadata=i.metadata, metadata_mask=i.mask))
        else:
            assert isinstance(i, api.MeterInstruction)
            out.append(InstructionMeter(meter_id=i.meter_id))
    return tuple(out)


def group_type(name: str) -> int:
    return _GROUP_TYPES[name]


def buckets_to_ofp(g: api.DesiredGroup) -> tuple[Bucket, ...]:
    return tuple(
        Bucket(
            weight=b.weight,
            watch_port=c.OFPP_ANY if b.watch_port is None else b.watch_port,
            watch_group=c.OFPG_ANY if b.watch_group is None else b.watch_group,
            actions=actions_to_ofp(b.actions),
        )
        for b in g.buckets
    )


def meter_flags(m: api.DesiredMeter) -> int:
    flags = c.OFPMF_KBPS if m.unit == "kbps" else c.OFPMF_PKTPS
    if m.burst:
        flags |= c.OFPMF_BURST
    if m.stats:
        flags |= c.OFPMF_STATS
    return flags


def bands_to_ofp(m: api.DesiredMeter) -> tuple[MeterBand, ...]:
    out: list[MeterBand] = []
    for b in m.bands:
        if b.type == "drop":
            out.append(MeterBandDrop(rate=b.rate, burst_size=b.burst_size))
        else:
            out.append(
                MeterBandDscpRemark(rate=b.rate, burst_size=b.burst_size, prec_level=b.prec_level)
            )
    return tuple(out)


# -- display --------------------------------------------------------------------------


def match_to_json(m: Match) -> dict[str, int | str]:
    """The JSON form of a match (inverse of :func:`openvolcano.api.magma.parse_match`)."""
    out: dict[str, int | str] = {}
    for o in m.fields:
        if not isinstance(o, OxmTLV) or o.field not in OXM_FIELDS:
            out[f"oxm:{o.encode().hex()}"] = "?"
            continue
        f = OXM_FIELDS[o.field]
        value: int | str = o.value if f.kind == "int" else format_value(f, o.value)
        if o.mask is not None:
            value = f"{format_value(f, o.value)}/{format_value(f, o.mask)}"
        out[f.name] = value
    return out


def _port_text(port: int) -> str:
    return _PORT_TEXT.get(port, str(port))


def action_text(a: Action) -> str:
    if isinstance(a, ActionOutput):
        return f"output:{_port_text(a.port)}"
    if isinstance(a, ActionSetField) and isinstance(a.field, OxmTLV):
        f = OXM_FIELDS.get(a.field.field)
        if f is not None:
            return f"set_field:{f.name}={format_value(f, a.field.value)}"
    if isinstance(a, ActionGroup):
        return f"group:{a.group_id}"
    if isinstance(a, ActionPushVlan):
        return f"push_vlan:{a.ethertype:#x}"
    if isinstance(a, ActionSetQueue):
        return f"set_queue:{a.queue_id}"
    return type(a).__name__.removeprefix("Action").lower()


def instruction_text(i: Instruction) -> str:
    if isinstance(i, InstructionApplyActions):
        return "apply(" + ",".join(action_text(a) for a in i.actions) + ")"
    if isinstance(i, InstructionWriteActions):
        return "write(" + ",".join(action_text(a) for a in i.actions) + ")"
    if isinstance(i, InstructionGotoTable):
        return f"goto_table:{i.table_id}"
    if isinstance(i, InstructionWriteMetadata):
        return f"write_metadata:{i.metadata:#x}/{i.metadata_mask:#x}"
    if isinstance(i, InstructionMeter):
        return f"meter:{i.meter_id}"
    if isinstance(i, InstructionClearActions):
        return "clear_actions"
    return type(i).__name__.removeprefix("Instruction").lower()
