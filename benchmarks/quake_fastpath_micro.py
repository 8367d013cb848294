"""In-process micro-benchmark of quake's fast path: per-packet cost, no ports, no kernel.

Role: isolates what the issue's throughput targets depend on in CPython - the
per-packet cost of the exact-match cache hit path (:mod:`...pipeline.cache`)
against the full pipeline and against a bare copy loop that only moves frames
from an input batch to an output list (what a forwarder without OpenFlow must
do at least). Cases: 1 flow with 1 wildcard rule, 65,536 flows with 65,536
exact 5-tuple+MAC rules (the benchmark harness' ``flows`` rules), and the
eth_dst rewrite (paper Figure 7). Also the resident memory one worker replica
needs per installed exact rule (pipeline + cache), measured as RSS growth.

    python benchmarks/quake_fastpath_micro.py [--packets 200000] [--batch 64]

Prints one table; the baseline (bare loop) is measured in the same run.
Times are medians of 3 repetitions; the machine is shared, so compare rows
of one run, not runs.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import struct
import time
from collections.abc import Callable

import psutil

from openvolcano.caldera.quake.pipeline import Pipeline, StaticPorts
from openvolcano.caldera.quake.pipeline.cache import FlowCache
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import Action, ActionOutput, ActionSetField
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import FlowMod
from openvolcano.ofp.oxm import Match, OxmTLV

SRC_MAC, DST_MAC, SINK_MAC = 0x020000000001, 0x020000000002, 0x020000000003
IP_SRC, IP_DST, DPORT = 0x0A630001, 0x0A630002, 5001


def frame(sport: int) -> bytes:
    """64-byte frame on the wire = 60 bytes here (no FCS), as the harness' trafgen sends."""
    udp = struct.pack("!HHHH", sport, DPORT, 8 + 18, 0) + bytes(18)
    ip = struct.pack("!BBHHHBBHII", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0, IP_SRC, IP_DST)
    return DST_MAC.to_bytes(6, "big") + SRC_MAC.to_bytes(6, "big") + b"\x08\x00" + ip + udp


def exact_match(sport: int) -> Match:
    f = c
    vals = [(f.OFPXMT_OFB_IN_PORT, 1), (f.OFPXMT_OFB_ETH_DST, DST_MAC),
            (f.OFPXMT_OFB_ETH_SRC, SRC_MAC), (f.OFPXMT_OFB_ETH_TYPE, 0x0800),
            (f.OFPXMT_OFB_IP_PROTO, 17), (f.OFPXMT_OFB_IPV4_SRC, IP_SRC),
            (f.OFPXMT_OFB_IPV4_DST, IP_DST), (f.OFPXMT_OFB_UDP_SRC, sport),
            (f.OFPXMT_OFB_UDP_DST, DPORT)]  # fmt: skip
    return Match(fields=tuple(OxmTLV(field=k, value=v) for k, v in vals))


def build(n_rules: int, rewrite: bool) -> Pipeline:
    pl = Pipeline(n_tables=1, ports=StaticPorts([1, 2]))
    acts: list[Action] = [ActionOutput(port=2, max_len=0)]
    if rewrite:
        acts.insert(0, ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_ETH_DST, value=SINK_MAC)))
    ins = (InstructionApplyActions(actions=tuple(acts)),)
    if n_rules == 0:  # one wildcard rule: in_port=1
        m = Match(fields=(OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=1),))
        pl.apply_flow_mod(FlowMod(command=c.OFPFC_ADD, match=m, instructions=ins), 0.0)
    for i in range(n_rules):
        pl.apply_flow_mod(FlowMod(command=c.OFPFC_ADD, match=exact_match(i), instructions=ins), 0.0)
    return pl


def per_packet(run: Callable[[list[bytes]], None], batches: list[list[bytes]]) -> float:
    """Median over 3 repetitions of seconds per packet."""
    n = sum(len(b) for b in batches)
    times = []
    for _ in range(3):
        gc.collect()
        t0 = time.perf_counter()
        for b in batches:
            run(b)
        times.append((time.perf_counter() - t0) / n)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--flows", type=int, default=65_536)
    args = ap.parse_args()
    proc = psutil.Process()
    rows: list[tuple[str, float]] = []

    def batches(n_flows: int) -> list[list[bytes]]:
        pool = [frame(i % 65536) for i in range(n_flows)]
        seq = [pool[i % n_flows] for i in range(args.packets)]
        return [seq[i : i + args.batch] for i in range(0, len(seq), args.batch)]

    one = batches(1)
    out: list[bytes] = []

    def bare(b: list[bytes]) -> None:
        append = out.append
        for f in b:
            append(f)
        out.clear()

    base = per_packet(bare, one)
    rows.append(("bare copy loop (baseline)", base))

    for label, n_rules, n_flows, rewrite in (
        ("1 flow, 1 wildcard rule, output", 0, 1, False),
        ("1 flow, 1 exact rule, output", 1, 1, False),
        ("1 flow, 1 exact rule, set eth_dst+output", 1, 1, True),
        (f"{args.flows} flows, {args.flows} exact rules, output", args.flows, args.flows, False),
        (
            f"{args.flows} flows, {args.flows} exact rules, set eth_dst",
            args.flows,
            args.flows,
            True,
        ),
    ):
        rss0 = proc.memory_info().rss
        pl = build(n_rules, rewrite)
        cache = FlowCache(pl)
        rss_rules = proc.memory_info().rss - rss0
        traffic = batches(n_flows)
        for b in traffic:  # warm: one miss per flow
            cache.run(1, b, 1.0)
        for lst in cache.out.values():
            lst.clear()
        rss_cache = proc.memory_info().rss - rss0

        def hit(b: list[bytes], cache: FlowCache = cache) -> None:
            cache.run(1, b, 1.0)
            for lst in cache.out.values():
                lst.clear()

        rows.append((f"cache hit: {label}", per_packet(hit, traffic)))
        full_batches = traffic[: max(1, len(traffic) // 10)]

        def full(b: list[bytes], pl: Pipeline = pl) -> None:
            for f in b:
                pl.process(1, f, 1.0)

        rows.append((f"full pipeline: {label}", per_packet(full, full_batches)))
        if n_rules >= 1024:
            rows.append(
                (f"  RSS per rule (pipeline replica), {n_rules} rules", rss_rules / n_rules)
            )
            rows.append((f"  RSS per rule incl. {len(cache)} cache keys", rss_cache / n_rules))
        del pl, cache, traffic

    print(f"{'case':<64} {'ns/pkt':>9} {'x bare':>7} {'Mpps/core':>10}")
    for label, v in rows:
        if label.startswith("  RSS"):
            print(f"{label:<64} {v:>9.0f} bytes")
        else:
            print(f"{label:<64} {v * 1e9:>9.0f} {v / base:>7.2f} {1e-6 / v:>10.2f}")


if __name__ == "__main__":
    main()
