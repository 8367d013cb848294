"""Compact update records: what the agent ships workers for each flow-table change.

Role (paper §VI, DESIGN §4): the OpenFlow agent decodes, validates and
normalises a flow-mod once, against its authoritative pipeline; workers must
then reach the same tables without paying that again. Shipping the
flow-mod's OpenFlow bytes (the first cut) made every worker re-decode and
re-validate (~100 µs per flow-mod per worker in CPython). Instead the agent
records the *effect* of each change, already validated and normalised, in
the layout of the workers' :class:`~.table.CompactTable`:

=============================================================  ======================
record                                                          worker does
=============================================================  ======================
``("mask", mid, mask)``                                          define mask id ``mid``
``("prog", pid, instructions)``                                  define program ``pid``
``("unprog", pid)``                                              forget program ``pid``
``("adds", (table, mid, priority, pid, cookie, idle, hard,      ``CompactTable.add``
flags), [key, ...])``                                            per key (replace
                                                                 semantics)
``("mod", table, mid, key, priority, pid, reset_counts)``        new program
``("del", table, mid, key, priority)``                           remove the rule
=============================================================  ======================

``key`` is the rule's packed masked values (:func:`~.table.pack_values`);
consecutive adds that differ only in their key (a controller's burst of
exact rules) share one ``adds`` record (up to :data:`ADDS_MAX` keys), and
the worker keeps those very ``bytes`` as its dict keys.
A MODIFY or DELETE that selects N entries becomes N records naming them
exactly (strict), so workers never run a non-strict selection; deletions
made by flow expiry and by GROUP/METER deletion are ``del`` records too.
Group, meter and table mods and port changes are still shipped as before
(``("ofp", raw)``, ``("port", ...)``: rare, and the worker's pipeline keeps
their full semantics).

Definitions precede their first use in the same update. Program ids are
reference-counted here: when no rule uses an instruction list any more it
is forgotten on both sides (``unprog``), so rules that churn with distinct
actions do not leak. Mask ids are never reused (masks are few).

Counter reports come back in the same vocabulary: a worker names a rule
by (table, mask id, packed key, priority) (:class:`FlowReport`), and the
encoder keeps every shipped entry in a dict under that name (``index``:
set on add and replace, dropped on delete and expiry; a modify keeps the
match), so the agent resolves a report row with one dict lookup instead of
unpacking keys into matches and searching its classifier.

Invariants: records are produced only for changes the agent's pipeline
applied (a refused flow-mod yields none), in the order it applied them; the
encoder is pure (no I/O) and has a single owner, the agent.
"""

from __future__ import annotations

import struct
from array import array
from typing import NamedTuple, cast

from openvolcano.ofp import consts as c
from openvolcano.ofp.instructions import Instruction
from openvolcano.ofp.messages import FlowRemoved, GroupMod, MeterMod, TableMod

from ..pipeline import Pipeline, PortView
from ..pipeline.classifier import Mask, MatchKey, split_key
from ..pipeline.core import DEFAULT_MAX_ENTRIES, DEFAULT_N_TABLES
from ..pipeline.flowtable import FlowEntry
from .table import MaskSpec, mask_spec, pack_values

__all__ = ["FlowReport", "Record", "RecordEncoder", "RecordingPipeline"]

Record = tuple[object, ...]
# Keys per ``adds`` record: the pool ships records in chunks of a fixed count, so one
# record must stay small (32 keys of a 5-tuple rule: ~1.2 KB pickled).
ADDS_MAX = 32
# The agent's index key of a rule: (table, mask id, priority) then the packed key, one bytes
_HEAD = struct.Struct("=BIH")


class FlowReport(NamedTuple):
    """A worker's flow counter increments for rules of one table (``("flowc", ...)``,
    :meth:`.worker.Worker._export_flows`): columns, one row per rule, in native ``array``
    layouts (``priorities`` ``H``, ``mask_ids`` ``I``, ``packets``/``nbytes`` ``Q``)."""

    table_id: int
    version: int  # the worker's replica version when it sent the report
    priorities: bytes
    mask_ids: bytes
    keys: list[bytes]  # packed keys
    packets: bytes
    nbytes: bytes


class RecordEncoder:
    """Agent side: interns masks and programs, turns flow-table effects into records."""

    def __init__(self) -> None:
        self.masks: dict[Mask, tuple[int, MaskSpec]] = {}
        self.programs: dict[tuple[Instruction, ...], int] = {}
        self.refs: dict[int, int] = {}  # program id -> rules using it
        self._next_pid = 0
        # Every entry shipped, by what workers call it (head + packed key, :data:`_HEAD`):
        # resolves counter reports with one dict lookup. ~110 B per rule (a 71-byte key for
        # a 5-tuple+MAC rule, and its dict slot).
        self.index: dict[bytes, FlowEntry] = {}

    def key(
        self, key: MatchKey, out: list[Record], split: tuple[Mask, tuple[int, ...]] | None = None
    ) -> tuple[int, bytes]:
        """(mask id, packed key) of a normalised match (``split``: its :func:`split_key`, when
        the caller has it); defines the mask when new."""
        mask, values = split_key(key) if split is None else split
        known = self.masks.get(mask)
        if known is None:
            known = self.masks[mask] = (len(self.masks) + 1, mask_spec(mask))
            out.append(("mask", known[0], mask))
        return known[0], pack_values(known[1], values)

    def resolve(self, r: FlowReport) -> list[tuple[FlowEntry, int, int]]:
        """The entries a report names, with their increments (rules no longer known: left
        out). No version check: see :meth:`RecordingPipeline.credit`."""
        prios, mids, pks, bys = array("H"), array("I"), array("Q"), array("Q")
        prios.frombytes(r.priorities)
        mids.frombytes(r.mask_ids)
        pks.frombytes(r.packets)
        bys.frombytes(r.nbytes)
        get, head, tid = self.index.get, _HEAD.pack, r.table_id
        out = []
        for p, m, k, dp, db in zip(prios, mids, r.keys, pks, bys, strict=True):
            e = get(head(tid, m, p) + k)
            if e is not None:
                out.append((e, dp, db))
        return out

    def _use(self, instructions: tuple[Instruction, ...], out: list[Record]) -> int:
        pid = self.programs.get(instructions)
        if pid is None:
            self._next_pid += 1
            pid = self.programs[instructions] = self._next_pid
            self.refs[pid] = 0
            out.append(("prog", pid, instructions))
        self.refs[pid] += 1
        return pid

    def _release(self, instructions: tuple[Instruction, ...], out: list[Record]) -> None:
        pid = self.programs[instructions]
        self.refs[pid] -= 1
        if not self.refs[pid]:
            del self.refs[pid], self.programs[instructions]
            out.append(("unprog", pid))

    def add(
        self, e: FlowEntry, replaced: FlowEntry | None, out: list[Record],
        split: tuple[Mask, tuple[int, ...]] | None = None,
    ) -> None:  # fmt: skip
        mid, key = self.key(e.key, out, split)
        self.index[_HEAD.pack(e.table_id, mid, e.priority) + key] = e  # replaces ``replaced``
        pid = self._use(e.instructions, out)
        attrs = (e.table_id, mid, e.priority, pid, e.cookie, e.idle_timeout, e.hard_timeout,
                 e.flags)  # fmt: skip
        last = out[-1] if out else None
        keys = cast(list[bytes], last[2]) if last is not None and last[0] == "adds" else None
        if keys is not None and len(keys) < ADDS_MAX and last is not None and last[1] == attrs:
            keys.append(key)  # a burst of alike rules: one record
        else:
            out.append(("adds", attrs, [key]))
        if replaced is not None:
            self._release(replaced.instructions, out)

    def modify(
        self, entries: list[FlowEntry], old: list[tuple[Instruction, ...]], reset: bool,
        out: list[Record],
    ) -> None:  # fmt: skip
        """``entries`` now run their new instructions; ``old`` are the ones they ran."""
        for e, before in zip(entries, old, strict=True):
            mid, key = self.key(e.key, out)
            pid = self._use(e.instructions, out)
            out.append(("mod", e.table_id, mid, key, e.priority, pid, reset))
            self._release(before, out)

    def delete(self, e: FlowEntry, out: list[Record]) -> None:
        mid, key = self.key(e.key, out)
        ikey = _HEAD.pack(e.table_id, mid, e.priority) + key
        if self.index.get(ikey) is e:
            del self.index[ikey]
        out.append(("del", e.table_id, mid, key, e.priority))
        self._release(e.instructions, out)


class RecordingPipeline(Pipeline):
    """The agent's authoritative pipeline; ``pending`` collects the records of every change
    it applied (flow effects as above; group/meter/table mods as their OpenFlow encoding)."""

    def __init__(
        self, n_tables: int = DEFAULT_N_TABLES, ports: PortView | None = None,
        max_entries: int = DEFAULT_MAX_ENTRIES,
    ) -> None:  # fmt: skip
        super().__init__(n_tables, ports=ports, max_entries=max_entries)
        self.pending: list[Record] = []
        self.encoder = RecordEncoder()
        self.next_version = 1  # see shipping_version

    def _on_add(self, entry: FlowEntry, replaced: FlowEntry | None) -> None:
        keeps = replaced is not None and not entry.flags & c.OFPFF_RESET_COUNTS
        entry.version = replaced.version if keeps and replaced else self.shipping_version()
        self.encoder.add(entry, replaced, self.pending, self.tables[entry.table_id].last_split)

    def shipping_version(self) -> int:
        """The replica version ``pending`` will ship in (the fast path asks its update log)."""
        return self.next_version

    def _on_modify(
        self, entries: list[FlowEntry], before: list[tuple[Instruction, ...]], reset_counts: bool
    ) -> None:
        self.encoder.modify(entries, before, reset_counts, self.pending)

    def _delete_entries(
        self, entries: list[FlowEntry], reason: int, now: float
    ) -> list[FlowRemoved]:
        out = super()._delete_entries(entries, reason, now)
        for e in entries:
            self.encoder.delete(e, self.pending)
        return out

    def credit(self, report: FlowReport, now: float) -> int:
        """Add a worker's counter report to the entries it names; how many were credited.

        An entry is credited only if it was shipped in an update <= the report's version:
        the worker counted under a replica that had this very entry, not an older one the
        agent has since deleted and re-added with the same match and priority (its counts
        are dropped, never misattributed). A worker names rules by (mask id, packed key,
        priority), not by its slots, so a slot it reused cannot name another rule.
        """
        n, version = 0, report.version
        for e, dp, db in self.encoder.resolve(report):
            if e.version <= version:
                e.packet_count += dp
                e.byte_count += db
                e.last_used = now
                n += 1
        return n

    def apply_group_mod(self, msg: GroupMod, now: float) -> list[FlowRemoved]:
        out = super().apply_group_mod(msg, now)  # flow deletions recorded first
        self.pending.append(("ofp", msg.encode()))
        return out

    def apply_meter_mod(self, msg: MeterMod, now: float) -> list[FlowRemoved]:
        out = super().apply_meter_mod(msg, now)
        self.pending.append(("ofp", msg.encode()))
        return out

    def apply_table_mod(self, msg: TableMod) -> None:
        super().apply_table_mod(msg)
        self.pending.append(("ofp", msg.encode()))

    def expire(self, now: float) -> list[FlowRemoved]:
        """As :meth:`Pipeline.expire`; each removal is recorded as a ``del``."""
        out: list[FlowRemoved] = []
        for t in self.tables:
            for e, reason in t.expire(now):
                self.encoder.delete(e, self.pending)
                if e.flags & c.OFPFF_SEND_FLOW_REM:
                    out.append(self._removed(e, reason, now))
        return out
