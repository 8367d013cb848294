"""FakeDriver: an in-memory VirtDriver for simulation at scale and fast unit tests.

Role: the shipped fake of lava's external dependency (STYLE.md: every external
thing has a real implementation and a fake, and one contract test for all).
Simulations of thousands of users and conduit/crater tests use it instead of
starting processes.

Design: dictionaries of servers (each with an image capacity) and images;
every state change is appended to the image's console so tests can see what
happened. Migration is instantaneous; its durations come from the injected
:class:`~openvolcano.common.clock.Clock`, so a test with a ``FakeClock`` sees
zero, and ``state_bytes`` lets a simulation say how much state would move.

Invariants: identical error behaviour to the real drivers (the contract test
checks it); a failed call changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
from openvolcano.common.errors import Conflict, InvalidInput
from openvolcano.stratov.lava.driver import VirtDriver, check_room, lookup_image, lookup_server

__all__ = ["FakeDriver"]


@dataclass
class _FakeImage:
    spec: ImageSpec
    server: str
    state: ImageState = ImageState.DEFINED
    console: list[str] = field(default_factory=list)
    ports: list[PortAttachment] = field(default_factory=list)
    starts: int = 0


class FakeDriver(VirtDriver):
    """In-memory back-end: ``FakeDriver({"a": 4, "b": 4})`` has two servers of 4 images each."""

    backend = "fake"

    def __init__(
        self,
        servers: dict[str, int],
        *,
        clock: Clock | None = None,
        state_bytes: int = 0,
    ) -> None:
        if not servers:
            raise InvalidInput("a fake back-end needs at least one server")
        self._capacity = dict(servers)
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._state_bytes = state_bytes
        # Written by every mutating method, read by the queries; one event loop, no locking.
        self._images: dict[str, _FakeImage] = {}

    def _get(self, name: str) -> _FakeImage:
        return lookup_image(self._images, name)

    def _check_server(self, server: str) -> None:
        lookup_server(self._capacity, server)

    def _check_room(self, server: str) -> None:
        used = sum(1 for img in self._images.values() if img.server == server)
        check_room(server, used, self._capacity[server])

    def _status(self, name: str, img: _FakeImage) -> ImageStatus:
        return ImageStatus(
            name=name,
            server=img.server,
            backend=self.backend,
            state=img.state,
            kind=img.spec.kind,
            pid=None,
        )

    async def capabilities(self) -> Capabilities:
        return Capabilities(
            backend=self.backend,
            live_migration=True,
            cold_migration=True,
            console=True,
            resource_limits=True,
            network_ports=True,
            kinds=list(ImageKind),
        )

    async def servers(self) -> list[str]:
        return sorted(self._capacity)

    async def create(self, server: str, spec: ImageSpec) -> ImageStatus:
        self._check_server(server)
        if spec.name in self._images:
            raise Conflict(f"virtual image {spec.name!r} already exists", image=spec.name)
        self._check_room(server)
        img = _FakeImage(spec=spec, server=server)
        img.console.append(f"defined on {server}")
        self._images[spec.name] = img
        return self._status(spec.name, img)

    async def start(self, name: str) -> ImageStatus:
        img = self._get(name)
        if img.state is ImageState.RUNNING:
            raise Conflict(f"virtual image {name!r} is already running", image=name)
        img.state = ImageState.RUNNING
        img.starts += 1
        img.console.append(f"started on {img.server}")
        return self._status(name, img)

    async def stop(self, name: str) -> ImageStatus:
        img = self._get(name)
        if img.state is not ImageState.RUNNING:
            raise Conflict(f"virtual image {name!r} is not running", image=name)
        img.state = ImageState.STOPPED
        img.console.append(f"stopped on {img.server}")
        return self._status(name, img)

    async def destroy(self, name: str) -> None:
        self._get(name)
        del self._images[name]

    async def status(self, name: str) -> ImageStatus:
        return self._status(name, self._get(name))

    async def list_images(self) -> list[ImageStatus]:
        return [self._status(n, self._images[n]) for n in sorted(self._images)]

    async def stats(self, name: str) -> ImageStats:
        img = self._get(name)
        running = img.state is ImageState.RUNNING
        return ImageStats(
            name=name,
            cpu_seconds=0.0,
            memory_bytes=img.spec.memory_mb << 20 if running else 0,
            io_read_bytes=0,
            io_write_bytes=0,
        )

    async def console(self, name: str, max_bytes: int = 65536) -> ConsoleOutput:
        text = "".join(line + "\n" for line in self._get(name).console)
        return ConsoleOutput(name=name, text=text[-max_bytes:] if max_bytes > 0 else "")

    async def attach_port(self, name: str, port: PortSpec) -> PortAttachment:
        img = self._get(name)
        for other in self._images.values():
            if other.server == img.server and any(
                p.host_ifname == port.host_ifname for p in other.ports
            ):
                raise Conflict(
                    f"port {port.host_ifname!r} already exists on server {img.server!r}",
                    port=port.host_ifname,
                )
        if any(p.image_ifname == port.image_ifname for p in img.ports):
            raise Conflict(f"image {name!r} already has a NIC {port.image_ifname!r}")
        index = sum(len(i.ports) for i in self._images.values()) + 1
        mac = (
            port.mac
            or f"02:fa:{(index >> 24) & 0xFF:02x}:{(index >> 16) & 0xFF:02x}:{(index >> 8) & 0xFF:02x}:{index & 0xFF:02x}"
        )
        att = PortAttachment(
            image=name,
            server=img.server,
            host_ifname=port.host_ifname,
            image_ifname=port.image_ifname,
            mac=mac,
            address=port.address,
        )
        img.ports.append(att)
        return att

    async def migrate(self, name: str, target: str, mode: MigrationMode) -> MigrationReport:
        img = self._get(name)
        self._check_server(target)
        if target == img.server:
            raise Conflict(f"virtual image {name!r} is already on server {target!r}")
        self._check_room(target)
        began = self._clock.now()
        source = img.server
        img.server = target
        img.ports = [p.model_copy(update={"server": target}) for p in img.ports]
        img.console.append(f"migrated {source} -> {target} ({mode.value})")
        total = self._clock.now() - began
        running = img.state is ImageState.RUNNING
        return MigrationReport(
            image=name,
            source=source,
            target=target,
            mode_requested=mode,
            mode_used=mode,
            total_s=total,
            downtime_s=total if running else 0.0,
            bytes_moved=self._state_bytes,
            memory_preserved=mode is MigrationMode.LIVE and running,
            disk_preserved=True,
            note="simulated",
        )
