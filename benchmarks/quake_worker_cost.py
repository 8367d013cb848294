"""Per-packet CPU and memory of the forwarding process, measured from /proc, in the test bed.

Role: the figures behind "quake's own cost is within a few per cent of the bare
forwarder's" and "RSS per rule under many-flow traffic" in docs/benchmarks.md.
Throughput at overload (``quake_bench``) is noisy on a shared machine; CPU time
per forwarded packet at a *paced* load below saturation is not, and it splits
the cost between the forwarding process and the in-port's NAPI thread.

For each DUT (``quake`` = one worker, ``quake-dict`` = the same without the
batch index, ``bare`` = ``bare_mmap_fwd.py``) and each
flow count: the test bed in ``--rx-softirq thread`` mode (the in-port's receive
work in its NAPI thread pinned to the switch CPU), one exact rule per flow,
trafgen paced at ``--load`` pps. Over a window after a warm-up:

* CPU time (utime + stime from ``/proc/PID/stat``) of the forwarding process
  (quake's worker, or the bare forwarder) and of the NAPI thread, per
  forwarded packet, and the forwarder's voluntary context switches per second;
* the forwarding process's RSS after its rules were installed and its peak
  during the traffic (sampled every 50 ms), per rule when there are rules.

    python -m benchmarks.quake_worker_cost [--duts quake,quake-dict,bare] [--flows 1,65536]
        [--load 150000] [--warmup 1.5] [--window 2]

Root, netsniff-ng and Open vSwitch's ``ovs-ofctl`` (rules for quake) needed.
Prints one line per (DUT, flows); the baseline (bare) is measured in the same
run. The kernel's tick-based accounting makes the user/system split unreliable:
only their sum is printed.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.lib.duts import BareDut, QuakeDut, make_dut, write_rules
from benchmarks.lib.testbed import BenchError, Testbed
from openvolcano.caldera.quake.ports.rxthread import napi_threads

TICK = os.sysconf("SC_CLK_TCK")


def cpu_and_switches(pid: int) -> tuple[float, int]:
    """(seconds of CPU, voluntary context switches) of ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    vcs = int(status.split("voluntary_ctxt_switches:")[1].split()[0])
    return (int(fields[11]) + int(fields[12])) / TICK, vcs


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return int(f.read().split("VmRSS:")[1].split()[0])


def forwarder_pid(root: int, cpu: int) -> int:
    """The process that forwards: the one of ``root``'s tree pinned to the switch CPU
    (quake's worker; the bare forwarder itself - ``ip netns exec``/``taskset`` exec).
    Looked for a few times: a process tree seen while it still starts may lack it."""
    for _ in range(20):
        found = _pinned(root, cpu)
        if len(found) == 1:
            return found[0]
        time.sleep(0.25)  # bounded: 20 looks, 5 s
    raise BenchError(f"expected one process pinned to CPU {cpu} under {root}, got {found}")


def _pinned(root: int, cpu: int) -> list[int]:
    todo, found = [root], []
    while todo:
        pid = todo.pop()
        try:
            if os.sched_getaffinity(pid) == {cpu}:
                found.append(pid)
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                todo += [int(k) for k in f.read().split()]
        except OSError:
            continue  # exited meanwhile
    return found


def measure(tb: Testbed, name: str, flows: int, a: argparse.Namespace) -> str:
    n = tb.n
    state = tb.state_dir
    dut = make_dut(name, state)
    why = dut.unavailable()
    if why:
        return f"{name}: not measured - {why}"
    rules = state / f"cost-rules-{flows}.ofctl"
    sink = tb.macs[n.sink_if]
    nrules = write_rules(rules, flows, "output", tb.macs[n.gen_if], sink, sink)
    dut.start(tb, rules, nrules)
    try:
        proc = getattr(dut, "proc", None)
        if proc is None:
            raise BenchError(f"{name}: no process to measure")
        fwd = forwarder_pid(proc.p.pid, tb.dut_cpu)
        napi = napi_threads(n.dut_in)[0]
        base_rss = rss_kib(fwd)
        cfg = state / f"cost-tg-{flows}.cfg"
        tb.trafgen_cfg("64", flows, sink, cfg)
        res: dict[str, float] = {}
        peak = [base_rss]
        stop = threading.Event()

        def sample() -> None:
            time.sleep(a.warmup + 0.5)  # inside measure()'s window
            (c0, v0), (k0, _), t0 = cpu_and_switches(fwd), cpu_and_switches(napi), time.monotonic()
            time.sleep(a.window - 1.0)
            (c1, v1), (k1, _), t1 = cpu_and_switches(fwd), cpu_and_switches(napi), time.monotonic()
            res.update(fwd=(c1 - c0) / (t1 - t0), napi=(k1 - k0) / (t1 - t0),
                       vcs=(v1 - v0) / (t1 - t0))  # fmt: skip

        def watch_rss() -> None:
            while not stop.wait(0.05):
                peak[0] = max(peak[0], rss_kib(fwd))

        threads = [threading.Thread(target=sample), threading.Thread(target=watch_rss)]
        for t in threads:
            t.start()
        try:
            r = tb.measure(cfg, "64", a.load, a.warmup, a.window)
        finally:
            threads[0].join()
            stop.set()
            threads[1].join()
    finally:
        dut.stop()
    pps = r["fwd_pps"]
    line = (f"{name:10s} flows={flows:<6d} fwd {pps / 1e3:6.1f} kpps (loss {100 * r['loss']:.2f} %); "
            f"forwarder {1e6 * res['fwd'] / pps:.2f} us/pkt, NAPI thread "
            f"{1e6 * res['napi'] / pps:.2f} us/pkt, {res['vcs']:.0f} ctx switches/s; "
            f"RSS {base_rss} KiB after rules, peak {peak[0]} KiB")  # fmt: skip
    return line


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--duts", default="quake,bare", help="comma list of quake,quake-dict,bare")
    ap.add_argument("--flows", default="1,65536", help="flow counts (one exact rule each)")
    ap.add_argument("--load", type=int, default=150_000, help="paced load, pps (below saturation)")
    ap.add_argument("--warmup", type=float, default=1.5)
    ap.add_argument("--window", type=float, default=3.0)
    a = ap.parse_args(argv)
    duts = [d for d in a.duts.split(",") if d]
    bad = [d for d in duts if d not in (QuakeDut.name, "quake-dict", BareDut.name)]
    flows = [int(f) for f in a.flows.split(",") if f]
    if bad or not duts or not flows or a.window < 1.5 or a.load <= 0:
        ap.error("--duts from quake,quake-dict,bare; --flows N,...; --window >= 1.5; --load > 0")
    if os.geteuid() != 0:
        print("quake_worker_cost: needs root (network namespaces)", file=sys.stderr)
        return 2
    tb = Testbed(Path(tempfile.mkdtemp(prefix="quake-cost-")), rx_softirq="thread",
                 dut_sched="fifo")  # fmt: skip
    try:
        tb.build()
        for f in flows:
            for d in duts:
                print(measure(tb, d, f, a), flush=True)
    except BenchError as exc:
        print(f"quake_worker_cost: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    finally:
        tb.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
