"""quake on real interfaces: two hosts in namespaces, quake in the switch namespace.

Managed by ``ovs-ofctl -O OpenFlow13`` through quake's passive listener; the
hosts' pings follow the rules. Needs root and the ovs-ofctl binary. The
management test runs for the single-process switch (``--workers 0``) and for
the fast path (``--workers 1``: a worker process forwards, the agent holds the
tables); fail-mode standalone is not implemented with workers yet, and that
refusal is checked to be one clear line.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from openvolcano.netlab.build import Lab
from openvolcano.netlab.topo import Topology

pytestmark = [pytest.mark.root, pytest.mark.ovs]

OF_PORT = 16653
TARGET = f"tcp:127.0.0.1:{OF_PORT}"
OPENVOLCANO = str(Path(sys.executable).with_name("openvolcano"))
TOPO = {
    "hosts": [
        {"name": "h1", "ipv4": "10.0.0.1/24", "mac": "02:00:00:00:00:01"},
        {"name": "h2", "ipv4": "10.0.0.2/24", "mac": "02:00:00:00:00:02"},
    ],
    "switches": [
        {"name": "s1", "ports": [{"name": "p1", "port_no": 1}, {"name": "p2", "port_no": 2}]}
    ],
    "links": [{"a": "h1", "b": "s1:p1"}, {"a": "h2", "b": "s1:p2"}],
}


@pytest.fixture
def lab(netlab: Callable[..., Lab]) -> Lab:
    if shutil.which("ovs-ofctl") is None:
        pytest.skip("ovs-ofctl not installed")
    return netlab(Topology.parse(TOPO))


def start_quake(lab: Lab, *extra: str) -> subprocess.Popen[str]:
    argv = [OPENVOLCANO, "quake", "--dpid", "0x2a", "--tables", "8",
            "--port", lab.iface("s1", "p1"), "--port", lab.iface("s1", "p2"),
            "--listen", f"ptcp:{OF_PORT}:127.0.0.1", *extra]  # fmt: skip
    proc = lab.popen("s1", argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # poll until the OpenFlow listener answers
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"quake exited with {proc.returncode}: {err}")
        if ofctl(lab, "show", check=False).returncode == 0:
            return proc
        time.sleep(0.2)
    pytest.fail("quake did not answer ovs-ofctl within 20 s")


def ofctl(lab: Lab, cmd: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return lab.run("s1", ["ovs-ofctl", "-O", "OpenFlow13", "-t", "5", cmd, TARGET, *args],
                   check=check)  # fmt: skip


def ping(lab: Lab) -> bool:
    r = lab.run("h1", ["ping", "-c", "2", "-i", "0.2", "-W", "1", "10.0.0.2"], timeout=20)
    return r.returncode == 0


def counted(lab: Lab, within: float = 5.0) -> str:
    """dump-flows once every rule shows packets (workers report counters each second)."""
    deadline = time.monotonic() + within
    while True:
        flows = ofctl(lab, "dump-flows").stdout
        if "n_packets=0" not in flows or time.monotonic() > deadline:
            return flows
        time.sleep(0.2)  # bounded by the deadline: the next counter report


@pytest.mark.parametrize("workers", [0, 1], ids=["single-process", "fast-path"])
def test_ovs_ofctl_manages_quake_and_ping_follows_the_rules(lab: Lab, workers: int) -> None:
    proc = start_quake(lab, "--workers", str(workers))
    show = ofctl(lab, "show").stdout
    assert "dpid:000000000000002a" in show
    assert "n_tables:8" in show
    assert f"1({lab.iface('s1', 'p1')})" in show
    assert f"2({lab.iface('s1', 'p2')})" in show
    assert not ping(lab)  # fail-secure, empty tables: everything is dropped
    ofctl(lab, "add-flow", "priority=10,in_port=1,actions=output:2")
    ofctl(lab, "add-flow", "priority=10,in_port=2,actions=output:1")
    assert ping(lab)
    flows = counted(lab)
    assert "in_port=1 actions=output:2" in flows
    assert "n_packets=0" not in flows
    ofctl(lab, "del-flows")
    assert "actions" not in ofctl(lab, "dump-flows").stdout
    assert not ping(lab)
    assert lab.stop(proc) == 0  # SIGTERM: clean shutdown, exit status 0


def test_fail_standalone_switches_without_a_controller(lab: Lab) -> None:
    proc = start_quake(lab, "--fail-mode", "standalone")
    assert ping(lab)
    assert lab.stop(proc) == 0


def test_fast_path_refuses_standalone_in_one_clear_line(lab: Lab) -> None:
    ports = ["--port", lab.iface("s1", "p1"), "--port", lab.iface("s1", "p2")]
    r = lab.run("s1", [OPENVOLCANO, "quake", *ports, "--fail-mode", "standalone",
                       "--workers", "1"])  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.strip() == "quake: fail-mode standalone is not supported with --workers"


def test_bad_port_is_one_clear_line(lab: Lab) -> None:
    r = lab.run("s1", [OPENVOLCANO, "quake", "--port", "nosuch0"])
    assert r.returncode == 2
    assert r.stderr.strip().startswith("quake: cannot open port nosuch0")
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--worker-sched", "rr"], "quake: bad --worker-sched 'rr': expected other or fifo"),
        (["--worker-sched", "fifo"], "quake: --worker-sched needs --workers N (N >= 1)"),
        (["--workers", "1", "--worker-cpus", "1,x"], "quake: bad --worker-cpus '1,x'"),
        (["--workers", "1", "--worker-cpus", "4096"], "quake: --worker-cpus: CPU 4096 is not"),
        (["--rx-thread"], "quake: --rx-thread needs --workers N (N >= 1)"),
        (["--no-batch-index"], "quake: --no-batch-index needs --workers N (N >= 1)"),
        (["--worker-batch", "512"], "quake: --worker-batch needs --workers N (N >= 1)"),
        (
            ["--workers", "1", "--worker-batch", "0"],
            "quake: bad --worker-batch 0: expected 1..1024",
        ),
    ],
)
def test_fast_path_options_are_checked_in_one_clear_line(args: list[str], message: str) -> None:
    r = subprocess.run([OPENVOLCANO, "quake", *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.startswith(message)
    assert "Traceback" not in r.stderr


def _threaded(lab: Lab, port: str) -> str:
    """The port's threaded-NAPI setting, plus "+xdp" while an XDP program is attached."""
    ifc = lab.iface("s1", port)
    threaded = lab.run("s1", ["cat", f"/sys/class/net/{ifc}/threaded"], check=True).stdout
    link = lab.run("s1", ["ip", "link", "show", ifc], check=True).stdout
    return threaded.strip() + ("+xdp" if "prog/xdp" in link else "")


def test_rx_thread_sets_up_the_ports_forwards_and_restores_at_exit(lab: Lab) -> None:
    """--rx-thread (docs/quake-fastpath.md): the ports' NAPI runs threaded while quake runs,
    ping crosses the switch, and SIGTERM puts the interfaces back as they were."""
    assert _threaded(lab, "p1") == "0"
    proc = start_quake(lab, "--workers", "1", "--rx-thread", "--worker-sched", "fifo")
    assert [_threaded(lab, p) for p in ("p1", "p2")] == ["1+xdp", "1+xdp"]  # veth ports
    ofctl(lab, "add-flow", "priority=10,in_port=1,actions=output:2")
    ofctl(lab, "add-flow", "priority=10,in_port=2,actions=output:1")
    assert ping(lab)
    assert lab.stop(proc) == 0
    assert [_threaded(lab, p) for p in ("p1", "p2")] == ["0", "0"]


def test_rx_thread_refuses_ports_in_other_namespaces_in_one_clear_line(lab: Lab) -> None:
    port = f"{lab.iface('s1', 'p1')}@{lab.netns('s1')}"
    r = subprocess.run([OPENVOLCANO, "quake", "--port", port, "--workers", "1", "--rx-thread"],
                       capture_output=True, text=True, timeout=60)  # fmt: skip
    assert r.returncode == 2
    assert r.stderr.startswith("quake: --rx-thread: ")
    assert "own network namespace" in r.stderr
    assert "Traceback" not in r.stderr
