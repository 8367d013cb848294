"""The flow caches' switch to gapped keys keeps what they learnt (pipeline/cache.py).

Traffic whose contiguous key varies in bytes no rule reads (IPv4 id here;
IMIX lengths and checksums alike) makes the cache switch to gapped keys.
The switch used to drop every program - a second full round of misses at
65,536 flows (docs/quake-fastpath.md, "Many flows"); now each program is
re-keyed. Checked for the plain cache and the workers' compact cache: the
frames forwarded equal the plain pipeline's, no invalidation happens, and
once switched every flow hits.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import pytest

from openvolcano.caldera.quake.fastpath.compact import RecordingPipeline
from openvolcano.caldera.quake.fastpath.compact_cache import CompactFlowCache
from openvolcano.caldera.quake.fastpath.replica import Replica
from openvolcano.caldera.quake.fastpath.table import compact_pipeline
from openvolcano.caldera.quake.pipeline import Pipeline, StaticPorts
from openvolcano.caldera.quake.pipeline.cache import FlowCache
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import FlowMod
from openvolcano.ofp.oxm import Match, OxmTLV

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "conformance"))
import quake_frames as fr

FLOWS = 32


def rules() -> list[FlowMod]:
    out = []
    for i in range(FLOWS):
        m = Match(fields=(OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=1),
                          OxmTLV(field=c.OFPXMT_OFB_ETH_TYPE, value=0x0800),
                          OxmTLV(field=c.OFPXMT_OFB_IP_PROTO, value=17),
                          OxmTLV(field=c.OFPXMT_OFB_UDP_SRC, value=i)))  # fmt: skip
        ins = (InstructionApplyActions(actions=(ActionOutput(port=2 + i % 2, max_len=0),)),)
        out.append(FlowMod(command=c.OFPFC_ADD, priority=5, match=m, instructions=ins))
    return out


def plain_cache() -> FlowCache:
    pl = Pipeline(n_tables=1, ports=StaticPorts([1, 2, 3]))
    for m in rules():
        pl.apply_flow_mod(m, 0.0)
    return FlowCache(pl)


def compact_cache() -> FlowCache:
    agent = RecordingPipeline(1, StaticPorts([1, 2, 3]))
    for m in rules():
        agent.apply_flow_mod(m, 0.0)
    pl, interned = compact_pipeline(1, StaticPorts([1, 2, 3]))
    rep = Replica(pl, StaticPorts([1, 2, 3]), CompactFlowCache(pl), interned)
    rep.apply(1, agent.pending, 0.0)
    return rep.cache


def rounds(start: int, n: int) -> list[bytes]:
    """Every flow once per round, each frame with its own IPv4 id."""
    out = []
    for r in range(start, start + n):
        for i in range(FLOWS):
            f = fr.udp4_frame(sport=i)
            out.append(f[:18] + struct.pack("!H", (r * FLOWS + i) & 0xFFFF) + f[20:])
    return out


@pytest.mark.parametrize("make", [plain_cache, compact_cache])
def test_switch_to_gapped_keys_keeps_every_program(make: object) -> None:
    assert callable(make)
    cache = make()
    ref = Pipeline(n_tables=1, ports=StaticPorts([1, 2, 3]))
    for m in rules():
        ref.apply_flow_mod(m, 0.0)
    invalidations = cache.invalidations
    frames = rounds(0, 4)
    cache.run(1, frames, 1.0)
    assert (cache.gapped, cache.rekeys, cache.invalidations) == (True, 1, invalidations)
    misses = cache.misses
    later = rounds(4, 3)
    cache.run(1, later, 2.0)
    assert cache.misses == misses  # every flow's program survived the switch
    want: dict[int, list[bytes]] = {2: [], 3: []}
    for f in frames + later:
        for o in ref.process(1, f, 1.0).outputs:
            want[o.port].append(o.data)
    assert {p: cache.out.get(p, []) for p in (2, 3)} == want
    cache.flush(3.0)
    if not isinstance(cache, CompactFlowCache):  # (compact counts live in the table's columns)
        got = [e.packet_count for e in cache.pipeline.tables[0].entries()]
        assert got == [e.packet_count for e in ref.tables[0].entries()] == [7] * FLOWS
