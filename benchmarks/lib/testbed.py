"""The benchmark test bed: generator -> DUT -> sink in three network namespaces.

Role: the measuring half of the quake benchmark (paper §VI, Figures 4-7). It
builds the topology, drives the real packet generator (netsniff-ng
``trafgen``) and reads interface counters; :mod:`.duts` plugs switches in
between, :mod:`.report` turns the records into the table and the plots.
Method (same as the project's yardstick, ``../shared/bench``):

    netns gen              netns dut (the switch)            netns sink
    G 10.99.0.1 <-veth-> IN (OpenFlow port 1)
                         OUT (OpenFlow port 2) <-veth-> S 10.99.0.2, tc ingress drop

* Frames: Ethernet/IPv4/UDP, flow i = UDP source port i, sizes counted with
  the 4-byte FCS (veth carries size-4 bytes); IMIX = 7:4:1 of 64/570/1518.
* Pinning: trafgen on the generator CPU, the DUT's packet path on the DUT
  CPU. ``rx_softirq="dut"`` (default): RPS puts the DUT in-port's kernel
  receive work on the DUT CPU too, so the switch gets exactly one core, its
  own kernel RX included. ``rx_softirq="gen"``: no RPS on the in-port, its
  receive softirq runs on the generator CPU in trafgen's context (the
  yardstick's sensitivity mode). ``rx_softirq="thread"``: no RPS, the
  in-port's receive work runs in its threaded-NAPI kernel thread pinned to
  the DUT CPU (quake's ``--rx-thread`` setting, applied to every DUT alike):
  the switch still pays for it on its core, but as a thread its forwarding
  threads can outrank (receive livelock, docs/benchmarks.md). ``ctl_cpu``
  is where DUTs put their control plane (quake's agent process, OVS's
  ovsdb-server and non-forwarding threads): the generator CPU by default,
  see docs/benchmarks.md.
* offered = G tx_packets + tx_dropped (tx_dropped: the DUT CPU's backlog was
  full - a NIC ring overflow); forwarded = S rx_packets; both from
  ``/proc/net/dev`` of each namespace, opened once with ``setns``. Rates come
  from a window after the warm-up; ``run_loss`` counts every frame of the
  whole run (read before trafgen starts and ``DRAIN_S`` after it stops), so
  frames buffered in the DUT's rings at the window edges do not skew it: the
  figure for the "loss < 0.1 %" target.
* Offered-load sweep: trafgen flat out, paced by a ``tbf`` qdisc on G (trafgen's
  own pacing bursts or tops out at ~40 kpps).

Invariants: every name carries a random suffix (parallel runs never collide);
:meth:`Testbed.close` removes exactly the namespaces it created (their veths
go with them) and restores ``net.core.wmem_default`` if it still holds our
value; every process started here runs in its own session and is stopped by
its process group.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from openvolcano.caldera.quake.ports.rxthread import attach_xdp_pass, napi_threads

CLONE_NEWNET = 0x40000000
FCS = 4
IP_GEN, IP_SINK, UDP_DPORT = "10.99.0.1", "10.99.0.2", 5001
SIZE_SETS: dict[str, list[int]] = {
    "64": [64],
    "570": [570],
    "1518": [1518],
    "imix": [64, 570, 64, 570, 64, 570, 64, 570, 64, 1518, 64, 64],
}
DRAIN_S = 0.3  # after trafgen stops, before the whole-run counters are read
WMEM_BENCH = 4 << 20  # trafgen cannot raise its sndbuf inside a netns; see README of the yardstick
_libc = ctypes.CDLL(None, use_errno=True)


class BenchError(Exception):
    """A step of the benchmark failed; the message says which and where to look."""


def avg_frame(size: str) -> float:
    """Average frame size (with FCS) of a size set."""
    sizes = SIZE_SETS[size]
    return sum(sizes) / len(sizes)


def run(argv: list[str], *, check: bool = True, timeout: float = 120) -> str:
    """Run a short command; its stdout, or :class:`BenchError` with its stderr."""
    p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and p.returncode != 0:
        raise BenchError(f"{' '.join(argv)} failed: {p.stderr.strip() or p.stdout.strip()}")
    return p.stdout


@contextlib.contextmanager
def in_netns(ns: str) -> Iterator[None]:
    """Run the block (and every child it spawns) in netns ``ns``; the thread returns after."""
    orig = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise BenchError(f"setns {ns}: {os.strerror(ctypes.get_errno())}")
        try:
            yield
        finally:
            _libc.setns(orig, CLONE_NEWNET)
    finally:
        os.close(fd)
        os.close(orig)


class Proc:
    """A child in its own session; stopped by process group (never by name)."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        self._logf: IO[bytes] = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.p = subprocess.Popen(
            argv, stdout=self._logf, stderr=subprocess.STDOUT, start_new_session=True, env=env
        )

    def alive(self) -> bool:
        return self.p.poll() is None

    def stop(self, sig: int = signal.SIGTERM, grace: float = 5.0) -> int | None:
        if self.p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.p.pid, sig)
            try:
                self.p.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.p.pid, signal.SIGKILL)
                self.p.wait(5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.p.pid, signal.SIGKILL)  # stragglers of the group (trafgen's workers)
        self._logf.close()
        return self.p.returncode


class NetDev:
    """``/proc/net/dev`` of another namespace, opened once through setns."""

    def __init__(self, ns: str) -> None:
        with in_netns(ns):
            self.f = open("/proc/thread-self/net/dev", "rb", buffering=0)  # noqa: SIM115

    def read(self) -> dict[str, dict[str, int]]:
        self.f.seek(0)
        out = {}
        for line in self.f.read().decode().splitlines()[2:]:
            name, rest = line.split(":", 1)
            v = [int(x) for x in rest.split()]
            out[name.strip()] = {
                "rx_bytes": v[0],
                "rx_packets": v[1],
                "rx_drop": v[3],
                "tx_bytes": v[8],
                "tx_packets": v[9],
                "tx_drop": v[11],
            }
        return out

    def close(self) -> None:
        self.f.close()


def cpu_times() -> dict[str, tuple[int, int, int]]:
    """Per CPU jiffies: (total, idle+iowait, irq+softirq)."""
    res = {}
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith("cpu") and line[3].isdigit():
                v = [int(x) for x in line.split()[1:9]]
                res[line.split()[0]] = (sum(v), v[3] + v[4], v[5] + v[6])
    return res


@dataclass
class Names:
    gen_ns: str
    dut_ns: str
    sink_ns: str
    gen_if: str
    dut_in: str
    dut_out: str
    sink_if: str

    @classmethod
    def fresh(cls) -> Names:
        s = secrets.token_hex(2)
        return cls(
            f"qbg-{s}", f"qbd-{s}", f"qbs-{s}", f"qbg0{s}", f"qbi0{s}", f"qbo0{s}", f"qbs0{s}"
        )


class Testbed:
    """The three namespaces and two veth pairs; :meth:`close` removes exactly them."""

    def __init__(
        self,
        state_dir: Path,
        gen_cpu: int = 0,
        dut_cpu: int = 1,
        *,
        rx_softirq: str = "dut",
        ctl_cpu: int | None = None,
        dut_sched: str = "other",
    ) -> None:
        if rx_softirq not in ("dut", "gen", "thread"):
            raise BenchError(f"rx_softirq must be dut, gen or thread, got {rx_softirq!r}")
        self.n = Names.fresh()
        self.state_dir = state_dir
        self.gen_cpu, self.dut_cpu = gen_cpu, dut_cpu
        self.rx_softirq = rx_softirq
        self.dut_sched = dut_sched  # "other" | "fifo": the DUTs' forwarding threads (duts.py)
        self.ctl_cpu = gen_cpu if ctl_cpu is None else ctl_cpu
        self._created: list[str] = []
        self._wmem_orig: str | None = None
        self.counters: dict[str, NetDev] = {}
        self.macs: dict[str, str] = {}

    def nsx(self, ns: str, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def build(self) -> Testbed:
        n = self.n
        rx_on_dut = self.rx_softirq == "dut"
        try:
            for ns in (n.gen_ns, n.dut_ns, n.sink_ns):
                run(["ip", "netns", "add", ns])
                self._created.append(ns)
                run(self.nsx(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"))
                run(self.nsx(ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1"))
                run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "link", "add", n.gen_if, "netns", n.gen_ns, "type", "veth",
                 "peer", "name", n.dut_in, "netns", n.dut_ns])  # fmt: skip
            run(["ip", "link", "add", n.sink_if, "netns", n.sink_ns, "type", "veth",
                 "peer", "name", n.dut_out, "netns", n.dut_ns])  # fmt: skip
            run(["ip", "-n", n.gen_ns, "addr", "add", f"{IP_GEN}/24", "dev", n.gen_if])
            run(["ip", "-n", n.sink_ns, "addr", "add", f"{IP_SINK}/24", "dev", n.sink_if])
            for ns, ifc in ((n.gen_ns, n.gen_if), (n.dut_ns, n.dut_in),
                            (n.dut_ns, n.dut_out), (n.sink_ns, n.sink_if)):  # fmt: skip
                run(["ip", "-n", ns, "link", "set", ifc, "up"])
            self.set_rps(n.dut_ns, n.dut_in, self.dut_cpu if rx_on_dut else None)
            if self.rx_softirq == "thread":
                self.rx_thread(n.dut_ns, n.dut_in, self.dut_cpu)
            self.set_rps(n.dut_ns, n.dut_out, self.dut_cpu)
            self.set_rps(n.sink_ns, n.sink_if, self.gen_cpu)
            self.set_rps(n.gen_ns, n.gen_if, self.gen_cpu)
            # sink: classic BPF "ret #2" (TC_ACT_SHOT) at ingress, after the counters
            run(self.nsx(n.sink_ns, "tc", "qdisc", "add", "dev", n.sink_if, "clsact"))
            run(self.nsx(n.sink_ns, "tc", "filter", "add", "dev", n.sink_if, "ingress",
                         "bpf", "da", "bytecode", "1,6 0 0 2,"))  # fmt: skip
            with open("/proc/sys/net/core/wmem_default") as f:
                self._wmem_orig = f.read().strip()
            run(["sysctl", "-qw", f"net.core.wmem_default={WMEM_BENCH}"])
            for ns in (n.gen_ns, n.dut_ns, n.sink_ns):
                self.counters[ns] = NetDev(ns)
            for ns, ifc in ((n.gen_ns, n.gen_if), (n.dut_ns, n.dut_out), (n.sink_ns, n.sink_if)):
                self.macs[ifc] = run(["ip", "netns", "exec", ns, "cat",
                                      f"/sys/class/net/{ifc}/address"]).strip()  # fmt: skip
        except BaseException:
            self.close()
            raise
        return self

    def rx_thread(self, ns: str, ifc: str, cpu: int) -> None:
        """``ifc``'s receive work as a threaded-NAPI kthread pinned to ``cpu``, as quake's
        ``--rx-thread`` does (GRO on and a pass-through XDP program: a veth uses its NAPI
        for every frame only then; RPS is already off). The same for every DUT; see
        docs/benchmarks.md "Overload"."""
        run(self.nsx(ns, "ethtool", "-K", ifc, "gro", "on"))
        with in_netns(ns):  # a veth uses its NAPI for every frame only with XDP attached
            attach_xdp_pass(ifc)
        run(self.nsx(ns, "sh", "-c", f"echo 1 > /sys/class/net/{ifc}/threaded"))
        pids = napi_threads(ifc)
        if not pids:
            raise BenchError(f"{ifc}: no NAPI thread after enabling threaded NAPI")
        for pid in pids:
            os.sched_setaffinity(pid, {cpu})

    def set_rps(self, ns: str, ifc: str, cpu: int | None) -> None:
        mask = "0" if cpu is None else format(1 << cpu, "x")
        path = f"/sys/class/net/{ifc}/queues/rx-0/rps_cpus"
        run(self.nsx(ns, "sh", "-c", f"echo {mask} > {path}"))

    def close(self) -> None:
        for nd in self.counters.values():
            nd.close()
        self.counters.clear()
        for ns in reversed(self._created):
            run(["ip", "netns", "del", ns], check=False)
        self._created.clear()
        if self._wmem_orig is not None:
            with open("/proc/sys/net/core/wmem_default") as f:
                still_ours = f.read().strip() == str(WMEM_BENCH)
            if still_ours:
                run(["sysctl", "-qw", f"net.core.wmem_default={self._wmem_orig}"], check=False)
            self._wmem_orig = None

    # --- traffic ------------------------------------------------------------------
    def trafgen_cfg(self, size: str, flows: int, dst_mac: str, path: Path) -> None:
        src_mac = self.macs[self.n.gen_if]
        sp = "0" if flows == 1 else f"dinc(0, {flows - 1})"
        lines = [f"/* quake bench: size={size} flows={flows} */"]
        for s in SIZE_SETS[size]:
            payload = s - FCS - 14 - 20 - 8
            lines.append(
                f"{{ eth(da={dst_mac}, sa={src_mac}), ipv4(sa={IP_GEN}, da={IP_SINK}, ttl=64, df), "
                f"udp(sp={sp}, dp={UDP_DPORT}, csum=0), fill(0x00, {payload}) }}"
            )
        path.write_text("\n".join(lines) + "\n")

    def measure(
        self, cfg: Path, size: str, rate: int | None, warmup: float, duration: float
    ) -> dict[str, float]:
        """One window of ``duration`` s of trafgen at ``rate`` pps (None: flat out)."""
        n = self.n
        tc = ["ip", "netns", "exec", n.gen_ns, "tc", "qdisc"]
        run([*tc, "del", "dev", n.gen_if, "root"], check=False)
        if rate:
            wire = avg_frame(size) - FCS
            burst = int(max(3200, 32 * wire))
            run([*tc, "add", "dev", n.gen_if, "root", "tbf", "rate", f"{int(rate * wire * 8)}bit",
                 "burst", str(burst), "limit", str(4 * burst)])  # fmt: skip
        argv = self.nsx(n.gen_ns, "taskset", "-c", str(self.gen_cpu), "trafgen", "-i", str(cfg),
                        "-o", n.gen_if, "-P", "1", "--no-sock-mem", "-q")  # fmt: skip
        first = {ns: nd.read() for ns, nd in self.counters.items()}
        gen = Proc(argv, self.state_dir / "trafgen.log")
        try:
            time.sleep(warmup)
            if not gen.alive():
                raise BenchError(f"trafgen exited early, see {gen.log}")
            c0, t0 = cpu_times(), time.monotonic()
            a = {ns: nd.read() for ns, nd in self.counters.items()}
            time.sleep(duration)
            b = {ns: nd.read() for ns, nd in self.counters.items()}
            t1, c1 = time.monotonic(), cpu_times()
            if not gen.alive():
                raise BenchError(f"trafgen exited during the window, see {gen.log}")
        finally:
            gen.stop(signal.SIGINT, grace=3)
            if rate:
                run([*tc, "del", "dev", n.gen_if, "root"], check=False)
        time.sleep(DRAIN_S)  # what the DUT still buffers (rings, backlog) reaches the sink
        last = {ns: nd.read() for ns, nd in self.counters.items()}
        dt = t1 - t0

        def d(ns: str, ifc: str, k: str) -> int:
            return b[ns][ifc][k] - a[ns][ifc][k]

        gtx, gdrop = d(n.gen_ns, n.gen_if, "tx_packets"), d(n.gen_ns, n.gen_if, "tx_drop")
        srx, sbytes = d(n.sink_ns, n.sink_if, "rx_packets"), d(n.sink_ns, n.sink_if, "rx_bytes")
        offered = gtx + gdrop
        g0, g1 = first[n.gen_ns][n.gen_if], last[n.gen_ns][n.gen_if]
        run_sent = g1["tx_packets"] + g1["tx_drop"] - g0["tx_packets"] - g0["tx_drop"]
        run_fwd = (
            last[n.sink_ns][n.sink_if]["rx_packets"] - first[n.sink_ns][n.sink_if]["rx_packets"]
        )
        dut_cpu = f"cpu{self.dut_cpu}"
        tot = c1[dut_cpu][0] - c0[dut_cpu][0] or 1
        return {
            "dt": round(dt, 3),
            "offered_pps": offered / dt,
            "fwd_pps": srx / dt,
            "in_drop_pps": gdrop / dt,
            "out_drop_pps": d(n.dut_ns, n.dut_out, "tx_drop") / dt,
            "fwd_gbps": (sbytes + FCS * srx) * 8 / dt / 1e9,
            "loss": (1 - srx / offered) if offered else 0.0,
            # whole run, warm-up and drain included: no window skew from buffered frames
            "run_sent": run_sent,
            "run_loss": (1 - run_fwd / run_sent) if run_sent else 0.0,
            "dut_cpu_busy": round(100 * (1 - (c1[dut_cpu][1] - c0[dut_cpu][1]) / tot), 1),
            "dut_cpu_si": round(100 * (c1[dut_cpu][2] - c0[dut_cpu][2]) / tot, 1),
        }
