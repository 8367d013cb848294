"""LibvirtDriver: virtual images as libvirt domains (KVM/QEMU, or libvirt's test driver).

Role: the full-virtualization back-end of lava (paper section IV): a virtual
image (paper section II) is a libvirt domain on one of several libvirt
daemons, each a *server* named by its connection URI (``qemu:///system``,
``qemu+tcp://host/system``, or ``test:///default`` in unit tests).

Design: libvirt-python is blocking, so every call runs in a worker thread
(:func:`asyncio.to_thread`); one connection per server, opened lazily. Domain
names are ``<domain_prefix>-<image>`` so that several lava instances (or
tests) can share a daemon. The domain XML is built here from the
:class:`~openvolcano.api.lava.ImageSpec` (memory, vCPUs, CPU quota, an
optional direct kernel boot and a serial console logged to a file) and a NIC
is an ``ethernet`` interface whose TAP device (``host_ifname``) is the port
the server's quake takes over. "Up" for a domain means libvirt reports it
running.

Migration: *live* when both daemons run libvirt's QEMU driver (checked with
``virConnectGetType``, never assumed - the test driver cannot migrate) and
the domain runs: ``virDomainMigrateToURI3`` with ``VIR_MIGRATE_PEER2PEER``
(the source daemon connects to the target's URI) or, for a source server
with ``peer_to_peer=False``, ``virDomainMigrate3`` driven by lava over both
connections; always ``VIR_MIGRATE_LIVE | PERSIST_DEST | UNDEFINE_SOURCE``,
the QEMU stream going to the target's per-call migration URI
(``VIR_MIGRATE_PARAM_URI``, e.g. ``tcp://127.0.0.1``) and the domain XML
re-targeted to the target's console log. The report takes downtime and
bytes moved from libvirt's completed-job statistics (``downtime`` ms,
``data_processed``); where libvirt gives no downtime, the whole call is
reported as an upper bound and the note says so. Otherwise migration is
*cold*: stop -> undefine on the source -> define (and start) on the target,
and a live request says it ran cold.

Invariants: a failed call leaves the domain defined where it was; libvirt
errors become :class:`~openvolcano.common.errors.Unavailable` carrying
libvirt's message; the driver touches only domains it created.
"""

from __future__ import annotations

import asyncio
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libvirt

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
    Unsupported,
)
from openvolcano.common.clock import Clock, SystemClock
from openvolcano.common.errors import Conflict, InvalidInput, Unavailable
from openvolcano.stratov.lava.driver import VirtDriver, check_room, lookup_image, lookup_server
from openvolcano.stratov.lava.nsplumb import random_mac

__all__ = ["LibvirtDriver", "LibvirtServer", "domain_xml"]

_RUNNING_STATES = {
    libvirt.VIR_DOMAIN_RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED,
    libvirt.VIR_DOMAIN_PAUSED,
}


def _quiet(_ctx: object, _err: object) -> None:
    """libvirt's default error handler prints to stderr; errors reach us as exceptions."""


libvirt.registerErrorHandler(_quiet, None)


@dataclass(frozen=True)
class LibvirtServer:
    """A libvirt daemon lava may place images on.

    ``domain_type`` is ``kvm``/``qemu`` for real daemons (``test`` for the
    test driver); ``kernel``/``initrd``/``cmdline`` give a direct kernel boot;
    ``log_dir`` (on that server) receives each domain's serial console.
    ``migration_uri`` is where QEMU on this server receives a live
    migration stream (``tcp://127.0.0.1``; libvirt picks the port when none
    is given); ``peer_to_peer`` says whether this server's daemon, as a
    source, connects to the target itself (else lava drives both ends).
    """

    name: str
    uri: str
    capacity: int = 16
    domain_type: str = "test"
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str = ""
    log_dir: str | None = None
    migration_uri: str | None = None
    peer_to_peer: bool = True


@dataclass
class _Domain:
    spec: ImageSpec
    server: LibvirtServer
    started: bool = False
    uuid: str | None = None
    ports: list[PortAttachment] = field(default_factory=list)


def domain_xml(
    dom_name: str,
    spec: ImageSpec,
    server: LibvirtServer,
    ports: list[PortAttachment],
    uuid: str | None = None,
) -> str:
    """The persistent definition of ``spec`` on ``server`` with NICs ``ports``.

    ``uuid`` keeps the domain's identity across redefinitions and migrations.
    """
    root = ET.Element("domain", type=server.domain_type)
    ET.SubElement(root, "name").text = dom_name
    if uuid:
        ET.SubElement(root, "uuid").text = uuid
    ET.SubElement(root, "memory", unit="MiB").text = str(spec.memory_mb)
    ET.SubElement(root, "vcpu").text = str(max(1, math.ceil(spec.cpu_cores)))
    if spec.cpu_cores != math.ceil(spec.cpu_cores):
        # Fractional cores need a CFS quota; whole cores are just vCPUs (and an
        # unprivileged daemon, which has no cgroups, can run them).
        tune = ET.SubElement(root, "cputune")
        ET.SubElement(tune, "period").text = "100000"
        ET.SubElement(tune, "quota").text = str(
            int(spec.cpu_cores * 100000 / math.ceil(spec.cpu_cores))
        )
    os_el = ET.SubElement(root, "os")
    ET.SubElement(os_el, "type", arch="x86_64").text = "hvm"
    if server.kernel:
        ET.SubElement(os_el, "kernel").text = server.kernel
        if server.initrd:
            ET.SubElement(os_el, "initrd").text = server.initrd
        args = f"{server.cmdline} ovl.image={spec.name} ovl.kind={spec.kind.value}".strip()
        ET.SubElement(os_el, "cmdline").text = args
    devices = ET.SubElement(root, "devices")
    if server.log_dir:
        serial = ET.SubElement(devices, "serial", type="file")
        ET.SubElement(serial, "source", path=f"{server.log_dir}/{dom_name}.log")
    for port in ports:
        nic = ET.SubElement(devices, "interface", type="ethernet")
        ET.SubElement(nic, "mac", address=port.mac)
        ET.SubElement(nic, "target", dev=port.host_ifname, managed="no")
    return ET.tostring(root, encoding="unicode")


def _retarget(xml: str, dom_name: str, src: LibvirtServer, dst: LibvirtServer) -> str:
    """The running domain's migratable XML as it must be on ``dst``.

    The console log moves to ``dst.log_dir``; the kernel and initrd paths
    become ``dst``'s (same files expected: QEMU re-reads them on the target).
    """
    root = ET.fromstring(xml)
    if src.log_dir and dst.log_dir:
        old, new = f"{src.log_dir}/{dom_name}.log", f"{dst.log_dir}/{dom_name}.log"
        for source in root.iterfind("./devices/*/source"):
            if source.get("path") == old:
                source.set("path", new)
    for tag, path in (("kernel", dst.kernel), ("initrd", dst.initrd)):
        el = root.find(f"./os/{tag}")
        if el is not None and path:
            el.text = path
    return ET.tostring(root, encoding="unicode")


class LibvirtDriver(VirtDriver):
    """Virtual images as libvirt domains on a set of libvirt daemons."""

    backend = "libvirt"

    def __init__(
        self,
        servers: list[LibvirtServer],
        *,
        domain_prefix: str = "ovl",
        clock: Clock | None = None,
        stop_timeout: float = 10.0,
    ) -> None:
        if not servers:
            raise InvalidInput("the libvirt back-end needs at least one server")
        self._servers = {s.name: s for s in servers}
        self._prefix = domain_prefix
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._stop_timeout = stop_timeout
        # Written by open/close only; read by every call.
        self._conns: dict[str, Any] = {}
        # Written by create/attach/migrate/destroy, read by the queries; one event loop.
        self._domains: dict[str, _Domain] = {}

    # -- helpers ----------------------------------------------------------------

    def _get(self, name: str) -> _Domain:
        return lookup_image(self._domains, name)

    def _server(self, name: str) -> LibvirtServer:
        return lookup_server(self._servers, name)

    def _check_room(self, server: LibvirtServer) -> None:
        used = sum(1 for d in self._domains.values() if d.server.name == server.name)
        check_room(server.name, used, server.capacity)

    def _dom_name(self, name: str) -> str:
        return f"{self._prefix}-{name}"

    def _conn(self, server: LibvirtServer) -> Any:
        """The connection to ``server``'s daemon (opened on first use; call in a thread)."""
        conn = self._conns.get(server.name)
        if conn is None:
            conn = libvirt.open(server.uri)
            self._conns[server.name] = conn
        return conn

    async def _call(self, server: LibvirtServer, fn: Any, *args: Any) -> Any:
        """Run ``fn(conn, *args)`` in a thread; libvirt errors become Unavailable."""
        try:
            return await asyncio.to_thread(lambda: fn(self._conn(server), *args))
        except libvirt.libvirtError as exc:
            raise Unavailable(f"libvirt on server {server.name!r}: {exc}") from exc

    async def _is_qemu(self, server: LibvirtServer) -> bool:
        """Whether ``server`` runs libvirt's QEMU driver (Unavailable if unreachable)."""
        return bool(await self._call(server, lambda c: c.getType()) == "QEMU")

    async def _state(self, dom: _Domain) -> ImageState:
        dom_name = self._dom_name(dom.spec.name)
        state = await self._call(dom.server, lambda c: c.lookupByName(dom_name).state()[0])
        if state in _RUNNING_STATES:
            return ImageState.RUNNING
        return ImageState.STOPPED if dom.started else ImageState.DEFINED

    async def _status(self, dom: _Domain) -> ImageStatus:
        return ImageStatus(
            name=dom.spec.name,
            server=dom.server.name,
            backend=self.backend,
            state=await self._state(dom),
            kind=dom.spec.kind,
        )

    async def _define(self, dom: _Domain) -> None:
        xml = domain_xml(self._dom_name(dom.spec.name), dom.spec, dom.server, dom.ports, dom.uuid)
        dom.uuid = await self._call(dom.server, lambda c: c.defineXML(xml).UUIDString())

    async def _undefine(self, dom: _Domain) -> None:
        await self._call(
            dom.server, lambda c: c.lookupByName(self._dom_name(dom.spec.name)).undefine()
        )

    async def _power_off(self, dom: _Domain) -> None:
        """Graceful shutdown, forced off after ``stop_timeout``."""
        dom_name = self._dom_name(dom.spec.name)
        await self._call(dom.server, lambda c: c.lookupByName(dom_name).shutdown())
        deadline = self._clock.now() + self._stop_timeout
        while await self._state(dom) is ImageState.RUNNING:
            if self._clock.now() > deadline:
                await self._call(dom.server, lambda c: c.lookupByName(dom_name).destroy())
                break
            await asyncio.sleep(0.05)

    # -- VirtDriver -------------------------------------------------------------

    async def capabilities(self) -> Capabilities:
        # Live migration needs two QEMU daemons; unreachable ones are not counted.
        kinds = []
        for srv in self._servers.values():
            try:
                kinds.append(await self._is_qemu(srv))
            except Unavailable:
                continue
        return Capabilities(
            backend=self.backend,
            live_migration=len(kinds) >= 2 and all(kinds),
            cold_migration=True,
            console=all(s.log_dir for s in self._servers.values()),
            resource_limits=True,
            network_ports=True,
            kinds=list(ImageKind),
        )

    async def servers(self) -> list[str]:
        return sorted(self._servers)

    async def create(self, server: str, spec: ImageSpec) -> ImageStatus:
        srv = self._server(server)
        if spec.name in self._domains:
            raise Conflict(f"virtual image {spec.name!r} already exists", image=spec.name)
        self._check_room(srv)
        dom = _Domain(spec=spec, server=srv)
        await self._define(dom)
        self._domains[spec.name] = dom
        return await self._status(dom)

    async def start(self, name: str) -> ImageStatus:
        dom = self._get(name)
        if await self._state(dom) is ImageState.RUNNING:
            raise Conflict(f"virtual image {name!r} is already running", image=name)
        await self._call(dom.server, lambda c: c.lookupByName(self._dom_name(name)).create())
        dom.started = True
        return await self._status(dom)

    async def stop(self, name: str) -> ImageStatus:
        dom = self._get(name)
        if await self._state(dom) is not ImageState.RUNNING:
            raise Conflict(f"virtual image {name!r} is not running", image=name)
        await self._power_off(dom)
        return await self._status(dom)

    async def destroy(self, name: str) -> None:
        dom = self._get(name)
        if await self._state(dom) is ImageState.RUNNING:
            await self._call(dom.server, lambda c: c.lookupByName(self._dom_name(name)).destroy())
        await self._undefine(dom)
        del self._domains[name]

    async def status(self, name: str) -> ImageStatus:
        return await self._status(self._get(name))

    async def list_images(self) -> list[ImageStatus]:
        return [await self._status(self._domains[n]) for n in sorted(self._domains)]

    async def stats(self, name: str) -> ImageStats:
        dom = self._get(name)
        info = await self._call(dom.server, lambda c: c.lookupByName(self._dom_name(name)).info())
        running = info[0] in _RUNNING_STATES
        return ImageStats(
            name=name,
            cpu_seconds=info[4] / 1e9 if running else 0.0,
            memory_bytes=info[2] * 1024 if running else 0,
            io_read_bytes=0,
            io_write_bytes=0,
        )

    async def console(self, name: str, max_bytes: int = 65536) -> ConsoleOutput:
        dom = self._get(name)
        if not dom.server.log_dir:
            raise Unsupported(f"server {dom.server.name!r} keeps no console log")
        path = Path(dom.server.log_dir) / f"{self._dom_name(name)}.log"
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
        text = data[-max_bytes:].decode(errors="replace") if max_bytes > 0 else ""
        return ConsoleOutput(name=name, text=text)

    async def attach_port(self, name: str, port: PortSpec) -> PortAttachment:
        dom = self._get(name)
        for other in self._domains.values():
            if other.server.name == dom.server.name and any(
                p.host_ifname == port.host_ifname for p in other.ports
            ):
                raise Conflict(
                    f"port {port.host_ifname!r} already exists on server {dom.server.name!r}",
                    port=port.host_ifname,
                )
        att = PortAttachment(
            image=name,
            server=dom.server.name,
            host_ifname=port.host_ifname,
            image_ifname=port.image_ifname,
            mac=port.mac or random_mac(),
            address=port.address,
        )
        if await self._state(dom) is ImageState.RUNNING:
            nic = domain_xml("x", dom.spec, dom.server, [att]).split("<devices>")[1]
            nic = nic.split("</devices>")[0]
            flags = libvirt.VIR_DOMAIN_AFFECT_LIVE | libvirt.VIR_DOMAIN_AFFECT_CONFIG
            await self._call(
                dom.server,
                lambda c: c.lookupByName(self._dom_name(name)).attachDeviceFlags(nic, flags),
            )
            dom.ports.append(att)
        else:
            dom.ports.append(att)
            try:
                await self._define(dom)
            except Unavailable:
                dom.ports.remove(att)
                raise
        return att

    async def migrate(self, name: str, target: str, mode: MigrationMode) -> MigrationReport:
        dom = self._get(name)
        dst = self._server(target)
        src = dom.server
        if dst.name == src.name:
            raise Conflict(f"virtual image {name!r} is already on server {target!r}")
        self._check_room(dst)
        was_running = await self._state(dom) is ImageState.RUNNING
        # Asking both daemons first also means an unreachable target fails the
        # call before the image is touched.
        qemu_pair = [await self._is_qemu(src), await self._is_qemu(dst)] == [True, True]
        if mode is MigrationMode.LIVE and was_running and qemu_pair:
            return await self._migrate_live(dom, dst)
        began = self._clock.now()
        if was_running:
            await self._power_off(dom)
        down_at = self._clock.now()
        xml = domain_xml(self._dom_name(name), dom.spec, dst, dom.ports, dom.uuid)
        await self._undefine(dom)
        try:
            await self._call(dst, lambda c: c.defineXML(xml))
            dom.server = dst
            dom.ports = [p.model_copy(update={"server": dst.name}) for p in dom.ports]
            if was_running:
                await self._call(dst, lambda c: c.lookupByName(self._dom_name(name)).create())
        except Unavailable:
            dom.server = src
            dom.ports = [p.model_copy(update={"server": src.name}) for p in dom.ports]
            await self._define(dom)
            if was_running:
                await self._call(src, lambda c: c.lookupByName(self._dom_name(name)).create())
            raise
        up_at = self._clock.now()
        note = "shut down, move the definition, start (disk images must be on shared storage)"
        if mode is MigrationMode.LIVE:
            why = "the image was not running" if not was_running else "not a QEMU daemon"
            note = (
                f"live migration needs a running domain on QEMU daemons ({why}); ran cold: {note}"
            )
        return MigrationReport(
            image=name,
            source=src.name,
            target=dst.name,
            mode_requested=mode,
            mode_used=MigrationMode.COLD,
            total_s=up_at - began,
            downtime_s=up_at - down_at if was_running else 0.0,
            bytes_moved=len(xml.encode()),
            memory_preserved=False,
            disk_preserved=True,
            note=note,
        )

    async def _migrate_live(self, dom: _Domain, dst: LibvirtServer) -> MigrationReport:
        """Live-migrate a running domain between two QEMU daemons (see the module docstring)."""
        src = dom.server
        dom_name = self._dom_name(dom.spec.name)
        flags = (
            libvirt.VIR_MIGRATE_LIVE
            | libvirt.VIR_MIGRATE_PERSIST_DEST
            | libvirt.VIR_MIGRATE_UNDEFINE_SOURCE
        )

        def run() -> dict[str, Any]:
            source = self._conn(src).lookupByName(dom_name)
            xml = _retarget(source.XMLDesc(libvirt.VIR_DOMAIN_XML_MIGRATABLE), dom_name, src, dst)
            params: dict[str, Any] = {
                libvirt.VIR_MIGRATE_PARAM_DEST_XML: xml,
                libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: xml,
            }
            if dst.migration_uri:
                params[libvirt.VIR_MIGRATE_PARAM_URI] = dst.migration_uri
            if src.peer_to_peer:
                source.migrateToURI3(dst.uri, params, flags | libvirt.VIR_MIGRATE_PEER2PEER)
                target = self._conn(dst).lookupByName(dom_name)
            else:
                target = source.migrate3(self._conn(dst), params, flags)
            try:
                stats: dict[str, Any] = target.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)
            except libvirt.libvirtError:
                stats = {}
            return stats

        began = self._clock.now()
        try:
            stats = await asyncio.to_thread(run)
        except libvirt.libvirtError as exc:
            raise Unavailable(
                f"libvirt live migration of {dom.spec.name!r} from {src.name!r} "
                f"to {dst.name!r}: {exc}"
            ) from exc
        total = self._clock.now() - began
        dom.server = dst
        dom.started = True
        dom.ports = [p.model_copy(update={"server": dst.name}) for p in dom.ports]
        how = "peer-to-peer" if src.peer_to_peer else "direct (lava drives both daemons)"
        uri = dst.migration_uri or "libvirt's default"
        if "downtime" in stats:
            downtime = min(total, stats["downtime"] / 1000)
            measured = "downtime reported by libvirt"
        else:
            downtime = total
            measured = "libvirt reported no downtime: the whole call is given as an upper bound"
        return MigrationReport(
            image=dom.spec.name,
            source=src.name,
            target=dst.name,
            mode_requested=MigrationMode.LIVE,
            mode_used=MigrationMode.LIVE,
            total_s=total,
            downtime_s=downtime,
            bytes_moved=int(stats.get("data_processed", stats.get("memory_processed", 0))),
            memory_preserved=True,
            disk_preserved=True,
            note=(
                f"live, {how}, migration URI {uri}, "
                f"{stats.get('memory_iteration', '?')} memory passes; {measured}"
            ),
        )

    async def close(self) -> None:
        conns, self._conns = self._conns, {}
        for conn in conns.values():
            await asyncio.to_thread(conn.close)
