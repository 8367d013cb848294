"""Every catalogue image runs under the netns back-end and answers its health check."""

# Test set-up runs short blocking commands (ip, a client in a namespace) on purpose.
# ruff: noqa: ASYNC221

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Backend, netns_backend, suffix
from openvolcano.api.lava import ImageKind, ImageSpec, ImageState
from openvolcano.stratov.lava.catalogue import DEFAULT_PORTS

pytestmark = [pytest.mark.root, pytest.mark.anyio]

_HTTP_HEALTH = "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())"
# MQTT 3.1.1 CONNECT (clean session, keep-alive 10 s, client id "lv"); the broker answers CONNACK 0.
_MQTT_HEALTH = (
    "import socket, sys; s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), 5); "
    "s.sendall(bytes([0x10, 14, 0, 4]) + b'MQTT' + bytes([4, 2, 0, 10, 0, 2]) + b'lv'); "
    "sys.stdout.write(s.recv(4).hex())"
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("kind", [ImageKind.NAS, ImageKind.SENSOR, ImageKind.STB, ImageKind.HUB])
async def test_catalogue_image_is_healthy_in_netns(kind: ImageKind, tmp_path: Path) -> None:
    if kind is ImageKind.HUB and shutil.which("mosquitto", path="/usr/sbin:/usr/bin") is None:
        pytest.skip("mosquitto is not installed (make deps installs it)")
    async with netns_backend(tmp_path) as b:
        assert isinstance(b, Backend)
        name = f"{kind.value}-{suffix()}"
        status = await b.driver.start(
            (await b.driver.create("a", ImageSpec(name=name, kind=kind))).name
        )
        assert status.state is ImageState.RUNNING
        netns = b.driver.image_netns(name)  # type: ignore[attr-defined]
        port = DEFAULT_PORTS[kind]
        if kind is ImageKind.HUB:
            argv = [sys.executable, "-c", _MQTT_HEALTH, str(port)]
            expected = "20020000"
        else:
            argv = [sys.executable, "-c", _HTTP_HEALTH, f"http://127.0.0.1:{port}/health"]
            expected = "ok\n"
        out = subprocess.run(
            ["ip", "netns", "exec", netns, *argv], capture_output=True, check=False, timeout=30
        )
        assert out.returncode == 0, out.stderr.decode()
        assert out.stdout.decode() == expected
        await b.driver.stop(name)
