"""The dispatcher: N worker processes sharing the switch ports, a changeable number active.

Role (paper §VI: "a dispatcher and a configurable set of workers"; geyser's
actuator for the paper's power management): :class:`WorkerPool` starts
``max_workers`` processes (:mod:`.worker`), each opening its own
:class:`~..ports.mmap.MmapPort` on every interface, all joined to one
PACKET_FANOUT group per interface. Which worker gets a frame is decided in
the kernel by a classic-BPF fanout program (``PACKET_FANOUT_CBPF``) that
hashes the IPv4 addresses and L4 ports (Ethernet addresses otherwise) and
returns ``hash % active``: changing the number of active workers replaces
that program atomically.

Changing the number of active workers loses nothing: a parked worker stays
in the fanout group (it simply receives no new frames), drains what its ring
still holds, and keeps applying table updates in its replica, so it resumes
with the current tables and no flow state lives only in a worker. Parked
workers sleep in ``poll()`` and cost no CPU.

Design:

* Workers are forked one by one and each reports ``ready`` after joining its
  fanout groups, so fanout member index == worker id (the BPF program's
  answer ``i`` means worker ``i``). With ``max_workers == 1`` there is no
  fanout group at all (:attr:`WorkerPool.fanout`): nothing to steer, and the
  kernel skips the per-frame BPF demux; the agent's send-only port sockets
  then receive nothing (bound to no protocol).
* Control: one ``SOCK_SEQPACKET`` socketpair per worker; the pool sends
  updates (chunked, applied by the worker only when the last chunk arrived),
  ``active`` flags and ``stop``; workers send ``ack``, ``ready``,
  packet-ins, counter reports and port events (a port whose interface went
  away, :mod:`.worker`) back (:meth:`poll` collects them).
* Counters: one shared anonymous mmap of int64 slots per worker, written by
  that worker only (:func:`.worker.counter_slots`), summed by :meth:`stats`.

* Offloads: workers' ports read with ``PACKET_VNET_HDR`` (:class:`MmapPort`
  ``vnet``) whenever the ring blocks can hold a 64 KiB super-frame (the
  default geometry), so TCP from local senders with TSO and checksum
  offload on is finished/segmented in software, as in the single-process
  switch.
* Scheduling (receive livelock): on a core that also runs the ports' kernel
  receive softirq, a worker at the default policy loses the core to
  ``ksoftirqd`` once the offered load passes its capacity - the kernel then
  spends the core copying frames into a ring nobody empties, and throughput
  *falls* as load rises. ``sched="fifo"`` puts each worker at SCHED_FIFO
  priority 1: softirqs still run at interrupt exit (bounded by the kernel's
  netdev budget), but ``ksoftirqd`` no longer preempts the worker, so the
  excess backs up into the per-CPU backlog and is dropped there, before any
  per-frame work. The worker sleeps in ``poll()`` when idle, so an idle
  worker starves nothing; the kernel's RT throttling (``sched_rt_runtime_us``)
  still leaves other tasks 5 % of the core at worst. The policy is a
  constructor argument (``sched``), passed down from the CLI's
  ``--worker-sched`` through :func:`.switch.start_fastpath`.

* A worker that dies (its control socket reads end-of-file): the pool logs
  it with its exit status, stops waiting for it at barriers, and steers its
  share of the traffic to the workers left. The kernel fills a dead
  member's place in a fanout group with the group's *last* member (often
  the agent's never-chosen socket), so the pool keeps each group's member
  order (:meth:`WorkerPool.joined`, :meth:`WorkerPool.left`) and the BPF
  program maps the hash to the live workers' positions. The dead worker's
  last counters stay in the totals; the flow counts it had not reported yet
  are lost. It is not restarted (docs/quake-fastpath.md, "Limits").

Invariants: worker processes are stopped by pid (SIGTERM after a ``stop``
message and a grace period); ``1 <= active <= max_workers``; a group's
member list mirrors the kernel's fanout array (workers by id, ``None`` for
another socket).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import mmap
import multiprocessing
import os
import pickle
import select
import socket
import struct
import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

from openvolcano.common.errors import InvalidInput

from ..pipeline.results import PacketInDecision
from ..ports import _tpacket as tp
from ..ports.base import PortBackend
from ..ports.mmap import MmapPort, RingGeometry
from .compact import FlowReport
from .replica import Record, UpdateLog
from .worker import COUNTER_FIELDS, PORT_FIELDS, Worker, counter_slots

__all__ = ["PoolError", "WorkerPool", "WorkerTuning", "fanout_program"]

log = logging.getLogger(__name__)

MAX_BATCH = 1024  # frames per receive batch, at most (a TX ring holds 1,024 frames)


@dataclass(frozen=True)
class WorkerTuning:
    """How each worker forwards (CLI: ``--worker-batch``, ``--no-batch-index``)."""

    batch: int = 256  # frames taken from a port's RX ring per batch, at most
    batch_index: bool = True  # large batches of many flows through the numpy batch index

    def __post_init__(self) -> None:
        if not 1 <= self.batch <= MAX_BATCH:
            raise InvalidInput(f"bad --worker-batch {self.batch}: expected 1..{MAX_BATCH}")


PACKET_FANOUT_CBPF = 6
PACKET_FANOUT_DATA = 22
_CHUNK = 512  # records per control message
_CTRL_BUF = 1 << 22


SCHED_POLICIES = ("other", "fifo")


class PoolError(InvalidInput):
    """The pool could not start or was asked something impossible."""


def apply_sched(policy: str) -> None:
    """Set the calling process's scheduling policy (``other`` | ``fifo``: SCHED_FIFO 1)."""
    if policy == "fifo":
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        except PermissionError:
            raise PoolError("SCHED_FIFO workers need CAP_SYS_NICE (run quake as root)") from None
    elif policy != "other":
        raise PoolError(f"unknown scheduling policy {policy!r}: expected other or fifo")


def _ins(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k & 0xFFFFFFFF)


def fanout_program(active: int | Sequence[int]) -> bytes:
    """Classic BPF: flow hash of the frame modulo the number of receivers, as a fanout member
    index: ``active`` receivers at indices 0..active-1, or the receivers' indices."""
    where = list(range(active)) if isinstance(active, int) else list(active)
    if len(where) <= 1:
        return _ins(0x06, 0, 0, where[0] if where else 0)  # ret #index
    active = len(where)
    prog = [
        _ins(0x28, 0, 0, 12),  # ldh [12]
        _ins(0x15, 0, 11, 0x0800),  # jeq #0x800, else -> eth hash
        _ins(0xB1, 0, 0, 14),  # ldxb 4*([14]&0xf)
        _ins(0x40, 0, 0, 14),  # ld [x+14]      (L4 ports)
        _ins(0x02, 0, 0, 0),  # st M[0]
        _ins(0x20, 0, 0, 26),  # ld [26]        (ip src)
        _ins(0x07, 0, 0, 0),  # tax
        _ins(0x20, 0, 0, 30),  # ld [30]        (ip dst)
        _ins(0xAC, 0, 0, 0),  # xor x
        _ins(0x07, 0, 0, 0),  # tax
        _ins(0x60, 0, 0, 0),  # ld M[0]
        _ins(0xAC, 0, 0, 0),  # xor x
        _ins(0x05, 0, 0, 4),  # ja fold
        _ins(0x20, 0, 0, 8),  # eth: ld [8]
        _ins(0x07, 0, 0, 0),  # tax
        _ins(0x20, 0, 0, 2),  # ld [2]
        _ins(0xAC, 0, 0, 0),  # xor x
        _ins(0x07, 0, 0, 0),  # fold: tax
        _ins(0x74, 0, 0, 16),  # rsh #16
        _ins(0xAC, 0, 0, 0),  # xor x
        _ins(0x94, 0, 0, active),  # mod #active
    ]
    if where == list(range(active)):
        prog.append(_ins(0x16, 0, 0, 0))  # ret a
    else:  # receiver i sits at index where[i]
        for i, index in enumerate(where):
            prog += [_ins(0x15, 0, 1, i), _ins(0x06, 0, 0, index)]  # jeq #i; ret #index
        prog.append(_ins(0x06, 0, 0, where[0]))
    return b"".join(prog)


def set_fanout_program(fd: int, active: int | Sequence[int]) -> None:
    """Install the steering program on the fanout group ``fd``'s socket belongs to."""
    code = fanout_program(active)
    buf = ctypes.create_string_buffer(code, len(code))
    fprog = struct.pack("=H6xQ", len(code) // 8, ctypes.addressof(buf))
    with socket.socket(fileno=os.dup(fd)) as s:
        s.setsockopt(tp.SOL_PACKET, PACKET_FANOUT_DATA, fprog)


class _Handle:
    """The pool's view of one worker process."""

    def __init__(self, wid: int, proc: Any, ctrl: socket.socket) -> None:
        self.wid = wid
        self.proc = proc
        self.ctrl = ctrl
        self.active = True
        self.alive = True


class WorkerPool:
    """Starts, steers and stops the worker processes of one switch. Single owner (the agent)."""

    def __init__(
        self,
        ifaces: Sequence[tuple[str, int]],
        *,
        max_workers: int,
        n_tables: int = 254,
        netns: str | None = None,
        cpus: Sequence[int] = (),
        geometry: RingGeometry | None = None,
        start_timeout: float = 10.0,
        sched: str = "other",
        tuning: WorkerTuning | None = None,
    ) -> None:
        if max_workers < 1:
            raise PoolError(f"workers must be >= 1, got {max_workers}")
        self.sched = sched  # the workers' scheduling policy (module doc)
        if self.sched not in SCHED_POLICIES:
            raise PoolError(f"unknown scheduling policy {self.sched!r}: expected other or fifo")
        self.ifaces = tuple(ifaces)
        self.max_workers = max_workers
        self.n_tables = n_tables
        self.netns = netns
        self.cpus = tuple(cpus)
        # 4 MiB of RX ring per port; 128 KiB blocks hold a 64 KiB GSO super-frame (vnet)
        self.geometry = geometry or RingGeometry(block_size=1 << 17, block_nr=32)
        self.tuning = tuning or WorkerTuning()  # every worker's batch size and batch index
        self.start_timeout = start_timeout
        self.log = UpdateLog()
        self.active = max_workers
        base = (os.getpid() * 7919) & 0xFFFF
        self.groups = {no: (base + i) & 0xFFFF for i, (_, no) in enumerate(self.ifaces)}
        # One worker: nothing to steer, so no fanout group (the kernel then delivers each
        # frame straight to the worker's socket, no BPF program per frame).
        self.fanout = max_workers > 1
        self._slots = counter_slots(len(self.ifaces))
        self._shm = mmap.mmap(-1, 8 * self._slots * max_workers)
        self._handles: list[_Handle] = []
        # Collected by poll(), consumed by the agent shell:
        self.packet_ins: list[PacketInDecision] = []
        self.flow_reports: list[FlowReport] = []  # flow counter increments, per table
        self.table_deltas: list[tuple[int, int, int]] = []  # (table, lookups, matches)
        self.port_events: list[tuple[int, int, str, int]] = []  # (worker, port, "gone", errno)
        # Each fanout group's members in the kernel's order: worker ids, None for another
        # socket (the agent's); see the module docstring. Dead workers, by id: exit status.
        self.members: dict[int, list[int | None]] = {no: [] for _, no in self.ifaces}
        self.exited: dict[int, int | None] = {}
        self.dead_fds: list[int] = []  # control descriptors of dead workers, for the owner

    def where(self, spec: str) -> tuple[str, str | None]:
        """``IFNAME[@NETNS]`` -> (interface, namespace); the pool's ``netns`` by default."""
        name, _, ns = spec.partition("@")
        return name, ns or self.netns

    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        ctx = multiprocessing.get_context("fork")
        try:
            for wid in range(self.max_workers):
                parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
                for s in (parent, child):
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, _CTRL_BUF)
                proc = ctx.Process(target=self._child, args=(wid, child, parent), daemon=True)
                proc.start()
                child.close()
                h = _Handle(wid, proc, parent)
                self._handles.append(h)
                self.log.add_worker(wid, self.log.version)
                self._wait_ready(h)
                if self.fanout:
                    for members in self.members.values():
                        members.append(wid)
        except BaseException:
            self.stop()
            raise
        self._steer()

    def _wait_ready(self, h: _Handle) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([h.ctrl], [], [], 0.2)
            if r:
                msg = pickle.loads(h.ctrl.recv(_CTRL_BUF))
                if msg[0] == "ready":
                    return
                if msg[0] == "error":
                    raise PoolError(f"worker {h.wid}: {msg[1]}")
            if not h.proc.is_alive():
                break
        raise PoolError(f"worker {h.wid} did not start")

    def _child(self, wid: int, ctrl: socket.socket, parent_end: socket.socket) -> None:
        parent_end.close()
        ports: dict[int, PortBackend] = {}
        try:
            if self.cpus:
                os.sched_setaffinity(0, {self.cpus[wid % len(self.cpus)]})
            apply_sched(self.sched)
            for spec, no in self.ifaces:
                name, ns = self.where(spec)
                group = self.groups[no] if self.fanout else None
                p = MmapPort(name, geometry=self.geometry, fanout_group=group,
                             fanout_mode=PACKET_FANOUT_CBPF, netns=ns,
                             vnet=self.geometry.block_size >= 1 << 17)  # fmt: skip
                p.open()
                ports[no] = p
        except Exception as exc:  # reported to the parent, which raises PoolError
            ctrl.send(pickle.dumps(("error", str(exc))))
            os._exit(2)
        view = memoryview(self._shm).cast("q")[wid * self._slots : (wid + 1) * self._slots]
        w = Worker(
            ports,
            n_tables=self.n_tables,
            ctrl=ctrl,
            counters=view,
            batch=self.tuning.batch,
            batch_index=self.tuning.batch_index,
        )
        ctrl.send(pickle.dumps(("ready", wid)))
        try:
            w.run()
        finally:
            for port in ports.values():
                port.close()
            os._exit(0)

    def stop(self) -> None:
        """Stop every worker (by pid: stop message, grace period, then SIGTERM)."""
        for h in self._handles:
            with contextlib.suppress(OSError):
                h.ctrl.send(pickle.dumps(("stop",)))
        for h in self._handles:
            h.proc.join(timeout=3)
            if h.proc.is_alive():
                h.proc.terminate()
                h.proc.join(timeout=3)
            h.ctrl.close()
        self._handles.clear()

    # --- workers -----------------------------------------------------------------------
    def status(self) -> dict[str, object]:
        """What ``GET /workers`` answers (``pids``: live workers; ``exited``: id -> status)."""
        return {"active": self.active, "max": self.max_workers,
                "pids": [h.proc.pid for h in self._handles if h.alive],
                "exited": {str(w): code for w, code in self.exited.items()}}  # fmt: skip

    def joined(self, port_no: int) -> None:
        """Another socket (the agent's) joined port ``port_no``'s fanout group, as its last
        member."""
        if self.fanout:
            self.members[port_no].append(None)

    def left(self, port_no: int) -> None:
        """The agent's socket left port ``port_no``'s group (the kernel moves the last member
        into its place)."""
        if self.fanout and None in self.members[port_no]:
            _unlink(self.members[port_no], None)

    def _gone(self, h: _Handle) -> list[Hashable]:
        """Worker ``h`` died: log it, stop waiting for it, steer its traffic to the others."""
        h.alive = False
        h.proc.join(timeout=1.0)
        code = h.proc.exitcode
        self.exited[h.wid] = code
        self.dead_fds.append(h.ctrl.fileno())
        alive = sum(x.alive for x in self._handles)
        log.error("worker %d (pid %d) exited (status %s): %s", h.wid, h.proc.pid, code,
                  f"{alive} worker(s) left, traffic steered to them" if alive
                  else "no worker left, quake forwards nothing")  # fmt: skip
        if self.fanout:
            for members in self.members.values():
                _unlink(members, h.wid)
        released = self.log.remove_worker(h.wid)
        if alive:
            self._steer()
            self._announce_active()
        return released

    def set_active(self, n: int) -> None:
        """Steer traffic to workers 0..n-1; the others drain their rings and park."""
        if not 1 <= n <= self.max_workers:
            raise PoolError(f"active workers must be 1..{self.max_workers}, got {n}")
        self.active = n
        self._steer()
        self._announce_active()

    def _announce_active(self) -> None:
        """Tell every live worker whether it receives (as :meth:`_steer` decided)."""
        for h in self._handles:
            if h.alive:
                self._send(h, ("active", h.active))

    def _steer(self) -> None:
        """Install the fanout program through a socket joined to each group as its last member:
        the first ``active`` live workers (by id) receive."""
        live = [h for h in self._handles if h.alive]
        for i, h in enumerate(live):
            h.active = i < self.active
        if not self.fanout or not live:
            return
        receivers = [h.wid for h in live if h.active]
        for spec, no in self.ifaces:
            name, ns = self.where(spec)
            probe = MmapPort(name, geometry=RingGeometry(block_size=1 << 12, block_nr=2),
                             fanout_group=self.groups[no], fanout_mode=PACKET_FANOUT_CBPF,
                             netns=ns, tx_mode="send")  # fmt: skip
            probe.open()
            try:
                members = self.members[no]
                set_fanout_program(probe.fileno(), [members.index(w) for w in receivers])
            finally:
                probe.close()  # leaving: the last member goes, worker indices are unchanged

    # --- updates, barriers, packet-ins ---------------------------------------------------
    def publish(self, records: Sequence[Record]) -> int:
        """Ship one update to every worker; its version."""
        version = self.log.publish()
        chunks = [list(records[i : i + _CHUNK]) for i in range(0, len(records), _CHUNK)] or [[]]
        for h in self._handles:
            for i, chunk in enumerate(chunks):
                if h.alive:
                    self._send(h, ("update", version, chunk, i == len(chunks) - 1))
        return version

    def fds(self) -> list[int]:
        """The control descriptors to watch for :meth:`poll` (one per live worker)."""
        return [h.ctrl.fileno() for h in self._handles if h.alive]

    def barrier(self, token: Hashable) -> list[Hashable]:
        return self.log.barrier(token)

    def poll(self, timeout: float = 0.0) -> list[Hashable]:
        """Read worker messages (acks, packet-ins); the barrier tokens now released."""
        released: list[Hashable] = []
        socks = [h.ctrl for h in self._handles if h.alive]
        r, _, _ = select.select(socks, [], [], timeout) if socks else ([], [], [])
        for h in self._handles:
            if h.ctrl not in r:
                continue
            while True:
                try:
                    raw = h.ctrl.recv(_CTRL_BUF, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                except OSError:  # e.g. ECONNRESET: the worker is gone
                    raw = b""
                if not raw:  # end of file: the worker died
                    released += self._gone(h)
                    break
                msg = pickle.loads(raw)
                if msg[0] == "ack":
                    released += self.log.ack(h.wid, msg[1])
                elif msg[0] == "pin":
                    self.packet_ins.append(msg[1])
                elif msg[0] == "flowc":
                    self.flow_reports.append(FlowReport._make(msg[1:]))
                elif msg[0] == "tables":
                    self.table_deltas.extend(msg[1])
                elif msg[0] == "port":
                    self.port_events.append((h.wid, msg[1], msg[2], msg[3]))
        return released

    def wait_barrier(self, token: Hashable, timeout: float = 10.0) -> bool:
        """Blocking helper (CLI, tests): True once ``token`` is released."""
        if token in self.barrier(token):
            return True
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if token in self.poll(0.05):
                return True
        return False

    def _send(self, h: _Handle, msg: tuple[object, ...]) -> None:
        try:
            h.ctrl.send(pickle.dumps(msg))
        except OSError as exc:  # a dead worker: poll() reads its end of file and reports it
            log.debug("worker %d: %s", h.wid, exc)

    def stats(self) -> dict[str, object]:
        """Worker counters summed, and per port (what stats replies and /status need)."""
        arr = memoryview(self._shm).cast("q")
        n = len(COUNTER_FIELDS)
        total = dict.fromkeys(COUNTER_FIELDS[2:], 0)
        ports: dict[int, dict[str, int]] = {}
        versions, per_worker = [], []
        for w in range(len(self._handles)):
            row = arr[w * self._slots : (w + 1) * self._slots].tolist()
            versions.append(row[0])
            per_worker.append(row[COUNTER_FIELDS.index("rx_frames")])
            for i, f in enumerate(COUNTER_FIELDS[2:], start=2):
                total[f] += row[i]
            for p in range(len(self.ifaces)):
                vals = row[n + p * len(PORT_FIELDS) : n + (p + 1) * len(PORT_FIELDS)]
                if vals[0] == 0:
                    continue
                d = ports.setdefault(vals[0], dict.fromkeys(PORT_FIELDS[1:], 0))
                for f, v in zip(PORT_FIELDS[1:], vals[1:], strict=True):
                    d[f] += v
        return {"workers": total, "ports": ports, "versions": versions, "rx_frames": per_worker}


def _unlink(members: list[int | None], who: int | None) -> None:
    """What the kernel does when a member leaves a fanout group: the last member takes its
    place (``__fanout_unlink``)."""
    i = members.index(who)
    members[i] = members[-1]
    members.pop()
