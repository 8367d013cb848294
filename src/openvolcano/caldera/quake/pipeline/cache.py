"""The exact-match flow cache in front of the classifier: raw frame bytes -> compiled program.

Role (paper §VI, DESIGN §4): the paper's quake lost throughput as flows grew
because every packet walked the flow list. quake's tables already use tuple
space search (:mod:`.classifier`); this cache removes the rest of the
per-packet cost for the common case: no parse, no flow key, no instruction
interpretation. A hit costs one bytes slice, one dict probe, two counter
increments and the action itself (an ``append`` of the unchanged frame for
a plain output, one bytes splice for an eth_dst/eth_src rewrite).

Design
======

*Key profile.* The cache key is a slice of the raw frame covering exactly
the header bytes that any installed rule can look at, for frames of one
*standard layout*. The profile is recomputed on every invalidation from the
union ``U`` of the fields named by the masks of all tables:

* ``L2`` (``U`` has no IP/L4 field): standard = untagged frames (bytes 12:14
  are not a VLAN TPID). Key bytes: 12:14 (the ethertype, pinning the
  layout), plus 0:6 / 6:12 if eth_dst / eth_src are in ``U``.
* ``IPV4`` (``U`` has IPv4/L4 fields): standard = untagged IPv4 without
  options (bytes 12:15 == ``08 00 45``). Key bytes: 12:15, ToS (15) for
  dscp/ecn, the protocol (23), the fragment field (20:22, which decides
  whether L4 is present) and 34:38 for L4 ports/ICMP type and code, plus the
  addresses asked for. Fields of other layers (ARP, IPv6, MPLS, PBB, ND,
  VLAN) are constant (absent / "no tag") for every standard frame, so they
  need no bytes.

Frames of another layout never hit (their discriminator bytes differ from
every inserted key) and are never inserted: they take the full pipeline.
A frame shorter than a program's ``minlen`` (the length its layers need,
e.g. 54 for TCP) also takes the full pipeline, so a truncated header is
never classified from bytes it does not have.

*Key modes.* ``contiguous`` (default): one slice ``frame[lo:hi]`` spanning
all needed bytes - the cheapest key in CPython (one allocation) but it
includes the bytes in between (IPv4 length, id, checksum). ``gapped``: a
tuple of slices of exactly the needed runs (about twice the cost). The
cache starts contiguous and switches to gapped for good when misses are
caused by those volatile bytes (a miss whose gapped key was already seen:
real TCP traffic with a changing IP id); see :meth:`FlowCache._note_miss`.
The switch keeps every program (:meth:`FlowCache._rekey`): a contiguous key
holds every needed byte, so its gapped key is a slice of it, and keys that
differed only in other bytes have the same program.

*Programs.* On a miss the walk is *compiled* for the frames with the
frame's key: the table entries hit, and a list of byte operations (splices
at fixed offsets) and emits (output ports); the frame itself is then
forwarded by its new program, exactly as a hit (the full pipeline runs once
more only for slow keys, frames of other layouts and malformed ones). Only
this subset compiles: instructions APPLY/WRITE/CLEAR_ACTIONS,
WRITE_METADATA, GOTO_TABLE; actions output to a port number or IN_PORT,
set-field eth_dst/eth_src/vlan_vid/vlan_pcp, push_vlan, pop_vlan. Anything
else (meters, groups, CONTROLLER/FLOOD/LOCAL, TTL, other set-fields, a port
with NO_RECV) marks the key *slow*: its frames always take the full pipeline
(the mark is cached too, so nothing is recompiled per packet). A compiled
program is valid for every frame with its key because the key pins the
layout and every byte any rule or action reads.

*Counters.* A hit adds to the program's packet/byte counters only; each
program remembers the entries it hits, the tables it visits, its ports and
the length change at each point, and :meth:`FlowCache.flush` folds the
counts into entry, table and port counters (and sets ``last_used``). The
owner flushes periodically and before reading statistics or expiring
entries; :meth:`invalidate` flushes first. ``malformed_packets`` counts
only frames that took the full pipeline.

*Invalidation.* Exactly when something that could change a result changes:
the owner calls :meth:`FlowCache.invalidate` after every applied
flow/group/meter/table mod batch and every port config/state change; the
whole cache is dropped (a version bump; per-rule precision would need a
reverse index per rule, not worth its memory here) and the profile is
recomputed.

*Bound and eviction.* At most ``capacity`` keys (all ports together). When
an insertion finds the cache full, the cache is flushed and emptied as a
whole (generation eviction): O(1) per insertion amortised, no per-hit
bookkeeping, and the live flows come back after one miss each.

Invariants: for any rule set, port view and frame sequence, the frames
emitted, packet-ins and the entry/table/port counters (after :meth:`flush`)
are those of :meth:`Pipeline.process` alone (property-tested); a hit
allocates only the output frame a rewrite needs; no I/O, logging or clock.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import (
    Action,
    ActionOutput,
    ActionPopVlan,
    ActionPushVlan,
    ActionSetField,
)
from openvolcano.ofp.instructions import (
    InstructionApplyActions,
    InstructionClearActions,
    InstructionGotoTable,
    InstructionWriteActions,
    InstructionWriteMetadata,
)
from openvolcano.ofp.oxm import OxmTLV

from .core import Pipeline
from .execute import ACTION_SET_ORDER, set_slot
from .flowtable import FlowEntry, FlowTable
from .packet import Packet
from .ports import port_live
from .results import PacketInDecision

__all__ = ["DEFAULT_CAPACITY", "FlowCache", "KeyProfile", "Program", "key_profile"]

DEFAULT_CAPACITY = 1 << 17
_SLOW_MINLEN = 1 << 30  # a slow program: every frame is "too short" for the fast path
_VOLATILE_MIN = 64  # volatile misses needed before switching to the gapped key
_SEEN_BITS = 1 << 20  # bitmap of recent misses for that decision
_SEEN_MAX = _SEEN_BITS >> 4  # misses remembered per generation

# Program kinds
_OUT = 0  # emit the frame unchanged to one port
_HDR = 1  # emit hdr + frame[cut:] to one port
_OPS = 2  # general: splices and emits in order
_DROP = 3  # nothing to emit (table miss, dead port...)

_ETH_DST, _ETH_SRC = c.OFPXMT_OFB_ETH_DST, c.OFPXMT_OFB_ETH_SRC
_VID, _PCP = c.OFPXMT_OFB_VLAN_VID, c.OFPXMT_OFB_VLAN_PCP
_L4 = {c.OFPXMT_OFB_TCP_SRC, c.OFPXMT_OFB_TCP_DST, c.OFPXMT_OFB_UDP_SRC,
       c.OFPXMT_OFB_UDP_DST, c.OFPXMT_OFB_SCTP_SRC, c.OFPXMT_OFB_SCTP_DST,
       c.OFPXMT_OFB_ICMPV4_TYPE, c.OFPXMT_OFB_ICMPV4_CODE}  # fmt: skip
# Bytes each field reads in an untagged IPv4 frame without options.
_IPV4_BYTES: dict[int, range] = {
    c.OFPXMT_OFB_IP_DSCP: range(15, 16),
    c.OFPXMT_OFB_IP_ECN: range(15, 16),
    c.OFPXMT_OFB_IP_PROTO: range(23, 24),
    c.OFPXMT_OFB_IPV4_SRC: range(26, 30),
    c.OFPXMT_OFB_IPV4_DST: range(30, 34),
}
# Minimum frame length for the L4 header of each protocol to be present (parse._l4).
_L4_MINLEN = {6: 54, 17: 42, 132: 46, 1: 38}
_TPIDS = (b"\x81\x00", b"\x88\xa8")
_IPV4_STD = b"\x08\x00\x45"


class KeyProfile:
    """Which frames are cacheable and which bytes form their key (see the module docstring)."""

    __slots__ = ("contiguous", "gapped", "hi", "l4", "layout", "lo", "runs")

    def __init__(self, layout: str, needed: Iterable[int], l4: bool) -> None:
        self.layout = layout  # "l2" or "ipv4"
        self.l4 = l4
        idx = sorted(set(needed))
        runs: list[tuple[int, int]] = []
        for i in idx:
            if runs and runs[-1][1] == i:
                runs[-1] = (runs[-1][0], i + 1)
            else:
                runs.append((i, i + 1))
        self.runs = tuple(runs)
        self.lo, self.hi = idx[0], idx[-1] + 1
        getter: Callable[[bytes], Any] = operator.itemgetter(*(slice(a, b) for a, b in runs))
        self.gapped = getter  # key of gapped mode: a tuple of the needed runs
        self.contiguous: Callable[[bytes], bytes] = operator.itemgetter(slice(self.lo, self.hi))

    def standard(self, frame: bytes) -> bool:
        """Is ``frame`` of the layout this profile's keys describe?"""
        if self.layout == "l2":
            return len(frame) >= 14 and frame[12:14] not in _TPIDS
        return len(frame) >= 34 and frame[12:15] == _IPV4_STD

    def minlen(self, frame: bytes) -> int:
        """Shortest frame with this key whose needed layers are all present."""
        n = max(self.hi, 14 if self.layout == "l2" else 34)
        if self.l4 and self.layout == "ipv4" and not (frame[20] & 0x1F or frame[21]):
            n = max(n, _L4_MINLEN.get(frame[23], 0))
        return n


def key_profile(masks: Iterable[Iterable[tuple[int, int]]]) -> KeyProfile:
    """The profile for tables whose subtable masks are ``masks`` (``((field, mask), ...)``)."""
    fields = {f for mask in masks for f, _ in mask}
    needed: set[int] = {12, 13}
    if _ETH_DST in fields:
        needed.update(range(6))
    if _ETH_SRC in fields:
        needed.update(range(6, 12))
    ip = fields & set(_IPV4_BYTES)
    l4 = bool(fields & _L4)
    if not ip and not l4:
        return KeyProfile("l2", needed, False)
    needed.add(14)
    for f in ip:
        needed.update(_IPV4_BYTES[f])
    if l4:
        needed.update((20, 21, 23, 34, 35, 36, 37))
    return KeyProfile("ipv4", needed, l4)


class Program:
    """What every frame with one cache key does. Written by the compiler; counters by hits."""

    __slots__ = ("cut", "emits", "entries", "hdr", "in_port", "kind", "matched", "minlen", "n",
                 "nb", "ops", "out", "tables", "txdrops")  # fmt: skip

    def __init__(self, in_port: int, minlen: int) -> None:
        self.in_port = in_port
        self.minlen = minlen
        self.kind = _DROP
        self.out: list[bytes] | None = None  # _OUT/_HDR target list
        self.hdr = b""
        self.cut = 0
        self.ops: tuple[tuple[int, int, bytes, list[bytes] | None], ...] = ()
        self.n = 0  # packets since the last flush
        self.nb = 0  # bytes (as received) since the last flush
        self.entries: tuple[tuple[FlowEntry, int], ...] = ()  # (entry, length delta at hit)
        self.tables: tuple[FlowTable, ...] = ()  # visited: lookup_count
        self.matched: tuple[FlowTable, ...] = ()  # matched_count
        self.emits: tuple[tuple[int, int], ...] = ()  # (port, length delta)
        self.txdrops: tuple[int, ...] = ()  # ports whose tx_dropped counts each packet


class _Uncacheable(Exception):
    """Internal: the walk uses something the compiler does not handle."""


class FlowCache:
    """Exact-match cache over one :class:`Pipeline`. Single owner (one worker)."""

    def __init__(self, pipeline: Pipeline, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.pipeline = pipeline
        self.capacity = capacity
        # Output frames per port; the owner sends them and clears the lists in place.
        self.out: dict[int, list[bytes]] = {}
        self.gapped = False
        self.hits = self.misses = self.slow = self.evictions = self.invalidations = 0
        self.rekeys = 0  # switches to gapped keys (programs kept)
        self._by_port: dict[int, dict[Any, Program]] = {}
        self._size = 0
        # Bitmap of recent misses' gapped-key hashes (contiguous mode): a statistic, so a
        # fixed 128 KiB with rare false positives rather than a set of keys per flow.
        self._seen = bytearray(_SEEN_BITS >> 3)
        self._seen_n = 0
        self._misses_gen = self._volatile = 0
        self.profile = key_profile(())
        self.invalidate()

    def __len__(self) -> int:
        return self._size

    def outlist(self, port: int) -> list[bytes]:
        lst = self.out.get(port)
        if lst is None:
            lst = self.out[port] = []
        return lst

    # --- maintenance --------------------------------------------------------------
    def invalidate(self, now: float | None = None) -> None:
        """Forget every program (after flushing their counters); recompute the profile.

        Protocol for the owner: :meth:`flush` *before* changing tables or ports (an
        ADD that replaces an entry keeps its counters, a removal reports them), then
        change them, then :meth:`invalidate`.
        """
        self.flush(now)
        for progs in self._by_port.values():
            progs.clear()  # in place: a batch in progress keeps a reference to its dict
        self._forget()
        if self._seen_n:
            self._seen[:] = bytes(len(self._seen))
            self._seen_n = 0
        self._size = self._misses_gen = self._volatile = 0
        self.invalidations += 1
        self.profile = key_profile(m for t in self.pipeline.tables for m in t.classifier.masks())

    def flush(self, now: float | None) -> None:
        """Fold the programs' counters into entries, tables and ports (``last_used = now``)."""
        for progs in self._by_port.values():
            for p in progs.values():
                if p.n:
                    self._fold(p, now)

    def _fold(self, p: Program, now: float | None) -> None:
        """Move one program's hit counts into entries, tables and ports."""
        pc = self.pipeline._pc
        n = p.n
        nb = p.nb
        p.n = p.nb = 0
        for e, d in p.entries:
            e.packet_count += n
            e.byte_count += nb + d * n
            if now is not None:
                e.last_used = now
        for t in p.tables:
            t.lookup_count += n
        for t in p.matched:
            t.matched_count += n
        rx = pc(p.in_port)
        rx[0] += n
        rx[1] += nb
        for port, d in p.emits:
            tx = pc(port)
            tx[3] += n
            tx[4] += nb + d * n
        for port in p.txdrops:
            pc(port)[5] += n

    # --- the packet path ----------------------------------------------------------
    def run(self, in_port: int, frames: Sequence[bytes], now: float) -> list[PacketInDecision]:
        """Forward ``frames`` received on ``in_port``: outputs go to :attr:`out`."""
        progs = self._by_port.get(in_port)
        if progs is None:
            progs = self._by_port[in_port] = {}
        get = progs.get
        pins: list[PacketInDecision] = []
        hits = 0
        prof = self.profile
        kf = prof.gapped if self.gapped else prof.contiguous
        for f in frames:
            n = len(f)
            p = get(kf(f))
            if p is None or n < p.minlen:
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

    def _miss(
        self,
        in_port: int,
        f: bytes,
        now: float,
        found: Program | None,
        progs: dict[Any, Program],
        pins: list[PacketInDecision],
    ) -> None:
        if found is not None:  # a slow key, or a frame too short for its program
            self.slow += 1
            self._process(in_port, f, now, pins)
            return
        self.misses += 1
        prof = self.profile
        if not prof.standard(f) or len(f) < prof.minlen(f):
            self.slow += 1  # other layout, or truncated: never let it decide for good frames
            self._process(in_port, f, now, pins)
            return
        key = prof.gapped(f) if self.gapped else prof.contiguous(f)
        if not self.gapped and self._note_miss(prof.gapped(f), now):
            self._process(in_port, f, now, pins)
            return  # switched to gapped keys: the cache was emptied
        if self._size >= self.capacity:
            self.evictions += 1
            self.flush(now)
            for d in self._by_port.values():
                d.clear()
            self._forget()
            self._size = 0
        value = self._quick(in_port, f)  # the compact cache's shortcut, else compile
        slow = False
        if value is None:
            prog = self._compile(in_port, f)
            if prog is None or prog.minlen == _SLOW_MINLEN:  # no verdict, or uncacheable
                self._process(in_port, f, now, pins)
                if prog is None:
                    return
                slow = True
            value = self._value(prog)
        if key not in progs:  # (present: a batch that began before a switch to gapped keys)
            self._size += 1
        progs[key] = value
        if not slow:
            self._hit_one(value, f)  # the new program forwards the frame that made it

    def _process(self, in_port: int, f: bytes, now: float, pins: list[PacketInDecision]) -> None:
        """The full pipeline for one frame (outputs to :attr:`out`, packet-ins to ``pins``)."""
        res = self.pipeline.process(in_port, f, now)
        for o in res.outputs:
            self.outlist(o.port).append(o.data)
        if res.packet_ins:
            pins.extend(res.packet_ins)

    def _hit_one(self, value: Any, f: bytes) -> None:
        """Run a cached program (what :meth:`_value` stored) on one frame, as a hit does."""
        p: Program = value
        p.n += 1
        p.nb += len(f)
        _emit(p, f)

    # Hooks for a cache that stores some programs in a more compact form (fastpath).
    def _quick(self, in_port: int, f: bytes) -> Any:
        """A value for ``f``'s key found without compiling (None: compile). None here."""
        return None

    def _value(self, prog: Program) -> Any:
        """What the key maps to: the program itself here."""
        return prog

    def _forget(self) -> None:
        """Every program was just dropped (invalidation or eviction)."""

    def _note_miss(self, gkey: Any, now: float) -> bool:
        """Count misses caused only by bytes outside the needed runs; maybe switch to gapped."""
        if len(self.profile.runs) == 1:
            return False  # contiguous == gapped
        self._misses_gen += 1
        h = hash(gkey) & (_SEEN_BITS - 1)
        byte, bit = h >> 3, 1 << (h & 7)
        if self._seen[byte] & bit:
            self._volatile += 1
            if self._volatile >= _VOLATILE_MIN and self._volatile * 4 >= self._misses_gen:
                self._rekey(now)
                return True
        elif self._seen_n < _SEEN_MAX:  # beyond: false positives would exceed ~6 %
            self._seen[byte] |= bit
            self._seen_n += 1
        return False

    def _rekey(self, now: float) -> None:
        """Switch to gapped keys *keeping* every program: a contiguous key holds every needed
        byte, so its gapped key is a slice of it; keys that differed only in other bytes have
        the same program (one is kept, counters flushed first)."""
        self.flush(now)
        lo = self.profile.lo
        kf = operator.itemgetter(*(slice(a - lo, b - lo) for a, b in self.profile.runs))
        size = 0
        for progs in self._by_port.values():
            items = list(progs.items())
            progs.clear()  # in place: a batch in progress keeps a reference to its dict
            for key, value in items:
                progs[kf(key)] = value
            size += len(progs)
        self._size = size
        self._misses_gen = self._volatile = 0
        self.gapped = True
        self.rekeys += 1

    # --- the compiler -------------------------------------------------------------
    def _compile(self, in_port: int, frame: bytes) -> Program | None:
        """The program for ``frame``'s key; a *slow* mark if uncacheable; None: do not insert."""
        prog = Program(in_port, self.profile.minlen(frame))
        try:
            if not self._walk(prog, in_port, frame):
                return None
        except _Uncacheable:
            prog = Program(in_port, _SLOW_MINLEN)
            prog.kind = _DROP
        return prog

    def _walk(self, prog: Program, in_port: int, frame: bytes) -> bool:
        dp = self.pipeline
        cfg = dp.ports.port_config(in_port)
        if cfg is not None and cfg & c.OFPPC_NO_RECV:
            raise _Uncacheable
        pkt = Packet(frame, in_port)
        if pkt.p.malformed:
            return False  # its key may be shared with well-formed frames: no verdict
        n0 = len(frame)
        ops: list[tuple[int, int, bytes, list[bytes] | None]] = []
        entries: list[tuple[FlowEntry, int]] = []
        tables: list[FlowTable] = []
        matched: list[FlowTable] = []
        emits: list[tuple[int, int]] = []
        txdrops: list[int] = []
        action_set: dict[tuple[int, int], Action] = {}
        tid: int | None = 0
        ended = True
        while tid is not None:
            table = dp.tables[tid]
            tables.append(table)
            rule = table.classifier.lookup_uncached(pkt.key)
            if rule is None:
                ended = False
                break
            entry = rule.payload
            matched.append(table)
            entries.append((entry, len(pkt.data) - n0))
            tid = None
            by_type = {type(i): i for i in entry.instructions}
            if set(by_type) - _COMPILABLE_INS:
                raise _Uncacheable
            apply = by_type.get(InstructionApplyActions)
            if isinstance(apply, InstructionApplyActions):
                for a in apply.actions:
                    self._action(pkt, a, n0, ops, emits, txdrops)
            if InstructionClearActions in by_type:
                action_set.clear()
            write = by_type.get(InstructionWriteActions)
            if isinstance(write, InstructionWriteActions):
                for a in write.actions:
                    action_set[set_slot(a)] = a
            wm = by_type.get(InstructionWriteMetadata)
            if isinstance(wm, InstructionWriteMetadata):
                m = wm.metadata_mask
                pkt.set_metadata((pkt.metadata & ~m) | (wm.metadata & m))
            goto = by_type.get(InstructionGotoTable)
            if isinstance(goto, InstructionGotoTable):
                tid = goto.table_id
        if ended:
            for a in sorted(action_set.values(), key=lambda a: ACTION_SET_ORDER.get(type(a), 99)):
                self._action(pkt, a, n0, ops, emits, txdrops)
        prog.entries, prog.tables, prog.matched = tuple(entries), tuple(tables), tuple(matched)
        prog.emits, prog.txdrops = tuple(emits), tuple(txdrops)
        self._shape(prog, ops)
        return True

    def _action(
        self,
        pkt: Packet,
        a: Action,
        n0: int,
        ops: list[tuple[int, int, bytes, list[bytes] | None]],
        emits: list[tuple[int, int]],
        txdrops: list[int],
    ) -> None:
        if isinstance(a, ActionOutput):
            port = a.port
            if port == c.OFPP_IN_PORT:
                port = pkt.in_port
            elif port > c.OFPP_MAX:
                raise _Uncacheable  # CONTROLLER, FLOOD, ALL, LOCAL, TABLE
            elif port == pkt.in_port:
                return  # dropped: output to the ingress port needs OFPP_IN_PORT
            ports = self.pipeline.ports
            cfg = ports.port_config(port)
            if cfg is None or not port_live(ports, port) or cfg & c.OFPPC_NO_FWD:
                txdrops.append(port)
                return
            emits.append((port, len(pkt.data) - n0))
            ops.append((-1, 0, b"", self.outlist(port)))
        elif isinstance(a, ActionSetField) and isinstance(a.field, OxmTLV):
            f = a.field.field
            if f in (_ETH_DST, _ETH_SRC):
                pkt.set_field(f, a.field.value)
                off = 0 if f == _ETH_DST else 6
                ops.append((off, off + 6, bytes(pkt.data[off : off + 6]), None))
            elif f in (_VID, _PCP):
                if pkt.set_field(f, a.field.value):  # a tag exists (pushed by this program)
                    ops.append((14, 16, bytes(pkt.data[14:16]), None))
            else:
                raise _Uncacheable
        elif isinstance(a, ActionPushVlan):
            pkt.push_vlan(a.ethertype)
            ops.append((12, 12, bytes(pkt.data[12:16]), None))
        elif isinstance(a, ActionPopVlan):
            if pkt.pop_vlan():
                ops.append((12, 16, b"", None))
        else:
            raise _Uncacheable

    @staticmethod
    def _shape(prog: Program, ops: list[tuple[int, int, bytes, list[bytes] | None]]) -> None:
        """Pick the cheapest program kind that does ``ops``."""
        if not any(o[3] is not None for o in ops):
            prog.kind = _DROP
            return
        # merge adjacent header splices at 0:6 and 6:12 into one prefix
        if len(ops) == 1:
            prog.kind, prog.out = _OUT, ops[0][3]
            return
        splices, last = ops[:-1], ops[-1]
        if last[3] is not None and all(o[3] is None for o in splices):
            starts = sorted((o[0], o[1], o[2]) for o in splices)
            if (
                starts and starts[0][0] == 0 and all(s[1] - s[0] == len(s[2]) for s in starts)
            ):  # in-place overwrites only
                hdr = b""
                pos = 0
                for a, b, data in starts:
                    if a != pos:
                        break
                    hdr += data
                    pos = b
                else:
                    prog.kind, prog.out, prog.hdr, prog.cut = _HDR, last[3], hdr, pos
                    return
        prog.kind, prog.ops = _OPS, tuple(ops)


_COMPILABLE_INS = {InstructionApplyActions, InstructionClearActions, InstructionWriteActions,
                   InstructionWriteMetadata, InstructionGotoTable}  # fmt: skip


def _emit(p: Program, f: bytes) -> None:
    """A hit's output for one frame."""
    k = p.kind
    if k == _OUT:
        p.out.append(f)  # type: ignore[union-attr]
    elif k == _HDR:
        p.out.append(p.hdr + f[p.cut :])  # type: ignore[union-attr]
    elif k == _OPS:
        _run_ops(p, f)


def _run_ops(p: Program, f: bytes) -> None:
    for a, b, data, out in p.ops:
        if out is not None:
            out.append(f)
        else:
            f = f[:a] + data + f[b:]
