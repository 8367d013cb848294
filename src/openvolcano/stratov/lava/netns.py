"""NetnsDriver: virtual images as real process trees in their own namespaces.

Role: the lightweight back-end of lava (paper section IV) for edge servers
without hardware virtualization, and the one the emulated edge network uses.
Each virtual image (paper section II) is a process tree in new network, PID
and mount namespaces and its own cgroup (CPU/memory limits); its NICs are
veth pairs whose server-side ends are ports of that server's switch.

Design:

* Servers are *emulated* on this machine: a :class:`NetnsServer` names the
  server's network namespace (where image ports live), its switch stand-in
  (a bridge the ports join) and the directory holding its images' state.
* Start: ``sh`` writes its pid to the image's cgroup(s), then execs
  ``nsenter --net=<image netns> unshare --pid --mount --fork --mount-proc
  --kill-child <command>``: the command becomes PID 1 of the image. lava is
  the parent of that chain and a child subreaper (``PR_SET_CHILD_SUBREAPER``),
  so an image process orphaned by the chain is reparented to lava and reaped
  by it, never by the machine's init. "Up" means the image listens on its
  service port, read from ``/proc/<pid>/net/tcp*`` (which shows the image's
  own network namespace).
* Stop: SIGTERM to the image's PID 1 (catalogue images handle it), SIGKILL to
  every pid in its cgroup after a grace period.
* Migration: CRIU is not used (see :meth:`NetnsDriver.capabilities`); a
  migration is stop -> copy the state directory -> move the NICs (same MAC
  and address; the kernel then sends a gratuitous ARP / unsolicited NA) ->
  start, reported as ``cold`` whatever mode was asked for.

Invariants: every image process is in the image's cgroup; on a failed
migration the image is back on its source server (running if it was); lava
removes only the namespaces, links, cgroups and directories it created.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
from dataclasses import dataclass, field
from pathlib import Path

from openvolcano.api.lava import (
    Capabilities,
    ConsoleOutput,
    ImageKind,
    ImageSpec,
    ImageState,
    ImageStats,
    ImageStatus,
    MigrationMode,
    MigrationReport,
    PortAttachment,
    PortSpec,
)
from openvolcano.common.clock import Clock, SystemClock
from openvolcano.common.errors import Conflict, InvalidInput, Unavailable
from openvolcano.stratov.lava import nsplumb
from openvolcano.stratov.lava.catalogue import DEFAULT_PORTS, command_for
from openvolcano.stratov.lava.cgroup import CgroupSet, ImageCgroup, open_cgroups
from openvolcano.stratov.lava.driver import VirtDriver, check_room, lookup_image, lookup_server
from openvolcano.stratov.lava.procfs import children_of, io_bytes, listening, pid_alive

__all__ = ["NetnsDriver", "NetnsServer", "become_subreaper"]

_PR_SET_CHILD_SUBREAPER = 36
_POLL_S = 0.01


def become_subreaper() -> None:
    """Make this process the reaper of its orphaned descendants (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise Unavailable(f"prctl(PR_SET_CHILD_SUBREAPER) failed: errno {ctypes.get_errno()}")


@dataclass(frozen=True)
class NetnsServer:
    """An emulated server: its network namespace, switch stand-in, state directory, capacity."""

    name: str
    state_root: Path
    netns: str | None = None
    bridge: str | None = None
    capacity: int = 16


@dataclass
class _Image:
    spec: ImageSpec
    server: NetnsServer
    netns: str
    cgroup: ImageCgroup
    state: ImageState = ImageState.DEFINED
    ports: list[PortAttachment] = field(default_factory=list)
    proc: asyncio.subprocess.Process | None = None
    init_pid: int | None = None


class NetnsDriver(VirtDriver):
    """Virtual images as namespaced, cgroup-limited process trees on emulated servers."""

    backend = "netns"

    def __init__(
        self,
        servers: list[NetnsServer],
        *,
        prefix: str = "lava",
        clock: Clock | None = None,
        start_timeout: float = 20.0,
        stop_timeout: float = 5.0,
    ) -> None:
        if not servers:
            raise InvalidInput("the netns back-end needs at least one server")
        if os.geteuid() != 0:
            raise Unavailable("the netns back-end needs root (namespaces, veth, cgroups)")
        self._servers = {s.name: s for s in servers}
        self._prefix = prefix
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._start_timeout = start_timeout
        self._stop_timeout = stop_timeout
        self._cgroups: CgroupSet = open_cgroups()
        # Written by create/start/stop/migrate/destroy, read by every query; one event loop.
        self._images: dict[str, _Image] = {}
        # One lock per image: a migration and a stop of the same image never interleave.
        self._locks: dict[str, asyncio.Lock] = {}
        become_subreaper()

    # -- helpers ----------------------------------------------------------------

    def _get(self, name: str) -> _Image:
        return lookup_image(self._images, name)

    def _server(self, name: str) -> NetnsServer:
        return lookup_server(self._servers, name)

    def _check_room(self, server: NetnsServer) -> None:
        used = sum(1 for img in self._images.values() if img.server.name == server.name)
        check_room(server.name, used, server.capacity)

    @staticmethod
    def _state_dir(server: NetnsServer, name: str) -> Path:
        return server.state_root / name

    def _status(self, img: _Image) -> ImageStatus:
        if img.state is ImageState.RUNNING and (
            img.init_pid is None or not pid_alive(img.init_pid)
        ):
            img.state = ImageState.STOPPED  # it died on its own; stop() will reap it
        return ImageStatus(
            name=img.spec.name,
            server=img.server.name,
            backend=self.backend,
            state=img.state,
            kind=img.spec.kind,
            pid=img.init_pid if img.state is ImageState.RUNNING else None,
        )

    @staticmethod
    def _port_of(spec: ImageSpec) -> int | None:
        if spec.service_port is not None:
            return spec.service_port
        return DEFAULT_PORTS.get(spec.kind)

    def _console_text(self, img: _Image, max_bytes: int) -> str:
        path = self._state_dir(img.server, img.spec.name) / "console.log"
        try:
            with path.open("rb") as f:
                f.seek(max(0, path.stat().st_size - max_bytes))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def image_netns(self, name: str) -> str:
        """Name of the network namespace of image ``name`` (for operators and tests)."""
        return self._get(name).netns

    # -- life cycle -----------------------------------------------------------------

    async def capabilities(self) -> Capabilities:
        return Capabilities(
            backend=self.backend,
            live_migration=False,
            cold_migration=True,
            console=True,
            resource_limits=self._cgroups.limits_enforced,
            network_ports=True,
            kinds=list(ImageKind),
        )

    async def servers(self) -> list[str]:
        return sorted(self._servers)

    async def create(self, server: str, spec: ImageSpec) -> ImageStatus:
        srv = self._server(server)
        if spec.name in self._images:
            raise Conflict(f"virtual image {spec.name!r} already exists", image=spec.name)
        self._check_room(srv)
        state_dir = self._state_dir(srv, spec.name)
        command_for(spec, state_dir / "data")  # validates kind/command before anything is made
        netns = f"{self._prefix}-{spec.name}"
        await nsplumb.create_netns(netns)
        try:
            (state_dir / "data").mkdir(parents=True, exist_ok=True)
            cgroup = self._cgroups.create(netns)
            if self._cgroups.limits_enforced:
                cgroup.set_limits(spec.cpu_cores, spec.memory_mb << 20)
        except OSError as exc:
            await nsplumb.delete_netns(netns)
            raise Unavailable(f"cannot prepare image {spec.name!r}: {exc}") from exc
        img = _Image(spec=spec, server=srv, netns=netns, cgroup=cgroup)
        self._images[spec.name] = img
        self._locks[spec.name] = asyncio.Lock()
        return self._status(img)

    async def start(self, name: str) -> ImageStatus:
        img = self._get(name)
        async with self._locks[name]:
            return await self._start(img)

    async def _start(self, img: _Image) -> ImageStatus:
        name = img.spec.name
        if self._status(img).state is ImageState.RUNNING:
            raise Conflict(f"virtual image {name!r} is already running", image=name)
        if img.proc is not None:
            await self._reap(img)
        state_dir = self._state_dir(img.server, name)
        argv = command_for(img.spec, state_dir / "data")
        procs = " ".join(f"echo $$ > {p} &&" for p in img.cgroup.procs_files())
        script = f'{procs} exec "$@"'
        env = {**os.environ, **img.spec.env, "OPENVOLCANO_STATE_DIR": str(state_dir / "data")}
        with (state_dir / "console.log").open("ab") as console:
            img.proc = await asyncio.create_subprocess_exec(
                "sh", "-c", script, "lava-image",
                "nsenter", f"--net=/run/netns/{img.netns}", "--",
                "unshare", "--pid", "--mount", "--fork", "--mount-proc", "--kill-child", "--",
                *argv,
                stdin=asyncio.subprocess.DEVNULL, stdout=console, stderr=console,
                env=env, cwd=str(state_dir),
            )  # fmt: skip
        port = self._port_of(img.spec)
        deadline = self._clock.now() + self._start_timeout
        while True:
            if img.proc.returncode is not None or self._clock.now() > deadline:
                break
            kids = children_of(img.proc.pid)
            if kids:
                img.init_pid = kids[0]
                if port is None or listening(kids[0], port):
                    img.state = ImageState.RUNNING
                    return self._status(img)
            await asyncio.sleep(_POLL_S)
        await self._kill(img)
        tail = self._console_text(img, 2000)
        raise Unavailable(f"virtual image {name!r} did not come up: {tail.strip()[-500:]}")

    async def _kill(self, img: _Image) -> None:
        """Stop the image's processes: SIGTERM its PID 1, then SIGKILL what is left."""
        if img.init_pid is not None and pid_alive(img.init_pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(img.init_pid, signal.SIGTERM)
        if img.proc is not None:
            try:
                await asyncio.wait_for(img.proc.wait(), self._stop_timeout)
            except TimeoutError:
                for pid in [p for p in [img.init_pid] if p] + img.cgroup.pids():
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                await img.proc.wait()
        await self._reap(img)
        img.state = ImageState.STOPPED

    async def _reap(self, img: _Image) -> None:
        """Reap the image's PID 1 if it was orphaned to lava (we are its subreaper)."""
        if img.init_pid is not None:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(img.init_pid, os.WNOHANG)  # noqa: ASYNC222 - WNOHANG never blocks
        img.proc = None
        img.init_pid = None

    async def stop(self, name: str) -> ImageStatus:
        img = self._get(name)
        async with self._locks[name]:
            if self._status(img).state is not ImageState.RUNNING:
                raise Conflict(f"virtual image {name!r} is not running", image=name)
            await self._kill(img)
            return self._status(img)

    async def destroy(self, name: str) -> None:
        img = self._get(name)
        async with self._locks[name]:
            if img.proc is not None:
                await self._kill(img)
            for port in img.ports:
                await nsplumb.remove_port(port.host_ifname, img.server.netns)
            await nsplumb.delete_netns(img.netns)
            img.cgroup.remove()
            shutil.rmtree(self._state_dir(img.server, name), ignore_errors=True)
            del self._images[name]
            del self._locks[name]

    async def status(self, name: str) -> ImageStatus:
        return self._status(self._get(name))

    async def list_images(self) -> list[ImageStatus]:
        return [self._status(self._images[n]) for n in sorted(self._images)]

    async def stats(self, name: str) -> ImageStats:
        img = self._get(name)
        pids = img.cgroup.pids()
        read, written = io_bytes(pids)
        cpu = mem = 0
        with contextlib.suppress(OSError):
            cpu = int(img.cgroup.cpu_seconds() * 1e6)
            mem = img.cgroup.memory_bytes()
        return ImageStats(
            name=name,
            cpu_seconds=cpu / 1e6,
            memory_bytes=mem if pids else 0,
            io_read_bytes=read,
            io_write_bytes=written,
        )

    async def console(self, name: str, max_bytes: int = 65536) -> ConsoleOutput:
        img = self._get(name)
        return ConsoleOutput(
            name=name, text=self._console_text(img, max_bytes) if max_bytes > 0 else ""
        )

    async def attach_port(self, name: str, port: PortSpec) -> PortAttachment:
        img = self._get(name)
        async with self._locks[name]:
            att = await nsplumb.add_port(
                image=name,
                server=img.server.name,
                image_netns=img.netns,
                server_netns=img.server.netns,
                bridge=img.server.bridge,
                port=port,
            )
            img.ports.append(att)
            return att

    # -- migration ----------------------------------------------------------------------

    async def migrate(self, name: str, target: str, mode: MigrationMode) -> MigrationReport:
        img = self._get(name)
        dst = self._server(target)
        async with self._locks[name]:
            src = img.server
            if dst.name == src.name:
                raise Conflict(f"virtual image {name!r} is already on server {target!r}")
            self._check_room(dst)
            for port in img.ports:
                if await nsplumb.link_exists(port.host_ifname, dst.netns):
                    raise Conflict(
                        f"port {port.host_ifname!r} already exists on server {target!r}",
                        port=port.host_ifname,
                    )
            if self._state_dir(dst, name).exists():
                raise Conflict(f"server {target!r} already holds state of an image {name!r}")
            return await self._cold_migrate(img, src, dst, mode)

    async def _cold_migrate(
        self, img: _Image, src: NetnsServer, dst: NetnsServer, mode: MigrationMode
    ) -> MigrationReport:
        name = img.spec.name
        began = self._clock.now()
        was_running = self._status(img).state is ImageState.RUNNING
        if was_running:
            await self._kill(img)
        down_at = self._clock.now()
        src_dir, dst_dir = self._state_dir(src, name), self._state_dir(dst, name)
        try:
            moved = await asyncio.to_thread(_copy_tree, src_dir, dst_dir)
            await self._move_ports(img, src, dst)
        except (OSError, Unavailable) as exc:
            shutil.rmtree(dst_dir, ignore_errors=True)
            await self._move_ports(img, dst, src)
            if was_running:
                await self._start(img)
            raise Unavailable(f"migration of {name!r} to {dst.name!r} failed: {exc}") from exc
        img.server = dst
        if was_running:
            try:
                await self._start(img)
            except Unavailable:
                img.server = src
                await self._move_ports(img, dst, src)
                shutil.rmtree(dst_dir, ignore_errors=True)
                await self._start(img)
                raise
        up_at = self._clock.now()
        shutil.rmtree(src_dir, ignore_errors=True)
        note = "stop, copy state directory, restart"
        if mode is MigrationMode.LIVE:
            note = (
                "live migration is not available on the netns back-end (no CRIU); ran cold: " + note
            )
        return MigrationReport(
            image=name,
            source=src.name,
            target=dst.name,
            mode_requested=mode,
            mode_used=MigrationMode.COLD,
            total_s=up_at - began,
            downtime_s=up_at - down_at if was_running else 0.0,
            bytes_moved=moved,
            memory_preserved=False,
            disk_preserved=True,
            note=note,
        )

    async def _move_ports(self, img: _Image, src: NetnsServer, dst: NetnsServer) -> None:
        """Re-plumb every NIC of ``img`` from ``src`` to ``dst`` with the same MAC and address."""
        moved: list[PortAttachment] = []
        for att in img.ports:
            await nsplumb.remove_port(att.host_ifname, src.netns)
            spec = PortSpec(
                host_ifname=att.host_ifname,
                image_ifname=att.image_ifname,
                mac=att.mac,
                address=att.address,
            )
            moved.append(
                await nsplumb.add_port(
                    image=img.spec.name,
                    server=dst.name,
                    image_netns=img.netns,
                    server_netns=dst.netns,
                    bridge=dst.bridge,
                    port=spec,
                )
            )
        img.ports = moved


def _copy_tree(src: Path, dst: Path) -> int:
    """Copy directory ``src`` to new directory ``dst``; return the bytes copied."""
    shutil.copytree(src, dst, symlinks=True)
    return sum(p.stat().st_size for p in dst.rglob("*") if p.is_file() and not p.is_symlink())
