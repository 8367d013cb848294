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

Speed (docs/quake-fastpath.md "Whole batches and misses without compiling"):
:meth:`CompactFlowCache.run` first tries a batch as a whole with C-level
``map`` calls (identical frames: one lookup; many slots running one shared
program: one ``extend``, and the batch's slots and frame lengths appended to
two ``array`` objects, folded into the count columns by ``numpy.bincount`` in
:meth:`CompactFlowCache.fold_slots` at the flow report, before table changes,
or once ``_PENDING_MAX`` frames wait); a miss whose table-0 rule has instructions that
already own a shared program (memo by program id, in-port, ``minlen``) is
resolved from the frame's raw bytes by a per-mask plan of slices
(:meth:`CompactFlowCache._quick`), without running the pipeline.

Invariants: an ``int`` value ``s`` in the cache means table 0's slot ``s``
is live and ``cprog[s]`` indexes the shared program every frame with that
key runs; all of them (values, shared programs, ``cprog``) are dropped
together on invalidation and eviction, never one without the others; the
memo and the plans are dropped with them; pending per-rule counts are
folded before any slot can be freed or reused (every table change and
eviction flushes first).
Frames, packet-ins and counters are those of :class:`FlowCache` (and so of
the pipeline alone: property-tested in ``tests/unit/quake/fastpath``).
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any, cast

import numpy as np

from openvolcano.ofp import consts as c

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
from .batch_index import MAX_WORDS, BatchIndex
from .table import CompactTable, EntryView

__all__ = ["CompactFlowCache"]

_MAX_SHARED = 1 << 15  # shared programs per generation (the cprog column is int16)
# Batches of at least this many frames of several rules try the numpy batch index first
# (below it the index's fixed ~20 array calls cost more than the dict lookups they replace).
_INDEX_MIN = 128
_INDEX_BACKOFF_MAX = 64  # batches without the index after repeated fruitless tries, at most
# Frames of whole batches whose per-rule counts may wait as (slot, length) arrays before they
# are folded (8 bytes a frame: 4 MiB at most; ~2 s of traffic at 0.25 Mpps).
_PENDING_MAX = 1 << 19
# Where a field's packed value lies in a standard frame (KeyProfile): an exact (full-mask)
# field whose OXM width equals its bytes there packs as the raw bytes themselves.
_L2_BYTES = {c.OFPXMT_OFB_ETH_DST: (0, 6), c.OFPXMT_OFB_ETH_SRC: (6, 12),
             c.OFPXMT_OFB_ETH_TYPE: (12, 14)}  # fmt: skip
_L4_BYTES = {c.OFPXMT_OFB_TCP_SRC: (34, 36), c.OFPXMT_OFB_TCP_DST: (36, 38),
             c.OFPXMT_OFB_UDP_SRC: (34, 36), c.OFPXMT_OFB_UDP_DST: (36, 38),
             c.OFPXMT_OFB_SCTP_SRC: (34, 36), c.OFPXMT_OFB_SCTP_DST: (36, 38),
             c.OFPXMT_OFB_ICMPV4_TYPE: (34, 35), c.OFPXMT_OFB_ICMPV4_CODE: (35, 36)}  # fmt: skip
_IPV4_BYTES = {c.OFPXMT_OFB_IP_PROTO: (23, 24), c.OFPXMT_OFB_IPV4_SRC: (26, 30),
               c.OFPXMT_OFB_IPV4_DST: (30, 34), **_L4_BYTES}  # fmt: skip
# A subtable's raw plan: the key's pieces (bytes from the frame, or None = the in_port's
# 4 bytes) and whether it reads L4 bytes (absent from non-first fragments).
_Plan = tuple[tuple[tuple[int, int] | None, ...], bool]


class CompactFlowCache(FlowCache):
    """:class:`FlowCache` for a worker pipeline built by :func:`~.table.compact_pipeline`."""

    def __init__(self, pipeline: Pipeline, capacity: int = DEFAULT_CAPACITY) -> None:
        self._t0 = cast(CompactTable, pipeline.tables[0])
        self._shared: list[Program] = []
        self._shared_ids: dict[tuple[object, ...], int] = {}
        # (program id, in_port, minlen) -> shared program every key of such a rule runs
        self._memo: dict[tuple[int, int, int], int] = {}
        self._plans: dict[int, _Plan | None] = {}  # mask id -> raw plan (None: parse needed)
        self._programs: list[Program] = []  # the full Program values in the cache (flush)
        # table-0 slot and length of every frame of whole batches not yet in the count columns
        self._pend_slots = array("i")
        self._pend_lens = array("i")
        # in_port -> numpy index of the slot keys of that port's dict (contiguous keys only)
        self._indexes: dict[int, BatchIndex] = {}
        self.index_min = _INDEX_MIN  # smallest batch that tries the index (tests lower it)
        self._index_skip = 0  # batches left to run without the index (backoff)
        self._index_backoff = 1
        self.quick = 0  # misses resolved without compiling
        self.whole_batches = 0  # batches forwarded by _run_batch
        self.indexed_batches = 0  # of which looked up by a BatchIndex
        self.index_refusals = 0  # batches the index was tried on and could not answer
        super().__init__(pipeline, capacity)

    # --- compact values -------------------------------------------------------------
    def _forget(self) -> None:
        self._shared.clear()  # in place: a running batch holds the list
        self._shared_ids.clear()
        self._memo.clear()
        self._plans.clear()  # (a plan depends on the profile's layout)
        self._programs.clear()
        self._indexes.clear()  # (their keys' values were the dicts' just dropped)
        self._index_skip, self._index_backoff = 0, 1  # new tables: the index may help again
        self._t0.reset_cprog()

    def _value(self, prog: Program) -> Any:
        value = self._compact(prog)
        if value is prog:
            self._programs.append(prog)
        return value

    def _compact(self, prog: Program) -> Any:
        """The slot of table 0 standing for ``prog`` (see the module docstring), or ``prog``."""
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
        # Every rule with these instructions behaves the same for frames of this in-port and
        # layout (the key pins the layout, ``minlen`` the L4 header): see :meth:`_quick`.
        self._memo[(self._t0._prog[slot], prog.in_port, prog.minlen)] = idx
        return slot

    # --- misses without compiling ------------------------------------------------------------
    def _quick(self, in_port: int, f: bytes) -> Any:
        """Table 0's rule for ``f`` found from the raw bytes, if a rule with the same
        instructions already has a shared program for this in-port and layout: its slot.

        Sound because such a program depends only on the instructions, the in-port, the
        port states (a change invalidates, which clears the memo) and the frame's layout
        and ``minlen`` (both pinned by the key). ``f`` is standard and long enough
        (checked by the caller), so its raw bytes are the parser's field values.
        """
        if not self._memo:
            return None
        s = self._direct(in_port, f)
        if s is None:
            return None
        t0 = self._t0
        idx = self._memo.get((t0._prog[s], in_port, self.profile.minlen(f)))
        if idx is None:
            return None
        cp = t0.cprog[s]
        if cp == -1:
            t0.cprog[s] = idx
        elif cp != idx:
            return None  # this slot already runs another program: compile
        self.quick += 1
        return s

    def _direct(self, in_port: int, f: bytes) -> int | None:
        """:meth:`CompactTable.lookup_uncached` of table 0 on raw bytes (None: no rule, or a
        subtable whose key needs the parser)."""
        t0 = self._t0
        frag = self.profile.layout == "ipv4" and bool(f[20] & 0x1F or f[21])
        port = in_port.to_bytes(4, "big")
        plans = self._plans
        prio = t0._prio
        best = best_prio = -1
        for sub in t0._ordered():
            if best >= 0 and best_prio >= sub.max_priority:
                break
            mid = sub.mask_id
            if mid in plans:
                plan = plans[mid]
            else:
                plan = plans[mid] = self._plan(sub.spec)
            if plan is None:
                return None
            pieces, l4 = plan
            if l4 and frag:
                continue  # a non-first fragment has no L4 fields: no rule here matches
            hit = sub.rules.get(b"".join([port if r is None else f[r[0] : r[1]] for r in pieces]))
            if hit is None:
                continue
            slot = hit if hit.__class__ is int else hit[0]  # type: ignore[index]
            p = prio[slot]
            if best < 0 or p > best_prio:
                best, best_prio = slot, p
        return best if best >= 0 else None

    def _plan(self, spec: tuple[tuple[int, int, int], ...]) -> _Plan | None:
        """How to read a subtable's packed key from a standard frame (None: not by slicing)."""
        where = _IPV4_BYTES | _L2_BYTES if self.profile.layout == "ipv4" else _L2_BYTES
        pieces: list[tuple[int, int] | None] = []
        l4 = False
        for field, mask, bits in spec:
            if mask != (1 << bits) - 1:
                return None
            if field == c.OFPXMT_OFB_IN_PORT:
                pieces.append(None)
                continue
            r = where.get(field)
            if r is None or 8 * (r[1] - r[0]) != bits:
                return None
            l4 |= field in _L4_BYTES
            last = pieces[-1] if pieces else None
            if last is not None and last[1] == r[0]:
                pieces[-1] = (last[0], r[1])
            else:
                pieces.append(r)
        return tuple(pieces), l4

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

    def fold_slots(self) -> None:
        """Add the slot counts of whole batches to the table's count columns: two
        ``bincount`` over all pending frames, one pass per column (no per-frame Python)."""
        ps, pl = self._pend_slots, self._pend_lens
        if not ps:
            return
        self._pend_slots, self._pend_lens = array("i"), array("i")  # (the old ones get views)
        slots = np.frombuffer(ps, dtype=np.int32)
        lens = np.frombuffer(pl, dtype=np.int32)
        t0 = self._t0
        size = len(t0._pk)
        pk = np.frombuffer(t0._pk, dtype=np.uint64)  # views: released before returning
        by = np.frombuffer(t0._by, dtype=np.uint64)
        pk += np.bincount(slots, minlength=size)[:size].astype(np.uint64)
        by += np.bincount(slots, weights=lens, minlength=size)[:size].astype(np.uint64)
        del pk, by

    def flush(self, now: float | None, slots: bool = True) -> None:
        """As :meth:`FlowCache.flush`; ``slots=False`` leaves the per-rule counts of whole
        batches pending (the worker's 100 ms export: only table and port counters are
        due then; the 1 s flow report and every table change fold them)."""
        if slots:
            self.fold_slots()
        # only the full Programs and the shared ones count: never walk the (slot) values
        for p in self._programs:
            if p.n:
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
        prof = self.profile
        gapped, kf, lo, hi = self.gapped, prof.gapped, prof.lo, prof.hi
        t0 = self._t0
        shared, cprog, pk, by = self._shared, t0.cprog, t0._pk, t0._by
        if len(frames) > 1 and self._run_batch(in_port, frames, get, kf if gapped else None):
            return []
        pins: list[PacketInDecision] = []
        hits = 0
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
            k = p.kind  # _emit, inlined: a call per frame would cost more than the rest
            if k == _OUT:
                p.out.append(f)  # type: ignore[union-attr]
            elif k == _HDR:
                p.out.append(p.hdr + f[p.cut :])  # type: ignore[union-attr]
            elif k == _OPS:
                _run_ops(p, f)
        self.hits += hits
        return pins

    def _run_batch(self, in_port: int, frames: Sequence[bytes], get: Any, kf: Any) -> bool:
        """A whole batch whose frames all hit and run one shared program (one flow, or
        many rules with the same actions: the common case under load), with C-level
        ``map`` calls - or, for a large batch of many rules, the numpy
        :class:`~.batch_index.BatchIndex` - instead of a Python loop per frame. False:
        nothing done (the per-frame loop runs it)."""
        n = len(frames)
        f0 = frames[0]
        lens = None
        if f0 == frames[-1] and frames.count(f0) == n:  # identical frames: one key, one value
            vals = [get((kf or self.profile.contiguous)(f0))] * n
        else:
            index = None
            if kf is None:  # contiguous keys: the index may answer a large batch of many flows
                kf = self.profile.contiguous
                if n >= self.index_min and self._index_ready():
                    lens = list(map(len, frames))
                    if self._run_indexed(in_port, frames, lens):
                        return True
                    self.index_refusals += 1
                    index = self._indexes.get(in_port)
            vals = list(map(get, map(kf, frames)))
            if index is not None:
                if index.learn(frames, vals):
                    self._index_backoff = 1  # new keys: the next batch may be answered
                elif None not in vals:  # (misses are learnt once the dict has them)
                    self._index_failed()  # it knew every slot key, yet could not answer
        return self._run_values(frames, vals, lens)

    def _run_values(self, frames: Sequence[bytes], vals: list[Any], lens: list[int] | None
                    ) -> bool:  # fmt: skip
        """The batch, given every frame's cache value, if they are all slots of one shared
        program and no frame is too short for it (False: nothing done)."""
        n = len(frames)
        t0 = self._t0
        v0 = vals[0]
        if lens is None:
            lens = list(map(len, frames))
        if v0.__class__ is int and vals[-1] is v0 and vals.count(v0) == n:  # one rule
            p = self._shared[t0.cprog[v0]]
            if min(lens) < p.minlen:
                return False
            nb = sum(lens)
            t0._pk[v0] += n
            t0._by[v0] += nb
        else:  # several rules of table 0: their counts wait for fold_slots (bincount)
            ps = self._pend_slots
            try:
                ps.fromlist(vals)  # all or nothing; TypeError: a miss (None) or a full Program
            except TypeError:
                return False
            ids = {0} if len(self._shared) == 1 else set(map(t0.cprog.__getitem__, vals))
            if len(ids) != 1 or min(lens) < self._shared[min(ids)].minlen:
                del ps[-n:]  # several shared programs, or a frame too short: frame by frame
                return False
            p = self._shared[ids.pop()]
            nb = sum(lens)
            self._pending_lens(lens)
        self._emit_batch(p, frames, nb)
        return True

    def _index_ready(self) -> bool:
        """Whether this batch may try the index (not while backing off after failures)."""
        if self._index_skip:
            self._index_skip -= 1
            return False
        return True

    def _index_failed(self) -> None:
        """The index could not answer a batch without misses and had nothing to learn from
        it: leave it alone for a while (doubling, up to ``_INDEX_BACKOFF_MAX`` batches), so
        batches it cannot answer - several shared programs, keys whose value is a full
        program (packet-in, drop, several tables), frames too short for its key - do not
        pay for it each time. New slot keys reset the backoff (it learns them), and misses
        do not count (the per-frame path makes them entries, learnt at their next batch)."""
        self._index_skip = self._index_backoff
        self._index_backoff = min(2 * self._index_backoff, _INDEX_BACKOFF_MAX)

    def _run_indexed(self, in_port: int, frames: Sequence[bytes], lens: list[int]) -> bool:
        """The batch through the port's :class:`BatchIndex`: every frame's slot in ~20 numpy
        calls. False: nothing done (the index is created here if the port has none)."""
        ix = self._indexes.get(in_port)
        if ix is None:
            prof = self.profile
            if (prof.hi + 7 >> 3) - (prof.lo >> 3) <= MAX_WORDS:
                self._indexes[in_port] = BatchIndex(prof.lo, prof.hi)
            return False
        lmin = min(lens)
        slots = ix.lookup(frames, lmin if lmin == max(lens) else 0)
        if slots is None:
            return False
        t0 = self._t0
        if len(self._shared) == 1:
            pid = 0
        else:
            cp = np.frombuffer(t0.cprog, dtype=np.int16)[slots]
            pid = int(cp[0])
            if not (cp == pid).all():
                return False
        p = self._shared[pid]
        if lmin < p.minlen:
            return False
        self._index_backoff = 1
        self._pend_slots.frombytes(slots.tobytes())
        self._pending_lens(lens)
        self.indexed_batches += 1
        self._emit_batch(p, frames, sum(lens))
        return True

    def _pending_lens(self, lens: list[int]) -> None:
        """The frame lengths going with the slots just appended to ``_pend_slots``; folds
        them all once more than ``_PENDING_MAX`` frames wait (bounded memory)."""
        self._pend_lens.fromlist(lens)
        if len(self._pend_slots) > _PENDING_MAX:
            self.fold_slots()

    def _emit_batch(self, p: Program, frames: Sequence[bytes], nb: int) -> None:
        """Count a whole batch on its shared program ``p`` and run it on every frame."""
        n = len(frames)
        p.n += n
        p.nb += nb
        self.hits += n
        self.whole_batches += 1
        k = p.kind
        if k == _OUT:
            p.out.extend(frames)  # type: ignore[union-attr]
        elif k == _HDR:
            hdr, cut = p.hdr, p.cut
            p.out.extend([hdr + f[cut:] for f in frames])  # type: ignore[union-attr]
        elif k == _OPS:
            for f in frames:
                _run_ops(p, f)
