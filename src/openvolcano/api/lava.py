"""REST bodies and value types of lava, shared by StratoV's lava and the Caldera node agent.

Role: lava (paper section IV) creates, starts, stops, migrates and destroys
*virtual images* - the software twins of a user's home devices (paper section
II) - on whatever virtualization back-end a server runs. The control-plane
side (``openvolcano.stratov.lava``) and the node agent that runs on remote
servers (``openvolcano.caldera.lavanode``) never import each other: this
module is the only vocabulary they share, so every driver call that crosses
the network is one of these models serialised as JSON.

Design: plain pydantic models with strict field validation. Names of images,
servers and interfaces are restricted to a conservative alphabet because they
end up in file names, cgroup paths, network-namespace names and libvirt XML.

Invariants:

* ``ImageSpec.name`` and ``ServerName`` values match :data:`NAME_PATTERN`.
* A :class:`MigrationReport` always states the mode that actually ran
  (``mode_used``), which may differ from the one requested: a back-end that
  cannot migrate live says so instead of pretending.
* No I/O here: this is a foundation layer (see the import contracts).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from openvolcano.common.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OpenVolcanoError,
    Unavailable,
)

__all__ = [
    "IFNAME_PATTERN",
    "MAC_PATTERN",
    "NAME_PATTERN",
    "Capabilities",
    "ConsoleOutput",
    "CreateImageRequest",
    "ErrorBody",
    "ImageKind",
    "ImageSpec",
    "ImageState",
    "ImageStats",
    "ImageStatus",
    "MigrateRequest",
    "MigrationMode",
    "MigrationReport",
    "PortAttachment",
    "PortSpec",
    "Unsupported",
    "error_from_body",
]

#: Image and server names: used in paths, netns names and XML, so kept conservative.
NAME_PATTERN = r"^[a-z][a-z0-9-]{0,30}$"
#: Linux interface names (IFNAMSIZ - 1 = 15 characters).
IFNAME_PATTERN = r"^[A-Za-z0-9_.-]{1,15}$"
#: Unicast or multicast Ethernet address, lower case, colon separated.
MAC_PATTERN = r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"

Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageKind(StrEnum):
    """Catalogue entries standing for the paper's home devices (``custom``: any command)."""

    NAS = "nas"
    SENSOR = "sensor"
    STB = "stb"
    HUB = "hub"
    CUSTOM = "custom"


class ImageState(StrEnum):
    """Life cycle: defined -> running <-> stopped; destroy removes the image."""

    DEFINED = "defined"
    RUNNING = "running"
    STOPPED = "stopped"


class MigrationMode(StrEnum):
    """``live``: memory state travels, short pause; ``cold``: stop, copy state, restart."""

    LIVE = "live"
    COLD = "cold"


class ImageSpec(_Model):
    """What to run: a catalogue kind (or a custom command) with resource limits.

    ``command`` is only used by process back-ends (netns, fake) for ``custom``
    images; catalogue kinds get their command from the back-end's catalogue.
    ``service_port`` is the TCP port the image listens on once it is up; lava
    waits for it after start and after migration (that is what "up" means when
    downtime is measured). ``cpu_cores`` and ``memory_mb`` become cgroup limits
    (netns) or vCPU/memory of a domain (libvirt).
    """

    name: Name
    kind: ImageKind = ImageKind.CUSTOM
    command: list[str] = Field(default_factory=list)
    service_port: int | None = Field(default=None, ge=1, le=65535)
    cpu_cores: float = Field(default=1.0, gt=0, le=64)
    memory_mb: int = Field(default=128, ge=16, le=1 << 20)
    env: dict[str, str] = Field(default_factory=dict)


class CreateImageRequest(_Model):
    """``POST /images``: define ``spec`` on ``server`` (started only if ``start``)."""

    server: Name
    spec: ImageSpec
    start: bool = False


class ImageStatus(_Model):
    """Where an image is and whether it runs (``pid`` of its init for process back-ends)."""

    name: Name
    server: Name
    backend: str
    state: ImageState
    kind: ImageKind
    pid: int | None = None


class ImageStats(_Model):
    """Resource usage of a running image since it was (last) started."""

    name: Name
    cpu_seconds: float = Field(ge=0)
    memory_bytes: int = Field(ge=0)
    io_read_bytes: int = Field(ge=0)
    io_write_bytes: int = Field(ge=0)


class ConsoleOutput(_Model):
    """The tail of an image's console (stdout/stderr or serial console)."""

    name: Name
    text: str


class PortSpec(_Model):
    """Attach the image's NIC: ``host_ifname`` is the server-side end, a switch port.

    The image side is named ``image_ifname`` inside the image; ``address`` is
    an optional ``IP/prefix`` configured on it; ``mac`` pins its Ethernet
    address so that a migrated image keeps its identity on the PN.
    """

    host_ifname: Annotated[str, Field(pattern=IFNAME_PATTERN)]
    image_ifname: Annotated[str, Field(pattern=IFNAME_PATTERN)] = "eth0"
    mac: Annotated[str, Field(pattern=MAC_PATTERN)] | None = None
    address: str | None = Field(default=None, pattern=r"^[0-9a-fA-F:.]+/\d{1,3}$")


class PortAttachment(_Model):
    """An attached NIC as it is now: the server-side port and the image-side MAC."""

    image: Name
    server: Name
    host_ifname: str
    image_ifname: str
    mac: str
    address: str | None = None


class MigrateRequest(_Model):
    """``POST /images/{name}/migrate``: move to ``target`` server in ``mode``."""

    target: Name
    mode: MigrationMode = MigrationMode.COLD
    migration_uri: str | None = None


class MigrationReport(_Model):
    """What a migration did, measured by the driver that ran it.

    ``downtime_s`` runs from the moment the image stopped answering on the
    source (stop, or the final pause of a live migration) until it answers
    again on the target; ``total_s`` covers the whole call. ``bytes_moved`` is
    the state copied (files for cold, memory+state for live).
    ``memory_preserved`` is true only when the running processes' memory
    survived (live/CRIU); ``disk_preserved`` when the state directory did.
    """

    image: Name
    source: Name
    target: Name
    mode_requested: MigrationMode
    mode_used: MigrationMode
    total_s: float = Field(ge=0)
    downtime_s: float = Field(ge=0)
    bytes_moved: int = Field(ge=0)
    memory_preserved: bool
    disk_preserved: bool
    note: str = ""


class Capabilities(_Model):
    """What a back-end can do, so that crater plans only what will work."""

    backend: str
    live_migration: bool
    cold_migration: bool
    console: bool
    resource_limits: bool
    network_ports: bool
    kinds: list[ImageKind]


class ErrorBody(_Model):
    """JSON error body of the node agent (same shape as ``OpenVolcanoError.to_dict``)."""

    error: str
    message: str
    details: dict[str, object] | None = None


class Unsupported(OpenVolcanoError):
    """The back-end cannot do this at all (e.g. live migration without CRIU) (HTTP 501)."""

    http_status = 501
    code = "unsupported"


def error_from_body(status: int, body: ErrorBody) -> OpenVolcanoError:
    """Rebuild the typed error a peer reported, so both sides of the agent raise the same class."""

    classes: dict[str, type[OpenVolcanoError]] = {
        cls.code: cls for cls in (Conflict, InvalidInput, NotFound, Unavailable, Unsupported)
    }
    cls = classes.get(body.error, OpenVolcanoError)
    return cls(body.message, **(body.details or {}), http_status_seen=status)
