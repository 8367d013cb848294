"""quake's OpenFlow 1.3 pipeline: the pure core of the Caldera software switch.

Role (paper §4, Caldera data plane): :class:`Pipeline` is everything the
switch decides - the flow tables, groups and meters, what happens to a
packet, which controller requests are refused and why - with no I/O, no
logging and no clock. quake's shell reads the clock once per batch and
passes it as ``now`` (seconds, float), feeds received frames to
:meth:`Pipeline.process`, applies controller messages with the
``apply_*`` methods and sends what they return.

Error convention: every ``apply_*`` validates completely first and raises
:class:`~.errors.PipelineError` (the OFPT_ERROR type/code) *before*
changing state; on success it returns the asynchronous messages the
change produced (FLOW_REMOVED for deleted entries with
OFPFF_SEND_FLOW_REM). Statistics methods return the codec's multipart
entry dataclasses. Buffering (``buffer_id``) is the agent's job: a
PacketOut or FlowMod that names a buffer is resolved by the agent, which
passes the frame in.

Invariant: the pipeline has a single writer (the worker that owns it);
nothing here blocks or raises on packet content.
"""

from __future__ import annotations

from collections.abc import Sequence

from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import (
    Action,
    ActionExperimenter,
    ActionGroup,
    ActionOutput,
    ActionPushMpls,
    ActionPushPbb,
    ActionPushVlan,
    ActionSetField,
)
from openvolcano.ofp.instructions import (
    Instruction,
    InstructionApplyActions,
    InstructionGotoTable,
    InstructionMeter,
    InstructionWriteActions,
)
from openvolcano.ofp.messages import FlowMod, FlowRemoved, GroupMod, MeterMod, PacketOut, TableMod
from openvolcano.ofp.multipart.group_meter import (
    BucketCounter,
    GroupDesc,
    GroupFeaturesReply,
    GroupStats,
    MeterBandStats,
    MeterConfig,
    MeterFeaturesReply,
    MeterStats,
)
from openvolcano.ofp.multipart.port_queue import PortStats
from openvolcano.ofp.multipart.stats import FlowStats, TableStats
from openvolcano.ofp.oxm import Match, OxmTLV
from openvolcano.ofp.oxm_fields import OXM_FIELDS

from .errors import PipelineError
from .execute import Datapath
from .fields import SETTABLE, normalize, prereq_met
from .flowtable import FlowEntry, duration
from .groups import MAX_GROUPS, Group, chained_groups, validate_group_mod
from .meters import MAX_BANDS, MAX_METERS, Meter, validate_meter_mod
from .packet import Packet
from .ports import PortView
from .results import Result, TraceStep

__all__ = ["DEFAULT_MAX_ENTRIES", "DEFAULT_N_TABLES", "Pipeline"]

DEFAULT_N_TABLES = 254
DEFAULT_MAX_ENTRIES = 1_000_000
_FLAGS = (
    c.OFPFF_SEND_FLOW_REM
    | c.OFPFF_CHECK_OVERLAP
    | c.OFPFF_RESET_COUNTS
    | c.OFPFF_NO_PKT_COUNTS
    | c.OFPFF_NO_BYT_COUNTS
)
# Set-field on these is checked at run time only (a push earlier in the list can add the header).
_TAG_FIELDS = {c.OFPXMT_OFB_VLAN_VID, c.OFPXMT_OFB_VLAN_PCP, c.OFPXMT_OFB_MPLS_LABEL,
               c.OFPXMT_OFB_MPLS_TC, c.OFPXMT_OFB_PBB_ISID, c.OFPXMT_OFB_ETH_DST,
               c.OFPXMT_OFB_ETH_SRC, c.OFPXMT_OFB_ETH_TYPE}  # fmt: skip


def _bad_action(code: int, reason: str) -> PipelineError:
    return PipelineError(c.OFPET_BAD_ACTION, code, reason)


class Pipeline(Datapath):
    """``n_tables`` flow tables (ids 0..n_tables-1), the group table and the meter table."""

    def __init__(
        self,
        n_tables: int = DEFAULT_N_TABLES,
        ports: PortView | None = None,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:
        if not 1 <= n_tables <= 255:
            raise ValueError(f"n_tables={n_tables}: OpenFlow allows 1..255 tables")
        if ports is None:
            from .ports import StaticPorts

            ports = StaticPorts()
        super().__init__(n_tables, max_entries, ports)

    # --- packets ----------------------------------------------------------------
    def process(self, in_port: int, frame: bytes, now: float) -> Result:
        """Run one received frame through the tables."""
        return self._ingress(in_port, frame, now, dry=False)

    def trace(self, in_port: int, frame: bytes, now: float) -> Result:
        """Like :meth:`process` but with no side effect (counters, meters, idle timers)."""
        return self._ingress(in_port, frame, now, dry=True)

    def packet_out(self, msg: PacketOut, now: float, data: bytes | None = None) -> Result:
        """Execute a PACKET_OUT's actions on ``data`` (default ``msg.data``; the agent
        passes the buffered frame when ``msg.buffer_id`` names one)."""
        self.check_actions(msg.actions, None, packet_out=True)
        if msg.in_port > c.OFPP_MAX and msg.in_port not in (c.OFPP_CONTROLLER, c.OFPP_LOCAL):
            raise PipelineError(
                c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_PORT, f"packet-out in_port {msg.in_port:#x}"
            )
        res = Result()
        pkt = Packet(msg.data if data is None else data, msg.in_port)
        step = TraceStep(table_id=-1, match="packet-out")
        res.trace.steps.append(step)
        self._apply_guarded(pkt, msg.actions, res, step, now)
        return res

    # --- validation -------------------------------------------------------------
    def check_actions(
        self, actions: Sequence[Action], match: tuple[tuple[int, int, int], ...] | None,
        packet_out: bool = False,
    ) -> None:  # fmt: skip
        """Raise OFPET_BAD_ACTION (or friends) for an action list the switch refuses."""
        for a in actions:
            if isinstance(a, ActionOutput):
                p = a.port
                ok = 0 < p <= c.OFPP_MAX or p in (
                    c.OFPP_IN_PORT,
                    c.OFPP_FLOOD,
                    c.OFPP_ALL,
                    c.OFPP_CONTROLLER,
                    c.OFPP_LOCAL,
                )
                if p == c.OFPP_TABLE and packet_out:
                    ok = True
                if not ok:
                    raise _bad_action(c.OFPBAC_BAD_OUT_PORT, f"output to port {p:#x}")
            elif isinstance(a, ActionGroup):
                if a.group_id not in self.groups:
                    raise _bad_action(c.OFPBAC_BAD_OUT_GROUP, f"group {a.group_id} does not exist")
            elif isinstance(a, ActionSetField):
                f = a.field
                if not isinstance(f, OxmTLV) or f.field not in SETTABLE:
                    raise _bad_action(c.OFPBAC_BAD_SET_TYPE, f"set-field of {f}")
                info = OXM_FIELDS[f.field]
                if f.mask is not None or not 0 <= f.value <= info.max_value:
                    raise _bad_action(c.OFPBAC_BAD_SET_ARGUMENT, f"set-field {f}")
                if (
                    match is not None
                    and f.field not in _TAG_FIELDS
                    and not prereq_met(match, f.field)
                ):
                    raise _bad_action(
                        c.OFPBAC_MATCH_INCONSISTENT,
                        f"set-field {info.name}: match lacks its prerequisites",
                    )
            elif isinstance(a, ActionPushVlan):
                if a.ethertype not in (0x8100, 0x88A8):
                    raise _bad_action(
                        c.OFPBAC_BAD_ARGUMENT, f"push_vlan ethertype {a.ethertype:#x}"
                    )
            elif isinstance(a, ActionPushMpls):
                if a.ethertype not in (0x8847, 0x8848):
                    raise _bad_action(
                        c.OFPBAC_BAD_ARGUMENT, f"push_mpls ethertype {a.ethertype:#x}"
                    )
            elif isinstance(a, ActionPushPbb):
                if a.ethertype != 0x88E7:
                    raise _bad_action(c.OFPBAC_BAD_ARGUMENT, f"push_pbb ethertype {a.ethertype:#x}")
            elif isinstance(a, ActionExperimenter):
                raise _bad_action(c.OFPBAC_BAD_EXPERIMENTER, f"experimenter {a.experimenter:#x}")

    def _check_instructions(
        self,
        table_id: int,
        instructions: Sequence[Instruction],
        match: tuple[tuple[int, int, int], ...],
    ) -> None:
        seen: set[int] = set()
        for ins in instructions:
            if ins.instruction_type in seen:
                raise PipelineError(
                    c.OFPET_BAD_INSTRUCTION,
                    c.OFPBIC_UNSUP_INST,
                    f"instruction {ins.instruction_type} twice",
                )
            seen.add(ins.instruction_type)
            if isinstance(ins, InstructionGotoTable):
                if not table_id < ins.table_id < self.n_tables:
                    raise PipelineError(
                        c.OFPET_BAD_INSTRUCTION,
                        c.OFPBIC_BAD_TABLE_ID,
                        f"goto_table {ins.table_id} from table {table_id}: must go forward, below {self.n_tables}",
                    )
            elif isinstance(ins, (InstructionApplyActions, InstructionWriteActions)):
                self.check_actions(ins.actions, match)
            elif isinstance(ins, InstructionMeter):
                if ins.meter_id not in self.meters:
                    raise PipelineError(
                        c.OFPET_METER_MOD_FAILED, c.OFPMMFC_UNKNOWN_METER, f"meter {ins.meter_id}"
                    )
            elif ins.instruction_type == c.OFPIT_EXPERIMENTER:
                raise PipelineError(c.OFPET_BAD_INSTRUCTION, c.OFPBIC_UNSUP_INST, "experimenter")

    # --- flow-mod ---------------------------------------------------------------
    def _removed(self, e: FlowEntry, reason: int, now: float) -> FlowRemoved:
        sec, nsec = duration(now, e.created)
        return FlowRemoved(
            cookie=e.cookie,
            priority=e.priority,
            reason=reason,
            table_id=e.table_id,
            duration_sec=sec,
            duration_nsec=nsec,
            idle_timeout=e.idle_timeout,
            hard_timeout=e.hard_timeout,
            packet_count=e.packet_count,
            byte_count=e.byte_count,
            match=e.match,
        )

    def _delete_entries(
        self, entries: list[FlowEntry], reason: int, now: float
    ) -> list[FlowRemoved]:
        out: list[FlowRemoved] = []
        for e in entries:
            self.tables[e.table_id].delete([e])
            if e.flags & c.OFPFF_SEND_FLOW_REM:
                out.append(self._removed(e, reason, now))
        return out

    def apply_flow_mod(self, msg: FlowMod, now: float) -> list[FlowRemoved]:
        """Apply an OFPT_FLOW_MOD; returns FLOW_REMOVED messages for deleted entries."""
        cmd = msg.command
        if cmd not in (c.OFPFC_ADD, c.OFPFC_MODIFY, c.OFPFC_MODIFY_STRICT, c.OFPFC_DELETE,
                       c.OFPFC_DELETE_STRICT):  # fmt: skip
            raise PipelineError(c.OFPET_FLOW_MOD_FAILED, c.OFPFMFC_BAD_COMMAND, f"command {cmd}")
        if msg.flags & ~_FLAGS:
            raise PipelineError(
                c.OFPET_FLOW_MOD_FAILED, c.OFPFMFC_BAD_FLAGS, f"flags {msg.flags:#x}"
            )
        deleting = cmd in (c.OFPFC_DELETE, c.OFPFC_DELETE_STRICT)
        if not (msg.table_id < self.n_tables or (deleting and msg.table_id == c.OFPTT_ALL)):
            raise PipelineError(
                c.OFPET_FLOW_MOD_FAILED,
                c.OFPFMFC_BAD_TABLE_ID,
                f"table {msg.table_id} does not exist",
            )
        key = normalize(msg.match)
        strict = cmd in (c.OFPFC_MODIFY_STRICT, c.OFPFC_DELETE_STRICT)
        if deleting:
            tables = self.tables if msg.table_id == c.OFPTT_ALL else [self.tables[msg.table_id]]
            victims = [
                e
                for t in tables
                for e in t.select(
                    key,
                    strict,
                    msg.priority,
                    msg.cookie,
                    msg.cookie_mask,
                    msg.out_port,
                    msg.out_group,
                )
            ]
            return self._delete_entries(victims, c.OFPRR_DELETE, now)
        self._check_instructions(msg.table_id, msg.instructions, key)
        table = self.tables[msg.table_id]
        if cmd == c.OFPFC_ADD:
            if msg.cookie == 0xFFFF_FFFF_FFFF_FFFF:
                raise PipelineError(
                    c.OFPET_FLOW_MOD_FAILED, c.OFPFMFC_BAD_COMMAND, "cookie -1 is reserved"
                )
            entry = FlowEntry(
                table_id=msg.table_id,
                match=msg.match,
                key=key,
                priority=msg.priority,
                cookie=msg.cookie,
                idle_timeout=msg.idle_timeout,
                hard_timeout=msg.hard_timeout,
                flags=msg.flags,
                instructions=msg.instructions,
                created=now,
                last_used=now,
            )
            self._on_add(entry, table.add(entry))
            return []
        targets = table.select(key, strict, msg.priority, msg.cookie, msg.cookie_mask)
        reset = bool(msg.flags & c.OFPFF_RESET_COUNTS)
        before = [e.instructions for e in targets]
        table.modify(targets, msg.instructions, reset)
        if targets:
            self._on_modify(targets, before, reset)
        return []

    # Change hooks: the fast path's agent records each effect for its workers (fastpath/switch).
    def _on_add(self, entry: FlowEntry, replaced: FlowEntry | None) -> None:
        """``entry`` was added (replacing ``replaced``: same match and priority)."""

    def _on_modify(
        self, entries: list[FlowEntry], before: list[tuple[Instruction, ...]], reset_counts: bool
    ) -> None:
        """``entries`` got new instructions (they ran ``before``; counters zeroed with
        ``reset_counts``)."""

    def expire(self, now: float) -> list[FlowRemoved]:
        """Remove entries whose idle or hard timeout has passed by ``now``."""
        out: list[FlowRemoved] = []
        for t in self.tables:
            for e, reason in t.expire(now):
                if e.flags & c.OFPFF_SEND_FLOW_REM:
                    out.append(self._removed(e, reason, now))
        return out

    def apply_table_mod(self, msg: TableMod) -> None:
        if msg.table_id != c.OFPTT_ALL and msg.table_id >= self.n_tables:
            raise PipelineError(
                c.OFPET_TABLE_MOD_FAILED, c.OFPTMFC_BAD_TABLE, f"table {msg.table_id}"
            )
        if msg.config & ~c.OFPTC_DEPRECATED_MASK:
            raise PipelineError(
                c.OFPET_TABLE_MOD_FAILED, c.OFPTMFC_BAD_CONFIG, f"config {msg.config:#x}"
            )
        for t in self.tables if msg.table_id == c.OFPTT_ALL else [self.tables[msg.table_id]]:
            t.config = msg.config

    # --- groups and meters --------------------------------------------------------
    def _flows_using(
        self, *, group: int | None = None, meter: int | None = None
    ) -> list[FlowEntry]:
        return [
            e
            for t in self.tables
            for e in t.entries()
            if (group is not None and group in set(e.out_groups()))
            or (meter is not None and e.meter_id() == meter)
        ]

    def apply_group_mod(self, msg: GroupMod, now: float) -> list[FlowRemoved]:
        """Apply an OFPT_GROUP_MOD; deleting a group deletes the flows that forward to it."""
        validate_group_mod(msg, self.groups, lambda acts: self.check_actions(acts, None))
        if msg.command == c.OFPGC_DELETE:
            ids = list(self.groups) if msg.group_id == c.OFPG_ALL else [msg.group_id]
            out: list[FlowRemoved] = []
            for gid in ids:
                if gid in self.groups:
                    out += self._delete_entries(
                        self._flows_using(group=gid), c.OFPRR_GROUP_DELETE, now
                    )
                    del self.groups[gid]
            return out
        old = self.groups.get(msg.group_id)
        g = Group(msg.group_id, msg.type, msg.buckets, now if old is None else old.created)
        if old is not None:
            g.packet_count, g.byte_count = old.packet_count, old.byte_count
        g.reset_bucket_counters()
        self.groups[msg.group_id] = g
        return []

    def apply_meter_mod(self, msg: MeterMod, now: float) -> list[FlowRemoved]:
        """Apply an OFPT_METER_MOD; deleting a meter deletes the flows that use it."""
        validate_meter_mod(msg, msg.meter_id in self.meters, len(self.meters))
        if msg.command == c.OFPMC_DELETE:
            ids = list(self.meters) if msg.meter_id == c.OFPM_ALL else [msg.meter_id]
            out: list[FlowRemoved] = []
            for mid in ids:
                if mid in self.meters:
                    out += self._delete_entries(self._flows_using(meter=mid), c.OFPRR_DELETE, now)
                    del self.meters[mid]
            return out
        old = self.meters.get(msg.meter_id)
        m = Meter.build(msg, now)
        if old is not None:
            m.created, m.packet_in_count, m.byte_in_count = (
                old.created,
                old.packet_in_count,
                old.byte_in_count,
            )
        self.meters[msg.meter_id] = m
        return []

    # --- statistics ---------------------------------------------------------------
    def flow_stats(
        self, now: float, table_id: int = c.OFPTT_ALL, match: Match | None = None,
        out_port: int = c.OFPP_ANY, out_group: int = c.OFPG_ANY, cookie: int = 0,
        cookie_mask: int = 0,
    ) -> list[FlowStats]:  # fmt: skip
        """OFPMP_FLOW entries selected like a non-strict delete."""
        out: list[FlowStats] = []
        for e in self._select_stats(table_id, match, out_port, out_group, cookie, cookie_mask):
            sec, nsec = duration(now, e.created)
            out.append(
                FlowStats(
                    table_id=e.table_id,
                    duration_sec=sec,
                    duration_nsec=nsec,
                    priority=e.priority,
                    idle_timeout=e.idle_timeout,
                    hard_timeout=e.hard_timeout,
                    flags=e.flags,
                    cookie=e.cookie,
                    packet_count=e.packet_count,
                    byte_count=e.byte_count,
                    match=e.match,
                    instructions=e.instructions,
                )
            )
        return out

    def aggregate_stats(
        self, table_id: int = c.OFPTT_ALL, match: Match | None = None,
        out_port: int = c.OFPP_ANY, out_group: int = c.OFPG_ANY, cookie: int = 0,
        cookie_mask: int = 0,
    ) -> tuple[int, int, int]:  # fmt: skip
        """(packet_count, byte_count, flow_count) for OFPMP_AGGREGATE."""
        sel = self._select_stats(table_id, match, out_port, out_group, cookie, cookie_mask)
        return sum(e.packet_count for e in sel), sum(e.byte_count for e in sel), len(sel)

    def _select_stats(
        self, table_id: int, match: Match | None, out_port: int, out_group: int, cookie: int,
        cookie_mask: int,
    ) -> list[FlowEntry]:  # fmt: skip
        if table_id != c.OFPTT_ALL and table_id >= self.n_tables:
            raise PipelineError(c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_TABLE_ID, f"table {table_id}")
        key = normalize(match if match is not None else Match())
        tables = self.tables if table_id == c.OFPTT_ALL else [self.tables[table_id]]
        sel = [
            e
            for t in tables
            for e in t.select(key, False, 0, cookie, cookie_mask, out_port, out_group)
        ]
        sel.sort(key=lambda e: (e.table_id, -e.priority))
        return sel

    def table_stats(self) -> list[TableStats]:
        return [
            TableStats(
                table_id=t.table_id,
                active_count=len(t),
                lookup_count=t.lookup_count,
                matched_count=t.matched_count,
            )
            for t in self.tables
        ]

    def port_stats(self, port_no: int = c.OFPP_ANY) -> list[PortStats]:
        """The pipeline's per-port packet counters (the port layer adds error counters)."""
        ports = sorted(self.port_counters) if port_no == c.OFPP_ANY else [port_no]
        out = []
        for p in ports:
            rp, rb, rd, tp, tb, td = self.port_counters.get(p, [0] * 6)
            out.append(
                PortStats(
                    port_no=p,
                    rx_packets=rp,
                    rx_bytes=rb,
                    rx_dropped=rd,
                    tx_packets=tp,
                    tx_bytes=tb,
                    tx_dropped=td,
                )
            )
        return out

    def group_stats(self, now: float, group_id: int = c.OFPG_ALL) -> list[GroupStats]:
        ids = sorted(self.groups) if group_id == c.OFPG_ALL else [group_id]
        out = []
        for gid in ids:
            g = self.groups.get(gid)
            if g is None:
                raise PipelineError(
                    c.OFPET_GROUP_MOD_FAILED, c.OFPGMFC_UNKNOWN_GROUP, f"group {gid}"
                )
            refs = len(self._flows_using(group=gid)) + sum(
                gid in chained_groups(o.buckets) for o in self.groups.values()
            )
            sec, nsec = duration(now, g.created)
            out.append(
                GroupStats(
                    group_id=gid,
                    ref_count=refs,
                    packet_count=g.packet_count,
                    byte_count=g.byte_count,
                    duration_sec=sec,
                    duration_nsec=nsec,
                    bucket_stats=tuple(
                        BucketCounter(packet_count=p, byte_count=b)
                        for p, b in zip(g.bucket_packets, g.bucket_bytes, strict=True)
                    ),
                )
            )
        return out

    def group_desc(self) -> list[GroupDesc]:
        return [GroupDesc(type=g.type, group_id=g.group_id, buckets=g.buckets)
                for _, g in sorted(self.groups.items())]  # fmt: skip

    def group_features(self) -> GroupFeaturesReply:
        acts = 0
        for t in (c.OFPAT_OUTPUT, c.OFPAT_COPY_TTL_OUT, c.OFPAT_COPY_TTL_IN, c.OFPAT_SET_MPLS_TTL,
                  c.OFPAT_DEC_MPLS_TTL, c.OFPAT_PUSH_VLAN, c.OFPAT_POP_VLAN, c.OFPAT_PUSH_MPLS,
                  c.OFPAT_POP_MPLS, c.OFPAT_SET_QUEUE, c.OFPAT_GROUP, c.OFPAT_SET_NW_TTL,
                  c.OFPAT_DEC_NW_TTL, c.OFPAT_SET_FIELD, c.OFPAT_PUSH_PBB, c.OFPAT_POP_PBB):  # fmt: skip
            acts |= 1 << t
        return GroupFeaturesReply(
            types=(1 << c.OFPGT_ALL)
            | (1 << c.OFPGT_SELECT)
            | (1 << c.OFPGT_INDIRECT)
            | (1 << c.OFPGT_FF),
            capabilities=c.OFPGFC_SELECT_WEIGHT
            | c.OFPGFC_SELECT_LIVENESS
            | c.OFPGFC_CHAINING
            | c.OFPGFC_CHAINING_CHECKS,
            max_groups=(MAX_GROUPS,) * 4,
            actions=(acts,) * 4,
        )

    def meter_stats(self, now: float, meter_id: int = c.OFPM_ALL) -> list[MeterStats]:
        ids = sorted(self.meters) if meter_id == c.OFPM_ALL else [meter_id]
        out = []
        for mid in ids:
            m = self.meters.get(mid)
            if m is None:
                raise PipelineError(
                    c.OFPET_METER_MOD_FAILED, c.OFPMMFC_UNKNOWN_METER, f"meter {mid}"
                )
            sec, nsec = duration(now, m.created)
            by_spec = {id(b.spec): b for b in m.bands}
            out.append(
                MeterStats(
                    meter_id=mid,
                    flow_count=len(self._flows_using(meter=mid)),
                    packet_in_count=m.packet_in_count,
                    byte_in_count=m.byte_in_count,
                    duration_sec=sec,
                    duration_nsec=nsec,
                    band_stats=tuple(
                        MeterBandStats(
                            packet_band_count=by_spec[id(s)].packet_count,
                            byte_band_count=by_spec[id(s)].byte_count,
                        )
                        for s in m.bands_spec
                    ),
                )
            )
        return out

    def meter_config(self, meter_id: int = c.OFPM_ALL) -> list[MeterConfig]:
        ids = sorted(self.meters) if meter_id == c.OFPM_ALL else [meter_id]
        return [MeterConfig(flags=self.meters[m].flags, meter_id=m, bands=self.meters[m].bands_spec)
                for m in ids if m in self.meters]  # fmt: skip

    def meter_features(self) -> MeterFeaturesReply:
        return MeterFeaturesReply(
            max_meter=MAX_METERS,
            band_types=(1 << c.OFPMBT_DROP) | (1 << c.OFPMBT_DSCP_REMARK),
            capabilities=c.OFPMF_KBPS | c.OFPMF_PKTPS | c.OFPMF_BURST | c.OFPMF_STATS,
            max_bands=MAX_BANDS,
            max_color=0,
        )
