"""Real quake worker processes on veth pairs in netlab namespaces (root).

Topology: generator namespace ``ga`` -> switch namespace ``sw`` (ports 1, 2,
3) -> sinks ``gb`` (port 2) and ``gc`` (port 3). The pool's workers run in
``sw`` with PACKET_MMAP ports in one fanout group per port. Frames carry a
global sequence number after the UDP header, so the sinks can tell what was
forwarded when.
"""

from __future__ import annotations

import select
import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from openvolcano.caldera.quake.fastpath.compact import Record, RecordingPipeline
from openvolcano.caldera.quake.fastpath.pool import WorkerPool
from openvolcano.caldera.quake.pipeline import StaticPorts
from openvolcano.caldera.quake.ports.mmap import MmapPort
from openvolcano.netlab.build import Lab
from openvolcano.netlab.topo import Topology
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import FlowMod
from openvolcano.ofp.oxm import Match, OxmTLV

pytestmark = [pytest.mark.root]

TIMEOUT = 10.0
DPORT = 5001


def frame(flow: int, seq: int) -> bytes:
    eth = bytes.fromhex("02aabbccdd0202aabbccdd010800")
    ip = bytes.fromhex("4500002e00004000401100000a0000010a000002")
    udp = struct.pack("!HHHH", flow, DPORT, 26, 0)
    return eth + ip + udp + struct.pack("!I", seq) + bytes(14)


def seq_of(f: bytes) -> int:
    return int(struct.unpack_from("!I", f, 42)[0])


def records(agent: RecordingPipeline, msgs: list[FlowMod]) -> list[Record]:
    """Apply ``msgs`` on the agent's pipeline: the compact records it ships the workers."""
    for m in msgs:
        agent.apply_flow_mod(m, 0.0)
    out, agent.pending = agent.pending, []
    return out


def rule(sport: int | None, out: int) -> FlowMod:
    fields = [OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=1)]
    if sport is not None:
        fields += [OxmTLV(field=c.OFPXMT_OFB_ETH_TYPE, value=0x0800),
                   OxmTLV(field=c.OFPXMT_OFB_IP_PROTO, value=17),
                   OxmTLV(field=c.OFPXMT_OFB_UDP_SRC, value=sport)]  # fmt: skip
    ins = (InstructionApplyActions(actions=(ActionOutput(port=out, max_len=0),)),)
    return FlowMod(command=c.OFPFC_ADD, priority=10, match=Match(fields=tuple(fields)),
                   instructions=ins)  # fmt: skip


@dataclass
class Net:
    lab: Lab
    gen: MmapPort
    sinks: dict[int, MmapPort]
    got: dict[int, list[bytes]]

    def pool(self, workers: int) -> WorkerPool:
        sw = [(self.lab.iface("sw", f"p{i}"), i) for i in (1, 2, 3)]
        return WorkerPool(sw, max_workers=workers, n_tables=1, netns=self.lab.netns("sw"))

    def drain(self, timeout: float = 0.0) -> int:
        fds = [p.fileno() for p in self.sinks.values()]
        select.select(fds, [], [], timeout)
        n = 0
        for no, p in self.sinks.items():
            fs = [f for f in p.recv_batch(4096) if len(f) >= 46 and f[36:38] == b"\x13\x89"]
            self.got[no] += fs
            n += len(fs)
        return n

    def wait_for(self, total: int) -> None:
        deadline = time.monotonic() + TIMEOUT
        while sum(map(len, self.got.values())) < total and time.monotonic() < deadline:
            self.drain(0.2)


@pytest.fixture
def net(netlab: Callable[..., Lab]) -> Iterator[Net]:
    topo = Topology.parse(
        {
            "hosts": [],
            "switches": [
                {"name": "sw", "ports": [{"name": f"p{i}", "port_no": i} for i in (1, 2, 3)]},
                {"name": "ga", "ports": [{"name": "p1", "port_no": 1}]},
                {"name": "gb", "ports": [{"name": "p1", "port_no": 1}]},
                {"name": "gc", "ports": [{"name": "p1", "port_no": 1}]},
            ],
            "links": [
                {"a": "sw:p1", "b": "ga:p1"},
                {"a": "sw:p2", "b": "gb:p1"},
                {"a": "sw:p3", "b": "gc:p1"},
            ],
        }
    )
    lab = netlab(topo, prefix="ovf")
    gen = MmapPort(lab.iface("ga", "p1"), netns=lab.netns("ga"))
    sinks = {2: MmapPort(lab.iface("gb", "p1"), netns=lab.netns("gb")),
             3: MmapPort(lab.iface("gc", "p1"), netns=lab.netns("gc"))}  # fmt: skip
    for p in (gen, *sinks.values()):
        p.open()
    yield Net(lab, gen, sinks, {2: [], 3: []})
    for p in (gen, *sinks.values()):
        p.close()


def test_workers_share_the_port_and_active_count_changes_without_loss(net: Net) -> None:
    pool = net.pool(2)
    pool.start()
    try:
        assert pool.status()["max"] == 2
        assert len(pool.status()["pids"]) == 2
        agent = RecordingPipeline(pool.n_tables, StaticPorts([1, 2, 3]))
        pool.publish(records(agent, [rule(None, 2)]))
        assert pool.wait_barrier("installed")
        assert min(pool.log.acked.values()) == pool.log.version
        sent: list[bytes] = []
        seq = 0
        parked_rx: list[int] = []

        def sync() -> list[int]:
            """Every worker exports its counters when it applies an (empty) update."""
            pool.publish([])
            assert pool.wait_barrier(("sync", len(sent)))
            return pool.stats()["rx_frames"]  # type: ignore[return-value]

        for step in range(60):  # a steady low-rate stream; 2 -> 1 -> 2 active workers
            if step == 20:
                pool.set_active(1)
                net.wait_for(len(sent))
                parked_rx.append(sync()[1])
            elif step == 40:
                net.wait_for(len(sent))
                parked_rx.append(sync()[1])
                pool.set_active(2)
            batch = [frame(flow, seq + i) for i, flow in enumerate(range(1000, 1032))]
            seq += len(batch)
            assert net.gen.send_batch(batch) == len(batch)
            sent += batch
            net.drain(0.01)
        net.wait_for(len(sent))
        assert sorted(net.got[2]) == sorted(sent)  # nothing lost, nothing duplicated
        assert not net.got[3]
        rx = sync()
        assert parked_rx[0] == parked_rx[1]  # the parked worker received nothing new
        assert rx[1] > parked_rx[1]
        assert rx[0] > 0
        assert sum(rx) == len(sent)
        assert pool.status()["active"] == 2
    finally:
        pool.stop()


def test_ten_thousand_flow_mods_switch_atomically_between_packet_batches(net: Net) -> None:
    pool = net.pool(1)
    pool.start()
    try:
        agent = RecordingPipeline(pool.n_tables, StaticPorts([1, 2, 3]))
        pool.publish(records(agent, [rule(i, 2) for i in range(10_000)]))
        assert pool.wait_barrier("to-b", timeout=60)
        sent: list[bytes] = []
        seq = 0
        switched = False
        for step in range(80):
            if step == 30:  # every rule now outputs to port 3, in one update
                pool.publish(records(agent, [rule(i, 3) for i in range(10_000)]))
                pool.barrier("to-c")
            if not switched and step > 30:
                switched = "to-c" in pool.poll(0.0)
            batch = [frame(flow, seq + i) for i, flow in enumerate(range(64))]
            seq += len(batch)
            net.gen.send_batch(batch)
            sent += batch
            net.drain(0.005)
        deadline = time.monotonic() + 60
        while not switched and time.monotonic() < deadline:
            switched = "to-c" in pool.poll(0.1)
        assert switched
        net.wait_for(len(sent))
        to_b, to_c = [seq_of(f) for f in net.got[2]], [seq_of(f) for f in net.got[3]]
        assert sorted(to_b + to_c) == list(range(len(sent)))
        assert to_c, "the second update never took effect"
        # one worker, one in-order stream: every frame before the switch went to B, after to C
        assert max(to_b, default=-1) < min(to_c)
    finally:
        pool.stop()
