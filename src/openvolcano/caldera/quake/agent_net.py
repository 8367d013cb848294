"""quake's asyncio shell: port polling, controller connections, timers. It only moves bytes.

Role (paper §VI): the running switch. One event loop polls every port
descriptor (``loop.add_reader``), hands frames to the
:class:`~.datapath.SwitchDatapath` with ``now`` read once per batch, and
carries the :class:`~.agent.SwitchAgent`'s decisions to the controllers over
OpenFlow connections (:class:`openvolcano.ofp.connection.Connection` framing
over asyncio streams).

Design:

* Controllers: ``tcp:HOST:PORT`` targets are dialled and re-dialled with
  exponential backoff (1 s doubling to ``backoff_max``; reset after a
  successful HELLO exchange); ``ptcp:PORT[:IP]`` listens (so ``ovs-ofctl``
  can connect). Each connection is one :class:`_Session`.
* Keepalive: any bytes received from the peer prove it alive. A session
  checks every ``echo_interval``: if the peer sent something since the last
  check, nothing more is needed; if it was idle for a whole interval, an
  ECHO_REQUEST goes out. A peer that stays silent through ``echo_misses``
  such echoes (no reply, no other bytes) is declared dead and disconnected
  (an active target then reconnects). So a peer that is busy *writing* -
  ``ovs-ofctl add-flows`` streaming 65,536 flow-mods, blocked on a full
  socket while quake is still decoding - is never dropped for not reading
  its echoes.
* Timers: flow expiry runs every ``expire_interval`` seconds.
* Back-pressure policy: a session whose socket write buffer exceeds
  ``MAX_WRITE_BUFFER`` drops *asynchronous* messages (packet-ins, port
  status, flow-removed; counted in ``async_dropped``) but always writes
  replies, so a slow controller cannot grow quake's memory without bound.

Ownership: :meth:`QuakeSwitch.run` owns every task it starts (a TaskGroup)
and, when ``stop`` is set, cancels them, closes the connections and ports.
Readers of shared state: the API (:mod:`.api`) reads :meth:`QuakeSwitch.status`
from the same loop; nothing is shared across threads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from openvolcano.common.clock import Clock, SystemClock
from openvolcano.common.errors import InvalidInput
from openvolcano.ofp import consts as c
from openvolcano.ofp.base import Message
from openvolcano.ofp.connection import (
    Connection,
    ConnectionClosed,
    ConnectionUsageError,
    MessageReceived,
    Negotiated,
    ProtocolError,
    Role,
)
from openvolcano.ofp.messages import Error

from .agent import Channel, Outbox, SwitchAgent
from .ports.base import PortBackend

__all__ = ["MAX_WRITE_BUFFER", "ControllerTarget", "QuakeSwitch", "parse_target"]

log = logging.getLogger(__name__)

MAX_WRITE_BUFFER = 4 * 1024 * 1024
_READ_SIZE = 65536


@dataclass(frozen=True)
class ControllerTarget:
    """``tcp:HOST:PORT`` (active) or ``ptcp:PORT[:IP]`` (passive)."""

    passive: bool
    host: str
    port: int

    def __str__(self) -> str:
        if self.passive:
            return f"ptcp:{self.port}:{self.host}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"tcp:{host}:{self.port}"


def parse_target(text: str) -> ControllerTarget:
    """Parse ``tcp:HOST:PORT`` / ``ptcp:PORT[:IP]``; :class:`InvalidInput` names the bad part."""
    kind, _, rest = text.partition(":")
    try:
        if kind == "tcp":
            host, _, port = rest.rpartition(":")
            host = host.strip("[]")
            if not host:
                raise ValueError
            return ControllerTarget(False, host, _port(port))
        if kind == "ptcp":
            port, _, host = rest.partition(":")
            return ControllerTarget(True, host.strip("[]") or "0.0.0.0", _port(port))
    except ValueError:
        pass
    raise InvalidInput(f"bad controller target {text!r}: expected tcp:HOST:PORT or ptcp:PORT[:IP]")


def _port(text: str) -> int:
    n = int(text)
    if not 0 <= n <= 65535:
        raise ValueError
    return n


@dataclass
class _TargetState:
    target: ControllerTarget
    connected: bool = False
    attempts: int = 0
    last_error: str = ""


@dataclass
class _Counters:
    async_dropped: int = 0
    dead_controllers: int = 0
    protocol_errors: int = 0
    sessions: int = 0
    batches: int = 0
    packet_ins: int = 0


class _Session:
    """One controller connection: Connection state machine + stream. Owner: QuakeSwitch."""

    def __init__(
        self,
        switch: QuakeSwitch,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        name: str,
    ) -> None:
        self.switch = switch
        self.reader = reader
        self.writer = writer
        self.name = name
        self.conn = Connection(Role.SWITCH)
        self.channel: Channel | None = None
        self.rx_reads = 0  # non-empty reads from the peer: liveness for the keepalive

    def write_raw(self, data: bytes) -> None:
        if data and not self.writer.is_closing():
            self.writer.write(data)

    def send(self, msg: Message, *, droppable: bool) -> None:
        if self.writer.is_closing():
            return
        if droppable and self.writer.transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            self.switch.counters.async_dropped += 1
            return
        with contextlib.suppress(ConnectionUsageError):  # closed under us: nothing to say
            self.write_raw(self.conn.send(msg))

    def close(self) -> None:
        self.writer.close()

    async def run(self) -> bool:
        """Serve until EOF/close; True if the HELLO exchange succeeded."""
        sw = self.switch
        negotiated = False
        self.write_raw(self.conn.data_to_send())
        keepalive = asyncio.get_running_loop().create_task(self._keepalive())
        try:
            while not self.conn.closed:
                try:
                    data = await self.reader.read(_READ_SIZE)
                except OSError:
                    data = b""
                if data:
                    self.rx_reads += 1
                self.conn.receive_data(data)
                for ev in self.conn:
                    self.write_raw(self.conn.data_to_send())
                    if isinstance(ev, Negotiated):
                        negotiated = True
                        self.channel = sw.agent.open_channel(self.name)
                        sw.sessions[self.channel.id] = self
                        log.info("controller %s connected", self.name)
                    elif isinstance(ev, MessageReceived) and self.channel is not None:
                        if isinstance(ev.msg, Error):
                            log.warning("controller %s sent %s", self.name, ev.msg.name())
                        sw.deliver(sw.agent.handle(self.channel, ev.msg, sw.clock.now()))
                    elif isinstance(ev, ProtocolError):
                        sw.counters.protocol_errors += 1
                        log.warning("controller %s: %s", self.name, ev.error)
                    elif isinstance(ev, ConnectionClosed):
                        log.info("controller %s: %s", self.name, ev.reason)
                self.write_raw(self.conn.data_to_send())
                with contextlib.suppress(ConnectionError):
                    await self.writer.drain()
        finally:
            keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keepalive
            if self.channel is not None:
                sw.sessions.pop(self.channel.id, None)
                sw.agent.close_channel(self.channel)
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
        return negotiated

    async def _keepalive(self) -> None:
        """Echo only after an idle interval; drop the peer after ``echo_misses`` silent echoes."""
        sw = self.switch
        seen, silent_echoes = self.rx_reads, 0
        while True:
            await asyncio.sleep(sw.echo_interval)
            if self.rx_reads != seen:  # the peer sent something: alive, no echo needed
                seen, silent_echoes = self.rx_reads, 0
                continue
            if silent_echoes >= sw.echo_misses:
                sw.counters.dead_controllers += 1
                log.warning("controller %s silent, echoes unanswered: disconnecting", self.name)
                self.writer.close()  # the pending read then ends with EOF
                return
            if self.conn.version is not None and not self.conn.closed:
                self.write_raw(self.conn.make_echo_request())
            silent_echoes += 1  # before HELLO there is nothing to echo: the interval counts


class QuakeSwitch:
    """The running switch: ports, agent and controller connections on one event loop."""

    def __init__(
        self,
        agent: SwitchAgent,
        *,
        controllers: Sequence[ControllerTarget] = (),
        clock: Clock | None = None,
        echo_interval: float = 5.0,
        echo_misses: int = 3,
        expire_interval: float = 0.5,
        backoff_max: float = 8.0,
    ) -> None:
        self.agent = agent
        self.dp = agent.dp
        self.clock: Clock = clock or SystemClock()
        self.targets = [_TargetState(t) for t in controllers]
        self.echo_interval = echo_interval
        self.echo_misses = echo_misses
        self.expire_interval = expire_interval
        self.backoff_max = backoff_max
        self.sessions: dict[int, _Session] = {}
        self.counters = _Counters()
        self.listen_addresses: list[tuple[str, int]] = []
        self._all_sessions: set[_Session] = set()
        self._readers: dict[int, list[int]] = {}  # port_no -> fds registered with the loop
        self._loop: asyncio.AbstractEventLoop | None = None
        self.ready = asyncio.Event()  # set by run() once ports are polled and listeners bound

    # --- ports ---------------------------------------------------------------------
    def add_port(self, backend: PortBackend, port_no: int) -> None:
        """Open a port (before or while running) and announce it."""
        st = self.dp.add_port(backend, port_no, self.clock.now())
        if self._loop is not None:
            self._watch(port_no)
        self.deliver(self.agent.publish([st]))

    def remove_port(self, port_no: int) -> None:
        self._unwatch(port_no)
        self.deliver(self.agent.publish([self.dp.remove_port(port_no)]))

    def _watch(self, port_no: int) -> None:
        assert self._loop is not None
        backend = self.dp.ports[port_no].backend
        fds = [backend.fileno()]
        self._loop.add_reader(fds[0], self._on_frames, port_no)
        lfd = backend.link_fileno()
        if lfd is not None:
            self._loop.add_reader(lfd, self._on_link, port_no)
            fds.append(lfd)
        self._readers[port_no] = fds

    def _unwatch(self, port_no: int) -> None:
        for fd in self._readers.pop(port_no, []):
            if self._loop is not None:
                self._loop.remove_reader(fd)

    def _on_frames(self, port_no: int) -> None:
        self.counters.batches += 1
        pins = self.dp.receive(port_no, self.clock.now())
        if pins:
            self.counters.packet_ins += len(pins)
            self.deliver(self.agent.publish(pins))

    def _on_link(self, port_no: int) -> None:
        st = self.dp.link_changed(port_no)
        if st is not None:
            log.info(
                "port %d link %s",
                port_no,
                "up" if self.dp.ports[port_no].backend.link_up else "down",
            )
            self.deliver(self.agent.publish([st]))

    # --- messages out -----------------------------------------------------------------
    def deliver(self, outbox: Outbox) -> None:
        for ch, msg in outbox:
            s = self.sessions.get(ch.id)
            if s is not None:
                s.send(msg, droppable=msg.msg_type in _ASYNC_TYPES)

    # --- main loop ----------------------------------------------------------------------
    async def run(self, stop: asyncio.Event, listen: Sequence[ControllerTarget] = ()) -> None:
        """Serve until ``stop`` is set, then shut everything down cleanly."""
        self._loop = asyncio.get_running_loop()
        servers: list[asyncio.Server] = []
        try:
            for port_no in list(self.dp.ports):
                self._watch(port_no)
            for t in listen:
                srv = await asyncio.start_server(self._accept, t.host, t.port)
                servers.append(srv)
                for sock in srv.sockets:
                    addr = sock.getsockname()
                    self.listen_addresses.append((str(addr[0]), int(addr[1])))
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(self._expire_loop())]
                tasks += [tg.create_task(self._dial(ts)) for ts in self.targets]
                self.ready.set()
                await stop.wait()
                for srv in servers:
                    srv.close()
                for s in list(self._all_sessions):
                    s.close()
                for task in tasks:
                    task.cancel()
        finally:
            for srv in servers:
                srv.close()
            for port_no in list(self._readers):
                self._unwatch(port_no)
            self.dp.close()
            self._loop = None
            self.ready.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        name = f"ptcp peer {peer[0]}:{peer[1]}" if isinstance(peer, tuple) else "ptcp peer"
        await self._serve(reader, writer, name)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, name: str
    ) -> bool:
        s = _Session(self, reader, writer, name)
        self._all_sessions.add(s)
        self.counters.sessions += 1
        try:
            return await s.run()
        finally:
            self._all_sessions.discard(s)

    async def _dial(self, ts: _TargetState) -> None:
        delay = 1.0
        t = ts.target
        while True:
            ts.attempts += 1
            try:
                reader, writer = await asyncio.wait_for(asyncio.open_connection(t.host, t.port), 10)
            except (OSError, TimeoutError) as exc:
                ts.last_error = str(exc) or type(exc).__name__
            else:
                ts.connected = True
                try:
                    if await self._serve(reader, writer, str(t)):
                        delay = 1.0
                finally:
                    ts.connected = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.backoff_max)

    async def _expire_loop(self) -> None:
        while True:
            await asyncio.sleep(self.expire_interval)
            removed = self.dp.expire(self.clock.now())
            if removed:
                self.deliver(self.agent.publish(removed))

    # --- introspection --------------------------------------------------------------------
    def status(self) -> dict[str, object]:
        """What ``GET /status`` shows: ports, counters, controllers, tables."""
        dp = self.dp
        ports = []
        for p in sorted(dp.ports):
            sp = dp.ports[p]
            ports.append({
                "port_no": p,
                "name": sp.backend.name,
                "hw_addr": f"{sp.backend.hw_addr:012x}",
                "link_up": sp.backend.link_up,
                "config": sp.config,
                "counters": sp.backend.counters.as_dict(),
            })  # fmt: skip
        tables = [
            {"table_id": t.table_id, "active_count": t.active_count,
             "lookup_count": t.lookup_count, "matched_count": t.matched_count}
            for t in dp.pipeline.table_stats()
            if t.active_count or t.lookup_count
        ]  # fmt: skip
        counters = {
            "async_dropped": self.counters.async_dropped,
            "dead_controllers": self.counters.dead_controllers,
            "protocol_errors": self.counters.protocol_errors,
            "sessions": self.counters.sessions,
            "batches": self.counters.batches,
            "packet_ins": self.counters.packet_ins,
            "buffers_used": len(dp.buffers),
            "buffers_evicted": dp.buffers.evicted,
            "malformed_packets": dp.pipeline.malformed_packets,
            "dropped_port_down": dp.dropped_port_down,
            "dropped_local": dp.dropped_local,
            "standalone_frames": dp.standalone_frames,
            "mac_table_size": len(dp.learning),
        }
        return {
            **self.agent.status(),
            "n_tables": dp.pipeline.n_tables,
            "ports": ports,
            "controllers": [
                {
                    "target": str(ts.target),
                    "connected": ts.connected,
                    "attempts": ts.attempts,
                    "last_error": ts.last_error,
                }
                for ts in self.targets
            ],
            "listen": [f"{h}:{p}" for h, p in self.listen_addresses],
            "tables": tables,
            "counters": counters,
        }


_ASYNC_TYPES = frozenset({c.OFPT_PACKET_IN, c.OFPT_FLOW_REMOVED, c.OFPT_PORT_STATUS})
