"""magma drives a real Open vSwitch (userspace datapath): 3 switches in a line, hosts in namespaces.

h1 -- s1 -- s2 -- s3 -- h3, plus a host "hm" on s1 port 3 that later moves to s3.
Each bridge of one private OVS is a switch; links are veth pairs; hosts are
network namespaces. Checks: desired state installs and traffic flows; a
stale rule injected while magma is down is removed when magma restarts; a
switch that lost its tables (flows wiped, reconnected) is resynchronised;
LLDP finds exactly the links that exist; moving a host raises host-moved.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from openvolcano.api import magma as api
from openvolcano.netlab.ovs import OvsNotInstalled, PrivateOvs, find_binaries
from openvolcano.stratov.magma.controller import Magma, MagmaConfig
from openvolcano.stratov.magma.events import Event, Subscription

pytestmark = [pytest.mark.root, pytest.mark.ovs, pytest.mark.slow]

DPIDS = {"s1": 0xA1, "s2": 0xA2, "s3": 0xA3}
HOSTS = {"h1": "10.0.0.1", "h3": "10.0.0.3", "hm": "10.0.0.9"}


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


class Plumbing:
    """Namespaces and veth pairs this test creates, removed exactly (also on failure)."""

    def __init__(self) -> None:
        self.sfx = secrets.token_hex(2)
        self.netns: list[str] = []
        self.links: list[str] = []

    def host(self, name: str, addr: str) -> str:
        ns = f"ovm-{name}-{self.sfx}"
        _ip("netns", "add", ns)
        self.netns.append(ns)
        root_end, host_end = f"{name}r{self.sfx}", f"{name}h{self.sfx}"
        _ip("link", "add", root_end, "type", "veth", "peer", "name", host_end)
        self.links.append(root_end)
        _ip("link", "set", host_end, "netns", ns)
        _ip("-n", ns, "link", "set", host_end, "name", "eth0")
        _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("link", "set", root_end, "up")
        return root_end

    def wire(self, a: str, b: str) -> tuple[str, str]:
        x, y = f"{a}{b}a{self.sfx}", f"{a}{b}b{self.sfx}"
        _ip("link", "add", x, "type", "veth", "peer", "name", y)
        self.links.append(x)
        _ip("link", "set", x, "up")
        _ip("link", "set", y, "up")
        return x, y

    def ping(self, host: str, dst: str) -> bool:
        ns = f"ovm-{host}-{self.sfx}"
        r = subprocess.run(
            ["ip", "netns", "exec", ns, "ping", "-c", "1", "-W", "1", dst],
            capture_output=True,
            timeout=10,
        )
        return r.returncode == 0

    def teardown(self) -> None:
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, timeout=30)
        for ns in self.netns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lab() -> Iterator[tuple[PrivateOvs, Plumbing, dict[str, str]]]:
    if os.geteuid() != 0:
        pytest.skip("needs root (namespaces, veth)")
    try:
        find_binaries()
    except OvsNotInstalled as e:
        pytest.skip(str(e))
    plumbing = Plumbing()
    ovs = PrivateOvs()
    try:
        ovs.start()
        yield ovs, plumbing, {}
    finally:
        ovs.stop()
        plumbing.teardown()


def cross(a: int, b: int) -> list[dict[str, Any]]:
    def out(p: int) -> list[dict[str, Any]]:
        return [{"type": "apply_actions", "actions": [{"type": "output", "port": p}]}]

    return [
        {"priority": 100, "match": {"in_port": a}, "instructions": out(b)},
        {"priority": 100, "match": {"in_port": b}, "instructions": out(a)},
    ]


PN = api.OwnerState.model_validate(
    {
        "switches": {
            f"{DPIDS['s1']:x}": {"flows": cross(1, 2)},
            f"{DPIDS['s2']:x}": {"flows": cross(1, 2)},
            f"{DPIDS['s3']:x}": {"flows": cross(1, 2)},
        }
    }
)


async def wait_for(sub: Subscription, pred: Callable[[Event], bool], timeout: float = 20) -> Event:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while True:
            ev = await sub.get()
            if pred(ev):
                return ev


async def until(pred: Callable[[], Any], timeout: float = 20) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not pred():  # noqa: ASYNC110 - polls OVS and real sockets, bounded by the timeout
            await asyncio.sleep(0.1)


def test_line_topology_programming_resync_lldp_and_host_move(
    lab: tuple[PrivateOvs, Plumbing, dict[str, str]],
) -> None:
    ovs, net, _ = lab
    port = _free_port()
    target = f"tcp:127.0.0.1:{port}"

    def build() -> None:
        for name, dpid in DPIDS.items():
            br = f"ovm{name}{net.sfx}"
            ovs.add_bridge(br, controller=target, datapath_id=dpid)
            ovs.vsctl("set", "controller", br, "max_backoff=1000")
        h1 = net.host("h1", HOSTS["h1"])
        h3 = net.host("h3", HOSTS["h3"])
        hm = net.host("hm", HOSTS["hm"])
        s12, s21 = net.wire("s1", "s2")
        s23, s32 = net.wire("s2", "s3")
        for br, ifname, no in [
            ("s1", h1, 1), ("s1", s12, 2), ("s1", hm, 3),
            ("s2", s21, 1), ("s2", s23, 2),
            ("s3", s32, 1), ("s3", h3, 2),
        ]:  # fmt: skip
            ovs.add_port(f"ovm{br}{net.sfx}", ifname, ofport=no)

    build()
    br = {n: f"ovm{n}{net.sfx}" for n in DPIDS}

    def cookies(name: str) -> list[str]:
        return ovs.dump_flows(br[name])

    async def run_magma(body: Callable[[Magma], Any]) -> None:
        magma = Magma(
            MagmaConfig(
                host="127.0.0.1", port=port, lldp_interval=0.5, echo_interval=1, dead_after=5
            )
        )
        task = asyncio.create_task(magma.serve())
        try:
            await body(magma)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def first(magma: Magma) -> None:
        sub = magma.bus.subscribe()
        await until(lambda: len(magma.sessions) == 3)
        await magma.put_owner("pn-a", PN)
        assert all((await magma.sync()).values())
        assert await asyncio.to_thread(net.ping, "h1", HOSTS["h3"])
        # LLDP: exactly the four directed links
        want = {
            (DPIDS["s1"], 2, DPIDS["s2"], 1), (DPIDS["s2"], 1, DPIDS["s1"], 2),
            (DPIDS["s2"], 2, DPIDS["s3"], 1), (DPIDS["s3"], 1, DPIDS["s2"], 2),
        }  # fmt: skip

        def links() -> set[tuple[int, int, int, int]]:
            return {
                (int(li.src_dpid, 16), li.src_port, int(li.dst_dpid, 16), li.dst_port)
                for li in magma.topology.links()
            }

        await until(lambda: links() == want)
        # host seen on s1:3, then moved to s3:3
        await asyncio.to_thread(net.ping, "hm", "10.0.0.99")
        seen = await wait_for(sub, lambda e: isinstance(e, api.HostSeen) and e.host.port_no == 3)
        assert isinstance(seen, api.HostSeen)
        assert seen.host.dpid == api.format_dpid(DPIDS["s1"])
        hm_root = f"hmr{net.sfx}"
        await asyncio.to_thread(ovs.vsctl, "del-port", br["s1"], hm_root)
        await asyncio.to_thread(ovs.add_port, br["s3"], hm_root, ofport=3)
        moved = None
        for _ in range(10):
            await asyncio.to_thread(net.ping, "hm", "10.0.0.99")
            with contextlib.suppress(TimeoutError):
                moved = await wait_for(sub, lambda e: isinstance(e, api.HostMoved), timeout=2)
                break
        assert isinstance(moved, api.HostMoved)
        assert (moved.old_dpid, moved.old_port) == (api.format_dpid(DPIDS["s1"]), 3)
        assert (moved.host.dpid, moved.host.port_no) == (api.format_dpid(DPIDS["s3"]), 3)
        assert moved.host.mac == seen.host.mac

    asyncio.run(run_magma(first))
    # magma is down: inject a stale rule on s2 and wipe s3 (a switch that lost its tables)
    ovs.ofctl("add-flow", br["s2"], "cookie=0xbad,priority=500,in_port=1,actions=drop")
    ovs.ofctl("del-flows", br["s3"])
    assert not cookies("s3")

    async def second(magma: Magma) -> None:
        await until(lambda: len(magma.sessions) == 3 and magma.sync_runs > 0)
        assert all((await magma.sync()).values())  # nothing desired survives in magma: only system
        await magma.put_owner("pn-a", PN)
        flows2 = await asyncio.to_thread(cookies, "s2")
        assert not any("0xbad" in f for f in flows2), flows2
        assert len(await asyncio.to_thread(cookies, "s3")) == 4  # 2 system + 2 pn-a
        assert await asyncio.to_thread(net.ping, "h1", HOSTS["h3"])
        # the switch reconnects (as after a restart): resynchronised, nothing stale
        await asyncio.to_thread(
            ovs.ofctl, "add-flow", br["s1"], "cookie=0xbee,priority=7,actions=drop"
        )
        await asyncio.to_thread(ovs.vsctl, "del-controller", br["s1"])
        await until(lambda: DPIDS["s1"] not in magma.sessions)
        await asyncio.to_thread(ovs.vsctl, "set-controller", br["s1"], target)
        await until(lambda: DPIDS["s1"] in magma.sessions)
        await until(lambda: not any("0xbee" in f for f in cookies("s1")))
        assert magma.installed[DPIDS["s1"]].flows
        assert not magma.errors, list(magma.errors)

    asyncio.run(run_magma(second))
