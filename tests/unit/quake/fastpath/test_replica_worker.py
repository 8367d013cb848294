"""Replica versioning, barrier release, and the worker loop on in-memory ports (in process)."""

from __future__ import annotations

import contextlib
import errno
import pickle
import socket
import sys
from pathlib import Path

from openvolcano.caldera.quake.fastpath.compact import FlowReport, Record, RecordingPipeline
from openvolcano.caldera.quake.fastpath.replica import Replica, UpdateLog, encode_records
from openvolcano.caldera.quake.fastpath.worker import COUNTER_FIELDS, Worker, counter_slots
from openvolcano.caldera.quake.pipeline import Pipeline, StaticPorts
from openvolcano.caldera.quake.pipeline.cache import FlowCache
from openvolcano.caldera.quake.ports.memory import memory_pair
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import FlowMod
from openvolcano.ofp.oxm import Match, OxmTLV

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "conformance"))
import quake_frames as fr


def fwd(in_port: int, out_port: int, priority: int = 10) -> FlowMod:
    m = Match(fields=(OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=in_port),))
    ins = (InstructionApplyActions(actions=(ActionOutput(port=out_port, max_len=0),)),)
    return FlowMod(command=c.OFPFC_ADD, priority=priority, match=m, instructions=ins)


def applied(agent: RecordingPipeline, *msgs: FlowMod) -> list[Record]:
    """What the agent ships after applying ``msgs``: compact, pre-validated records."""
    for m in msgs:
        agent.apply_flow_mod(m, 0.0)
    out, agent.pending = agent.pending, []
    return out


def test_barrier_waits_for_every_worker_and_releases_in_order() -> None:
    log = UpdateLog()
    log.add_worker(0)
    log.add_worker(1)
    assert log.barrier("b0") == ["b0"]  # nothing published: current already
    v1 = log.publish()
    assert log.barrier("b1") == []
    v2 = log.publish()
    assert log.barrier("b2") == []
    assert log.ack(0, v2) == []  # worker 1 still behind
    assert log.ack(1, v1) == ["b1"]
    assert log.ack(1, v1 - 1) == []  # acks never go back
    assert log.ack(1, v2) == ["b2"]
    log.publish()
    assert log.barrier("b3") == []
    assert log.remove_worker(0) == []
    assert log.remove_worker(1) == ["b3"]


def test_replica_applies_whole_updates_and_skips_what_the_agent_refused() -> None:
    ports = StaticPorts([1, 2, 3])
    pl = Pipeline(n_tables=2, ports=ports)
    rep = Replica(pl, ports, FlowCache(pl))
    bad = FlowMod(command=c.OFPFC_ADD, table_id=1, match=Match(),
                  instructions=(InstructionApplyActions(actions=(ActionOutput(port=0, max_len=0),)),))  # fmt: skip
    rep.apply(1, [*encode_records([fwd(1, 2), bad]), ("port", 3, c.OFPPC_NO_FWD, 0)], 1.0)
    assert rep.version == 1
    assert rep.skipped == 1
    assert len(pl.tables[0]) == 1
    assert ports.port_config(3) == c.OFPPC_NO_FWD
    rep.cache.run(1, [fr.udp4_frame()], 2.0)
    assert len(rep.cache.out[2]) == 1
    rep.apply(2, encode_records([fwd(1, 3, priority=20)]), 3.0)  # now to a NO_FWD port
    rep.cache.out[2].clear()
    rep.cache.run(1, [fr.udp4_frame()], 4.0)
    assert not any(rep.cache.out.values())


def test_worker_forwards_applies_updates_between_batches_and_exports_counters() -> None:
    a_host, a_sw = memory_pair("ha", "sa")
    b_sw, b_host = memory_pair("sb", "hb")
    for p in (a_host, a_sw, b_sw, b_host):
        p.open()
    agent_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    shm = bytearray(8 * counter_slots(2))
    w = Worker({1: a_sw, 2: b_sw}, n_tables=2, ctrl=worker_end,
               counters=memoryview(shm).cast("q"), export_s=0.0)  # fmt: skip
    agent = RecordingPipeline(2, StaticPorts([1, 2]))
    a_host.send_batch([fr.udp4_frame(sport=i) for i in range(10)])
    w.step(1.0)
    assert b_host.recv_batch(100) == []  # no rule yet: table miss drops
    agent_end.send(pickle.dumps(("update", 1, applied(agent, fwd(1, 2)), True)))
    a_host.send_batch([fr.udp4_frame(sport=i) for i in range(10)])
    assert w.step(2.0) == 10  # the update is applied first, then the batch
    assert len(b_host.recv_batch(100)) == 10
    up = []
    agent_end.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:
            up.append(pickle.loads(agent_end.recv(1 << 16)))
    assert ("ack", 1) in up
    flows = [FlowReport._make(m[1:]) for m in up if m[0] == "flowc"]
    assert agent.credit(flows[0], 3.0) == 1
    agent.settle()
    assert [(e.priority, e.packet_count) for e in agent.tables[0].entries()] == [(10, 10)]
    counters = dict(zip(COUNTER_FIELDS, memoryview(shm).cast("q").tolist(), strict=False))
    assert counters["version"] == 1
    assert counters["rx_frames"] == 20
    assert counters["cache_hits"] == 18
    assert counters["cache_misses"] == 2
    agent_end.send(pickle.dumps(("stop",)))
    w.run()  # returns at once: stop was queued
    assert not w.running
    agent_end.close()
    worker_end.close()


def test_an_update_in_chunks_applies_only_when_its_last_chunk_arrived() -> None:
    a_host, a_sw = memory_pair("ha", "sa")
    b_sw, b_host = memory_pair("sb", "hb")
    c_sw, c_host = memory_pair("sc", "hc")
    for p in (a_host, a_sw, b_sw, b_host, c_sw, c_host):
        p.open()
    agent_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    w = Worker({1: a_sw, 2: b_sw, 3: c_sw}, n_tables=1, ctrl=worker_end)
    agent = RecordingPipeline(1, StaticPorts([1, 2, 3]))
    agent_end.send(pickle.dumps(("update", 1, applied(agent, fwd(1, 2)), True)))
    # version 2 = delete the rule to port 2 + add one to port 3, in two chunks
    delete = FlowMod(command=c.OFPFC_DELETE, table_id=c.OFPTT_ALL, match=Match())
    agent_end.send(pickle.dumps(("update", 2, applied(agent, delete), False)))
    a_host.send_batch([fr.udp4_frame()])
    w.step(1.0)
    assert len(b_host.recv_batch(10)) == 1  # half of version 2 is not in force
    assert w.replica.version == 1
    agent_end.send(pickle.dumps(("update", 2, applied(agent, fwd(1, 3)), True)))
    a_host.send_batch([fr.udp4_frame()])
    w.step(2.0)
    assert (len(b_host.recv_batch(10)), len(c_host.recv_batch(10))) == (0, 1)
    assert w.replica.version == 2
    agent_end.close()
    worker_end.close()


def test_worker_drops_a_port_whose_descriptor_fails_and_stops_when_the_agent_hangs_up() -> None:
    a_host, a_sw = memory_pair("ha", "sa")
    b_sw, b_host = memory_pair("sb", "hb")
    for p in (a_host, a_sw, b_sw, b_host):
        p.open()
    agent_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    w = Worker({1: a_sw, 2: b_sw}, n_tables=1, ctrl=worker_end)
    agent_end.send(pickle.dumps(("update", 1, applied(RecordingPipeline(1, StaticPorts([1, 2])),
                                                      fwd(1, 2)), True)))  # fmt: skip
    w.step(1.0)
    b_sw.close()  # its descriptor goes away under the worker: poll() says POLLNVAL
    w.wait(0)
    assert (w.gone, sorted(w.live)) == ({2}, [1])
    a_host.send_batch([fr.udp4_frame()])
    assert w.step(2.0) == 1  # still reads port 1; output to the gone port goes nowhere
    w.wait(0)  # the event was consumed: nothing left to report, no error
    up = []
    agent_end.setblocking(False)
    with contextlib.suppress(BlockingIOError):
        while True:
            up.append(pickle.loads(agent_end.recv(1 << 16)))
    assert [m for m in up if m[0] == "port"] == [("port", 2, "gone", errno.EBADF)]
    assert w.running
    agent_end.close()  # the agent is gone: hang-up on the control socket
    w.wait(0)
    assert not w.running
    worker_end.close()
