"""Integration: a virtual NAS in netns migrates between two emulated servers, downtime measured.

Topology built here (unique names, exact cleanup): a *switch* namespace with
a bridge (the stand-in for the edge network's switches), two *server*
namespaces ``a`` and ``b`` each with its own bridge (stand-in for the
server's quake) and an uplink to the switch, a third server ``full`` with no
room, and a *client* namespace on the switch. The NAS image is attached to
server ``a`` with a fixed MAC and IP, then cold-migrated to ``b`` (CRIU is
not used: ``criu check`` is recorded, and the netns back-end reports cold).
A client inside the client namespace polls the NAS every 10 ms through the
switch; the longest gap between two successful answers is the downtime the
user saw.
"""

# Test set-up runs short blocking commands (ip, a client in a namespace) on purpose.
# ruff: noqa: ASYNC220, ASYNC221, ASYNC251

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from openvolcano.api.lava import ImageKind, ImageSpec, ImageState, MigrationMode, PortSpec
from openvolcano.common.errors import Conflict, NotFound

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.anyio]

NAS_IP = "10.77.0.10"
CLIENT_IP = "10.77.0.1"

_REQUEST = r"""
import sys, urllib.request
method, url = sys.argv[1], sys.argv[2]
data = sys.stdin.buffer.read() if method == "PUT" else None
req = urllib.request.Request(url, data=data, method=method)
with urllib.request.urlopen(req, timeout=5) as r:
    sys.stdout.buffer.write(r.read())
"""

_POLLER = r"""
import json, os, sys, time, urllib.request
url, out = sys.argv[1], sys.argv[2]
oks, fails, last_ok, max_gap = 0, 0, None, 0.0
while not os.path.exists(out + ".stop"):
    t = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=0.2) as r:
            r.read()
        ok = True
    except OSError:
        ok = False
    now = time.monotonic()
    if ok:
        if last_ok is not None:
            max_gap = max(max_gap, now - last_ok)
        last_ok = now
        oks += 1
        if oks == 1:
            open(out + ".ready", "w").close()
    else:
        fails += 1
    with open(out + ".count.tmp", "w") as f:  # atomic: the test never reads a half-written count
        f.write(str(oks))
    os.replace(out + ".count.tmp", out + ".count")
    time.sleep(max(0.0, 0.01 - (time.monotonic() - t)))
with open(out, "w") as f:
    json.dump({"oks": oks, "fails": fails, "max_gap_s": max_gap}, f)
"""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def sh(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


@dataclass
class Net:
    tag: str
    switch: str
    servers: dict[str, str]
    client: str


@pytest.fixture
def net() -> Iterator[Net]:
    if os.geteuid() != 0:
        pytest.skip("needs root")
    tag = secrets.token_hex(3)
    n = Net(
        tag=tag,
        switch=f"lvsw{tag}",
        servers={s: f"lvs{s[0]}{tag}" for s in ("a", "b", "full")},
        client=f"lvcl{tag}",
    )
    made: list[str] = []
    try:
        for ns in [n.switch, *n.servers.values(), n.client]:
            sh("ip", "netns", "add", ns)
            made.append(ns)
        for ns in [n.switch, *n.servers.values()]:
            sh("ip", "-n", ns, "link", "add", "br0", "type", "bridge")
            sh("ip", "-n", ns, "link", "set", "br0", "up")
        for i, ns in enumerate([*n.servers.values(), n.client]):
            sw_end = f"sw{i}"
            far = "eth0" if ns == n.client else "uplink"
            sh("ip", "-n", n.switch, "link", "add", sw_end, "type", "veth",
               "peer", "name", far, "netns", ns)  # fmt: skip
            sh("ip", "-n", n.switch, "link", "set", sw_end, "master", "br0", "up")
            if ns != n.client:
                sh("ip", "-n", ns, "link", "set", far, "master", "br0")
            sh("ip", "-n", ns, "link", "set", far, "up")
        sh("ip", "-n", n.client, "addr", "add", f"{CLIENT_IP}/24", "dev", "eth0")
        sh("ip", "-n", n.client, "link", "set", "lo", "up")
        yield n
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "delete", ns], check=False)


@pytest.fixture
async def driver(net: Net, tmp_path: Path) -> AsyncIterator[object]:
    from openvolcano.stratov.lava.netns import NetnsDriver, NetnsServer

    servers = [
        NetnsServer(
            name=s,
            state_root=tmp_path / s,
            netns=ns,
            bridge="br0",
            capacity=0 if s == "full" else 2,
        )
        for s, ns in net.servers.items()
    ]
    d = NetnsDriver(servers, prefix=f"lvi{net.tag}")
    try:
        yield d
    finally:
        for img in await d.list_images():
            await d.destroy(img.name)


def client(net: Net, method: str, path: str, body: bytes = b"") -> bytes:
    proc = subprocess.run(
        ["ip", "netns", "exec", net.client, sys.executable, "-c", _REQUEST, method,
         f"http://{NAS_IP}:8080{path}"],
        input=body, capture_output=True, check=False, timeout=30,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def wait_for(path: Path, timeout: float = 20.0) -> None:
    """Bounded wait for a real process to create ``path``."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"timed out waiting for {path.name}"
        time.sleep(0.01)


def criu_works() -> bool:
    if shutil.which("criu") is None:
        return False
    return subprocess.run(["criu", "check"], capture_output=True, check=False).returncode == 0


async def test_nas_follows_user_from_a_to_b(
    net: Net, driver: object, tmp_path: Path, record_property: pytest.RecordProperty
) -> None:
    from openvolcano.stratov.lava.netns import NetnsDriver

    assert isinstance(driver, NetnsDriver)
    d = driver
    name = f"nas-{net.tag}"
    await d.create("a", ImageSpec(name=name, kind=ImageKind.NAS, memory_mb=64))
    att = await d.attach_port(
        name, PortSpec(host_ifname=f"vn{net.tag}", mac="02:4e:41:53:00:01", address=f"{NAS_IP}/24")
    )
    await d.start(name)
    assert client(net, "GET", "/health") == b"ok\n"
    client(net, "PUT", "/files/before.txt", b"written before migration")
    assert (tmp_path / "a" / name / "data" / "files" / "before.txt").exists()

    out = tmp_path / "poll.json"
    poller = subprocess.Popen(
        ["ip", "netns", "exec", net.client, sys.executable, "-c", _POLLER,
         f"http://{NAS_IP}:8080/files/before.txt", str(out)],
    )  # fmt: skip
    try:
        wait_for(out.with_suffix(".json.ready"))
        report = await d.migrate(name, "b", MigrationMode.LIVE)
        count_after = int(out.with_suffix(".json.count").read_text())
        # Let the poller see the image answer from b before stopping it.
        deadline = time.monotonic() + 20
        while int(out.with_suffix(".json.count").read_text() or 0) <= count_after + 5:
            assert time.monotonic() < deadline, "client never reached the migrated NAS"
            time.sleep(0.01)
        out.with_suffix(".json.stop").touch()
        poller.wait(timeout=20)
    finally:
        if poller.poll() is None:
            poller.kill()
            poller.wait()
    polled = json.loads(out.read_text())

    record_property("criu_check", criu_works())
    record_property("mode_used", report.mode_used.value)
    record_property("driver_downtime_s", report.downtime_s)
    record_property("client_downtime_s", polled["max_gap_s"])
    print(
        f"\nnetns migration: criu_check={criu_works()} mode={report.mode_used.value} "
        f"driver downtime={report.downtime_s * 1000:.0f} ms client-seen downtime="
        f"{polled['max_gap_s'] * 1000:.0f} ms total={report.total_s * 1000:.0f} ms "
        f"bytes={report.bytes_moved} polls ok={polled['oks']} failed={polled['fails']}"
    )
    assert report.mode_used is MigrationMode.COLD  # no CRIU path in the netns back-end
    assert report.note.startswith("live migration is not available")
    assert report.bytes_moved >= len(b"written before migration")
    assert polled["fails"] > 0  # the client really saw the outage it measured

    # Served from b now: state moved, port moved with the same MAC.
    status = await d.status(name)
    assert (status.server, status.state) == ("b", ImageState.RUNNING)
    assert not (tmp_path / "a" / name).exists()
    assert (tmp_path / "b" / name / "data" / "files" / "before.txt").exists()
    link = subprocess.run(
        ["ip", "-n", net.servers["b"], "-j", "link", "show", "dev", att.host_ifname],
        capture_output=True, check=True,
    )  # fmt: skip
    assert json.loads(link.stdout)[0]["master"] == "br0"
    gone = subprocess.run(
        ["ip", "-n", net.servers["a"], "link", "show", "dev", att.host_ifname],
        capture_output=True, check=False,
    )  # fmt: skip
    assert gone.returncode != 0
    assert client(net, "GET", "/files/before.txt") == b"written before migration"
    client(net, "PUT", "/files/after.txt", b"written on b")
    assert client(net, "GET", "/files/after.txt") == b"written on b"

    # Bad requests fail cleanly and lose nothing.
    with pytest.raises(NotFound):
        await d.migrate(f"ghost-{net.tag}", "a", MigrationMode.COLD)
    with pytest.raises(Conflict, match="full"):
        await d.migrate(name, "full", MigrationMode.COLD)
    with pytest.raises(NotFound, match="server 'gone'"):
        await d.migrate(name, "gone", MigrationMode.COLD)
    with pytest.raises(Conflict, match="already running"):
        await d.start(name)
    assert client(net, "GET", "/files/before.txt") == b"written before migration"
    assert client(net, "GET", "/files/").split() == [b"after.txt", b"before.txt"]
