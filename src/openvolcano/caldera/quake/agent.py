"""quake's OpenFlow agent: every protocol decision the switch makes towards its controllers.

Role (paper §VI): the switch side of the OpenFlow 1.3 channel to magma (or
any controller). For each request it applies the change to the datapath
and returns the replies; for each asynchronous event (packet-in,
flow-removed, port-status) it decides which controllers receive it.

Design (after Faucet's ``valve.py`` and h11): :class:`SwitchAgent` is
sans-IO - :meth:`SwitchAgent.handle` takes a decoded message and ``now`` and
returns an :data:`Outbox` of ``(channel, message)`` pairs; the asyncio shell
(:mod:`.agent_net`) only moves bytes. One :class:`Channel` per controller
connection holds its role and asynchronous configuration.

Rules implemented (OpenFlow 1.3.5):

* Roles (§6.3.7): EQUAL by default; MASTER demotes the other masters to
  SLAVE; MASTER/SLAVE requests carry a generation id compared as a signed
  64-bit distance with the last one seen (older -> OFPRRFC_STALE). A SLAVE
  may not change switch state (PACKET_OUT, FLOW_MOD, GROUP_MOD, PORT_MOD,
  TABLE_MOD, METER_MOD -> OFPBRC_IS_SLAVE).
* Async config (§7.3.10): per channel, one mask pair per message class
  (index 0 for MASTER/EQUAL, 1 for SLAVE); defaults: packet-ins
  NO_MATCH|ACTION to masters only, every port-status to all, every
  flow-removed to masters only.
* Errors: every request the switch cannot honour is answered with
  OFPT_ERROR carrying its xid and its first 64 bytes.
* BARRIER: messages are applied synchronously in arrival order, so the
  reply can go at once.
* Fail mode: with ``fail_mode="standalone"`` and no connected controller the
  datapath switches frames as a MAC-learning bridge
  (:attr:`SwitchDatapath.standalone`).

Invariants: replies to a channel keep the order of its requests; a refused
request changes nothing (except a FLOW_MOD with an unknown buffer, which
the spec applies anyway); the error log is bounded.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from openvolcano.ofp import consts as c
from openvolcano.ofp.base import Message
from openvolcano.ofp.messages import (
    BarrierReply,
    BarrierRequest,
    EchoReply,
    EchoRequest,
    Error,
    Experimenter,
    FeaturesReply,
    FeaturesRequest,
    FlowMod,
    FlowRemoved,
    GetAsyncReply,
    GetAsyncRequest,
    GetConfigReply,
    GetConfigRequest,
    GroupMod,
    Hello,
    MeterMod,
    PacketIn,
    PacketOut,
    PortMod,
    PortStatus,
    QueueGetConfigReply,
    QueueGetConfigRequest,
    RoleReply,
    RoleRequest,
    SetAsync,
    SetConfig,
    TableMod,
)
from openvolcano.ofp.multipart import MultipartRequest, split_reply

from .agent_stats import multipart_reply, switch_desc
from .datapath import SwitchDatapath
from .pipeline import PipelineError

__all__ = ["FAIL_MODES", "Channel", "Outbox", "SwitchAgent"]

FAIL_MODES = ("secure", "standalone")
_U64 = (1 << 64) - 1
_ALL_PORT_STATUS = (1 << c.OFPPR_ADD) | (1 << c.OFPPR_DELETE) | (1 << c.OFPPR_MODIFY)
_ALL_FLOW_REMOVED = (
    (1 << c.OFPRR_IDLE_TIMEOUT)
    | (1 << c.OFPRR_HARD_TIMEOUT)
    | (1 << c.OFPRR_DELETE)
    | (1 << c.OFPRR_GROUP_DELETE)
)
_MASTER_PACKET_IN = (1 << c.OFPR_NO_MATCH) | (1 << c.OFPR_ACTION)
_MODIFYING = (PacketOut, FlowMod, GroupMod, PortMod, TableMod, MeterMod)
_ROLES = (c.OFPCR_ROLE_NOCHANGE, c.OFPCR_ROLE_EQUAL, c.OFPCR_ROLE_MASTER, c.OFPCR_ROLE_SLAVE)
ROLE_NAMES = {
    c.OFPCR_ROLE_EQUAL: "equal",
    c.OFPCR_ROLE_MASTER: "master",
    c.OFPCR_ROLE_SLAVE: "slave",
}
_ERROR_LOG = 64


class Channel:
    """OpenFlow state of one controller connection. Writer: :class:`SwitchAgent`."""

    def __init__(self, cid: int, name: str) -> None:
        self.id = cid
        self.name = name
        self.role = c.OFPCR_ROLE_EQUAL
        self.packet_in_mask = (_MASTER_PACKET_IN, 0)
        self.port_status_mask = (_ALL_PORT_STATUS, _ALL_PORT_STATUS)
        self.flow_removed_mask = (_ALL_FLOW_REMOVED, 0)
        self.requests = 0
        self.errors_sent = 0
        self.async_sent = 0

    def accepts(self, msg: Message) -> bool:
        """Does the async config let ``msg`` (PACKET_IN/FLOW_REMOVED/PORT_STATUS) through?"""
        i = 1 if self.role == c.OFPCR_ROLE_SLAVE else 0
        if isinstance(msg, PacketIn):
            return bool(self.packet_in_mask[i] >> msg.reason & 1)
        if isinstance(msg, FlowRemoved):
            return bool(self.flow_removed_mask[i] >> msg.reason & 1)
        if isinstance(msg, PortStatus):
            return bool(self.port_status_mask[i] >> msg.reason & 1)
        return False

    def status(self) -> dict[str, object]:
        return {
            "name": self.name,
            "role": ROLE_NAMES.get(self.role, str(self.role)),
            "requests": self.requests,
            "errors_sent": self.errors_sent,
            "async_sent": self.async_sent,
        }


Outbox = list[tuple[Channel, Message]]


@dataclass(frozen=True, kw_only=True)
class ErrorRecord:
    """One OFPT_ERROR we sent: to whom, what, and the request that caused it."""

    channel: str
    error: str
    request: str
    reason: str


class SwitchAgent:
    """The switch's OpenFlow brain over one :class:`SwitchDatapath` (see the module docstring)."""

    def __init__(
        self,
        datapath: SwitchDatapath,
        datapath_id: int,
        *,
        fail_mode: str = "secure",
        dp_desc: str = "",
    ) -> None:
        if fail_mode not in FAIL_MODES:
            raise ValueError(f"fail mode {fail_mode!r}: expected one of {', '.join(FAIL_MODES)}")
        self.dp = datapath
        self.datapath_id = datapath_id
        self.fail_mode = fail_mode
        self.desc = switch_desc(datapath_id, dp_desc)
        self.channels: dict[int, Channel] = {}
        self.generation_id: int | None = None
        self.config_flags = c.OFPC_FRAG_NORMAL
        self.recent_errors: deque[ErrorRecord] = deque(maxlen=_ERROR_LOG)
        self._ids = itertools.count(1)
        self._update_mode()

    # --- channels ------------------------------------------------------------------
    def open_channel(self, name: str) -> Channel:
        """A controller finished the HELLO exchange."""
        ch = Channel(next(self._ids), name)
        self.channels[ch.id] = ch
        self._update_mode()
        return ch

    def close_channel(self, ch: Channel) -> None:
        self.channels.pop(ch.id, None)
        self._update_mode()

    def _update_mode(self) -> None:
        self.dp.standalone = self.fail_mode == "standalone" and not self.channels
        self.dp.pipeline.invalid_ttl_to_controller = any(
            ch.packet_in_mask[1 if ch.role == c.OFPCR_ROLE_SLAVE else 0] >> c.OFPR_INVALID_TTL & 1
            for ch in self.channels.values()
        )

    # --- asynchronous messages --------------------------------------------------------
    def publish(self, msgs: Sequence[Message]) -> Outbox:
        """Fan PACKET_IN / FLOW_REMOVED / PORT_STATUS out to the channels that want them."""
        out: Outbox = []
        for m in msgs:
            for ch in self.channels.values():
                if ch.accepts(m):
                    ch.async_sent += 1
                    out.append((ch, m))
        return out

    # --- requests ---------------------------------------------------------------------
    def handle(self, ch: Channel, msg: Message, now: float) -> Outbox:
        """Apply one message from ``ch``; the replies (to ``ch``) and async fan-out."""
        ch.requests += 1
        try:
            return self._dispatch(ch, msg, now)
        except PipelineError as e:
            return [(ch, self._error(ch, msg, e.type, e.code, e.reason))]

    def _error(self, ch: Channel, msg: Message, type_: int, code: int, reason: str) -> Error:
        ch.errors_sent += 1
        self.recent_errors.append(
            ErrorRecord(
                channel=ch.name,
                error=c.error_name(type_, code),
                request=type(msg).__name__,
                reason=reason,
            )
        )
        return Error(xid=msg.xid, type=type_, code=code, data=msg.encode()[:64])

    def _dispatch(self, ch: Channel, msg: Message, now: float) -> Outbox:
        if isinstance(msg, _MODIFYING) and ch.role == c.OFPCR_ROLE_SLAVE:
            raise PipelineError(c.OFPET_BAD_REQUEST, c.OFPBRC_IS_SLAVE, "a slave cannot modify")
        if isinstance(msg, (Hello, EchoRequest, EchoReply)):
            return []  # negotiation and echo replies are the Connection's
        if isinstance(msg, Error):
            return []  # a controller's complaint: the shell logs it
        if isinstance(msg, FlowMod):
            removed, pins = self.dp.flow_mod(msg, now)
            return self.publish([*removed, *pins])
        if isinstance(msg, PacketOut):
            return self.publish(self.dp.packet_out(msg, now))
        if isinstance(msg, BarrierRequest):
            return [(ch, BarrierReply(xid=msg.xid))]
        if isinstance(msg, MultipartRequest):
            return self._multipart(ch, msg, now)
        if isinstance(msg, GroupMod):
            return self.publish(self.dp.pipeline.apply_group_mod(msg, now))
        if isinstance(msg, MeterMod):
            return self.publish(self.dp.pipeline.apply_meter_mod(msg, now))
        if isinstance(msg, TableMod):
            self.dp.pipeline.apply_table_mod(msg)
            return []
        if isinstance(msg, PortMod):
            st = self.dp.port_mod(msg)
            return [] if st is None else self.publish([st])
        if isinstance(msg, FeaturesRequest):
            return [(ch, self.features_reply(msg.xid))]
        if isinstance(msg, GetConfigRequest):
            reply = GetConfigReply(xid=msg.xid, flags=self.config_flags,
                                   miss_send_len=self.dp.miss_send_len)  # fmt: skip
            return [(ch, reply)]
        if isinstance(msg, SetConfig):
            return self._set_config(msg)
        if isinstance(msg, RoleRequest):
            return [(ch, self._role(ch, msg))]
        if isinstance(msg, GetAsyncRequest):
            async_reply = GetAsyncReply(
                xid=msg.xid,
                packet_in_mask=ch.packet_in_mask,
                port_status_mask=ch.port_status_mask,
                flow_removed_mask=ch.flow_removed_mask,
            )
            return [(ch, async_reply)]
        if isinstance(msg, SetAsync):
            ch.packet_in_mask = msg.packet_in_mask
            ch.port_status_mask = msg.port_status_mask
            ch.flow_removed_mask = msg.flow_removed_mask
            self._update_mode()
            return []
        if isinstance(msg, QueueGetConfigRequest):
            if msg.port != c.OFPP_ANY and msg.port not in self.dp.ports:
                raise PipelineError(c.OFPET_QUEUE_OP_FAILED, c.OFPQOFC_BAD_PORT, f"port {msg.port}")
            return [(ch, QueueGetConfigReply(xid=msg.xid, port=msg.port, queues=()))]
        if isinstance(msg, Experimenter):
            raise PipelineError(
                c.OFPET_BAD_REQUEST,
                c.OFPBRC_BAD_EXPERIMENTER,
                f"experimenter {msg.experimenter:#x}",
            )
        raise PipelineError(
            c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_TYPE, f"{type(msg).__name__} unexpected"
        )

    def features_reply(self, xid: int) -> FeaturesReply:
        return FeaturesReply(
            xid=xid,
            datapath_id=self.datapath_id,
            n_buffers=max(self.dp.buffers.capacity, 0),
            n_tables=self.dp.pipeline.n_tables,
            auxiliary_id=0,
            capabilities=c.OFPC_FLOW_STATS | c.OFPC_TABLE_STATS | c.OFPC_PORT_STATS
            | c.OFPC_GROUP_STATS,
        )  # fmt: skip

    def _set_config(self, msg: SetConfig) -> Outbox:
        if msg.flags & c.OFPC_FRAG_MASK != c.OFPC_FRAG_NORMAL or msg.flags & ~c.OFPC_FRAG_MASK:
            raise PipelineError(
                c.OFPET_SWITCH_CONFIG_FAILED, c.OFPSCFC_BAD_FLAGS,
                f"flags {msg.flags:#x}: only OFPC_FRAG_NORMAL is supported",
            )  # fmt: skip
        if msg.miss_send_len > c.OFPCML_MAX and msg.miss_send_len != c.OFPCML_NO_BUFFER:
            raise PipelineError(
                c.OFPET_SWITCH_CONFIG_FAILED,
                c.OFPSCFC_BAD_LEN,
                f"miss_send_len {msg.miss_send_len}",
            )
        self.config_flags = msg.flags
        self.dp.miss_send_len = msg.miss_send_len
        return []

    def _role(self, ch: Channel, msg: RoleRequest) -> RoleReply:
        role = msg.role
        if role not in _ROLES:
            raise PipelineError(c.OFPET_ROLE_REQUEST_FAILED, c.OFPRRFC_BAD_ROLE, f"role {role}")
        if role in (c.OFPCR_ROLE_MASTER, c.OFPCR_ROLE_SLAVE):
            gen = msg.generation_id
            if self.generation_id is not None and (gen - self.generation_id) & _U64 >= 1 << 63:
                raise PipelineError(
                    c.OFPET_ROLE_REQUEST_FAILED, c.OFPRRFC_STALE,
                    f"generation {gen} is older than {self.generation_id}",
                )  # fmt: skip
            self.generation_id = gen
        if role == c.OFPCR_ROLE_MASTER:
            for other in self.channels.values():
                if other is not ch and other.role == c.OFPCR_ROLE_MASTER:
                    other.role = c.OFPCR_ROLE_SLAVE
        if role != c.OFPCR_ROLE_NOCHANGE:
            ch.role = role
            self._update_mode()
        return RoleReply(xid=msg.xid, role=ch.role, generation_id=self.generation_id or 0)

    def _multipart(self, ch: Channel, msg: MultipartRequest, now: float) -> Outbox:
        if msg.flags & c.OFPMPF_REQ_MORE:
            raise PipelineError(
                c.OFPET_BAD_REQUEST, c.OFPBRC_MULTIPART_BUFFER_OVERFLOW,
                "multipart requests in several parts are not buffered",
            )  # fmt: skip
        reply = multipart_reply(self.dp, msg, now, self.desc)
        return [(ch, part) for part in split_reply(reply)]

    def status(self) -> dict[str, object]:
        return {
            "datapath_id": f"{self.datapath_id:#018x}",
            "fail_mode": self.fail_mode,
            "standalone_active": self.dp.standalone,
            "generation_id": self.generation_id,
            "channels": [ch.status() for ch in self.channels.values()],
            "recent_errors": [vars(e) for e in self.recent_errors],
        }
