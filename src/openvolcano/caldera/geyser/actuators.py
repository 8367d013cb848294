"""Actuators: how a committed Energy-Aware State reaches the machine.

Role: the hardware end of GAL in geyser (paper section V: crater "puts
servers and switch workers into low-power states"). Each actuator is a small
interface with a real implementation and a fake shipped here:

* :class:`QuakeWorkers` - number of active quake workers, through quake's
  management API (``GET /workers`` -> ``{"active": N, "max": M, "pids": [...],
  "exited": {...}}``,
  ``PUT /workers`` with ``{"active": N}``): :class:`HttpQuakeWorkers`,
  :class:`FakeQuakeWorkers`.
* CPU quota per virtual image: a :class:`~openvolcano.caldera.geyser.cgroupfs.CgroupFs`
  (``cpu.max`` on v2, ``cpu.cfs_quota_us`` on v1); :class:`FakeCgroupFs`.
* :class:`Governor` - cpufreq governor, where cpufreq exists: :class:`SysfsGovernor`.
* :class:`Standby` - server standby/wake. :class:`SuspendStandby` on real
  hardware (``/sys/power/state`` = ``mem``; waking is a Wake-on-LAN magic
  packet sent by a peer, see :func:`wol_magic_packet`). :class:`EmulatedStandby`
  in the emulated network: freezes the server's cgroup (``cgroup.freeze`` /
  ``freezer.state``) and marks its ports down - an *emulation*, labelled so in
  every EAS it backs. :class:`FakeStandby` for tests.

:class:`GeyserApplier` routes an EAS to the right actuator by resource type;
it is the :class:`~openvolcano.caldera.geyser.gal.tree.Applier` the GAL tree uses.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from openvolcano.caldera.geyser.cgroupfs import CgroupFs, FreezeState, safe_relpath
from openvolcano.caldera.geyser.gal.model import EnergyAwareState, ResourceSpec
from openvolcano.caldera.geyser.probes.parsers import CgroupCpuMax
from openvolcano.common.errors import InvalidInput, NotFound, OpenVolcanoError, Unavailable

__all__ = [
    "EmulatedStandby",
    "FakeCgroupFs",
    "FakeGovernor",
    "FakeQuakeWorkers",
    "FakeStandby",
    "GeyserApplier",
    "Governor",
    "HttpQuakeWorkers",
    "QuakeStatus",
    "QuakeWorkers",
    "Standby",
    "SuspendStandby",
    "SysfsGovernor",
    "wol_magic_packet",
]


# --- quake workers ----------------------------------------------------------------------


@dataclass(frozen=True)
class QuakeStatus:
    """``GET /workers``: active and maximum workers, each live worker's pid when known, and
    the workers that died (worker id, exit status: negative = killed by that signal)."""

    active: int
    maximum: int
    pids: tuple[int, ...] = ()
    exited: tuple[tuple[int, int | None], ...] = ()


class QuakeWorkers(Protocol):
    """quake's management interface for its worker pool."""

    def status(self) -> QuakeStatus: ...

    def set_active(self, n: int) -> None: ...


class FakeQuakeWorkers:
    """In-memory quake worker pool with the same validation as the real API."""

    def __init__(self, maximum: int, active: int | None = None, pids: tuple[int, ...] = ()) -> None:
        self.maximum = maximum
        self.active = maximum if active is None else active
        self.pids = pids

    def status(self) -> QuakeStatus:
        return QuakeStatus(self.active, self.maximum, self.pids)

    def set_active(self, n: int) -> None:
        if not 1 <= n <= self.maximum:
            raise InvalidInput(f"active workers must be 1..{self.maximum}, got {n}")
        self.active = n


class HttpQuakeWorkers:
    """Client of quake's management API (``/workers``) over HTTP.

    Every failure is an :class:`~openvolcano.common.errors.OpenVolcanoError`
    naming the API: a refused value is :class:`InvalidInput`; no answer within
    ``timeout_s``, a refused connection, an error status or a malformed body
    are :class:`Unavailable`.
    """

    def __init__(
        self, base_url: str, transport: httpx.BaseTransport | None = None, timeout_s: float = 2.0
    ) -> None:
        self._client = httpx.Client(base_url=base_url, transport=transport, timeout=timeout_s)
        self.base_url = base_url
        self.timeout_s = timeout_s

    def _call(self, method: str, body: dict[str, object] | None = None) -> dict[str, object]:
        try:
            resp = self._client.request(method, "/workers", json=body)
        except httpx.TimeoutException:
            raise Unavailable(
                f"quake management API at {self.base_url} did not answer "
                f"{method} /workers within {self.timeout_s:g} s"
            ) from None
        except httpx.HTTPError as exc:
            raise Unavailable(
                f"quake management API at {self.base_url} unreachable: {exc}"
            ) from None
        return self._check(method, resp)

    def _check(self, method: str, resp: httpx.Response) -> dict[str, object]:
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 400:
            msg = str(body.get("message", resp.text)) if isinstance(body, dict) else resp.text
            if resp.status_code in (400, 422):
                raise InvalidInput(f"quake refused {method} /workers: {msg}")
            raise Unavailable(f"quake management API error {resp.status_code}: {msg}")
        if not isinstance(body, dict):
            raise Unavailable(
                f"quake management API returned a body that is not a JSON object "
                f"(HTTP {resp.status_code} to {method} /workers)"
            )
        return body

    def status(self) -> QuakeStatus:
        body = self._call("GET")
        active, maximum, pids = body.get("active"), body.get("max"), body.get("pids", [])
        if not isinstance(active, int) or not isinstance(maximum, int):
            raise Unavailable("quake GET /workers: 'active' and 'max' must be integers")
        if not isinstance(pids, list) or not all(isinstance(p, int) for p in pids):
            raise Unavailable("quake GET /workers: 'pids' must be a list of integers")
        exited = body.get("exited", {})
        if not isinstance(exited, dict) or not all(
            str(w).isdigit() and (code is None or isinstance(code, int))
            for w, code in exited.items()
        ):
            raise Unavailable("quake GET /workers: 'exited' must map worker ids to exit statuses")
        gone = tuple(sorted((int(w), code) for w, code in exited.items()))
        return QuakeStatus(active, maximum, tuple(pids), gone)

    def set_active(self, n: int) -> None:
        self._call("PUT", {"active": n})

    def close(self) -> None:
        self._client.close()


# --- cgroups ----------------------------------------------------------------------------


@dataclass
class FakeCgroupFs:
    """In-memory cgroups: ``groups[rel] = {"quota": cpus|None, "frozen": bool, "pids": [...]}``."""

    version: int = 2
    groups: dict[str, dict[str, object]] = field(default_factory=dict)

    def add(self, rel: str) -> None:
        self.groups[str(safe_relpath(rel))] = {"quota": None, "frozen": False, "pids": []}

    def _g(self, rel: str) -> dict[str, object]:
        try:
            return self.groups[str(safe_relpath(rel))]
        except KeyError:
            raise NotFound(f"cgroup {rel!r} not found") from None

    def exists(self, rel: str) -> bool:
        return str(safe_relpath(rel)) in self.groups

    def usage_usec(self, rel: str) -> int:
        self._g(rel)
        return 0

    def memory_bytes(self, rel: str) -> int | None:
        self._g(rel)
        return 0

    def cpu_max(self, rel: str) -> CgroupCpuMax:
        q = self._g(rel)["quota"]
        return CgroupCpuMax(None if q is None else round(float(str(q)) * 100_000), 100_000)

    def set_cpu_max(self, rel: str, cpus: float | None) -> None:
        if cpus is not None and not 0.01 <= cpus <= 1024:
            raise InvalidInput(f"CPU quota {cpus} CPUs is out of range (0.01..1024)")
        self._g(rel)["quota"] = cpus

    def frozen(self, rel: str) -> bool:
        return bool(self._g(rel)["frozen"])

    def freeze_state(self, rel: str) -> FreezeState:
        return "frozen" if self.frozen(rel) else "thawed"

    def set_frozen(self, rel: str, frozen: bool) -> None:
        self._g(rel)["frozen"] = frozen

    def pids(self, rel: str) -> list[int]:
        return [int(p) for p in list(self._g(rel)["pids"])]  # type: ignore[call-overload]


# --- cpufreq governor ---------------------------------------------------------------------


class Governor(Protocol):
    def get(self, cpu: str) -> str: ...
    def set(self, cpu: str, governor: str) -> None: ...


class SysfsGovernor:
    """Writes ``/sys/devices/system/cpu/<cpu>/cpufreq/scaling_governor`` below ``root``."""

    def __init__(self, root: Path = Path("/")) -> None:
        self.root = root

    def _path(self, cpu: str, name: str) -> Path:
        if not cpu.startswith("cpu") or not cpu[3:].isdigit():
            raise InvalidInput(f"{cpu!r} is not a CPU name")
        return self.root / "sys/devices/system/cpu" / cpu / "cpufreq" / name

    def get(self, cpu: str) -> str:
        try:
            return self._path(cpu, "scaling_governor").read_text().strip()
        except FileNotFoundError:
            raise NotFound(f"{cpu} has no cpufreq") from None

    def set(self, cpu: str, governor: str) -> None:
        avail = self._path(cpu, "scaling_available_governors")
        if not avail.exists():
            raise NotFound(f"{cpu} has no cpufreq")
        if governor not in avail.read_text().split():
            raise InvalidInput(f"governor {governor!r} not available on {cpu}")
        self._path(cpu, "scaling_governor").write_text(governor + "\n")


class FakeGovernor:
    def __init__(self, governors: dict[str, str]) -> None:
        self.governors = dict(governors)

    def get(self, cpu: str) -> str:
        if cpu not in self.governors:
            raise NotFound(f"{cpu} has no cpufreq")
        return self.governors[cpu]

    def set(self, cpu: str, governor: str) -> None:
        self.get(cpu)
        self.governors[cpu] = governor


# --- standby ------------------------------------------------------------------------------


class Standby(Protocol):
    """Server standby: ``enter()`` sleeps, ``leave()`` wakes. ``emulated`` labels the EAS."""

    emulated: bool

    def enter(self) -> None: ...
    def leave(self) -> None: ...


def wol_magic_packet(mac: str) -> bytes:
    """The Wake-on-LAN magic packet for ``mac``: 6 x 0xff then the MAC 16 times."""
    digits = mac.replace(":", "").replace("-", "")
    if len(digits) != 12:
        raise InvalidInput(f"{mac!r} is not a MAC address")
    try:
        raw = bytes.fromhex(digits)
    except ValueError:
        raise InvalidInput(f"{mac!r} is not a MAC address") from None
    return b"\xff" * 6 + raw * 16


class SuspendStandby:
    """Real hardware: suspend-to-RAM via ``/sys/power/state``; a peer wakes us with WoL."""

    emulated = False

    def __init__(self, root: Path = Path("/")) -> None:
        self.state_file = root / "sys/power/state"

    def enter(self) -> None:
        if "mem" not in self.state_file.read_text().split():
            raise Unavailable("this machine cannot suspend to RAM (no 'mem' in /sys/power/state)")
        self.state_file.write_text("mem\n")

    def leave(self) -> None:
        # Reaching this code means the machine is running: it was woken (WoL) already.
        return None


class EmulatedStandby:
    """Emulated standby for netlab servers: set their ports down, freeze their cgroup.

    This is an emulation: no power is saved on the host; the server stops
    running its processes and stops forwarding, which is what the network sees.
    The server is configured as ``[standby]`` ``cgroup`` (relative to the
    freezer hierarchy), ``ports`` and optionally the ``netns`` holding them.

    Invariants: :meth:`enter` returns only once every port is down and the
    cgroup reports *frozen* (``FROZEN`` / ``cgroup.events frozen 1``), within
    ``freeze_timeout_s``; if any step fails it thaws the cgroup and sets the
    ports it had taken down back up before raising, so a failed commit leaves
    the server awake. :meth:`leave` thaws, then sets every port up.
    """

    emulated = True

    def __init__(
        self,
        cgroups: CgroupFs,
        cgroup: str,
        ports: list[str],
        netns: str = "",
        freeze_timeout_s: float = 5.0,
    ) -> None:
        self.cgroups = cgroups
        self.cgroup = cgroup
        self.ports = list(ports)
        self.netns = netns
        self.freeze_timeout_s = freeze_timeout_s

    def _link(self, port: str, state: str) -> None:
        cmd = ["ip", "link", "set", "dev", port, state]
        if self.netns:
            cmd = ["ip", "-n", self.netns, *cmd[1:]]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise Unavailable(f"cannot set {port} {state}: {exc}") from None
        if res.returncode != 0:
            where = f" in netns {self.netns}" if self.netns else ""
            raise Unavailable(f"cannot set {port}{where} {state}: {res.stderr.strip()}")

    def _wait_frozen(self) -> None:
        deadline = time.monotonic() + self.freeze_timeout_s
        while self.cgroups.freeze_state(self.cgroup) != "frozen":
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"cgroup {self.cgroup!r} did not finish freezing "
                    f"within {self.freeze_timeout_s:g} s"
                )
            time.sleep(0.01)

    def enter(self) -> None:
        down: list[str] = []
        try:
            for port in self.ports:
                self._link(port, "down")
                down.append(port)
            self.cgroups.set_frozen(self.cgroup, True)
            self._wait_frozen()
        except (OpenVolcanoError, OSError) as exc:
            left = self._undo(down)
            raise Unavailable(
                f"emulated standby failed: {exc}"
                + (f"; could not undo: {'; '.join(left)}" if left else "; server left awake"),
                cgroup=self.cgroup,
                ports=self.ports,
            ) from None

    def _undo(self, down: list[str]) -> list[str]:
        problems: list[str] = []
        try:
            if self.cgroups.frozen(self.cgroup):
                self.cgroups.set_frozen(self.cgroup, False)
        except (OpenVolcanoError, OSError) as exc:
            if not isinstance(exc, NotFound):
                problems.append(f"thaw {self.cgroup}: {exc}")
        for port in reversed(down):
            try:
                self._link(port, "up")
            except Unavailable as exc:
                problems.append(str(exc))
        return problems

    def leave(self) -> None:
        try:
            self.cgroups.set_frozen(self.cgroup, False)
        except OSError as exc:
            raise Unavailable(f"cannot thaw cgroup {self.cgroup!r}: {exc}") from None
        for port in self.ports:
            self._link(port, "up")


class FakeStandby:
    emulated = True

    def __init__(self) -> None:
        self.asleep = False

    def enter(self) -> None:
        self.asleep = True

    def leave(self) -> None:
        self.asleep = False


# --- the applier ---------------------------------------------------------------------------


@dataclass
class GeyserApplier:
    """Routes a committed EAS to its actuator by resource type (see :mod:`.resources`)."""

    quake: QuakeWorkers | None = None
    cgroups: CgroupFs | None = None
    governor: Governor | None = None
    standby: Standby | None = None

    def apply(self, resource: ResourceSpec, state: EnergyAwareState) -> None:
        kind = resource.type
        if state.kind == "autonomic":
            return
        if kind == "server":
            if self.standby is None:
                raise Unavailable("no standby actuator configured on this server")
            if state.kind == "standby":
                self.standby.enter()
            else:
                self.standby.leave()
        elif kind == "quake":
            if self.quake is None:
                raise Unavailable("no quake management API configured")
            self.quake.set_active(int(str(state.setting)))
        elif kind == "virtual-image":
            if self.cgroups is None:
                raise Unavailable("no usable cgroup hierarchy with a cpu controller here")
            quota = None if state.setting is None else float(str(state.setting))
            self.cgroups.set_cpu_max(resource.physical, quota)
        elif kind == "cpu":
            if self.governor is None:
                raise Unavailable("no cpufreq on this machine")
            self.governor.set(resource.id.rpartition(".")[2], str(state.setting))
        else:
            raise InvalidInput(f"resource {resource.id!r} ({kind}) has no actuator")
