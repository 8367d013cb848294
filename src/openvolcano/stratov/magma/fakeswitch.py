"""A scriptable OpenFlow 1.3 switch emulator: magma's test peer and cbench-style load source.

Role: magma (paper section IV) must be exercised against switch behaviours a
real switch will not produce on demand - one that goes silent (dead-switch
timeout), one that stops reading its socket (send-queue back-pressure and
drops), one that refuses a message (error records) - and loaded with
packet-ins faster than a datapath would send them (benchmarks). Real switches
(quake, Open vSwitch) are covered by the integration tests.

Design: :class:`FakeSwitch` is the switch side of the shared sans-IO
:class:`~openvolcano.ofp.connection.Connection` over an asyncio TCP
connection. It answers the handshake (FEATURES, PORT_DESC, ROLE_REQUEST),
BARRIER, and the statistics magma dumps (flow stats from an in-memory table
kept from FLOW_MODs ADD/DELETE/DELETE_STRICT, empty group and meter
descriptions, zeroed port counters). A FLOW_MOD to a table at or above
``n_tables`` is refused with FLOW_MOD_FAILED/BAD_TABLE_ID. Knobs:
``silent`` (read, answer nothing - not even echoes), :meth:`pause_reading`
/ :meth:`resume_reading`, and ``on_packet_out`` (called with each
PACKET_OUT; the cbench client uses it to time round trips).

Invariants: only the reader task writes replies; :meth:`close` ends it and
closes the socket; counters (``flow_mods``, ``packet_outs``) only grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable

from openvolcano.ofp import consts as c
from openvolcano.ofp.base import Message
from openvolcano.ofp.connection import Connection, MessageReceived, Role
from openvolcano.ofp.messages import (
    BarrierReply,
    BarrierRequest,
    Error,
    FeaturesReply,
    FeaturesRequest,
    FlowMod,
    PacketOut,
    RoleReply,
    RoleRequest,
)
from openvolcano.ofp.multipart import (
    FlowStats,
    FlowStatsReply,
    FlowStatsRequest,
    GroupDescReply,
    GroupDescRequest,
    MeterConfigReply,
    MeterConfigRequest,
    PortDescReply,
    PortDescRequest,
    PortStats,
    PortStatsReply,
    PortStatsRequest,
)
from openvolcano.ofp.structs import Port

__all__ = ["FakeSwitch"]

_FlowKey = tuple[int, int, bytes]  # table, priority, encoded match
_STATS_PER_REPLY = 256  # flow stats per multipart part: well under the 64 KiB message limit


class FakeSwitch:
    """An emulated switch with ports ``1..n_ports``; :meth:`connect` to a controller."""

    def __init__(self, dpid: int, *, n_ports: int = 2, n_tables: int = 4) -> None:
        self.dpid = dpid
        self.n_tables = n_tables
        self.ports = tuple(
            Port(port_no=i, hw_addr=0x020000000000 | (dpid & 0xFFFF) << 8 | i, name=f"p{i}")
            for i in range(1, n_ports + 1)
        )
        self.flows: dict[_FlowKey, FlowStats] = {}
        self.flow_mods = 0
        self.packet_outs = 0
        self.silent = False
        self.on_packet_out: Callable[[PacketOut], None] | None = None
        self.handshake_done = asyncio.Event()  # magma dumped the flow table
        self.features_sent = asyncio.Event()  # the controller has our datapath id
        self._conn = Connection(Role.SWITCH)
        self._reading = asyncio.Event()
        self._reading.set()
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def connect(self, host: str, port: int, *, tls: ssl.SSLContext | None = None) -> None:
        reader, self._writer = await asyncio.open_connection(host, port, ssl=tls)
        self._writer.write(self._conn.data_to_send())  # our HELLO
        self._task = asyncio.create_task(self._run(reader))

    def send(self, msg: Message) -> None:
        """Write ``msg`` now (the caller owns pacing; see ``drain``)."""
        if self._writer is not None and not self.silent:
            self._writer.write(self._conn.send(msg))

    async def drain(self) -> None:
        if self._writer is not None:
            await self._writer.drain()

    def pause_reading(self) -> None:
        """Stop reading the socket: the controller's writes back up into its send queue."""
        self._reading.clear()

    def resume_reading(self) -> None:
        self._reading.set()

    @property
    def closed(self) -> bool:
        return self._task is None or self._task.done()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()

    async def _run(self, reader: asyncio.StreamReader) -> None:
        while True:
            await self._reading.wait()
            try:
                data = await reader.read(1 << 16)
            except (ConnectionError, OSError):
                return
            if not data:
                return
            self._conn.receive_data(data)
            for event in self._conn:
                if isinstance(event, MessageReceived):
                    self._handle(event.msg)
            auto = self._conn.data_to_send()  # echo replies, error replies
            if auto and not self.silent and self._writer is not None:
                self._writer.write(auto)

    def _handle(self, msg: Message) -> None:
        xid = msg.xid
        if isinstance(msg, PacketOut):
            self.packet_outs += 1
            if self.on_packet_out is not None:
                self.on_packet_out(msg)
        elif isinstance(msg, FlowMod):
            self._flow_mod(msg)
        elif isinstance(msg, BarrierRequest):
            self.send(BarrierReply(xid=xid))
        elif isinstance(msg, FeaturesRequest):
            self.send(FeaturesReply(xid=xid, datapath_id=self.dpid, n_tables=self.n_tables))
            self.features_sent.set()
        elif isinstance(msg, PortDescRequest):
            self.send(PortDescReply(xid=xid, body=self.ports))
        elif isinstance(msg, RoleRequest):
            self.send(RoleReply(xid=xid, role=msg.role, generation_id=msg.generation_id))
        elif isinstance(msg, FlowStatsRequest):
            entries = tuple(self.flows.values())
            for i in range(0, max(len(entries), 1), _STATS_PER_REPLY):  # 64 KiB message limit
                more = c.OFPMPF_REPLY_MORE if i + _STATS_PER_REPLY < len(entries) else 0
                part = entries[i : i + _STATS_PER_REPLY]
                self.send(FlowStatsReply(xid=xid, flags=more, body=part))
            self.handshake_done.set()  # magma dumps right after the handshake
        elif isinstance(msg, GroupDescRequest):
            self.send(GroupDescReply(xid=xid))
        elif isinstance(msg, MeterConfigRequest):
            self.send(MeterConfigReply(xid=xid))
        elif isinstance(msg, PortStatsRequest):
            self.send(
                PortStatsReply(
                    xid=xid,
                    body=tuple(
                        PortStats(
                            port_no=p.port_no, rx_packets=10 * p.port_no, tx_packets=p.port_no
                        )
                        for p in self.ports
                    ),
                )
            )

    def _flow_mod(self, m: FlowMod) -> None:
        self.flow_mods += 1
        if m.command in (c.OFPFC_ADD, c.OFPFC_MODIFY, c.OFPFC_MODIFY_STRICT):
            if m.table_id >= self.n_tables:
                self.send(
                    Error(
                        xid=m.xid, type=c.OFPET_FLOW_MOD_FAILED, code=c.OFPFMFC_BAD_TABLE_ID,
                        data=m.encode()[:64],
                    )
                )  # fmt: skip
                return
            self.flows[(m.table_id, m.priority, m.match.encode())] = FlowStats(
                table_id=m.table_id, priority=m.priority, cookie=m.cookie, flags=m.flags,
                match=m.match, instructions=m.instructions,
            )  # fmt: skip
        elif m.command == c.OFPFC_DELETE_STRICT:
            self.flows.pop((m.table_id, m.priority, m.match.encode()), None)
        elif m.command == c.OFPFC_DELETE:
            self.flows = {
                k: f for k, f in self.flows.items()
                if not (m.table_id in (c.OFPTT_ALL, f.table_id)
                        and (f.cookie & m.cookie_mask) == (m.cookie & m.cookie_mask))
            }  # fmt: skip
