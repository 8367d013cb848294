"""Home-automation hub: an MQTT broker (Debian mosquitto) with persistent state.

Role: the twin of a user's home-automation hub (paper section II): devices
publish and subscribe over MQTT. The broker is Debian's ``mosquitto``; this
module writes its configuration (listener on ``--port``, persistence in
``<state-dir>/mosquitto`` - the migrated state, so retained messages survive
a migration; ``user root`` because the image runs as root of its own
namespaces and the state directory is root-owned) and execs it. Its health check is the MQTT port accepting
connections (lava's start waits for it).

Invariants: the broker replaces this process (``exec``), so SIGTERM from lava
reaches mosquitto, which saves its database and exits.
"""

from __future__ import annotations

import os
import shutil
import sys

from openvolcano.caldera.lavanode.images.base import parse_args

__all__ = ["config_text", "main"]


def config_text(port: int, bind: str, persistence_dir: str) -> str:
    """mosquitto.conf for one hub image."""
    return (
        f"listener {port} {bind}\n"
        "allow_anonymous true\n"
        "user root\n"
        "persistence true\n"
        f"persistence_location {persistence_dir.rstrip('/')}/\n"
        "autosave_interval 1\n"
        "log_dest stdout\n"
    )


def main(argv: list[str] | None = None) -> None:
    args = parse_args("home-automation hub: MQTT broker", argv)
    broker = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.access(broker, os.X_OK):
        sys.exit("hub image: the mosquitto broker is not installed (Debian package mosquitto)")
    data = args.state_dir / "mosquitto"
    data.mkdir(parents=True, exist_ok=True)
    conf = args.state_dir / "mosquitto.conf"
    conf.write_text(config_text(args.port, args.bind, str(data)))
    os.execv(broker, [broker, "-c", str(conf)])


if __name__ == "__main__":
    main()
