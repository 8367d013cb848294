"""Table replicas: versioned update batches from the agent to every worker, and barriers.

Role (paper §VI, DESIGN §4): quake's workers are processes (the GIL), each with
a private replica of the flow/group/meter tables. The OpenFlow agent owns the
authoritative pipeline (it validates, answers errors and statistics, expires
flows); every batch of changes it applied is shipped to the workers as one
*versioned update*, and a BARRIER_REPLY is sent only once every worker runs
that version.

Design:

* Wire format: an update is ``(version, records)``. Flow-table changes are
  compact, pre-validated effect records (:mod:`.compact`: ``mask``,
  ``prog``, ``unprog``, ``adds``, ``mod``, ``del``) that a worker applies to
  its :class:`~.table.CompactTable` s with dict and array operations only -
  no OpenFlow decode, no validation, no normalisation. GROUP_MOD,
  METER_MOD and TABLE_MOD travel as ``("ofp", raw)`` (the codec's
  encoding; the worker's pipeline decodes and applies them) and port
  changes as ``("port", port_no, config, state)``. The agent also ships
  the deletions its flow expiry and group/meter deletions made, as ``del``
  records, so workers never expire on their own and stay identical to the
  agent.
* Determinism: a replica applies the same effects in the same order as the
  agent, so it reaches the same tables (subtable order included, hence the
  same winner among equal priorities). A full-pipeline replica (no compact
  tables) still accepts ``("ofp", FLOW_MOD)`` records; a message the agent
  refused raises the same :class:`PipelineError` there and is skipped.
* Atomicity: :meth:`Replica.apply` runs between packet batches and applies a
  whole update (cache flushed before, invalidated after); no packet ever
  sees a half-applied update.
* :class:`UpdateLog` (agent side, pure): versions, per-worker acknowledged
  versions and the barriers waiting for them. A barrier is released when
  every *registered* worker (active or parked: parked workers keep their
  replica current so they can resume at once) acknowledged a version >= the
  one current when the barrier arrived.

Invariants: versions are consecutive from 1; a worker's acknowledged version
never decreases; barriers are released in arrival order.
"""

from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Hashable, Iterable, Sequence
from typing import cast

from openvolcano.ofp.base import decode_message
from openvolcano.ofp.instructions import Instruction
from openvolcano.ofp.messages import FlowMod, GroupMod, MeterMod, TableMod

from ..pipeline import Pipeline, PipelineError, StaticPorts
from ..pipeline.cache import FlowCache
from ..pipeline.classifier import Mask
from .compact import Record
from .table import CompactTable, Interned

__all__ = ["Record", "Replica", "UpdateLog", "encode_records"]


class UpdateLog:
    """Agent side: update versions, worker acknowledgements, pending barriers. Single owner."""

    def __init__(self) -> None:
        self.version = 0
        self.acked: dict[int, int] = {}  # worker id -> acknowledged version
        self._barriers: deque[tuple[int, Hashable]] = deque()

    def publish(self) -> int:
        """A new version number for the update about to be shipped."""
        self.version += 1
        return self.version

    def add_worker(self, wid: int, version: int = 0) -> None:
        self.acked[wid] = version

    def remove_worker(self, wid: int) -> list[Hashable]:
        self.acked.pop(wid, None)
        return self._release()

    def ack(self, wid: int, version: int) -> list[Hashable]:
        """Worker ``wid`` runs ``version``; the barrier tokens that can now be answered."""
        if wid in self.acked and version > self.acked[wid]:
            self.acked[wid] = version
        return self._release()

    def barrier(self, token: Hashable) -> list[Hashable]:
        """A barrier arrived: released at once if every worker is current, else queued."""
        self._barriers.append((self.version, token))
        return self._release()

    def pending_barriers(self) -> int:
        return len(self._barriers)

    def _release(self) -> list[Hashable]:
        low = min(self.acked.values(), default=self.version)
        out: list[Hashable] = []
        while self._barriers and self._barriers[0][0] <= low:
            out.append(self._barriers.popleft()[1])
        return out


def encode_records(msgs: Iterable[FlowMod | GroupMod | MeterMod | TableMod]) -> list[Record]:
    """``("ofp", raw)`` records for controller messages (full-pipeline replicas, tests)."""
    return [("ofp", m.encode()) for m in msgs]


class Replica:
    """Worker side: one pipeline replica plus its flow cache. Single owner (the worker).

    With ``interned`` (see :func:`~.table.compact_pipeline`) the pipeline's flow tables
    are :class:`~.table.CompactTable` s and flow changes come as compact records.
    """

    def __init__(
        self, pipeline: Pipeline, ports: StaticPorts, cache: FlowCache,
        interned: Interned | None = None,
    ) -> None:  # fmt: skip
        self.pipeline = pipeline
        self.ports = ports
        self.cache = cache
        self.interned = interned
        self.tables = cast(list[CompactTable], pipeline.tables) if interned is not None else []
        self.version = 0
        self.skipped = 0  # records refused exactly as the agent refused them

    def apply(self, version: int, records: Sequence[Record], now: float) -> None:
        """Apply one whole update; call only between packet batches."""
        self.cache.flush(now)
        for rec in records:
            kind = rec[0]
            if kind in _FLOW and self.interned is not None:
                self._flow(rec)
                continue
            try:
                if kind == "ofp":
                    self._ofp(rec[1], now)
                elif kind == "port":
                    _, port, config, state = rec
                    assert isinstance(port, int)
                    assert isinstance(config, int)
                    assert isinstance(state, int)
                    self.ports.set(port, config, state)
                else:
                    self.skipped += 1
            except PipelineError:
                self.skipped += 1
        self.cache.invalidate(now)
        self.version = version

    def _flow(self, rec: Record) -> None:
        """One compact record (pre-validated: plain dict/array operations)."""
        kind = rec[0]
        interned = self.interned
        assert interned is not None
        if kind == "adds":
            t, mid, prio, pid, cookie, idle, hard, flags = cast(_Add, rec[1])
            add = self.tables[t].add
            for key, row in zip(cast(list[bytes], rec[2]), cast("array[int]", rec[3]), strict=True):
                add(mid, key, prio, pid, cookie, idle, hard, flags, row)
        elif kind == "del" or kind == "mod":
            t, mid, key, prio = cast(_Rule, rec[1:5])
            table = self.tables[t]
            slot = table.find(mid, key, prio)
            if slot is None:
                self.skipped += 1  # cannot happen while the replica follows the agent
            elif kind == "del":
                table.remove(slot)
            else:
                pid, reset = cast(tuple[int, bool], rec[5:])
                table.modify(slot, pid, reset)
        elif kind == "mask":
            interned.define_mask(cast(int, rec[1]), cast(Mask, rec[2]))
        elif kind == "prog":
            interned.define_program(cast(int, rec[1]), cast(tuple[Instruction, ...], rec[2]))
        else:  # unprog
            interned.programs.pop(cast(int, rec[1]), None)

    def _ofp(self, raw: object, now: float) -> None:
        assert isinstance(raw, bytes)
        pl = self.pipeline
        msg = decode_message(raw)
        if isinstance(msg, FlowMod) and self.interned is None:
            pl.apply_flow_mod(msg, now)
        elif isinstance(msg, GroupMod):
            pl.apply_group_mod(msg, now)
        elif isinstance(msg, MeterMod):
            pl.apply_meter_mod(msg, now)
        elif isinstance(msg, TableMod):
            pl.apply_table_mod(msg)
        else:
            self.skipped += 1


_Add = tuple[int, int, int, int, int, int, int, int]
_Rule = tuple[int, int, bytes, int]
_FLOW = frozenset(("adds", "del", "mod", "mask", "prog", "unprog"))
