"""magma, StratoV's OpenFlow 1.3 controller: sessions, desired state, reconciliation, topology.

Role (paper section IV, Commit stage for the network): keep the flow tables
of every switch equal to what crater computed, never leaving a switch
half-programmed, and report what happens in the network.

Design:

* :class:`Magma` listens for switches (TCP, optionally TLS) and runs one
  :class:`~.session.SwitchSession` per connection; a second connection with
  the same datapath id replaces the first.
* Desired state is kept per **owner** (:class:`~openvolcano.api.magma.OwnerState`)
  plus the system owner ``magma-system`` (LLDP to the controller and, when
  host learning is on, the table-miss entry of table 0 to the controller).
  :meth:`Magma.put_owner` rejects a state that conflicts with another owner's
  before storing anything. With a :class:`~.store.DesiredStore` the desired
  state is durable: written before it is applied, loaded at start, so a
  restarted magma resynchronises reconnecting switches on its own.
* **Reconciliation** (:meth:`Magma.sync`, one run at a time): take each
  target switch's installed tables - the last dump or confirmation if the
  session has stayed up with no error, no flow-removed and no change since
  (``_trusted``), else a dump (flow stats, group desc, meter config); each
  owner's rules are compiled once per PUT (``_compiled``) - compute each plan
  with the pure :func:`~.reconcile.reconcile`, and run phase *k* on every
  switch - messages, then its barrier - before phase *k+1* anywhere
  (make-before-break across the network). Then dump again to confirm; a
  switch still drifting (an error, a rule added meanwhile) is retried up to
  ``confirm_retries`` times. Every (re)connect marks the switch dirty, so a
  restart of either side is followed by dump, diff, fix. A phase's
  messages go to the session as a few large buffers (``send_many``).
* Packet-ins go to ``packet_in_handlers`` inline, in the session's read loop
  (no task hop: apps answer with :meth:`Magma.packet_out`), then to the bus.
* Roles (hot standby, :mod:`.standby`): ``role`` is equal, master or slave;
  a slave programs nothing and refuses desired-state changes (503);
  :meth:`Magma.set_role` promotes (reload the store, ROLE_REQUEST, resync).
* Errors from switches are recorded with the message that caused them (from
  the session's ring of recent messages) in a bounded deque and published.

Shared state (writer -> readers): ``sessions``, ``installed``, ``errors``,
``topology`` (controller tasks -> REST); ``desired`` (put/delete_owner ->
sync, REST).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from openvolcano.api import magma as api
from openvolcano.common.errors import Conflict, Unavailable
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.base import Message
from openvolcano.ofp.messages import Error, FlowRemoved, PacketIn, PacketOut, PortStatus
from openvolcano.ofp.multipart import (
    FlowStatsReply,
    FlowStatsRequest,
    GroupDescReply,
    GroupDescRequest,
    MeterConfigReply,
    MeterConfigRequest,
)
from openvolcano.ofp.structs import Port

from . import convert
from .events import EventBus
from .reconcile import (
    PHASES,
    DesiredConflict,
    SwitchTables,
    compile_owner,
    diff,
    merge_tables,
    plan_from_diff,
)
from .session import SessionClosed, SwitchRequestError, SwitchSession
from .store import DesiredStore
from .topology import LLDP_ETHERTYPE, Topology, lldp_frame, parse_lldp

if TYPE_CHECKING:
    from .standby import LeaseState

__all__ = ["SYSTEM_OWNER", "Magma", "MagmaConfig", "SyncReport", "system_rules"]

log = logging.getLogger(__name__)
SYSTEM_OWNER = "magma-system"


@dataclass(frozen=True, kw_only=True)
class MagmaConfig:
    host: str = "0.0.0.0"
    port: int = 6653
    ssl: ssl.SSLContext | None = None
    role: str = "equal"  # equal | master | slave (programs nothing) | auto (lease election)
    generation_id: int = 0
    lease_interval: float = 1.0  # auto: the master renews its lease this often
    lease_ttl: float = 3.0  # auto: a lease not renewed for this long may be taken over
    echo_interval: float = 5.0
    dead_after: float = 15.0
    queue_size: int = 4096
    lldp_interval: float = 2.0  # 0 disables link discovery
    learn_hosts: bool = True
    confirm_retries: int = 3
    request_timeout: float = 10.0
    error_ring: int = 256


@dataclass
class SyncReport:
    """Timings of the last :meth:`Magma.sync` (``time.perf_counter()``; 0.0: did not happen).

    ``programmed``: the barriers of the first round of changes came back
    (the switch has processed every flow-mod); ``confirmed``: the following
    flow-stats dump showed the switches in sync.
    """

    started: float = 0.0
    programmed: float = 0.0
    confirmed: float = 0.0
    attempts: int = 0
    dumps: int = 0
    flow_mods: int = 0


def system_rules(learn_hosts: bool) -> api.SwitchRules:
    """magma's own entries: LLDP to the controller; table-miss to the controller if learning."""
    to_ctl = {"type": "apply_actions", "actions": [{"type": "output", "port": "controller"}]}
    flows: list[dict[str, object]] = [
        {"priority": 0xFFFF, "match": {"eth_type": LLDP_ETHERTYPE}, "instructions": [to_ctl]}
    ]
    if learn_hosts:
        flows.append({"priority": 0, "match": {}, "instructions": [to_ctl]})
    return api.SwitchRules.model_validate({"flows": flows})


class Magma:
    def __init__(
        self, config: MagmaConfig | None = None, *, store: DesiredStore | None = None
    ) -> None:
        self.config = config or MagmaConfig()
        self.sessions: dict[int, SwitchSession] = {}
        self.store = store
        self.desired: dict[str, api.OwnerState] = store.load() if store is not None else {}
        self.installed: dict[int, SwitchTables] = {}
        self.errors: deque[api.ErrorRecord] = deque(maxlen=self.config.error_ring)
        self.topology = Topology(link_ttl=max(3.5 * self.config.lldp_interval, 1.0))
        self.bus = EventBus()
        self.port: int | None = None
        self.sync_runs = 0
        self._system = system_rules(self.config.learn_hosts)
        self._lock = asyncio.Lock()
        self._dirty: set[int] = set()
        self._kick = asyncio.Event()
        self._owner_names = {convert.owner_cookie(o): o for o in [SYSTEM_OWNER, *self.desired]}
        self._compiled: dict[tuple[str, str], tuple[api.SwitchRules, SwitchTables]] = {}
        # installed[dpid] is exact for the switch behind this session (dumped or confirmed,
        # no error or flow-removed since): the next change diffs against it without a dump
        self._trusted: dict[int, SwitchSession] = {}
        self.packet_in_handlers: list[Callable[[int, PacketIn, int], None]] = []
        self.last_sync = SyncReport()
        # current OpenFlow role: "auto" starts as a slave until it holds the lease
        self.role = "slave" if self.config.role == "auto" else self.config.role
        self.generation_id = self.config.generation_id
        self.lease: LeaseState | None = None  # --role auto: the lease as last read

    # -- desired state -----------------------------------------------------------------

    def _owner_tables(self, owner: str, key: str, rules: api.SwitchRules) -> SwitchTables:
        """``owner``'s compiled rules for switch ``key``, compiled once per rules object."""
        hit = self._compiled.get((owner, key))
        if hit is not None and hit[0] is rules:
            return hit[1]
        tables = compile_owner(owner, rules)
        self._compiled[(owner, key)] = (rules, tables)
        return tables

    def desired_rules(
        self, dpid: int, desired: dict[str, api.OwnerState] | None = None
    ) -> SwitchTables:
        key = api.format_dpid(dpid)
        parts = {
            o: self._owner_tables(o, key, s.switches[key])
            for o, s in (self.desired if desired is None else desired).items()
            if key in s.switches
        }
        parts[SYSTEM_OWNER] = self._owner_tables(SYSTEM_OWNER, key, self._system)
        return merge_tables(parts)

    def _forget_compiled(self, owner: str) -> None:
        for k in [k for k in self._compiled if k[0] == owner]:
            del self._compiled[k]

    def _require_master(self) -> None:
        if self.role == "slave":
            raise Unavailable(
                "this magma is a hot-standby slave: change the desired state on the master"
            )

    def reload_desired(self) -> None:
        """Take the desired state from the store (a standby following the master's writes)."""
        if self.store is None:
            return
        self.desired = self.store.load()
        self._compiled.clear()
        for o in self.desired:
            self._owner_names[convert.owner_cookie(o)] = o

    async def put_owner(self, owner: str, state: api.OwnerState) -> None:
        """Store ``owner``'s desired state (conflicts raise, nothing stored) and apply it."""
        if owner == SYSTEM_OWNER:
            raise Conflict(f"owner name {SYSTEM_OWNER!r} is reserved for magma itself")
        self._require_master()
        new = {**self.desired, owner: state}
        touched = {api.parse_dpid(k) for k in state.switches}
        old = self.desired.get(owner)
        if old is not None:
            touched |= {api.parse_dpid(k) for k in old.switches}
        self._forget_compiled(owner)
        try:
            for dpid in touched:
                self.desired_rules(dpid, new)  # DesiredConflict -> 409, nothing changed
        except DesiredConflict:
            self._forget_compiled(owner)
            raise
        if self.store is not None:
            self.store.save(owner, state)  # durable before it is applied
        self.desired = new
        self._owner_names[convert.owner_cookie(owner)] = owner
        await self.sync(touched)

    async def delete_owner(self, owner: str) -> bool:
        old = self.desired.get(owner)
        if old is None:
            return False
        self._require_master()
        if self.store is not None:
            self.store.delete(owner)
        self.desired = {o: st for o, st in self.desired.items() if o != owner}
        self._forget_compiled(owner)
        await self.sync(api.parse_dpid(k) for k in old.switches)
        return True

    def owner_of(self, cookie: int) -> str | None:
        return self._owner_names.get(cookie & convert.OWNER_COOKIE_MASK)

    # -- reconciliation --------------------------------------------------------------------

    async def dump(self, session: SwitchSession) -> SwitchTables:
        t = self.config.request_timeout
        flows = [
            e for p in await session.request(FlowStatsRequest(), t)
            if isinstance(p, FlowStatsReply) for e in p.body
        ]  # fmt: skip
        groups, meters = [], []
        with contextlib.suppress(SwitchRequestError):  # a switch without groups
            groups = [
                e for p in await session.request(GroupDescRequest(), t)
                if isinstance(p, GroupDescReply) for e in p.body
            ]  # fmt: skip
        with contextlib.suppress(SwitchRequestError):  # a switch without meters
            meters = [
                e for p in await session.request(MeterConfigRequest(), t)
                if isinstance(p, MeterConfigReply) for e in p.body
            ]  # fmt: skip
        tables = SwitchTables.from_stats(flows, groups, meters, self._owner_names)
        if session.dpid is not None and self.sessions.get(session.dpid) is session:
            self.installed[session.dpid] = tables
            self._trusted[session.dpid] = session
        self.last_sync.dumps += 1
        return tables

    def distrust(self, dpid: int) -> None:
        """The switch may differ from ``installed`` now: dump before the next diff."""
        self._trusted.pop(dpid, None)

    async def _installed_view(self, dpid: int, s: SwitchSession, confirm: bool) -> SwitchTables:
        if not confirm and self._trusted.get(dpid) is s and dpid in self.installed:
            return self.installed[dpid]
        return await self.dump(s)

    async def sync(self, dpids: Iterable[int] | None = None) -> dict[int, bool]:
        """Reconcile the given (default: all) connected switches; ``{dpid: in sync}``.

        The first diff uses the installed tables magma already knows exactly
        (see ``_trusted``) and dumps the others; after any change every
        changed switch is dumped again to confirm (and retried while drifting).
        """
        async with self._lock:
            self.sync_runs += 1
            report = self.last_sync = SyncReport(started=time.perf_counter())
            want = set(self.sessions) if dpids is None else set(dpids) & set(self.sessions)
            result: dict[int, bool] = {}
            for attempt in range(self.config.confirm_retries + 1):
                todo = {d: self.sessions[d] for d in want if d in self.sessions}
                if not todo or self.role == "slave":
                    break
                report.attempts += 1
                plans = {}
                for dpid, s in todo.items():
                    try:
                        installed = await self._installed_view(dpid, s, confirm=attempt > 0)
                    except SessionClosed:
                        continue
                    dd = diff(self.desired_rules(dpid), installed)
                    result[dpid] = dd.empty
                    if not dd.empty:
                        plans[dpid] = plan_from_diff(dd)
                if attempt > 0 and report.confirmed == 0.0:
                    report.confirmed = time.perf_counter()
                if not plans:
                    break
                for dpid in plans:
                    self.distrust(dpid)  # changing now: the confirming dump re-learns it
                for k, name in enumerate(PHASES):
                    await asyncio.gather(
                        *(self._run_phase(todo[d], p.phases[k], name) for d, p in plans.items())
                    )
                report.flow_mods += sum(len(p.messages) for p in plans.values())
                if report.programmed == 0.0:
                    report.programmed = time.perf_counter()
                want = set(plans)
            for dpid in want:
                if not result.get(dpid, True):
                    log.warning("switch %016x still drifts after %d attempts", dpid,
                                self.config.confirm_retries)  # fmt: skip
            return result

    async def _run_phase(self, s: SwitchSession, phase: tuple[Message, ...], name: str) -> None:
        if not phase:
            return
        try:
            await s.send_many(phase[:-1])
            await s.request(phase[-1], self.config.request_timeout)
        except (SessionClosed, SwitchRequestError) as e:
            log.warning("switch %s: phase %s not confirmed: %s", s.name, name, e)

    async def _reconcile_loop(self) -> None:
        while True:
            await self._kick.wait()
            self._kick.clear()
            dirty, self._dirty = self._dirty, set()
            try:
                await self.sync(dirty)
            except Exception:  # keep serving: the next (re)connect or put retries
                log.exception("reconciliation of %s failed", sorted(dirty))

    def mark_dirty(self, dpid: int) -> None:
        self._dirty.add(dpid)
        self._kick.set()

    # -- roles (hot standby) -----------------------------------------------------------------

    async def set_role(self, role: str, generation_id: int) -> None:
        """Become ``master`` or ``slave`` with ``generation_id`` on every connected switch.

        A new master reloads the desired state from the store (the old master
        may have changed it), forgets what it believed installed and resyncs
        every switch: dump, diff, fix.
        """
        promoted = role == "master" and self.role != "master"
        self.role, self.generation_id = role, generation_id
        log.info("role %s, generation id %d", role, generation_id)
        if promoted:
            self.reload_desired()
        for s in list(self.sessions.values()):
            try:
                await s.set_role(role, generation_id, self.config.request_timeout)
            except (SessionClosed, SwitchRequestError) as e:
                log.warning("switch %s: role %s refused: %s", s.name, role, e)
        if promoted:
            self._trusted.clear()
            for dpid in self.sessions:
                self.mark_dirty(dpid)

    # -- switch sessions -------------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        cfg = self.config
        s = SwitchSession(
            reader, writer, on_message=self._on_message, queue_size=cfg.queue_size,
            echo_interval=cfg.echo_interval, dead_after=cfg.dead_after, role=self.role,
            generation_id=self.generation_id,
        )  # fmt: skip
        runner = asyncio.create_task(s.run())
        try:
            try:
                await s.handshake(cfg.request_timeout)
            except (SessionClosed, SwitchRequestError, TimeoutError, ConnectionError) as e:
                log.warning("switch at %s: handshake failed: %s", s.address, e)
                s.close(f"handshake failed: {e}")
                await runner
                return
            assert s.dpid is not None
            dpid = s.dpid
            if s.role != self.role:  # the role changed during the handshake
                try:
                    await s.set_role(self.role, self.generation_id, cfg.request_timeout)
                except (SessionClosed, SwitchRequestError) as e:
                    log.warning("switch %s: role %s refused: %s", s.name, self.role, e)
            old = self.sessions.get(dpid)
            if old is not None:
                old.close("replaced by a new connection")
            self.distrust(dpid)
            self.sessions[dpid] = s
            self.topology.switch_up(dpid)
            self.bus.publish(api.SwitchUp(at=time.time(), dpid=s.name, address=s.address))
            self.mark_dirty(dpid)
            self._probe(s)
            await runner
            if self.sessions.get(dpid) is s:
                del self.sessions[dpid]
                self.distrust(dpid)
                now = time.time()
                for ev in self.topology.switch_down(dpid, now):
                    self.bus.publish(ev)
                self.bus.publish(api.SwitchDown(at=now, dpid=s.name, reason=s.close_reason))
        finally:
            # Whatever ends this handler (including cancellation at shutdown), the
            # session and its socket end with it: never an orphaned runner task.
            s.close("connection handler ended")
            if not runner.done():
                await runner

    @staticmethod
    def port_info(p: Port) -> api.PortInfo:
        return api.PortInfo(
            port_no=p.port_no,
            name=p.name,
            hw_addr=":".join(f"{b:02x}" for b in p.hw_addr.to_bytes(6, "big")),
            up=not (p.state & c.OFPPS_LINK_DOWN or p.config & c.OFPPC_PORT_DOWN),
        )

    def _on_message(self, s: SwitchSession, msg: Message, caused_by: Message | None) -> None:
        now = time.time()
        dpid = s.dpid
        if dpid is None:
            return
        if isinstance(msg, PacketIn):
            tlv = msg.match.get("in_port")
            in_port = tlv.value if tlv is not None else 0
            if msg.data[12:14] == b"\x88\xcc" and parse_lldp(msg.data) is not None:
                for ev in self.topology.lldp_received(dpid, in_port, msg.data, now):
                    self.bus.publish(ev)
                return
            if self.config.learn_hosts:
                for hev in self.topology.packet_seen(dpid, in_port, msg.data, now):
                    self.bus.publish(hev)
            for handler in self.packet_in_handlers:  # inline, in the session's read loop
                handler(dpid, msg, in_port)
            if not self.bus.has_subscribers:
                return
            self.bus.publish(
                api.PacketInReceived(
                    at=now, dpid=s.name, in_port=in_port, reason=msg.reason,
                    table_id=msg.table_id, cookie=msg.cookie, data=msg.data,
                )
            )  # fmt: skip
        elif isinstance(msg, PortStatus):
            info = self.port_info(msg.desc)
            reason: Literal["add", "delete", "modify"] = "modify"
            if msg.reason == c.OFPPR_ADD:
                reason = "add"
            elif msg.reason == c.OFPPR_DELETE:
                reason = "delete"
            self.bus.publish(api.PortStatusChanged(at=now, dpid=s.name, port=info, reason=reason))
            if reason == "delete" or not info.up:
                for down in self.topology.port_down(dpid, info.port_no, now):
                    self.bus.publish(down)
            elif reason == "add":
                self._probe(s)
        elif isinstance(msg, FlowRemoved):
            self.bus.publish(
                api.FlowRemovedEvent(
                    at=now, dpid=s.name, owner=self.owner_of(msg.cookie), cookie=msg.cookie,
                    table_id=msg.table_id, priority=msg.priority, reason=msg.reason,
                    match=convert.match_to_json(msg.match),
                )
            )  # fmt: skip
            self.distrust(dpid)
            self.mark_dirty(dpid)  # a desired entry vanished: put it back
        elif isinstance(msg, Error):
            record = api.ErrorRecord(
                dpid=s.name, at=now, type=msg.type, code=msg.code, name=msg.name(),
                xid=msg.xid, caused_by=None if caused_by is None else repr(caused_by),
            )  # fmt: skip
            self.errors.append(record)
            self.distrust(dpid)  # a refused change: what is installed is not what we sent
            self.bus.publish(api.SwitchError(at=now, error=record))

    def packet_out(
        self, dpid: int, data: bytes, port: int, in_port: int = c.OFPP_CONTROLLER
    ) -> bool:
        """Send ``data`` out of ``port`` (or OFPP_FLOOD...) of switch ``dpid``, for apps
        reacting to :class:`~openvolcano.api.magma.PacketInReceived`. Dropped and counted
        (False) when the switch is busy or gone: a late packet-out is worthless."""
        s = self.sessions.get(dpid)
        if s is None:
            return False
        return s.try_send(PacketOut(in_port=in_port, actions=(ActionOutput(port=port),), data=data))

    # -- LLDP ------------------------------------------------------------------------------

    def _probe(self, s: SwitchSession) -> None:
        """One LLDP PACKET_OUT per port (dropped, not queued, when the switch is busy)."""
        if self.config.lldp_interval <= 0 or s.dpid is None:
            return
        for p in list(s.ports.values()):
            if p.port_no > c.OFPP_MAX:
                continue
            frame = lldp_frame(s.dpid, p.port_no, p.hw_addr or 0x020000000001)
            s.try_send(
                PacketOut(
                    in_port=c.OFPP_CONTROLLER, actions=(ActionOutput(port=p.port_no),), data=frame
                )
            )

    async def _lldp_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.lldp_interval)
            for s in list(self.sessions.values()):
                self._probe(s)
            for ev in self.topology.expire(time.time()):
                self.bus.publish(ev)

    # -- serving ---------------------------------------------------------------------------

    async def serve(self, started: Callable[[int], None] | None = None) -> None:
        """Listen and serve until cancelled; ``started(port)`` once listening."""
        server = await asyncio.start_server(
            self._on_connect, self.config.host, self.config.port, ssl=self.config.ssl
        )
        self.port = server.sockets[0].getsockname()[1]
        try:
            async with asyncio.TaskGroup() as tg:
                tg.create_task(self._reconcile_loop())
                if self.config.lldp_interval > 0:
                    tg.create_task(self._lldp_loop())
                if started is not None:
                    started(self.port)
                await asyncio.Event().wait()
        finally:
            server.close()
            for s in list(self.sessions.values()):
                s.close("controller stopping")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await server.wait_closed()
