"""netlab on a real kernel: build namespaces and veths, pass traffic, remove exactly what was made.

The "switch" here is a Linux bridge created inside the switch namespace, a
stand-in for quake/OVS. All addresses live only in namespaces these tests
create.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable

import psutil
import pytest
from pyroute2 import IPRoute, netns

from openvolcano.netlab.build import Lab, NetlabError
from openvolcano.netlab.topo import Topology

pytestmark = [pytest.mark.root, pytest.mark.usefixtures("requires_root")]

TOPO = Topology.parse(
    {
        "hosts": [
            {
                "name": "h1",
                "ipv4": "10.71.0.1/24",
                "ipv6": "fd71::1/64",
                "mac": "02:71:00:00:00:01",
            },
            {"name": "h2", "ipv4": "10.71.0.2/24", "ipv6": "fd71::2/64"},
        ],
        "switches": [
            {"name": "s1", "ports": [{"name": "p1", "port_no": 1}, {"name": "p2", "port_no": 2}]}
        ],
        "links": [{"a": "h1", "b": "s1:p1"}, {"a": "h2", "b": "s1:p2"}],
    }
)


def _leftovers(suffix: str) -> list[str]:
    """Namespaces and root-namespace interfaces whose name carries the lab's suffix."""
    found = [ns for ns in netns.listnetns() if ns.endswith(f"-{suffix}")]
    with IPRoute() as ipr:
        names = [link.get_attr("IFLA_IFNAME") for link in ipr.get_links()]
    return found + [name for name in names if name.endswith(f"-{suffix}")]


def _bridge(lab: Lab) -> None:
    lab.run("s1", ["ip", "link", "add", "br0", "type", "bridge"], check=True)
    for port in ("p1", "p2"):
        lab.run("s1", ["ip", "link", "set", lab.iface("s1", port), "master", "br0"], check=True)
    lab.run("s1", ["ip", "link", "set", "br0", "up"], check=True)


def test_two_hosts_ping_through_a_switch_namespace(netlab: Callable[..., Lab]) -> None:
    lab = netlab(TOPO)
    assert lab.iface("s1", "p1") in lab.run("s1", ["ip", "-o", "link"], check=True).stdout
    h1 = lab.run("h1", ["ip", "-o", "addr", "show", "dev", "eth0"], check=True).stdout
    assert "10.71.0.1/24" in h1
    assert "fd71::1/64" in h1
    assert "02:71:00:00:00:01" in lab.run("h1", ["ip", "-o", "link", "show", "eth0"]).stdout
    # Switch namespaces have no IPv6 at all (no RS/MLD noise on switch ports).
    assert "inet6" not in lab.run("s1", ["ip", "-o", "addr"], check=True).stdout

    assert (
        lab.run("h1", ["ping", "-c", "1", "-W", "1", "10.71.0.2"]).returncode == 1
    )  # no bridge yet
    _bridge(lab)
    assert lab.run("h1", ["ping", "-c", "1", "-W", "5", "10.71.0.2"], check=True)
    assert lab.run("h2", ["ping", "-c", "1", "-W", "5", "fd71::1"], check=True)  # no DAD wait

    assert _leftovers(lab.suffix)
    lab.teardown()
    assert _leftovers(lab.suffix) == []
    lab.teardown()  # idempotent


def test_failure_inside_with_still_cleans_up() -> None:
    lab = Lab(TOPO, prefix="ovt")
    started: list[subprocess.Popen[bytes]] = []

    def failing_test_body() -> None:
        with lab:
            started.append(lab.popen("h1", ["sleep", "60"]))
            assert len(_leftovers(lab.suffix)) == 3
            raise RuntimeError("test failure")

    with pytest.raises(RuntimeError, match="test failure"):
        failing_test_body()
    assert _leftovers(lab.suffix) == []
    assert started[0].returncode == -15


def test_ctrl_c_inside_with_cleans_up() -> None:
    lab = Lab(TOPO, prefix="ovt")

    def interrupted_test_body() -> None:
        with lab:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        interrupted_test_body()
    assert _leftovers(lab.suffix) == []


class _InterruptedWhileBuilding(Lab):
    """A lab that receives Ctrl-C half-way through building (after the veths exist)."""

    def _configure_nodes(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        super()._configure_nodes()  # still runs: the signal is held until creation ends


def test_ctrl_c_during_build_cleans_up() -> None:
    lab = _InterruptedWhileBuilding(TOPO, prefix="ovt")
    with pytest.raises(KeyboardInterrupt):
        lab.build()
    assert _leftovers(lab.suffix) == []


def test_processes_are_stopped_by_pid() -> None:
    ignores_term = (
        "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        "print('ready', flush=True); time.sleep(60)"
    )
    with Lab(TOPO, prefix="ovt", stop_timeout=0.5) as lab:
        polite = lab.popen("h1", ["sleep", "60"])
        stubborn = lab.popen(
            "h2", [sys.executable, "-c", ignores_term], stdout=subprocess.PIPE, text=True
        )
        assert stubborn.stdout is not None
        assert stubborn.stdout.readline() == "ready\n"  # SIGTERM handler is installed now
        # The process really runs inside h2's namespace.
        h2_ns = os.stat(f"/run/netns/{lab.netns('h2')}").st_ino
        assert os.stat(f"/proc/{stubborn.pid}/ns/net").st_ino == h2_ns
        early = lab.popen("h1", ["sleep", "60"])
        assert lab.stop(early) == -15  # SIGTERM was enough
    assert polite.returncode == -15
    assert stubborn.returncode == -9  # ignored SIGTERM, needed SIGKILL
    assert _leftovers(lab.suffix) == []


def _dead(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_stray_child_left_in_a_lab_namespace_is_killed() -> None:
    # The daemon starts a child in a new session (outside its process group), prints its pid.
    escapes = (
        "import subprocess, time; "
        "p = subprocess.Popen(['sleep', '60'], start_new_session=True); "
        "print(p.pid, flush=True); time.sleep(60)"
    )
    with Lab(TOPO, prefix="ovt") as lab:
        daemon = lab.popen("s1", [sys.executable, "-c", escapes], stdout=subprocess.PIPE, text=True)
        assert daemon.stdout is not None
        stray = int(daemon.stdout.readline())
        assert not _dead(stray)
    assert _dead(stray)
    assert _leftovers(lab.suffix) == []


def test_failed_build_removes_only_what_it_created() -> None:
    lab = Lab(TOPO, prefix="ovt")
    squatter = lab.netns("s1")  # someone else's namespace with the name s1 would get
    netns.create(squatter)
    try:
        with pytest.raises(NetlabError, match=f"namespace {squatter} already exists"):
            lab.build()
        assert _leftovers(lab.suffix) == [squatter]  # h1's and h2's namespaces are gone
    finally:
        netns.remove(squatter)
    assert _leftovers(lab.suffix) == []
