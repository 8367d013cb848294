"""The switches under test: quake, Open vSwitch (userspace), Linux bridge, bare forwarders.

Role: each DUT is started inside the test bed's DUT namespace, pinned to the
DUT CPU, programmed with the case's flow table (one exact rule per flow, in
``ovs-ofctl add-flows`` syntax, OpenFlow 1.3 fields; port 1 = in, 2 = out),
and stopped by the pids it started.

* ``quake``: the fast path, ``openvolcano quake --dpid 1 --port IN --port
  OUT --listen ptcp:PORT --workers 1 --worker-cpus DUT``: the worker process
  (the packet path) on the DUT CPU, the agent process (OpenFlow, tables,
  counters; idle while forwarding) on the control CPU. Rules pushed with
  ``ovs-ofctl -O OpenFlow13 add-flows tcp:127.0.0.1:PORT`` (the DUT
  namespace has its own loopback); ``dump-aggregate`` checks the count.
  ``quake-w0``: the single-process switch (``--workers 0``) on the DUT CPU.
* ``ovs``: a private ovsdb-server + ovs-vswitchd
  (:class:`openvolcano.netlab.ovs.PrivateOvs`), bridge ``datapath_type=netdev``,
  started from a thread that entered the DUT namespace. Same rule as quake:
  ovs-vswitchd's main thread - which polls non-PMD (AF_PACKET) ports and
  forwards - on the DUT CPU; ovsdb-server and every other vswitchd thread
  (handlers, revalidators, urcu) on the control CPU, re-applied after the
  flows are installed (threads created later inherit their creator's).

``--dut-sched fifo`` (testbed ``dut_sched``) runs every DUT's forwarding
thread at SCHED_FIFO 1 - quake through ``--worker-sched fifo``, the bare and
pyfwd forwarders and quake-w0 under ``chrt -f 1``, ovs-vswitchd's main
thread with ``sched_setscheduler`` - so the receive-livelock mitigation is
compared like for like.

"One core for the switch" = its packet path and the kernel RX work it
causes; control-plane processes/threads go to the control CPU (default: the
generator's, ``--control-cpu`` to change), for quake and OVS alike.
* ``bridge``: the kernel bridge (no rules; MAC learning) - a reference, not
  a contender: it runs in softirq and is generator-limited here.
* ``bare``: :mod:`benchmarks.bare_mmap_fwd` (MmapPort A -> B, no OpenFlow);
  ``bare-send`` the same with ``--tx-mode send`` (one send() per frame).
* ``pyfwd``: the yardstick's naive forwarder (``../shared/bench/duts/pyfwd.py
  mmaptx``), to check that our test bed reproduces its numbers.

A DUT that cannot run here says why (:meth:`Dut.unavailable`) and the harness
goes on with the others. ``bridge``, ``bare`` and ``pyfwd`` ignore the rules and
cannot rewrite eth_dst, so they skip the Figure 7 ``setdst`` cases.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from openvolcano.netlab.ovs import OvsNotInstalled, PrivateOvs, find_binaries

from .testbed import IP_GEN, IP_SINK, UDP_DPORT, BenchError, Proc, Testbed, in_netns, run

__all__ = ["ALIASES", "DUTS", "Dut", "known_dut", "make_dut", "write_rules"]

REPO = Path(__file__).resolve().parents[2]
YARDSTICK_PYFWD = REPO.parent / "shared" / "bench" / "duts" / "pyfwd.py"
QUAKE_OF_PORT = 6653
START_TIMEOUT = 60.0


def write_rules(
    path: Path, flows: int, action: str, src_mac: str, sent_dst: str, sink_mac: str
) -> int:
    """One exact (in_port, MACs, IPs, UDP ports) rule per flow; returns the rule count."""
    act = f"set_field:{sink_mac}->eth_dst,output:2" if action == "setdst" else "output:2"
    with path.open("w") as f:
        for i in range(flows):
            f.write(
                f"priority=100,in_port=1,dl_src={src_mac},dl_dst={sent_dst},udp,"
                f"nw_src={IP_GEN},nw_dst={IP_SINK},tp_src={i},tp_dst={UDP_DPORT},actions={act}\n"
            )
    return flows


def _wait_ready(proc: Proc, word: bytes, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if word in proc.log.read_bytes():
            return
        if not proc.alive():
            raise BenchError(f"{what} exited at start, see {proc.log}")
        time.sleep(0.05)
    raise BenchError(f"{what} not ready after {START_TIMEOUT:.0f} s, see {proc.log}")


def fifo_prefix(tb: Testbed) -> list[str]:
    """``chrt -f 1`` when the run asks for SCHED_FIFO forwarding threads."""
    return ["chrt", "-f", "1"] if tb.dut_sched == "fifo" else []


def pin_threads(pid: int, main_cpu: int, other_cpu: int) -> None:
    """Main thread of ``pid`` (tid == pid) on ``main_cpu``, all its other threads on ``other_cpu``."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            os.sched_setaffinity(int(tid), {main_cpu if int(tid) == pid else other_cpu})
        except ProcessLookupError:  # a thread that just ended
            continue


class Dut:
    """Base: start(tb, rules, nrules) / stop(); ``supports_setdst`` for Figure 7."""

    name = "?"
    supports_setdst = True

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def unavailable(self) -> str | None:
        """None if this DUT can run here, else the reason it cannot."""
        return None

    def start(self, tb: Testbed, rules: Path, nrules: int) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def alive(self) -> bool:
        return True


class _ProcDut(Dut):
    """A DUT that is one foreground process printing READY."""

    supports_setdst = False

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.proc: Proc | None = None

    def argv(self, tb: Testbed) -> list[str]:
        raise NotImplementedError

    def start(self, tb: Testbed, rules: Path, nrules: int) -> None:
        cmd = tb.nsx(tb.n.dut_ns, *fifo_prefix(tb), "taskset", "-c", str(tb.dut_cpu),
                     *self.argv(tb))  # fmt: skip
        self.proc = Proc(cmd, self.state_dir / f"{self.name}.log")
        _wait_ready(self.proc, b"READY", self.name)

    def alive(self) -> bool:
        return self.proc is None or self.proc.alive()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


class BareDut(_ProcDut):
    name = "bare"

    def argv(self, tb: Testbed) -> list[str]:
        fwd = str(REPO / "benchmarks" / "bare_mmap_fwd.py")
        return [sys.executable, fwd, tb.n.dut_in, tb.n.dut_out]


class BareSendDut(BareDut):
    """The bare forwarder with one send() per frame instead of the TX ring."""

    name = "bare-send"

    def argv(self, tb: Testbed) -> list[str]:
        return [*super().argv(tb), "--tx-mode", "send"]


class PyfwdDut(_ProcDut):
    name = "pyfwd"

    def unavailable(self) -> str | None:
        return None if YARDSTICK_PYFWD.exists() else f"{YARDSTICK_PYFWD} not found"

    def argv(self, tb: Testbed) -> list[str]:
        return [sys.executable, str(YARDSTICK_PYFWD), "mmaptx", tb.n.dut_in, tb.n.dut_out]


class BridgeDut(Dut):
    name = "bridge"
    supports_setdst = False

    def __init__(self, state_dir: Path) -> None:
        self.ns: str | None = None
        self.br = ""

    def start(self, tb: Testbed, rules: Path, nrules: int) -> None:
        ns, self.br = tb.n.dut_ns, "qbbr" + tb.n.dut_ns[-4:]
        run(["ip", "-n", ns, "link", "add", self.br, "type", "bridge"])
        self.ns = ns
        run(["ip", "-n", ns, "link", "set", self.br, "type", "bridge", "stp_state", "0",
             "forward_delay", "0"])  # fmt: skip
        for port in (tb.n.dut_in, tb.n.dut_out):
            run(["ip", "-n", ns, "link", "set", port, "master", self.br])
        run(["ip", "-n", ns, "link", "set", self.br, "up"])

    def stop(self) -> None:
        if self.ns is not None:
            run(["ip", "-n", self.ns, "link", "del", self.br], check=False)
            self.ns = None


class OvsDut(Dut):
    name = "ovs"

    def __init__(self, state_dir: Path) -> None:
        self.ovs: PrivateOvs | None = None
        self.ns = ""

    def unavailable(self) -> str | None:
        try:
            find_binaries()
        except OvsNotInstalled as exc:
            return str(exc)
        return None

    def start(self, tb: Testbed, rules: Path, nrules: int) -> None:
        self.ns = tb.n.dut_ns
        br = "qbov" + tb.n.dut_ns[-4:]
        affinity = os.sched_getaffinity(0)
        with in_netns(self.ns):
            os.sched_setaffinity(0, {tb.ctl_cpu})
            try:
                self.ovs = PrivateOvs(command_timeout=300.0)
                self.ovs.start()
            finally:
                os.sched_setaffinity(0, affinity)
            self.ovs.add_bridge(br, protocols="OpenFlow10,OpenFlow13")
            self.ovs.add_port(br, tb.n.dut_in, ofport=1)
            self.ovs.add_port(br, tb.n.dut_out, ofport=2)
            self.ovs.ofctl("add-flows", br, str(rules))
            agg = self.ovs.ofctl("dump-aggregate", br)
        if f"flow_count={nrules}" not in agg:
            raise BenchError(f"ovs: expected {nrules} flows installed, got: {agg.strip()}")
        pid = self.ovs.pids["ovs-vswitchd"]
        pin_threads(pid, tb.dut_cpu, tb.ctl_cpu)
        if tb.dut_sched == "fifo":  # the main thread polls the ports and forwards
            os.sched_setscheduler(pid, os.SCHED_FIFO, os.sched_param(1))

    def stop(self) -> None:
        if self.ovs is not None:
            with in_netns(self.ns):
                self.ovs.stop()
            self.ovs = None

    def alive(self) -> bool:
        return self.ovs is None or len(self.ovs.pids) == 2


class QuakeDut(Dut):
    """quake's fast path: one worker on the DUT CPU, the agent on the control CPU."""

    name = "quake"
    workers = 1
    extra: tuple[str, ...] = ()  # more quake options (a DUT variant, make_dut)

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.proc: Proc | None = None
        self.exe = shutil.which("openvolcano", path=str(Path(sys.executable).parent)) or ""
        self.load_s = 0.0  # how long add-flows took (records it)

    def unavailable(self) -> str | None:
        if not self.exe:
            return "the openvolcano command is not installed next to this python"
        if shutil.which("ovs-ofctl") is None:
            return "ovs-ofctl (used to push the rules) is not installed"
        p = subprocess.run(
            [self.exe, "quake", "--help"], capture_output=True, text=True, timeout=60, check=False
        )
        if p.returncode != 0 or "--listen" not in p.stdout:
            why = (p.stderr.strip().splitlines() or ["no 'quake' subcommand with --listen"])[-1]
            return f"'openvolcano quake' is not runnable yet ({why})"
        if self.workers and "--worker-cpus" not in p.stdout:
            return "'openvolcano quake' has no --worker-cpus (fast path not available)"
        return None

    def argv(self, tb: Testbed) -> list[str]:
        base = [self.exe, "quake", "--dpid", "1", "--port", tb.n.dut_in, "--port", tb.n.dut_out,
                "--listen", f"ptcp:{QUAKE_OF_PORT}"]  # fmt: skip
        if not self.workers:
            return [*fifo_prefix(tb), "taskset", "-c", str(tb.dut_cpu), *base]
        return ["taskset", "-c", str(tb.ctl_cpu), *base, "--workers", str(self.workers),
                "--worker-cpus", str(tb.dut_cpu),
                "--worker-sched", "fifo" if tb.dut_sched == "fifo" else "other",
                *self.extra]  # fmt: skip

    def start(self, tb: Testbed, rules: Path, nrules: int) -> None:
        self.proc = Proc(tb.nsx(tb.n.dut_ns, *self.argv(tb)), self.state_dir / f"{self.name}.log")
        deadline = time.monotonic() + START_TIMEOUT
        while not self._listening(tb.n.dut_ns):
            if not self.proc.alive():
                raise BenchError(f"{self.name} exited at start, see {self.proc.log}")
            if time.monotonic() > deadline:
                raise BenchError(f"{self.name} not listening after {START_TIMEOUT:.0f} s")
            time.sleep(0.1)
        target = f"tcp:127.0.0.1:{QUAKE_OF_PORT}"
        ofctl = ["ovs-ofctl", "-O", "OpenFlow13"]
        t0 = time.monotonic()
        run(tb.nsx(tb.n.dut_ns, *ofctl, "add-flows", target, str(rules)), timeout=900)
        self.load_s = time.monotonic() - t0
        agg = run(tb.nsx(tb.n.dut_ns, *ofctl, "dump-aggregate", target))
        if f"flow_count={nrules}" not in agg:
            raise BenchError(f"{self.name}: expected {nrules} flows installed, got: {agg.strip()}")

    @staticmethod
    def _listening(ns: str) -> bool:
        with in_netns(ns), socket.socket() as s:
            s.settimeout(1.0)
            return s.connect_ex(("127.0.0.1", QUAKE_OF_PORT)) == 0

    def alive(self) -> bool:
        return self.proc is None or self.proc.alive()

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None


class QuakeRxThreadDut(QuakeDut):
    """The fast path with ``--rx-thread``: quake moves its ports' kernel receive work into
    NAPI threads on the worker's CPU itself (useful in the ``dut`` RX mode, where the test
    bed leaves that work in softirq context via RPS)."""

    name = "quake-rxt"

    def argv(self, tb: Testbed) -> list[str]:
        return [*super().argv(tb), "--rx-thread"]


class QuakeSingleDut(QuakeDut):
    """quake without the fast path (``--workers 0``): one process on the DUT CPU."""

    name = "quake-w0"
    workers = 0


DUTS: dict[str, type[Dut]] = {
    "quake": QuakeDut,
    "quake-w0": QuakeSingleDut,
    "quake-rxt": QuakeRxThreadDut,
    "ovs": OvsDut,
    "bridge": BridgeDut,
    "bare": BareDut,
    "bare-send": BareSendDut,
    "pyfwd": PyfwdDut,
}


# Named variants (make_dut): quake without the workers' numpy batch index, the baseline
# the index is measured against.
ALIASES = {"quake-dict": "quake:no-batch-index", "quake-rxt-dict": "quake-rxt:no-batch-index"}


def known_dut(name: str) -> bool:
    """Is ``name`` a DUT: one of :data:`DUTS` or :data:`ALIASES`, or a quake one with
    options (``quake-rxt:worker-batch=1024``, see :func:`make_dut`)?"""
    base, _, opts = ALIASES.get(name, name).partition(":")
    cls = DUTS.get(base)
    return cls is not None and (not opts or issubclass(cls, QuakeDut))


def make_dut(name: str, state_dir: Path) -> Dut:
    """The DUT called ``name``. ``BASE:opt[=value]`` (a quake DUT only) adds ``--opt
    [value]`` to quake's command line and is reported under the whole name, so variants of
    one switch run interleaved in one test bed (e.g. ``quake-rxt:worker-batch=1024``). An
    alias (:data:`ALIASES`) is reported under its own name."""
    base, _, opts = ALIASES.get(name, name).partition(":")
    dut = DUTS[base](state_dir)
    if opts:
        if not isinstance(dut, QuakeDut):
            raise BenchError(f"{name}: options are for quake DUTs only")
        opt, _, value = opts.partition("=")
        dut.extra = (f"--{opt}", value) if value else (f"--{opt}",)
        dut.name = name
    return dut
