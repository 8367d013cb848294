"""Builders of geyser's resource tree: which EASs and sensors each resource kind has.

Role: turns what geyser found on the server (cores, NICs, cpufreq, quake,
virtual images, watched processes) plus the configured power model into GAL
:class:`~openvolcano.caldera.geyser.gal.model.ResourceSpec` values.

Design: pure functions. Power gains here are *modelled* from the per-server
power model (``idle_w``, ``max_w``, ``standby_w``): the machines we run on
report no power, so every gain carries ``gain_origin="modelled"``.

EAS table (ids are stable per resource kind):

========================  ==  ==========  =========================================
resource                  id  kind        meaning
========================  ==  ==========  =========================================
``0`` server              0   active      full power
``0`` server              1   standby     suspend (+WoL) or emulated freeze+ports down
``0.cpuN``                0   autonomic   OS idle governor (C-states), no cpufreq
``0.cpuN`` with cpufreq   i   scaling     i-th available governor (performance first)
``0.quake``               i   scaling     ``max - i`` active workers (0 = all)
``0.vi-<id>``             0   active      no CPU quota
``0.vi-<id>``             i   scaling     quota ``quotas[i-1]`` CPUs (cgroup cpu.max)
NICs, workers, processes  0   autonomic   observed only
========================  ==  ==========  =========================================
"""

from __future__ import annotations

from openvolcano.caldera.geyser.config import PowerModelConfig
from openvolcano.caldera.geyser.gal.model import (
    EnergyAwareState,
    ResourceSpec,
    SensorScale,
    SensorSpec,
    SensorType,
)

__all__ = [
    "autonomic",
    "cpu_resource",
    "nic_resource",
    "process_resource",
    "quake_resource",
    "server_resource",
    "vi_resource",
]


def _spec(
    name: str, desc: str, unit: str, refresh_ms: int, *, kind: str = "other",
    max_value: float | None = None,
) -> SensorSpec:  # fmt: skip
    table: dict[str, tuple[SensorType, SensorScale, int]] = {
        "percent": (SensorType.other, SensorScale.units, 2),
        "bytes": (SensorType.other, SensorScale.mega, 3),
        "rate": (SensorType.other, SensorScale.kilo, 2),
        "watts": (SensorType.watts, SensorScale.milli, 0),
        "hertz": (SensorType.hertz, SensorScale.mega, 3),
        "celsius": (SensorType.celsius, SensorScale.units, 1),
        "count": (SensorType.other, SensorScale.units, 0),
        "ratio": (SensorType.other, SensorScale.units, 2),
        "truth": (SensorType.truthvalue, SensorScale.units, 0),
        "cpus": (SensorType.other, SensorScale.units, 3),
    }
    t, s, p = table[kind]
    return SensorSpec(name, desc, t, s, p, refresh_ms, unit, max_value)


def autonomic(desc: str = "observed only; the kernel manages it") -> dict[int, EnergyAwareState]:
    return {0: EnergyAwareState(0, desc, "autonomic", 0.0, 0.0, 0.0, 0.0)}


def _dynamic_share(pm: PowerModelConfig) -> float:
    return max(0.0, (pm.max_w - pm.idle_w) / pm.max_w) if pm.max_w > 0 else 0.0


def server_resource(
    pm: PowerModelConfig, refresh_ms: int, ncpu: int, standby: str, hw_sensors: list[SensorSpec]
) -> ResourceSpec:
    """The server (``0``); ``standby`` is ``"none"``, ``"suspend"`` or ``"emulated"``."""
    states = {
        0: EnergyAwareState(
            0, "active: full power", "active", 0.0, 0.0,
            pm.max_packet_throughput_pps, pm.max_bit_throughput_bps,
        )
    }  # fmt: skip
    if standby != "none":
        gain = 100.0 * (1.0 - pm.standby_w / pm.max_w)
        label = "suspend-to-RAM, woken by Wake-on-LAN" if standby == "suspend" else (
            "EMULATED standby: cgroup frozen and ports down (no real power saved)")  # fmt: skip
        states[1] = EnergyAwareState(
            1, label, "standby", gain, gain, 0.0, 0.0, pm.wakeup_s, pm.sleep_s, standby
        )
    sensors = [
        _spec("cpu_load", "CPU busy, all cores", "%", refresh_ms, kind="percent", max_value=100),
        _spec("load1", "1-minute load average", "tasks", refresh_ms, kind="ratio"),
        _spec("mem_used", "memory in use (total - available)", "B", refresh_ms, kind="bytes"),
        _spec("mem_total", "memory installed", "B", refresh_ms, kind="bytes"),
        _spec("psi_cpu", "CPU pressure, some avg10", "%", refresh_ms, kind="percent"),
        _spec("psi_memory", "memory pressure, some avg10", "%", refresh_ms, kind="percent"),
        _spec("psi_io", "IO pressure, some avg10", "%", refresh_ms, kind="percent"),
        _spec("power", f"server power ({pm.model})", "W", refresh_ms, kind="watts",
              max_value=pm.max_w),
        *hw_sensors,
    ]  # fmt: skip
    return ResourceSpec(
        id="0", description=f"server ({pm.model}, {ncpu} CPUs)", type="server",
        states=states, default_state=0, sensors={s.name: s for s in sensors},
    )  # fmt: skip


def cpu_resource(
    name: str, refresh_ms: int, governors: tuple[str, ...], idle_states: list[str],
    pm: PowerModelConfig, ncpu: int,
) -> ResourceSpec:  # fmt: skip
    if governors:
        order = sorted(governors, key=lambda g: (g != "performance", g == "powersave", g))
        per_core = 100.0 * _dynamic_share(pm) / max(1, ncpu)
        states = {
            i: EnergyAwareState(
                i, f"cpufreq governor {g}", "active" if i == 0 else "scaling",
                0.0 if i == 0 else per_core * i / len(order), 0.0, 0.0, 0.0, setting=g,
            )
            for i, g in enumerate(order)
        }  # fmt: skip
    else:
        states = autonomic("OS idle governor (C-states); no cpufreq on this machine")
    sensors = [_spec("load", f"{name} busy", "%", refresh_ms, kind="percent", max_value=100)]
    if governors:
        sensors.append(_spec("freq", f"{name} current frequency", "Hz", refresh_ms, kind="hertz"))
    sensors += [
        _spec(f"idle_{s}", f"time in idle state {s}", "%", refresh_ms, kind="percent")
        for s in idle_states
    ]
    return ResourceSpec(
        id=f"0.{name}", description=f"CPU core {name[3:]}", type="cpu", states=states,
        default_state=0, sensors={s.name: s for s in sensors}, physical=name,
    )  # fmt: skip


def nic_resource(name: str, refresh_ms: int) -> ResourceSpec:
    sensors = [
        _spec("rx_rate", "received", "B/s", refresh_ms, kind="rate"),
        _spec("tx_rate", "sent", "B/s", refresh_ms, kind="rate"),
        _spec("rx_pps", "packets received", "pkt/s", refresh_ms, kind="ratio"),
        _spec("tx_pps", "packets sent", "pkt/s", refresh_ms, kind="ratio"),
        _spec("errors", "rx+tx errors and drops (cumulative)", "pkt", refresh_ms, kind="count"),
    ]
    return ResourceSpec(
        id=f"0.{name}", description=f"network interface {name}", type="nic",
        states=autonomic("no rate adaptation exposed"), default_state=0,
        sensors={s.name: s for s in sensors}, physical=name,
    )  # fmt: skip


def _process_sensors(refresh_ms: int, ncpu: int) -> dict[str, SensorSpec]:
    sensors = [
        _spec("cpu", "CPU used (100 = one core)", "%", refresh_ms, kind="percent",
              max_value=100.0 * ncpu),
        _spec("mem", "resident memory", "B", refresh_ms, kind="bytes"),
        _spec("read_rate", "storage read", "B/s", refresh_ms, kind="rate"),
        _spec("write_rate", "storage write", "B/s", refresh_ms, kind="rate"),
    ]  # fmt: skip
    return {s.name: s for s in sensors}


def process_resource(rid: str, desc: str, pid: int, refresh_ms: int, ncpu: int) -> ResourceSpec:
    return ResourceSpec(
        id=rid, description=f"{desc} (pid {pid})", type="process", states=autonomic(),
        default_state=0, sensors=_process_sensors(refresh_ms, ncpu), physical=str(pid),
    )  # fmt: skip


def quake_resource(maximum: int, refresh_ms: int, pm: PowerModelConfig) -> ResourceSpec:
    """quake's worker pool: EAS i runs ``maximum - i`` workers (gain modelled per idle core)."""
    per_worker = 100.0 * _dynamic_share(pm) / max(1, maximum)
    states = {
        i: EnergyAwareState(
            i, f"{maximum - i} active worker(s)", "active" if i == 0 else "scaling",
            per_worker * i, 0.0,
            pm.max_packet_throughput_pps * (maximum - i) / maximum,
            pm.max_bit_throughput_bps * (maximum - i) / maximum, setting=maximum - i,
        )
        for i in range(maximum)
    }  # fmt: skip
    sensors = [_spec("active_workers", "active quake workers", "workers", refresh_ms, kind="count")]
    return ResourceSpec(
        id="0.quake", description="quake OpenFlow switch worker pool", type="quake",
        states=states, default_state=0, sensors={s.name: s for s in sensors},
    )  # fmt: skip


def vi_resource(
    vi_id: str, cgroup: str, quotas: list[float], refresh_ms: int, pm: PowerModelConfig,
    ncpu: int,
) -> ResourceSpec:  # fmt: skip
    """A virtual image in cgroup ``cgroup``: EAS 0 unlimited, EAS i quota ``quotas[i-1]`` CPUs."""
    share = 100.0 * _dynamic_share(pm)
    states = {0: EnergyAwareState(0, "no CPU quota", "active", 0.0, 0.0, 0.0, 0.0, setting=None)}
    for i, q in enumerate(quotas, start=1):
        gain = share * max(0.0, ncpu - q) / ncpu
        states[i] = EnergyAwareState(
            i, f"CPU quota {q:g} CPU(s) (cgroup cpu.max)", "scaling", gain, 0.0, 0.0, 0.0,
            setting=q,
        )  # fmt: skip
    sensors = _process_sensors(refresh_ms, ncpu)
    del sensors["read_rate"], sensors["write_rate"]
    sensors["quota"] = _spec("quota", "CPU quota in force (0 = none)", "CPUs", refresh_ms,
                             kind="cpus")  # fmt: skip
    return ResourceSpec(
        id=f"0.vi-{vi_id}", description=f"virtual image {vi_id} (cgroup {cgroup})",
        type="virtual-image", states=states, default_state=0, sensors=sensors, physical=cgroup,
    )  # fmt: skip
