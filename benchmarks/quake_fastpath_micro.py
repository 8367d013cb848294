"""Micro-benchmarks of quake's fast path: per-packet cost, flow-mod ingest, worker memory.

Role: isolates what the issue's fast-path targets depend on in CPython.

* Per packet (no ports, no kernel): the exact-match cache hit path
  (:mod:`...pipeline.cache`, and the workers' :mod:`...fastpath.compact_cache`
  over compact tables) against the full pipeline and a bare copy loop that
  only moves frames from an input batch to an output list. Cases: 1 flow
  with 1 wildcard rule, 65,536 flows with 65,536 exact 5-tuple+MAC rules,
  and the eth_dst rewrite (paper Figure 7).
* Flow-mod ingest (10,000 distinct exact flow-mods, in process): the agent's
  cost per flow-mod (OpenFlow decode + validation/normalisation + the
  compact update record; and ``Pipeline.apply_flow_mod`` alone), and a
  worker's cost per update (applying the records to compact tables).
* Worker memory at 65,536 exact rules (target: <= 300 B per rule): a fresh
  (spawned) process applies the update as a worker does and fills its flow cache with
  one key per flow; RSS growth and tracemalloc (a second process) per rule.
* Flow-counter export at 65,536 active exact rules: a worker's CPU (its own
  thread) for one report to the agent, the agent's CPU to credit it, and the
  bytes it puts on the control socket per rule.
* ``--e2e`` (root): 10,000 flow-mods then a BARRIER_REQUEST over TCP to a
  running ``openvolcano quake --workers 1`` until the BARRIER_REPLY (i.e.
  applied by the agent and acknowledged by the worker); baseline: the same
  with ``--workers 0`` in the same run. Ports: a veth pair made for the run;
  the clock starts 1 s after a first barrier round trip (steady state, not
  start-up).

    python benchmarks/quake_fastpath_micro.py [--packets 200000] [--batch 64] [--e2e]

Times are medians of 3 repetitions (CPU time for ingest); the machine is
shared, so compare rows of one run, not runs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import multiprocessing
import os
import pickle
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable

import psutil

from openvolcano.caldera.quake.fastpath.compact import FlowReport, Record, RecordingPipeline
from openvolcano.caldera.quake.fastpath.compact_cache import CompactFlowCache
from openvolcano.caldera.quake.fastpath.replica import Replica
from openvolcano.caldera.quake.fastpath.table import compact_pipeline
from openvolcano.caldera.quake.fastpath.worker import Worker
from openvolcano.caldera.quake.pipeline import Pipeline, StaticPorts
from openvolcano.caldera.quake.pipeline.cache import FlowCache
from openvolcano.caldera.quake.ports.memory import memory_pair
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import Action, ActionOutput, ActionSetField
from openvolcano.ofp.base import decode_message
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import BarrierRequest, FlowMod, Hello
from openvolcano.ofp.oxm import Match, OxmTLV

SRC_MAC, DST_MAC, SINK_MAC = 0x020000000001, 0x020000000002, 0x020000000003
IP_SRC, IP_DST, DPORT = 0x0A630001, 0x0A630002, 5001
TARGET_BYTES = 300
N_MODS = 10_000


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


def flow_mods(n: int, rewrite: bool = False) -> list[FlowMod]:
    acts: list[Action] = [ActionOutput(port=2, max_len=0)]
    if rewrite:
        acts.insert(0, ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_ETH_DST, value=SINK_MAC)))
    ins = (InstructionApplyActions(actions=tuple(acts)),)
    if n == 0:  # one wildcard rule: in_port=1
        m = Match(fields=(OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=1),))
        return [FlowMod(command=c.OFPFC_ADD, match=m, instructions=ins)]
    return [FlowMod(command=c.OFPFC_ADD, match=exact_match(i), instructions=ins) for i in range(n)]


def build(n_rules: int, rewrite: bool) -> Pipeline:
    pl = Pipeline(n_tables=1, ports=StaticPorts([1, 2]))
    for fm in flow_mods(n_rules, rewrite):
        pl.apply_flow_mod(fm, 0.0)
    return pl


def build_compact(n_rules: int, rewrite: bool) -> tuple[Pipeline, Replica]:
    agent = RecordingPipeline(1, StaticPorts([1, 2]))
    for fm in flow_mods(n_rules, rewrite):
        agent.apply_flow_mod(fm, 0.0)
    pl, interned = compact_pipeline(1, StaticPorts([1, 2]))
    rep = Replica(pl, StaticPorts([1, 2]), CompactFlowCache(pl), interned)
    rep.apply(1, agent.pending, 0.0)
    return pl, rep


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


def packet_rows(args: argparse.Namespace) -> list[tuple[str, float]]:
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

    rows.append(("bare copy loop (baseline)", per_packet(bare, one)))
    for label, n_rules, n_flows, rewrite in (
        ("1 flow, 1 wildcard rule, output", 0, 1, False),
        ("1 flow, 1 exact rule, output", 1, 1, False),
        ("1 flow, 1 exact rule, set eth_dst+output", 1, 1, True),
        (f"{args.flows} flows, {args.flows} exact rules, output", args.flows, args.flows, False),
        (f"{args.flows} flows, {args.flows} exact rules, set eth_dst", args.flows, args.flows,
         True),
    ):  # fmt: skip
        traffic = batches(n_flows)
        pl = build(n_rules, rewrite)
        compact, rep = build_compact(n_rules, rewrite)
        for name, cache in (("cache hit", FlowCache(pl)), ("worker (compact) hit", rep.cache)):
            gc.collect()
            t0 = time.perf_counter()
            for b in traffic:  # warm: one miss per flow
                cache.run(1, b, 1.0)
            warm = time.perf_counter() - t0
            if n_flows > 1 and "compact" in name:  # the first pass: a miss per flow, then hits
                rows.append((f"worker (compact) first pass, {n_flows} new flows: {label}",
                             warm / args.packets))  # fmt: skip
            for lst in cache.out.values():
                lst.clear()

            def hit(b: list[bytes], cache: FlowCache = cache) -> None:
                cache.run(1, b, 1.0)
                for lst in cache.out.values():
                    lst.clear()

            if n_flows > 1 and isinstance(cache, CompactFlowCache):
                # the batch index (as a worker uses it: batches of >= index_min frames) against
                # the dict lookups it replaces, interleaved on the same cache
                default = cache.index_min
                with_ix, without = [], []
                for _ in range(2):
                    cache.index_min = default
                    with_ix.append(per_packet(hit, traffic))
                    cache.index_min = 1 << 30
                    without.append(per_packet(hit, traffic))
                cache.index_min = default
                rows.append((f"{name}: {label}", min(with_ix)))
                rows.append((f"{name}, dict lookups only (no batch index): {label}", min(without)))
            else:
                rows.append((f"{name}: {label}", per_packet(hit, traffic)))
        full_batches = traffic[: max(1, len(traffic) // 10)]

        def full(b: list[bytes], pl: Pipeline = pl) -> None:
            for f in b:
                pl.process(1, f, 1.0)

        rows.append((f"full pipeline: {label}", per_packet(full, full_batches)))
        del pl, compact, rep, traffic
    return rows


# --- flow-mod ingest -----------------------------------------------------------------------
def ingest_rows() -> list[tuple[str, float]]:
    """CPU microseconds per flow-mod (agent) and per record applied (worker), medians of 3."""
    raws = [fm.encode() for fm in flow_mods(N_MODS)]
    decoded = [decode_message(r) for r in raws]
    agent_us, apply_us, worker_us = [], [], []
    for _ in range(3):
        gc.collect()
        agent = RecordingPipeline(254, StaticPorts([1, 2]))
        t0 = time.process_time()
        for raw in raws:
            msg = decode_message(raw)
            assert isinstance(msg, FlowMod)
            agent.apply_flow_mod(msg, 0.0)
        blob = pickle.dumps(agent.pending)  # what the pool sends (in chunks)
        agent_us.append((time.process_time() - t0) / N_MODS * 1e6)
        plain = Pipeline(254, ports=StaticPorts([1, 2]))
        t0 = time.process_time()
        for m in decoded:
            assert isinstance(m, FlowMod)
            plain.apply_flow_mod(m, 0.0)
        apply_us.append((time.process_time() - t0) / N_MODS * 1e6)
        pl, interned = compact_pipeline(254, StaticPorts([1, 2]))
        rep = Replica(pl, StaticPorts([1, 2]), CompactFlowCache(pl), interned)
        t0 = time.process_time()
        rep.apply(1, pickle.loads(blob), 0.0)
        worker_us.append((time.process_time() - t0) / N_MODS * 1e6)
    return [
        ("agent: decode + validate + record, per flow-mod", statistics.median(agent_us)),
        ("  of which Pipeline.apply_flow_mod (decoded msg)", statistics.median(apply_us)),
        ("worker: apply compact update, per flow-mod", statistics.median(worker_us)),
    ]


# --- worker memory ------------------------------------------------------------------------
def _records(n: int) -> list[Record]:
    agent = RecordingPipeline(254, StaticPorts([1, 2]))
    for fm in flow_mods(n):
        agent.apply_flow_mod(fm, 0.0)
    return agent.pending


def _worker_memory(blobs: list[bytes], n: int, trace: bool, conn: object) -> None:
    """In a fresh child: apply the update like a worker (chunks), then one key per flow.

    The baseline is taken with ``blobs`` (the received control messages) already in memory
    and kept alive, so freed memory of the sender cannot hide the tables' growth."""
    a_host, a_sw = memory_pair("ha", "sa")
    b_sw, b_host = memory_pair("sb", "hb")
    for p in (a_host, a_sw, b_sw, b_host):
        p.open()
    frames = [frame(i) for i in range(n)]
    proc = psutil.Process()
    gc.collect()
    if trace:
        tracemalloc.start()
    rss0, t0 = proc.memory_info().rss, tracemalloc.get_traced_memory()[0]
    w = Worker({1: a_sw, 2: b_sw}, n_tables=254)
    for i, blob in enumerate(blobs):
        w.handle(("update", 1, pickle.loads(blob), i == len(blobs) - 1), 0.0)
    gc.collect()
    rss1, t1 = proc.memory_info().rss, tracemalloc.get_traced_memory()[0]
    for i in range(0, n, 64):
        w.cache.run(1, frames[i : i + 64], 1.0)
        for lst in w.cache.out.values():
            lst.clear()
    gc.collect()
    w.step(2.0)  # the worker's periodic housekeeping (counter export, malloc_trim)
    rss2, t2 = proc.memory_info().rss, tracemalloc.get_traced_memory()[0]
    if len(w.pipeline.tables[0]) != n or len(w.cache) != n:
        raise RuntimeError("the worker did not install every rule or cache every flow")
    conn.send((rss1 - rss0, rss2 - rss0, t1 - t0, t2 - t0))  # type: ignore[attr-defined]


def memory_rows(n: int) -> list[tuple[str, float]]:
    recs = _records(n)
    blobs = [pickle.dumps(recs[i : i + 512]) for i in range(0, len(recs), 512)]  # pool chunks
    ctx = multiprocessing.get_context("spawn")  # a fresh heap: no free memory inherited
    got = []
    for trace in (False, True):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=_worker_memory, args=(blobs, n, trace, child))
        p.start()
        got.append(parent.recv())
        p.join()
    (rss_rules, rss_all, _, _), (_, _, tm_rules, tm_all) = got
    return [
        (f"RSS per rule, {n} rules (worker replica)", rss_rules / n),
        (f"RSS per rule incl. {n} cache keys", rss_all / n),
        (f"tracemalloc per rule, {n} rules", tm_rules / n),
        (f"tracemalloc per rule incl. {n} cache keys", tm_all / n),
    ]


# --- flow-counter export (worker -> agent) ---------------------------------------------------
def _drain(sock: socket.socket, got: list[bytes]) -> None:
    """The agent's end: read every message until the worker's end is closed."""
    while True:
        raw = sock.recv(1 << 22)
        if not raw:
            return
        got.append(raw)


def flow_export_rows(n: int) -> list[tuple[str, float]]:
    """CPU time of one flow-counter export with ``n`` active exact rules (worker thread only:
    ``thread_time``; the agent's end is drained by another thread), and the agent's CPU to
    credit what it received."""
    agent = RecordingPipeline(254, StaticPorts([1, 2]))
    for fm in flow_mods(n):
        agent.apply_flow_mod(fm, 0.0)
    a_host, a_sw = memory_pair("ha", "sa")
    b_sw, b_host = memory_pair("sb", "hb")
    for p in (a_host, a_sw, b_sw, b_host):
        p.open()
    agent_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    for s in (agent_end, worker_end):  # as the pool does
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    w = Worker({1: a_sw, 2: b_sw}, n_tables=254, ctrl=worker_end)
    recs = agent.pending
    for i in range(0, len(recs), 512):
        w.handle(("update", 1, recs[i : i + 512], i + 512 >= len(recs)), 0.0)
    w._commit(0.0)
    frames = [frame(i) for i in range(n)]
    for i in range(0, n, 64):
        w.cache.run(1, frames[i : i + 64], 1.0)
        for lst in w.cache.out.values():
            lst.clear()
    w._export(1.0)  # folds the cache's counts into the rules
    got: list[bytes] = []
    while True:  # what the worker sent so far (its ack)
        try:
            agent_end.recv(1 << 22, socket.MSG_DONTWAIT)
        except BlockingIOError:
            break
    reader = threading.Thread(target=_drain, args=(agent_end, got))
    reader.start()
    gc.collect()
    t0 = time.thread_time()
    w._export_flows(2.0)
    worker_s = time.thread_time() - t0
    left = sum(int(x) for x in w.tables[0]._pk)
    worker_end.shutdown(socket.SHUT_WR)
    reader.join()
    worker_end.close()
    agent_end.close()
    msgs = [pickle.loads(raw) for raw in got]
    t0 = time.process_time()
    credited = _credit(agent, msgs, 3.0)
    agent_s = time.process_time() - t0
    t0 = time.process_time()
    agent.settle()  # what the next statistics request (or flow-mod) does first
    settle_s = time.process_time() - t0
    if left or credited != n:
        raise RuntimeError(f"export incomplete: {left} packets left, {credited} of {n} credited")
    wire = sum(len(raw) for raw in got)
    return [
        (f"worker: one flow-counter export, {n} active rules (ms CPU)", worker_s * 1e3),
        ("agent: credit that report (ms CPU)", agent_s * 1e3),
        ("agent: move those counts into its entries, once read (ms CPU)", settle_s * 1e3),
        (f"bytes on the control socket per rule ({len(got)} messages)", wire / n),
    ]


def _credit(agent: RecordingPipeline, msgs: list[tuple[object, ...]], now: float) -> int:
    """What the agent does with the reports (pool.poll + FastQuakeSwitch.on_pool)."""
    return sum(agent.credit(FlowReport._make(m[1:]), now) for m in msgs if m[0] == "flowc")


# --- end to end over TCP ---------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_msg(sock: socket.socket) -> tuple[int, int, bytes]:
    head = b""
    while len(head) < 8:
        chunk = sock.recv(8 - len(head))
        if not chunk:
            raise ConnectionError("quake closed the connection")
        head += chunk
    _, type_, length, xid = struct.unpack("!BBHI", head)
    body = b""
    while len(body) < length - 8:
        chunk = sock.recv(length - 8 - len(body))
        if not chunk:
            raise ConnectionError("quake closed the connection")
        body += chunk
    return type_, xid, body


class _Traffic:
    """Paced 64-byte frames of flows 0..N_MODS-1 into quake's port 1 (through its veth peer)
    and a count of what comes out of port 2 (its peer): forwarding during the update."""

    def __init__(self, tx_if: str, rx_if: str, pps: int) -> None:
        self.tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        self.tx.bind((tx_if, 0))
        self.rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.rx.bind((rx_if, 0))
        self.rx.settimeout(0.2)
        self.pps = pps
        self.sent = self.received = 0
        self.marks: list[tuple[int, int]] = []  # (sent, received) at mark()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._send), threading.Thread(target=self._recv)]

    def __enter__(self) -> _Traffic:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()
        self.tx.close()
        self.rx.close()

    def mark(self) -> None:
        self.marks.append((self.sent, self.received))

    def _send(self) -> None:
        frames = [frame(i) for i in range(N_MODS)]
        burst = max(1, self.pps // 100)
        nxt = time.monotonic()
        i = 0
        while not self._stop.is_set():
            for _ in range(burst):
                self.tx.send(frames[i % N_MODS])
                i += 1
            self.sent = i
            nxt += burst / self.pps
            time.sleep(max(0.0, nxt - time.monotonic()))  # paced, not a wait for a condition

    def _recv(self) -> None:
        while not self._stop.is_set():
            try:
                self.rx.recv(2048)
            except TimeoutError:
                continue
            self.received += 1


def e2e_seconds(workers: int, ports: tuple[str, str], traffic: tuple[str, str] | None = None,
                pps: int = 20_000) -> tuple[float, str]:  # fmt: skip
    """10,000 flow-mods + barrier to a fresh ``openvolcano quake --workers N``; with
    ``traffic`` (the ports' veth peers), frames are forwarded by an ``in_port=1`` rule the
    whole time. (seconds, a note on the traffic)."""
    port = _free_port()
    exe = os.path.join(os.path.dirname(sys.executable), "openvolcano")
    cmd = [exe, "quake", "--dpid", "0x77", "--port", ports[0], "--port", ports[1],
           "--listen", f"ptcp:{port}:127.0.0.1", "--workers", str(workers)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                sock = socket.create_connection(("127.0.0.1", port), timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"quake --workers {workers} did not start") from None
                time.sleep(0.1)  # bounded by the deadline above
        with sock:
            sock.settimeout(60)
            sock.sendall(Hello(xid=1).encode())
            while _read_msg(sock)[0] != c.OFPT_HELLO:
                pass
            base = dataclasses.replace(flow_mods(0)[0], priority=1)  # in_port=1 -> output:2
            sock.sendall(base.encode() + BarrierRequest(xid=1).encode())
            while _read_msg(sock)[:2] != (c.OFPT_BARRIER_REPLY, 1):
                pass
            time.sleep(1.0)  # ...and has finished its start-up work (workers forked, steered)
            data = b"".join(fm.encode() for fm in flow_mods(N_MODS))
            ctx = _Traffic(traffic[0], traffic[1], pps) if traffic else contextlib.nullcontext()
            with ctx as tr:
                if tr is not None:
                    time.sleep(0.5)  # forwarding before the update
                    tr.mark()
                t0 = time.perf_counter()
                sock.sendall(data + BarrierRequest(xid=0xBA).encode())
                while True:
                    type_, xid, _ = _read_msg(sock)
                    if type_ == c.OFPT_ERROR:
                        raise RuntimeError("quake refused a flow-mod")
                    if type_ == c.OFPT_BARRIER_REPLY and xid == 0xBA:
                        took = time.perf_counter() - t0
                        break
                if tr is None:
                    return took, ""
                tr.mark()
                time.sleep(0.5)  # what was in flight arrives
            (s0, r0), (s1, r1) = tr.marks
            return took, (f"{s1 - s0} frames sent during the update at {pps} pps, "
                          f"{r1 - r0} forwarded; whole run {tr.sent} sent, {tr.received} "
                          "forwarded")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)


def e2e_rows() -> list[tuple[str, float]]:
    tag = uuid.uuid4().hex[:6]
    a, b, pa, pb = f"qfm{tag}a", f"qfm{tag}b", f"qfm{tag}c", f"qfm{tag}d"
    made = []
    try:
        for x, y in ((a, pa), (b, pb)):
            subprocess.run(["ip", "link", "add", x, "type", "veth", "peer", "name", y], check=True)
            made.append(x)
            for ifname in (x, y):
                subprocess.run(["ip", "link", "set", ifname, "up"], check=True)
        rows = []
        for w in (0, 1):
            took, _ = e2e_seconds(w, (a, b))
            rows.append((f"{N_MODS} flow-mods + barrier over TCP, --workers {w}", took))
        took, note = e2e_seconds(1, (a, b), (pa, pb))
        print(f"(while forwarding: {note})")
        rows.append((f"{N_MODS} flow-mods + barrier, --workers 1, while forwarding", took))
        return rows
    finally:
        for x in made:
            subprocess.run(["ip", "link", "del", x], check=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--flows", type=int, default=65_536)
    ap.add_argument("--e2e", action="store_true", help="also the TCP end-to-end case (root)")
    ap.add_argument("--skip-packets", action="store_true", help="only ingest and memory")
    args = ap.parse_args()
    if not args.skip_packets:
        rows = packet_rows(args)
        base = rows[0][1]
        print(f"{'case':<64} {'ns/pkt':>9} {'x bare':>7} {'Mpps/core':>10}")
        for label, v in rows:
            print(f"{label:<64} {v * 1e9:>9.0f} {v / base:>7.2f} {1e-6 / v:>10.2f}")
        print()
    print(f"{'flow-mod ingest (' + str(N_MODS) + ' distinct exact rules)':<64} {'us CPU':>9}")
    for label, v in ingest_rows():
        print(f"{label:<64} {v:>9.1f}")
    print()
    print(f"{'worker memory':<64} {'bytes':>9}   (target <= {TARGET_BYTES} B/rule)")
    for label, v in memory_rows(args.flows):
        print(f"{label:<64} {v:>9.0f}")
    print()
    print(f"{'flow-counter export (workers -> agent)':<64} {'value':>9}")
    for label, v in flow_export_rows(args.flows):
        print(f"{label:<64} {v:>9.1f}")
    if args.e2e:
        print()
        print(f"{'end to end':<64} {'seconds':>9}")
        for label, v in e2e_rows():
            print(f"{label:<64} {v:>9.2f}")


if __name__ == "__main__":
    main()
