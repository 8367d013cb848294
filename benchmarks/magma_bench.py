"""magma benchmark: flow programming rate and cbench-style packet-in handling, vs os-ken.

Role: the figures of the magma issue's closing note, measured in one run.
Run from the repository root, as root (Open vSwitch, quake):

    .venv/bin/python -m benchmarks.magma_bench                 # 10,000 rules, all
    .venv/bin/python -m benchmarks.magma_bench --flows 2000 --duration 2

1. **Flow programming** - N flow-mods (table 0, ``eth_type=0x0800,
   ipv4_dst=10.x.y.z``, drop) until confirmed by a barrier, to a fresh Open
   vSwitch bridge (userspace datapath) and to a fresh ``openvolcano quake``
   process. magma, from the start of ``Magma.put_owner``: *programmed* =
   compile + diff against the installed tables (dumped at connect) + flow-mods
   until the barrier reply (like-for-like with os-ken); *confirmed* = also the
   confirming flow-stats dump and diff (put_owner returns). The JSON result
   also has the pydantic validation time of the request body (REST layer,
   outside both). os-ken: ``osken_apps/flow_push.py`` sends the same
   flow-mods and a barrier on FEATURES_REPLY and times them to the BARRIER_REPLY.
2. **Packet-in -> packet-out** - an emulated switch
   (:class:`~openvolcano.stratov.magma.fakeswitch.FakeSwitch`, this process)
   sends PACKET_INs (100 source MACs, broadcast destination, sequence number in
   the payload) over TCP; the controller learns the source host and floods
   the frame with a PACKET_OUT. Latency mode: one packet-in outstanding,
   p50/p99 of the round trip. Throughput mode: ``--window`` outstanding for
   ``--duration`` s, answered packet-ins per second. magma runs with host
   learning and a responder registered in ``Magma.packet_in_handlers`` (called
   inline in the switch session's read loop, answering with
   :meth:`Magma.packet_out`); os-ken runs ``osken_apps/packet_responder.py``.

Every controller runs as its own process on loopback; one result table is
printed (and written as JSON with ``--json``). See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
OPENVOLCANO = str(Path(sys.executable).with_name("openvolcano"))
DPID = 0xBE
N_MACS = 100


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_rules(n: int) -> dict[str, Any]:
    flows = [
        {"priority": 100,
         "match": {"eth_type": 0x0800, "ipv4_dst": f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"},
         "instructions": []}
        for i in range(n)
    ]  # fmt: skip
    return {"switches": {f"{DPID:x}": {"flows": flows}}}


# -- controller processes -----------------------------------------------------------------


async def _magma_push(port: int, n: int) -> None:
    """Child: serve one switch, time put_owner of n rules, print JSON, exit."""
    from openvolcano.api import magma as api
    from openvolcano.stratov.magma.controller import Magma, MagmaConfig
    from openvolcano.stratov.magma.reconcile import diff

    t0 = time.perf_counter()
    state = api.OwnerState.model_validate(bench_rules(n))  # what the REST layer does
    validate = time.perf_counter() - t0
    magma = Magma(MagmaConfig(host="127.0.0.1", port=port, lldp_interval=0, learn_hosts=False))
    task = asyncio.create_task(magma.serve())
    async with asyncio.timeout(60):
        while not (DPID in magma.sessions and magma.sync_runs > 0):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await magma.sync()  # the connect-time resync is done
    gc.freeze()  # what the daemon does after startup
    t0 = time.perf_counter()
    await magma.put_owner("bench", state)
    seconds = time.perf_counter() - t0
    report = magma.last_sync
    dumped = await magma.dump(magma.sessions[DPID])  # independent check: a fresh dump
    in_sync = diff(magma.desired_rules(DPID), dumped).empty and len(dumped.flows) > n
    print(json.dumps({
        "flows": n, "seconds": report.programmed - t0, "confirmed_seconds": seconds,
        "validate_seconds": validate, "dumps": report.dumps, "in_sync": in_sync,
    }), flush=True)  # fmt: skip
    task.cancel()


async def _magma_reactive(port: int) -> None:
    """Child: magma with host learning plus a responder flooding every packet-in back."""
    from openvolcano.ofp import consts as c
    from openvolcano.ofp.messages import PacketIn
    from openvolcano.stratov.magma.controller import Magma, MagmaConfig

    magma = Magma(MagmaConfig(host="127.0.0.1", port=port, lldp_interval=0, learn_hosts=True))

    def respond(dpid: int, msg: PacketIn, in_port: int) -> None:  # inline in the read loop
        magma.packet_out(dpid, msg.data, c.OFPP_FLOOD, in_port)

    magma.packet_in_handlers.append(respond)
    await magma.serve(lambda _port: gc.freeze())


@contextmanager
def process(argv: list[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=None if os.environ.get("BENCH_DEBUG") else subprocess.DEVNULL, text=True, cwd=ROOT.parent,
    )  # fmt: skip
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()


def controller_argv(kind: str, mode: str, port: int) -> list[str]:
    if kind == "magma":
        return [sys.executable, "-m", "benchmarks.magma_bench", f"_magma-{mode}", "--port",
                str(port)]  # fmt: skip
    app = "flow_push.py" if mode == "push" else "packet_responder.py"
    return [sys.executable, str(ROOT / "osken_apps" / "launch.py"), "--port", str(port),
            str(ROOT / "osken_apps" / app)]  # fmt: skip


def wait_listening(port: int, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"controller exited with {proc.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise SystemExit(f"controller not listening on {port} after {timeout:g}s")


# -- flow programming ---------------------------------------------------------------------


@contextmanager
def switch(kind: str, target: str, ovs: Any) -> Iterator[None]:
    if kind == "ovs":
        br = f"mgb{secrets.token_hex(3)}"
        ovs.add_bridge(br, controller=target, datapath_id=DPID)
        try:
            yield
        finally:
            ovs.vsctl("--if-exists", "del-br", br)
    else:
        argv = [OPENVOLCANO, "quake", "--dpid", str(DPID), "--tables", "4", "--controller", target]
        with process(argv):
            yield


def flow_rate(ctl: str, sw: str, n: int, ovs: Any) -> dict[str, float]:
    port = free_port()
    out = Path(tempfile.mkstemp(prefix="magma-bench-", suffix=".json")[1])
    env = dict(os.environ, BENCH_FLOWS=str(n), BENCH_OUT=str(out))
    argv = controller_argv(ctl, "push", port)
    if ctl == "magma":
        argv += ["--flows", str(n)]
    try:
        with process(argv, env) as proc:
            wait_listening(port, proc)
            with switch(sw, f"tcp:127.0.0.1:{port}", ovs):
                if ctl == "magma":
                    assert proc.stdout is not None
                    line = proc.stdout.readline()  # blocks until the child reports
                    result = json.loads(line)
                    if not result["in_sync"]:
                        raise SystemExit(f"magma did not confirm the {n} rules on {sw}")
                else:
                    deadline = time.monotonic() + 120
                    while not out.stat().st_size and time.monotonic() < deadline:
                        time.sleep(0.05)
                    result = json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)
    out = {"per_s": n / result["seconds"]}
    if "confirmed_seconds" in result:
        out["confirmed_per_s"] = n / result["confirmed_seconds"]
        out["validate_s"] = result["validate_seconds"]
    return out


# -- packet-in round trips ----------------------------------------------------------------


def frame(seq: int) -> bytes:
    src = bytes([0x02, 0, 0, 0, 0, seq % N_MACS])
    return b"\xff" * 6 + src + b"\x88\xb5" + seq.to_bytes(4, "big") + bytes(46)


async def cbench(port: int, count: int, duration: float, window: int) -> dict[str, float]:
    from openvolcano.ofp.messages import PacketIn
    from openvolcano.ofp.oxm import Match
    from openvolcano.stratov.magma.fakeswitch import FakeSwitch

    sw = FakeSwitch(DPID, n_ports=4)
    waiting: dict[int, asyncio.Future[float]] = {}
    answered = 0
    progress = asyncio.Event()

    def on_packet_out(msg: Any) -> None:
        nonlocal answered
        answered += 1
        progress.set()
        fut = waiting.pop(int.from_bytes(msg.data[14:18], "big"), None)
        if fut is not None and not fut.done():
            fut.set_result(time.perf_counter())

    sw.on_packet_out = on_packet_out
    match = Match.of(in_port=1)

    def fire(seq: int) -> None:
        data = frame(seq)
        sw.send(PacketIn(total_len=len(data), match=match, data=data))

    await sw.connect("127.0.0.1", port)
    await asyncio.wait_for(sw.features_sent.wait(), 30)
    loop = asyncio.get_running_loop()
    seq = 0

    async def round_trip(timeout: float = 2) -> float | None:  # noqa: ASYNC109
        nonlocal seq
        seq += 1
        fut: asyncio.Future[float] = loop.create_future()
        waiting[seq] = fut
        t0 = time.perf_counter()
        fire(seq)
        try:
            return await asyncio.wait_for(fut, timeout) - t0
        except TimeoutError:
            waiting.pop(seq, None)
            return None

    try:
        for _ in range(100):  # warm up: until the controller answers at all
            if await round_trip(0.5) is not None:
                break
        else:
            raise SystemExit("the controller never answered a packet-in")
        rtts = [r for _ in range(count) if (r := await round_trip()) is not None]
        answered, in_flight = 0, 0
        start = loop.time()
        end = start + duration
        while loop.time() < end:
            while in_flight < window:
                seq += 1
                fire(seq)
                in_flight += 1
            await sw.drain()
            before = answered
            progress.clear()
            try:
                await asyncio.wait_for(progress.wait(), 1)
            except TimeoutError:
                in_flight = 0  # lost (dropped) packet-ins: refill the window
            in_flight = max(0, in_flight - (answered - before))
        rate = answered / (loop.time() - start)
    finally:
        await sw.close()
    q = statistics.quantiles(rtts, n=100)
    return {"p50_us": q[49] * 1e6, "p99_us": q[98] * 1e6, "pktin_per_s": rate,
            "lost": float(count - len(rtts))}  # fmt: skip


def packet_in_bench(ctl: str, count: int, duration: float, window: int) -> dict[str, float]:
    port = free_port()
    with process(controller_argv(ctl, "reactive", port)) as proc:
        wait_listening(port, proc)
        return asyncio.run(cbench(port, count, duration, window))


# -- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="magma vs os-ken: flow programming, packet-in")
    sub = parser.add_subparsers(dest="mode")
    for mode in ("_magma-push", "_magma-reactive"):  # internal: controller children
        p = sub.add_parser(mode)
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--flows", type=int, default=10_000)
    parser.add_argument("--flows", type=int, default=10_000, help="rules per programming run")
    parser.add_argument("--switches", default="ovs,quake", help="ovs,quake")
    parser.add_argument("--latency-count", type=int, default=2000, help="sequential round trips")
    parser.add_argument("--duration", type=float, default=5.0, help="throughput mode seconds")
    parser.add_argument("--window", type=int, default=64, help="outstanding packet-ins")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if args.mode == "_magma-push":
        asyncio.run(_magma_push(args.port, args.flows))
        return 0
    if args.mode == "_magma-reactive":
        asyncio.run(_magma_reactive(args.port))
        return 0

    from openvolcano.netlab.ovs import PrivateOvs

    results: dict[str, Any] = {"flows": args.flows, "flow_mods_per_s": {}, "packet_in": {}}
    switches = [s for s in args.switches.split(",") if s]
    with PrivateOvs() as ovs:
        for sw in switches:
            for ctl in ("magma", "osken"):
                rate = flow_rate(ctl, sw, args.flows, ovs)
                results["flow_mods_per_s"][f"{ctl}->{sw}"] = rate
                print(f"flow programming {ctl:>5} -> {sw:<5}: {rate}", flush=True)
    for ctl in ("magma", "osken"):
        r = packet_in_bench(ctl, args.latency_count, args.duration, args.window)
        results["packet_in"][ctl] = r
        print(f"packet-in {ctl:>5}: {r}", flush=True)
    print_table(results)
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


def print_table(r: dict[str, Any]) -> None:
    fm: dict[str, dict[str, float]] = r["flow_mods_per_s"]
    pi: dict[str, dict[str, float]] = r["packet_in"]
    line: Callable[[str], None] = print
    line(f"\n| measure ({r['flows']} rules) | magma | os-ken |")
    line("|---|---:|---:|")
    for sw in sorted({k.split("->")[1] for k in fm}):
        m, o = fm[f"magma->{sw}"], fm[f"osken->{sw}"]
        line(f"| flow-mods/s to {sw}, programmed (until barrier) | {m['per_s']:.0f} "
             f"| {o['per_s']:.0f} |")  # fmt: skip
        line(f"| flow-mods/s to {sw}, confirmed (+ flow-stats dump) | {m['confirmed_per_s']:.0f} "
             "| - |")  # fmt: skip
    for key, label in (("p50_us", "packet-in->out p50 (us)"), ("p99_us", "packet-in->out p99 (us)"),
                       ("pktin_per_s", "packet-ins/s handled")):  # fmt: skip
        line(f"| {label} | {pi['magma'][key]:.0f} | {pi['osken'][key]:.0f} |")


if __name__ == "__main__":
    sys.exit(main())
