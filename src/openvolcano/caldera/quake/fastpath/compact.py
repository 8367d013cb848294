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
flags), [key, ...], array("I", [row, ...]))``                   per key (replace
                                                                 semantics)
``("mod", table, mid, key, priority, pid, reset_counts)``        new program
``("del", table, mid, key, priority)``                           remove the rule
=============================================================  ======================

``key`` is the rule's packed masked values (:func:`~.table.pack_values`),
``row`` the agent's name for the entry in counter reports (below);
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

Counter reports name rules by the agent's ``row``: every entry shipped has
a row in the agent's :class:`PendingCounts` (kept by a replacing add,
released at delete and expiry, then reused), the worker stores it beside the
rule, and a report (:class:`FlowReport`) is three native columns: rows,
packets, bytes. So crediting a report is a few vectorised numpy operations,
whatever the number of rules: a worker reports every active rule once a
second, and 65,536 rules resolved and credited one Python attribute at a time
cost the agent ~65 ms a second (on a 2-core server, the core the switch does
not forward on). A row reused by a newer entry is guarded by versions (see
:meth:`RecordingPipeline.credit`). The increments wait in the numpy columns;
the entries' ``packet_count``/``byte_count``/``last_used`` take them only
when someone reads or changes entries (:meth:`RecordingPipeline.settle`:
statistics, flow/group/meter mods, expiry when a table has timed entries).

The encoder also keeps every shipped entry's row under what the worker calls
the rule (``index``: (table, mask id, priority) -> packed key -> row) for
replacements and deletions.

Invariants: records are produced only for changes the agent's pipeline
applied (a refused flow-mod yields none), in the order it applied them; the
encoder is pure (no I/O) and has a single owner, the agent.
"""

from __future__ import annotations

from array import array
from typing import NamedTuple, cast

import numpy as np

from openvolcano.ofp import consts as c
from openvolcano.ofp.instructions import Instruction
from openvolcano.ofp.messages import FlowMod, FlowRemoved, GroupMod, MeterMod, TableMod
from openvolcano.ofp.oxm import Match

from ..pipeline import Pipeline, PortView
from ..pipeline.classifier import Mask, MatchKey, split_key
from ..pipeline.core import DEFAULT_MAX_ENTRIES, DEFAULT_N_TABLES
from ..pipeline.flowtable import FlowEntry
from .table import MaskSpec, mask_spec, pack_values

__all__ = ["FlowReport", "PendingCounts", "Record", "RecordEncoder", "RecordingPipeline"]

Record = tuple[object, ...]
# Keys per ``adds`` record: the pool ships records in chunks of a fixed count, so one
# record must stay small (32 keys of a 5-tuple rule: ~1.2 KB pickled).
ADDS_MAX = 32
_NEVER = np.iinfo(np.int64).max  # the version of a free row: no report is that recent


class FlowReport(NamedTuple):
    """A worker's flow counter increments (``("flowc", ...)``,
    :meth:`.worker.Worker._export_flows`): columns, one entry per rule, in native ``array``
    layouts (``rows`` ``I``: the agent's rows of the rules; ``packets``/``nbytes`` ``Q``)."""

    version: int  # the worker's replica version when it sent the report
    rows: bytes
    packets: bytes
    nbytes: bytes


class PendingCounts:
    """Reported increments the agent's entries have not taken yet, in numpy columns.

    Every entry shipped to the workers has a *row* (kept by :class:`RecordEncoder` while the
    entry is in its index; a freed row is reused). ``version`` holds the entry's
    :attr:`~..pipeline.flowtable.FlowEntry.version`, so :meth:`add` drops a report's counts
    for a row whose entry was shipped after the report's replica version (see
    :meth:`RecordingPipeline.credit`). :meth:`settle` moves the increments into the entries.
    Invariant: a row's pending counts are zero whenever its entry changes (the pipeline
    settles before every change), so rows are reused and entries replaced without loss.
    """

    def __init__(self) -> None:
        self.entries: list[FlowEntry | None] = []
        self._free: list[int] = []
        self.version = np.zeros(0, np.int64)
        self.packets = np.zeros(0, np.uint64)
        self.nbytes = np.zeros(0, np.uint64)
        self.last_used = np.zeros(0, np.float64)
        self.dirty = False  # some row has pending counts

    def take(self, e: FlowEntry) -> int:
        """A row for ``e`` (its counts pending: none)."""
        if self._free:
            row = self._free.pop()
            self.entries[row] = e
        else:
            row = len(self.entries)
            self.entries.append(e)
            if row >= len(self.version):  # grow the columns by half
                grow = max(1024, row // 2)
                self.version = np.concatenate((self.version, np.full(grow, _NEVER, np.int64)))
                self.packets = np.concatenate((self.packets, np.zeros(grow, np.uint64)))
                self.nbytes = np.concatenate((self.nbytes, np.zeros(grow, np.uint64)))
                self.last_used = np.concatenate((self.last_used, np.zeros(grow, np.float64)))
        self.version[row] = e.version
        return row

    def put(self, row: int, e: FlowEntry) -> None:
        """``e`` replaces the entry in ``row`` (same match and priority)."""
        self.entries[row] = e
        self.version[row] = e.version

    def release(self, row: int) -> None:
        """``row``'s entry is gone: reports naming it are dropped until it is reused."""
        self.entries[row] = None
        self.version[row] = _NEVER
        self.packets[row] = self.nbytes[row] = 0
        self._free.append(row)

    def add(self, report: FlowReport, now: float) -> int:
        """Add a report's increments to its rows whose entry the report's version had (the
        others: dropped); how many rows were credited."""
        rows = np.frombuffer(report.rows, np.uint32)
        ok = rows < len(self.entries)  # a row never given out: a confused worker
        ok[ok] = self.version[rows[ok]] <= report.version
        take = rows[ok]
        if not len(take):
            return 0
        # Rows are distinct within a report (one row per rule), so fancy-index adds are exact.
        self.packets[take] += np.frombuffer(report.packets, np.uint64)[ok]
        self.nbytes[take] += np.frombuffer(report.nbytes, np.uint64)[ok]
        self.last_used[take] = now
        self.dirty = True
        return len(take)

    def settle(self) -> int:
        """Move every pending increment into its entry; how many entries took some."""
        if not self.dirty:
            return 0
        self.dirty = False
        rows = np.flatnonzero(self.packets | self.nbytes)
        ents = self.entries
        for row, dp, db, t in zip(rows.tolist(), self.packets[rows].tolist(),
                                  self.nbytes[rows].tolist(), self.last_used[rows].tolist(),
                                  strict=True):  # fmt: skip
            e = ents[row]
            assert e is not None  # released rows are zeroed
            e.packet_count += dp
            e.byte_count += db
            if t > e.last_used:
                e.last_used = t
        self.packets[rows] = 0
        self.nbytes[rows] = 0
        return len(rows)


class RecordEncoder:
    """Agent side: interns masks and programs, turns flow-table effects into records."""

    def __init__(self) -> None:
        self.masks: dict[Mask, tuple[int, MaskSpec]] = {}
        self.programs: dict[tuple[Instruction, ...], int] = {}
        self.refs: dict[int, int] = {}  # program id -> rules using it
        self._next_pid = 0
        # Every entry shipped, by what workers call it: (table, mask id, priority) -> packed
        # key -> its row in ``counts``. ~100 B per rule (the key, its dict slot, a row).
        self.index: dict[tuple[int, int, int], dict[bytes, int]] = {}
        self.counts = PendingCounts()

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
        sub = self.index.setdefault((e.table_id, mid, e.priority), {})
        row = sub.get(key)
        if row is None:
            row = sub[key] = self.counts.take(e)
        else:  # ``replaced``: same match and priority, same row
            self.counts.put(row, e)
        pid = self._use(e.instructions, out)
        attrs = (e.table_id, mid, e.priority, pid, e.cookie, e.idle_timeout, e.hard_timeout,
                 e.flags)  # fmt: skip
        last = out[-1] if out else None
        keys = cast(list[bytes], last[2]) if last is not None and last[0] == "adds" else None
        if keys is not None and len(keys) < ADDS_MAX and last is not None and last[1] == attrs:
            keys.append(key)  # a burst of alike rules: one record
            cast("array[int]", last[3]).append(row)
        else:
            out.append(("adds", attrs, [key], array("I", (row,))))
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
        head = (e.table_id, mid, e.priority)
        sub = self.index.get(head)
        row = None if sub is None else sub.get(key)
        if sub is not None and row is not None and self.counts.entries[row] is e:
            del sub[key]
            if not sub:
                del self.index[head]
            self.counts.release(row)
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
        """Take a worker's counter report; how many entries it credits. The increments wait
        in the encoder's :class:`PendingCounts` until :meth:`settle` (every reader of
        entries' counts or ``last_used`` here settles first).

        A report names rules by their rows, and a row is credited only if its entry was
        shipped in an update <= the report's version: the worker counted under a replica
        that had this very entry, not an older one the agent has since deleted (its row
        given to a newer entry, or its match re-added, or replaced with RESET_COUNTS):
        such counts are dropped, never misattributed. A worker's slot holds the row of the
        rule in it (a reused slot takes the new rule's row), so a slot cannot name another
        rule either.
        """
        return self.encoder.counts.add(report, now)

    def settle(self) -> None:
        """Move the reported counts into the entries (before anything reads or changes
        them: a row's pending counts must be zero when its entry changes)."""
        self.encoder.counts.settle()

    def apply_flow_mod(self, msg: FlowMod, now: float) -> list[FlowRemoved]:
        self.settle()
        return super().apply_flow_mod(msg, now)

    def _select_stats(
        self, table_id: int, match: Match | None, out_port: int, out_group: int, cookie: int,
        cookie_mask: int,
    ) -> list[FlowEntry]:  # fmt: skip
        self.settle()  # flow and aggregate statistics read the counts
        return super()._select_stats(table_id, match, out_port, out_group, cookie, cookie_mask)

    def apply_group_mod(self, msg: GroupMod, now: float) -> list[FlowRemoved]:
        self.settle()  # it may delete flows (their FLOW_REMOVED carries the counts)
        out = super().apply_group_mod(msg, now)  # flow deletions recorded first
        self.pending.append(("ofp", msg.encode()))
        return out

    def apply_meter_mod(self, msg: MeterMod, now: float) -> list[FlowRemoved]:
        self.settle()
        out = super().apply_meter_mod(msg, now)
        self.pending.append(("ofp", msg.encode()))
        return out

    def apply_table_mod(self, msg: TableMod) -> None:
        super().apply_table_mod(msg)
        self.pending.append(("ofp", msg.encode()))

    def expire(self, now: float) -> list[FlowRemoved]:
        """As :meth:`Pipeline.expire`; each removal is recorded as a ``del``. Settles first
        when some entry can time out (idle timeouts read ``last_used``; FLOW_REMOVED, the
        counts)."""
        if any(t.has_timed() for t in self.tables):
            self.settle()
        out: list[FlowRemoved] = []
        for t in self.tables:
            for e, reason in t.expire(now):
                self.encoder.delete(e, self.pending)
                if e.flags & c.OFPFF_SEND_FLOW_REM:
                    out.append(self._removed(e, reason, now))
        return out
