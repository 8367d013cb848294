"""The worker's flow cache over compact tables: most keys cost only their dict entry.

Role (paper §VI, DESIGN §4): a worker forwards through
:class:`~..pipeline.cache.FlowCache` (raw-frame key -> compiled program, see
that module for keys, programs and invalidation). With 65,536 exact rules
and as many live flows, one :class:`~..pipeline.cache.Program` per key
(~400 bytes with its tuples and the entry it counts for) would be more than
the compact rules themselves (:mod:`.table`). Yet almost all those programs
are the same few behaviours: "hit one rule of table 0, output the frame to
port 2".

Design: a compiled program that hits exactly one rule, in table 0, is
split in two. Its behaviour (kind, output list, header splice, ops, emitted
ports, length bound) goes into a *shared* program, interned by that
behaviour and used by every key that does the same; the rule is named by
its slot, and the cache key maps to the slot's ``int`` - the very object
the table's subtable dict already holds, so the key costs its dict entry
and its bytes, nothing more. The table's ``cprog`` column says which
shared program the slot's keys run. A hit then adds to the rule's
packet/byte columns directly and to the shared program's counts (folded
into table and port counters by :meth:`flush`). A key whose program does
anything else - several tables, goto, a different behaviour for the same
slot (another in-port, another header layout) - keeps a full ``Program``.

Invariants: an ``int`` value ``s`` in the cache means table 0's slot ``s``
is live and ``cprog[s]`` indexes the shared program every frame with that
key runs; all of them (values, shared programs, ``cprog``) are dropped
together on invalidation and eviction, never one without the others.
Frames, packet-ins and counters are those of :class:`FlowCache` (and so of
the pipeline alone: property-tested in ``tests/unit/quake/fastpath``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from ..pipeline import Pipeline
from ..pipeline.cache import (
    _DROP,
    _HDR,
    _OPS,
    _OUT,
    DEFAULT_CAPACITY,
    FlowCache,
    Program,
    _emit,
    _run_ops,
)
from ..pipeline.results import PacketInDecision
from .table import CompactTable, EntryView

__all__ = ["CompactFlowCache"]

_MAX_SHARED = 1 << 15  # shared programs per generation (the cprog column is int16)


class CompactFlowCache(FlowCache):
    """:class:`FlowCache` for a worker pipeline built by :func:`~.table.compact_pipeline`."""

    def __init__(self, pipeline: Pipeline, capacity: int = DEFAULT_CAPACITY) -> None:
        self._t0 = cast(CompactTable, pipeline.tables[0])
        self._shared: list[Program] = []
        self._shared_ids: dict[tuple[object, ...], int] = {}
        super().__init__(pipeline, capacity)

    # --- compact values -------------------------------------------------------------
    def _forget(self) -> None:
        self._shared.clear()  # in place: a running batch holds the list
        self._shared_ids.clear()
        self._t0.reset_cprog()

    def _value(self, prog: Program) -> Any:
        if len(prog.entries) != 1 or len(prog.tables) != 1 or prog.kind == _DROP:
            return prog
        entry, delta = prog.entries[0]
        view: object = entry
        if delta or not isinstance(view, EntryView) or view.table is not self._t0:
            return prog
        sig = (prog.kind, id(prog.out), prog.hdr, prog.cut, prog.minlen, prog.in_port,
               tuple((a, b, d, id(o)) for a, b, d, o in prog.ops), prog.emits,
               prog.txdrops)  # fmt: skip
        idx = self._shared_ids.get(sig)
        if idx is None:
            if len(self._shared) >= _MAX_SHARED:
                return prog
            shared = Program(prog.in_port, prog.minlen)
            shared.kind, shared.out, shared.hdr, shared.cut = (
                prog.kind,
                prog.out,
                prog.hdr,
                prog.cut,
            )
            shared.ops, shared.emits, shared.txdrops = prog.ops, prog.emits, prog.txdrops
            shared.tables, shared.matched = prog.tables, prog.matched  # entries: counted per hit
            idx = self._shared_ids[sig] = len(self._shared)
            self._shared.append(shared)
        slot = view.slot
        cprog = self._t0.cprog
        if cprog[slot] == -1:
            cprog[slot] = idx
        if cprog[slot] != idx:
            return prog  # this slot's other keys behave differently: a full program
        return slot

    def _hit_one(self, value: Any, f: bytes) -> None:
        if value.__class__ is not int:
            super()._hit_one(value, f)
            return
        t0 = self._t0
        p = self._shared[t0.cprog[value]]
        t0._pk[value] += 1
        t0._by[value] += len(f)
        p.n += 1
        p.nb += len(f)
        _emit(p, f)

    def flush(self, now: float | None) -> None:
        for progs in self._by_port.values():
            for p in cast("dict[Any, Any]", progs).values():  # a Program, or a slot number
                if p.__class__ is not int and p.n:
                    self._fold(p, now)
        for sp in self._shared:
            if sp.n:
                self._fold(sp, now)

    # --- the packet path -----------------------------------------------------------------
    def run(self, in_port: int, frames: Sequence[bytes], now: float) -> list[PacketInDecision]:
        progs = self._by_port.get(in_port)
        if progs is None:
            progs = self._by_port[in_port] = {}
        get = cast("dict[Any, Any]", progs).get  # a Program, or a slot number (see above)
        pins: list[PacketInDecision] = []
        hits = 0
        prof = self.profile
        gapped, kf, lo, hi = self.gapped, prof.gapped, prof.lo, prof.hi
        t0 = self._t0
        shared, cprog, pk, by = self._shared, t0.cprog, t0._pk, t0._by
        for f in frames:
            n = len(f)
            p = get(kf(f) if gapped else f[lo:hi])
            if p is None:
                self._miss(in_port, f, now, None, progs, pins)
                continue
            if p.__class__ is int:
                s = p
                p = shared[cprog[s]]
                if n < p.minlen:
                    self._miss(in_port, f, now, p, progs, pins)
                    continue
                pk[s] += 1
                by[s] += n
            elif n < p.minlen:
                self._miss(in_port, f, now, p, progs, pins)
                continue
            p.n += 1
            p.nb += n
            hits += 1
            k = p.kind
            if k == _OUT:
                p.out.append(f)  # type: ignore[union-attr]
            elif k == _HDR:
                p.out.append(p.hdr + f[p.cut :])  # type: ignore[union-attr]
            elif k == _OPS:
                _run_ops(p, f)
        self.hits += hits
        return pins
