"""The VirtDriver interface: one async API over every virtualization back-end.

Role: lava (paper section IV) hides which virtualization library runs on each
server. conduit asks lava to create, start, stop, migrate and destroy virtual
images (paper section II: the software twins of a user's home devices);
crater reads :meth:`VirtDriver.capabilities` so that it only plans what the
back-end can do (e.g. no live migration where there is no CRIU).

Design: an abstract base class, one instance per back-end *domain* - the set
of servers that back-end manages (emulated servers in namespaces for
``netns``, libvirt daemons for ``libvirt``, dictionaries for ``fake``).
Migration is a driver method because only the driver knows how to move its
own state; it returns a measured :class:`~openvolcano.api.lava.MigrationReport`.
Implementations: :mod:`.fake` (in memory), :mod:`.netns` (real process trees
in namespaces), :mod:`.libvirt_driver` (libvirt-python), :mod:`.agent_client`
(a remote node agent). One contract test (``tests/*/lava/contract``) runs
against each of them.

Error contract (every implementation): unknown image or server ->
:class:`~openvolcano.common.errors.NotFound`; name taken, double start, stop
of a stopped image, full target server, migration to the current server ->
:class:`~openvolcano.common.errors.Conflict`; something the back-end cannot
do -> :class:`~openvolcano.api.lava.Unsupported`. A failed call leaves the
image as it was (a failed migration leaves it on its source server, running
if it was running).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import TypeVar

from openvolcano.api.lava import (
    Capabilities,
    ConsoleOutput,
    ImageSpec,
    ImageStats,
    ImageStatus,
    MigrationMode,
    MigrationReport,
    PortAttachment,
    PortSpec,
)

__all__ = ["VirtDriver"]

from openvolcano.common.errors import Conflict, NotFound

_T = TypeVar("_T")


def lookup_image(images: Mapping[str, _T], name: str) -> _T:
    """``images[name]``, or the contract's NotFound for an unknown image."""
    try:
        return images[name]
    except KeyError:
        raise NotFound(f"virtual image {name!r} not found", image=name) from None


def lookup_server(servers: Mapping[str, _T], name: str) -> _T:
    """``servers[name]``, or the contract's NotFound for an unknown server."""
    try:
        return servers[name]
    except KeyError:
        raise NotFound(f"server {name!r} not found", server=name) from None


def check_room(server: str, used: int, capacity: int) -> None:
    """The contract's Conflict when ``server`` already holds ``capacity`` images."""
    if used >= capacity:
        raise Conflict(f"server {server!r} is full ({used} of {capacity} images)", server=server)


class VirtDriver(abc.ABC):
    """Create, run, observe and move virtual images on the servers of one back-end."""

    #: Back-end name reported in statuses and capabilities (``fake``, ``netns``, ...).
    backend: str = "abstract"

    @abc.abstractmethod
    async def capabilities(self) -> Capabilities:
        """What this back-end can do on this machine (checked, not assumed)."""

    @abc.abstractmethod
    async def servers(self) -> list[str]:
        """Names of the servers this driver can place images on."""

    @abc.abstractmethod
    async def create(self, server: str, spec: ImageSpec) -> ImageStatus:
        """Define ``spec`` on ``server`` (state ``defined``; not started)."""

    @abc.abstractmethod
    async def start(self, name: str) -> ImageStatus:
        """Start a defined or stopped image; return once its service port answers."""

    @abc.abstractmethod
    async def stop(self, name: str) -> ImageStatus:
        """Stop a running image (graceful, then forced); its state is kept."""

    @abc.abstractmethod
    async def destroy(self, name: str) -> None:
        """Stop the image if needed and remove it with its state and ports."""

    @abc.abstractmethod
    async def status(self, name: str) -> ImageStatus:
        """Current state and location of one image."""

    @abc.abstractmethod
    async def list_images(self) -> list[ImageStatus]:
        """Every image this driver manages, sorted by name."""

    @abc.abstractmethod
    async def stats(self, name: str) -> ImageStats:
        """CPU, memory and I/O counters of one image."""

    @abc.abstractmethod
    async def console(self, name: str, max_bytes: int = 65536) -> ConsoleOutput:
        """The last ``max_bytes`` of the image's console output."""

    @abc.abstractmethod
    async def attach_port(self, name: str, port: PortSpec) -> PortAttachment:
        """Give the image a NIC whose server-side end is a port of the server's switch."""

    @abc.abstractmethod
    async def migrate(self, name: str, target: str, mode: MigrationMode) -> MigrationReport:
        """Move the image to ``target``; the report says which mode actually ran."""

    async def close(self) -> None:  # noqa: B027 - optional hook, most drivers hold nothing
        """Release connections; images keep running (use :meth:`destroy` to remove them)."""
