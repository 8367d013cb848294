"""quake forwarding benchmark: trafgen -> DUT -> sink, quake vs Open vSwitch vs the kernel bridge.

Role: the project's reproduction of the paper's §VI evaluation (Figures 4-7)
and the yardstick of the quake fast-path targets. Run from the repository
root, as root (needs netsniff-ng, iproute2, Open vSwitch):

    python -m benchmarks.quake_bench                  # everything, 3 repeats (make bench)
    python -m benchmarks.quake_bench --quick --duts bridge
    python -m benchmarks.quake_bench --duts bare,ovs,bridge --figures 6 --sizes 64 \\
        --flows 1,65536 --repeat 3
    python -m benchmarks.quake_bench --targets       # the fast-path targets, one run (~25 min)

The plan is the union of the selected figures' points, deduplicated:
Fig. 4/5 = every size x every load, 1 flow; Fig. 6 = every flow count at
max load for each ``--flows-size`` (IMIX); Fig. 7 = ``--setdst-flows`` x (output,
setdst) for 64 B and IMIX at max load. Each point is measured ``--repeat``
times; the table shows medians. Outputs (``--out``, default
benchmarks/results/): ``runs.jsonl`` (one record per measurement, appended),
``results.md`` (median table of this run) and ``fig4..fig7`` PNGs. See
docs/benchmarks.md for the method and how the figures compare with the
shared yardstick.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.lib.duts import ALIASES, DUTS, Dut, QuakeDut, known_dut, make_dut, write_rules
from benchmarks.lib.report import markdown_table, medians, plot_all, targets_table
from benchmarks.lib.testbed import SIZE_SETS, BenchError, Testbed

Point = tuple[int, str, str, str]  # flows, action, size, load ("max" or pps)
DEFAULT_OUT = Path(__file__).resolve().parent / "results"


def parse_load(s: str) -> str:
    s = s.strip().lower()
    if s == "max":
        return s
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1:], 1)
    try:
        v = int(float(s.rstrip("km")) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad load {s!r}: use 'max' or pps like 50k") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"load must be positive, got {s!r}")
    return str(v)


def _csv(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def build_plan(a: argparse.Namespace) -> list[Point]:
    pts: list[Point] = []
    figs = set(a.figures)
    if figs & {"4", "5"}:
        loads = a.loads if "4" in figs else ["max"]
        pts += [(1, "output", s, ld) for s in a.sizes for ld in loads]
    if "6" in figs:
        pts += [(f, "output", s, "max") for s in a.flows_size for f in a.flows]
    if "7" in figs:
        for f in a.setdst_flows:
            for s in [x for x in ("64", "imix") if x in a.sizes] or a.sizes[:1]:
                pts += [(f, "output", s, "max"), (f, "setdst", s, "max")]
    seen: set[Point] = set()
    return [p for p in pts if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="quake_bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        "--duts",
        default="quake,ovs,bridge,bare",
        help="comma list of "
        + ",".join([*DUTS, *ALIASES])
        + "; a quake DUT may take one more quake"
        " option as NAME:opt[=value] (e.g. quake-rxt:worker-batch=1024), reported under that name",
    )
    ap.add_argument("--figures", default="4,5,6,7", help="which paper figures to measure")
    ap.add_argument("--sizes", default="64,570,1518,imix")
    ap.add_argument(
        "--loads", default="25k,50k,100k,150k,200k,max", help="offered loads (pps or max)"
    )
    ap.add_argument("--flows", default="1,16,64,256,4096,65536", help="flow counts for Fig. 6")
    ap.add_argument("--flows-size", default="imix", help="frame size(s) for Fig. 6")
    ap.add_argument("--setdst-flows", default="1,256", help="flow counts for Fig. 7")
    ap.add_argument("--repeat", type=int, default=3, help="measurements per point and round")
    ap.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="run every DUT this many times, interleaved (DUT a, DUT b, a, b...): medians"
        " then compare DUTs measured minutes apart under the same machine noise",
    )
    ap.add_argument("--warmup", type=float, default=1.5)
    ap.add_argument("--duration", type=float, default=3.0)
    ap.add_argument("--gen-cpu", type=int, default=0)
    ap.add_argument("--dut-cpu", type=int, default=1)
    ap.add_argument(
        "--control-cpu",
        type=int,
        default=None,
        help="CPU for DUT control planes (quake agent, ovsdb-server, vswitchd non-main threads);"
        " default: the generator CPU",
    )
    ap.add_argument(
        "--rx-softirq",
        choices=["dut", "gen", "thread"],
        default="dut",
        help="where the DUT in-port's kernel RX runs: dut (RPS to the DUT CPU, default), gen"
        " (generator CPU), thread (threaded NAPI kthread pinned to the DUT CPU, no RPS)",
    )
    ap.add_argument(
        "--dut-sched",
        choices=["other", "fifo"],
        default="other",
        help="scheduling of every DUT's forwarding thread (fifo: SCHED_FIFO 1, livelock fix)",
    )
    ap.add_argument(
        "--targets",
        action="store_true",
        help="the fast-path target set: 64 B sweep 10k..max, flows 1..65536 (64 B, IMIX), "
        "setdst at 1 flow",
    )
    ap.add_argument(
        "--quick", action="store_true", help="smoke run: 64 B, 1 flow, max load, 1 s, once"
    )
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--no-plots", action="store_true")
    a = ap.parse_args(argv)
    if a.targets:  # the preset fills what was not given explicitly
        preset = {"figures": "4,5,6,7", "sizes": "64", "flows_size": "64,imix",
                  "loads": "10k,25k,50k,100k,150k,200k,250k,300k,max", "flows": "1,256,4096,65536",
                  "setdst_flows": "1"}  # fmt: skip
        for k, v in preset.items():
            if getattr(a, k) == ap.get_default(k):
                setattr(a, k, v)
    if a.quick:
        a.figures, a.sizes, a.loads, a.repeat = "5", "64", "max", 1
        a.warmup, a.duration = 0.5, 1.0
    a.duts, a.figures, a.sizes = _csv(a.duts), _csv(a.figures), _csv(a.sizes)
    a.flows_size = _csv(a.flows_size)
    try:
        a.loads = [parse_load(x) for x in _csv(a.loads)]
        a.flows = [int(x) for x in _csv(a.flows)]
        a.setdst_flows = [int(x) for x in _csv(a.setdst_flows)]
    except (argparse.ArgumentTypeError, ValueError) as exc:
        ap.error(str(exc))
    for bad, what in (
        ([d for d in a.duts if not known_dut(d)], "unknown DUT"),
        ([s for s in [*a.sizes, *a.flows_size] if s not in SIZE_SETS], "unknown size"),
        ([f for f in a.figures if f not in ("4", "5", "6", "7")], "unknown figure"),
        ([f for f in a.flows + a.setdst_flows if not 1 <= f <= 65536], "flows out of 1..65536"),
    ):
        if bad:
            ap.error(f"{what}: {', '.join(map(str, bad))}")
    if a.repeat < 1 or a.rounds < 1 or a.duration <= 0 or a.warmup < 0:
        ap.error("--repeat and --rounds must be >= 1, --duration > 0, --warmup >= 0")
    return a


def log(msg: str) -> None:
    print(f"{datetime.datetime.now():%H:%M:%S} {msg}", file=sys.stderr, flush=True)


def run_dut(dut: Dut, tb: Testbed, plan: list[Point], a: argparse.Namespace, out: Any) -> int:
    """Measure every point of the plan on one DUT; returns the number of records written."""
    n = tb.n
    src, sink, dut_out = tb.macs[n.gen_if], tb.macs[n.sink_if], tb.macs[n.dut_out]
    written = 0
    cases = sorted({(f, act) for f, act, _, _ in plan})
    for flows, action in cases:
        if action == "setdst" and not dut.supports_setdst:
            log(f"{dut.name}: skips setdst (cannot rewrite eth_dst)")
            continue
        # setdst: frames go to the DUT out-port's MAC and the rule rewrites eth_dst to the sink's
        sent_dst = dut_out if action == "setdst" else sink
        rules = tb.state_dir / f"rules-{flows}-{action}.ofctl"
        nrules = write_rules(rules, flows, action, src, sent_dst, sink)
        log(f"{dut.name}: start, {nrules} rules, action {action}")
        dut.start(tb, rules, nrules)
        if isinstance(dut, QuakeDut):
            log(f"{dut.name}: {nrules} rules loaded with ovs-ofctl add-flows in {dut.load_s:.1f} s")
        try:
            for f, act, size, load in plan:
                if (f, act) != (flows, action):
                    continue
                cfg = tb.state_dir / f"tg-{size}-{flows}-{action}.cfg"
                tb.trafgen_cfg(size, flows, sent_dst, cfg)
                for rep in range(a.repeat):
                    if not dut.alive():
                        raise BenchError(f"{dut.name} died during the run")
                    rate = None if load == "max" else int(load)
                    r = tb.measure(cfg, size, rate, a.warmup, a.duration)
                    rec = {
                        "ts": datetime.datetime.now().isoformat(timespec="seconds"),
                        "dut": dut.name, "size": size, "flows": flows, "nrules": nrules,
                        "action": action, "load": load, "rep": rep,
                        "rx_softirq": tb.rx_softirq, "ctl_cpu": tb.ctl_cpu,
                        "dut_sched": tb.dut_sched, **r,
                    }  # fmt: skip
                    out.write(json.dumps(rec) + "\n")
                    out.flush()
                    written += 1
                    log(
                        f"{dut.name} size={size} flows={flows} {action} load={load} rep={rep}: "
                        f"offered {r['offered_pps'] / 1e6:.3f} fwd {r['fwd_pps'] / 1e6:.3f} Mpps "
                        f"loss {100 * r['loss']:.1f}% cpu{tb.dut_cpu} {r['dut_cpu_busy']}% "
                        f"(si {r['dut_cpu_si']}%)"
                    )
        finally:
            dut.stop()
    return written


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    a = parse_args(argv)
    # SIGTERM, and SIGINT even when started in the background (where it is ignored), stop the
    # run through the same cleanup as Ctrl-C: DUTs and trafgen stopped, namespaces removed.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, _interrupt)
    if os.geteuid() != 0:
        print("quake_bench: needs root (network namespaces, veth, tc)", file=sys.stderr)
        return 2
    if shutil.which("trafgen") is None:
        print("quake_bench: trafgen not found (apt-get install netsniff-ng)", file=sys.stderr)
        return 2
    plan = build_plan(a)
    a.out.mkdir(parents=True, exist_ok=True)
    state = Path(tempfile.mkdtemp(prefix="quake-bench-"))
    runs_path = a.out / "runs.jsonl"
    rows: list[dict[str, Any]] = []
    skipped: dict[str, str] = {}
    tb = Testbed(state, a.gen_cpu, a.dut_cpu, rx_softirq=a.rx_softirq, ctl_cpu=a.control_cpu,
                 dut_sched=a.dut_sched)  # fmt: skip
    try:
        tb.build()
        log(f"test bed {tb.n.gen_ns}/{tb.n.dut_ns}/{tb.n.sink_ns}; {len(plan)} points per DUT")
        for rnd in range(a.rounds):
            for name in a.duts:
                if name in skipped:
                    continue
                dut = make_dut(name, state)
                why = dut.unavailable()
                if why:
                    skipped[name] = why
                    log(f"SKIPPED {name}: {why}")
                    continue
                if a.rounds > 1:
                    log(f"round {rnd + 1}/{a.rounds}: {name}")
                tmp = state / f"{name}.jsonl"
                try:
                    with tmp.open("w") as out:
                        run_dut(dut, tb, plan, a, out)
                except BenchError as exc:
                    skipped[name] = f"failed: {exc}"
                    log(f"FAILED {name}: {exc} (going on with the other DUTs)")
                with tmp.open() as f:
                    new = [{**json.loads(x), "round": rnd} for x in f if x.strip()]
                rows += new
                with runs_path.open("a") as f:
                    f.writelines(json.dumps(r) + "\n" for r in new)
    except BenchError as exc:
        print(f"quake_bench: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("quake_bench: interrupted, cleaning up", file=sys.stderr)
        return 130
    finally:
        tb.close()
    cells = medians(rows)
    table = markdown_table(cells)
    notes = "".join(f"\n* {d}: not measured - {why}" for d, why in skipped.items())
    cmd = "python -m benchmarks.quake_bench " + " ".join(argv if argv is not None else sys.argv[1:])
    rx = {"dut": "RX softirq via RPS on the DUT CPU", "gen": "RX softirq on the generator CPU"
          " (no RPS)", "thread": "RX in a threaded-NAPI kthread pinned to the DUT CPU (no RPS)"
          }[a.rx_softirq]  # fmt: skip
    header = (
        f"# quake benchmark results\n\n{datetime.datetime.now():%Y-%m-%d %H:%M}, `{cmd.strip()}`, "
        f"generator CPU {a.gen_cpu}, DUT CPU {a.dut_cpu}, control-plane CPU {tb.ctl_cpu}, "
        f"rx_softirq={a.rx_softirq} (DUT in-port {rx}), forwarding threads "
        f"SCHED_{a.dut_sched.upper()}, {a.rounds} round(s) x {a.repeat} repeat(s) of "
        f"{a.duration:g} s after {a.warmup:g} s warm-up; cells are medians.\n{notes}\n\n"
    )
    targets = ""
    for q, what in (("quake", "--workers 1"), ("quake-rxt", "--workers 1 --rx-thread")):
        if any(k[0] == q for k in cells):
            targets += f"## Fast-path targets ({q} = {what})\n\n" + targets_table(cells, q) + "\n"
    body = header + targets + "## All points\n\n" + table
    (a.out / "results.md").write_text(body)
    print(body)
    if not a.no_plots and cells:
        for p in plot_all(cells, a.out):
            log(f"wrote {p}")
    shutil.rmtree(state, ignore_errors=True)
    return 0 if rows else 1


if __name__ == "__main__":
    sys.exit(main())
