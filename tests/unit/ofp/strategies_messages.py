"""Hypothesis strategies for the shared structures and every non-multipart message.

``messages()`` draws any message class of :mod:`openvolcano.ofp.messages`
with valid field values; the structure strategies (``ports()``, ``buckets()``,
``meter_bands()``, ``packet_queues()``, ``hello_elements()``) are reused by the
multipart tests. Matches, actions and instructions come from
``strategies_oxm``.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from strategies_oxm import action_lists, instruction_lists, matches

from openvolcano.ofp import consts as c
from openvolcano.ofp import messages as m
from openvolcano.ofp.base import Message
from openvolcano.ofp.structs import (
    Bucket,
    HelloElem,
    HelloElemUnknown,
    HelloElemVersionBitmap,
    MeterBand,
    MeterBandDrop,
    MeterBandDscpRemark,
    MeterBandExperimenter,
    PacketQueue,
    Port,
    QueueProp,
    QueuePropExperimenter,
    QueuePropMaxRate,
    QueuePropMinRate,
)


def uint(bits: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=(1 << bits) - 1)


u8, u16, u32, u64 = uint(8), uint(16), uint(32), uint(64)
xids = u32
payloads = st.binary(max_size=64)
# NUL-free printable ASCII, under 16 bytes: what a port name can round-trip.
port_names = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=15)


def ports() -> st.SearchStrategy[Port]:
    return st.builds(
        Port,
        port_no=u32,
        hw_addr=uint(48),
        name=port_names,
        config=u32,
        state=u32,
        curr=u32,
        advertised=u32,
        supported=u32,
        peer=u32,
        curr_speed=u32,
        max_speed=u32,
    )


def buckets() -> st.SearchStrategy[Bucket]:
    return st.builds(Bucket, weight=u16, watch_port=u32, watch_group=u32, actions=action_lists())


def meter_bands() -> st.SearchStrategy[MeterBand]:
    aligned = st.integers(min_value=0, max_value=4).map(lambda n: bytes(range(n * 8)))
    return st.one_of(
        st.builds(MeterBandDrop, rate=u32, burst_size=u32),
        st.builds(MeterBandDscpRemark, rate=u32, burst_size=u32, prec_level=u8),
        st.builds(MeterBandExperimenter, rate=u32, burst_size=u32, experimenter=u32, data=aligned),
    )


def queue_props() -> st.SearchStrategy[QueueProp]:
    return st.one_of(
        st.builds(QueuePropMinRate, rate=u16),
        st.builds(QueuePropMaxRate, rate=u16),
        st.builds(QueuePropExperimenter, experimenter=u32, data=payloads),
    )


def packet_queues() -> st.SearchStrategy[PacketQueue]:
    return st.builds(
        PacketQueue,
        queue_id=u32,
        port=u32,
        properties=st.lists(queue_props(), max_size=3).map(tuple),
    )


def hello_elements() -> st.SearchStrategy[HelloElem]:
    return st.one_of(
        st.builds(HelloElemVersionBitmap, bitmaps=st.lists(u32, max_size=4).map(tuple)),
        st.builds(
            HelloElemUnknown,
            type=u16.filter(lambda t: t != c.OFPHET_VERSIONBITMAP),
            data=st.binary(max_size=20),
        ),
    )


def _pair() -> st.SearchStrategy[tuple[int, int]]:
    return st.tuples(u32, u32)


def _error() -> st.SearchStrategy[m.Error]:
    standard = st.builds(
        m.Error,
        xid=xids,
        type=u16.filter(lambda t: t != c.OFPET_EXPERIMENTER),
        code=u16,
        data=payloads,
    )
    experimenter = st.builds(
        m.Error,
        xid=xids,
        type=st.just(c.OFPET_EXPERIMENTER),
        exp_type=u16,
        experimenter=u32,
        data=payloads,
    )
    return st.one_of(standard, experimenter)


def _builders() -> dict[type[Message], st.SearchStrategy[Any]]:
    empty: dict[type[Message], st.SearchStrategy[Any]] = {
        cls: st.builds(cls, xid=xids)
        for cls in (
            m.FeaturesRequest,
            m.GetConfigRequest,
            m.BarrierRequest,
            m.BarrierReply,
            m.GetAsyncRequest,
        )
    }
    config: dict[type[Message], st.SearchStrategy[Any]] = {
        cls: st.builds(cls, xid=xids, flags=u16, miss_send_len=u16)
        for cls in (m.GetConfigReply, m.SetConfig)
    }
    role: dict[type[Message], st.SearchStrategy[Any]] = {
        cls: st.builds(cls, xid=xids, role=u32, generation_id=u64)
        for cls in (m.RoleRequest, m.RoleReply)
    }
    async_: dict[type[Message], st.SearchStrategy[Any]] = {
        cls: st.builds(
            cls,
            xid=xids,
            packet_in_mask=_pair(),
            port_status_mask=_pair(),
            flow_removed_mask=_pair(),
        )
        for cls in (m.GetAsyncReply, m.SetAsync)
    }
    return {
        **empty,
        **config,
        **role,
        **async_,
        m.Hello: st.builds(
            m.Hello, xid=xids, elements=st.lists(hello_elements(), max_size=3).map(tuple)
        ),
        m.Error: _error(),
        m.EchoRequest: st.builds(m.EchoRequest, xid=xids, data=payloads),
        m.EchoReply: st.builds(m.EchoReply, xid=xids, data=payloads),
        m.Experimenter: st.builds(
            m.Experimenter, xid=xids, experimenter=u32, exp_type=u32, data=payloads
        ),
        m.FeaturesReply: st.builds(
            m.FeaturesReply,
            xid=xids,
            datapath_id=u64,
            n_buffers=u32,
            n_tables=u8,
            auxiliary_id=u8,
            capabilities=u32,
            reserved=u32,
        ),
        m.TableMod: st.builds(m.TableMod, xid=xids, table_id=u8, config=u32),
        m.PortMod: st.builds(
            m.PortMod,
            xid=xids,
            port_no=u32,
            hw_addr=uint(48),
            config=u32,
            mask=u32,
            advertise=u32,
        ),
        m.QueueGetConfigRequest: st.builds(m.QueueGetConfigRequest, xid=xids, port=u32),
        m.QueueGetConfigReply: st.builds(
            m.QueueGetConfigReply,
            xid=xids,
            port=u32,
            queues=st.lists(packet_queues(), max_size=3).map(tuple),
        ),
        m.PacketIn: st.builds(
            m.PacketIn,
            xid=xids,
            buffer_id=u32,
            total_len=u16,
            reason=u8,
            table_id=u8,
            cookie=u64,
            match=matches(),
            data=payloads,
        ),
        m.FlowRemoved: st.builds(
            m.FlowRemoved,
            xid=xids,
            cookie=u64,
            priority=u16,
            reason=u8,
            table_id=u8,
            duration_sec=u32,
            duration_nsec=u32,
            idle_timeout=u16,
            hard_timeout=u16,
            packet_count=u64,
            byte_count=u64,
            match=matches(),
        ),
        m.PortStatus: st.builds(m.PortStatus, xid=xids, reason=u8, desc=ports()),
        m.PacketOut: st.builds(
            m.PacketOut,
            xid=xids,
            buffer_id=u32,
            in_port=u32,
            actions=action_lists(),
            data=payloads,
        ),
        m.FlowMod: st.builds(
            m.FlowMod,
            xid=xids,
            cookie=u64,
            cookie_mask=u64,
            table_id=u8,
            command=u8,
            idle_timeout=u16,
            hard_timeout=u16,
            priority=u16,
            buffer_id=u32,
            out_port=u32,
            out_group=u32,
            flags=u16,
            match=matches(),
            instructions=instruction_lists(),
        ),
        m.GroupMod: st.builds(
            m.GroupMod,
            xid=xids,
            command=u16,
            type=u8,
            group_id=u32,
            buckets=st.lists(buckets(), max_size=3).map(tuple),
        ),
        m.MeterMod: st.builds(
            m.MeterMod,
            xid=xids,
            command=u16,
            flags=u16,
            meter_id=u32,
            bands=st.lists(meter_bands(), max_size=3).map(tuple),
        ),
    }


MESSAGE_STRATEGIES: dict[type[Message], st.SearchStrategy[Any]] = _builders()


def messages() -> st.SearchStrategy[Message]:
    """Any message of a class this module covers (every class in ``messages.__all__``)."""
    return st.one_of(*MESSAGE_STRATEGIES.values())
