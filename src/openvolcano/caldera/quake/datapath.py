"""quake's datapath runtime: ports + pipeline + packet buffers, driven one batch at a time.

Role (paper §VI): the part of the Caldera switch between the wires and the
OpenFlow agent. It owns the switch ports (:class:`~.ports.base.PortBackend`)
and the pure :class:`~.pipeline.Pipeline`, reads a batch of frames from a
port, runs each through the tables with the batch's ``now``, sends the
outputs, and turns the pipeline's packet-in decisions into ``PacketIn``
messages (buffering the frame when asked). It also carries out the
controller's port-level requests (PACKET_OUT, PORT_MOD, buffered FLOW_MOD)
and reports port changes as ``PortStatus``.

Design:

* No asyncio, no clock: every method takes ``now``; the asyncio shell
  (:mod:`.agent_net`) polls the port descriptors and calls in. The same
  object can later live in a worker process fed from PACKET_MMAP rings.
* Asynchronous messages (PACKET_IN, FLOW_REMOVED, PORT_STATUS) are
  *returned*; the agent decides which controller gets which.
* :class:`BufferPool` holds frames sent to the controller in buffered mode:
  bounded (``n_buffers``), and when full the oldest buffer is evicted (its
  id then answers OFPBRC_BUFFER_UNKNOWN). ``n_buffers=0`` disables
  buffering: every packet-in carries the whole frame.
* This object is the pipeline's :class:`~.pipeline.PortView`: port config
  (OFPPC_*) lives here, port state (OFPPS_*) is derived from the backend's
  carrier.
* OFPP_LOCAL, the switch's own interface, is optional: a backend (a TAP,
  ``--local-port``) added with :meth:`SwitchDatapath.add_port` under the
  number OFPP_LOCAL is a port like the others for PORT_DESC, PORT_MOD,
  port stats and packet-ins, but never part of FLOOD/ALL (the spec's
  "standard ports"). Without one, frames output to LOCAL are dropped and
  counted in ``dropped_local``.
* In fail-standalone mode with no controller (``standalone = True``) frames
  bypass the pipeline and go through :class:`~.learning.MacLearning`.

Invariants: single writer (the runtime's event loop); port numbers are
1..OFPP_MAX (or OFPP_LOCAL) and unique; a port deleted here is closed.
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict
from dataclasses import dataclass

from openvolcano.ofp import consts as c
from openvolcano.ofp.messages import FlowMod, FlowRemoved, PacketIn, PacketOut, PortMod, PortStatus
from openvolcano.ofp.multipart import PortStats
from openvolcano.ofp.oxm import OxmTLV
from openvolcano.ofp.structs import Port

from .learning import MacLearning
from .pipeline import DEFAULT_N_TABLES, PacketInDecision, Pipeline, PipelineError, Result
from .pipeline.flowtable import duration
from .ports.base import PortBackend

__all__ = ["DEFAULT_BATCH", "DEFAULT_N_BUFFERS", "BufferPool", "SwitchDatapath", "SwitchPort"]

DEFAULT_BATCH = 64
DEFAULT_N_BUFFERS = 256
_PORT_MOD_BITS = c.OFPPC_PORT_DOWN | c.OFPPC_NO_RECV | c.OFPPC_NO_FWD | c.OFPPC_NO_PACKET_IN


class BufferPool:
    """Frames held for the controller, by buffer id. Bounded; evicts the oldest when full."""

    def __init__(self, capacity: int = DEFAULT_N_BUFFERS) -> None:
        self.capacity = capacity
        self._next = 0
        self._buffers: OrderedDict[int, tuple[int, bytes]] = OrderedDict()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._buffers)

    def store(self, in_port: int, frame: bytes) -> int:
        """A buffer id for ``frame`` (OFP_NO_BUFFER when buffering is disabled)."""
        if self.capacity <= 0:
            return c.OFP_NO_BUFFER
        bid = self._next
        self._next = (self._next + 1) % c.OFP_NO_BUFFER  # ids 0..0xFFFFFFFE, then wrap
        self._buffers[bid] = (in_port, frame)
        while len(self._buffers) > self.capacity:
            self._buffers.popitem(last=False)
            self.evicted += 1
        return bid

    def take(self, buffer_id: int) -> tuple[int, bytes]:
        """(in_port, frame) of a buffer, which is released; PipelineError if unknown."""
        entry = self._buffers.pop(buffer_id, None)
        if entry is None:
            raise PipelineError(
                c.OFPET_BAD_REQUEST, c.OFPBRC_BUFFER_UNKNOWN, f"buffer {buffer_id} unknown"
            )
        return entry


@dataclass(kw_only=True)
class SwitchPort:
    """One port of the switch. Writer: the datapath runtime."""

    port_no: int
    backend: PortBackend
    created: float
    config: int = 0  # OFPPC_* set by PORT_MOD

    @property
    def state(self) -> int:
        return c.OFPPS_LIVE if self.backend.link_up else c.OFPPS_LINK_DOWN

    def desc(self) -> Port:
        f = self.backend.features()
        return Port(
            port_no=self.port_no,
            hw_addr=self.backend.hw_addr,
            name=self.backend.name[:15],
            config=self.config,
            state=self.state,
            curr=f.curr,
            advertised=f.advertised,
            supported=f.supported,
            peer=f.peer,
            curr_speed=f.curr_speed,
            max_speed=f.max_speed,
        )


class SwitchDatapath:
    """Ports, pipeline and buffers of one switch (see the module docstring)."""

    def __init__(
        self,
        n_tables: int = DEFAULT_N_TABLES,
        n_buffers: int = DEFAULT_N_BUFFERS,
        batch: int = DEFAULT_BATCH,
    ) -> None:
        self.ports: dict[int, SwitchPort] = {}
        self.pipeline = Pipeline(n_tables, ports=self)
        self.buffers = BufferPool(n_buffers)
        self.batch = batch
        self.miss_send_len = c.OFP_DEFAULT_MISS_SEND_LEN  # writer: agent (SET_CONFIG)
        self.standalone = False  # writer: agent (fail mode and controller presence)
        self.learning = MacLearning()
        self.dropped_port_down = 0
        self.dropped_local = 0  # frames output to OFPP_LOCAL with no local port
        self.standalone_frames = 0

    # --- PortView (read by the pipeline) ---------------------------------------------
    def port_numbers(self) -> list[int]:
        return sorted(p for p in self.ports if p <= c.OFPP_MAX)  # standard ports: not LOCAL

    def port_config(self, port: int) -> int | None:
        sp = self.ports.get(port)
        return None if sp is None else sp.config

    def port_state(self, port: int) -> int:
        sp = self.ports.get(port)
        return c.OFPPS_LINK_DOWN if sp is None else sp.state

    # --- ports -----------------------------------------------------------------------
    def add_port(self, backend: PortBackend, port_no: int, now: float) -> PortStatus:
        """Open ``backend`` as port ``port_no`` (or OFPP_LOCAL); returns the OFPPR_ADD status."""
        if not 0 < port_no <= c.OFPP_MAX and port_no != c.OFPP_LOCAL:
            raise ValueError(f"port number {port_no} outside 1..{c.OFPP_MAX:#x} and not LOCAL")
        if port_no in self.ports:
            raise ValueError(
                f"port number {port_no} is already used by {self.ports[port_no].backend.name}"
            )
        backend.open()
        sp = SwitchPort(port_no=port_no, backend=backend, created=now)
        self.ports[port_no] = sp
        return PortStatus(reason=c.OFPPR_ADD, desc=sp.desc())

    def remove_port(self, port_no: int) -> PortStatus:
        """Close and forget a port; returns the OFPPR_DELETE status."""
        sp = self.ports.pop(port_no)
        desc = sp.desc()
        sp.backend.close()
        self.learning.forget_port(port_no)
        return PortStatus(reason=c.OFPPR_DELETE, desc=desc)

    def close(self) -> None:
        for sp in self.ports.values():
            sp.backend.close()
        self.ports.clear()

    def link_changed(self, port_no: int) -> PortStatus | None:
        """After the port's link descriptor fired: an OFPPR_MODIFY status if the link changed."""
        sp = self.ports.get(port_no)
        if sp is None or not sp.backend.poll_link():
            return None
        if not sp.backend.link_up:
            self.learning.forget_port(port_no)
        return PortStatus(reason=c.OFPPR_MODIFY, desc=sp.desc())

    def port_mod(self, msg: PortMod) -> PortStatus | None:
        """Apply OFPT_PORT_MOD; an OFPPR_MODIFY status if the config changed."""
        sp = self.ports.get(msg.port_no)
        if sp is None:
            raise PipelineError(
                c.OFPET_PORT_MOD_FAILED, c.OFPPMFC_BAD_PORT, f"port {msg.port_no} does not exist"
            )
        if msg.hw_addr != sp.backend.hw_addr:
            raise PipelineError(
                c.OFPET_PORT_MOD_FAILED,
                c.OFPPMFC_BAD_HW_ADDR,
                f"hw_addr {msg.hw_addr:012x} is not port {msg.port_no}'s",
            )
        if msg.mask & ~_PORT_MOD_BITS:
            raise PipelineError(
                c.OFPET_PORT_MOD_FAILED, c.OFPPMFC_BAD_CONFIG, f"config mask {msg.mask:#x}"
            )
        if msg.advertise and msg.advertise & ~sp.backend.features().supported:
            raise PipelineError(
                c.OFPET_PORT_MOD_FAILED,
                c.OFPPMFC_BAD_ADVERTISE,
                f"advertise {msg.advertise:#x} not supported",
            )
        new = (sp.config & ~msg.mask) | (msg.config & msg.mask)
        if new == sp.config:
            return None
        sp.config = new
        return PortStatus(reason=c.OFPPR_MODIFY, desc=sp.desc())

    def port_descs(self) -> list[Port]:
        return [self.ports[p].desc() for p in sorted(self.ports)]

    def port_stats(self, now: float, port_no: int = c.OFPP_ANY) -> list[PortStats]:
        if port_no == c.OFPP_ANY:
            numbers = sorted(self.ports)
        elif port_no in self.ports:
            numbers = [port_no]
        else:
            raise PipelineError(c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_PORT, f"port {port_no}")
        out = []
        for p in numbers:
            sp = self.ports[p]
            k = sp.backend.counters
            pc = self.pipeline.port_counters.get(p, [0] * 6)
            sec, nsec = duration(now, sp.created)
            out.append(
                PortStats(
                    port_no=p,
                    rx_packets=k.rx_packets,
                    tx_packets=k.tx_packets,
                    rx_bytes=k.rx_bytes,
                    tx_bytes=k.tx_bytes,
                    rx_dropped=k.rx_dropped + pc[2],
                    tx_dropped=k.tx_dropped + pc[5],
                    rx_errors=k.rx_errors,
                    tx_errors=k.tx_errors,
                    duration_sec=sec,
                    duration_nsec=nsec,
                )
            )
        return out

    # --- packets ---------------------------------------------------------------------
    def receive(self, port_no: int, now: float) -> list[PacketIn]:
        """Read one batch from ``port_no``, forward it; the packet-ins it produced."""
        sp = self.ports.get(port_no)
        if sp is None:
            return []
        frames = sp.backend.recv_batch(self.batch)
        if not frames:
            return []
        if sp.config & c.OFPPC_PORT_DOWN:
            self.dropped_port_down += len(frames)
            return []
        if self.standalone:
            self._standalone(port_no, frames, now)
            return []
        out: dict[int, list[bytes]] = defaultdict(list)
        pins: list[PacketIn] = []
        for frame in frames:
            res = self.pipeline.process(port_no, frame, now)
            self._collect(res, out, pins)
        self._send(out)
        return pins

    def packet_out(self, msg: PacketOut, now: float) -> list[PacketIn]:
        """Execute OFPT_PACKET_OUT (resolving ``buffer_id``); packet-ins it produced."""
        data: bytes | None = None
        if msg.buffer_id != c.OFP_NO_BUFFER:
            self.pipeline.check_actions(msg.actions, None, packet_out=True)
            _in_port, data = self.buffers.take(msg.buffer_id)
        res = self.pipeline.packet_out(msg, now, data)
        return self._forward(res)

    def flow_mod(self, msg: FlowMod, now: float) -> tuple[list[FlowRemoved], list[PacketIn]]:
        """Apply OFPT_FLOW_MOD; a named buffer is then sent through the tables.

        As the spec requires, an unknown ``buffer_id`` does not undo the
        flow-mod: the PipelineError (BUFFER_UNKNOWN) is raised after it applied.
        """
        removed = self.pipeline.apply_flow_mod(msg, now)
        pins: list[PacketIn] = []
        adds = msg.command in (c.OFPFC_ADD, c.OFPFC_MODIFY, c.OFPFC_MODIFY_STRICT)
        if adds and msg.buffer_id != c.OFP_NO_BUFFER:
            in_port, frame = self.buffers.take(msg.buffer_id)
            pins = self._forward(self.pipeline.process(in_port, frame, now))
        return removed, pins

    def expire(self, now: float) -> list[FlowRemoved]:
        return self.pipeline.expire(now)

    # --- internals -------------------------------------------------------------------
    def _forward(self, res: Result) -> list[PacketIn]:
        out: dict[int, list[bytes]] = defaultdict(list)
        pins: list[PacketIn] = []
        self._collect(res, out, pins)
        self._send(out)
        return pins

    def _collect(self, res: Result, out: dict[int, list[bytes]], pins: list[PacketIn]) -> None:
        for o in res.outputs:
            out[o.port].append(o.data)
        for d in res.packet_ins:
            pins.append(self._packet_in(d))

    def _send(self, out: dict[int, list[bytes]]) -> None:
        for port_no, frames in out.items():
            sp = self.ports.get(port_no)
            if sp is None:  # OFPP_LOCAL without --local-port (other ports were checked)
                self.dropped_local += len(frames)
                continue
            sp.backend.send_batch(frames)

    def _packet_in(self, d: PacketInDecision) -> PacketIn:
        max_len = d.max_len
        if d.reason == c.OFPR_INVALID_TTL:
            max_len = self.miss_send_len  # no output action: the switch config decides
        if max_len == c.OFPCML_NO_BUFFER or max_len >= len(d.data):
            return d.message(c.OFP_NO_BUFFER)
        in_port = next(
            (
                f.value
                for f in d.match.fields
                if isinstance(f, OxmTLV) and f.field == c.OFPXMT_OFB_IN_PORT
            ),
            0,
        )
        bid = self.buffers.store(in_port, d.data)
        if bid == c.OFP_NO_BUFFER:  # buffering disabled: the whole frame
            return d.message(c.OFP_NO_BUFFER)
        return PacketInDecision(
            reason=d.reason, table_id=d.table_id, cookie=d.cookie, match=d.match,
            data=d.data, max_len=max_len,
        ).message(bid)  # fmt: skip

    def _standalone(self, in_port: int, frames: list[bytes], now: float) -> None:
        live = [
            p
            for p, sp in self.ports.items()
            if sp.backend.link_up and not sp.config & (c.OFPPC_PORT_DOWN | c.OFPPC_NO_FWD)
        ]
        out: dict[int, list[bytes]] = defaultdict(list)
        for frame in frames:
            self.standalone_frames += 1
            for p in self.learning.forward(in_port, frame, live, now):
                out[p].append(frame)
        self._send(out)
