"""Table replicas: versioned update batches from the agent to every worker, and barriers.

Role (paper §VI, DESIGN §4): quake's workers are processes (the GIL), each with
a private replica of the flow/group/meter tables. The OpenFlow agent owns the
authoritative pipeline (it validates, answers errors and statistics, expires
flows); every batch of changes it applied is shipped to the workers as one
*versioned update*, and a BARRIER_REPLY is sent only once every worker runs
that version.

Design:

* Wire format: an update is ``(version, records)``; a record is
  ``("ofp", raw)`` - an OpenFlow message exactly as encoded by the codec
  (FLOW_MOD, GROUP_MOD, METER_MOD, TABLE_MOD), which the worker decodes and
  applies to its own pipeline - or ``("port", port_no, config, state)`` for
  the pipeline's port view. The agent also ships the deletions its flow
  expiry made, as DELETE_STRICT flow-mods, so workers never expire on their
  own and stay identical to the agent.
* Determinism: a replica applies the same messages in the same order as the
  agent, so it reaches the same state; a message the agent refused raises
  the same :class:`PipelineError` here before changing anything and is
  skipped.
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

from collections import deque
from collections.abc import Hashable, Iterable, Sequence

from openvolcano.ofp.base import decode_message
from openvolcano.ofp.messages import FlowMod, GroupMod, MeterMod, TableMod

from ..pipeline import Pipeline, PipelineError, StaticPorts
from ..pipeline.cache import FlowCache

__all__ = ["Record", "Replica", "UpdateLog"]

Record = tuple[object, ...]


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
    """Records for applied controller messages (their own OpenFlow encoding)."""
    return [("ofp", m.encode()) for m in msgs]


class Replica:
    """Worker side: one pipeline replica plus its flow cache. Single owner (the worker)."""

    def __init__(self, pipeline: Pipeline, ports: StaticPorts, cache: FlowCache) -> None:
        self.pipeline = pipeline
        self.ports = ports
        self.cache = cache
        self.version = 0
        self.skipped = 0  # records refused exactly as the agent refused them

    def apply(self, version: int, records: Sequence[Record], now: float) -> None:
        """Apply one whole update; call only between packet batches."""
        self.cache.flush(now)
        pl = self.pipeline
        for rec in records:
            kind = rec[0]
            try:
                if kind == "ofp":
                    raw = rec[1]
                    assert isinstance(raw, bytes)
                    msg = decode_message(raw)
                    if isinstance(msg, FlowMod):
                        pl.apply_flow_mod(msg, now)
                    elif isinstance(msg, GroupMod):
                        pl.apply_group_mod(msg, now)
                    elif isinstance(msg, MeterMod):
                        pl.apply_meter_mod(msg, now)
                    elif isinstance(msg, TableMod):
                        pl.apply_table_mod(msg)
                    else:
                        self.skipped += 1
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
