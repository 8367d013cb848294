"""The geyser agent: probes -> sensors, GAL primitives over the resource tree.

Role: the library behind ``openvolcano geyser`` (paper section V). It builds
the server's GAL tree (server, cores, NICs, quake and its workers, virtual
images, watched processes), refreshes every sensor from the probes, and
exposes the GAL primitives, rendered as :mod:`openvolcano.api.geyser` models,
to the REST app (:mod:`.app`) and the CLI.

Design: the shell around two pure parts (parsers, :class:`GalTree`). The clock
is read by the caller and passed as ``now``; two consecutive snapshots give
rates (CPU %, bytes/s, watts from energy counters).

Power: measured from hwmon ``power*_input`` or RAPL energy counters where
the machine has them; otherwise *modelled* as ``idle_w + (max_w - idle_w) *
cpu_utilisation`` (``standby_w`` when in standby) from the configured server
model. Every reading is labelled ``measured`` or ``modelled``.

Shared state: ``tree`` and ``_prev`` are written by :meth:`refresh` and the
primitives, always under ``_lock`` (REST handlers run in worker threads);
readers take the same lock.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from openvolcano.api import geyser as api
from openvolcano.caldera.geyser.actuators import (
    EmulatedStandby,
    GeyserApplier,
    HttpQuakeWorkers,
    QuakeWorkers,
    Standby,
    SuspendStandby,
    SysfsGovernor,
)
from openvolcano.caldera.geyser.cgroupfs import CgroupFs, detect_cgroup, detect_freezer
from openvolcano.caldera.geyser.config import GeyserConfig
from openvolcano.caldera.geyser.gal import resources as R
from openvolcano.caldera.geyser.gal.model import (
    EnergyAwareState,
    Origin,
    SensorReading,
    SensorScale,
    SensorSpec,
    SensorStatus,
    SensorType,
)
from openvolcano.caldera.geyser.gal.tree import GalTree
from openvolcano.caldera.geyser.probes.parsers import CpuTimes, NetDevCounters, cpu_busy_fraction
from openvolcano.caldera.geyser.probes.sources import HostReader, ProcSample, RaplZone
from openvolcano.common.errors import InvalidInput, OpenVolcanoError

__all__ = ["GeyserAgent", "to_api_state"]

T = TypeVar("T")
TICKS_PER_S = 100  # USER_HZ on every Linux architecture geyser runs on


@dataclass
class _Snapshot:
    now: float
    cpu: dict[str, CpuTimes]
    net: dict[str, NetDevCounters]
    procs: dict[str, ProcSample | None]
    cgroup_usage: dict[str, int | None]
    idle_us: dict[str, dict[str, int]]
    rapl: list[RaplZone]


@dataclass
class _Watch:
    """What to sample for one resource: a pid, or a cgroup path."""

    pid: int | None = None
    cgroup: str | None = None


@dataclass
class GeyserAgent:
    """One server's GAL agent."""

    config: GeyserConfig
    reader: HostReader
    applier: GeyserApplier
    cgroups: CgroupFs | None = None
    quake: QuakeWorkers | None = None
    tree: GalTree = field(init=False)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _prev: _Snapshot | None = field(init=False, default=None)
    _watch: dict[str, _Watch] = field(init=False, default_factory=dict)
    ncpu: int = field(init=False, default=1)

    @classmethod
    def from_config(cls, config: GeyserConfig) -> GeyserAgent:
        """Real readers and actuators for this host, as the config asks."""
        root = Path(config.root)
        cgroups = detect_cgroup(Path(config.cgroup_root))
        quake = (
            HttpQuakeWorkers(config.quake.url, timeout_s=config.quake.timeout_s)
            if config.quake
            else None
        )
        standby: Standby | None = None
        if config.standby.mode == "suspend":
            standby = SuspendStandby(root)
        elif config.standby.mode == "emulated":
            sc = config.standby
            freezer = detect_freezer(Path(config.cgroup_root))
            if freezer is None:
                raise InvalidInput(
                    f"standby mode 'emulated' needs a cgroup freezer (v2 cgroup.freeze or the "
                    f"v1 freezer hierarchy) under {config.cgroup_root!r}; none found"
                )
            standby = EmulatedStandby(freezer, sc.cgroup, sc.ports, sc.netns, sc.freeze_timeout_s)
        reader = HostReader(root)
        governor = SysfsGovernor(root) if reader.cpufreq() else None
        applier = GeyserApplier(quake=quake, cgroups=cgroups, governor=governor, standby=standby)
        return cls(config, reader, applier, cgroups, quake)

    # --- building the tree -------------------------------------------------------------

    def start(self, now: float) -> None:
        """Discover the server and build the resource tree."""
        self.tree = GalTree(history_len=self.config.history)
        cfg, pm = self.config, self.config.power
        ms = round(cfg.refresh_s * 1000)
        cpus = [k for k in self.reader.cpu() if k != "cpu"]
        self.ncpu = max(1, len(cpus))
        hw: list[SensorSpec] = []
        for h in self.reader.hwmon():
            kind = (SensorType.watts, SensorScale.milli, "W") if h.kind == "power" else (
                SensorType.celsius, SensorScale.units, "C")  # fmt: skip
            hw.append(SensorSpec(_hw_name(h.chip, h.sensor), f"hwmon {h.chip} {h.label}",
                                 kind[0], kind[1], 1, ms, kind[2]))  # fmt: skip
        for z in self.reader.rapl():
            hw.append(SensorSpec(_hw_name("rapl", z.zone), f"RAPL {z.name} power",
                                 SensorType.watts, SensorScale.milli, 0, ms, "W"))  # fmt: skip
        standby_mode = cfg.standby.mode if self.applier.standby is not None else "none"
        self.tree.add(R.server_resource(pm, ms, self.ncpu, standby_mode, hw), now)
        freq = self.reader.cpufreq()
        idle = self.reader.cpuidle()
        for c in cpus:
            governors = freq[c].governors if c in freq else ()
            names = [_slug(s.name) for s in idle.get(c, [])]
            self.tree.add(R.cpu_resource(c, ms, governors, names, pm, self.ncpu), now)
        nics = cfg.interfaces if cfg.interfaces is not None else [
            n for n in self.reader.net() if n != "lo"]  # fmt: skip
        for n in nics:
            self.tree.add(R.nic_resource(n, ms), now)
        if self.quake is not None:
            self._add_quake(ms, now)
        for vi in cfg.virtual_images:
            spec = R.vi_resource(vi.id, vi.cgroup, vi.quotas, ms, pm, self.ncpu)
            self.tree.add(spec, now)
            self._watch[spec.id] = _Watch(cgroup=vi.cgroup)
        for p in cfg.processes:
            rid = f"0.proc-{p.name}"
            self.tree.add(R.process_resource(rid, f"process {p.name}", p.pid, ms, self.ncpu), now)
            self._watch[rid] = _Watch(pid=p.pid)

    def _add_quake(self, ms: int, now: float) -> None:
        assert self.quake is not None
        try:
            st = self.quake.status()
        except OpenVolcanoError:
            return  # quake not running (yet): no quake resource until the next start
        spec = R.quake_resource(st.maximum, ms, self.config.power)
        self.tree.add(spec, now)
        res = self.tree.get(spec.id)
        res.committed = res.provisioned = max(0, min(st.maximum - 1, st.maximum - st.active))
        for i, pid in enumerate(st.pids):
            rid = f"0.quake.worker{i}"
            self.tree.add(R.process_resource(rid, f"quake worker {i}", pid, ms, self.ncpu), now)
            self._watch[rid] = _Watch(pid=pid)

    # --- sampling ------------------------------------------------------------------------

    def _snapshot(self, now: float) -> _Snapshot:
        procs: dict[str, ProcSample | None] = {}
        usage: dict[str, int | None] = {}
        for rid, w in self._watch.items():
            if w.pid is not None:
                procs[rid] = self.reader.process(w.pid)
            elif w.cgroup is not None:
                usage[rid] = self._cg_read("usage", w.cgroup)
        idle = {c: {_slug(s.name): s.time_us for s in states}
                for c, states in self.reader.cpuidle().items()}  # fmt: skip
        return _Snapshot(now, self.reader.cpu(), self.reader.net(), procs, usage, idle,
                         self.reader.rapl())  # fmt: skip

    def _cg_read(self, what: str, rel: str) -> int | None:
        """cgroup usage (us), memory (bytes) or quota (micro-CPUs, 0 = none); None if absent."""
        cg = self.cgroups
        if cg is None:
            return None
        try:
            if what == "usage":
                return cg.usage_usec(rel)
            if what == "memory":
                return cg.memory_bytes(rel)
            cpus = cg.cpu_max(rel).cpus
            return 0 if cpus is None else round(cpus * 1e6)
        except (OpenVolcanoError, OSError):
            return None

    def refresh(self, now: float) -> None:
        """Sample every probe once and record a reading in every sensor."""
        with self._lock:
            snap = self._snapshot(now)
            prev, self._prev = self._prev, snap
            for rid, name, value, origin in self._values(prev, snap):
                self._record(rid, name, value, origin, now)

    def _record(self, rid: str, name: str, value: float | None, origin: Origin, now: float) -> None:
        try:
            spec = self.tree.sensor_spec(rid, name)
        except OpenVolcanoError:
            return
        if value is None:
            reading = SensorReading(SensorStatus.unavailable, 0, 0.0, origin, now)
        else:
            raw = spec.encode(value)
            reading = SensorReading(SensorStatus.ok, raw, spec.decode(raw), origin, now)
        self.tree.record(rid, name, reading)

    def _values(
        self, prev: _Snapshot | None, s: _Snapshot
    ) -> list[tuple[str, str, float | None, Origin]]:
        out: list[tuple[str, str, float | None, Origin]] = []
        m: Origin = "measured"
        mem = self.reader.meminfo()
        total = mem.get("MemTotal")
        avail = mem.get("MemAvailable")
        out.append(("0", "mem_total", None if total is None else float(total), m))
        out.append(("0", "mem_used", None if total is None or avail is None else total - avail, m))
        load = self.reader.loadavg()
        out.append(("0", "load1", None if load is None else load.load1, m))
        psi = self.reader.pressure()
        for res in ("cpu", "memory", "io"):
            out.append(("0", f"psi_{res}", psi[res]["some"].avg10 if res in psi else None, m))
        for h in self.reader.hwmon():
            scale = 1e-6 if h.kind == "power" else 1e-3
            out.append(("0", _hw_name(h.chip, h.sensor), h.raw * scale, m))
        if prev is None:
            return out
        dt = s.now - prev.now
        if dt <= 0:
            return out
        util = cpu_busy_fraction(prev.cpu["cpu"], s.cpu["cpu"])
        out.append(("0", "cpu_load", 100.0 * util, m))
        for c, times in s.cpu.items():
            if c != "cpu" and c in prev.cpu:
                out.append((f"0.{c}", "load", 100.0 * cpu_busy_fraction(prev.cpu[c], times), m))
                for st, t_us in s.idle_us.get(c, {}).items():
                    before = prev.idle_us.get(c, {}).get(st, t_us)
                    out.append((f"0.{c}", f"idle_{st}", 100.0 * (t_us - before) / (dt * 1e6), m))
        for c, f in self.reader.cpufreq().items():
            out.append((f"0.{c}", "freq", f.cur_khz * 1e3, m))
        for n, cur in s.net.items():
            old = prev.net.get(n)
            if old is None:
                continue
            rid = f"0.{n}"
            out.append((rid, "rx_rate", (cur.rx_bytes - old.rx_bytes) / dt, m))
            out.append((rid, "tx_rate", (cur.tx_bytes - old.tx_bytes) / dt, m))
            out.append((rid, "rx_pps", (cur.rx_packets - old.rx_packets) / dt, m))
            out.append((rid, "tx_pps", (cur.tx_packets - old.tx_packets) / dt, m))
            errs = cur.rx_errors + cur.rx_dropped + cur.tx_errors + cur.tx_dropped
            out.append((rid, "errors", float(errs), m))
        out += self._process_values(prev, s, dt)
        out += self._power_values(prev, s, dt, util)
        if self.quake is not None and "0.quake" in self.tree.ids():
            qs = _try(self.quake.status)
            out.append(("0.quake", "active_workers", None if qs is None else qs.active, m))
        return out

    def _process_values(
        self, prev: _Snapshot, s: _Snapshot, dt: float
    ) -> list[tuple[str, str, float | None, Origin]]:
        out: list[tuple[str, str, float | None, Origin]] = []
        m: Origin = "measured"
        for rid, cur in s.procs.items():
            old = prev.procs.get(rid)
            same = cur is not None and old is not None and old.stat.starttime == cur.stat.starttime
            if cur is None or old is None or not same:
                vals: dict[str, float | None] = dict.fromkeys(
                    ("cpu", "mem", "read_rate", "write_rate")
                )
            else:
                ticks = cur.stat.cpu_ticks - old.stat.cpu_ticks
                vals = {
                    "cpu": 100.0 * ticks / TICKS_PER_S / dt,
                    "mem": float(cur.rss_bytes),
                    "read_rate": _rate(old.read_bytes, cur.read_bytes, dt),
                    "write_rate": _rate(old.write_bytes, cur.write_bytes, dt),
                }
            out += [(rid, k, v, m) for k, v in vals.items()]
        for rid, usage in s.cgroup_usage.items():
            before = prev.cgroup_usage.get(rid)
            cg = self._watch[rid].cgroup
            assert cg is not None
            cpu = None if usage is None or before is None else 100.0 * (usage - before) / (dt * 1e6)
            out.append((rid, "cpu", cpu, m))
            mem = self._cg_read("memory", cg)
            out.append((rid, "mem", None if mem is None else float(mem), m))
            quota = self._cg_read("quota", cg)
            out.append((rid, "quota", None if quota is None else quota / 1e6, m))
        return out

    def _power_values(
        self, prev: _Snapshot, s: _Snapshot, dt: float, util: float
    ) -> list[tuple[str, str, float | None, Origin]]:
        out: list[tuple[str, str, float | None, Origin]] = []
        old = {z.zone: z for z in prev.rapl}
        pkg_w = 0.0
        have_pkg = False
        for z in s.rapl:
            o = old.get(z.zone)
            if o is None:
                continue
            delta = z.energy_uj - o.energy_uj
            if delta < 0:  # the counter wrapped
                delta += z.max_energy_range_uj
            watts = delta / 1e6 / dt
            out.append(("0", _hw_name("rapl", z.zone), watts, "measured"))
            if z.zone.count(":") == 1:
                pkg_w += watts
                have_pkg = True
        hw_power = [h.raw * 1e-6 for h in self.reader.hwmon() if h.kind == "power"]
        pm = self.config.power
        if hw_power:
            out.append(("0", "power", sum(hw_power), "measured"))
        elif have_pkg:
            out.append(("0", "power", pkg_w, "measured"))
        elif self.tree.state("0").kind == "standby":
            out.append(("0", "power", pm.standby_w, "modelled"))
        else:
            out.append(("0", "power", pm.idle_w + (pm.max_w - pm.idle_w) * util, "modelled"))
        return out

    # --- GAL primitives (rendered as api models) -------------------------------------------

    def discovery(self, rid: str, depth: int = 0, committed: bool = True) -> api.Resource:
        with self._lock:
            return self._render(rid, depth)

    def _render(self, rid: str, depth: int) -> api.Resource:
        res = self.tree.get(rid)
        spec = res.spec
        child_ids = self.tree.children(rid)
        readings = []
        for name in spec.sensors:
            r = self.tree.sensor(rid, name)
            if r is not None:
                readings.append(_reading(f"{rid}.{name}", spec.sensors[name], r))
        return api.Resource(
            id=rid, description=spec.description, type=spec.type,
            committed_state=res.committed, provisioned_state=res.provisioned,
            states=[to_api_state(st) for _, st in sorted(spec.states.items())],
            sensors=[_sensor_info(rid, s) for s in spec.sensors.values()],
            readings=readings, child_ids=child_ids,
            children=[self._render(c, depth - 1) for c in child_ids] if depth > 0 else [],
        )  # fmt: skip

    def provision(self, rid: str, state_id: int) -> api.StateView:
        with self._lock:
            self.tree.provision(rid, state_id)
            return api.StateView(
                resource=rid, committed=False, state=to_api_state(self.tree.state(rid, False))
            )

    def commit(self, rid: str, now: float) -> api.ChangeResult:
        with self._lock:
            return api.ChangeResult(resource=rid, changed=self.tree.commit(rid, now, self.applier))

    def rollback(self, rid: str) -> api.ChangeResult:
        with self._lock:
            return api.ChangeResult(resource=rid, changed=self.tree.rollback(rid))

    def release(self, rid: str, now: float) -> api.ChangeResult:
        with self._lock:
            return api.ChangeResult(resource=rid, changed=self.tree.release(rid, now, self.applier))

    def monitor_state(self, rid: str, committed: bool) -> api.StateView:
        with self._lock:
            st = self.tree.state(rid, committed)
            return api.StateView(resource=rid, committed=committed, state=to_api_state(st))

    def state_history(self, rid: str) -> api.StateHistory:
        with self._lock:
            hist = self.tree.state_history(rid)
        return api.StateHistory(
            resource=rid,
            history=[
                api.StateHistoryEntry(timestamp=h.timestamp, state_id=h.state_id) for h in hist
            ],
        )

    def monitor_sensor(self, rid: str, name: str) -> api.SensorReading | None:
        with self._lock:
            spec = self.tree.sensor_spec(rid, name)
            r = self.tree.sensor(rid, name)
        return None if r is None else _reading(f"{rid}.{name}", spec, r)

    def sensor_history(self, rid: str, name: str) -> api.SensorHistory:
        with self._lock:
            spec = self.tree.sensor_spec(rid, name)
            hist = self.tree.sensor_history(rid, name)
        return api.SensorHistory(
            sensor=f"{rid}.{name}", readings=[_reading(f"{rid}.{name}", spec, r) for r in hist]
        )

    def all_readings(self) -> list[tuple[str, str, api.SensorReading]]:
        """(resource type, resource id, latest reading) of every sensor: for /metrics."""
        out: list[tuple[str, str, api.SensorReading]] = []
        with self._lock:
            for rid in self.tree.ids():
                res = self.tree.get(rid)
                for name, spec in res.spec.sensors.items():
                    r = self.tree.sensor(rid, name)
                    if r is not None:
                        out.append((res.spec.type, rid, _reading(f"{rid}.{name}", spec, r)))
        return out

    def states(self) -> list[tuple[str, int, int]]:
        """(resource id, committed, provisioned) of every resource: for /metrics."""
        with self._lock:
            return [
                (rid, self.tree.get(rid).committed, self.tree.get(rid).provisioned)
                for rid in self.tree.ids()
            ]


def _try(fn: Callable[[], T]) -> T | None:
    """Run a probe that may legitimately fail (process gone, cgroup removed): None then."""
    try:
        return fn()
    except (OpenVolcanoError, OSError):
        return None


def _rate(old: int | None, cur: int | None, dt: float) -> float | None:
    return None if old is None or cur is None else max(0, cur - old) / dt


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def _hw_name(chip: str, sensor: str) -> str:
    return f"{_slug(chip)}_{_slug(sensor)}"


def to_api_state(st: EnergyAwareState) -> api.EnergyAwareState:
    return api.EnergyAwareState(
        id=st.id, name=st.name, kind=st.kind, power_gain_pct=round(st.power_gain_pct, 3),
        min_power_gain_pct=round(st.min_power_gain_pct, 3),
        max_packet_throughput_pps=st.max_packet_throughput_pps,
        max_bit_throughput_bps=st.max_bit_throughput_bps, wakeup_time_s=st.wakeup_time_s,
        sleeping_time_s=st.sleeping_time_s, setting=st.setting, gain_origin=st.gain_origin,
    )  # fmt: skip


def _sensor_info(rid: str, s: SensorSpec) -> api.SensorInfo:
    return api.SensorInfo(
        id=f"{rid}.{s.name}", name=s.name, description=s.description, type=s.type.name,
        type_code=int(s.type), scale=s.scale.name, scale_code=int(s.scale),
        precision=s.precision, refresh_rate_ms=s.refresh_rate_ms, unit=s.unit,
        max_value=s.max_value,
    )  # fmt: skip


def _reading(sid: str, spec: SensorSpec, r: SensorReading) -> api.SensorReading:
    return api.SensorReading(
        sensor=sid, status=r.status.name, raw=r.raw, value=r.value, unit=spec.unit,  # type: ignore[arg-type]
        origin=r.origin, timestamp=r.timestamp,
    )  # fmt: skip
