"""The packet path: table walk, instructions, the action list, the action set, groups, meters.

Role: :class:`Datapath` is the runtime half of
:class:`~.core.Pipeline` (the other half, in ``core.py``, applies
controller messages and answers statistics). It carries one packet
through the tables as OpenFlow 1.3.5 §5 prescribes:

* tables are visited from 0 (or from the table a GOTO_TABLE names, always
  forward); a table with no matching entry and no table-miss entry drops
  the packet (the 1.3 default);
* an entry's instructions run in the spec's order: METER, APPLY_ACTIONS,
  CLEAR_ACTIONS, WRITE_ACTIONS, WRITE_METADATA, GOTO_TABLE;
* the action set holds at most one action of each type (one set-field per
  field); when the walk ends it runs in the order of §5.10: copy TTL
  inwards, pop, push-MPLS, push-PBB, push-VLAN, copy TTL outwards,
  decrement TTL, set, qos, group, output - output ignored when a group is
  present;
* group buckets run their action lists on a copy of the packet, in list
  order (as Open vSwitch does);
* an invalid TTL on decrement stops the packet; it becomes a packet-in
  (OFPR_INVALID_TTL) if the switch is configured for it.

A *dry* run (:meth:`Datapath.trace` in ``core``) takes the same path but
touches no counter, meter bucket or timestamp.

Invariant: nothing here raises on packet content; what cannot be done is
dropped and recorded in the trace.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import (
    Action,
    ActionCopyTtlIn,
    ActionCopyTtlOut,
    ActionDecMplsTtl,
    ActionDecNwTtl,
    ActionGroup,
    ActionOutput,
    ActionPopMpls,
    ActionPopPbb,
    ActionPopVlan,
    ActionPushMpls,
    ActionPushPbb,
    ActionPushVlan,
    ActionSetField,
    ActionSetMplsTtl,
    ActionSetNwTtl,
    ActionSetQueue,
)
from openvolcano.ofp.instructions import (
    InstructionApplyActions,
    InstructionClearActions,
    InstructionGotoTable,
    InstructionMeter,
    InstructionWriteActions,
    InstructionWriteMetadata,
)
from openvolcano.ofp.oxm import Match, OxmTLV

from .flowtable import FlowEntry, FlowTable
from .groups import Group, select_bucket
from .meters import Meter
from .packet import Packet
from .ports import PortView, port_live
from .results import Output, PacketInDecision, Result, TraceStep

__all__ = ["ACTION_SET_ORDER", "Datapath"]

# §5.10 execution order of the action set.
ACTION_SET_ORDER: dict[type, int] = {
    ActionCopyTtlIn: 0,
    ActionPopVlan: 1,
    ActionPopMpls: 1,
    ActionPopPbb: 1,
    ActionPushMpls: 2,
    ActionPushPbb: 3,
    ActionPushVlan: 4,
    ActionCopyTtlOut: 5,
    ActionDecMplsTtl: 6,
    ActionDecNwTtl: 6,
    ActionSetField: 7,
    ActionSetNwTtl: 7,
    ActionSetMplsTtl: 7,
    ActionSetQueue: 8,
    ActionGroup: 9,
    ActionOutput: 10,
}
_MAX_GROUP_DEPTH = 32


def set_slot(a: Action) -> tuple[int, int]:
    """The action-set slot of ``a``: one per action type, one per field for set-field."""
    if isinstance(a, ActionSetField) and isinstance(a.field, OxmTLV):
        return (a.action_type, a.field.field)
    return (a.action_type, -1)


class _Stop(Exception):
    """Internal: the packet is finished (invalid TTL). Never escapes :meth:`Datapath._run`."""


class Datapath:
    """State shared by the packet path and the message handlers. Single writer."""

    def __init__(self, n_tables: int, max_entries: int, ports: PortView) -> None:
        self.n_tables = n_tables
        self.ports = ports
        self.tables = [FlowTable(t, max_entries) for t in range(n_tables)]
        self.groups: dict[int, Group] = {}
        self.meters: dict[int, Meter] = {}
        self.invalid_ttl_to_controller = False
        self.malformed_packets = 0
        self.dropped_no_recv = 0
        # port -> [rx_packets, rx_bytes, rx_dropped, tx_packets, tx_bytes, tx_dropped]
        self.port_counters: dict[int, list[int]] = {}

    def _pc(self, port: int) -> list[int]:
        pc = self.port_counters.get(port)
        if pc is None:
            pc = self.port_counters[port] = [0, 0, 0, 0, 0, 0]
        return pc

    # --- entry points -----------------------------------------------------------
    def _ingress(self, in_port: int, frame: bytes, now: float, dry: bool) -> Result:
        res = Result()
        cfg = self.ports.port_config(in_port)
        if not dry:
            pc = self._pc(in_port)
            pc[0] += 1
            pc[1] += len(frame)
        if cfg is not None and cfg & c.OFPPC_NO_RECV:
            if not dry:
                self._pc(in_port)[2] += 1
                self.dropped_no_recv += 1
            res.trace.drops.append(f"port {in_port} has OFPPC_NO_RECV")
            return res
        pkt = Packet(frame, in_port)
        if pkt.p.malformed and not dry:
            self.malformed_packets += 1
        self._run(pkt, 0, now, res, dry)
        return res

    def _run(self, pkt: Packet, table_id: int, now: float, res: Result, dry: bool) -> None:
        with contextlib.suppress(_Stop):
            self._walk(pkt, table_id, now, res, dry)

    def _apply_guarded(
        self, pkt: Packet, actions: Sequence[Action], res: Result, step: TraceStep, now: float
    ) -> None:
        """Apply a packet-out's action list (no flow entry)."""
        with contextlib.suppress(_Stop):
            self._apply(pkt, actions, None, now, res, step, False, 0)

    def _walk(self, pkt: Packet, table_id: int, now: float, res: Result, dry: bool) -> None:
        action_set: dict[tuple[int, int], Action] = {}
        entry: FlowEntry | None = None
        tid: int | None = table_id
        while tid is not None:
            table: FlowTable = self.tables[tid]
            rule = table.classifier.lookup(pkt.key)
            step = TraceStep(table_id=tid)
            res.trace.steps.append(step)
            if not dry:
                table.lookup_count += 1
            if rule is None:
                res.trace.drops.append(f"table {tid}: no matching entry and no table-miss entry")
                return
            entry = rule.payload
            step.priority, step.cookie, step.match = entry.priority, entry.cookie, str(entry.match)
            if not dry:
                table.matched_count += 1
                entry.packet_count += 1
                entry.byte_count += len(pkt.data)
                entry.last_used = now
            tid = None
            ins_by_type = {type(i): i for i in entry.instructions}
            meter = ins_by_type.get(InstructionMeter)
            if isinstance(meter, InstructionMeter) and not self._meter(
                pkt, meter.meter_id, now, res, step, dry
            ):
                return
            apply = ins_by_type.get(InstructionApplyActions)
            if isinstance(apply, InstructionApplyActions):
                self._apply(pkt, apply.actions, entry, now, res, step, dry, 0)
            if InstructionClearActions in ins_by_type:
                action_set.clear()
                step.events.append("clear_actions")
            write = ins_by_type.get(InstructionWriteActions)
            if isinstance(write, InstructionWriteActions):
                for a in write.actions:
                    action_set[set_slot(a)] = a
                step.events.append("write_actions: " + ", ".join(map(_fmt, write.actions)))
            wm = ins_by_type.get(InstructionWriteMetadata)
            if isinstance(wm, InstructionWriteMetadata):
                m = wm.metadata_mask
                pkt.set_metadata((pkt.metadata & ~m) | (wm.metadata & m))
                step.events.append(f"write_metadata {wm.metadata:#x}/{m:#x}")
            goto = ins_by_type.get(InstructionGotoTable)
            if isinstance(goto, InstructionGotoTable):
                tid = goto.table_id
                step.events.append(f"goto_table {tid}")
        ordered = sorted(action_set.values(), key=lambda a: ACTION_SET_ORDER.get(type(a), 99))
        if any(isinstance(a, ActionGroup) for a in ordered):
            ordered = [a for a in ordered if not isinstance(a, ActionOutput)]
        res.trace.action_set = [_fmt(a) for a in ordered]
        if not ordered and not res.outputs and not res.packet_ins:
            # A drop only if nothing was sent by apply-actions either.
            res.trace.drops.append("empty action set")
        assert entry is not None
        step = res.trace.steps[-1]
        self._apply(pkt, ordered, entry, now, res, step, dry, 0)

    # --- meters -----------------------------------------------------------------
    def _meter(
        self, pkt: Packet, meter_id: int, now: float, res: Result, step: TraceStep, dry: bool
    ) -> bool:
        meter = self.meters.get(meter_id)
        if meter is None:
            step.events.append(f"meter {meter_id}: gone")
            return True
        if dry:
            step.events.append(f"meter {meter_id} (not applied in a trace)")
            return True
        kind, prec = meter.apply(len(pkt.data), now)
        step.events.append(f"meter {meter_id}: {kind}")
        if kind == "drop":
            res.trace.drops.append(f"meter {meter_id} band exceeded")
            return False
        if kind == "remark":
            dscp = pkt.key[c.OFPXMT_OFB_IP_DSCP]
            if dscp is not None:
                dp = min(3, ((dscp >> 1) & 3) + prec)
                pkt.set_field(c.OFPXMT_OFB_IP_DSCP, (dscp & ~0b110) | (dp << 1))
        return True

    # --- actions ----------------------------------------------------------------
    def _apply(
        self,
        pkt: Packet,
        actions: Sequence[Action],
        entry: FlowEntry | None,
        now: float,
        res: Result,
        step: TraceStep,
        dry: bool,
        depth: int,
    ) -> None:
        for a in actions:
            step.events.append(_fmt(a))
            if isinstance(a, ActionOutput):
                self._output(pkt, a, entry, now, res, step, dry)
            elif isinstance(a, ActionGroup):
                self._group(pkt, a.group_id, entry, now, res, step, dry, depth)
            elif isinstance(a, ActionSetField):
                if isinstance(a.field, OxmTLV):
                    pkt.set_field(a.field.field, a.field.value)
            elif isinstance(a, ActionPushVlan):
                pkt.push_vlan(a.ethertype)
            elif isinstance(a, ActionPopVlan):
                pkt.pop_vlan()
            elif isinstance(a, ActionPushMpls):
                pkt.push_mpls(a.ethertype)
            elif isinstance(a, ActionPopMpls):
                pkt.pop_mpls(a.ethertype)
            elif isinstance(a, ActionPushPbb):
                pkt.push_pbb(a.ethertype)
            elif isinstance(a, ActionPopPbb):
                pkt.pop_pbb()
            elif isinstance(a, ActionSetNwTtl):
                pkt.set_nw_ttl(a.nw_ttl)
            elif isinstance(a, ActionSetMplsTtl):
                pkt.set_mpls_ttl(a.mpls_ttl)
            elif isinstance(a, (ActionDecNwTtl, ActionDecMplsTtl)):
                ok = pkt.dec_nw_ttl() if isinstance(a, ActionDecNwTtl) else pkt.dec_mpls_ttl()
                if ok is False:
                    self._invalid_ttl(pkt, entry, res, step)
            elif isinstance(a, ActionCopyTtlOut):
                pkt.copy_ttl_out()
            elif isinstance(a, ActionCopyTtlIn):
                pkt.copy_ttl_in()
            elif isinstance(a, ActionSetQueue):
                pkt.queue_id = a.queue_id

    def _invalid_ttl(
        self, pkt: Packet, entry: FlowEntry | None, res: Result, step: TraceStep
    ) -> None:
        res.trace.drops.append("invalid TTL")
        if self.invalid_ttl_to_controller:
            self._packet_in(pkt, c.OFPR_INVALID_TTL, entry, c.OFPCML_NO_BUFFER, res)
        raise _Stop

    def _packet_in(
        self, pkt: Packet, reason: int, entry: FlowEntry | None, max_len: int, res: Result
    ) -> None:
        cfg = self.ports.port_config(pkt.in_port)
        if cfg is not None and cfg & c.OFPPC_NO_PACKET_IN:
            res.trace.drops.append(f"port {pkt.in_port} has OFPPC_NO_PACKET_IN")
            return
        fields = [OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=pkt.in_port)]
        if pkt.metadata:
            fields.append(OxmTLV(field=c.OFPXMT_OFB_METADATA, value=pkt.metadata))
        res.packet_ins.append(
            PacketInDecision(
                reason=reason,
                table_id=entry.table_id if entry is not None else 0,
                cookie=entry.cookie if entry is not None else 0xFFFF_FFFF_FFFF_FFFF,
                match=Match(fields=tuple(fields)),
                data=bytes(pkt.data),
                max_len=max_len,
            )
        )

    def _emit(self, pkt: Packet, port: int, res: Result, dry: bool) -> None:
        cfg = self.ports.port_config(port)
        if port != c.OFPP_LOCAL and (cfg is None or not port_live(self.ports, port)):
            res.trace.drops.append(f"port {port} does not exist or is down")
            if not dry:
                self._pc(port)[5] += 1
            return
        if cfg is not None and cfg & c.OFPPC_NO_FWD:
            res.trace.drops.append(f"port {port} has OFPPC_NO_FWD")
            if not dry:
                self._pc(port)[5] += 1
            return
        data = bytes(pkt.data)
        if not dry:
            pc = self._pc(port)
            pc[3] += 1
            pc[4] += len(data)
        res.outputs.append(Output(port, data, pkt.queue_id))

    def _output(
        self,
        pkt: Packet,
        a: ActionOutput,
        entry: FlowEntry | None,
        now: float,
        res: Result,
        step: TraceStep,
        dry: bool,
    ) -> None:
        port = a.port
        if port == c.OFPP_CONTROLLER:
            miss = entry is not None and entry.is_table_miss
            self._packet_in(pkt, c.OFPR_NO_MATCH if miss else c.OFPR_ACTION, entry, a.max_len, res)
        elif port == c.OFPP_IN_PORT:
            self._emit(pkt, pkt.in_port, res, dry)
        elif port in (c.OFPP_FLOOD, c.OFPP_ALL):
            for p in self.ports.port_numbers():
                if p != pkt.in_port and port_live(self.ports, p):
                    self._emit(pkt, p, res, dry)
        elif port == c.OFPP_TABLE:
            # Only valid in a packet-out: resubmit a copy to table 0.
            self._run(pkt.copy(), 0, now, res, dry)
        elif port == c.OFPP_LOCAL or port <= c.OFPP_MAX:
            if port == pkt.in_port:
                res.trace.drops.append(f"output to the ingress port {port} needs OFPP_IN_PORT")
                return
            self._emit(pkt, port, res, dry)

    # --- groups -----------------------------------------------------------------
    def group_live(self, gid: int, depth: int = 0) -> bool:
        g = self.groups.get(gid)
        if g is None or depth > _MAX_GROUP_DEPTH:
            return False
        return any(self._bucket_live(b.watch_port, b.watch_group, depth) for b in g.buckets)

    def _bucket_live(self, watch_port: int, watch_group: int, depth: int) -> bool:
        if watch_port != c.OFPP_ANY and not port_live(self.ports, watch_port):
            return False
        return watch_group == c.OFPG_ANY or self.group_live(watch_group, depth + 1)

    def _group(
        self,
        pkt: Packet,
        gid: int,
        entry: FlowEntry | None,
        now: float,
        res: Result,
        step: TraceStep,
        dry: bool,
        depth: int,
    ) -> None:
        g = self.groups.get(gid)
        if g is None or depth > _MAX_GROUP_DEPTH:
            res.trace.drops.append(f"group {gid} does not exist")
            return
        if g.type in (c.OFPGT_ALL, c.OFPGT_INDIRECT):
            chosen = list(range(len(g.buckets)))
        else:
            live = [self._bucket_live(b.watch_port, b.watch_group, depth) for b in g.buckets]
            if g.type == c.OFPGT_FF:
                first = next((i for i, ok in enumerate(live) if ok), None)
                chosen = [] if first is None else [first]
            else:
                idx = select_bucket([b.weight for b in g.buckets], live, _flow_hash(pkt))
                chosen = [] if idx is None else [idx]
        if not chosen:
            res.trace.drops.append(f"group {gid}: no live bucket")
        if not dry:
            g.packet_count += 1
            g.byte_count += len(pkt.data)
        for i in chosen:
            if not dry:
                g.bucket_packets[i] += 1
                g.bucket_bytes[i] += len(pkt.data)
            step.events.append(f"group {gid} bucket {i}")
            try:
                self._apply(pkt.copy(), g.buckets[i].actions, entry, now, res, step, dry, depth + 1)
            except _Stop:
                continue  # an invalid TTL ends this copy only


def _flow_hash(pkt: Packet) -> int:
    k = pkt.key
    fields = (
        c.OFPXMT_OFB_ETH_SRC, c.OFPXMT_OFB_ETH_DST, c.OFPXMT_OFB_ETH_TYPE, c.OFPXMT_OFB_VLAN_VID,
        c.OFPXMT_OFB_IPV4_SRC, c.OFPXMT_OFB_IPV4_DST, c.OFPXMT_OFB_IPV6_SRC, c.OFPXMT_OFB_IPV6_DST,
        c.OFPXMT_OFB_IP_PROTO, c.OFPXMT_OFB_TCP_SRC, c.OFPXMT_OFB_TCP_DST, c.OFPXMT_OFB_UDP_SRC,
        c.OFPXMT_OFB_UDP_DST, c.OFPXMT_OFB_SCTP_SRC, c.OFPXMT_OFB_SCTP_DST,
    )  # fmt: skip
    h = 0x811C9DC5
    for f in fields:
        v = k[f]
        h = ((h ^ (0 if v is None else v + 1)) * 0x01000193) & 0xFFFFFFFFFFFF
    return h ^ (h >> 17)


def _fmt(a: Action) -> str:
    if isinstance(a, ActionOutput):
        names = {c.OFPP_CONTROLLER: "CONTROLLER", c.OFPP_IN_PORT: "IN_PORT", c.OFPP_FLOOD: "FLOOD",
                 c.OFPP_ALL: "ALL", c.OFPP_LOCAL: "LOCAL", c.OFPP_TABLE: "TABLE"}  # fmt: skip
        return f"output:{names.get(a.port, a.port)}"
    if isinstance(a, ActionSetField):
        return f"set_field:{a.field}"
    if isinstance(a, ActionGroup):
        return f"group:{a.group_id}"
    name = type(a).__name__.removeprefix("Action")
    args = ",".join(f"{v:#x}" if isinstance(v, int) else str(v) for v in vars(a).values())
    return f"{name}({args})" if args else name
