"""The agent side of the multi-process fast path: quake with ``--workers N``.

Role (paper §VI): with workers, the switch process keeps the OpenFlow agent
(:class:`~..agent.SwitchAgent`, unchanged) and the *authoritative* tables, and
no longer touches packets: N worker processes (:mod:`.pool`) forward. This
module adapts the single-process runtime at four narrow seams:

* :class:`ReplicatedPipeline` - the agent's pipeline; every change it applies
  (flow/group/meter/table mods, and the deletions its flow expiry makes) is
  also recorded as a replica record - for flows a compact, pre-validated
  effect record (:mod:`.compact`) the workers apply without decoding;
* :class:`FastSwitchDatapath` - records port config/state changes too, turns
  workers' packet-in decisions into PACKET_INs (buffering as before), and
  refreshes port counters from the workers' shared counters;
* :class:`ControlPort` - the agent's handle on a switch port: link state,
  MAC, speed and packet-out transmission, on a socket that joins the port's
  fanout group *after* all workers, so the steering program never gives it a
  frame (no copy of the traffic reaches the agent process);
* :class:`FastQuakeSwitch` - ships the recorded changes to the workers (one
  update per event-loop turn, immediately before a BARRIER_REPLY), holds each
  BARRIER_REPLY - and everything after it on that channel - until every
  worker acknowledged the update, and folds workers' reports (acks,
  packet-ins, flow and table counter increments) back in.

Known limits (documented in docs/quake-fastpath.md): fail-mode standalone is
not supported with workers; flow and table counters reach the agent with the
workers' report period (1 s), so a FLOW_REMOVED may miss the last second of
a flow's counts; per-port drop counters of the workers' pipelines (NO_RECV,
dead output port) are not aggregated.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

from openvolcano.common.errors import InvalidInput
from openvolcano.ofp import consts as c
from openvolcano.ofp.base import Message
from openvolcano.ofp.messages import (
    BarrierReply,
    FlowRemoved,
    PacketIn,
    PortMod,
    PortStatus,
)
from openvolcano.ofp.multipart import PortStats

from ..agent import Channel, Outbox, SwitchAgent
from ..agent_net import QuakeSwitch
from ..datapath import SwitchDatapath
from ..pipeline import PacketInDecision
from ..ports.base import PortBackend, PortCounters, PortFeatures
from ..ports.mmap import MmapPort, RingGeometry
from ..ports.rxthread import RxThread
from ..trace import trace_request
from .compact import RecordingPipeline
from .pool import PACKET_FANOUT_CBPF, WorkerPool, WorkerTuning

__all__ = [
    "ControlPort",
    "FastQuakeSwitch",
    "FastSwitchDatapath",
    "ReplicatedPipeline",
    "run_fastpath",
    "serve_fastpath",
    "start_fastpath",
    "stop_fastpath",
]

log = logging.getLogger(__name__)


class ReplicatedPipeline(RecordingPipeline):
    """The agent's pipeline; ``pending`` holds the records (:mod:`.compact`) of changes not
    yet shipped: compact flow-table effects, group/meter/table mods, port changes."""

    def __init__(self, n_tables: int, ports: FastSwitchDatapath) -> None:
        super().__init__(n_tables, ports=ports)
        self.fdp = ports

    def shipping_version(self) -> int:
        pool = self.fdp.pool
        return 1 if pool is None else pool.log.version + 1


class ControlPort(PortBackend):
    """A switch port as the agent sees it with workers (see the module docstring)."""

    def __init__(self, spec: str, port_no: int, pool: WorkerPool) -> None:
        name, netns = pool.where(spec)
        self.name = name
        self.port_no = port_no
        self.pool = pool
        self.inner = MmapPort(
            name,
            geometry=RingGeometry(block_size=1 << 12, block_nr=2),
            tx_mode="send",
            # in the group (after the workers: never chosen), or receiving nothing at all
            fanout_group=pool.groups[port_no] if pool.fanout else None,
            fanout_mode=PACKET_FANOUT_CBPF,
            netns=netns,
            receive=pool.fanout,
        )
        self.counters = PortCounters()
        self.gone = False  # a worker found the interface gone: down for good
        self._reported = False  # the link state last reported by poll_link
        self._joined = False  # a member of the pool's fanout group (its socket is open)

    def open(self) -> None:
        self.inner.open()
        self.pool.joined(self.port_no)  # in the fanout group, after the workers
        self._joined = True
        self._reported = self.link_up

    def close(self) -> None:
        if self._joined:
            self._joined = False
            self.pool.left(self.port_no)
        self.inner.close()

    def fileno(self) -> int:
        return self.inner.fileno()

    def link_fileno(self) -> int | None:
        return self.inner.link_fileno()

    def poll_link(self) -> bool:
        self.inner.poll_link()  # drains the link notifications, refreshes the inner state
        up = self.link_up
        changed, self._reported = up != self._reported, up
        return changed

    def recv_batch(self, max_frames: int) -> list[bytes]:
        return []  # the workers receive

    def send(self, frame: bytes) -> bool:
        return self.inner.send(frame)

    @property
    def link_up(self) -> bool:
        return self.inner.link_up and not self.gone

    @property
    def hw_addr(self) -> int:
        return self.inner.hw_addr

    def features(self) -> PortFeatures:
        return self.inner.features()

    def refresh(self, workers: dict[str, int] | None) -> None:
        """Counters = the workers' on this port + the agent's own packet-outs."""
        own = self.inner.counters.as_dict()
        for f, v in own.items():
            setattr(self.counters, f, v + (workers or {}).get(f, 0))


class FastSwitchDatapath(SwitchDatapath):
    """:class:`SwitchDatapath` whose packets are forwarded by workers."""

    def __init__(self, n_tables: int = 254) -> None:
        super().__init__(n_tables=n_tables)
        self.pipeline: ReplicatedPipeline = ReplicatedPipeline(n_tables, self)
        self.pool: WorkerPool | None = None  # set by the owner, read for counters

    def _record_port(self, port_no: int) -> None:
        sp = self.ports.get(port_no)
        if sp is not None:
            self.pipeline.pending.append(("port", port_no, sp.config, sp.state))

    def add_port(self, backend: PortBackend, port_no: int, now: float) -> PortStatus:
        st = super().add_port(backend, port_no, now)
        self._record_port(port_no)
        return st

    def port_mod(self, msg: PortMod) -> PortStatus | None:
        st = super().port_mod(msg)
        if st is not None:
            self._record_port(msg.port_no)
        return st

    def link_changed(self, port_no: int) -> PortStatus | None:
        st = super().link_changed(port_no)
        if st is not None:
            self._record_port(port_no)
        return st

    def receive(self, port_no: int, now: float) -> list[PacketIn]:
        return []  # never called: the agent does not read frames with workers

    def packet_in(self, d: PacketInDecision) -> PacketIn:
        """A worker's packet-in decision as a PACKET_IN (buffered as configured)."""
        return self._packet_in(d)

    def refresh_counters(self) -> None:
        ports = self.pool.stats()["ports"] if self.pool is not None else {}
        assert isinstance(ports, dict)
        for no, sp in self.ports.items():
            if isinstance(sp.backend, ControlPort):
                sp.backend.refresh(ports.get(no))

    def port_stats(self, now: float, port_no: int = c.OFPP_ANY) -> list[PortStats]:
        self.refresh_counters()
        return super().port_stats(now, port_no)

    def expire(self, now: float) -> list[FlowRemoved]:
        self.refresh_counters()  # the expiry timer doubles as the counter refresh (0.5 s)
        return super().expire(now)


class FastQuakeSwitch(QuakeSwitch):
    """:class:`QuakeSwitch` in front of a :class:`WorkerPool`."""

    def __init__(self, agent: SwitchAgent, pool: WorkerPool, **kwargs: object) -> None:
        super().__init__(agent, **kwargs)  # type: ignore[arg-type]
        assert isinstance(agent.dp, FastSwitchDatapath)
        self.fdp: FastSwitchDatapath = agent.dp
        self.pool = pool
        self.rx_threads: list[RxThread] = []  # ports set up by --rx-thread (restored at stop)
        self._held: dict[int, deque[tuple[Channel, Message]]] = {}
        self._publish_soon = False
        self.updates_published = 0

    # --- ports: only link changes are watched here ------------------------------------
    def _watch(self, port_no: int) -> None:
        assert self._loop is not None
        lfd = self.dp.ports[port_no].backend.link_fileno()
        self._readers[port_no] = []
        if lfd is not None:
            self._loop.add_reader(lfd, self._on_link, port_no)
            self._readers[port_no] = [lfd]

    # --- updates and barriers -----------------------------------------------------------
    def publish_pending(self) -> None:
        """Ship the changes recorded so far to every worker, as one update."""
        self._publish_soon = False
        pending = self.fdp.pipeline.pending
        if pending:
            self.fdp.pipeline.pending = []
            self.pool.publish(pending)
            self.updates_published += 1

    def deliver(self, outbox: Outbox) -> None:
        if self.fdp.pipeline.pending:
            if self._loop is None or any(isinstance(m, BarrierReply) for _, m in outbox):
                self.publish_pending()
            elif not self._publish_soon:
                self._publish_soon = True  # coalesce a burst of flow-mods into one update
                self._loop.call_soon(self.publish_pending)
        for ch, msg in outbox:
            self._out(ch, msg)

    def _out(self, ch: Channel, msg: Message) -> None:
        held = self._held.get(ch.id)
        if held is not None:
            held.append((ch, msg))  # nothing overtakes a pending barrier reply
            return
        if isinstance(msg, BarrierReply):
            token = (ch.id, msg.xid)
            released = self.pool.barrier(token)
            if token not in released:
                self._held[ch.id] = deque([(ch, msg)])
            self._release([t for t in released if t != token])
            if token not in released:
                return
        super().deliver([(ch, msg)])

    def _release(self, tokens: Sequence[object]) -> None:
        for token in tokens:
            assert isinstance(token, tuple)
            held = self._held.get(token[0])
            if not held:
                continue
            ch, msg = held.popleft()
            super().deliver([(ch, msg)])  # the barrier reply itself
            while held:
                ch, msg = held[0]
                if isinstance(msg, BarrierReply):
                    nxt = (ch.id, msg.xid)
                    released = self.pool.barrier(nxt)
                    if nxt not in released:
                        break  # stays at the head, registered
                    held.popleft()
                else:
                    held.popleft()
                super().deliver([(ch, msg)])
            if not held:
                del self._held[token[0]]

    # --- worker reports -------------------------------------------------------------------
    def on_pool(self) -> None:
        """Worker sockets readable: acks, packet-ins and counter reports (and a dead worker's
        end of file: the pool steers its traffic to the others; its socket is unwatched)."""
        self._release(self.pool.poll(0.0))
        pool, now = self.pool, self.clock.now()
        if pool.dead_fds:
            loop = asyncio.get_running_loop()
            for fd in pool.dead_fds:
                loop.remove_reader(fd)
            pool.dead_fds.clear()
        if pool.packet_ins:
            pins = [self.fdp.packet_in(d) for d in pool.packet_ins]
            pool.packet_ins.clear()
            self.counters.packet_ins += len(pins)
            self.deliver(self.agent.publish(pins))
        pipeline = self.fdp.pipeline
        tables = pipeline.tables
        for report in pool.flow_reports:
            pipeline.credit(report, now)  # one dict lookup per rule; version-checked
        pool.flow_reports.clear()
        for tid, dl, dm in pool.table_deltas:
            tables[tid].lookup_count += dl
            tables[tid].matched_count += dm
        pool.table_deltas.clear()
        if pool.port_events:
            self._ports_gone()

    def _ports_gone(self) -> None:
        """Policy for a port whose interface went away under a worker (docs/quake-fastpath.md):
        log it, report the port down (once), keep the switch and its other ports running."""
        for wid, port_no, what, err in self.pool.port_events:
            log.warning("worker %d: port %d %s (%s)", wid, port_no, what, os.strerror(err))
            sp = self.fdp.ports.get(port_no)
            if sp is None or not isinstance(sp.backend, ControlPort) or sp.backend.gone:
                continue
            sp.backend.gone = True
            st = self.fdp.link_changed(port_no)
            if st is not None:
                log.warning("port %d down: its interface is gone", port_no)
                self.deliver(self.agent.publish([st]))
        self.pool.port_events.clear()

    def trace(self, request: Mapping[str, object]) -> dict[str, Any]:
        """``POST /trace``: the packet through the agent's authoritative tables (no side
        effect; the workers run these tables at an acknowledged version)."""
        return trace_request(self.fdp.pipeline, request, self.clock.now())

    def status(self) -> dict[str, object]:
        self.fdp.refresh_counters()
        st = super().status()
        st["workers"] = {**self.pool.status(), **self.pool.stats()}
        return st


def start_fastpath(
    cfg: object,
    workers: int,
    *,
    cpus: Sequence[int] = (),
    netns: str | None = None,
    sched: str = "other",
    rx_thread: bool = False,
    tuning: WorkerTuning | None = None,
) -> FastQuakeSwitch:
    """Start the workers and build the switch for ``cfg`` (a :class:`~..daemon.QuakeConfig`,
    typed loosely: the daemon imports this module). ``cpus`` pins worker i to the i-th CPU
    (cyclic); ``sched`` is the workers' scheduling policy (:class:`.pool.WorkerPool`);
    ``rx_thread`` moves each port's kernel receive work into a NAPI thread pinned to the
    workers' CPUs (:mod:`..ports.rxthread`, restored by :func:`stop_fastpath`);
    ``tuning``: the workers' batch size and batch index (:class:`.pool.WorkerTuning`).
    Call from the running event loop; undo with :func:`stop_fastpath`."""
    from ..daemon import QuakeConfig

    assert isinstance(cfg, QuakeConfig)
    if cfg.fail_mode != "secure":
        raise InvalidInput("fail-mode standalone is not supported with --workers")
    if getattr(cfg, "local_port", None) is not None:
        raise InvalidInput("--local-port is not supported with --workers yet")
    pool = WorkerPool(cfg.ports, max_workers=workers, n_tables=cfg.n_tables, cpus=cpus,
                      netns=netns, sched=sched, tuning=tuning)  # fmt: skip
    rx = [RxThread(name, cpus or sorted(os.sched_getaffinity(0))) for name, _ in cfg.ports
          ] if rx_thread else []  # fmt: skip
    pool.start()
    applied: list[RxThread] = []
    try:
        for r in rx:
            r.apply()
            applied.append(r)
        dp = FastSwitchDatapath(n_tables=cfg.n_tables)
        dp.pool = pool
        agent = SwitchAgent(dp, cfg.dpid, fail_mode=cfg.fail_mode)
        sw = FastQuakeSwitch(agent, pool, controllers=cfg.controllers)
        for name, port_no in cfg.ports:
            sw.add_port(ControlPort(name, port_no, pool), port_no)
        loop = asyncio.get_running_loop()
        for fd in pool.fds():
            loop.add_reader(fd, sw.on_pool)
        sw.rx_threads = applied
    except BaseException:
        for r in applied:
            r.restore()
        pool.stop()
        raise
    return sw


def stop_fastpath(sw: FastQuakeSwitch) -> None:
    """Stop the workers of a switch built by :func:`start_fastpath` (its ports close with it)."""
    loop = asyncio.get_running_loop()
    for fd in sw.pool.fds():
        with contextlib.suppress(ValueError, OSError):
            loop.remove_reader(fd)
    sw.pool.stop()
    for r in sw.rx_threads:
        r.restore()


async def serve_fastpath(
    cfg: object,
    workers: int,
    *,
    cpus: Sequence[int] = (),
    sched: str = "other",
    rx_thread: bool = False,
    stop: asyncio.Event | None = None,
    tuning: WorkerTuning | None = None,
) -> None:
    """Run quake with ``workers`` worker processes until ``stop`` (or SIGTERM/SIGINT)."""
    from ..daemon import QuakeConfig
    from .mgmt import start_mgmt_api

    assert isinstance(cfg, QuakeConfig)
    sw = start_fastpath(cfg, workers, cpus=cpus, sched=sched, rx_thread=rx_thread,
                        tuning=tuning)  # fmt: skip
    loop = asyncio.get_running_loop()
    try:
        if stop is None:
            stop = asyncio.Event()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
        server = None
        if cfg.api is not None:
            server = await start_mgmt_api(cfg.api[0], cfg.api[1], sw.pool, sw.status, sw.trace)
        try:
            ports = ", ".join(f"{n}={p}" for n, p in cfg.ports)
            print(f"quake: dpid={cfg.dpid:#018x} ports [{ports}] workers={workers}",
                  file=sys.stderr, flush=True)  # fmt: skip
            await sw.run(stop, cfg.listen)
        finally:
            if server is not None:
                server.close()
    finally:
        stop_fastpath(sw)


def run_fastpath(
    cfg: object, workers: int, cpus: Sequence[int] = (), sched: str = "other",
    rx_thread: bool = False, tuning: WorkerTuning | None = None,
) -> None:  # fmt: skip
    """Foreground entry point for ``openvolcano quake ... --workers N`` (N >= 1)."""
    asyncio.run(serve_fastpath(cfg, workers, cpus=cpus, sched=sched, rx_thread=rx_thread,
                               tuning=tuning))  # fmt: skip
