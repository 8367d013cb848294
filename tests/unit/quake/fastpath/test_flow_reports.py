"""Flow counter reports, worker -> agent: compact ``flowc`` messages resolved by the agent's index.

A real worker (in-memory ports, a real SOCK_SEQPACKET socketpair as its control socket) and a
real agent pipeline (:class:`RecordingPipeline`): counts reach the right entries, a reused slot
never credits the rule that was in it before, and what could not be sent stays counted.
"""

from __future__ import annotations

import contextlib
import pickle
import socket
import sys
from array import array
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from openvolcano.caldera.quake.fastpath.compact import FlowReport, Record, RecordingPipeline
from openvolcano.caldera.quake.fastpath.worker import Worker
from openvolcano.caldera.quake.pipeline import StaticPorts
from openvolcano.caldera.quake.pipeline.flowtable import FlowEntry
from openvolcano.caldera.quake.ports.base import PortBackend
from openvolcano.caldera.quake.ports.memory import memory_pair
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import FlowMod
from openvolcano.ofp.oxm import Match, OxmTLV

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "conformance"))
import quake_frames as fr

OUT = (InstructionApplyActions(actions=(ActionOutput(port=2, max_len=0),)),)


def udp_src(sport: int, priority: int, command: int = c.OFPFC_ADD) -> FlowMod:
    m = Match(fields=(OxmTLV(field=c.OFPXMT_OFB_ETH_TYPE, value=0x0800),
                      OxmTLV(field=c.OFPXMT_OFB_IP_PROTO, value=17),
                      OxmTLV(field=c.OFPXMT_OFB_UDP_SRC, value=sport)))  # fmt: skip
    return FlowMod(command=command, priority=priority, match=m, instructions=OUT,
                   out_port=c.OFPP_ANY, out_group=c.OFPG_ANY)  # fmt: skip


def in_port(port: int, priority: int) -> FlowMod:
    m = Match(fields=(OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=port),))
    return FlowMod(command=c.OFPFC_ADD, priority=priority, match=m, instructions=OUT)


class Rig:
    """An agent pipeline, a worker on memory ports, the agent's end of its control socket."""

    def __init__(self, agent_end: socket.socket, worker_end: socket.socket,
                 ports: list[PortBackend]) -> None:  # fmt: skip
        self.agent_end = agent_end
        self.host = ports[0]
        self.agent = RecordingPipeline(1, StaticPorts([1, 2]))
        self.worker = Worker({1: ports[1], 2: ports[2]}, n_tables=1, ctrl=worker_end,
                             export_s=0.0, flow_export_s=10.0)  # fmt: skip
        self.version = 0

    def update(self, *mods: FlowMod) -> list[FlowEntry]:
        """Apply ``mods`` on the agent and ship the records; the entries now in the agent."""
        for m in mods:
            self.agent.apply_flow_mod(m, 0.0)
        records: list[Record] = self.agent.pending
        self.agent.pending = []
        self.version += 1
        self.agent.next_version = self.version + 1
        self.agent_end.send(pickle.dumps(("update", self.version, records, True)))
        return list(self.agent.tables[0].entries())

    def received(self) -> list[tuple[object, ...]]:
        """Every message the worker sent up so far."""
        out = []
        with contextlib.suppress(BlockingIOError):
            while True:
                out.append(pickle.loads(self.agent_end.recv(1 << 22, socket.MSG_DONTWAIT)))
        return out

    def credit(self) -> int:
        """What the switch does with the reports received (pool.poll + on_pool), then what a
        statistics request does first (the counts move into the entries)."""
        reports = [FlowReport._make(m[1:]) for m in self.received() if m[0] == "flowc"]
        n = sum(self.agent.credit(r, 5.0) for r in reports)
        self.agent.settle()
        return n


@pytest.fixture
def rig() -> Iterator[Rig]:
    host, sw1 = memory_pair("ha", "sa")
    sw2, sink = memory_pair("sb", "hb")
    for p in (host, sw1, sw2, sink):
        p.open()
    agent_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        yield Rig(agent_end, worker_end, [host, sw1, sw2])
    finally:
        agent_end.close()
        worker_end.close()
        for p in (host, sw1, sw2, sink):
            p.close()


def counts(entries: list[FlowEntry]) -> list[tuple[int, int]]:
    return [(e.packet_count, e.byte_count) for e in entries]


def test_counts_of_three_rules_reach_their_agent_entries(rig: Rig) -> None:
    by_prio = {e.priority: e for e in rig.update(udp_src(1, 10), udp_src(2, 20), in_port(1, 5))}
    frames = [fr.udp4_frame(sport=1)] * 3 + [fr.udp4_frame(sport=2)] * 2 + [fr.udp4_frame(sport=7)]
    rig.host.send_batch(frames)
    rig.worker.step(1.0)  # the update, the frames, then the first flow export
    assert rig.credit() == 3
    n = len(frames[0])  # all frames have one length
    assert {p: (e.packet_count, e.byte_count) for p, e in by_prio.items()} == {
        10: (3, 3 * n), 20: (2, 2 * n), 5: (1, n)}  # fmt: skip
    assert by_prio[10].last_used == 5.0
    assert sum(rig.worker.tables[0]._pk) == 0  # sent: forgotten by the worker
    rig.host.send_batch([fr.udp4_frame(sport=2)])
    rig.worker.step(11.0)
    assert rig.credit() == 1  # only the rule with new counts is reported
    assert {p: e.packet_count for p, e in by_prio.items()} == {10: 3, 20: 3, 5: 1}


def test_a_reused_slot_never_credits_the_rule_that_was_in_it(rig: Rig) -> None:
    (old,) = rig.update(udp_src(1, 10))
    rig.worker.step(0.0)  # applied; the first (empty) flow export: the next one is at 10 s
    (slot,) = rig.worker.tables[0].slots()
    rig.host.send_batch([fr.udp4_frame(sport=1)] * 4)
    rig.worker.step(1.0)  # counted for ``old``, not reported yet
    assert rig.worker.tables[0]._pk[slot] == 4
    # The agent deletes it and adds another rule, which the worker puts in the freed slot.
    rig.update(udp_src(1, 10, c.OFPFC_DELETE_STRICT))
    (new,) = rig.update(udp_src(2, 10))
    rig.host.send_batch([fr.udp4_frame(sport=2)])
    rig.worker.step(2.0)
    assert list(rig.worker.tables[0].slots()) == [slot]
    rig.worker.step(11.0)
    assert rig.credit() == 1
    assert (new.packet_count, old.packet_count) == (1, 0)


def test_a_report_older_than_the_agents_entry_is_dropped(rig: Rig) -> None:
    (first,) = rig.update(udp_src(1, 10))
    rig.host.send_batch([fr.udp4_frame(sport=1)] * 2)
    rig.worker.step(1.0)  # reported at version 1, not credited yet
    reports = [m for m in rig.received() if m[0] == "flowc"]
    # The agent deletes and re-adds the identical rule (version 3) before reading the report.
    rig.update(udp_src(1, 10, c.OFPFC_DELETE_STRICT))
    (again,) = rig.update(udp_src(1, 10))
    assert again is not first
    assert again.version == 3
    assert [rig.agent.credit(FlowReport._make(m[1:]), 5.0) for m in reports] == [0]
    assert (again.packet_count, first.packet_count) == (0, 0)


def test_counts_that_could_not_be_sent_are_kept_for_the_next_report(rig: Rig) -> None:
    a, b = rig.update(udp_src(1, 10), udp_src(2, 20))
    rig.worker.step(0.0)
    rig.received()  # the ack
    rig.host.send_batch([fr.udp4_frame(sport=1)] * 2 + [fr.udp4_frame(sport=2)])
    rig.worker.step(1.0)
    ctrl = rig.worker.ctrl
    assert ctrl is not None
    filler = bytes(1 << 14)
    full = False
    for _ in range(1 << 16):  # the agent is busy: the socket buffer fills up
        try:
            ctrl.send(filler, socket.MSG_DONTWAIT)
        except BlockingIOError:
            full = True
            break
    assert full
    rig.worker.step(11.0)  # export due: the send fails, nothing is forgotten
    assert sorted(rig.worker.tables[0]._pk) == [1, 2]
    with contextlib.suppress(BlockingIOError):
        while True:
            rig.agent_end.recv(1 << 22, socket.MSG_DONTWAIT)
    rig.worker.step(21.0)
    assert rig.credit() == 2
    assert [e.packet_count for e in (a, b)] == [2, 1]
    assert sum(rig.worker.tables[0]._pk) == 0


def test_a_big_table_is_reported_in_several_messages(rig: Rig) -> None:
    n = 4000  # x 20 bytes: more than one 64 KiB message (memory ports queue <= 4096)
    entries = rig.update(*(udp_src(i, 10) for i in range(n)))
    rig.worker.step(0.0)  # applied; the first (empty) flow export: the next one is at 10 s
    rig.host.send_batch([fr.udp4_frame(sport=i) for i in range(n)])
    for _ in range(n // rig.worker.batch + 1):  # one batch per step
        rig.worker.step(1.0)
    rig.worker.step(11.0)
    msgs = [m for m in rig.received() if m[0] == "flowc"]
    assert len(msgs) >= 2
    assert all(len(pickle.dumps(m)) <= 1 << 16 for m in msgs)
    assert sum(rig.agent.credit(FlowReport._make(m[1:]), 5.0) for m in msgs) == n
    rig.agent.settle()
    assert all(e.packet_count == 1 for e in entries)
    rig.host.send_batch([fr.udp4_frame(sport=i) for i in range(0, n, 3)])  # scattered slots
    for _ in range(n // rig.worker.batch + 1):
        rig.worker.step(12.0)
    rig.worker.step(21.0)
    assert rig.credit() == len(range(0, n, 3))
    by_sport = {e.key[-1][1]: e.packet_count for e in entries}  # (udp_src, value, mask) last
    assert by_sport == {i: 2 if i % 3 == 0 else 1 for i in range(n)}


# --- counts wait in columns until something reads or changes the entries --------------------
def _report(rig: Rig, sports: list[int], now: float) -> int:
    """Frames for ``sports`` through the worker, its report credited (not settled)."""
    rig.host.send_batch([fr.udp4_frame(sport=s) for s in sports])
    rig.worker.step(now)
    rig.worker.step(now + 10.0)  # the flow export is due
    reports = [FlowReport._make(m[1:]) for m in rig.received() if m[0] == "flowc"]
    return sum(rig.agent.credit(r, now) for r in reports)


def test_statistics_read_the_counts_reported_so_far(rig: Rig) -> None:
    rig.update(udp_src(1, 10), udp_src(2, 20))
    rig.worker.step(0.0)
    assert _report(rig, [1, 1, 1, 2], 1.0) == 2
    n = len(fr.udp4_frame(sport=1))
    stats = {s.priority: (s.packet_count, s.byte_count) for s in rig.agent.flow_stats(20.0)}
    assert stats == {10: (3, 3 * n), 20: (1, n)}
    assert rig.agent.aggregate_stats() == (4, 4 * n, 2)
    assert _report(rig, [2], 30.0) == 1
    assert rig.agent.aggregate_stats() == (5, 5 * n, 2)


def test_flow_removed_carries_the_counts_reported_before_the_delete(rig: Rig) -> None:
    rig.update(replace(udp_src(1, 10), flags=c.OFPFF_SEND_FLOW_REM))
    rig.worker.step(0.0)
    assert _report(rig, [1, 1, 1], 1.0) == 1
    (removed,) = rig.agent.apply_flow_mod(udp_src(1, 10, c.OFPFC_DELETE_STRICT), 20.0)
    assert (removed.packet_count, removed.byte_count) == (3, 3 * len(fr.udp4_frame(sport=1)))


def test_an_idle_timeout_counts_from_the_last_report(rig: Rig) -> None:
    rig.update(replace(udp_src(1, 10), idle_timeout=5, flags=c.OFPFF_SEND_FLOW_REM))  # at 0.0
    rig.worker.step(0.0)
    assert _report(rig, [1, 1], 4.0) == 1  # credited at 4.0: idle until 9.0
    assert rig.agent.expire(8.0) == []
    (removed,) = rig.agent.expire(9.5)
    assert (removed.reason, removed.packet_count) == (c.OFPRR_IDLE_TIMEOUT, 2)


def test_a_replacing_add_keeps_the_reported_counts_and_reset_counts_drops_them(rig: Rig) -> None:
    rig.update(udp_src(1, 10))
    rig.worker.step(0.0)
    assert _report(rig, [1, 1], 1.0) == 1
    (kept,) = rig.update(udp_src(1, 10))  # ADD of the same match and priority
    assert kept.packet_count == 2
    assert _report(rig, [1], 20.0) == 1
    assert [s.packet_count for s in rig.agent.flow_stats(40.0)] == [3]
    assert _report(rig, [1], 40.0) == 1
    (fresh,) = rig.update(replace(udp_src(1, 10), flags=c.OFPFF_RESET_COUNTS))
    assert fresh.packet_count == 0
    assert [s.packet_count for s in rig.agent.flow_stats(60.0)] == [0]


def test_a_row_given_to_a_newer_rule_drops_the_reports_made_before_it(rig: Rig) -> None:
    rig.update(udp_src(1, 10))
    rig.worker.step(0.0)
    rig.host.send_batch([fr.udp4_frame(sport=1)] * 2)
    rig.worker.step(1.0)
    rig.worker.step(11.0)
    old = [FlowReport._make(m[1:]) for m in rig.received() if m[0] == "flowc"]
    # The agent deletes the rule and adds another one, which takes the freed row.
    rig.update(udp_src(1, 10, c.OFPFC_DELETE_STRICT))
    (other,) = rig.update(udp_src(2, 20))
    assert rig.agent.encoder.counts.entries.index(other) == 0  # the row the report names
    assert [rig.agent.credit(r, 12.0) for r in old] == [0]
    assert rig.agent.aggregate_stats() == (0, 0, 1)
    assert _report(rig, [2], 20.0) == 1  # once the worker runs it, its own counts go there
    assert rig.agent.aggregate_stats()[0] == 1


def test_a_report_naming_a_row_never_given_out_is_dropped() -> None:
    agent = RecordingPipeline(1, StaticPorts([1, 2]))
    agent.apply_flow_mod(udp_src(1, 10), 0.0)
    rows = array("I", [0, 7, 1 << 20]).tobytes()
    report = FlowReport(1 << 30, rows, array("Q", [1, 2, 3]).tobytes(),
                        array("Q", [10, 20, 30]).tobytes())  # fmt: skip
    assert agent.credit(report, 1.0) == 1
    assert agent.aggregate_stats() == (1, 10, 1)
