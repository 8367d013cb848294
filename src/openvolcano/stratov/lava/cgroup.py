"""Control groups for netns virtual images: CPU and memory limits, usage counters.

Role: the netns back-end of lava runs each virtual image as a process tree;
this module puts that tree in its own cgroup so that the image gets the CPU
share and memory its :class:`~openvolcano.api.lava.ImageSpec` asks for, and so
that lava can read its CPU time and memory and find every process it owns.

Design: two small implementations behind one interface, picked by
:func:`open_cgroups` from ``/proc/mounts``:

* cgroup v2 (unified hierarchy with the ``cpu`` and ``memory`` controllers):
  ``cpu.max``, ``memory.max``, ``cpu.stat``, ``memory.current``;
* cgroup v1 (``cpu``, ``cpuacct`` and ``memory`` hierarchies, as on hosts and
  containers that still mount them): ``cpu.cfs_quota_us``,
  ``memory.limit_in_bytes``, ``cpuacct.usage``, ``memory.usage_in_bytes``.

Groups are created *below the cgroup lava itself runs in* (read from
``/proc/self/cgroup``), in a directory ``openvolcano-lava``, so a container's
own limits keep applying. If no usable hierarchy is writable, limits are
reported as unavailable (``CgroupSet.limits_enforced`` is False) rather than
silently ignored.

Invariants: a group is removed only by the :class:`ImageCgroup` that created
it, after its processes are gone; names are validated image names.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CgroupSet", "ImageCgroup", "open_cgroups"]

_PARENT = "openvolcano-lava"
_CFS_PERIOD_US = 100_000


def _own_path(controller: str) -> str:
    """This process's cgroup path in the hierarchy of ``controller`` ("" = v2)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if (ctrls.split(",") == [""] and controller == "") or controller in ctrls.split(","):
            return path.lstrip("/")
    return ""


def _mounts() -> list[tuple[str, str, list[str]]]:
    out = []
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] in ("cgroup", "cgroup2"):
            out.append((fields[2], fields[1], fields[3].split(",")))
    return out


@dataclass(frozen=True)
class ImageCgroup:
    """The cgroup directories (one per hierarchy) of one image."""

    version: int
    dirs: dict[str, Path]  # "cpu", "cpuacct", "memory" (v1) or "unified" (v2) -> directory

    def procs_files(self) -> list[Path]:
        """Every ``cgroup.procs`` a new process must be written to (one per hierarchy)."""
        return sorted({d / "cgroup.procs" for d in self.dirs.values()})

    def pids(self) -> list[int]:
        """Processes currently in the group."""
        pids: set[int] = set()
        for f in self.procs_files():
            with contextlib.suppress(OSError):
                pids.update(int(x) for x in f.read_text().split())
        return sorted(pids)

    def set_limits(self, cpu_cores: float, memory_bytes: int) -> None:
        """Apply a CPU bandwidth limit (cores) and a hard memory limit (bytes)."""
        quota = max(1000, int(cpu_cores * _CFS_PERIOD_US))
        if self.version == 2:
            d = self.dirs["unified"]
            (d / "cpu.max").write_text(f"{quota} {_CFS_PERIOD_US}")
            (d / "memory.max").write_text(str(memory_bytes))
        else:
            (self.dirs["cpu"] / "cpu.cfs_period_us").write_text(str(_CFS_PERIOD_US))
            (self.dirs["cpu"] / "cpu.cfs_quota_us").write_text(str(quota))
            (self.dirs["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))

    def limits(self) -> tuple[float, int]:
        """The limits in force: (CPU cores, memory bytes)."""
        if self.version == 2:
            d = self.dirs["unified"]
            quota, period = (d / "cpu.max").read_text().split()
            return int(quota) / int(period), int((d / "memory.max").read_text())
        quota_us = int((self.dirs["cpu"] / "cpu.cfs_quota_us").read_text())
        period_us = int((self.dirs["cpu"] / "cpu.cfs_period_us").read_text())
        mem = int((self.dirs["memory"] / "memory.limit_in_bytes").read_text())
        return quota_us / period_us, mem

    def cpu_seconds(self) -> float:
        """CPU time used by every process that ever ran in the group."""
        if self.version == 2:
            for line in (self.dirs["unified"] / "cpu.stat").read_text().splitlines():
                key, value = line.split()
                if key == "usage_usec":
                    return int(value) / 1e6
            return 0.0
        return int((self.dirs["cpuacct"] / "cpuacct.usage").read_text()) / 1e9

    def memory_bytes(self) -> int:
        """Memory currently charged to the group."""
        if self.version == 2:
            return int((self.dirs["unified"] / "memory.current").read_text())
        return int((self.dirs["memory"] / "memory.usage_in_bytes").read_text())

    def remove(self) -> None:
        """Remove the (empty) group directories; missing ones are ignored."""
        for d in self.dirs.values():
            with contextlib.suppress(FileNotFoundError):
                d.rmdir()


@dataclass(frozen=True)
class CgroupSet:
    """Where image cgroups are created on this machine."""

    version: int
    bases: dict[str, Path]  # hierarchy key -> the ``openvolcano-lava`` directory

    @property
    def limits_enforced(self) -> bool:
        return bool(self.bases)

    def create(self, name: str) -> ImageCgroup:
        """Create (or reuse, after a crash) the group of image ``name``."""
        dirs = {}
        for key, base in self.bases.items():
            d = base / name
            d.mkdir(exist_ok=True)
            dirs[key] = d
        return ImageCgroup(self.version, dirs)


def _v2_base(mount: str) -> dict[str, Path]:
    root = Path(mount)
    ctrls = (root / "cgroup.controllers").read_text().split()
    if not {"cpu", "memory"} <= set(ctrls):
        return {}
    own = root / _own_path("")
    base = own / _PARENT
    base.mkdir(exist_ok=True)
    for d in (own, base):
        with contextlib.suppress(OSError):
            (d / "cgroup.subtree_control").write_text("+cpu +memory")
    if {"cpu", "memory"} <= set((base / "cgroup.subtree_control").read_text().split()):
        return {"unified": base}
    return {}


def open_cgroups() -> CgroupSet:
    """Find a writable cgroup hierarchy with CPU and memory control (v2 first, then v1)."""
    if os.geteuid() != 0:
        return CgroupSet(2, {})
    mounts = _mounts()
    for kind, mount, _opts in mounts:
        if kind == "cgroup2" and Path(mount, "cgroup.controllers").exists():
            with contextlib.suppress(OSError):
                bases = _v2_base(mount)
                if bases:
                    return CgroupSet(2, bases)
    v1: dict[str, Path] = {}
    for kind, mount, opts in mounts:
        if kind != "cgroup":
            continue
        for ctrl in ("cpu", "cpuacct", "memory"):
            if ctrl in opts and ctrl not in v1:
                base = Path(mount) / _own_path(ctrl) / _PARENT
                with contextlib.suppress(OSError):
                    base.mkdir(exist_ok=True)
                    v1[ctrl] = base
    if {"cpu", "cpuacct", "memory"} <= set(v1):
        return CgroupSet(1, v1)
    return CgroupSet(1, {})
