"""The OpenFlow interop demo: our codec drives a real Open vSwitch.

Role: the first end-to-end proof of the paper's ofp_lib - before magma and
quake exist, a throw-away controller built only on :mod:`openvolcano.ofp`
and asyncio talks OpenFlow 1.3 to the reference switch. Run by
``openvolcano ofp demo`` (and ``make demo``); not a product module.

Design: :func:`run_demo` listens on a free loopback port, starts a private
OVS (:mod:`openvolcano.netlab.ovs`) with one userspace bridge pointed at it,
and on the first switch connection runs a scripted session over a
:class:`~openvolcano.ofp.connection.Connection`: HELLO, FEATURES_REQUEST
(-> dpid), a handful of FLOW_MODs covering the common shapes (table-miss to
CONTROLLER, ARP flood, masked IPv4 with set_field + output, goto-table and a
rule in table 1), a BARRIER, then a FLOW_STATS multipart request. It returns a
:class:`DemoResult`; the CLI prints it beside ``ovs-ofctl dump-flows``.

Invariants: every step is bounded by the one ``timeout``; OVS is stopped and
the listening socket closed on every exit path; failures raise
:class:`DemoError` (or :class:`~openvolcano.netlab.ovs.OvsNotInstalled`) with
a message for the operator, never a bare traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from openvolcano.common.errors import OpenVolcanoError
from openvolcano.netlab.ovs import PrivateOvs, unique_name
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import Action, ActionOutput, ActionSetField
from openvolcano.ofp.base import Message
from openvolcano.ofp.connection import (
    Connection,
    ConnectionClosed,
    MessageReceived,
    Negotiated,
    ProtocolError,
    Role,
)
from openvolcano.ofp.instructions import (
    Instruction,
    InstructionApplyActions,
    InstructionGotoTable,
    InstructionWriteActions,
)
from openvolcano.ofp.messages import (
    BarrierReply,
    BarrierRequest,
    Error,
    FeaturesReply,
    FeaturesRequest,
    FlowMod,
)
from openvolcano.ofp.multipart import FlowStats, FlowStatsReply, FlowStatsRequest
from openvolcano.ofp.oxm import Match, OxmTLV
from openvolcano.ofp.oxm_fields import field_by_name, mac

__all__ = [
    "DEMO_DPID",
    "DemoError",
    "DemoResult",
    "demo_flows",
    "flow_key",
    "format_flow_table",
    "mismatches",
    "run_demo",
]

DEMO_DPID = 0x0000_0000_0FE0_0001
_READ_SIZE = 65536


class DemoError(OpenVolcanoError):
    """The demo could not complete (switch never connected, rejected a message...)."""


@dataclass(frozen=True, kw_only=True)
class DemoResult:
    """What the demo observed: dpid, what it installed, what came back two ways."""

    datapath_id: int
    bridge: str
    installed: tuple[FlowMod, ...]
    read_back: tuple[FlowStats, ...]
    ofctl_flows: tuple[str, ...]


def demo_flows() -> tuple[FlowMod, ...]:
    """The flows the demo installs (distinct cookies, so replies can be matched)."""
    ipv4 = 0x0800

    def apply(*actions: Action) -> tuple[Instruction, ...]:
        return (InstructionApplyActions(actions=actions),)

    return (
        FlowMod(
            cookie=0x10,
            priority=0,
            match=Match(),
            instructions=apply(ActionOutput(port=c.OFPP_CONTROLLER, max_len=c.OFPCML_NO_BUFFER)),
        ),
        FlowMod(
            cookie=0x20,
            priority=100,
            match=Match.of(eth_type=0x0806),
            instructions=apply(ActionOutput(port=c.OFPP_FLOOD, max_len=0)),
        ),
        FlowMod(
            cookie=0x30,
            priority=200,
            match=Match.of(eth_type=ipv4, ipv4_dst=("10.1.0.0", "255.255.0.0")),
            instructions=apply(
                ActionSetField(
                    field=OxmTLV(
                        field=field_by_name("eth_dst").field, value=mac("02:00:00:00:00:01")
                    )
                ),
                ActionOutput(port=1, max_len=0),
            ),
        ),
        FlowMod(
            cookie=0x40,
            priority=300,
            match=Match.of(eth_type=ipv4, ip_proto=6, tcp_dst=80),
            instructions=(InstructionGotoTable(table_id=1),),
        ),
        FlowMod(
            cookie=0x50,
            table_id=1,
            priority=10,
            match=Match.of(eth_type=ipv4, ip_proto=6),
            instructions=(InstructionWriteActions(actions=(ActionOutput(port=2, max_len=0),)),),
        ),
    )


def flow_key(
    table_id: int, priority: int, cookie: int, match: Match, instructions: tuple[Instruction, ...]
) -> tuple[object, ...]:
    """What must survive the round trip: match as a set of fields (OVS may reorder them)."""
    return (table_id, priority, cookie, sorted(match.to_dict().items()), instructions)


def mismatches(installed: tuple[FlowMod, ...], read_back: tuple[FlowStats, ...]) -> list[str]:
    """Differences between installed flows and flow stats, by cookie; empty when equal."""
    want = {f.cookie: f for f in installed}
    got = {f.cookie: f for f in read_back}
    problems = [f"cookie {k:#x}: installed but not read back" for k in want.keys() - got.keys()]
    problems += [f"cookie {k:#x}: read back but never installed" for k in got.keys() - want.keys()]
    for k in sorted(want.keys() & got.keys()):
        w, g = want[k], got[k]
        a = flow_key(w.table_id, w.priority, w.cookie, w.match, w.instructions)
        b = flow_key(g.table_id, g.priority, g.cookie, g.match, g.instructions)
        if a != b:
            problems.append(f"cookie {k:#x}: installed {a}, read back {b}")
    return sorted(problems)


# -- formatting -------------------------------------------------------------------


def _port(port: int) -> str:
    return c.name_of("OFPP_", port).removeprefix("OFPP_") if port > c.OFPP_MAX else str(port)


def _action(a: Action) -> str:
    if isinstance(a, ActionOutput):
        return f"output:{_port(a.port)}"
    if isinstance(a, ActionSetField):
        return f"set_field:{a.field}"
    return type(a).__name__.removeprefix("Action").lower()


def _instruction(i: Instruction) -> str:
    if isinstance(i, InstructionGotoTable):
        return f"goto_table:{i.table_id}"
    if isinstance(i, InstructionApplyActions):
        return f"apply({','.join(_action(a) for a in i.actions)})"
    if isinstance(i, InstructionWriteActions):
        return f"write({','.join(_action(a) for a in i.actions)})"
    return type(i).__name__.removeprefix("Instruction").lower()


def format_flow_table(flows: tuple[FlowStats, ...]) -> list[str]:
    """Flow stats as aligned text rows (table, priority, cookie, match, instructions)."""
    rows = [("table", "prio", "cookie", "match", "instructions", "packets")]
    for f in sorted(flows, key=lambda f: (f.table_id, -f.priority)):
        rows.append(
            (
                str(f.table_id),
                str(f.priority),
                f"{f.cookie:#x}",
                ",".join(str(o) for o in f.match.fields) or "*",
                " ".join(_instruction(i) for i in f.instructions) or "drop",
                str(f.packet_count),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


# -- the controller session ---------------------------------------------------------


class _Session:
    """One switch connection: a Connection plus the stream it reads and writes."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.conn = Connection(Role.CONTROLLER)
        self.reader = reader
        self.writer = writer
        self.version: int | None = None

    async def _flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def send(self, msg: Message) -> int:
        msg = self.conn.assign_xid(msg)
        self.writer.write(self.conn.send(msg))
        await self.writer.drain()
        return msg.xid

    async def next_message(self) -> Message | None:
        """The next message (``None`` once negotiation completes, to signal it)."""
        while True:
            event = self.conn.next_event()
            if event is None:
                await self._flush()
                self.conn.receive_data(await self.reader.read(_READ_SIZE))
                continue
            await self._flush()
            if isinstance(event, Negotiated):
                self.version = event.version
                return None
            if isinstance(event, MessageReceived):
                return event.msg
            if isinstance(event, ProtocolError):
                raise DemoError(f"the switch sent an invalid message: {event.error}")
            assert isinstance(event, ConnectionClosed)
            raise DemoError(f"OpenFlow connection closed: {event.reason}")

    async def handshake(self) -> None:
        await self._flush()  # our HELLO
        while self.version is None:
            msg = await self.next_message()
            if isinstance(msg, Error):
                raise DemoError(f"switch sent {msg.name()} during the handshake")

    async def replies(self, xid: int) -> list[Message]:
        """Every message answering ``xid`` (multipart parts until the last); errors raise."""
        out: list[Message] = []
        while True:
            msg = await self.next_message()
            if msg is None or msg.xid != xid:
                continue  # PORT_STATUS, PACKET_IN, echo requests...: not ours
            if isinstance(msg, Error):
                raise DemoError(f"switch rejected request xid={xid}: {msg.name()}")
            out.append(msg)
            if not isinstance(msg, FlowStatsReply) or not msg.flags & c.OFPMPF_REPLY_MORE:
                return out

    async def barrier(self, pending: dict[int, FlowMod]) -> None:
        """BARRIER; an ERROR answering any of ``pending`` before the reply raises."""
        xid = await self.send(BarrierRequest())
        while True:
            msg = await self.next_message()
            if isinstance(msg, Error) and msg.xid in pending:
                raise DemoError(
                    f"switch rejected the FLOW_MOD with cookie {pending[msg.xid].cookie:#x}: "
                    f"{msg.name()}"
                )
            if isinstance(msg, BarrierReply) and msg.xid == xid:
                return


async def _script(
    session: _Session, say: Callable[[str], None]
) -> tuple[int, tuple[FlowStats, ...]]:
    await session.handshake()
    say(f"negotiated OpenFlow version 0x{session.version:02x}")
    (features,) = await session.replies(await session.send(FeaturesRequest()))
    assert isinstance(features, FeaturesReply)
    say(f"switch features: dpid {features.datapath_id:016x}, {features.n_tables} tables")
    flows = demo_flows()
    pending: dict[int, FlowMod] = {}
    for fm in flows:
        pending[await session.send(fm)] = fm
    say(f"sent {len(flows)} FLOW_MODs; waiting for the BARRIER reply")
    await session.barrier(pending)
    parts = await session.replies(await session.send(FlowStatsRequest()))
    stats = tuple(e for p in parts if isinstance(p, FlowStatsReply) for e in p.body)
    say(f"FLOW_STATS reply: {len(stats)} flows in {len(parts)} part(s)")
    return features.datapath_id, stats


async def run_demo(
    *,
    timeout: float = 30.0,  # noqa: ASYNC109 - one budget for OVS start + session
    say: Callable[[str], None] = print,
    ovs_search_path: str | None = None,
) -> DemoResult:
    """Run the scripted session against a private OVS; see the module docstring.

    ``ovs_search_path`` overrides where the OVS programs are looked up.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
        loop.create_future()
    )

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if accepted.done():  # a reconnect after we got our session: not needed
            writer.close()
            return
        accepted.set_result((reader, writer))

    server = await asyncio.start_server(on_connect, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    say(f"controller listening on tcp:127.0.0.1:{port}")
    ovs = PrivateOvs(
        ready_timeout=timeout,
        command_timeout=max(5.0, timeout / 2),
        search_path=ovs_search_path,
    )
    writer: asyncio.StreamWriter | None = None
    try:
        say("starting a private Open vSwitch (ovsdb-server + ovs-vswitchd)")
        await asyncio.to_thread(ovs.start)
        bridge = unique_name("ovdemo")
        await asyncio.to_thread(
            ovs.add_bridge,
            bridge,
            controller=f"tcp:127.0.0.1:{port}",
            datapath_id=DEMO_DPID,
        )
        say(f"bridge {bridge} (netdev, OpenFlow13, fail_mode=secure) -> tcp:127.0.0.1:{port}")
        try:
            async with asyncio.timeout_at(deadline):
                reader, writer = await accepted
                say("switch connected")
                dpid, stats = await _script(_Session(reader, writer), say)
        except TimeoutError:
            if writer is None:
                raise DemoError(
                    f"the switch did not connect to tcp:127.0.0.1:{port} within {timeout:g}s"
                ) from None
            raise DemoError(f"the switch stopped answering (timeout {timeout:g}s)") from None
        except (ConnectionError, OSError) as e:
            raise DemoError(f"OpenFlow connection failed: {e}") from None
        ofctl = await asyncio.to_thread(ovs.dump_flows, bridge)
        return DemoResult(
            datapath_id=dpid,
            bridge=bridge,
            installed=demo_flows(),
            read_back=stats,
            ofctl_flows=tuple(ofctl),
        )
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        server.close()
        await server.wait_closed()
        await asyncio.to_thread(ovs.stop)
        say("Open vSwitch stopped")
