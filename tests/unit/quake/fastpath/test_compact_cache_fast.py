"""The workers' flow cache shortcuts: misses resolved from raw bytes, whole-batch hits.

Oracle: a plain :class:`Pipeline` with the same flow-mods, frame by frame. Checked:
the frames each port gets, the per-rule and per-port counters, and that the
shortcuts really ran (``quick`` misses, batches taken whole) - so a regression
to the slow path, or a shortcut that forwards differently, fails here.
"""

from __future__ import annotations

import pickle
import sys
from pathlib import Path
from typing import cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openvolcano.caldera.quake.fastpath.compact import RecordingPipeline
from openvolcano.caldera.quake.fastpath.compact_cache import CompactFlowCache
from openvolcano.caldera.quake.fastpath.replica import Replica
from openvolcano.caldera.quake.fastpath.table import CompactTable, compact_pipeline
from openvolcano.caldera.quake.pipeline import Pipeline, StaticPorts
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import Action, ActionOutput, ActionSetField
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import FlowMod
from openvolcano.ofp.oxm import Match, OxmTLV

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "conformance"))
import quake_frames as fr

_MAC_SINK = 0x02000000000B
_OUT2 = (ActionOutput(port=2, max_len=0),)
_SETDST3 = (ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_ETH_DST, value=_MAC_SINK)),
            ActionOutput(port=3, max_len=0))  # fmt: skip


def _rule(fields: list[tuple[int, int]], acts: tuple[Action, ...], prio: int,
          masks: dict[int, int] | None = None) -> FlowMod:  # fmt: skip
    m = masks or {}
    oxms = tuple(OxmTLV(field=f, value=v, mask=m.get(f)) for f, v in sorted(fields))
    return FlowMod(command=c.OFPFC_ADD, priority=prio, match=Match(fields=oxms),
                   instructions=(InstructionApplyActions(actions=acts),))  # fmt: skip


def _exact(sport: int, acts: tuple[Action, ...], prio: int = 100) -> FlowMod:
    fields = [(c.OFPXMT_OFB_IN_PORT, 1), (c.OFPXMT_OFB_ETH_DST, int.from_bytes(fr.MAC_B, "big")),
              (c.OFPXMT_OFB_ETH_SRC, int.from_bytes(fr.MAC_A, "big")),
              (c.OFPXMT_OFB_ETH_TYPE, 0x0800), (c.OFPXMT_OFB_IP_PROTO, 17),
              (c.OFPXMT_OFB_IPV4_SRC, int.from_bytes(fr.IP_A, "big")),
              (c.OFPXMT_OFB_IPV4_DST, int.from_bytes(fr.IP_B, "big")),
              (c.OFPXMT_OFB_UDP_SRC, sport), (c.OFPXMT_OFB_UDP_DST, 5001)]  # fmt: skip
    return _rule(fields, acts, prio)


def _udp(sport: int, size: int = 0, frag: int = 0) -> bytes:
    f = fr.eth(dst=fr.MAC_B, src=fr.MAC_A) + fr.ipv4(17, fr.udp(sport, 5001), frag=frag)
    return f + bytes(max(0, size - len(f)))


class _Rig:
    """Agent + one worker (replica, compact cache) and the reference pipeline."""

    def __init__(self, index_min: int | None = None) -> None:
        self.ref = Pipeline(n_tables=1, ports=StaticPorts([1, 2, 3]))
        self.agent = RecordingPipeline(1, StaticPorts([1, 2, 3]))
        ports = StaticPorts([1, 2, 3])
        self.worker, interned = compact_pipeline(1, ports)
        self.cache = CompactFlowCache(self.worker)
        if index_min is not None:
            self.cache.index_min = index_min
        self.replica = Replica(self.worker, ports, self.cache, interned)
        self.version = 0

    def install(self, mods: list[FlowMod]) -> None:
        for fm in mods:
            self.ref.apply_flow_mod(fm, 0.0)
            self.agent.apply_flow_mod(fm, 0.0)
        records = pickle.loads(pickle.dumps(self.agent.pending))
        self.agent.pending = []
        self.version += 1
        self.replica.apply(self.version, records, 0.0)

    def run(self, frames: list[bytes]) -> None:
        """One batch through the cache and frame by frame through the reference."""
        want: dict[int, list[bytes]] = {}
        for f in frames:
            for o in self.ref.process(1, f, 1.0).outputs:
                want.setdefault(o.port, []).append(o.data)
        self.cache.run(1, frames, 1.0)
        got = {p: [bytes(x) for x in lst] for p, lst in self.cache.out.items() if lst}
        for lst in self.cache.out.values():
            lst.clear()
        assert got == want

    def check_counters(self) -> None:
        self.cache.flush(1.0)
        t = cast(CompactTable, self.worker.tables[0])
        got = {t.flow_key(s, 0)[:3]: (t._pk[s], t._by[s]) for s in t.slots()}
        want = {(e.table_id, e.priority, e.key): (e.packet_count, e.byte_count)
                for e in self.ref.tables[0].entries()}  # fmt: skip
        assert got == want
        rc = self.ref.tables[0]
        assert (t.lookup_count, t.matched_count) == (rc.lookup_count, rc.matched_count)
        for no in (1, 2, 3):
            assert self.worker._pc(no) == self.ref._pc(no)


def test_many_exact_rules_miss_once_each_without_compiling_and_batches_run_whole() -> None:
    rig = _Rig()
    rig.install([_exact(i, _OUT2) for i in range(200)] + [_exact(i, _SETDST3) for i in
                range(200, 300)])  # fmt: skip
    flows = [_udp(i, 64) for i in range(300)]
    rig.run(flows[:100])  # first sight of 100 flows: one compile, 99 resolved from raw bytes
    assert rig.cache.misses == 100
    assert rig.cache.quick == 99
    rig.run(flows[200:300])  # the other action list: one more compile
    assert rig.cache.quick == 99 + 99
    hits = rig.cache.hits
    rig.run(flows[:100])  # every frame hits: many rules, one shared program, one batch
    rig.run([flows[7]] * 64)  # one flow
    rig.run([_udp(7, 64), _udp(7, 300), _udp(7, 1000)])  # one flow, sizes differ
    assert rig.cache.hits == hits + 100 + 64 + 3
    assert rig.cache.whole_batches == 3
    rig.check_counters()


def test_a_masked_subtable_or_a_fragment_takes_the_compiled_path() -> None:
    rig = _Rig()
    masked = _rule([(c.OFPXMT_OFB_ETH_TYPE, 0x0800), (c.OFPXMT_OFB_IPV4_DST, 0x0A000000)],
                   _SETDST3, 50, {c.OFPXMT_OFB_IPV4_DST: 0xFF000000})  # fmt: skip
    rig.install([_exact(i, _OUT2) for i in range(10)] + [masked])
    frames = [_udp(i, 64) for i in range(20)]
    rig.run(frames)
    assert rig.cache.quick == 9  # the exact subtable outranks the masked one: it decides
    rig.run([_udp(3, 64, frag=8), _udp(4, 64, frag=8)])  # no L4 fields: the masked rule
    rig.check_counters()


_FLOW = st.integers(0, 11)


@pytest.mark.parametrize("index_min", [None, 2], ids=["default", "batch-index"])
@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.lists(_FLOW, min_size=1, max_size=24), st.booleans()),
                min_size=1, max_size=6),
       st.lists(st.sampled_from([0, 1, 2]), min_size=12, max_size=12))  # fmt: skip
def test_shortcuts_agree_with_the_pipeline(index_min: int | None,
                                           batches: list[tuple[list[int], bool]],
                                           kinds: list[int]) -> None:  # fmt: skip
    """Flows 0..11 with rules of 3 kinds (output, rewrite+output, none: wildcard rule);
    with the default batch size for the numpy index (batches here are smaller: never
    used) and with the index tried for every batch of 2 frames or more."""
    rig = _Rig(index_min)
    wildcard = _rule([(c.OFPXMT_OFB_ETH_TYPE, 0x0800)], (ActionOutput(port=3, max_len=0),), 1)
    rig.install([wildcard] + [_exact(i, _OUT2 if k == 0 else _SETDST3)
                              for i, k in enumerate(kinds) if k != 2])  # fmt: skip
    for picks, big in batches:
        rig.run([_udp(i, 200 if big and i % 2 else 64, frag=8 if i == 11 else 0) for i in picks])
    rig.check_counters()


def test_pending_rule_counts_fold_when_the_bound_is_reached(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whole batches over many rules keep (slot, length) arrays, folded by bincount when
    more than ``_PENDING_MAX`` frames wait, and at every flush: counts stay exact."""
    from openvolcano.caldera.quake.fastpath import compact_cache

    monkeypatch.setattr(compact_cache, "_PENDING_MAX", 40)
    rig = _Rig()
    rig.install([_exact(i, _OUT2) for i in range(30)])
    flows = [_udp(i, 64 + 8 * (i % 3)) for i in range(30)]  # three sizes in every batch
    rig.run(flows)  # first sight: misses
    batches = rig.cache.whole_batches
    rig.run(flows)  # 30 frames wait
    assert len(rig.cache._pend_slots) == 30
    rig.run(flows)  # 60 > 40: folded at once
    assert len(rig.cache._pend_slots) == 0
    rig.run(flows[::-1])
    assert rig.cache.whole_batches == batches + 3
    rig.check_counters()  # flush folds the last 30
    assert len(rig.cache._pend_slots) == 0


def test_the_batch_index_answers_many_rules_and_forgets_at_every_table_change() -> None:
    """Batches over many exact rules go through the numpy index once it has learnt their
    keys; a flow-mod changing one rule's actions must take effect at the next batch (the
    index is dropped with the cache's entries), and counts stay exact throughout."""
    rig = _Rig(index_min=8)
    rig.install([_exact(i, _OUT2) for i in range(40)])
    flows = [_udp(i, 64) for i in range(40)]
    rig.run(flows)  # misses: compiled once, the rest resolved from raw bytes
    assert rig.cache.indexed_batches == 0
    rig.run(flows[::-1])  # the dict answers; the index learns the 40 keys
    rig.run(flows)
    rig.run([_udp(i, 64 + 8 * (i % 3)) for i in range(40)])  # three lengths: slices path
    assert rig.cache.indexed_batches == 2
    rig.check_counters()
    rig.install([_exact(5, _SETDST3)])  # same match, new actions: flow 5 now goes to port 3
    rig.run(flows)  # (the oracle checks port 3 gets flow 5, rewritten)
    refusals = rig.cache.index_refusals
    for _ in range(12):
        rig.run(flows)
    assert rig.cache.indexed_batches == 2  # two shared programs: frame by frame, no index
    # ... and the index, which knows every key yet cannot answer, backs off (1, 2, 4 batches)
    assert rig.cache.index_refusals - refusals == 5
    rig.install([_exact(5, _OUT2)])
    rig.run(flows)
    rig.run(flows)
    rig.run(flows)
    assert rig.cache.indexed_batches == 3  # relearnt after the change, then used again
    rig.run([*flows[:30], _udp(77, 64)])  # a frame without a rule: the per-frame path
    rig.check_counters()
