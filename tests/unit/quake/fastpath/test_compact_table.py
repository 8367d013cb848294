"""Compact worker tables vs the agent's pipeline (hypothesis), update records, the 10k burst.

Oracle: a plain :class:`Pipeline` receiving the same flow-mods. The system under
test is the fast path's split: the agent's :class:`RecordingPipeline` validates
and records, a worker-side :class:`Replica` applies the compact records (in
versioned batches) to :class:`CompactTable` s behind a :class:`FlowCache`.
Checked: same winner for every flow key, same frames out and packet-ins, same
per-flow counters, and the same errors for refused flow-mods (which ship nothing).
"""

from __future__ import annotations

import dataclasses
import pickle
import sys
import time
from pathlib import Path
from typing import cast

from hypothesis import given, settings
from hypothesis import strategies as st

from openvolcano.caldera.quake.fastpath.compact import Record, RecordingPipeline
from openvolcano.caldera.quake.fastpath.compact_cache import CompactFlowCache
from openvolcano.caldera.quake.fastpath.replica import Replica, UpdateLog
from openvolcano.caldera.quake.fastpath.table import CompactTable, compact_pipeline
from openvolcano.caldera.quake.pipeline import Pipeline, PipelineError, StaticPorts
from openvolcano.caldera.quake.pipeline.cache import FlowCache
from openvolcano.caldera.quake.pipeline.parse import parse
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.base import decode_message
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import FlowMod
from openvolcano.ofp.oxm import Match, OxmTLV

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "conformance"))
from test_cache import flow_mod_st, frame_st  # the cache property test's rule and frame mix

_COMMANDS = [c.OFPFC_ADD, c.OFPFC_ADD, c.OFPFC_ADD, c.OFPFC_MODIFY, c.OFPFC_MODIFY_STRICT,
             c.OFPFC_DELETE, c.OFPFC_DELETE_STRICT]  # fmt: skip


@st.composite
def any_mod_st(draw: st.DrawFn) -> FlowMod:
    fm = draw(flow_mod_st())
    cmd = draw(st.sampled_from(_COMMANDS))
    flags = draw(st.sampled_from([0, 0, c.OFPFF_RESET_COUNTS, c.OFPFF_SEND_FLOW_REM]))
    if fm.command == c.OFPFC_DELETE or cmd == fm.command:
        return dataclasses.replace(fm, flags=flags)
    return dataclasses.replace(fm, command=cmd, flags=flags)


batch_st = st.tuples(st.just("batch"), st.lists(any_mod_st(), min_size=1, max_size=4))
frames_st = st.tuples(
    st.just("frames"), st.integers(1, 2), st.lists(st.integers(0, 3), min_size=1, max_size=6)
)
port_st = st.tuples(st.just("port"), st.integers(1, 4),
                    st.sampled_from([0, c.OFPPC_NO_FWD]), st.just(0))  # fmt: skip


def _flows(pl: Pipeline) -> dict[tuple[object, ...], tuple[int, int]]:
    return {(e.table_id, e.priority, e.key): (e.packet_count, e.byte_count)
            for t in pl.tables for e in t.entries()}  # fmt: skip


def _compact_flows(tables: list[CompactTable]) -> dict[tuple[object, ...], tuple[int, int]]:
    return {t.flow_key(s, 0)[:3]: (t._pk[s], t._by[s]) for t in tables for s in t.slots()}


@settings(max_examples=200, deadline=None)
@given(
    st.lists(frame_st, min_size=4, max_size=4),
    st.lists(st.one_of(batch_st, batch_st, frames_st, frames_st, port_st), max_size=20),
    st.integers(1, 6),
)
def test_compact_worker_agrees_with_the_pipeline(
    pool: list[bytes], ops: list, capacity: int
) -> None:
    ref_ports, agent_ports, ports = (StaticPorts([1, 2, 3, 4]) for _ in range(3))
    ref = Pipeline(n_tables=2, ports=ref_ports)
    agent = RecordingPipeline(2, agent_ports)
    worker, interned = compact_pipeline(2, ports)
    tables = cast(list[CompactTable], worker.tables)
    cache = CompactFlowCache(worker, capacity=capacity)
    replica = Replica(worker, ports, cache, interned)
    now, version = 1.0, 0
    for op in ops:
        now += 0.5
        if op[0] == "batch":
            for fm in op[1]:
                outcome = []
                for p in (ref, agent):
                    try:
                        p.apply_flow_mod(fm, now)
                        outcome.append(None)
                    except PipelineError as e:
                        outcome.append((e.type, e.code))
                assert outcome[0] == outcome[1]
            records = pickle.loads(pickle.dumps(agent.pending))  # as the control socket does
            agent.pending = []
            version += 1
            replica.apply(version, records, now)
            assert replica.skipped == 0
        elif op[0] == "port":
            _, port, cfg, state = op
            for p in (ref_ports, agent_ports):
                p.set(port, cfg, state)
            version += 1
            replica.apply(version, [("port", port, cfg, state)], now)
        else:
            _, in_port, picks = op
            frames = [pool[i] for i in picks]
            for f in frames:  # same winner per table for every flow key
                key = parse(f, in_port).key
                for t in (0, 1):
                    want = ref.tables[t].classifier.lookup_uncached(key)
                    got = tables[t].lookup_uncached(key)
                    assert (got is None) == (want is None)
                    if got is not None and want is not None:
                        assert (got.payload.priority, got.payload.key) == (
                            want.payload.priority,
                            want.payload.key,
                        )
                        assert got.payload.instructions == want.payload.instructions
            want_out: dict[int, list[bytes]] = {}
            want_pins = []
            for f in frames:
                res = ref.process(in_port, f, now)
                for o in res.outputs:
                    want_out.setdefault(o.port, []).append(o.data)
                want_pins += [(d.reason, d.table_id, d.cookie, d.data) for d in res.packet_ins]
            pins = cache.run(in_port, frames, now)
            got_out = {p: [bytes(x) for x in lst] for p, lst in cache.out.items() if lst}
            for lst in cache.out.values():
                lst.clear()
            assert got_out == want_out
            assert [(d.reason, d.table_id, d.cookie, d.data) for d in pins] == want_pins
    cache.flush(now)
    assert _compact_flows(tables) == _flows(ref)
    assert [len(t) for t in tables] == [len(t) for t in ref.tables]
    assert len(interned.programs) == len(agent.encoder.programs)  # unused programs forgotten


def _exact(i: int) -> FlowMod:
    fields = [(c.OFPXMT_OFB_IN_PORT, 1), (c.OFPXMT_OFB_ETH_DST, 0x020000000002),
              (c.OFPXMT_OFB_ETH_SRC, 0x020000000001), (c.OFPXMT_OFB_ETH_TYPE, 0x0800),
              (c.OFPXMT_OFB_IP_PROTO, 17), (c.OFPXMT_OFB_IPV4_SRC, 0x0A630001),
              (c.OFPXMT_OFB_IPV4_DST, 0x0A630002), (c.OFPXMT_OFB_UDP_SRC, i),
              (c.OFPXMT_OFB_UDP_DST, 5001)]  # fmt: skip
    return FlowMod(
        command=c.OFPFC_ADD,
        priority=100,
        match=Match(fields=tuple(OxmTLV(field=f, value=v) for f, v in fields)),
        instructions=(InstructionApplyActions(actions=(ActionOutput(port=2, max_len=0),)),),
    )


def test_ten_thousand_flow_mods_and_a_barrier_through_agent_and_replica() -> None:
    """The issue's burst in process: decode + validate + record (agent), apply (worker)."""
    raws = [_exact(i).encode() for i in range(10_000)]
    agent = RecordingPipeline(1, StaticPorts([1, 2]))
    worker, interned = compact_pipeline(1, StaticPorts([1, 2]))
    replica = Replica(worker, StaticPorts([1, 2]), FlowCache(worker), interned)
    t0 = time.perf_counter()
    for raw in raws:
        msg = decode_message(raw)
        assert isinstance(msg, FlowMod)
        agent.apply_flow_mod(msg, 0.0)
    log = UpdateLog()
    log.add_worker(0)
    version = log.publish()
    records: list[Record] = pickle.loads(pickle.dumps(agent.pending))
    assert log.barrier("barrier") == []  # held: the worker runs an older version
    t1 = time.perf_counter()
    replica.apply(version, records, 0.0)
    assert log.ack(0, replica.version) == ["barrier"]  # now the BARRIER_REPLY may go
    t2 = time.perf_counter()
    assert len(worker.tables[0]) == len(agent.tables[0]) == 10_000
    assert len(interned.programs) == 1  # one action list, shared by all rules
    print(f"\n10,000 flow-mods: agent {1e6 * (t1 - t0) / 1e4:.1f} us/flow-mod, "
          f"worker {1e6 * (t2 - t1) / 1e4:.1f} us/update, total {t2 - t0:.2f} s")  # fmt: skip


def test_same_match_at_several_priorities_and_slot_reuse() -> None:
    agent = RecordingPipeline(1, StaticPorts([1, 2, 3]))
    worker, interned = compact_pipeline(1, StaticPorts([1, 2, 3]))
    replica = Replica(worker, StaticPorts([1, 2, 3]), FlowCache(worker), interned)
    table = cast(CompactTable, worker.tables[0])
    m = Match(fields=(OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=1),))

    def add(prio: int, port: int) -> FlowMod:
        acts = (ActionOutput(port=port, max_len=0),)
        return FlowMod(
            priority=prio, match=m, instructions=(InstructionApplyActions(actions=acts),)
        )

    for fm in (add(5, 2), add(9, 3), add(7, 2)):
        agent.apply_flow_mod(fm, 0.0)
    replica.apply(1, agent.pending, 0.0)
    key = parse(bytes(60), 1).key
    hit = table.lookup_uncached(key)
    assert hit is not None
    assert hit.payload.priority == 9
    agent.pending = []
    agent.apply_flow_mod(FlowMod(command=c.OFPFC_DELETE_STRICT, priority=9, match=m), 0.0)
    agent.apply_flow_mod(add(1, 3), 0.0)  # reuses the freed slot
    replica.apply(2, agent.pending, 0.0)
    hit = table.lookup_uncached(key)
    assert hit is not None
    assert hit.payload.priority == 7
    assert len(table) == 3
    assert len(table._keys) == 3  # the freed slot was reused
