"""The steps of ``openvolcano demo`` (see :mod:`openvolcano.netlab.edge_demo` for the story).

Role: each method of :class:`EdgeSteps` is one step of the edge demo; it
does the work through the daemons' public interfaces (magma, lava, geyser and
quake REST; ``ip`` in the lab's namespaces), checks the outcome, and returns
the figures the summary table shows. A failed check raises
:class:`~openvolcano.netlab.edge_procs.DemoError` saying what was expected.

Design: the orchestration that crater/conduit will do is spelled out here,
in the open: read where the device is (magma ``GET /hosts``), where the NAS
is (lava ``GET /images/{name}`` + the server-to-switch inventory
:data:`SERVER_PORTS`), compute the PN (:mod:`.pn_standin`), ``PUT`` it, and
wait until magma reports the switches in sync.

Invariants: :meth:`EdgeSteps.teardown` can be called after any step (or a
half-done one) and removes exactly what was made: the NAS image through lava,
the daemons by pid, the user's second leg, then the lab.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx

from openvolcano.api import magma as mapi
from openvolcano.netlab.build import Lab, NetlabError
from openvolcano.netlab.edge_procs import (
    OPENVOLCANO,
    PROBE_SCRIPT,
    Daemons,
    DemoError,
    free_port,
    outages,
    wait_until,
)
from openvolcano.netlab.pn_standin import Member, owner_of, personal_network_rules
from openvolcano.netlab.topo import Topology

__all__ = ["ALICE_MAC", "NAS_MAC", "SERVER_PORTS", "EdgeSteps", "edge_topology"]

ALICE_MAC, BOB_MAC, NAS_MAC = "02:0a:11:ce:00:01", "02:0b:0b:00:00:02", "02:0a:5a:00:00:64"
ALICE_IP, BOB_IP, NAS_IP = "10.0.0.1", "10.0.0.2", "10.0.0.100"
DPID_A, DPID_B = 0xA1, 0xB1
#: Where each lava server's bridge uplink enters its site's quake: server -> (dpid, port).
SERVER_PORTS = {"edge-a": (DPID_A, 4), "edge-b": (DPID_B, 2)}
ROAM_PORT = 3  # site B's port for the user's second leg
USER = "alice"
FETCH = r"""
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(sys.argv[1], timeout=float(sys.argv[2])) as r:
        sys.stdout.write(r.read().decode())
except Exception as exc:
    sys.exit(f"{type(exc).__name__}: {exc}")
"""


def edge_topology() -> Topology:
    """Two sites (quake switches), a WAN link, two servers, the user and a second user."""
    return Topology.parse({
        "hosts": [
            {"name": "alice", "ipv4": f"{ALICE_IP}/24", "mac": ALICE_MAC},
            {"name": "bob", "ipv4": f"{BOB_IP}/24", "mac": BOB_MAC},
        ],
        "switches": [
            {"name": "site-a", "dpid": hex(DPID_A), "ports": [
                {"name": "alice", "port_no": 1}, {"name": "bob", "port_no": 2},
                {"name": "wan", "port_no": 3}, {"name": "srv", "port_no": 4}]},
            {"name": "site-b", "dpid": hex(DPID_B), "ports": [
                {"name": "wan", "port_no": 1}, {"name": "srv", "port_no": 2}]},
            {"name": "srv-a", "ports": [{"name": "up", "port_no": 1}]},
            {"name": "srv-b", "ports": [{"name": "up", "port_no": 1}]},
        ],
        "links": [
            {"a": "alice", "b": "site-a:alice"}, {"a": "bob", "b": "site-a:bob"},
            {"a": "site-a:wan", "b": "site-b:wan"},
            {"a": "srv-a:up", "b": "site-a:srv"}, {"a": "srv-b:up", "b": "site-b:srv"},
        ],
    })  # fmt: skip


class EdgeSteps:
    """The demo's world (lab, daemons, endpoints) and its steps."""

    def __init__(
        self,
        say: Callable[[str], None],
        lab: Lab,
        daemons: Daemons,
        http: httpx.Client,
        tmp: Path,
        timeout: float,
    ) -> None:
        self.say, self.lab, self.daemons, self.http = say, lab, daemons, http
        self.tmp, self.timeout = tmp, timeout
        self.sfx = lab.suffix
        self.nas = f"nas-{USER}-{self.sfx}"
        self.content = f"{USER}'s holiday photos, {secrets.token_hex(4)}\n"
        self.urls: dict[str, str] = {}
        self.roam = f"roam-{self.sfx}"
        self.nas_created = False
        self.built = False

    # -- helpers -------------------------------------------------------------------------

    def _wait(self, what: str, fn: Callable[[], Any]) -> Any:
        return wait_until(what, fn, self.timeout, self.daemons)

    def _get(self, base: str, path: str) -> Any:
        r = self.http.get(self.urls[base] + path)
        r.raise_for_status()
        return r.json()

    def _lava(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        r = self.http.request(method, self.urls["lava"] + path, json=body, timeout=60.0)
        if r.status_code >= 400:
            raise DemoError(f"lava {method} {path}: {r.status_code} {r.text.strip()}")
        return r.json() if r.content else None

    def _ns_run(self, node: str, argv: list[str], timeout: float = 30.0) -> None:
        self.lab.run(node, argv, check=True, timeout=timeout)

    def _fetch(self, node: str, timeout: float) -> subprocess.CompletedProcess[str]:
        url = f"http://{NAS_IP}:8080/files/photos.txt"
        return self.lab.run(node, [sys.executable, "-c", FETCH, url, str(timeout)], timeout=30)

    def endpoints(self) -> dict[str, str]:
        """What an operator can look at while the demo is kept running."""
        out = dict(self.urls)
        out.update({f"netns {n}": self.lab.netns(n) for n in ("alice", "bob", "site-a", "site-b")})
        out["nas image netns"] = f"lava-{self.nas}"
        return out

    # -- step 1 ------------------------------------------------------------------------

    def build_network(self) -> dict[str, Any]:
        self.lab.build()
        self.built = True
        for srv in ("srv-a", "srv-b"):  # the server's internal switch: image NICs join br0
            up = self.lab.iface(srv, "up")
            self._ns_run(srv, ["ip", "link", "add", "br0", "type", "bridge"])
            self._ns_run(srv, ["ip", "link", "set", up, "master", "br0"])
            self._ns_run(srv, ["ip", "link", "set", "br0", "up"])
        # alice's second leg, unplugged: same MAC, plugged into site B when she moves
        subprocess.run(
            ["ip", "link", "add", self.roam, "netns", self.lab.netns("site-b"), "type", "veth",
             "peer", "name", "eth1", "netns", self.lab.netns("alice")],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        self._ns_run("alice", ["ip", "link", "set", "eth1", "address", ALICE_MAC])
        self._ns_run("site-b", ["ip", "link", "set", self.roam, "up"])
        self.say(
            f"   namespaces {', '.join(self.lab.netns(n) for n in ('site-a', 'site-b'))} ...;"
            " servers' images join bridge br0 uplinked to their site's quake (quake cannot add"
            " ports at runtime)"
        )
        return {"namespaces": 6, "veth_pairs": 6}

    # -- step 2 ------------------------------------------------------------------------

    def _site_ports(self, site: str) -> list[str]:
        ns = self.lab.netns(site)
        ports = [(p.name, p.port_no) for p in self.lab.topo.node(site).ports]  # type: ignore[union-attr]
        specs = [f"{self.lab.iface(site, name)}@{ns}={no}" for name, no in ports]
        if site == "site-b":
            specs.append(f"{self.roam}@{ns}={ROAM_PORT}")
        return specs

    def start_network_daemons(self) -> dict[str, Any]:
        of, rest = free_port(), free_port()
        self.urls["magma"] = f"http://127.0.0.1:{rest}"
        t0 = time.monotonic()
        self.daemons.start("magma", [
            OPENVOLCANO, "magma", "--listen", f"tcp:127.0.0.1:{of}", "--api",
            f"127.0.0.1:{rest}", "--no-state-db", "--lldp-interval", "0.5"])  # fmt: skip
        # quake re-dials with a growing backoff: let magma listen first
        self._wait("magma's REST API", lambda: self._get("magma", "/switches") is not None)
        for site, dpid in (("site-a", DPID_A), ("site-b", DPID_B)):
            api = free_port()
            self.urls[f"quake-{site[-1]}"] = f"http://127.0.0.1:{api}"
            argv = [OPENVOLCANO, "quake", "--dpid", hex(dpid), "--tables", "4",
                    "--controller", f"tcp:127.0.0.1:{of}", "--api", f"127.0.0.1:{api}"]  # fmt: skip
            for spec in self._site_ports(site):
                argv += ["--port", spec]
            self.daemons.start(f"quake-{site[-1]}", argv)
        want = {mapi.format_dpid(DPID_A), mapi.format_dpid(DPID_B)}
        self._wait("both switches connected to magma",
                   lambda: want <= {s["dpid"] for s in self._get("magma", "/switches")})  # fmt: skip
        t_up = time.monotonic() - t0
        self.say(f"   magma sees switches {sorted(want)} after {t_up:.2f} s")
        wan = {(DPID_A, 3, DPID_B, 1), (DPID_B, 1, DPID_A, 3)}
        self._wait("LLDP to find the WAN link in both directions", lambda: wan <= self._links())
        t_link = time.monotonic() - t0
        self.say(f"   LLDP found the inter-site link {DPID_A:#x}:3 <-> {DPID_B:#x}:1")
        return {"switches": 2, "switches_up_s": round(t_up, 2), "link_found_s": round(t_link, 2)}

    def _links(self) -> set[tuple[int, int, int, int]]:
        return {
            (int(x["src_dpid"], 16), x["src_port"], int(x["dst_dpid"], 16), x["dst_port"])
            for x in self._get("magma", "/links")
        }

    # -- step 3 ------------------------------------------------------------------------

    def create_nas(self) -> dict[str, Any]:
        port = free_port()
        self.urls["lava"] = f"http://127.0.0.1:{port}"
        argv = [OPENVOLCANO, "lava", "agent", "--backend", "netns", "--listen",
                f"127.0.0.1:{port}", "--state-dir", str(self.tmp / "lava"), "--capacity", "4"]  # fmt: skip
        for srv, ns in (("edge-a", "srv-a"), ("edge-b", "srv-b")):
            argv += ["--server", f"{srv}:{self.lab.netns(ns)}:br0"]
        self.daemons.start("lava", argv)
        self._wait("the lava agent", lambda: self._get("lava", "/health"))
        t0 = time.monotonic()
        self._lava(
            "POST", "/images", {"server": "edge-a", "spec": {"name": self.nas, "kind": "nas"}}
        )
        self.nas_created = True
        self._lava("POST", f"/images/{self.nas}/ports", {
            "host_ifname": f"nas-{self.sfx}", "mac": NAS_MAC, "address": f"{NAS_IP}/24"})  # fmt: skip
        st = self._lava("POST", f"/images/{self.nas}/start")
        t_start = time.monotonic() - t0
        self.say(f"   NAS {self.nas} running on edge-a (pid {st['pid']}) in {t_start:.2f} s")
        # provision the user's file over the image's own loopback (its namespace is lava-<name>)
        put = (
            "import sys, urllib.request as u; o = u.build_opener(u.ProxyHandler({}));"
            "r = u.Request('http://127.0.0.1:8080/files/photos.txt', data=sys.argv[1].encode(),"
            " method='PUT'); o.open(r, timeout=10).read()"
        )
        subprocess.run(
            ["ip", "netns", "exec", f"lava-{self.nas}", sys.executable, "-c", put, self.content],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        self.say(f"   put photos.txt ({len(self.content)} B) into the NAS")
        return {"nas": "edge-a", "start_s": round(t_start, 2), "file_bytes": len(self.content)}

    # -- step 4: the crater stand-in ---------------------------------------------------

    def _host(self, mac: str) -> tuple[int, int] | None:
        for h in self._get("magma", "/hosts"):
            if h["mac"].lower() == mac:
                return int(h["dpid"], 16), int(h["port_no"])
        return None

    def _nas_member(self) -> Member:
        server = self._lava("GET", f"/images/{self.nas}")["server"]
        return Member(NAS_MAC, *SERVER_PORTS[server])

    def apply_pn(self, members: list[Member]) -> tuple[dict[str, int], float]:
        """Compute the PN for ``members``, PUT it, wait until magma has it installed."""
        state = personal_network_rules(members, self._links())
        counts = {dpid: len(rules.flows) for dpid, rules in state.switches.items()}
        t0 = time.monotonic()
        r = self.http.put(
            f"{self.urls['magma']}/owners/{owner_of(USER)}", json=state.model_dump(mode="json")
        )
        if r.status_code >= 400:
            raise DemoError(f"magma refused the PN: {r.status_code} {r.text.strip()}")

        def installed() -> bool:
            for dpid in (DPID_A, DPID_B):
                rep = self._get("magma", f"/switches/{mapi.format_dpid(dpid)}/flows")
                mine = [f for f in rep["installed"] if f["owner"] == owner_of(USER)]
                if not rep["in_sync"] or len(mine) != counts.get(mapi.format_dpid(dpid), 0):
                    return False
            return True

        self._wait("magma to report the PN installed and every switch in sync", installed)
        return counts, time.monotonic() - t0

    def install_pn(self) -> dict[str, Any]:
        self.lab.run("alice", ["ping", "-c", "1", "-W", "0.2", NAS_IP])  # be seen (packet-in)
        where = self._wait("magma to learn where alice's device is", lambda: self._host(ALICE_MAC))
        self.say(f"   magma: alice's device {ALICE_MAC} at {where[0]:#x} port {where[1]}")
        counts, took = self.apply_pn([Member(ALICE_MAC, *where), self._nas_member()])
        self.say(f"   PUT /owners/{owner_of(USER)}: rules per switch {counts}")
        rep = self._get("magma", f"/switches/{mapi.format_dpid(DPID_A)}/flows")
        for f in rep["installed"]:
            if f["owner"] == owner_of(USER):
                self.say(
                    f"     {DPID_A:#x} prio {f['priority']} {f['match']} -> {f['instructions']}"
                )
        self.say(f"   installed == desired on both switches after {took:.2f} s")
        return {"rules": sum(counts.values()), "in_sync_s": round(took, 2)}

    # -- step 5 ------------------------------------------------------------------------

    def fetch_and_isolation(self) -> dict[str, Any]:
        t0 = time.monotonic()
        r = self._fetch("alice", 5.0)
        took = time.monotonic() - t0
        if r.returncode != 0 or r.stdout != self.content:
            raise DemoError(f"alice could not fetch her file: {r.stderr.strip() or r.stdout!r}")
        self.say(f"   alice GET http://{NAS_IP}:8080/files/photos.txt: OK ({took * 1000:.0f} ms)")
        # bob even knows the NAS's MAC (static neighbour): only the PN rules can stop him
        self._ns_run("bob", ["ip", "neigh", "replace", NAS_IP, "lladdr", NAS_MAC, "dev", "eth0"])
        b = self._fetch("bob", 2.0)
        if b.returncode == 0:
            raise DemoError("isolation broken: bob fetched alice's file")
        reason = b.stderr.strip().splitlines()[-1] if b.stderr.strip() else "failed"
        self.say(f"   bob GET (static ARP for the NAS): blocked - {reason}")
        return {"alice_fetch_ms": round(took * 1000), "bob_blocked": True}

    # -- step 6 ------------------------------------------------------------------------

    def follow_me(self) -> dict[str, Any]:
        out = self.tmp / "probe.txt"
        url = f"http://{NAS_IP}:8080/files/photos.txt"
        probe = self.lab.popen(
            "alice", [sys.executable, "-c", PROBE_SCRIPT, url, str(out), "0.01", self.content],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

        def oks_after(t: float) -> int:
            lines = out.read_text().splitlines() if out.exists() else []
            return sum(1 for x in lines if x.endswith(" 1") and float(x.split()[0]) > t)

        try:
            self._wait("the device's probe to reach the NAS", lambda: oks_after(0) >= 5)
            t_move = time.monotonic()
            self._ns_run("alice", ["sh", "-c", "ip link set eth0 down && ip addr flush dev eth0 &&"
                                   f" ip link set eth1 up && ip addr add {ALICE_IP}/24 dev eth1"])  # fmt: skip
            self.say("   alice's device unplugged at site A, plugged in at site B")
            self._wait("magma's host-moved (alice at site B)",
                       lambda: self._host(ALICE_MAC) == (DPID_B, ROAM_PORT))  # fmt: skip
            t_seen = time.monotonic() - t_move
            self.say(
                f"   magma /hosts: alice moved to {DPID_B:#x} port {ROAM_PORT} (+{t_seen:.2f} s)"
            )
            alice = Member(ALICE_MAC, DPID_B, ROAM_PORT)
            counts, _ = self.apply_pn([alice, self._nas_member()])
            self.say(f"   PN re-routed across the WAN link while the NAS is still at A: {counts}")
            rep = self._lava(
                "POST", f"/images/{self.nas}/migrate", {"target": "edge-b", "mode": "cold"}
            )
            self.say(
                f"   lava migrated the NAS to edge-b: {rep['mode_used']}, total"
                f" {rep['total_s']:.2f} s, downtime {rep['downtime_s']:.2f} s, {rep['bytes_moved']} B"
            )
            counts, _ = self.apply_pn([alice, self._nas_member()])
            t_done = time.monotonic()
            self.say(f"   PN now local to site B: {counts}")
            self._wait("the device to reach its NAS at site B", lambda: oks_after(t_done) >= 3)
        finally:
            self.lab.stop(probe)
        gaps, n, failed = outages(out.read_text().splitlines())
        r = self._fetch("alice", 5.0)
        if r.returncode != 0 or r.stdout != self.content:
            raise DemoError(f"alice could not fetch her file from site B: {r.stderr.strip()}")
        self.say(
            f"   alice fetched photos.txt from site B; probe: {n} GETs every 10 ms, {failed} failed"
        )
        return {
            "host_moved_s": round(t_seen, 2),
            "migration": rep["mode_used"],
            "lava_downtime_s": round(rep["downtime_s"], 2),
            "client_downtime_s": round(sum(gaps), 2),
            "outages": len(gaps),
        }

    # -- step 7 ------------------------------------------------------------------------

    def _start_geysers(self) -> None:
        for site in ("a", "b"):
            port = free_port()
            self.urls[f"geyser-{site}"] = f"http://127.0.0.1:{port}"
            pid = self.daemons.procs[f"quake-{site}"].pid
            cfg = self.tmp / f"geyser-{site}.toml"
            cfg.write_text(
                f'refresh_s = 0.5\ninterfaces = []\n[power]\nmodel = "edge-server-{site}"\n'
                f'idle_w = 60.0\nmax_w = 150.0\n[[processes]]\nname = "quake"\npid = {pid}\n'
            )
            self.daemons.start(f"geyser-{site}", [
                OPENVOLCANO, "geyser", "--port", str(port), "--config", str(cfg)])  # fmt: skip

    def _reading(self, geyser: str, resource: str, sensor: str) -> dict[str, Any] | None:
        r = self.http.get(f"{self.urls[geyser]}/gal/resources/{resource}/sensors/{sensor}")
        return r.json() if r.status_code == 200 else None  # 503 until the first reading

    def observe(self) -> dict[str, Any]:
        self._start_geysers()
        figs: dict[str, Any] = {}
        for site in ("a", "b"):
            g = f"geyser-{site}"
            power = self._wait(f"{g}'s power reading", partial(self._reading, g, "0", "power"))
            cpu = self._wait(f"{g}'s CPU reading", partial(self._reading, g, "0", "cpu_load"))
            qcpu = self._wait(f"{g}'s quake CPU", partial(self._reading, g, "0.proc-quake", "cpu"))
            self.say(
                f"   geyser server {site.upper()}: power {power['value']:.1f} {power['unit']}"
                f" ({power['origin']}), cpu {cpu['value']:.1f} {cpu['unit']} ({cpu['origin']}),"
                f" quake cpu {qcpu['value']:.1f} {qcpu['unit']} ({qcpu['origin']})"
            )
            figs[f"power_{site}_w"] = round(power["value"], 1)
        for site in ("a", "b"):
            status = self._get(f"quake-{site}", "/status")
            ports = ", ".join(
                f"{p['port_no']}:{p['counters']['rx_packets']}/{p['counters']['tx_packets']}"
                for p in status["ports"]
            )
            self.say(f"   quake {site.upper()} port rx/tx packets {ports}")
        packet = f"eth_src={ALICE_MAC},eth_dst={NAS_MAC},ipv4_src={ALICE_IP},ipv4_dst={NAS_IP},tcp_dst=8080"
        argv = [OPENVOLCANO, "quake", "trace", "--switch", self.urls["quake-b"], "--in-port",
                str(ROAM_PORT), packet]  # fmt: skip
        text = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=True).stdout
        self.say(
            f"   $ openvolcano quake trace --switch {self.urls['quake-b']} --in-port {ROAM_PORT} '{packet}'"
        )
        for line in text.strip().splitlines():
            self.say(f"     {line}")
        report = json.loads(
            subprocess.run([*argv, "--json"], capture_output=True, text=True, timeout=30,
                           check=True).stdout
        )  # fmt: skip
        outs = [o["port"] for o in report["outputs"]]
        if outs != [SERVER_PORTS["edge-b"][1]]:
            raise DemoError(f"trace: expected output to the server port, got {outs}")
        figs["trace_out_port"] = outs[0]
        return figs

    # -- teardown ----------------------------------------------------------------------

    def teardown(self) -> dict[str, Any]:
        problems: list[str] = []
        if self.nas_created:
            try:
                self._lava("DELETE", f"/images/{self.nas}")
            except (DemoError, httpx.HTTPError) as exc:
                problems.append(f"NAS image: {exc}")
        self.daemons.stop_all()
        if self.built:
            subprocess.run(["ip", "-n", self.lab.netns("site-b"), "link", "del", self.roam],
                           capture_output=True, timeout=30)  # fmt: skip
        try:
            self.lab.teardown()
        except NetlabError as exc:
            problems.append(str(exc))
        if problems:
            raise DemoError("; ".join(problems))
        return {"left_behind": 0}
