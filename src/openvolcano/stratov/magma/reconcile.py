"""Desired vs installed flow tables -> the minimal, ordered OpenFlow changes (pure).

Role: the heart of magma's Commit stage (paper section IV). crater computes
what every switch should hold; magma dumps what it does hold (flow stats,
group desc, meter config) and this module decides what to send. The shell
(:mod:`.controller`) only sends the plan, waits for the barriers and dumps
again to confirm; this module does no I/O, logging or clock reads, so the
tests apply its plans to quake's real pipeline and ask where packets go.

Design:

* **Identity.** A flow entry is identified, as in OpenFlow, by
  ``(table_id, priority, match)``; matches are compared as *sets* of
  canonical fields (value pre-masked, an all-ones mask dropped), so a switch
  that reorders OXM fields (Open vSwitch does) is not seen as drifting.
  Instructions are compared in their canonical execution order; the
  write-actions set is order-free, apply-actions lists keep their order.
  Only ``OFPFF_SEND_FLOW_REM`` of the flags is compared. Groups are
  identified by group id, meters by meter id.
* **Ownership.** Every desired entry carries its owner; the cookie of a flow
  is :func:`~.convert.owner_cookie` (owner hash in the high 32 bits). Two
  owners may not want the same flow key, group id or meter id on one switch
  (:class:`DesiredConflict`). Anything installed that nobody wants is stale,
  whoever put it there: magma owns the whole switch.
* **Order: make before break.** A plan has five phases, each closed by a
  BARRIER_REQUEST: (1) add new and modify changed groups and meters, (2) add
  flows with new keys, (3) replace changed flows (an ADD on an existing key
  is atomic on the switch), (4) delete stale flows (DELETE_STRICT with the
  installed cookie, so only that entry goes), (5) delete stale groups and
  meters (nothing refers to them any more). The controller runs phase *k*
  on every switch and waits for all barriers before phase *k+1*, so across
  the network a new path is installed and confirmed before the old one is
  removed. A group modified in place switches over at once (crater uses
  new group ids for a new path when it needs make-before-break there too).

Invariants: ``reconcile(d, d_as_installed)`` is empty; applying a plan to a
switch that faithfully executes it leaves ``diff(desired, installed)`` empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

from openvolcano.api import magma as api
from openvolcano.common.errors import Conflict
from openvolcano.ofp import consts as c
from openvolcano.ofp.base import Message
from openvolcano.ofp.instructions import Instruction, InstructionWriteActions
from openvolcano.ofp.messages import BarrierRequest, FlowMod, GroupMod, MeterMod
from openvolcano.ofp.multipart import FlowStats
from openvolcano.ofp.multipart.group_meter import GroupDesc, MeterConfig
from openvolcano.ofp.oxm import Match, OxmTLV
from openvolcano.ofp.oxm_fields import OXM_FIELDS
from openvolcano.ofp.structs import Bucket, MeterBand, MeterBandDrop, MeterBandDscpRemark

from . import convert

__all__ = [
    "PHASES",
    "DesiredConflict",
    "Diff",
    "FlowKey",
    "FlowRule",
    "GroupRule",
    "MeterRule",
    "Plan",
    "SwitchTables",
    "compile_desired",
    "compile_owner",
    "diff",
    "flow_key",
    "merge_tables",
    "reconcile",
]

PHASES = ("groups-meters-add", "flows-add", "flows-replace", "flows-delete", "groups-meters-delete")
_ALL_COOKIE = (1 << 64) - 1
# Canonical execution order of instructions (spec 1.3.5 §5.9).
_INSTRUCTION_ORDER = {
    c.OFPIT_METER: 0,
    c.OFPIT_APPLY_ACTIONS: 1,
    c.OFPIT_CLEAR_ACTIONS: 2,
    c.OFPIT_WRITE_ACTIONS: 3,
    c.OFPIT_WRITE_METADATA: 4,
    c.OFPIT_GOTO_TABLE: 5,
}
_METER_FLAGS = c.OFPMF_KBPS | c.OFPMF_PKTPS | c.OFPMF_BURST

FlowKey = tuple[int, int, frozenset[tuple[int, int, int | None] | bytes]]


class DesiredConflict(Conflict):
    """Two owners want the same flow key, group id or meter id on one switch."""


def canonical_match(m: Match) -> frozenset[tuple[int, int, int | None] | bytes]:
    out: set[tuple[int, int, int | None] | bytes] = set()
    for o in m.fields:
        if isinstance(o, OxmTLV) and o.field in OXM_FIELDS:
            full = (1 << (8 * OXM_FIELDS[o.field].width)) - 1
            mask = None if o.mask is None or o.mask == full else o.mask
            out.add((o.field, o.value if mask is None else o.value & mask, mask))
        else:
            out.add(o.encode())
    return frozenset(out)


def flow_key(table_id: int, priority: int, match: Match) -> FlowKey:
    return (table_id, priority, canonical_match(match))


def canonical_instructions(ins: Iterable[Instruction]) -> tuple[Instruction, ...]:
    out: list[Instruction] = []
    for i in ins:
        if isinstance(i, InstructionWriteActions):
            i = InstructionWriteActions(actions=tuple(sorted(i.actions, key=lambda a: a.encode())))
        out.append(i)
    return tuple(sorted(out, key=lambda i: _INSTRUCTION_ORDER.get(i.instruction_type, 9)))


@dataclass(frozen=True, kw_only=True)
class FlowRule:
    """One flow entry, desired (``owner`` set) or installed (``owner`` from the cookie map)."""

    cookie: int
    table_id: int
    priority: int
    match: Match
    instructions: tuple[Instruction, ...]
    flags: int = 0
    owner: str | None = None
    packet_count: int | None = None

    @cached_property
    def key(self) -> FlowKey:
        return flow_key(self.table_id, self.priority, self.match)

    def same_as(self, other: FlowRule) -> bool:
        """Equal for reconciliation: cookie, instructions and SEND_FLOW_REM."""
        return (
            self.cookie == other.cookie
            and self.flags & c.OFPFF_SEND_FLOW_REM == other.flags & c.OFPFF_SEND_FLOW_REM
            and canonical_instructions(self.instructions)
            == canonical_instructions(other.instructions)
        )


@dataclass(frozen=True, kw_only=True)
class GroupRule:
    group_id: int
    type: int
    buckets: tuple[Bucket, ...]
    owner: str | None = None

    def same_as(self, other: GroupRule) -> bool:
        return self.type == other.type and self.buckets == other.buckets


def _band_key(b: MeterBand, burst: bool) -> tuple[object, ...]:
    if isinstance(b, MeterBandDrop):
        return ("drop", b.rate, b.burst_size if burst else 0)
    if isinstance(b, MeterBandDscpRemark):
        return ("dscp", b.rate, b.burst_size if burst else 0, b.prec_level)
    return ("other", b.encode())


@dataclass(frozen=True, kw_only=True)
class MeterRule:
    meter_id: int
    flags: int
    bands: tuple[MeterBand, ...]
    owner: str | None = None

    def same_as(self, other: MeterRule) -> bool:
        burst = bool(self.flags & c.OFPMF_BURST)
        return self.flags & _METER_FLAGS == other.flags & _METER_FLAGS and [
            _band_key(b, burst) for b in self.bands
        ] == [_band_key(b, burst) for b in other.bands]


@dataclass(frozen=True, kw_only=True)
class SwitchTables:
    """The flows, groups and meters of one switch (desired, or as dumped)."""

    flows: Mapping[FlowKey, FlowRule] = field(default_factory=dict)
    groups: Mapping[int, GroupRule] = field(default_factory=dict)
    meters: Mapping[int, MeterRule] = field(default_factory=dict)

    @classmethod
    def from_stats(
        cls,
        flows: Iterable[FlowStats],
        groups: Iterable[GroupDesc] = (),
        meters: Iterable[MeterConfig] = (),
        owners_by_cookie: Mapping[int, str] | None = None,
    ) -> SwitchTables:
        """What a switch reported; ``owners_by_cookie`` names the owners we know."""
        names = owners_by_cookie or {}
        rules: dict[FlowKey, FlowRule] = {}
        for f in flows:
            rule = FlowRule(
                cookie=f.cookie,
                table_id=f.table_id,
                priority=f.priority,
                match=f.match,
                instructions=f.instructions,
                flags=f.flags,
                owner=names.get(f.cookie & convert.OWNER_COOKIE_MASK),
                packet_count=f.packet_count,
            )
            rules[rule.key] = rule
        return cls(
            flows=rules,
            groups={
                g.group_id: GroupRule(group_id=g.group_id, type=g.type, buckets=g.buckets)
                for g in groups
            },
            meters={
                m.meter_id: MeterRule(meter_id=m.meter_id, flags=m.flags, bands=m.bands)
                for m in meters
            },
        )


def compile_owner(owner: str, rules: api.SwitchRules) -> SwitchTables:
    """One owner's rules for one switch as tables (the controller caches this per owner)."""
    cookie = convert.owner_cookie(owner)
    send_rem = c.OFPFF_SEND_FLOW_REM
    flows: dict[FlowKey, FlowRule] = {}
    for f in rules.flows:
        rule = FlowRule(
            cookie=cookie,
            table_id=f.table_id,
            priority=f.priority,
            match=api.parse_match(f.match),
            instructions=convert.instructions_to_ofp(f.instructions),
            flags=send_rem if f.send_flow_removed else 0,
            owner=owner,
        )
        flows[rule.key] = rule  # the API model refuses duplicate keys within one owner
    groups = {
        g.group_id: GroupRule(
            group_id=g.group_id,
            type=convert.group_type(g.type),
            buckets=convert.buckets_to_ofp(g),
            owner=owner,
        )
        for g in rules.groups
    }
    meters = {
        m.meter_id: MeterRule(
            meter_id=m.meter_id,
            flags=convert.meter_flags(m),
            bands=convert.bands_to_ofp(m),
            owner=owner,
        )
        for m in rules.meters
    }
    return SwitchTables(flows=flows, groups=groups, meters=meters)


def merge_tables(parts: Mapping[str, SwitchTables]) -> SwitchTables:
    """Every owner's compiled tables for one switch as one (two owners on one key raise)."""
    flows: dict[FlowKey, FlowRule] = {}
    groups: dict[int, GroupRule] = {}
    meters: dict[int, MeterRule] = {}
    for owner in sorted(parts):
        part = parts[owner]
        if flows.keys() & part.flows.keys():
            key = min(flows.keys() & part.flows.keys(), key=lambda k: _flow_order(part.flows[k]))
            prev, rule = flows[key], part.flows[key]
            raise DesiredConflict(
                f"owners {prev.owner!r} and {owner!r} both want a flow in table "
                f"{rule.table_id}, priority {rule.priority}, match "
                f"{convert.match_to_json(rule.match)}"
            )
        for what, have, new in (("group", groups, part.groups), ("meter", meters, part.meters)):
            if have.keys() & new.keys():
                n = min(have.keys() & new.keys())
                raise DesiredConflict(
                    f"owners {have[n].owner!r} and {owner!r} both define {what} {n}"
                )
        flows.update(part.flows)
        groups.update(part.groups)
        meters.update(part.meters)
    return SwitchTables(flows=flows, groups=groups, meters=meters)


def compile_desired(owners: Mapping[str, api.SwitchRules]) -> SwitchTables:
    """One switch's desired tables from every owner's rules for it (conflicts raise)."""
    return merge_tables({o: compile_owner(o, r) for o, r in owners.items()})


@dataclass(frozen=True, kw_only=True)
class Diff:
    """What differs; each list sorted for stable output."""

    missing: tuple[FlowRule, ...] = ()
    changed: tuple[tuple[FlowRule, FlowRule], ...] = ()  # (desired, installed)
    stale: tuple[FlowRule, ...] = ()
    groups_add: tuple[GroupRule, ...] = ()
    groups_modify: tuple[GroupRule, ...] = ()
    groups_delete: tuple[GroupRule, ...] = ()
    meters_add: tuple[MeterRule, ...] = ()
    meters_modify: tuple[MeterRule, ...] = ()
    meters_delete: tuple[MeterRule, ...] = ()

    @property
    def empty(self) -> bool:
        return not any(
            (
                self.missing,
                self.changed,
                self.stale,
                self.groups_add,
                self.groups_modify,
                self.groups_delete,
                self.meters_add,
                self.meters_modify,
                self.meters_delete,
            )
        )


def _flow_order(r: FlowRule) -> tuple[int, int]:
    """Table, then priority (high first); stable sorts keep the desired/dumped order within."""
    return (r.table_id, -r.priority)


def diff(desired: SwitchTables, installed: SwitchTables) -> Diff:
    d, i = desired, installed
    missing = sorted((r for k, r in d.flows.items() if k not in i.flows), key=_flow_order)
    changed = sorted(
        ((r, i.flows[k]) for k, r in d.flows.items() if k in i.flows and not r.same_as(i.flows[k])),
        key=lambda p: _flow_order(p[0]),
    )
    stale = sorted((r for k, r in i.flows.items() if k not in d.flows), key=_flow_order)
    return Diff(
        missing=tuple(missing),
        changed=tuple(changed),
        stale=tuple(stale),
        groups_add=tuple(d.groups[g] for g in sorted(d.groups.keys() - i.groups.keys())),
        groups_modify=tuple(
            d.groups[g]
            for g in sorted(d.groups.keys() & i.groups.keys())
            if not d.groups[g].same_as(i.groups[g])
        ),
        groups_delete=tuple(i.groups[g] for g in sorted(i.groups.keys() - d.groups.keys())),
        meters_add=tuple(d.meters[m] for m in sorted(d.meters.keys() - i.meters.keys())),
        meters_modify=tuple(
            d.meters[m]
            for m in sorted(d.meters.keys() & i.meters.keys())
            if not d.meters[m].same_as(i.meters[m])
        ),
        meters_delete=tuple(i.meters[m] for m in sorted(i.meters.keys() - d.meters.keys())),
    )


@dataclass(frozen=True, kw_only=True)
class Plan:
    """Messages per phase (see :data:`PHASES`); a non-empty phase ends with a barrier."""

    phases: tuple[tuple[Message, ...], ...]

    @property
    def empty(self) -> bool:
        return not any(self.phases)

    @property
    def messages(self) -> list[Message]:
        return [m for p in self.phases for m in p]


def _add(r: FlowRule) -> FlowMod:
    return FlowMod(
        command=c.OFPFC_ADD,
        cookie=r.cookie,
        table_id=r.table_id,
        priority=r.priority,
        flags=r.flags & c.OFPFF_SEND_FLOW_REM,
        match=r.match,
        instructions=r.instructions,
    )


def _delete(r: FlowRule) -> FlowMod:
    return FlowMod(
        command=c.OFPFC_DELETE_STRICT,
        cookie=r.cookie,
        cookie_mask=_ALL_COOKIE,
        table_id=r.table_id,
        priority=r.priority,
        match=r.match,
    )


def _group(g: GroupRule, command: int) -> GroupMod:
    if command == c.OFPGC_DELETE:
        return GroupMod(command=command, type=g.type, group_id=g.group_id)
    return GroupMod(command=command, type=g.type, group_id=g.group_id, buckets=g.buckets)


def _meter(m: MeterRule, command: int) -> MeterMod:
    if command == c.OFPMC_DELETE:
        return MeterMod(command=command, meter_id=m.meter_id)
    return MeterMod(command=command, flags=m.flags, meter_id=m.meter_id, bands=m.bands)


def plan_from_diff(dd: Diff) -> Plan:
    phases: list[list[Message]] = [
        [
            *(_meter(m, c.OFPMC_ADD) for m in dd.meters_add),
            *(_meter(m, c.OFPMC_MODIFY) for m in dd.meters_modify),
            *(_group(g, c.OFPGC_ADD) for g in dd.groups_add),
            *(_group(g, c.OFPGC_MODIFY) for g in dd.groups_modify),
        ],
        [_add(r) for r in dd.missing],
        [_add(want) for want, _ in dd.changed],
        [_delete(r) for r in dd.stale],
        [
            *(_group(g, c.OFPGC_DELETE) for g in dd.groups_delete),
            *(_meter(m, c.OFPMC_DELETE) for m in dd.meters_delete),
        ],
    ]
    return Plan(phases=tuple((*p, BarrierRequest()) if p else () for p in phases))


def reconcile(desired: SwitchTables, installed: SwitchTables) -> Plan:
    """The messages that turn ``installed`` into ``desired``, in make-before-break order."""
    return plan_from_diff(diff(desired, installed))
