"""The GAL state machine: discovery, two-phase provisioning/commit, rollback, release.

Role: the Green Standard Interface primitives of ETSI ES 203 237 for one
server (paper section V), the handle crater uses to put servers, cores,
virtual images and quake workers into low-power states.

Design: a pure in-memory tree. Time is passed in as ``now``; hardware changes
go through an injected :class:`Applier` (the actuators, or a fake in tests),
so the tree itself does no I/O.

Two-phase semantics (invariants):

* ``provision(id, state)`` only stages: *provisioned* changes, *committed*
  and the hardware do not.
* ``commit(id)`` applies every staged change in the subtree rooted at ``id``
  (children before parents, so a server goes to standby after its parts), in
  id order. If one apply fails, the already-applied resources are put back to
  their committed EAS in reverse order (compensating rollback), committed is
  left unchanged everywhere, the staged values are kept (the caller may retry
  or roll back) and :class:`CommitFailed` names the failing resource and any
  compensation that failed too.
* ``commit`` with nothing staged raises :class:`~openvolcano.common.errors.Conflict`.
* ``rollback(id)``: provisioned := committed in the subtree; no hardware change.
* ``release(id)``: provisioned = committed = default EAS (applied if different).
* Unknown ids raise NotFound, unknown states InvalidInput; a failed request
  changes nothing.

Shared state: writer is the geyser agent (one asyncio task at a time, under its
lock); readers are the REST handlers and the Prometheus collector.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from openvolcano.caldera.geyser.gal.model import (
    EnergyAwareState,
    ResourceSpec,
    SensorReading,
    SensorRing,
    SensorSpec,
    StateChange,
)
from openvolcano.common.errors import Conflict, InvalidInput, NotFound, OpenVolcanoError

__all__ = ["Applier", "CommitFailed", "GalTree", "ResourceState"]


class Applier(Protocol):
    """Carries an EAS into the hardware (or emulation). Raises on failure."""

    def apply(self, resource: ResourceSpec, state: EnergyAwareState) -> None: ...


class CommitFailed(OpenVolcanoError):
    """A commit failed part-way; what had been applied was rolled back (HTTP 502)."""

    http_status = 502
    code = "commit_failed"


@dataclass
class ResourceState:
    """Runtime state of one resource: committed/provisioned EAS, histories."""

    spec: ResourceSpec
    committed: int
    provisioned: int
    history: list[StateChange] = field(default_factory=list)
    sensor_rings: dict[str, SensorRing] = field(default_factory=dict)


def parent_of(rid: str) -> str | None:
    head, sep, _ = rid.rpartition(".")
    return head if sep else None


class GalTree:
    """All logical resources of one server and their GAL state."""

    def __init__(self, history_len: int = 120, state_history_len: int = 256) -> None:
        self._res: dict[str, ResourceState] = {}
        self.history_len = history_len
        self.state_history_len = state_history_len

    # --- structure -----------------------------------------------------------------

    def add(self, spec: ResourceSpec, now: float) -> None:
        """Add (or refresh the description of) a resource; its parent must exist."""
        parent = parent_of(spec.id)
        if parent is not None and parent not in self._res:
            raise NotFound(f"parent resource {parent!r} of {spec.id!r} does not exist")
        if spec.default_state not in spec.states:
            raise InvalidInput(f"default EAS {spec.default_state} of {spec.id!r} is not defined")
        old = self._res.get(spec.id)
        if old is not None:
            old.spec = spec
            for name in spec.sensors:
                old.sensor_rings.setdefault(name, SensorRing(self.history_len))
            return
        self._res[spec.id] = ResourceState(
            spec=spec,
            committed=spec.default_state,
            provisioned=spec.default_state,
            history=[StateChange(now, spec.default_state)],
            sensor_rings={n: SensorRing(self.history_len) for n in spec.sensors},
        )

    def remove(self, rid: str) -> None:
        """Forget a resource and its subtree (a virtual image or worker that went away)."""
        for key in self._subtree(rid):
            del self._res[key]

    def ids(self) -> list[str]:
        return sorted(self._res)

    def get(self, rid: str) -> ResourceState:
        try:
            return self._res[rid]
        except KeyError:
            raise NotFound(f"GAL resource {rid!r} not found") from None

    def children(self, rid: str) -> list[str]:
        self.get(rid)
        return [k for k in sorted(self._res) if parent_of(k) == rid]

    def _subtree(self, rid: str) -> list[str]:
        self.get(rid)
        return [k for k in sorted(self._res) if k == rid or k.startswith(rid + ".")]

    # --- primitives ------------------------------------------------------------------

    def provision(self, rid: str, state_id: int) -> None:
        """Stage ``state_id`` on ``rid`` (phase 1)."""
        res = self.get(rid)
        if state_id not in res.spec.states:
            raise InvalidInput(
                f"EAS {state_id} is not defined for {rid!r} "
                f"(valid: {', '.join(map(str, sorted(res.spec.states)))})",
                resource=rid,
                state_id=state_id,
            )
        res.provisioned = state_id

    def staged(self, rid: str) -> list[str]:
        """Resources in the subtree of ``rid`` with a staged, uncommitted change."""
        return [k for k in self._subtree(rid) if self._res[k].provisioned != self._res[k].committed]

    def commit(self, rid: str, now: float, applier: Applier) -> list[str]:
        """Apply every staged change under ``rid`` (phase 2); return the ids changed."""
        plan = sorted(self.staged(rid), key=lambda k: (-k.count("."), k))
        if not plan:
            raise Conflict(f"nothing staged under {rid!r}: provision a state before commit")
        applied: list[str] = []
        for key in plan:
            res = self._res[key]
            try:
                applier.apply(res.spec, res.spec.states[res.provisioned])
            except Exception as exc:
                failed_undo = self._compensate(applied, applier)
                raise CommitFailed(
                    f"commit of {rid!r} failed at {key!r}: {exc}; "
                    + (
                        f"compensation also failed for {', '.join(failed_undo)}"
                        if failed_undo
                        else f"rolled back {len(applied)} applied change(s)"
                    ),
                    resource=key,
                    rolled_back=applied,
                    compensation_failed=failed_undo,
                ) from exc
            applied.append(key)
        for key in applied:
            res = self._res[key]
            res.committed = res.provisioned
            res.history.append(StateChange(now, res.committed))
            del res.history[: -self.state_history_len]
        return applied

    def _compensate(self, applied: list[str], applier: Applier) -> list[str]:
        failed: list[str] = []
        for key in reversed(applied):
            res = self._res[key]
            try:
                applier.apply(res.spec, res.spec.states[res.committed])
            except Exception:
                failed.append(key)
        return failed

    def rollback(self, rid: str) -> list[str]:
        """Discard staged changes under ``rid``: provisioned := committed."""
        changed = self.staged(rid)
        for key in changed:
            self._res[key].provisioned = self._res[key].committed
        return changed

    def release(self, rid: str, now: float, applier: Applier) -> list[str]:
        """Return the subtree of ``rid`` to its default EASs (staged, then committed)."""
        keys = self._subtree(rid)
        saved = {k: self._res[k].provisioned for k in keys}
        for k in keys:
            self._res[k].provisioned = self._res[k].spec.default_state
        if not self.staged(rid):
            return []
        try:
            return self.commit(rid, now, applier)
        except CommitFailed:
            for k, v in saved.items():
                self._res[k].provisioned = v
            raise

    def state(self, rid: str, committed: bool = True) -> EnergyAwareState:
        res = self.get(rid)
        return res.spec.states[res.committed if committed else res.provisioned]

    def state_history(self, rid: str) -> list[StateChange]:
        return list(self.get(rid).history)

    # --- sensors -----------------------------------------------------------------------

    def sensor_spec(self, rid: str, name: str) -> SensorSpec:
        spec = self.get(rid).spec.sensors.get(name)
        if spec is None:
            raise NotFound(f"sensor {name!r} not found on GAL resource {rid!r}")
        return spec

    def record(self, rid: str, name: str, reading: SensorReading) -> None:
        self.sensor_spec(rid, name)
        self._res[rid].sensor_rings[name].push(reading)

    def sensor(self, rid: str, name: str) -> SensorReading | None:
        self.sensor_spec(rid, name)
        return self._res[rid].sensor_rings[name].latest()

    def sensor_history(self, rid: str, name: str) -> list[SensorReading]:
        self.sensor_spec(rid, name)
        return self._res[rid].sensor_rings[name].history()

    def split_sensor_id(self, full_id: str) -> tuple[str, str]:
        """``"0.cpu3.load"`` -> (``"0.cpu3"``, ``"load"``): longest resource prefix wins."""
        rid, sep, name = full_id.rpartition(".")
        if not sep or rid not in self._res:
            raise NotFound(f"sensor {full_id!r} not found")
        self.sensor_spec(rid, name)
        return rid, name
