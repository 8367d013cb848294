"""The image catalogue as process back-ends launch it: kind -> command line.

Role: the paper's home devices (NAS, set-top box/video recorder,
home-automation hub, sensor) are real small services in
``openvolcano.caldera.lavanode.images``; process back-ends (netns) start them
with the command built here. Only module *names* are referenced - StratoV
never imports Caldera code (import contract), it runs it as a program.

Invariants: every catalogue command takes ``--port`` (the image's service
port, also its health-check port) and ``--state-dir`` (its persistent state,
the directory that migration moves). ``custom`` images bring their own
command. The MQTT hub additionally needs a Debian ``mosquitto`` binary.
"""

from __future__ import annotations

import sys
from pathlib import Path

from openvolcano.api.lava import ImageKind, ImageSpec
from openvolcano.common.errors import InvalidInput

__all__ = ["DEFAULT_PORTS", "command_for"]

_MODULES = {
    ImageKind.NAS: "openvolcano.caldera.lavanode.images.nas",
    ImageKind.SENSOR: "openvolcano.caldera.lavanode.images.sensor",
    ImageKind.STB: "openvolcano.caldera.lavanode.images.stb",
    ImageKind.HUB: "openvolcano.caldera.lavanode.images.hub",
}

#: Service (and health-check) port of each catalogue kind when the spec names none.
DEFAULT_PORTS = {
    ImageKind.NAS: 8080,
    ImageKind.SENSOR: 8081,
    ImageKind.STB: 8082,
    ImageKind.HUB: 1883,
}


def command_for(spec: ImageSpec, state_dir: Path) -> list[str]:
    """The argv that runs ``spec`` with its persistent state in ``state_dir``."""
    if spec.kind is ImageKind.CUSTOM:
        if not spec.command:
            raise InvalidInput(f"custom image {spec.name!r} needs a command")
        return list(spec.command)
    if spec.command:
        raise InvalidInput(f"image {spec.name!r} of kind {spec.kind.value!r} takes no command")
    port = spec.service_port or DEFAULT_PORTS[spec.kind]
    return [
        sys.executable,
        "-m",
        _MODULES[spec.kind],
        "--port",
        str(port),
        "--state-dir",
        str(state_dir),
    ]
