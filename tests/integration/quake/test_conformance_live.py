"""The conformance cases (tests/conformance/quake_cases.py) replayed against a LIVE quake.

One netlab lab for the module: a switch namespace with ports 1..4 and four
host namespaces (no addresses, IPv6 off: nothing but the test's frames on
the wires). quake runs as a process with ``--listen ptcp:PORT``; for each
case a controller (:class:`quake_live.SyncController`, a real OpenFlow
connection) clears the tables, sends the case's setup messages, the test
injects the ingress frame with an AF_PACKET socket on the in-port host's
``eth0``, and then compares, byte for byte, what the other hosts receive,
the packet-ins, and the flow counters (flow-stats) with the in-memory run of
the same case. Cases that cannot run live are listed in ``NOT_LIVE`` with
the reason and reported as skips naming it - never dropped silently.

Synchronisation without sleeps: after the injection the test polls port
stats until quake counted the frame (quake forwards a frame in the same
event-loop callback that counts it, before it reads the next request), then
waits (bounded) until each capture has the expected number of frames.
"""

from __future__ import annotations

import os
import selectors
import time
from collections.abc import Iterator

import pytest
from quake_cases import CASES, Case
from quake_live import SyncController, free_port, start_quake

from openvolcano.caldera.quake.pipeline import Pipeline, StaticPorts
from openvolcano.caldera.quake.ports.afpacket import AfPacketPort
from openvolcano.netlab.build import Lab
from openvolcano.netlab.topo import Topology
from openvolcano.ofp import consts as c
from openvolcano.ofp.messages import FlowMod, GroupMod, MeterMod
from openvolcano.ofp.multipart import (
    FlowStatsReply,
    FlowStatsRequest,
    PortStatsReply,
    PortStatsRequest,
)

pytestmark = [pytest.mark.root]

PORTS = (1, 2, 3, 4)
NOT_LIVE: dict[str, str] = {
    # name -> reason. Every case currently runs live; an entry here is reported as a skip.
}
CAPTURE_WAIT = 3.0
QUIET_WAIT = 0.3  # after the expected frames arrived: how long an extra frame may take to show


class Rig:
    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.of_port = free_port()
        self.proc = start_quake(
            lab, "s1", [f"{lab.iface('s1', f'p{n}')}={n}" for n in PORTS], self.of_port
        )
        self.ctl = SyncController(lab, "s1", self.of_port)
        self.hosts: dict[int, AfPacketPort] = {}
        for n in PORTS:
            port = AfPacketPort(lab.iface(f"h{n}"), netns=lab.netns(f"h{n}"))
            port.open()
            self.hosts[n] = port

    def close(self) -> None:
        for p in self.hosts.values():
            p.close()
        self.ctl.close()

    def reset(self) -> None:
        self.ctl.install([
            FlowMod(command=c.OFPFC_DELETE, table_id=c.OFPTT_ALL),
            GroupMod(command=c.OFPGC_DELETE, group_id=c.OFPG_ALL),
            MeterMod(command=c.OFPMC_DELETE, meter_id=c.OFPM_ALL),
        ])  # fmt: skip
        self.ctl.packet_ins.clear()
        for p in self.hosts.values():
            p.recv_batch(1024)

    def rx_packets(self, port: int) -> int:
        (reply,) = self.ctl.request(PortStatsRequest(port_no=port), PortStatsReply)
        return reply.body[0].rx_packets

    def capture(self, expected: dict[int, int]) -> dict[int, list[bytes]]:
        """Frames received by each host: until the expected counts, then a short quiet wait."""
        got: dict[int, list[bytes]] = {n: [] for n in PORTS}
        sel = selectors.DefaultSelector()
        for n, p in self.hosts.items():
            sel.register(p.fileno(), selectors.EVENT_READ, n)
        try:
            deadline = time.monotonic() + CAPTURE_WAIT
            quiet_until: float | None = None
            while True:
                now = time.monotonic()
                if all(len(got[n]) >= expected.get(n, 0) for n in PORTS):
                    quiet_until = quiet_until or now + QUIET_WAIT
                end = min(deadline, quiet_until) if quiet_until else deadline
                if now >= end:
                    break
                for key, _ in sel.select(end - now):
                    got[key.data] += self.hosts[key.data].recv_batch(64)
        finally:
            sel.close()
        return got


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, veth pairs)")
    topo = Topology.parse({
        "hosts": [{"name": f"h{n}"} for n in PORTS],
        "switches": [{"name": "s1", "ports": [{"name": f"p{n}", "port_no": n} for n in PORTS]}],
        "links": [{"a": f"h{n}", "b": f"s1:p{n}"} for n in PORTS],
    })  # fmt: skip
    with Lab(topo, prefix="ovt") as lab:  # __enter__ builds; __exit__ removes it all
        for n in PORTS:  # nothing on the wires but the test's frames
            lab.run(f"h{n}", ["sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"], check=True)
        r = Rig(lab)
        try:
            yield r
        finally:
            r.close()
            assert lab.stop(r.proc) == 0


def memory_run(case: Case) -> tuple[list[tuple[int, bytes]], list[tuple[int, int, int, int]]]:
    """The in-memory result of ``case``: outputs and (table, priority, packets, bytes) per entry."""
    pl = Pipeline(n_tables=8, ports=StaticPorts(case.ports))
    for msg in case.setup:
        if isinstance(msg, FlowMod):
            pl.apply_flow_mod(msg, 0.0)
        elif isinstance(msg, GroupMod):
            pl.apply_group_mod(msg, 0.0)
        elif isinstance(msg, MeterMod):
            pl.apply_meter_mod(msg, 0.0)
    res = pl.process(case.in_port, case.frame, 1.0)
    stats = sorted((s.table_id, s.priority, s.packet_count, s.byte_count)
                   for s in pl.flow_stats(1.0))  # fmt: skip
    return [(o.port, o.data) for o in res.outputs], stats


@pytest.mark.parametrize("case", CASES, ids=[k.name for k in CASES])
def test_case_live(rig: Rig, case: Case) -> None:
    if case.name in NOT_LIVE:
        pytest.skip(f"not replayable live: {NOT_LIVE[case.name]}")
    assert set(case.ports) <= set(PORTS), "the lab has ports 1..4"
    mem_outputs, mem_stats = memory_run(case)
    assert mem_outputs == list(case.outputs)  # the case itself is consistent

    rig.reset()
    rig.ctl.install(list(case.setup))
    before = rig.rx_packets(case.in_port)
    assert rig.hosts[case.in_port].send(case.frame)
    deadline = time.monotonic() + 5
    while rig.rx_packets(case.in_port) == before:  # each poll is a round trip to quake
        assert time.monotonic() < deadline, "quake never received the injected frame"

    expected: dict[int, list[bytes]] = {n: [] for n in PORTS}
    for port, frame in case.outputs:
        expected[port].append(frame)
    got = rig.capture({n: len(f) for n, f in expected.items()})
    got[case.in_port] = [f for f in got[case.in_port] if f != case.frame]  # our own send
    assert got == expected

    assert [(p.reason, p.table_id) for p in rig.ctl.packet_ins] == list(case.packet_ins)
    for pin in rig.ctl.packet_ins:
        assert pin.data == case.frame

    (*_, last) = replies = rig.ctl.request(FlowStatsRequest(table_id=c.OFPTT_ALL), FlowStatsReply)
    assert last is replies[-1]
    live_stats = sorted((s.table_id, s.priority, s.packet_count, s.byte_count)
                        for r in replies for s in r.body)  # fmt: skip
    assert live_stats == mem_stats
