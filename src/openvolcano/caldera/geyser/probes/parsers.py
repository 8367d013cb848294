"""Pure parsers for the text Linux exposes in /proc, /sys and cgroup files.

Role: the bottom of geyser's probe stack (paper section V: "energy state, CPU,
memory, globally and per process"). Each function turns the *text* of one
kernel file into a small frozen dataclass or a dict; readers in
:mod:`.sources` fetch the text, :mod:`.sampler` turns two snapshots into rates.

Design: no I/O, no clock, no logging: every parser is a function of its input
string, so the unit tests feed fixture files captured from real machines (and
synthetic ones for hardware this machine lacks: RAPL, hwmon, cpufreq, cpuidle).

Invariants:

* Malformed input raises :class:`ProbeParseError` (an
  :class:`~openvolcano.common.errors.InvalidInput`) naming the file kind, never
  an ``IndexError``/``ValueError`` from deep inside.
* Units are those of the kernel file (jiffies, kB, microseconds...); each field
  name says its unit. Conversion happens in :mod:`.sampler`.
"""

from __future__ import annotations

from dataclasses import dataclass

from openvolcano.common.errors import InvalidInput

__all__ = [
    "CgroupCpuMax",
    "CpuTimes",
    "LoadAvg",
    "NetDevCounters",
    "PidStat",
    "Pressure",
    "ProbeParseError",
    "cpu_busy_fraction",
    "parse_cgroup_cpu_max",
    "parse_cgroup_v1_quota",
    "parse_flat_keyed",
    "parse_int_file",
    "parse_loadavg",
    "parse_meminfo",
    "parse_net_dev",
    "parse_pid_io",
    "parse_pid_stat",
    "parse_pid_status_kb",
    "parse_pressure",
    "parse_proc_stat",
]


class ProbeParseError(InvalidInput):
    """A kernel file did not have the expected format."""


def _int(kind: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ProbeParseError(f"{kind}: expected an integer, got {text!r}") from None


def _float(kind: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ProbeParseError(f"{kind}: expected a number, got {text!r}") from None


# --- CPU: /proc/stat -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CpuTimes:
    """One ``cpu``/``cpuN`` line of /proc/stat, in clock ticks (USER_HZ)."""

    user: int
    nice: int
    system: int
    idle: int
    iowait: int
    irq: int
    softirq: int
    steal: int

    @property
    def idle_ticks(self) -> int:
        return self.idle + self.iowait

    @property
    def total_ticks(self) -> int:
        return (
            self.user
            + self.nice
            + self.system
            + self.idle
            + self.iowait
            + self.irq
            + self.softirq
            + self.steal
        )


def parse_proc_stat(text: str) -> dict[str, CpuTimes]:
    """Map ``"cpu"`` (all cores) and ``"cpu0"``, ``"cpu1"``... to their tick counters."""
    out: dict[str, CpuTimes] = {}
    for line in text.splitlines():
        if not line.startswith("cpu"):
            continue
        parts = line.split()
        if len(parts) < 5:
            raise ProbeParseError(f"/proc/stat: short cpu line {line!r}")
        nums = [_int("/proc/stat", p) for p in parts[1:9]]
        nums += [0] * (8 - len(nums))
        out[parts[0]] = CpuTimes(*nums)
    if "cpu" not in out:
        raise ProbeParseError("/proc/stat: no aggregate 'cpu' line")
    return out


def cpu_busy_fraction(before: CpuTimes, after: CpuTimes) -> float:
    """Fraction (0..1) of the interval between two snapshots the CPU(s) were busy."""
    total = after.total_ticks - before.total_ticks
    if total <= 0:
        return 0.0
    idle = after.idle_ticks - before.idle_ticks
    return min(1.0, max(0.0, 1.0 - idle / total))


# --- load, memory, pressure -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadAvg:
    """/proc/loadavg: 1, 5 and 15 minute load averages and runnable/total tasks."""

    load1: float
    load5: float
    load15: float
    runnable: int
    tasks: int


def parse_loadavg(text: str) -> LoadAvg:
    parts = text.split()
    if len(parts) < 4 or "/" not in parts[3]:
        raise ProbeParseError(f"/proc/loadavg: unexpected content {text.strip()!r}")
    run, _, tasks = parts[3].partition("/")
    return LoadAvg(
        _float("/proc/loadavg", parts[0]),
        _float("/proc/loadavg", parts[1]),
        _float("/proc/loadavg", parts[2]),
        _int("/proc/loadavg", run),
        _int("/proc/loadavg", tasks),
    )


def parse_meminfo(text: str) -> dict[str, int]:
    """/proc/meminfo as ``{field: bytes}`` (the kernel writes kB = KiB)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        fields = rest.split()
        if not fields:
            raise ProbeParseError(f"/proc/meminfo: no value for {key!r}")
        value = _int("/proc/meminfo", fields[0])
        out[key.strip()] = value * 1024 if len(fields) > 1 and fields[1] == "kB" else value
    if "MemTotal" not in out:
        raise ProbeParseError("/proc/meminfo: no MemTotal")
    return out


@dataclass(frozen=True, slots=True)
class Pressure:
    """One PSI line (``some`` or ``full``): averages in percent, total stall in microseconds."""

    avg10: float
    avg60: float
    avg300: float
    total_us: int


def parse_pressure(text: str) -> dict[str, Pressure]:
    """/proc/pressure/{cpu,memory,io} or a cgroup's ``*.pressure``: ``{"some"|"full": ...}``."""
    out: dict[str, Pressure] = {}
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        fields: dict[str, str] = {}
        for item in parts[1:]:
            k, sep, v = item.partition("=")
            if not sep:
                raise ProbeParseError(f"pressure: bad field {item!r}")
            fields[k] = v
        try:
            out[parts[0]] = Pressure(
                _float("pressure", fields["avg10"]),
                _float("pressure", fields["avg60"]),
                _float("pressure", fields["avg300"]),
                _int("pressure", fields["total"]),
            )
        except KeyError as exc:
            raise ProbeParseError(f"pressure: missing field {exc.args[0]!r}") from None
    if "some" not in out:
        raise ProbeParseError("pressure: no 'some' line")
    return out


# --- processes ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PidStat:
    """The fields of /proc/<pid>/stat geyser uses (times in clock ticks, rss in pages)."""

    pid: int
    comm: str
    state: str
    utime: int
    stime: int
    num_threads: int
    starttime: int
    vsize_bytes: int
    rss_pages: int

    @property
    def cpu_ticks(self) -> int:
        return self.utime + self.stime


def parse_pid_stat(text: str) -> PidStat:
    """/proc/<pid>/stat. ``comm`` may contain spaces and parentheses: split at the last ')'."""
    open_at = text.find("(")
    close_at = text.rfind(")")
    if open_at < 0 or close_at < open_at:
        raise ProbeParseError(f"/proc/<pid>/stat: no (comm) in {text[:60]!r}")
    rest = text[close_at + 1 :].split()
    if len(rest) < 22:
        raise ProbeParseError("/proc/<pid>/stat: too few fields")
    # rest[0] is field 3 (state); field n is rest[n - 3].
    return PidStat(
        pid=_int("/proc/<pid>/stat", text[:open_at].strip()),
        comm=text[open_at + 1 : close_at],
        state=rest[0],
        utime=_int("/proc/<pid>/stat", rest[11]),
        stime=_int("/proc/<pid>/stat", rest[12]),
        num_threads=_int("/proc/<pid>/stat", rest[17]),
        starttime=_int("/proc/<pid>/stat", rest[19]),
        vsize_bytes=_int("/proc/<pid>/stat", rest[20]),
        rss_pages=_int("/proc/<pid>/stat", rest[21]),
    )


def parse_pid_status_kb(text: str, field: str) -> int | None:
    """One ``kB`` field (e.g. ``VmRSS``) of /proc/<pid>/status, in bytes; None if absent."""
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if sep and key == field:
            parts = rest.split()
            if not parts:
                raise ProbeParseError(f"/proc/<pid>/status: empty {field}")
            return _int("/proc/<pid>/status", parts[0]) * 1024
    return None


def parse_flat_keyed(text: str, kind: str) -> dict[str, int]:
    """``key value`` or ``key: value`` lines (cgroup cpu.stat, /proc/<pid>/io) as ints."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.replace(":", " ").split()
        if not parts:
            continue
        if len(parts) != 2:
            raise ProbeParseError(f"{kind}: unexpected line {line!r}")
        out[parts[0]] = _int(kind, parts[1])
    return out


def parse_pid_io(text: str) -> dict[str, int]:
    """/proc/<pid>/io: rchar, wchar, read_bytes, write_bytes... (bytes and syscall counts)."""
    out = parse_flat_keyed(text, "/proc/<pid>/io")
    if "read_bytes" not in out or "write_bytes" not in out:
        raise ProbeParseError("/proc/<pid>/io: read_bytes/write_bytes missing")
    return out


# --- network --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NetDevCounters:
    """One interface of /proc/net/dev."""

    rx_bytes: int
    rx_packets: int
    rx_errors: int
    rx_dropped: int
    tx_bytes: int
    tx_packets: int
    tx_errors: int
    tx_dropped: int


def parse_net_dev(text: str) -> dict[str, NetDevCounters]:
    out: dict[str, NetDevCounters] = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if not sep or "|" in line:
            continue
        f = [_int("/proc/net/dev", x) for x in rest.split()]
        if len(f) < 16:
            raise ProbeParseError(f"/proc/net/dev: short line for {name.strip()!r}")
        out[name.strip()] = NetDevCounters(f[0], f[1], f[2], f[3], f[8], f[9], f[10], f[11])
    return out


# --- single values, cgroup limits -----------------------------------------------------


def parse_int_file(text: str, kind: str) -> int:
    """A sysfs/cgroup file holding one integer (energy_uj, memory.current, usage...)."""
    return _int(kind, text.strip())


@dataclass(frozen=True, slots=True)
class CgroupCpuMax:
    """cgroup v2 ``cpu.max``: quota (None = "max", unlimited) and period, in microseconds."""

    quota_us: int | None
    period_us: int

    @property
    def cpus(self) -> float | None:
        """The limit as a number of CPUs (0.2 = 20 % of one core); None when unlimited."""
        return None if self.quota_us is None else self.quota_us / self.period_us


def parse_cgroup_cpu_max(text: str) -> CgroupCpuMax:
    parts = text.split()
    if len(parts) != 2:
        raise ProbeParseError(f"cpu.max: expected '<quota|max> <period>', got {text.strip()!r}")
    quota = None if parts[0] == "max" else _int("cpu.max", parts[0])
    return CgroupCpuMax(quota, _int("cpu.max", parts[1]))


def parse_cgroup_v1_quota(quota_text: str, period_text: str) -> CgroupCpuMax:
    """cgroup v1 ``cpu.cfs_quota_us`` (-1 = unlimited) and ``cpu.cfs_period_us``."""
    quota = _int("cpu.cfs_quota_us", quota_text.strip())
    return CgroupCpuMax(
        None if quota < 0 else quota, _int("cpu.cfs_period_us", period_text.strip())
    )
