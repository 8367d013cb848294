"""Compact flow tables for quake's workers: tuple space search over packed bytes and columns.

Role (paper §VI, DESIGN §4): every worker process holds a replica of the
switch's flow tables. A replica built from :class:`~..pipeline.flowtable.FlowTable`
costs ~3 KB per exact rule (a FlowEntry, its Match and OXM objects, a
Rule, a normalised-match tuple of tuples, a bucket list, decoded
instructions); 65,536 rules times N workers is most of a server's memory
for nothing, since the agent already holds the authoritative copy with
all of that. A :class:`CompactTable` holds only what forwarding needs.

Design
======

*Same search as* :mod:`..pipeline.classifier`: one hash table per distinct
mask ("subtable"), subtables visited by decreasing highest priority, early
exit once the best rule found beats every remaining subtable, subtables in
first-use order for equal priorities (so ties break exactly as in the
agent's classifier, which receives the same inserts and removals in the same
order).

*Packed keys.* A mask is known by a small integer id (assigned by the agent,
:mod:`.compact`); its :data:`MaskSpec` lists ``(field, mask, bits)`` in
field order. A rule's masked values are packed big-endian at each field's
OXM width into one ``bytes`` (a 9-field 5-tuple+MAC rule: 31 bytes), the
subtable's dict key. A packet's flow key (from :mod:`..pipeline.parse`) is
packed the same way per subtable: one int accumulation and one
``to_bytes``; a field absent from the packet (``None``) means no match.

*Columns.* A rule is a *slot*: an index into per-table ``array`` columns
(priority, action-program id, mask id, packet and byte counts, the flow
cache's shared-program index; cookie, timeouts and flags as *sparse*
columns, materialised only once some rule of the table has a non-zero
value) plus its key in a list. A subtable dict maps a key to its
slot, or, for the rare identical match at several priorities, to a tuple
of slots by decreasing priority. Freed slots are reused.

*Programs.* Instruction lists are interned by the agent: 65,536 rules with
the same actions share one tuple of instruction objects (:class:`Interned`).

*Views.* The packet path (:mod:`..pipeline.execute`, :mod:`..pipeline.cache`)
reads rules as :class:`~..pipeline.flowtable.FlowEntry`; :class:`EntryView`
is a two-slot flyweight over (table, slot) with the same attributes, made
on demand by a lookup. So groups, meters, goto chains, packet-ins and every
action keep the full pipeline's semantics: nothing needs a fallback.

Counters: a worker's packet/byte columns hold the increments *not yet
reported* to the agent (:meth:`CompactTable.take_counts`); the agent keeps
the totals, durations and ``last_used`` (it expires flows and answers
statistics; workers never expire on their own). ``created``/``last_used``
therefore read 0 here and writes to ``last_used`` are dropped.

Invariants: a live slot is in exactly one subtable dict (under its key,
once); ``_order`` is exactly the non-empty subtables sorted by
``max_priority`` whenever ``_dirty`` is false; single writer (the worker).
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from typing import cast

import numpy as np

from openvolcano.ofp import consts as c
from openvolcano.ofp.instructions import Instruction
from openvolcano.ofp.oxm import Match, OxmTLV
from openvolcano.ofp.oxm_fields import OXM_FIELDS

from ..pipeline import Pipeline
from ..pipeline.classifier import Mask, MatchKey, Rule
from ..pipeline.flowtable import FlowEntry, FlowTable
from ..pipeline.ports import PortView

__all__ = ["CompactTable", "EntryView", "Interned", "MaskSpec", "compact_pipeline",
           "mask_spec", "pack_values", "unpack_key"]  # fmt: skip

MaskSpec = tuple[tuple[int, int, int], ...]  # ((field, mask, bits), ...) in field order
_Slots = int | tuple[int, ...]


def mask_spec(mask: Mask) -> MaskSpec:
    """The packing layout of a mask ``((field, mask), ...)``."""
    return tuple((f, m, 8 * OXM_FIELDS[f].width) for f, m in mask)


def pack_values(spec: MaskSpec, values: Iterable[int]) -> bytes:
    """A rule's packed key: its masked values at their OXM widths, big-endian."""
    acc = n = 0
    for (_, _, bits), v in zip(spec, values, strict=True):
        acc = (acc << bits) | v
        n += bits
    return acc.to_bytes(n >> 3, "big")


def unpack_key(spec: MaskSpec, data: bytes) -> MatchKey:
    """The normalised match (``((field, value, mask), ...)``) a packed key stands for."""
    out = []
    acc = int.from_bytes(data, "big")
    shift = 8 * len(data)
    for f, m, bits in spec:
        shift -= bits
        out.append((f, (acc >> shift) & ((1 << bits) - 1), m))
    return tuple(out)


class Interned:
    """A worker's registries, filled by update records: mask id -> mask, program id -> instructions."""

    def __init__(self) -> None:
        self.masks: dict[int, tuple[Mask, MaskSpec, int]] = {}  # id -> (mask, spec, key bytes)
        self.programs: dict[int, tuple[Instruction, ...]] = {}

    def define_mask(self, mid: int, mask: Mask) -> None:
        spec = mask_spec(mask)
        self.masks[mid] = (mask, spec, sum(b for _, _, b in spec) >> 3)

    def define_program(self, pid: int, instructions: tuple[Instruction, ...]) -> None:
        self.programs[pid] = instructions


class _Sub:
    """One subtable: packed key -> slot (or slots by decreasing priority)."""

    __slots__ = ("mask", "mask_id", "max_priority", "n_rules", "nbytes", "prios", "rules", "spec")

    def __init__(self, mask_id: int, mask: Mask, spec: MaskSpec, nbytes: int) -> None:
        self.mask_id = mask_id
        self.mask = mask
        self.spec = spec
        self.nbytes = nbytes
        self.rules: dict[bytes, _Slots] = {}
        self.max_priority = -1
        self.n_rules = 0
        self.prios: dict[int, int] = {}


class EntryView:
    """A rule of a :class:`CompactTable` seen as a FlowEntry (and as its classifier Rule)."""

    __slots__ = ("slot", "table")

    def __init__(self, table: CompactTable, slot: int) -> None:
        self.table = table
        self.slot = slot

    # Rule protocol (what lookups return): the view is its own payload.
    @property
    def payload(self) -> FlowEntry:
        return cast(FlowEntry, self)

    @property
    def table_id(self) -> int:
        return self.table.table_id

    @property
    def priority(self) -> int:
        return self.table._prio[self.slot]

    @property
    def cookie(self) -> int:
        col = self.table._cookie
        return 0 if col is None else col[self.slot]

    @property
    def idle_timeout(self) -> int:
        col = self.table._idle
        return 0 if col is None else col[self.slot]

    @property
    def hard_timeout(self) -> int:
        col = self.table._hard
        return 0 if col is None else col[self.slot]

    @property
    def flags(self) -> int:
        col = self.table._flags
        return 0 if col is None else col[self.slot]

    @property
    def instructions(self) -> tuple[Instruction, ...]:
        t = self.table
        return t.interned.programs[t._prog[self.slot]]

    @property
    def key(self) -> MatchKey:
        t = self.table
        data = t._keys[self.slot]
        assert data is not None
        return unpack_key(t.interned.masks[t._mask[self.slot]][1], data)

    @property
    def match(self) -> Match:
        return Match(fields=tuple(OxmTLV(field=f, value=v, mask=None if m == OXM_FIELDS[f].max_value
                                         else m) for f, v, m in self.key))  # fmt: skip

    @property
    def packet_count(self) -> int:
        return self.table._pk[self.slot]

    @packet_count.setter
    def packet_count(self, v: int) -> None:
        self.table._pk[self.slot] = v

    @property
    def byte_count(self) -> int:
        return self.table._by[self.slot]

    @byte_count.setter
    def byte_count(self, v: int) -> None:
        self.table._by[self.slot] = v

    @property
    def created(self) -> float:
        return 0.0  # the agent keeps durations

    @property
    def last_used(self) -> float:
        return 0.0  # the agent keeps idle timers (from the counter reports)

    @last_used.setter
    def last_used(self, v: float) -> None:
        pass

    @property
    def is_table_miss(self) -> bool:
        return self.priority == 0 and self.table._mask_empty(self.slot)

    def out_ports(self) -> Iterator[int]:
        return FlowEntry.out_ports(cast(FlowEntry, self))

    def out_groups(self) -> Iterator[int]:
        return FlowEntry.out_groups(cast(FlowEntry, self))

    def meter_id(self) -> int | None:
        return FlowEntry.meter_id(cast(FlowEntry, self))


class CompactTable:
    """One flow table of a worker: the packet-path face of a FlowTable, compact storage."""

    def __init__(self, table_id: int, interned: Interned) -> None:
        self.table_id = table_id
        self.interned = interned
        self.config = 0
        self.lookup_count = 0
        self.matched_count = 0
        self.classifier = self  # the packet path asks ``table.classifier.lookup``
        self._subs: dict[int, _Sub] = {}  # mask id -> subtable, in first-use order
        self._order: list[_Sub] = []
        self._dirty = False
        self._count = 0
        self._prio = array("H")
        self._prog = array("I")
        self._mask = array("I")
        self._pk = array("Q")  # packets not yet reported to the agent
        self._by = array("Q")  # bytes not yet reported
        self._row = array("I")  # the agent's row of the rule: what counter reports name
        # Sparse columns: materialised (zero-filled) when a rule first needs a non-zero value.
        self._cookie: array[int] | None = None
        self._idle: array[int] | None = None
        self._hard: array[int] | None = None
        self._flags: array[int] | None = None
        self._keys: list[bytes | None] = []
        self._free: list[int] = []
        # The worker's flow cache: shared compiled program per slot, -1 = none (compact_cache)
        self.cprog = array("h")

    def __len__(self) -> int:
        return self._count

    # --- the packet path ------------------------------------------------------------
    def _ordered(self) -> list[_Sub]:
        if self._dirty:
            self._order = sorted(self._subs.values(), key=lambda s: -s.max_priority)
            self._dirty = False
        return self._order

    def lookup_uncached(self, key: list[int | None]) -> Rule[FlowEntry] | None:
        """The highest-priority rule matching the flow key ``key`` (as a view)."""
        best = -1
        best_prio = -1
        prio = self._prio
        for sub in self._ordered():
            if best >= 0 and best_prio >= sub.max_priority:
                break
            acc = 0
            for f, m, bits in sub.spec:
                v = key[f]
                if v is None:
                    break
                acc = (acc << bits) | (v & m)
            else:
                hit = sub.rules.get(acc.to_bytes(sub.nbytes, "big"))
                if hit is None:
                    continue
                s = hit if type(hit) is int else hit[0]  # type: ignore[index]
                p = prio[s]
                if best < 0 or p > best_prio:
                    best, best_prio = s, p
        if best < 0:
            return None
        return cast("Rule[FlowEntry]", EntryView(self, best))

    lookup = lookup_uncached  # the worker's flow cache sits in front: no second cache here

    def masks(self) -> list[Mask]:
        return [s.mask for s in self._subs.values()]

    def entries(self) -> Iterator[FlowEntry]:
        for slot in self.slots():
            yield cast(FlowEntry, EntryView(self, slot))

    def slots(self) -> Iterator[int]:
        for sub in list(self._subs.values()):
            for v in list(sub.rules.values()):
                if type(v) is int:
                    yield v
                else:
                    yield from v  # type: ignore[misc]

    def _mask_empty(self, slot: int) -> bool:
        return not self.interned.masks[self._mask[slot]][0]

    # --- updates (pre-validated by the agent) ---------------------------------------------
    def find(self, mask_id: int, key: bytes, priority: int) -> int | None:
        sub = self._subs.get(mask_id)
        hit = None if sub is None else sub.rules.get(key)
        if hit is None:
            return None
        for s in (hit,) if type(hit) is int else hit:  # type: ignore[union-attr]
            if self._prio[s] == priority:
                return s
        return None

    def add(self, mask_id: int, key: bytes, priority: int, program: int, cookie: int,
            idle: int, hard: int, flags: int, row: int) -> int:  # fmt: skip
        """OFPFC_ADD: insert, or replace the identical match+priority (counters kept unless
        OFPFF_RESET_COUNTS), exactly as FlowTable.add (remove, then insert). The slot.
        ``row``: the agent's name for the rule in counter reports (:mod:`.compact`)."""
        pk = by = 0
        old = self.find(mask_id, key, priority)
        if old is not None:
            if not flags & c.OFPFF_RESET_COUNTS:
                pk, by = self._pk[old], self._by[old]
            self.remove(old)
        if self._free:
            s = self._free.pop()
            self._prio[s], self._prog[s], self._mask[s] = priority, program, mask_id
            self._pk[s], self._by[s], self._row[s] = pk, by, row
            self._keys[s] = key
            self.cprog[s] = -1
        else:
            s = len(self._keys)
            self._prio.append(priority)
            self._prog.append(program)
            self._mask.append(mask_id)
            self._pk.append(pk)
            self._by.append(by)
            self._row.append(row)
            for col in (self._cookie, self._idle, self._hard, self._flags):
                if col is not None:
                    col.append(0)
            self._keys.append(key)
            self.cprog.append(-1)
        if cookie or self._cookie is not None:
            self._cookie = _put(self._cookie, "Q", len(self._keys), s, cookie)
        if idle or self._idle is not None:
            self._idle = _put(self._idle, "H", len(self._keys), s, idle)
        if hard or self._hard is not None:
            self._hard = _put(self._hard, "H", len(self._keys), s, hard)
        if flags or self._flags is not None:
            self._flags = _put(self._flags, "H", len(self._keys), s, flags)
        sub = self._subs.get(mask_id)
        if sub is None:
            mask, spec, nbytes = self.interned.masks[mask_id]
            sub = self._subs[mask_id] = _Sub(mask_id, mask, spec, nbytes)
        hit = sub.rules.get(key)
        if hit is None:
            sub.rules[key] = s
        else:
            lst = [hit] if type(hit) is int else list(hit)  # type: ignore[arg-type]
            i = 0
            while i < len(lst) and self._prio[lst[i]] >= priority:
                i += 1
            lst.insert(i, s)
            sub.rules[key] = tuple(lst)
        sub.n_rules += 1
        sub.prios[priority] = sub.prios.get(priority, 0) + 1
        if priority > sub.max_priority:
            sub.max_priority = priority
        self._dirty = True
        self._count += 1
        return s

    def reset_cprog(self) -> None:
        """Forget every slot's shared cache program (in place: a running batch holds it)."""
        if len(self.cprog):
            self.cprog[:] = array("h", [-1]) * len(self.cprog)

    def modify(self, slot: int, program: int, reset_counts: bool) -> None:
        self._prog[slot] = program
        if reset_counts:
            self._pk[slot] = self._by[slot] = 0

    def remove(self, slot: int) -> None:
        key = self._keys[slot]
        assert key is not None
        mask_id, priority = self._mask[slot], self._prio[slot]
        sub = self._subs[mask_id]
        hit = sub.rules[key]
        if type(hit) is int:
            del sub.rules[key]
        else:
            rest = tuple(x for x in hit if x != slot)  # type: ignore[union-attr]
            sub.rules[key] = rest[0] if len(rest) == 1 else rest
        sub.n_rules -= 1
        left = sub.prios[priority] - 1
        if left:
            sub.prios[priority] = left
        else:
            del sub.prios[priority]
        if not sub.n_rules:
            del self._subs[mask_id]
        elif not left and priority == sub.max_priority:
            sub.max_priority = max(sub.prios)
        self._dirty = True
        self._count -= 1
        self._keys[slot] = None
        self._pk[slot] = self._by[slot] = 0
        self._free.append(slot)

    def delete(self, targets: Iterable[FlowEntry]) -> None:
        """FlowTable.delete for the pipeline's own paths (group/meter deletion)."""
        for e in targets:
            self.remove(cast(EntryView, e).slot)

    def expire(self, now: float) -> list[tuple[FlowEntry, int]]:
        return []  # the agent expires and ships the deletions

    # --- counters for the agent -------------------------------------------------------------
    # Reports name rules by the agent's row, never by slot. A slot's count columns only ever
    # hold increments made under the rule now in it (``remove`` zeroes them; an ADD that
    # replaces the same match+priority keeps them, as the agent does, and the agent keeps its
    # row), and bytes are never counted without packets, so a free slot and a slot with
    # nothing to report read 0 packets.
    def counted(self) -> list[int]:
        """Slots with packets not yet reported, ascending (one numpy scan of the column)."""
        view = np.frombuffer(self._pk, dtype=np.uint64)  # dropped on return: the column can grow
        return np.flatnonzero(view).tolist()

    def report(self, slots: Sequence[int]) -> tuple[bytes, bytes, bytes]:
        """What the agent needs to credit ``slots`` (live, ascending): native arrays of the
        rules' rows (``I``), packets and bytes (``Q``). C-level copies only: a run of
        consecutive slots (every rule active) is sliced, otherwise gathered by
        ``itemgetter``."""
        if not slots:
            return b"", b"", b""
        lo, hi = slots[0], slots[-1] + 1
        if hi - lo == len(slots):  # a run of slots (ascending, distinct)
            return self._row[lo:hi].tobytes(), self._pk[lo:hi].tobytes(), self._by[lo:hi].tobytes()
        pick = itemgetter(*slots)  # >= 2 slots: a tuple
        return (array("I", pick(self._row)).tobytes(), array("Q", pick(self._pk)).tobytes(),
                array("Q", pick(self._by)).tobytes())  # fmt: skip

    def take_counts(self, slots: Iterable[int] | None = None) -> None:
        """Forget the increments of ``slots`` (every slot: None) once the agent has them. Call
        in the same step as :meth:`report` (nothing counts in between)."""
        pk, by = self._pk, self._by
        if slots is None:  # in place: same length, so no reallocation
            zeros = array("Q", bytes(8 * len(pk)))
            pk[:] = zeros
            by[:] = zeros
            return
        for s in slots:
            pk[s] = by[s] = 0

    def flow_key(self, slot: int, version: int) -> tuple[int, int, MatchKey, int]:
        """(table, priority, normalised match, ``version``) of a slot, as the agent's classifier
        knows it (tests and debugging; reports use :meth:`report`)."""
        return self.table_id, self._prio[slot], EntryView(self, slot).key, version


def _put(col: array[int] | None, typecode: str, n: int, slot: int, value: int) -> array[int]:
    """Set a sparse column's value, materialising it (``n`` zeros) on first need."""
    if col is None:
        col = array(typecode, bytes(array(typecode).itemsize * n))
    col[slot] = value
    return col


def compact_pipeline(n_tables: int, ports: PortView) -> tuple[Pipeline, Interned]:
    """A worker's pipeline: groups, meters and the packet path of :class:`Pipeline`, flow
    tables replaced by :class:`CompactTable` (see the module docstring)."""
    pl = Pipeline(1, ports=ports)
    pl.n_tables = n_tables
    interned = Interned()
    pl.tables = cast(list[FlowTable], [CompactTable(t, interned) for t in range(n_tables)])
    return pl, interned
