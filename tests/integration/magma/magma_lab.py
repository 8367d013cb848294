"""Shared plumbing of magma's integration tests: hosts, links and three switches in a line.

h1 -- s1 -- s2 -- s3 -- h3, plus a host "hm" with two legs of the same MAC:
``eth0`` on s1 port 3 (up) and ``eth1`` on s3 port 3 (down). Moving the host
takes eth0 down and brings eth1 up: its interface (its MAC) now sits on
another switch. The switches are either bridges of one private Open vSwitch
(userspace datapath) or ``openvolcano quake`` processes; both are driven by
the same backend interface, and both are inspected and tampered with through
``ovs-ofctl -O OpenFlow13`` (a bridge name for OVS, quake's passive
``ptcp`` listener for quake). Everything created is removed exactly, also
on failure; processes are stopped by pid. :func:`poll_until` and
:func:`stop_process` are the waiting and stopping of a magma *process* that
the process-level tests share.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from openvolcano.api import magma as api
from openvolcano.netlab.ovs import OvsNotInstalled, PrivateOvs, find_binaries
from openvolcano.stratov.magma.events import Event, Subscription

OPENVOLCANO = str(Path(sys.executable).with_name("openvolcano"))
DPIDS = {"s1": 0xA1, "s2": 0xA2, "s3": 0xA3}
HOSTS = {"h1": "10.0.0.1", "h3": "10.0.0.3", "hm": "10.0.0.9"}
HM_MAC = "02:00:00:00:09:09"
# (switch, interface key, port number); interface keys are resolved by Plumbing.build
PORTS = [("s1", "h1", 1), ("s1", "s1s2", 2), ("s1", "hm", 3), ("s2", "s2s1", 1),
         ("s2", "s2s3", 2), ("s3", "s3s2", 1), ("s3", "h3", 2), ("s3", "hm2", 3)]  # fmt: skip
LINKS = {
    (DPIDS["s1"], 2, DPIDS["s2"], 1), (DPIDS["s2"], 1, DPIDS["s1"], 2),
    (DPIDS["s2"], 2, DPIDS["s3"], 1), (DPIDS["s3"], 1, DPIDS["s2"], 2),
}  # fmt: skip


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=30)


def require_root_and_ovs(why: str) -> None:
    """Skip the calling test unless it runs as root (``why``) with Open vSwitch installed."""
    if os.geteuid() != 0:
        pytest.skip(f"needs root ({why})")
    try:
        find_binaries()
    except OvsNotInstalled as e:
        pytest.skip(str(e))


def poll_until(
    what: str,
    pred: Callable[[], bool],
    proc: subprocess.Popen[bytes],
    tail: Callable[[], str] = lambda: "",
    timeout: float = 30,
) -> None:
    """Until ``pred()`` holds (a REST transport error means "not up yet"); the pause between
    tries also notices magma (``proc``) dying. ``tail``: its log, for the failure message."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if pred():
                return
        except httpx.TransportError:
            pass  # REST not listening yet
        try:
            proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            continue
        raise AssertionError(f"magma exited with {proc.returncode} waiting for {what}: {tail()}")
    raise AssertionError(f"magma: no {what} within {timeout:g}s: {tail()}")


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop ``proc`` by pid: ``sig``, then SIGKILL after 10 s."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Plumbing:
    """Namespaces and veth pairs this test creates, removed exactly (also on failure)."""

    def __init__(self) -> None:
        self.sfx = secrets.token_hex(2)
        self.netns: list[str] = []
        self.links: list[str] = []
        self.ifaces: dict[str, str] = {}

    def ns(self, host: str) -> str:
        return f"ovm-{host}-{self.sfx}"

    def _leg(self, host: str, key: str, dev: str, up: bool) -> None:
        root_end, host_end = f"{key}r{self.sfx}", f"{key}h{self.sfx}"
        _ip("link", "add", root_end, "type", "veth", "peer", "name", host_end)
        self.links.append(root_end)
        _ip("link", "set", host_end, "netns", self.ns(host))
        _ip("-n", self.ns(host), "link", "set", host_end, "name", dev)
        _ip("link", "set", root_end, "up")
        if host == "hm":
            _ip("-n", self.ns(host), "link", "set", dev, "address", HM_MAC)
        if up:
            _ip("-n", self.ns(host), "link", "set", dev, "up")
        self.ifaces[key] = root_end

    def host(self, name: str, addr: str, second_leg: bool = False) -> None:
        ns = self.ns(name)
        _ip("netns", "add", ns)
        self.netns.append(ns)
        # no IPv6 chatter: a host is seen only where the test makes it send
        _ip("netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
        _ip("netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
        self._leg(name, name, "eth0", up=True)
        _ip("-n", ns, "addr", "add", f"{addr}/24", "dev", "eth0")
        _ip("-n", ns, "link", "set", "lo", "up")
        if second_leg:
            self._leg(name, f"{name}2", "eth1", up=False)

    def wire(self, a: str, b: str) -> None:
        x, y = f"{a}{b}a{self.sfx}", f"{a}{b}b{self.sfx}"
        _ip("link", "add", x, "type", "veth", "peer", "name", y)
        self.links.append(x)
        _ip("link", "set", x, "up")
        _ip("link", "set", y, "up")
        self.ifaces[f"{a}{b}"], self.ifaces[f"{b}{a}"] = x, y

    def build(self) -> None:
        self.host("h1", HOSTS["h1"])
        self.host("h3", HOSTS["h3"])
        self.host("hm", HOSTS["hm"], second_leg=True)
        self.wire("s1", "s2")
        self.wire("s2", "s3")

    def ports(self, switch: str) -> list[tuple[str, int]]:
        return [(self.ifaces[key], no) for sw, key, no in PORTS if sw == switch]

    def ping(self, host: str, dst: str, dev: str = "eth0") -> bool:
        r = subprocess.run(
            ["ip", "netns", "exec", self.ns(host), "ping", "-c", "1", "-W", "1", "-I", dev, dst],
            capture_output=True,
            timeout=10,
        )
        return r.returncode == 0

    def move_hm(self) -> None:
        """Unplug hm from s1 port 3 and plug the same MAC into s3 port 3."""
        ns = self.ns("hm")
        _ip("-n", ns, "link", "set", "eth0", "down")
        _ip("-n", ns, "addr", "flush", "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth1", "up")
        _ip("-n", ns, "addr", "add", f"{HOSTS['hm']}/24", "dev", "eth1")

    def teardown(self) -> None:
        for link in self.links:
            subprocess.run(["ip", "link", "del", link], capture_output=True, timeout=30)
        for ns in self.netns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)


_COOKIE = re.compile(r"cookie=(0x[0-9a-f]+)")


class Switches(Protocol):
    """Three switches in a line, pointed at one controller target."""

    def start(self, target: str) -> None: ...
    def ofctl(self, switch: str, *args: str) -> str: ...
    def restart(self, switch: str) -> None: ...
    def stop(self) -> None: ...


def cookies(sw: Switches, switch: str) -> list[int]:
    out = sw.ofctl(switch, "dump-flows")
    return [int(m.group(1), 16) for m in map(_COOKIE.search, out.splitlines()) if m]


class OvsSwitches:
    """Three bridges of one private OVS; restart = SIGKILL + restart of ovs-vswitchd."""

    def __init__(self, net: Plumbing) -> None:
        self.net = net
        self.ovs = PrivateOvs()
        self.br = {n: f"ovm{n}{net.sfx}" for n in DPIDS}

    def start(self, target: str) -> None:
        self.ovs.start()
        for name, dpid in DPIDS.items():
            self.ovs.add_bridge(self.br[name], controller=target, datapath_id=dpid)
            self.ovs.vsctl("set", "controller", self.br[name], "max_backoff=1000")
            for ifname, no in self.net.ports(name):
                self.ovs.add_port(self.br[name], ifname, ofport=no)

    def ofctl(self, switch: str, *args: str) -> str:
        return self.ovs.ofctl(args[0], self.br[switch], *args[1:])

    def restart(self, switch: str) -> None:
        self.ovs.restart_vswitchd(kill=True)  # one daemon serves all three bridges

    def stop(self) -> None:
        self.ovs.stop()


class QuakeSwitches:
    """One ``openvolcano quake`` process per switch (root namespace, AF_PACKET on the veths)."""

    def __init__(self, net: Plumbing) -> None:
        self.net = net
        self.ofctl_bin = find_binaries().ovs_ofctl
        self.listen = {n: free_port() for n in DPIDS}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.target = ""

    def _spawn(self, name: str) -> None:
        argv = [OPENVOLCANO, "quake", "--dpid", str(DPIDS[name]), "--tables", "4",
                "--controller", self.target, "--listen", f"ptcp:{self.listen[name]}:127.0.0.1"]  # fmt: skip
        for ifname, no in self.net.ports(name):
            argv += ["--port", f"{ifname}={no}"]
        self.procs[name] = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )

    def start(self, target: str) -> None:
        self.target = target
        for name in DPIDS:
            self._spawn(name)
        for name in DPIDS:
            self._wait(name)

    def _wait(self, name: str) -> None:
        """Poll quake's listener with ovs-ofctl (bounded by ``ovs-ofctl -t``, 40 tries)."""
        for _ in range(40):
            proc = self.procs[name]
            if proc.poll() is not None:
                raise AssertionError(f"quake {name} exited: {proc.stderr.read()!r}")  # type: ignore[union-attr]
            r = subprocess.run(
                [self.ofctl_bin, "-O", "OpenFlow13", "-t", "1", "show", self._at(name)],
                capture_output=True,
                timeout=10,
            )
            if r.returncode == 0:
                return
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.25)  # pause between tries; returns early if quake died
        raise AssertionError(f"quake {name} did not answer ovs-ofctl")

    def _at(self, name: str) -> str:
        return f"tcp:127.0.0.1:{self.listen[name]}"

    def ofctl(self, switch: str, *args: str) -> str:
        r = subprocess.run(
            [self.ofctl_bin, "-O", "OpenFlow13", "-t", "5", args[0], self._at(switch), *args[1:]],
            capture_output=True,
            timeout=20,
            check=True,
        )
        return r.stdout.decode()

    def restart(self, switch: str) -> None:
        proc = self.procs[switch]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()
        self._spawn(switch)
        self._wait(switch)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
            if proc.stderr is not None:
                proc.stderr.close()


def cross(a: int, b: int) -> list[dict[str, Any]]:
    def out(p: int) -> list[dict[str, Any]]:
        return [{"type": "apply_actions", "actions": [{"type": "output", "port": p}]}]

    return [
        {"priority": 100, "match": {"in_port": a}, "instructions": out(b)},
        {"priority": 100, "match": {"in_port": b}, "instructions": out(a)},
    ]


PN_JSON: dict[str, Any] = {
    "switches": {f"{DPIDS[s]:x}": {"flows": cross(1, 2)} for s in ("s1", "s2", "s3")}
}
PN = api.OwnerState.model_validate(PN_JSON)


async def wait_for(sub: Subscription, pred: Callable[[Event], bool], timeout: float = 20) -> Event:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while True:
            ev = await sub.get()
            if pred(ev):
                return ev


async def until(pred: Callable[[], Any], timeout: float = 20) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not pred():  # noqa: ASYNC110 - polls switches and real sockets, bounded
            await asyncio.sleep(0.1)
