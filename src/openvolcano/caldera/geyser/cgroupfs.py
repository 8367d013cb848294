"""cgroup access for geyser: the per-virtual-image CPU quota, usage and freezer.

Role: virtual images (paper section V, "each virtual image") run in their own
cgroup; geyser reads their CPU/memory usage (a probe) and commits CPU-quota and
standby Energy-Aware States into them (an actuator). Both go through the small
:class:`CgroupFs` interface defined here.

Design: two real implementations over plain files, so they are testable in a
temporary directory and on any mount point:

* :class:`CgroupV2` - the unified hierarchy: ``cpu.max``, ``cpu.stat``
  (``usage_usec``), ``memory.current``, ``cgroup.freeze`` (freezing is complete
  once ``cgroup.events`` says ``frozen 1``).
* :class:`CgroupV1` - the legacy per-controller hierarchies (``cpu/``,
  ``cpuacct/``, ``memory/``, ``freezer/`` under one root): ``cpu.cfs_quota_us``,
  ``cpuacct.usage`` (ns), ``memory.usage_in_bytes``, ``freezer.state``
  (``FREEZING`` until every task has stopped, then ``FROZEN``). Hosts in
  "hybrid" mode (cpu bound to v1, like our CI machines) need this one.

:func:`detect_cgroup` picks the one whose ``cpu`` controller is usable (CPU
quotas); :func:`detect_freezer` the one that can freeze a cgroup (emulated
server standby), which needs no cpu controller.
Cgroup paths are *relative* to the hierarchy root (``"openvolcano/vi-alice"``);
an absolute or ``..`` path is refused, so a REST client can never make geyser
write outside the cgroup tree.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Literal, Protocol

from openvolcano.caldera.geyser.probes.parsers import (
    CgroupCpuMax,
    parse_cgroup_cpu_max,
    parse_cgroup_v1_quota,
    parse_flat_keyed,
    parse_int_file,
)
from openvolcano.common.errors import InvalidInput, NotFound

__all__ = [
    "CgroupFs",
    "CgroupV1",
    "CgroupV2",
    "FreezeState",
    "detect_cgroup",
    "detect_freezer",
    "safe_relpath",
]

DEFAULT_PERIOD_US = 100_000

FreezeState = Literal["thawed", "freezing", "frozen"]


def safe_relpath(rel: str) -> PurePosixPath:
    """Validate a cgroup path relative to the hierarchy root."""
    p = PurePosixPath(rel)
    if not rel or p.is_absolute() or ".." in p.parts:
        raise InvalidInput(f"cgroup path {rel!r} must be relative and must not contain '..'")
    return p


class CgroupFs(Protocol):
    """What geyser needs from one cgroup hierarchy."""

    version: int

    def exists(self, rel: str) -> bool: ...
    def usage_usec(self, rel: str) -> int: ...
    def memory_bytes(self, rel: str) -> int | None: ...
    def cpu_max(self, rel: str) -> CgroupCpuMax: ...
    def set_cpu_max(self, rel: str, cpus: float | None) -> None: ...
    def frozen(self, rel: str) -> bool: ...
    def freeze_state(self, rel: str) -> FreezeState: ...
    def set_frozen(self, rel: str, frozen: bool) -> None: ...
    def pids(self, rel: str) -> list[int]: ...


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise NotFound(f"cgroup file {str(path)!r} not found") from None


def _write(path: Path, text: str) -> None:
    if not path.exists():
        raise NotFound(f"cgroup file {str(path)!r} not found")
    path.write_text(text)


def _quota(cpus: float | None) -> int | None:
    if cpus is None:
        return None
    if not 0.01 <= cpus <= 1024:
        raise InvalidInput(f"CPU quota {cpus} CPUs is out of range (0.01..1024)")
    return round(cpus * DEFAULT_PERIOD_US)


class CgroupV2:
    """The unified (v2) hierarchy rooted at ``root`` (usually /sys/fs/cgroup)."""

    version = 2

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, rel: str) -> Path:
        return self.root / safe_relpath(rel)

    def exists(self, rel: str) -> bool:
        return self._dir(rel).is_dir()

    def usage_usec(self, rel: str) -> int:
        stat = parse_flat_keyed(_read(self._dir(rel) / "cpu.stat"), "cpu.stat")
        return stat.get("usage_usec", 0)

    def memory_bytes(self, rel: str) -> int | None:
        f = self._dir(rel) / "memory.current"
        return parse_int_file(f.read_text(), "memory.current") if f.exists() else None

    def cpu_max(self, rel: str) -> CgroupCpuMax:
        return parse_cgroup_cpu_max(_read(self._dir(rel) / "cpu.max"))

    def set_cpu_max(self, rel: str, cpus: float | None) -> None:
        q = _quota(cpus)
        _write(self._dir(rel) / "cpu.max", f"{'max' if q is None else q} {DEFAULT_PERIOD_US}\n")

    def frozen(self, rel: str) -> bool:
        return _read(self._dir(rel) / "cgroup.freeze").strip() == "1"

    def freeze_state(self, rel: str) -> FreezeState:
        if not self.frozen(rel):
            return "thawed"
        events = parse_flat_keyed(_read(self._dir(rel) / "cgroup.events"), "cgroup.events")
        return "frozen" if events.get("frozen") == 1 else "freezing"

    def set_frozen(self, rel: str, frozen: bool) -> None:
        _write(self._dir(rel) / "cgroup.freeze", "1\n" if frozen else "0\n")

    def pids(self, rel: str) -> list[int]:
        return [int(x) for x in _read(self._dir(rel) / "cgroup.procs").split()]


class CgroupV1:
    """Legacy per-controller hierarchies: ``root/cpu``, ``root/cpuacct``, ``root/memory``..."""

    version = 1

    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, controller: str, rel: str) -> Path:
        return self.root / controller / safe_relpath(rel)

    def exists(self, rel: str) -> bool:
        return self._dir("cpu", rel).is_dir()

    def usage_usec(self, rel: str) -> int:
        ns = parse_int_file(_read(self._dir("cpuacct", rel) / "cpuacct.usage"), "cpuacct.usage")
        return ns // 1000

    def memory_bytes(self, rel: str) -> int | None:
        f = self._dir("memory", rel) / "memory.usage_in_bytes"
        return parse_int_file(f.read_text(), "memory.usage_in_bytes") if f.exists() else None

    def cpu_max(self, rel: str) -> CgroupCpuMax:
        d = self._dir("cpu", rel)
        return parse_cgroup_v1_quota(_read(d / "cpu.cfs_quota_us"), _read(d / "cpu.cfs_period_us"))

    def set_cpu_max(self, rel: str, cpus: float | None) -> None:
        q = _quota(cpus)
        d = self._dir("cpu", rel)
        _write(d / "cpu.cfs_period_us", f"{DEFAULT_PERIOD_US}\n")
        _write(d / "cpu.cfs_quota_us", f"{-1 if q is None else q}\n")

    def frozen(self, rel: str) -> bool:
        return _read(self._dir("freezer", rel) / "freezer.state").strip() != "THAWED"

    def freeze_state(self, rel: str) -> FreezeState:
        state = _read(self._dir("freezer", rel) / "freezer.state").strip()
        if state == "THAWED":
            return "thawed"
        return "frozen" if state == "FROZEN" else "freezing"

    def set_frozen(self, rel: str, frozen: bool) -> None:
        _write(self._dir("freezer", rel) / "freezer.state", "FROZEN\n" if frozen else "THAWED\n")

    def pids(self, rel: str) -> list[int]:
        return [int(x) for x in _read(self._dir("cpu", rel) / "cgroup.procs").split()]


def detect_cgroup(root: Path = Path("/sys/fs/cgroup")) -> CgroupFs | None:
    """The hierarchy whose cpu controller geyser can use, or None (no cgroup control here)."""
    controllers = root / "cgroup.controllers"
    if controllers.exists() and "cpu" in controllers.read_text().split():
        return CgroupV2(root)
    if (root / "cpu" / "cpu.cfs_quota_us").exists():
        return CgroupV1(root)
    return None


def detect_freezer(root: Path = Path("/sys/fs/cgroup")) -> CgroupFs | None:
    """The hierarchy that can freeze a cgroup, or None.

    Pure v2 (``root/cgroup.controllers``; ``cgroup.freeze`` is a core file, no
    controller needed), else the v1 ``freezer`` hierarchy, else the v2 tree a
    hybrid host mounts at ``root/unified``.
    """
    if (root / "cgroup.controllers").exists():
        return CgroupV2(root)
    if (root / "freezer" / "cgroup.procs").exists():
        return CgroupV1(root)
    if (root / "unified" / "cgroup.controllers").exists():
        return CgroupV2(root / "unified")
    return None
