"""One quake worker: read port batches, forward through cache -> pipeline, transmit, repeat.

Role (paper §VI, the dispatcher/worker design; DESIGN §4): a worker process
owns its own sockets on every switch port (sharing each port's traffic with
the other workers through PACKET_FANOUT), its own replica of the tables
(:class:`~.replica.Replica`) and its own TX. quake runs N of these under a
:class:`~.pool.WorkerPool`.

Loop (:meth:`Worker.step`):

1. apply every pending table update from the control channel (between
   packet batches, whole updates only) and acknowledge the version - the
   channel is read when ``poll()`` reported it readable, and at least every
   millisecond while busy (no ``recv`` per batch);
2. for each port with frames: up to ``batch`` frames -> ``cache.run`` (hit:
   compiled program; miss: full pipeline), then one ``send_batch`` per
   output port; repeat while batches come back full (busy under load);
3. if a batch came back short (the rings are drained): block in ``poll()`` on
   the ports' and the control descriptors (``idle_ms`` timeout) - no CPU
   burned at zero load; the TPACKET_V3 block-retire timeout bounds the
   latency added at low load.

Descriptor errors (:meth:`Worker.wait`): ``poll()`` keeps reporting
``POLLERR`` on a packet socket until its pending error is read, so every
error event is consumed, never ignored (ignoring it made a worker spin at
~55 % CPU when its interface went away). Policy: ``POLLERR`` on a port ->
read ``SO_ERROR`` (this clears it: a link going down is transient and the
port stays); the port is *gone* if the socket is no longer bound to a device
(unregistered interface, namespace deleted), or on ``POLLHUP``/``POLLNVAL``.
A gone port is closed and no longer read or written (its exported counters
stay), and the worker sends ``("port", port_no, "gone", errno)`` up; the
agent logs it and reports the port down (:mod:`.switch`). A worker whose
ports are all gone keeps sleeping in ``poll()`` on its control socket until
stopped. An error or hang-up on the control socket means the agent is gone:
the worker stops.

The clock is read once per loop iteration, never per packet; there is no
logging; after a big table update, and when the flow cache grew or shrank
by many keys, freed heap memory is handed back to the OS (``malloc_trim``),
so a worker's RSS follows its tables and cache (docs/quake-fastpath.md); counters are exported into a shared int64 array every
``export_s`` seconds (layout in :data:`COUNTER_FIELDS` then, per port slot,
:data:`PORT_FIELDS`). Packet-ins go up the control socket with
``MSG_DONTWAIT``: when the agent does not keep up they are dropped and
counted (``pin_dropped``) - the bounded queue is the socket buffer.

Invariants: single thread; a table update is applied whole between two
batches; the worker never blocks on the agent (only the agent blocks on a
full control channel, which the worker drains every iteration).
"""

from __future__ import annotations

import array
import ctypes
import errno
import os
import pickle
import select
import socket
import time
from collections.abc import Mapping
from typing import cast

from ..pipeline import StaticPorts
from ..ports.base import PortBackend
from .compact_cache import CompactFlowCache
from .replica import Replica
from .table import CompactTable, compact_pipeline

__all__ = ["COUNTER_FIELDS", "PORT_FIELDS", "Worker", "counter_slots"]

COUNTER_FIELDS = ("version", "active", "loops", "idle_polls", "rx_frames", "cache_hits",
                  "cache_misses", "slow_path", "pin_sent", "pin_dropped", "updates",
                  "invalidations")  # fmt: skip
PORT_FIELDS = ("port_no", "rx_packets", "rx_bytes", "rx_dropped", "tx_packets", "tx_bytes",
               "tx_dropped", "rx_errors", "tx_errors")  # fmt: skip
_MAX_CTRL = 1 << 22
_CTRL_PERIOD_S = 0.001  # busy worker: table updates are picked up within this much
_TRIM_RECORDS = 256  # an update this big is followed by a malloc_trim
_TRIM_KEYS = 1 << 14  # and so is a change of this many cache keys (checked every second)


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):  # not glibc: no trimming
        return None
    return libc


_LIBC = _libc()
_BAD = select.POLLERR | select.POLLHUP | select.POLLNVAL
_FLOWC_BYTES = 1 << 16  # flow report message budget (pickled), see Worker._export_flows
# rules per report message: 20 bytes each (row, packets, bytes), 128 left for the framing
_FLOWC_ROWS = (_FLOWC_BYTES - 128) // 20


def counter_slots(n_ports: int) -> int:
    """int64 slots one worker's exported counters take."""
    return len(COUNTER_FIELDS) + n_ports * len(PORT_FIELDS)


class Worker:
    """A worker's state and loop. ``ctrl`` is its end of the agent's control socket."""

    def __init__(
        self,
        ports: Mapping[int, PortBackend],
        *,
        n_tables: int = 254,
        ctrl: socket.socket | None = None,
        counters: memoryview | None = None,
        batch: int = 64,
        idle_ms: int = 100,
        export_s: float = 0.1,
        flow_export_s: float = 1.0,
        batch_index: bool = True,
    ) -> None:
        self.ports = dict(ports)  # every port, gone ones too (their counter slots stay)
        self.live = dict(ports)  # the ports read and written
        self.gone: set[int] = set()
        self.view = StaticPorts(self.ports)
        self.pipeline, interned = compact_pipeline(n_tables, self.view)
        self.tables = cast(list[CompactTable], self.pipeline.tables)
        self.cache = CompactFlowCache(self.pipeline)
        if not batch_index:  # dict lookups only (saves the index's ~90-140 bytes per live flow)
            self.cache.index_min = 1 << 62
        self.replica = Replica(self.pipeline, self.view, self.cache, interned)
        self.ctrl = ctrl
        self.counters = counters
        self.batch = batch
        self.idle_ms = idle_ms
        self.export_s = export_s
        self.active = True
        self.running = True
        self.loops = self.idle_polls = self.rx_frames = 0
        self.pin_sent = self.pin_dropped = self.updates = 0
        self._pending: list[object] = []  # records of an update still arriving in chunks
        self._ready: list[object] = []  # records of complete updates not applied yet
        self._ready_version = 0
        self.flow_export_s = flow_export_s
        self._next_flow_export = 0.0
        self._trimmed_at = 0  # cache size at the last malloc_trim
        self._table_base = [(0, 0)] * n_tables
        self._next_export = 0.0
        self._poll = select.poll()
        self._fd_port: dict[int, int] = {}
        for no, port in self.ports.items():
            fd = port.fileno()
            self._fd_port[fd] = no
            self._poll.register(fd, select.POLLIN)
        # the control socket is read when poll() says so, or at least every _CTRL_PERIOD_S
        self._ctrl_fd = -1 if ctrl is None else ctrl.fileno()
        self._ctrl_ready = True
        self._ctrl_due = 0.0
        if ctrl is not None:
            ctrl.setblocking(False)
            self._poll.register(ctrl.fileno(), select.POLLIN)

    # --- control -------------------------------------------------------------------
    def _drain_control(self, now: float) -> None:
        ctrl = self.ctrl
        if ctrl is None:
            return
        try:
            self._read_control(ctrl, now)
        finally:
            self._commit(now)

    def _read_control(self, ctrl: socket.socket, now: float) -> None:
        while True:
            try:
                raw = ctrl.recv(_MAX_CTRL)
            except BlockingIOError:
                return
            except OSError:
                self.running = False
                return
            if not raw:
                self.running = False  # the agent went away
                return
            self.handle(pickle.loads(raw), now)

    def handle(self, msg: tuple[object, ...], now: float) -> None:
        """One control message: ``("update", version, records, last)``, ``("active", bool)``,
        ``("stop",)``."""
        kind = msg[0]
        if kind == "update":
            _, version, records, last = msg
            assert isinstance(records, list)
            assert isinstance(version, int)
            self._pending.extend(records)
            if last:  # complete: due at the next commit, with any other complete update
                self._ready.extend(self._pending)
                self._pending = []
                self._ready_version = version
                self.updates += 1
                if self.ctrl is None:
                    self._commit(now)
        elif kind == "active":
            self.active = bool(msg[1])
            self._export(now)
        elif kind == "stop":
            self.running = False

    def _commit(self, now: float) -> None:
        """Apply every complete update received so far as one (whole updates only)."""
        if self._ready_version <= self.replica.version:
            return
        self.replica.apply(self._ready_version, self._ready, now)  # type: ignore[arg-type]
        big = len(self._ready) >= _TRIM_RECORDS
        self._ready = []
        if big:
            _trim()  # the update's messages and the tables' old hash arrays go back to the OS
        self._export(now)
        self._send_up(("ack", self.replica.version), force=True)

    def _send_up(self, msg: tuple[object, ...], force: bool = False) -> bool:
        if self.ctrl is None:
            return False
        try:
            self.ctrl.send(pickle.dumps(msg), 0 if force else socket.MSG_DONTWAIT)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in (errno.EPIPE, errno.ECONNRESET):
                self.running = False
            return False
        return True

    # --- the loop --------------------------------------------------------------------
    def step(self, now: float) -> int:
        """One iteration without blocking: updates, then every port once. Frames received."""
        self.loops += 1
        if self._ctrl_ready or now >= self._ctrl_due:  # no recv (and no exception) per batch
            self._ctrl_ready = False
            self._ctrl_due = now + _CTRL_PERIOD_S
            self._drain_control(now)
        got = 0
        run, out, live = self.cache.run, self.cache.out, self.live
        for no, port in live.items():
            frames = port.recv_batch(self.batch)
            if not frames:
                continue
            got += len(frames)
            pins = run(no, frames, now)
            for pin in pins:
                if self._send_up(("pin", pin)):
                    self.pin_sent += 1
                else:
                    self.pin_dropped += 1
            for out_no, lst in out.items():
                if lst:
                    dst = live.get(out_no)
                    if dst is not None:
                        dst.send_batch(lst)
                    lst.clear()
        self.rx_frames += got
        if now >= self._next_export:
            self._export(now)
            if now >= self._next_flow_export:
                self._export_flows(now)
                if abs(len(self.cache) - self._trimmed_at) >= _TRIM_KEYS:
                    self._trimmed_at = len(self.cache)
                    _trim()  # the cache grew (or was emptied) a lot: give back what misses freed
        return got

    def run(self) -> None:
        """Until stopped: busy while batches come back full, else sleep in poll()."""
        clock = time.monotonic
        while self.running:
            now = clock()
            got = self.step(now)
            if got < self.batch:  # the rings are drained: sleep until a block is retired
                self.idle_polls += 1
                self.wait(self.idle_ms)
        self._export(clock())

    def wait(self, timeout_ms: int) -> None:
        """Sleep in ``poll()`` until a descriptor is ready; consume error events (module doc)."""
        for fd, ev in self._poll.poll(timeout_ms):
            if fd == self._ctrl_fd:
                self._ctrl_ready = True
            if ev & _BAD:
                self._fd_error(fd, ev)

    def _fd_error(self, fd: int, ev: int) -> None:
        no = self._fd_port.get(fd)
        if no is None:  # the control socket: the agent is gone
            self.running = False
            return
        err, gone = _socket_state(fd) if not ev & select.POLLNVAL else (errno.EBADF, True)
        if not gone and not ev & select.POLLHUP:
            return  # e.g. ENETDOWN of a link going down: read, so poll() stops reporting it
        self._poll.unregister(fd)
        del self._fd_port[fd]
        port = self.live.pop(no)
        self.gone.add(no)
        port.close()
        self._send_up(("port", no, "gone", err), force=True)

    # --- counters --------------------------------------------------------------------
    def _export_flows(self, now: float) -> None:
        """Send flow and table counter increments to the agent (what was not sent is kept).

        Flow counts go as ``("flowc", version, rows, packets, bytes)``: native ``array``
        bytes (``I``, ``Q``, ``Q``) of the rules' rows (the agent's names for them, shipped
        with each rule) and counts, in messages of at most :data:`_FLOWC_BYTES` (one
        SOCK_SEQPACKET send each, far below the socket buffers). Building one costs a numpy
        scan and C-level copies of the table's columns: no per-rule Python work. A message
        sent is forgotten here (the slots it names are zeroed: nothing counts between report
        and send); at the first one the agent cannot take (full socket) the rest stays
        counted for the next report.

        Correctness when a slot is freed or reused: a report names a rule by the agent's row,
        never by slot, and a slot's counts were all made under the rule in it now
        (``CompactTable.remove`` zeroes them), so they can only be credited to that rule's
        row. ``version`` (this replica's) guards the agent's side: it credits a row only if
        the row's entry was shipped in an update <= ``version``, so counts of a rule the
        agent has since deleted (its row reused) or replaced with RESET_COUNTS are dropped,
        never given to the newer entry.
        """
        self._next_flow_export = now + self.flow_export_s
        self.cache.fold_slots()  # whole batches' per-rule counts into the columns
        if self.ctrl is None:
            return
        tables = self._table_deltas()
        if tables and self._send_up(("tables", tables)):
            for tid, dl, dm in tables:
                ol, om = self._table_base[tid]
                self._table_base[tid] = (ol + dl, om + dm)
        version = self.replica.version
        for t in self.tables:
            if not len(t):
                continue
            slots = t.counted()
            step = _FLOWC_ROWS
            for i in range(0, len(slots), step):
                msg = ("flowc", version, *t.report(slots[i : i + step]))
                if not self._send_up(msg):
                    t.take_counts(slots[:i])  # the chunks sent before this one
                    return  # the agent is busy: the rest goes with the next report
            if slots:
                t.take_counts()  # every slot with counts was sent: zero the columns at once

    def _table_deltas(self) -> list[tuple[int, int, int]]:
        out = []
        for t in self.tables:
            ol, om = self._table_base[t.table_id]
            if t.lookup_count != ol or t.matched_count != om:
                out.append((t.table_id, t.lookup_count - ol, t.matched_count - om))
        return out

    def _export(self, now: float) -> None:
        self.cache.flush(now, slots=False)  # per-rule counts: folded for the flow report
        self._next_export = now + self.export_s
        arr = self.counters
        if arr is None:
            return
        c = self.cache
        vals = (self.replica.version, int(self.active), self.loops, self.idle_polls,
                self.rx_frames, c.hits, c.misses, c.slow, self.pin_sent, self.pin_dropped,
                self.updates, c.invalidations)  # fmt: skip
        arr[1 : len(vals)] = memoryview(_pack(vals[1:])).cast("q")
        base = len(COUNTER_FIELDS)
        for i, (no, port) in enumerate(sorted(self.ports.items())):
            k = port.counters
            row = (no, k.rx_packets, k.rx_bytes, k.rx_dropped, k.tx_packets, k.tx_bytes,
                   k.tx_dropped, k.rx_errors, k.tx_errors)  # fmt: skip
            o = base + i * len(PORT_FIELDS)
            arr[o : o + len(row)] = memoryview(_pack(row)).cast("q")
        arr[0] = self.replica.version  # last: a reader seeing the version sees the rest


def _socket_state(fd: int) -> tuple[int, bool]:
    """(pending socket error, now cleared; whether a packet socket lost its device)."""
    try:
        with socket.socket(fileno=os.dup(fd)) as s:
            err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if s.family != socket.AF_PACKET:
                return err, False
            # bound to an unregistered device: the kernel reports ifindex -1, no name
            return err, not s.getsockname()[0]
    except OSError as exc:
        return exc.errno or errno.EBADF, True


def _trim() -> None:
    """Return freed heap memory to the OS (glibc ``malloc_trim``; elsewhere nothing)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _pack(vals: tuple[int, ...]) -> bytes:
    return array.array("q", vals).tobytes()
