"""One OpenFlow 1.3 switch session of magma: asyncio shell over the sans-IO ``Connection``.

Role: magma (paper section IV) holds one session per connected switch - quake,
Open vSwitch or any OpenFlow 1.3 switch. The session does the handshake
(HELLO, FEATURES -> datapath id, PORT_DESC, SET_CONFIG, optional ROLE_REQUEST),
keeps the channel alive (ECHO) and declares the switch dead when it stops
answering, matches replies to requests by xid, and remembers the messages it
sent recently so an OFPT_ERROR names the message that caused it.

Design:

* Three tasks owned by :meth:`SwitchSession.run` (a TaskGroup): the reader
  feeds bytes to the :class:`~openvolcano.ofp.connection.Connection` and
  dispatches events; the writer drains the send queue; the keepalive sends an
  ECHO_REQUEST after ``echo_interval`` s of silence and closes the session
  after ``dead_after`` s without any message from the switch.
* **Send queue and back-pressure policy.** Encoded messages wait in a bounded
  queue (``queue_size`` messages). :meth:`send` - flow programming, requests -
  *waits* for room: a slow switch slows its reconciler down, nothing is lost.
  :meth:`try_send` - packet-outs, LLDP probes, echoes - *drops* the message
  when the queue is full and counts it in ``dropped``: stale packet-outs are
  worthless and must not delay flow programming. Fast path: when the queue
  is empty and the transport holds under 64 KiB, bytes are written at once
  (no hop through the writer task; order is kept since nothing waits before
  them). :meth:`send_many` encodes a whole phase into buffers of 64 KiB,
  each one queue entry and one socket write. Messages are encoded once and
  the fresh xid is written into the header (no copy of the message).
* Replies are matched by xid, but asynchronous messages (packet-in,
  port-status, flow-removed) never are: they carry the switch's own xids.
* **Recent messages.** A ring of the last ``ring_size`` sent (xid, message);
  an ERROR whose xid is in the ring is reported with that message.
* Requests: :meth:`request` returns every reply part (multipart until the
  last); an ERROR answering it raises :class:`SwitchRequestError`.

Invariants: only the session's own tasks touch the socket; every pending
request is failed when the session ends; ``closed`` is set exactly once.
Shared state: ``ports`` (writer: reader task; readers: controller, REST).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from openvolcano.common.errors import OpenVolcanoError
from openvolcano.ofp import consts as c
from openvolcano.ofp.base import Message
from openvolcano.ofp.connection import (
    Connection,
    ConnectionClosed,
    ConnState,
    MessageReceived,
    Negotiated,
    ProtocolError,
    Role,
)
from openvolcano.ofp.messages import (
    BarrierReply,
    BarrierRequest,
    EchoRequest,
    Error,
    FeaturesReply,
    FeaturesRequest,
    FlowRemoved,
    PacketIn,
    PortStatus,
    RoleReply,
    RoleRequest,
    SetConfig,
)
from openvolcano.ofp.multipart import MultipartReply, PortDescReply, PortDescRequest
from openvolcano.ofp.structs import Port

__all__ = ["SessionClosed", "SwitchRequestError", "SwitchSession"]

_READ_SIZE = 1 << 16
_BATCH_BYTES = 1 << 16  # flow-programming buffer: one send-queue entry, one socket write
_DIRECT_WRITE_LIMIT = 1 << 16  # write without the queue while the transport holds less
ROLES = {"equal": c.OFPCR_ROLE_EQUAL, "master": c.OFPCR_ROLE_MASTER, "slave": c.OFPCR_ROLE_SLAVE}


class SessionClosed(OpenVolcanoError):
    """The switch session ended (disconnect, dead switch, protocol failure)."""


class SwitchRequestError(OpenVolcanoError):
    """The switch answered a request with OFPT_ERROR."""

    def __init__(self, error: Error, request: Message) -> None:
        super().__init__(f"switch refused {type(request).__name__}: {error.name()}")
        self.error = error
        self.request = request


@dataclass
class _Pending:
    request: Message
    future: asyncio.Future[list[Message]]
    parts: list[Message]


class SwitchSession:
    """A connected switch; ``on_message`` gets every asynchronous message and error."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_message: Callable[[SwitchSession, Message, Message | None], None],
        queue_size: int = 4096,
        echo_interval: float = 5.0,
        dead_after: float = 15.0,
        ring_size: int = 512,
        role: str = "equal",
        generation_id: int = 0,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._on_message = on_message
        self._conn = Connection(Role.CONTROLLER)
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_size)
        self._pending: dict[int, _Pending] = {}
        self._ring: deque[tuple[int, Message]] = deque(maxlen=ring_size)
        self._ring_index: dict[int, Message] = {}
        self._negotiated = asyncio.Event()
        self._echo_interval = echo_interval
        self._dead_after = dead_after
        self._role = role
        self._generation_id = generation_id
        loop = asyncio.get_running_loop()
        self._last_rx = loop.time()
        self.connected_at = time.time()
        self.closed = asyncio.Event()
        self.close_reason = ""
        self.dropped = 0
        self.protocol_errors: deque[str] = deque(maxlen=32)  # invalid messages the switch sent
        peer = writer.get_extra_info("peername")
        self.address = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.dpid: int | None = None
        self.n_tables = 0
        self.ports: dict[int, Port] = {}

    # -- sending -----------------------------------------------------------------

    def _encode(self, msg: Message) -> bytes:
        """``msg`` on the wire with a fresh xid (or its own), remembered in the ring."""
        if self.closed.is_set():
            raise SessionClosed(f"switch session {self.address} is closed: {self.close_reason}")
        if msg.xid or self._conn.state is not ConnState.OPEN:
            msg = self._conn.assign_xid(msg)
            xid, data = msg.xid, self._conn.send(msg)  # the connection checks state and role
        else:  # fast path: encode once, write the fresh xid into the header (no copy of msg)
            xid = self._conn.next_xid()
            data = msg.encode()
            data = data[:4] + xid.to_bytes(4, "big") + data[8:]
        if len(self._ring) == self._ring.maxlen:
            old_xid, _ = self._ring[0]
            self._ring_index.pop(old_xid, None)
        self._ring.append((xid, msg))
        self._ring_index[xid] = msg
        return data

    def _write_now(self, data: bytes) -> bool:
        """Fast path: hand ``data`` to the transport at once if nothing waits before it."""
        if self._queue.empty() and self._has_room():
            self._writer.write(data)
            return True
        return False

    def _has_room(self) -> bool:
        transport = self._writer.transport
        if transport.is_closing():
            self.close("connection lost")
            return False
        return transport.get_write_buffer_size() < _DIRECT_WRITE_LIMIT

    async def send(self, msg: Message) -> int:
        """Send or queue ``msg`` (waiting for room: back-pressure); returns its xid."""
        data = self._encode(msg)
        if not self._write_now(data):
            await self._queue.put(data)
        return self._ring[-1][0]

    async def send_many(self, msgs: Iterable[Message]) -> int:
        """Queue ``msgs`` in order as few large writes (back-pressured like :meth:`send`).

        The messages are encoded into buffers of up to ``_BATCH_BYTES``; each
        buffer is one entry of the send queue, so a flow-programming phase is
        a handful of socket writes instead of one per flow-mod.
        """
        n = 0
        buf: list[bytes] = []
        size = 0
        for m in msgs:
            data = self._encode(m)
            buf.append(data)
            size += len(data)
            n += 1
            if size >= _BATCH_BYTES:
                chunk = b"".join(buf)
                if not self._write_now(chunk):
                    await self._queue.put(chunk)
                buf, size = [], 0
        if buf:
            chunk = b"".join(buf)
            if not self._write_now(chunk):
                await self._queue.put(chunk)
        return n

    def try_send(self, msg: Message) -> bool:
        """Send or queue ``msg`` unless the queue is full (then drop, count, return False)."""
        if self._queue.full() or self.closed.is_set():
            self.dropped += 1
            return False
        data = self._encode(msg)
        if not self._write_now(data):
            self._queue.put_nowait(data)
        return True

    async def request(self, msg: Message, timeout: float = 10.0) -> list[Message]:  # noqa: ASYNC109
        """Send ``msg`` and wait for all of its reply parts."""
        fut: asyncio.Future[list[Message]] = asyncio.get_running_loop().create_future()
        msg = self._conn.assign_xid(msg)
        self._pending[msg.xid] = _Pending(request=msg, future=fut, parts=[])
        try:
            await self.send(msg)
            async with asyncio.timeout(timeout):
                return await fut
        except TimeoutError:
            raise SessionClosed(
                f"switch {self.name} did not answer {type(msg).__name__} within {timeout:g}s"
            ) from None
        finally:
            self._pending.pop(msg.xid, None)

    async def barrier(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        await self.request(BarrierRequest(), timeout)

    def caused_by(self, xid: int) -> Message | None:
        """The message we sent with ``xid``, if still in the recent-message ring."""
        return self._ring_index.get(xid)

    @property
    def role(self) -> str:
        return self._role

    @property
    def name(self) -> str:
        return f"{self.dpid:016x}" if self.dpid is not None else self.address

    @property
    def queue_depth(self) -> int:
        return self._queue.qsize()

    # -- lifecycle -------------------------------------------------------------------

    async def handshake(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """HELLO, FEATURES, PORT_DESC, SET_CONFIG and (unless equal) ROLE_REQUEST."""
        async with asyncio.timeout(timeout):
            await self._negotiated.wait()
        (features,) = await self.request(FeaturesRequest(), timeout)
        assert isinstance(features, FeaturesReply)
        self.dpid = features.datapath_id
        self.n_tables = features.n_tables
        for part in await self.request(PortDescRequest(), timeout):
            if isinstance(part, PortDescReply):
                self.ports.update({p.port_no: p for p in part.body})
        await self.send(SetConfig(flags=0, miss_send_len=c.OFPCML_NO_BUFFER))
        if self._role != "equal":
            (reply,) = await self.request(
                RoleRequest(role=ROLES[self._role], generation_id=self._generation_id), timeout
            )
            assert isinstance(reply, RoleReply)

    async def set_role(self, role: str, generation_id: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """ROLE_REQUEST ``role`` with ``generation_id`` (a switch refuses a stale one)."""
        self._role, self._generation_id = role, generation_id
        await self.request(RoleRequest(role=ROLES[role], generation_id=generation_id), timeout)

    async def run(self) -> None:
        """Serve the connection until it closes; returns then (never raises for I/O)."""
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._read_loop())
                tg.create_task(self._write_loop())
                tg.create_task(self._keepalive())
                await self.closed.wait()
                raise _Stop
        except* _Stop:
            pass
        finally:
            self._fail_pending()
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()

    def close(self, reason: str) -> None:
        if not self.closed.is_set():
            self.close_reason = reason
            self.closed.set()

    def _fail_pending(self) -> None:
        for p in self._pending.values():
            if not p.future.done():
                p.future.set_exception(
                    SessionClosed(f"switch {self.name} disconnected: {self.close_reason}")
                )

    async def _write_loop(self) -> None:
        try:
            while True:
                data = await self._queue.get()
                self._writer.write(data)
                if self._queue.empty():
                    await self._writer.drain()
        except (ConnectionError, OSError) as e:
            self.close(f"write failed: {e}")

    async def _keepalive(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self._echo_interval)
            silent = loop.time() - self._last_rx
            if silent >= self._dead_after:
                self.close(f"no message for {silent:.1f}s (dead switch)")
                return
            if silent >= self._echo_interval and self._negotiated.is_set():
                self.try_send(EchoRequest(data=b"magma"))

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        self._writer.write(self._conn.data_to_send())  # our HELLO
        while True:
            try:
                data = await self._reader.read(_READ_SIZE)
            except (ConnectionError, OSError) as e:
                self.close(f"read failed: {e}")
                return
            self._last_rx = loop.time()
            self._conn.receive_data(data)
            while (event := self._conn.next_event()) is not None:
                if isinstance(event, Negotiated):
                    self._negotiated.set()
                elif isinstance(event, MessageReceived):
                    self._dispatch(event.msg)
                elif isinstance(event, ProtocolError):
                    self.protocol_errors.append(str(event.error))
                elif isinstance(event, ConnectionClosed):
                    self._flush_auto()
                    self.close(event.reason or "closed by the switch")
                    return
            self._flush_auto()

    def _flush_auto(self) -> None:
        auto = self._conn.data_to_send()
        if auto:
            self._writer.write(auto)

    def _dispatch(self, msg: Message) -> None:
        pending = self._pending.get(msg.xid)
        if pending is not None and not isinstance(msg, _ASYNC):  # async: the switch's own xid
            if isinstance(msg, Error):
                if not pending.future.done():
                    pending.future.set_exception(SwitchRequestError(msg, pending.request))
                self._on_message(self, msg, pending.request)
                return
            pending.parts.append(msg)
            more = isinstance(msg, MultipartReply) and msg.flags & c.OFPMPF_REPLY_MORE
            if not more and not pending.future.done():
                pending.future.set_result(pending.parts)
            return
        if isinstance(msg, PortStatus):
            if msg.reason == c.OFPPR_DELETE:
                self.ports.pop(msg.desc.port_no, None)
            else:
                self.ports[msg.desc.port_no] = msg.desc
        if isinstance(msg, BarrierReply):
            return
        self._on_message(self, msg, self.caused_by(msg.xid) if isinstance(msg, Error) else None)


_ASYNC = (PacketIn, PortStatus, FlowRemoved)  # asynchronous messages never answer a request


class _Stop(Exception):
    """Internal: ends the session's TaskGroup once ``closed`` is set."""
