"""Thin readers: fetch kernel text from a filesystem root and hand it to the parsers.

Role: the only place geyser's probes touch /proc and /sys. :class:`HostReader`
is rooted at a directory (``/`` on a real server, a fixture tree in tests), so
the same code reads this machine and a captured or synthetic one.

Design: one method per source; every power/energy source Linux offers is read
*where present* (cpuidle, cpufreq, powercap/RAPL, hwmon) and an absent source
gives an empty result, never an error. A watched process that exits between
listing and reading is simply missing from the snapshot.

Invariants: readers never compute rates or hold state (see :mod:`.sampler`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from openvolcano.caldera.geyser.probes.parsers import (
    CpuTimes,
    LoadAvg,
    NetDevCounters,
    PidStat,
    Pressure,
    ProbeParseError,
    parse_int_file,
    parse_loadavg,
    parse_meminfo,
    parse_net_dev,
    parse_pid_io,
    parse_pid_stat,
    parse_pressure,
    parse_proc_stat,
)

__all__ = [
    "CpuFreq",
    "HostReader",
    "HwmonReading",
    "IdleState",
    "ProcSample",
    "RaplZone",
]


@dataclass(frozen=True, slots=True)
class IdleState:
    """One cpuidle state of one CPU: exit latency, target residency, entries, time in it."""

    name: str
    latency_us: int
    residency_us: int
    usage: int
    time_us: int


@dataclass(frozen=True, slots=True)
class CpuFreq:
    """cpufreq of one CPU (kHz) and its governor."""

    cur_khz: int
    min_khz: int
    max_khz: int
    governor: str
    governors: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RaplZone:
    """A powercap zone (intel-rapl:0 package, :0:0 core...): a wrapping energy counter."""

    zone: str
    name: str
    energy_uj: int
    max_energy_range_uj: int


@dataclass(frozen=True, slots=True)
class HwmonReading:
    """One hwmon input: ``power`` in microwatts, ``temp`` in millidegrees Celsius."""

    chip: str
    sensor: str
    label: str
    kind: str
    raw: int


@dataclass(frozen=True, slots=True)
class ProcSample:
    """A watched process at one instant: CPU ticks, RSS bytes, IO bytes (None if unreadable)."""

    stat: PidStat
    rss_bytes: int
    read_bytes: int | None
    write_bytes: int | None


@dataclass
class HostReader:
    """Read /proc and /sys below ``root`` (``Path("/")`` on a real host)."""

    root: Path = Path("/")
    page_size: int = 4096

    def _text(self, rel: str) -> str | None:
        try:
            return (self.root / rel).read_text()
        except (FileNotFoundError, NotADirectoryError, PermissionError, ProcessLookupError):
            return None
        except OSError:
            return None

    def cpu(self) -> dict[str, CpuTimes]:
        text = self._text("proc/stat")
        if text is None:
            raise ProbeParseError(f"{self.root / 'proc/stat'} is missing")
        return parse_proc_stat(text)

    def loadavg(self) -> LoadAvg | None:
        text = self._text("proc/loadavg")
        return None if text is None else parse_loadavg(text)

    def meminfo(self) -> dict[str, int]:
        text = self._text("proc/meminfo")
        return {} if text is None else parse_meminfo(text)

    def pressure(self) -> dict[str, dict[str, Pressure]]:
        out: dict[str, dict[str, Pressure]] = {}
        for res in ("cpu", "memory", "io"):
            text = self._text(f"proc/pressure/{res}")
            if text:
                out[res] = parse_pressure(text)
        return out

    def net(self) -> dict[str, NetDevCounters]:
        text = self._text("proc/net/dev")
        return {} if text is None else parse_net_dev(text)

    def process(self, pid: int) -> ProcSample | None:
        stat_text = self._text(f"proc/{pid}/stat")
        if stat_text is None:
            return None
        stat = parse_pid_stat(stat_text)
        io_text = self._text(f"proc/{pid}/io")
        io = parse_pid_io(io_text) if io_text else None
        return ProcSample(
            stat=stat,
            rss_bytes=stat.rss_pages * self.page_size,
            read_bytes=None if io is None else io["read_bytes"],
            write_bytes=None if io is None else io["write_bytes"],
        )

    def _cpu_dirs(self) -> list[Path]:
        base = self.root / "sys/devices/system/cpu"
        if not base.is_dir():
            return []
        return sorted(
            (p for p in base.iterdir() if re.fullmatch(r"cpu\d+", p.name)),
            key=lambda p: int(p.name[3:]),
        )

    def cpuidle(self) -> dict[str, list[IdleState]]:
        out: dict[str, list[IdleState]] = {}
        for cpu in self._cpu_dirs():
            states = sorted((cpu / "cpuidle").glob("state*"), key=lambda p: int(p.name[5:]))
            got: list[IdleState] = []
            for s in states:
                vals = {
                    k: self._text(str((s / k).relative_to(self.root)))
                    for k in ("name", "latency", "residency", "usage", "time")
                }
                if any(v is None for v in vals.values()):
                    continue
                got.append(
                    IdleState(
                        name=str(vals["name"]).strip(),
                        latency_us=parse_int_file(str(vals["latency"]), "cpuidle latency"),
                        residency_us=parse_int_file(str(vals["residency"]), "cpuidle residency"),
                        usage=parse_int_file(str(vals["usage"]), "cpuidle usage"),
                        time_us=parse_int_file(str(vals["time"]), "cpuidle time"),
                    )
                )
            if got:
                out[cpu.name] = got
        return out

    def cpufreq(self) -> dict[str, CpuFreq]:
        out: dict[str, CpuFreq] = {}
        for cpu in self._cpu_dirs():
            rel = str((cpu / "cpufreq").relative_to(self.root))
            cur = self._text(f"{rel}/scaling_cur_freq")
            gov = self._text(f"{rel}/scaling_governor")
            if cur is None or gov is None:
                continue
            out[cpu.name] = CpuFreq(
                cur_khz=parse_int_file(cur, "scaling_cur_freq"),
                min_khz=parse_int_file(self._text(f"{rel}/cpuinfo_min_freq") or "0", "min_freq"),
                max_khz=parse_int_file(self._text(f"{rel}/cpuinfo_max_freq") or "0", "max_freq"),
                governor=gov.strip(),
                governors=tuple((self._text(f"{rel}/scaling_available_governors") or "").split()),
            )
        return out

    def rapl(self) -> list[RaplZone]:
        base = self.root / "sys/class/powercap"
        if not base.is_dir():
            return []
        out: list[RaplZone] = []
        for z in sorted(base.iterdir()):
            rel = f"sys/class/powercap/{z.name}"
            energy = self._text(f"{rel}/energy_uj")
            if energy is None:
                continue
            out.append(
                RaplZone(
                    zone=z.name,
                    name=(self._text(f"{rel}/name") or z.name).strip(),
                    energy_uj=parse_int_file(energy, "energy_uj"),
                    max_energy_range_uj=parse_int_file(
                        self._text(f"{rel}/max_energy_range_uj") or "0", "max_energy_range_uj"
                    ),
                )
            )
        return out

    def hwmon(self) -> list[HwmonReading]:
        base = self.root / "sys/class/hwmon"
        if not base.is_dir():
            return []
        out: list[HwmonReading] = []
        for chip in sorted(base.iterdir()):
            rel = f"sys/class/hwmon/{chip.name}"
            chip_name = (self._text(f"{rel}/name") or chip.name).strip()
            for f in sorted(chip.glob("*_input")):
                m = re.fullmatch(r"(power|temp)(\d+)_input", f.name)
                text = self._text(f"{rel}/{f.name}")
                if m is None or text is None:
                    continue
                sensor = f"{m.group(1)}{m.group(2)}"
                label = (self._text(f"{rel}/{sensor}_label") or sensor).strip()
                out.append(
                    HwmonReading(chip_name, sensor, label, m.group(1), parse_int_file(text, f.name))
                )
        return out
