"""The real twin of FakeStandby: EmulatedStandby freezes a netlab server and takes it off the wire.

A "server" namespace runs a process (placed in a uniquely named cgroup of the
freezer hierarchy geyser's cgroupfs picks on this machine) that writes an
ever-increasing counter to a file; a client namespace reaches it through a
Linux bridge. Committing the server's standby EAS through geyser's GAL REST
app must freeze the process (the counter stops) and set its interface down
(ping fails); committing the active EAS again must thaw it and bring it back.
A standby that cannot complete (a port that does not exist) must fail the
commit and leave the server awake.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from anyio.from_thread import start_blocking_portal

from openvolcano.caldera.geyser.agent import GeyserAgent
from openvolcano.caldera.geyser.app import create_app
from openvolcano.caldera.geyser.cgroupfs import CgroupFs, CgroupV1, detect_freezer
from openvolcano.caldera.geyser.config import GeyserConfig
from openvolcano.common.clock import FakeClock
from openvolcano.netlab.build import Lab
from openvolcano.netlab.topo import Topology

pytestmark = pytest.mark.root

CGROUP_ROOT = Path("/sys/fs/cgroup")
SERVER_IP = "10.77.0.1"
TOPO = Topology.parse(
    {
        "hosts": [
            {"name": "server", "ipv4": f"{SERVER_IP}/24"},
            {"name": "client", "ipv4": "10.77.0.2/24"},
        ],
        "switches": [
            {"name": "s1", "ports": [{"name": "p1", "port_no": 1}, {"name": "p2", "port_no": 2}]}
        ],
        "links": [{"a": "server", "b": "s1:p1"}, {"a": "client", "b": "s1:p2"}],
    }
)
# Rewrites the counter file (atomically) every 20 ms, for as long as it runs.
COUNTER = (
    "import os, sys, time\n"
    "path, i = sys.argv[1], 0\n"
    "while True:\n"
    "    i += 1\n"
    "    with open(path + '.tmp', 'w') as f: f.write(str(i))\n"
    "    os.replace(path + '.tmp', path)\n"
    "    time.sleep(0.02)\n"
)


def wait_for(pred: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``pred`` until true or ``timeout`` seconds pass (bounded; never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


@dataclass
class Server:
    lab: Lab
    freezer: CgroupFs
    cgroup: str
    cgroup_dir: Path
    counter_file: Path

    def counter(self) -> int:
        text = self.counter_file.read_text() if self.counter_file.exists() else ""
        return int(text) if text else 0

    def ping(self) -> bool:
        res = self.lab.run("client", ["ping", "-c", "1", "-W", "1", SERVER_IP], timeout=10)
        return res.returncode == 0

    def link_up(self) -> bool:
        out = self.lab.run("server", ["ip", "-o", "link", "show", "dev", "eth0"], check=True)
        flags = out.stdout.split("<", 1)[1].split(">", 1)[0].split(",")
        return "UP" in flags

    def freezer_file_says_frozen(self) -> bool:
        if isinstance(self.freezer, CgroupV1):
            return (self.cgroup_dir / "freezer.state").read_text().strip() == "FROZEN"
        return "frozen 1" in (self.cgroup_dir / "cgroup.events").read_text().splitlines()


@pytest.fixture
def server(netlab: Callable[..., Lab], tmp_path: Path) -> Iterator[Server]:
    freezer = detect_freezer(CGROUP_ROOT)
    if freezer is None:
        pytest.skip("no cgroup freezer (v2 cgroup.freeze or v1 freezer) on this machine")
    lab = netlab(TOPO)
    lab.run("s1", ["ip", "link", "add", "br0", "type", "bridge"], check=True)
    for port in ("p1", "p2"):
        lab.run("s1", ["ip", "link", "set", lab.iface("s1", port), "master", "br0"], check=True)
    lab.run("s1", ["ip", "link", "set", "br0", "up"], check=True)
    name = f"ovgeyser-standby-{uuid.uuid4().hex[:8]}"
    root = freezer.root  # type: ignore[attr-defined]
    cg_dir = (root / "freezer" / name) if isinstance(freezer, CgroupV1) else (root / name)
    counter_file = tmp_path / "counter"
    cg_dir.mkdir()
    proc = None
    try:
        proc = lab.popen("server", [sys.executable, "-c", COUNTER, str(counter_file)])
        # `ip netns exec` remounts /sys, so the cgroup is joined from here, by pid.
        (cg_dir / "cgroup.procs").write_text(f"{proc.pid}\n")
        srv = Server(lab, freezer, name, cg_dir, counter_file)
        wait_for(lambda: srv.counter() > 0, 15, "the server's counter process to start")
        yield srv
    finally:
        if (cg_dir / "cgroup.procs").exists() and freezer.frozen(name):
            freezer.set_frozen(name, False)  # a frozen process cannot be stopped
        if proc is not None:
            lab.stop(proc)
        wait_for(lambda: not (cg_dir / "cgroup.procs").read_text().strip(), 10, "cgroup to empty")
        cg_dir.rmdir()


class RestClient:
    """geyser's JSON GAL app, called synchronously in-process (ASGI, no socket)."""

    def __init__(self, app: Any, portal: Any) -> None:
        self.portal = portal
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g")

    def call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.portal.call(lambda: self.http.request(method, url, **kwargs))  # type: ignore[no-any-return]


@pytest.fixture
def rest() -> Iterator[Callable[[GeyserAgent], RestClient]]:
    with start_blocking_portal() as portal:
        clients: list[RestClient] = []

        def make(agent: GeyserAgent) -> RestClient:
            clients.append(RestClient(create_app(agent, FakeClock(), False), portal))
            return clients[-1]

        yield make
        for c in clients:
            portal.call(c.http.aclose)


def agent_for(srv: Server, ports: list[str]) -> GeyserAgent:
    cfg = GeyserConfig.model_validate(
        {
            "cgroup_root": str(CGROUP_ROOT),
            "interfaces": [],
            "standby": {
                "mode": "emulated",
                "cgroup": srv.cgroup,
                "ports": ports,
                "netns": srv.lab.netns("server"),
            },
        }
    )
    agent = GeyserAgent.from_config(cfg)
    agent.start(0.0)
    return agent


def test_standby_freezes_the_server_and_takes_its_ports_down(
    server: Server, rest: Callable[[GeyserAgent], RestClient]
) -> None:
    client = rest(agent_for(server, ["eth0"]))
    states = client.call("GET", "/gal/resources/0").json()["states"]
    assert any(s["id"] == 1 and "EMULATED" in s["name"] for s in states)
    wait_for(server.ping, 15, "the client to reach the awake server")
    before = server.counter()
    wait_for(lambda: server.counter() > before, 5, "the awake server's counter to advance")

    assert (
        client.call("PUT", "/gal/resources/0/provisioned", json={"state_id": 1}).status_code == 200
    )
    assert server.counter() > before  # provisioning alone changes nothing
    resp = client.call("POST", "/gal/resources/0/commit")
    assert resp.status_code == 200, resp.text
    assert resp.json()["changed"] == ["0"]

    assert server.freezer.freeze_state(server.cgroup) == "frozen"
    assert server.freezer_file_says_frozen()
    assert not server.link_up()
    frozen_at = server.counter()
    time.sleep(0.3)  # the observation window: ~15 increments if it still ran
    assert server.counter() == frozen_at
    assert not server.ping()
    assert client.call("GET", "/gal/resources/0/state").json()["state"]["id"] == 1

    assert (
        client.call("PUT", "/gal/resources/0/provisioned", json={"state_id": 0}).status_code == 200
    )
    resp = client.call("POST", "/gal/resources/0/commit")
    assert resp.status_code == 200, resp.text
    assert server.freezer.freeze_state(server.cgroup) == "thawed"
    assert server.link_up()
    wait_for(lambda: server.counter() > frozen_at, 5, "the woken server's counter to advance")
    wait_for(server.ping, 15, "the client to reach the woken server")


def test_failed_standby_leaves_the_server_awake(
    server: Server, rest: Callable[[GeyserAgent], RestClient]
) -> None:
    client = rest(agent_for(server, ["eth0", "nosuch0"]))
    assert (
        client.call("PUT", "/gal/resources/0/provisioned", json={"state_id": 1}).status_code == 200
    )
    resp = client.call("POST", "/gal/resources/0/commit")
    assert resp.status_code == 502
    body = resp.json()
    assert body["error"] == "commit_failed"
    assert "nosuch0" in body["message"]
    assert "server left awake" in body["message"]
    assert server.link_up()  # eth0 had gone down first and was set up again
    assert server.freezer.freeze_state(server.cgroup) == "thawed"
    assert client.call("GET", "/gal/resources/0/state").json()["state"]["id"] == 0
    before = server.counter()
    wait_for(lambda: server.counter() > before, 5, "the server's counter to keep advancing")
    wait_for(server.ping, 15, "the client to reach the server")
