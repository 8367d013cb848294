"""``ovs-ofctl -O OpenFlow13`` managing a live quake: the full command set, and real traffic.

Extends tests/integration/quake/test_quake_netlab.py (show, one add-flow,
ping, del-flows, fail-standalone) with a varied rule set loaded by
``add-flows`` (masks, VLAN, IPv6, TCP/UDP ports, set_field, push_vlan,
goto_table, write_metadata, meters, groups of the four types) whose
``dump-flows`` is compared field by field with the file; filtered
``del-flows`` (cookie/mask, strict, out_port); ``add-group``/``dump-groups``;
``add-meter``/``dump-meters``; ``dump-ports``, ``dump-ports-desc`` (with the
OFPP_LOCAL TAP port), ``dump-tables``, ``mod-port``; ping (iputils) and
TCP (iperf3, 1 s) between two namespaced hosts following the rules with the
hosts' offloads left at their defaults (TSO and TX checksum offload on: quake
finishes checksums and segments in software); and ``openvolcano quake trace
--switch`` asking the running switch where a packet goes.

Needs root, ovs-ofctl and iperf3.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from quake_live import OPENVOLCANO, free_port, start_quake

from openvolcano.netlab.build import Lab
from openvolcano.netlab.topo import Topology

pytestmark = [pytest.mark.root, pytest.mark.ovs]

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

# Written in the canonical form ovs-ofctl prints, so the parsed dump must equal the parsed file.
FLOWS = """\
table=0,priority=200,cookie=0x1,arp actions=FLOOD
table=0,priority=100,cookie=0x2,ip,in_port=1 actions=write_metadata:0x1/0xff,goto_table:1
table=0,priority=100,cookie=0x2,ip,in_port=2 actions=write_metadata:0x2/0xff,goto_table:1
table=0,priority=90,cookie=0x21,ipv6,in_port=1 actions=goto_table:2
table=0,priority=0,cookie=0x3 actions=drop
table=1,priority=10,cookie=0x11,tcp,metadata=0x1/0xff,nw_dst=10.0.0.2 actions=meter:1,output:2
table=1,priority=10,cookie=0x12,tcp,metadata=0x2/0xff,nw_dst=10.0.0.1 actions=output:1
table=1,priority=5,cookie=0x13,ip,nw_dst=10.0.0.2 actions=output:2
table=1,priority=5,cookie=0x13,ip,nw_dst=10.0.0.1 actions=output:1
table=2,priority=20,cookie=0x20,udp,nw_src=192.168.0.0/16,tp_src=53 \
actions=set_field:10.9.9.9->ip_dst,output:2
table=2,priority=30,cookie=0x22,dl_vlan=10,dl_vlan_pcp=3 actions=pop_vlan,output:2
table=2,priority=30,cookie=0x120,dl_dst=02:00:00:00:00:00/ff:ff:ff:00:00:00 \
actions=push_vlan:0x8100,set_field:4196->vlan_vid,output:2
table=2,priority=40,cookie=0x23,ipv6,ipv6_dst=2001:db8::/32 actions=output:1
table=2,priority=41,cookie=0x24,tcp6,ipv6_src=2001:db8::1,tp_dst=443 actions=group:2
table=3,priority=10,cookie=0x30,icmp,icmp_type=8 actions=CONTROLLER:128
table=3,priority=5,cookie=0x31,udp,tp_dst=4789 actions=group:1
table=3,priority=5,cookie=0x32,ip,nw_tos=184 actions=group:3
table=3,priority=3,cookie=0x33,arp,arp_op=1,arp_tpa=10.0.0.0/24 actions=group:4
table=3,priority=1,cookie=0x34,mpls,mpls_label=100 actions=pop_mpls:0x0800,output:1
table=3,priority=1,cookie=0x35,ip,nw_src=10.0.0.1 actions=dec_ttl,output:2
table=3,priority=2,cookie=0x36,udp6,ipv6_dst=fd00::/8,tp_dst=5353 \
actions=set_field:2->ip_dscp,output:1
"""
GROUPS = [
    "group_id=1,type=all,bucket=output:1,bucket=output:2",
    "group_id=2,type=select,bucket=weight:10,output:1,bucket=weight:20,output:2",
    "group_id=3,type=indirect,bucket=output:2",
    "group_id=4,type=ff,bucket=watch_port:1,output:1,bucket=watch_port:2,output:2",
]
GROUP_DUMP = {  # the same groups as ovs-ofctl prints them (bucket actions spelled out)
    "group_id=1,type=all,bucket=actions=output:1,bucket=actions=output:2",
    "group_id=2,type=select,bucket=weight:10,actions=output:1,bucket=weight:20,actions=output:2",
    "group_id=3,type=indirect,bucket=actions=output:2",
    "group_id=4,type=ff,bucket=watch_port:1,actions=output:1,bucket=watch_port:2,actions=output:2",
}

Flow = tuple[str, str, str, frozenset[str], str]  # table, priority, cookie, match fields, actions


def parse_flow(line: str) -> Flow:
    """A dump-flows line or an add-flows line -> comparable fields (statistics dropped)."""
    left, sep, actions = line.strip().partition(" actions=")
    assert sep, f"no actions in {line!r}"
    fields: dict[str, str] = {"table": "0", "priority": "32768", "cookie": "0x0"}
    match: set[str] = set()
    for token in re.split(r",\s*", left):
        key, eq, value = token.partition("=")
        if key in ("duration", "n_packets", "n_bytes"):
            continue
        if eq and key in fields:
            fields[key] = value
        else:
            match.add(token)
    return fields["table"], fields["priority"], fields["cookie"], frozenset(match), actions


def file_flows(text: str = FLOWS) -> Counter[Flow]:
    return Counter(parse_flow(x) for x in text.replace("\\\n", "").splitlines() if x.strip())


class Switch:
    def __init__(self, lab: Lab, of_port: int) -> None:
        self.lab, self.target = lab, f"tcp:127.0.0.1:{of_port}"

    def ofctl(self, cmd: str, *args: str, opts: tuple[str, ...] = ()) -> str:
        argv = ["ovs-ofctl", "-O", "OpenFlow13", "-t", "5", *opts, cmd, self.target, *args]
        return self.lab.run("s1", argv, check=True).stdout

    def flows(self, *filters: str) -> Counter[Flow]:
        lines = self.ofctl("dump-flows", *filters).splitlines()[1:]
        return Counter(parse_flow(x) for x in lines if x.strip())

    def n_packets(self, cookie: str) -> int:
        out = self.ofctl("dump-flows", f"cookie={cookie}/-1")
        return sum(int(n) for n in re.findall(r"n_packets=(\d+)", out))


def ping(lab: Lab, count: int = 2) -> bool:
    r = lab.run("h1", ["ping", "-c", str(count), "-i", "0.2", "-W", "1", "10.0.0.2"], timeout=20)
    return r.returncode == 0


def iperf(lab: Lab) -> dict[str, object]:
    """``iperf3 -t 1`` from h1 to a one-shot server in h2 (started here, stopped by pid).

    A run whose JSON lacks the server's side (``end.sum_received``: iperf3's
    results exchange after the test was lost, seen once in CI under load) is
    run again, at most three times in all; the last JSON is in the failure.
    """
    out = ""
    for _ in range(3):
        server = lab.popen("h2", ["iperf3", "-s", "-1", "-B", "10.0.0.2"])
        try:
            deadline = time.monotonic() + 10
            while True:  # the server needs a moment to listen: retry the client, bounded
                r = lab.run("h1", ["iperf3", "-c", "10.0.0.2", "-t", "1", "-J"], timeout=30)
                result = json.loads(r.stdout) if r.stdout.strip() else {}
                if r.returncode == 0 or "refused" not in str(result.get("error", "")):
                    break
                assert time.monotonic() < deadline, "iperf3 server never listened"
        finally:
            lab.stop(server)
        assert r.returncode == 0, r.stdout + r.stderr
        out = r.stdout
        end = result.get("end")
        if isinstance(end, dict) and "sum_received" in end:
            return result
    raise AssertionError(f"iperf3 gave no receiver summary in 3 runs; last result: {out[-3000:]}")


@pytest.fixture
def lab(netlab: Callable[..., Lab]) -> Lab:
    for tool in ("ovs-ofctl", "iperf3"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} not installed")
    return netlab(Topology.parse(TOPO))


def test_ovs_ofctl_full_management_and_traffic(lab: Lab, tmp_path: Path) -> None:
    of_port, api_port = free_port(), free_port()
    local = f"qkl-{os.urandom(3).hex()}"
    ports = [lab.iface("s1", "p1"), lab.iface("s1", "p2")]
    proc = start_quake(lab, "s1", ports, of_port, "--local-port", local,
                       "--api", f"127.0.0.1:{api_port}")  # fmt: skip
    sw = Switch(lab, of_port)

    # groups and meters first: flows refer to them
    for g in GROUPS:
        sw.ofctl("add-group", g)
    assert {x.strip() for x in sw.ofctl("dump-groups").splitlines()[1:] if x.strip()} == GROUP_DUMP
    sw.ofctl("add-meter", "meter=1,kbps,burst,band=type=drop,rate=1000000,burst_size=100000")
    sw.ofctl("add-meter", "meter=2,pktps,band=type=drop,rate=10")
    meters = " ".join(sw.ofctl("dump-meters").split())
    assert "meter=1 kbps burst bands= type=drop rate=1000000 burst_size=100000" in meters
    assert "meter=2 pktps bands= type=drop rate=10" in meters

    flows_file = tmp_path / "flows.txt"
    flows_file.write_text(FLOWS)
    sw.ofctl("add-flows", str(flows_file))
    assert sw.flows() == file_flows()
    tables = " ".join(sw.ofctl("dump-tables").split())
    for table, active in ((0, 5), (1, 4), (2, 5), (3, 7)):
        assert f"table {table}: active={active}," in tables

    # traffic follows the rules, offloads at their defaults
    assert ping(lab)
    assert sw.n_packets("0x13") >= 4  # ICMP both ways through table 1's IP rules
    result = iperf(lab)
    end = result["end"]
    assert isinstance(end, dict)
    assert end["sum_received"]["bytes"] > 1_000_000
    assert sw.n_packets("0x11") > 100  # the metered TCP rule carried the data
    ports_out = sw.ofctl("dump-ports")
    rx1 = int(re.search(r"port\s+1: rx pkts=(\d+)", ports_out).group(1))  # type: ignore[union-attr]
    assert rx1 > 100
    assert "port LOCAL:" in ports_out

    # the running switch explains a packet's path (POST /trace on its API)
    r = lab.run("s1", [OPENVOLCANO, "quake", "trace", "--switch", f"http://127.0.0.1:{api_port}",
                       "--in-port", "1", "--json",
                       "eth_src=02:00:00:00:00:01,eth_dst=02:00:00:00:00:02,ipv4_src=10.0.0.1,"
                       "ipv4_dst=10.0.0.2,tcp_src=40000,tcp_dst=5201"], check=True)  # fmt: skip
    report = json.loads(r.stdout)
    assert [(t["table_id"], t["priority"], t["cookie"]) for t in report["tables"]] == [
        (0, 100, 0x2),
        (1, 10, 0x11),
    ]
    assert [o["port"] for o in report["outputs"]] == [2]

    # port description: names, LOCAL TAP, mod-port
    desc = sw.ofctl("dump-ports-desc")
    assert f"1({ports[0]})" in desc
    assert f"2({ports[1]})" in desc
    assert f"LOCAL({local})" in desc
    sw.ofctl("mod-port", "1", "down")
    assert re.search(r"1\(.*\n\s+config:\s+PORT_DOWN", sw.ofctl("dump-ports-desc"))
    assert not ping(lab, 1)
    sw.ofctl("mod-port", "1", "up")
    assert ping(lab)
    sw.ofctl("mod-port", "2", "no-forward")
    assert not ping(lab, 1)
    sw.ofctl("mod-port", "2", "forward")
    sw.ofctl("mod-port", "2", "no-packet-in")
    assert re.search(r"2\(.*\n\s+config:\s+NO_PACKET_IN\n", sw.ofctl("dump-ports-desc"))
    assert ping(lab)

    # filtered deletes
    expected = file_flows()
    sw.ofctl("del-flows", "cookie=0x20/0xff")  # 0x20 and 0x120
    for f in list(expected):
        if int(f[2], 16) & 0xFF == 0x20:
            del expected[f]
    assert sw.flows() == expected
    sw.ofctl("del-flows", "table=2,priority=30,dl_vlan=10", opts=("--strict",))  # not exact: kept
    assert sw.flows() == expected
    sw.ofctl("del-flows", "table=2,priority=30,dl_vlan=10,dl_vlan_pcp=3", opts=("--strict",))
    for f in list(expected):
        if f[2] == "0x22":
            del expected[f]
    assert sw.flows() == expected
    sw.ofctl("del-flows", "table=3,out_port=1")
    for f in list(expected):
        if f[0] == "3" and "output:1" in f[4]:
            del expected[f]
    assert sw.flows() == expected
    assert sw.flows("table=3") == Counter({f: n for f, n in expected.items() if f[0] == "3"})
    assert lab.stop(proc) == 0


def counted(sw: Switch, cookie: str, least: int, within: float = 5.0) -> int:
    """n_packets of ``cookie`` once it reaches ``least`` (workers report counters each second)."""
    deadline = time.monotonic() + within
    while True:
        n = sw.n_packets(cookie)
        if n >= least or time.monotonic() > deadline:
            return n
        time.sleep(0.2)  # bounded by the deadline: the next counter report


def test_ovs_ofctl_flows_and_traffic_on_the_fast_path(lab: Lab, tmp_path: Path) -> None:
    """The same rule set, ping and TCP through ``--workers 1`` (no LOCAL port, no /trace:
    not available with workers yet, see docs/quake-fastpath.md)."""
    of_port = free_port()
    ports = [lab.iface("s1", "p1"), lab.iface("s1", "p2")]
    proc = start_quake(lab, "s1", ports, of_port, "--workers", "1")
    sw = Switch(lab, of_port)
    for g in GROUPS:
        sw.ofctl("add-group", g)
    assert {x.strip() for x in sw.ofctl("dump-groups").splitlines()[1:] if x.strip()} == GROUP_DUMP
    sw.ofctl("add-meter", "meter=1,kbps,burst,band=type=drop,rate=1000000,burst_size=100000")
    flows_file = tmp_path / "flows.txt"
    flows_file.write_text(FLOWS)
    sw.ofctl("add-flows", str(flows_file))
    assert sw.flows() == file_flows()

    assert ping(lab)
    assert counted(sw, "0x13", 4) >= 4
    result = iperf(lab)
    end = result["end"]
    assert isinstance(end, dict)
    assert end["sum_received"]["bytes"] > 1_000_000
    assert counted(sw, "0x11", 101) > 100
    rx1 = re.search(r"port\s+1: rx pkts=(\d+)", sw.ofctl("dump-ports"))
    assert rx1 is not None
    assert int(rx1.group(1)) > 100

    sw.ofctl("mod-port", "1", "down")
    assert not ping(lab, 1)
    sw.ofctl("mod-port", "1", "up")
    assert ping(lab)
    sw.ofctl("del-flows", "cookie=0x13/-1")
    expected = file_flows()
    for f in list(expected):
        if f[2] == "0x13":
            del expected[f]
    assert sw.flows() == expected
    assert not ping(lab, 1)  # the IP forwarding rules are gone from the worker too
    assert lab.stop(proc) == 0
