"""Features, config, table/port mod, barrier, queue config, role and async messages."""

from __future__ import annotations

import pytest

from openvolcano.ofp import consts as c
from openvolcano.ofp.base import Message, decode_message
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError
from openvolcano.ofp.messages import (
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
from openvolcano.ofp.structs import PacketQueue, QueuePropMaxRate, QueuePropMinRate

# (message, its exact wire bytes), derived by hand from openflow.h.
EXACT: list[tuple[Message, str]] = [
    (FeaturesRequest(xid=0x12345678), "04 05 0008 12345678"),
    (
        FeaturesReply(
            xid=1,
            datapath_id=0x0000_0A0B_0C0D_0E0F,
            n_buffers=256,
            n_tables=4,
            auxiliary_id=1,
            capabilities=c.OFPC_FLOW_STATS | c.OFPC_PORT_STATS,
        ),
        "04 06 0020 00000001 00000a0b0c0d0e0f 00000100 04 01 0000 00000005 00000000",
    ),
    (GetConfigRequest(xid=2), "04 07 0008 00000002"),
    (
        GetConfigReply(xid=2, flags=c.OFPC_FRAG_DROP, miss_send_len=0xFFFF),
        "04 08 000c 00000002 0001 ffff",
    ),
    (SetConfig(xid=3), "04 09 000c 00000003 0000 0080"),
    (TableMod(xid=4, table_id=c.OFPTT_ALL, config=3), "04 11 0010 00000004 ff 000000 00000003"),
    (
        PortMod(
            xid=5,
            port_no=7,
            hw_addr=0x020000000001,
            config=c.OFPPC_PORT_DOWN,
            mask=c.OFPPC_PORT_DOWN,
            advertise=0,
        ),
        "04 10 0028 00000005 00000007 00000000 020000000001 0000 00000001 00000001 00000000 00000000",
    ),
    (BarrierRequest(xid=6), "04 14 0008 00000006"),
    (BarrierReply(xid=6), "04 15 0008 00000006"),
    (QueueGetConfigRequest(xid=7), "04 16 0010 00000007 ffffffff 00000000"),
    (
        QueueGetConfigReply(
            xid=7,
            port=1,
            queues=(PacketQueue(queue_id=0, port=1, properties=(QueuePropMinRate(rate=10),)),),
        ),
        "04 17 0030 00000007 00000001 00000000"
        " 00000000 00000001 0020 000000000000 0001 0010 00000000 000a 000000000000",
    ),
    (
        RoleRequest(xid=8, role=c.OFPCR_ROLE_MASTER, generation_id=5),
        "04 18 0018 00000008 00000002 00000000 0000000000000005",
    ),
    (
        RoleReply(xid=8, role=c.OFPCR_ROLE_SLAVE),
        "04 19 0018 00000008 00000003 00000000 0000000000000000",
    ),
    (GetAsyncRequest(xid=9), "04 1a 0008 00000009"),
    (
        GetAsyncReply(
            xid=9, packet_in_mask=(1, 2), port_status_mask=(3, 4), flow_removed_mask=(5, 6)
        ),
        "04 1b 0020 00000009 00000001 00000002 00000003 00000004 00000005 00000006",
    ),
    (
        SetAsync(xid=10, packet_in_mask=(7, 0)),
        "04 1c 0020 0000000a 00000007 00000000 00000000 00000000 00000000 00000000",
    ),
]


def _decode_or_error(raw: bytes) -> Message | OFPDecodeError:
    try:
        return decode_message(raw)
    except OFPDecodeError as e:
        return e


@pytest.mark.parametrize(("msg", "wire"), EXACT, ids=lambda x: type(x).__name__)
def test_exact_bytes_and_round_trip(msg: Message, wire: str) -> None:
    raw = bytes.fromhex(wire)
    assert msg.encode() == raw
    assert decode_message(raw) == msg


@pytest.mark.parametrize(("msg", "wire"), EXACT, ids=lambda x: type(x).__name__)
def test_every_truncation_is_bad_len(msg: Message, wire: str) -> None:
    raw = bytes.fromhex(wire)
    for n in range(8, len(raw)):
        cut = raw[:2] + n.to_bytes(2, "big") + raw[4:n]
        out = _decode_or_error(cut)
        if isinstance(out, OFPDecodeError):
            assert (out.type, out.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN), n
        else:  # only the queue list may lose a whole entry and stay valid
            assert out == QueueGetConfigReply(xid=msg.xid, port=1), n


FIXED_SIZE = [(m, w) for m, w in EXACT if not isinstance(m, QueueGetConfigReply)]


@pytest.mark.parametrize(("msg", "wire"), FIXED_SIZE, ids=lambda x: type(x).__name__)
def test_trailing_bytes_are_bad_len_for_fixed_messages(msg: Message, wire: str) -> None:
    raw = bytes.fromhex(wire) + b"\0" * 8
    raw = raw[:2] + len(raw).to_bytes(2, "big") + raw[4:]
    with pytest.raises(OFPDecodeError) as ei:
        decode_message(raw)
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN)


def test_queue_reply_with_a_short_queue_is_bad_len() -> None:
    raw = bytes.fromhex("04 17 0018 00000007 00000001 00000000 00000000 00000001")
    with pytest.raises(OFPDecodeError) as ei:
        decode_message(raw)
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN)


def test_queue_reply_with_several_queues_round_trips() -> None:
    msg = QueueGetConfigReply(
        port=3,
        queues=(
            PacketQueue(queue_id=1, port=3),
            PacketQueue(queue_id=2, port=3, properties=(QueuePropMaxRate(rate=500),)),
        ),
    )
    assert decode_message(msg.encode()) == msg


@pytest.mark.parametrize(
    "msg",
    [
        FeaturesReply(datapath_id=1 << 64),
        FeaturesReply(datapath_id=1, n_tables=256),
        SetConfig(miss_send_len=0x10000),
        TableMod(table_id=256),
        PortMod(port_no=1, hw_addr=1 << 48),
        RoleRequest(role=2, generation_id=-1),
        SetAsync(packet_in_mask=(1, 2, 3)),  # type: ignore[arg-type]
        SetAsync(port_status_mask=(1 << 32, 0)),
        BarrierRequest(xid=1 << 32),
    ],
)
def test_out_of_range_fields_do_not_encode(msg: Message) -> None:
    with pytest.raises(OFPEncodeError):
        msg.encode()
