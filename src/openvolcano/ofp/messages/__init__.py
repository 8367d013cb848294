"""Every non-multipart OpenFlow 1.3 message (the paper's ofp_lib message set).

Importing this package registers each class with
:func:`openvolcano.ofp.base.register`, so :func:`~openvolcano.ofp.base.decode_message`
can decode its type. The classes are split by theme: ``symmetric`` (HELLO,
ERROR, ECHO, EXPERIMENTER), ``switch`` (features, config, table/port mod,
barrier, queue config, role, async config), ``flow`` (PACKET_IN/OUT,
FLOW_MOD, FLOW_REMOVED, PORT_STATUS) and ``groupmeter`` (GROUP_MOD,
METER_MOD). Every class is a frozen keyword-only dataclass named after its
``OFPT_*`` type with fields named as the ``openflow.h`` struct members.
"""

from __future__ import annotations

from openvolcano.ofp.messages.flow import FlowMod, FlowRemoved, PacketIn, PacketOut, PortStatus
from openvolcano.ofp.messages.groupmeter import GroupMod, MeterMod
from openvolcano.ofp.messages.switch import (
    BarrierReply,
    BarrierRequest,
    FeaturesReply,
    FeaturesRequest,
    GetAsyncReply,
    GetAsyncRequest,
    GetConfigReply,
    GetConfigRequest,
    PortMod,
    QueueGetConfigReply,
    QueueGetConfigRequest,
    RoleReply,
    RoleRequest,
    SetAsync,
    SetConfig,
    TableMod,
)
from openvolcano.ofp.messages.symmetric import EchoReply, EchoRequest, Error, Experimenter, Hello

__all__ = [
    "BarrierReply",
    "BarrierRequest",
    "EchoReply",
    "EchoRequest",
    "Error",
    "Experimenter",
    "FeaturesReply",
    "FeaturesRequest",
    "FlowMod",
    "FlowRemoved",
    "GetAsyncReply",
    "GetAsyncRequest",
    "GetConfigReply",
    "GetConfigRequest",
    "GroupMod",
    "Hello",
    "MeterMod",
    "PacketIn",
    "PacketOut",
    "PortMod",
    "PortStatus",
    "QueueGetConfigReply",
    "QueueGetConfigRequest",
    "RoleReply",
    "RoleRequest",
    "SetAsync",
    "SetConfig",
    "TableMod",
]
