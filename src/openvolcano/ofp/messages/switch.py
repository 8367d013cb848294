"""Switch configuration OpenFlow 1.3 messages: features, config, table/port mod,
barrier, queue config, role and asynchronous-message configuration.

Role: the controller-to-switch messages that read or change the switch's
configuration, and their replies (spec 1.3.5 §7.3). magma sends the requests
while bringing a datapath up; quake's agent answers them. Part of the paper's
ofp_lib, shared by both.

Design: frozen keyword-only dataclasses registered by ``msg_type``; the fixed
C struct of each body is one ``struct.Struct`` with its size asserted against
``openflow.h``. Bodies with no fields share :class:`_Empty`.

Invariants: ``decode_message(m.encode()) == m``; a short body raises
``OFPDecodeError(OFPET_BAD_REQUEST, OFPBRC_BAD_LEN)``; nothing else escapes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.base import Message, register
from openvolcano.ofp.errors import OFPEncodeError
from openvolcano.ofp.structs import PacketQueue, decode_queues
from openvolcano.ofp.wire import Reader, check_uint

__all__ = [
    "BarrierReply",
    "BarrierRequest",
    "FeaturesReply",
    "FeaturesRequest",
    "GetAsyncReply",
    "GetAsyncRequest",
    "GetConfigReply",
    "GetConfigRequest",
    "PortMod",
    "QueueGetConfigReply",
    "QueueGetConfigRequest",
    "RoleReply",
    "RoleRequest",
    "SetAsync",
    "SetConfig",
    "TableMod",
]

_H = c.OFP_HEADER_LEN


@dataclass(frozen=True, kw_only=True)
class _Empty(Message):
    """A message that is only an ``ofp_header``."""

    def encode_body(self) -> bytes:
        return b""

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        return cls(xid=xid)


@register
@dataclass(frozen=True, kw_only=True)
class FeaturesRequest(_Empty):
    """OFPT_FEATURES_REQUEST (header only)."""

    msg_type: ClassVar[int] = c.OFPT_FEATURES_REQUEST


# struct ofp_switch_features {
#     struct ofp_header header;
#     uint64_t datapath_id;   /* Datapath unique ID.  The lower 48-bits are for
#                                a MAC address, while the upper 16-bits are
#                                implementer-defined. */
#     uint32_t n_buffers;     /* Max packets buffered at once. */
#     uint8_t n_tables;       /* Number of tables supported by datapath. */
#     uint8_t auxiliary_id;   /* Identify auxiliary connections */
#     uint8_t pad[2];         /* Align to 64-bits. */
#     /* Features. */
#     uint32_t capabilities;  /* Bitmap of support "ofp_capabilities". */
#     uint32_t reserved;
# };
# OFP_ASSERT(sizeof(struct ofp_switch_features) == 32);
_FEATURES = struct.Struct("!QIBB2xII")
assert _H + _FEATURES.size == c.OFP_SWITCH_FEATURES_LEN == 32


@register
@dataclass(frozen=True, kw_only=True)
class FeaturesReply(Message):
    """OFPT_FEATURES_REPLY; ``capabilities`` is a bitmap of ``OFPC_*``."""

    msg_type: ClassVar[int] = c.OFPT_FEATURES_REPLY
    datapath_id: int
    n_buffers: int = 0
    n_tables: int = 1
    auxiliary_id: int = 0
    capabilities: int = 0
    reserved: int = 0

    def encode_body(self) -> bytes:
        check_uint("datapath_id", self.datapath_id, 64)
        check_uint("n_buffers", self.n_buffers, 32)
        check_uint("n_tables", self.n_tables, 8)
        check_uint("auxiliary_id", self.auxiliary_id, 8)
        check_uint("capabilities", self.capabilities, 32)
        check_uint("reserved", self.reserved, 32)
        return _FEATURES.pack(
            self.datapath_id,
            self.n_buffers,
            self.n_tables,
            self.auxiliary_id,
            self.capabilities,
            self.reserved,
        )

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        dpid, n_buffers, n_tables, aux, caps, reserved = r.unpack(_FEATURES)
        return cls(
            xid=xid,
            datapath_id=dpid,
            n_buffers=n_buffers,
            n_tables=n_tables,
            auxiliary_id=aux,
            capabilities=caps,
            reserved=reserved,
        )


@register
@dataclass(frozen=True, kw_only=True)
class GetConfigRequest(_Empty):
    """OFPT_GET_CONFIG_REQUEST (header only)."""

    msg_type: ClassVar[int] = c.OFPT_GET_CONFIG_REQUEST


# struct ofp_switch_config {
#     struct ofp_header header;
#     uint16_t flags;             /* Bitmap of OFPC_* flags. */
#     uint16_t miss_send_len;     /* Max bytes of packet that datapath
#                                    should send to the controller. See
#                                    ofp_controller_max_len for valid values. */
# };
# OFP_ASSERT(sizeof(struct ofp_switch_config) == 12);
_SWITCH_CONFIG = struct.Struct("!HH")
assert _H + _SWITCH_CONFIG.size == c.OFP_SWITCH_CONFIG_LEN == 12


@dataclass(frozen=True, kw_only=True)
class _SwitchConfig(Message):
    flags: int = 0
    miss_send_len: int = c.OFP_DEFAULT_MISS_SEND_LEN

    def encode_body(self) -> bytes:
        check_uint("flags", self.flags, 16)
        check_uint("miss_send_len", self.miss_send_len, 16)
        return _SWITCH_CONFIG.pack(self.flags, self.miss_send_len)

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        flags, miss_send_len = r.unpack(_SWITCH_CONFIG)
        return cls(xid=xid, flags=flags, miss_send_len=miss_send_len)


@register
@dataclass(frozen=True, kw_only=True)
class GetConfigReply(_SwitchConfig):
    """OFPT_GET_CONFIG_REPLY: ``flags`` (``OFPC_FRAG_*``) and ``miss_send_len``."""

    msg_type: ClassVar[int] = c.OFPT_GET_CONFIG_REPLY


@register
@dataclass(frozen=True, kw_only=True)
class SetConfig(_SwitchConfig):
    """OFPT_SET_CONFIG: ``flags`` (``OFPC_FRAG_*``) and ``miss_send_len``."""

    msg_type: ClassVar[int] = c.OFPT_SET_CONFIG


# struct ofp_table_mod {
#     struct ofp_header header;
#     uint8_t table_id;       /* ID of the table, OFPTT_ALL indicates all tables */
#     uint8_t pad[3];         /* Pad to 32 bits */
#     uint32_t config;        /* Bitmap of OFPTC_* flags */
# };
# OFP_ASSERT(sizeof(struct ofp_table_mod) == 16);
_TABLE_MOD = struct.Struct("!B3xI")
assert _H + _TABLE_MOD.size == c.OFP_TABLE_MOD_LEN == 16


@register
@dataclass(frozen=True, kw_only=True)
class TableMod(Message):
    """OFPT_TABLE_MOD."""

    msg_type: ClassVar[int] = c.OFPT_TABLE_MOD
    table_id: int
    config: int = 0

    def encode_body(self) -> bytes:
        check_uint("table_id", self.table_id, 8)
        check_uint("config", self.config, 32)
        return _TABLE_MOD.pack(self.table_id, self.config)

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        table_id, config = r.unpack(_TABLE_MOD)
        return cls(xid=xid, table_id=table_id, config=config)


# struct ofp_port_mod {
#     struct ofp_header header;
#     uint32_t port_no;
#     uint8_t pad[4];
#     uint8_t hw_addr[OFP_ETH_ALEN]; /* The hardware address is not
#                                       configurable.  This is used to
#                                       sanity-check the request, so it must
#                                       be the same as returned in an
#                                       ofp_port struct. */
#     uint8_t pad2[2];        /* Pad to 64 bits. */
#     uint32_t config;        /* Bitmap of OFPPC_* flags. */
#     uint32_t mask;          /* Bitmap of OFPPC_* flags to be changed. */
#     uint32_t advertise;     /* Bitmap of OFPPF_*.  Zero all bits to prevent
#                                any action taking place. */
#     uint8_t pad3[4];        /* Pad to 64 bits. */
# };
# OFP_ASSERT(sizeof(struct ofp_port_mod) == 40);
_PORT_MOD = struct.Struct("!I4x6s2xIII4x")
assert _H + _PORT_MOD.size == c.OFP_PORT_MOD_LEN == 40


@register
@dataclass(frozen=True, kw_only=True)
class PortMod(Message):
    """OFPT_PORT_MOD; ``hw_addr`` is the port's MAC as a 48-bit int."""

    msg_type: ClassVar[int] = c.OFPT_PORT_MOD
    port_no: int
    hw_addr: int = 0
    config: int = 0
    mask: int = 0
    advertise: int = 0

    def encode_body(self) -> bytes:
        check_uint("port_no", self.port_no, 32)
        check_uint("hw_addr", self.hw_addr, 48)
        check_uint("config", self.config, 32)
        check_uint("mask", self.mask, 32)
        check_uint("advertise", self.advertise, 32)
        return _PORT_MOD.pack(
            self.port_no, self.hw_addr.to_bytes(6, "big"), self.config, self.mask, self.advertise
        )

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        port_no = r.u32()
        r.skip(4)
        hw_addr = r.uint(6)
        r.skip(2)
        config, mask, advertise = r.u32(), r.u32(), r.u32()
        r.skip(4)
        return cls(
            xid=xid,
            port_no=port_no,
            hw_addr=hw_addr,
            config=config,
            mask=mask,
            advertise=advertise,
        )


@register
@dataclass(frozen=True, kw_only=True)
class BarrierRequest(_Empty):
    """OFPT_BARRIER_REQUEST (header only)."""

    msg_type: ClassVar[int] = c.OFPT_BARRIER_REQUEST


@register
@dataclass(frozen=True, kw_only=True)
class BarrierReply(_Empty):
    """OFPT_BARRIER_REPLY (header only)."""

    msg_type: ClassVar[int] = c.OFPT_BARRIER_REPLY


# struct ofp_queue_get_config_request {
#     struct ofp_header header;
#     uint32_t port;         /* Port to be queried. Should refer
#                               to a valid physical port (i.e. <= OFPP_MAX),
#                               or OFPP_ANY to request all configured
#                               queues.*/
#     uint8_t pad[4];
# };
# OFP_ASSERT(sizeof(struct ofp_queue_get_config_request) == 16);
#
# struct ofp_queue_get_config_reply {
#     struct ofp_header header;
#     uint32_t port;
#     uint8_t pad[4];
#     struct ofp_packet_queue queues[0]; /* List of configured queues. */
# };
# OFP_ASSERT(sizeof(struct ofp_queue_get_config_reply) == 16);
_QUEUE_GET_CONFIG = struct.Struct("!I4x")
assert _H + _QUEUE_GET_CONFIG.size == c.OFP_QUEUE_GET_CONFIG_REQUEST_LEN == 16
assert _H + _QUEUE_GET_CONFIG.size == c.OFP_QUEUE_GET_CONFIG_REPLY_LEN == 16


@register
@dataclass(frozen=True, kw_only=True)
class QueueGetConfigRequest(Message):
    """OFPT_QUEUE_GET_CONFIG_REQUEST for ``port`` (or OFPP_ANY)."""

    msg_type: ClassVar[int] = c.OFPT_QUEUE_GET_CONFIG_REQUEST
    port: int = c.OFPP_ANY

    def encode_body(self) -> bytes:
        check_uint("port", self.port, 32)
        return _QUEUE_GET_CONFIG.pack(self.port)

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        (port,) = r.unpack(_QUEUE_GET_CONFIG)
        return cls(xid=xid, port=port)


@register
@dataclass(frozen=True, kw_only=True)
class QueueGetConfigReply(Message):
    """OFPT_QUEUE_GET_CONFIG_REPLY: the queues configured on ``port``."""

    msg_type: ClassVar[int] = c.OFPT_QUEUE_GET_CONFIG_REPLY
    port: int
    queues: tuple[PacketQueue, ...] = ()

    def encode_body(self) -> bytes:
        check_uint("port", self.port, 32)
        return _QUEUE_GET_CONFIG.pack(self.port) + b"".join(q.encode() for q in self.queues)

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        (port,) = r.unpack(_QUEUE_GET_CONFIG)
        return cls(xid=xid, port=port, queues=decode_queues(r))


# struct ofp_role_request {
#     struct ofp_header header;   /* Type OFPT_ROLE_REQUEST/OFPT_ROLE_REPLY. */
#     uint32_t role;              /* One of OFPCR_ROLE_*. */
#     uint8_t pad[4];             /* Align to 64 bits. */
#     uint64_t generation_id;     /* Master Election Generation Id */
# };
# OFP_ASSERT(sizeof(struct ofp_role_request) == 24);
_ROLE = struct.Struct("!I4xQ")
assert _H + _ROLE.size == c.OFP_ROLE_REQUEST_LEN == 24


@dataclass(frozen=True, kw_only=True)
class _Role(Message):
    role: int
    generation_id: int = 0

    def encode_body(self) -> bytes:
        check_uint("role", self.role, 32)
        check_uint("generation_id", self.generation_id, 64)
        return _ROLE.pack(self.role, self.generation_id)

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        role, generation_id = r.unpack(_ROLE)
        return cls(xid=xid, role=role, generation_id=generation_id)


@register
@dataclass(frozen=True, kw_only=True)
class RoleRequest(_Role):
    """OFPT_ROLE_REQUEST: ``role`` is one of ``OFPCR_ROLE_*``."""

    msg_type: ClassVar[int] = c.OFPT_ROLE_REQUEST


@register
@dataclass(frozen=True, kw_only=True)
class RoleReply(_Role):
    """OFPT_ROLE_REPLY: ``role`` is one of ``OFPCR_ROLE_*``."""

    msg_type: ClassVar[int] = c.OFPT_ROLE_REPLY


@register
@dataclass(frozen=True, kw_only=True)
class GetAsyncRequest(_Empty):
    """OFPT_GET_ASYNC_REQUEST (header only)."""

    msg_type: ClassVar[int] = c.OFPT_GET_ASYNC_REQUEST


# struct ofp_async_config {
#     struct ofp_header header;     /* OFPT_GET_ASYNC_REPLY or OFPT_SET_ASYNC. */
#     uint32_t packet_in_mask[2];   /* Bitmasks of OFPR_* values. */
#     uint32_t port_status_mask[2]; /* Bitmasks of OFPPR_* values. */
#     uint32_t flow_removed_mask[2];/* Bitmasks of OFPRR_* values. */
# };
# OFP_ASSERT(sizeof(struct ofp_async_config) == 32);
_ASYNC = struct.Struct("!6I")
assert _H + _ASYNC.size == c.OFP_ASYNC_CONFIG_LEN == 32


@dataclass(frozen=True, kw_only=True)
class _AsyncConfig(Message):
    """Element 0 of each mask applies in the master/equal role, element 1 in slave."""

    packet_in_mask: tuple[int, int] = (0, 0)
    port_status_mask: tuple[int, int] = (0, 0)
    flow_removed_mask: tuple[int, int] = (0, 0)

    def encode_body(self) -> bytes:
        words: list[int] = []
        for name in ("packet_in_mask", "port_status_mask", "flow_removed_mask"):
            mask: tuple[int, ...] = getattr(self, name)
            if len(mask) != 2:
                raise OFPEncodeError(f"{name} must have 2 elements, not {len(mask)}")
            words.extend(check_uint(name, m, 32) for m in mask)
        return _ASYNC.pack(*words)

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        w = r.unpack(_ASYNC)
        return cls(
            xid=xid,
            packet_in_mask=(w[0], w[1]),
            port_status_mask=(w[2], w[3]),
            flow_removed_mask=(w[4], w[5]),
        )


@register
@dataclass(frozen=True, kw_only=True)
class GetAsyncReply(_AsyncConfig):
    """OFPT_GET_ASYNC_REPLY."""

    msg_type: ClassVar[int] = c.OFPT_GET_ASYNC_REPLY


@register
@dataclass(frozen=True, kw_only=True)
class SetAsync(_AsyncConfig):
    """OFPT_SET_ASYNC."""

    msg_type: ClassVar[int] = c.OFPT_SET_ASYNC
