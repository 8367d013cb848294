"""Multipart (statistics and description) replies of quake's OpenFlow agent.

Role: answers every ``OFPT_MULTIPART_REQUEST`` a controller (magma, ovs-ofctl,
Faucet...) sends to quake, from the pipeline's counters and the datapath's
ports. Split from :mod:`.agent` to keep each module small; like the agent
it is pure (returns messages, raises
:class:`~.pipeline.PipelineError` for requests to refuse).

Design: :func:`multipart_reply` builds one logical reply; the agent cuts it
into ``OFPMPF_REPLY_MORE`` parts with
:func:`openvolcano.ofp.multipart.split_reply`. Table features are computed
once per table count and cached (they describe what the pipeline supports
and never change at run time); a *set* request (non-empty body) is refused
with OFPET_TABLE_FEATURES_FAILED/OFPTFFC_EPERM.
"""

from __future__ import annotations

import functools

from openvolcano import __version__
from openvolcano.ofp import consts as c
from openvolcano.ofp.multipart import (
    ActionId,
    AggregateStatsReply,
    AggregateStatsRequest,
    DescReply,
    DescRequest,
    ExperimenterMultipartRequest,
    FlowStatsReply,
    FlowStatsRequest,
    GroupDescReply,
    GroupDescRequest,
    GroupFeaturesRequest,
    GroupStatsReply,
    GroupStatsRequest,
    InstructionId,
    MeterConfigReply,
    MeterConfigRequest,
    MeterFeaturesRequest,
    MeterStatsReply,
    MeterStatsRequest,
    MultipartReply,
    MultipartRequest,
    OxmId,
    PortDescReply,
    PortDescRequest,
    PortStatsReply,
    PortStatsRequest,
    QueueStatsReply,
    QueueStatsRequest,
    TableFeaturePropActions,
    TableFeaturePropInstructions,
    TableFeaturePropNextTables,
    TableFeaturePropOxm,
    TableFeatures,
    TableFeaturesReply,
    TableFeaturesRequest,
    TableStatsReply,
    TableStatsRequest,
)
from openvolcano.ofp.oxm_fields import OXM_FIELDS

from .datapath import SwitchDatapath
from .pipeline import PipelineError
from .pipeline.core import DEFAULT_MAX_ENTRIES
from .pipeline.fields import SETTABLE

__all__ = ["multipart_reply", "switch_desc", "table_features"]

_ACTIONS = (
    c.OFPAT_OUTPUT, c.OFPAT_COPY_TTL_OUT, c.OFPAT_COPY_TTL_IN, c.OFPAT_SET_MPLS_TTL,
    c.OFPAT_DEC_MPLS_TTL, c.OFPAT_PUSH_VLAN, c.OFPAT_POP_VLAN, c.OFPAT_PUSH_MPLS,
    c.OFPAT_POP_MPLS, c.OFPAT_SET_QUEUE, c.OFPAT_GROUP, c.OFPAT_SET_NW_TTL,
    c.OFPAT_DEC_NW_TTL, c.OFPAT_SET_FIELD, c.OFPAT_PUSH_PBB, c.OFPAT_POP_PBB,
)  # fmt: skip
_INSTRUCTIONS = (
    c.OFPIT_GOTO_TABLE, c.OFPIT_WRITE_METADATA, c.OFPIT_WRITE_ACTIONS,
    c.OFPIT_APPLY_ACTIONS, c.OFPIT_CLEAR_ACTIONS, c.OFPIT_METER,
)  # fmt: skip


def switch_desc(datapath_id: int, dp_desc: str = "") -> DescReply:
    """The OFPMP_DESC body: who we are."""
    return DescReply(
        mfr_desc="OpenVolcano",
        hw_desc="quake user-space OpenFlow 1.3 switch",
        sw_desc=f"openvolcano {__version__}",
        serial_num="None",
        dp_desc=dp_desc or f"quake dpid={datapath_id:#018x}",
    )


@functools.cache
def table_features(n_tables: int) -> tuple[TableFeatures, ...]:
    """What every table supports (all tables alike; GOTO only forward)."""
    match_ids = tuple(
        OxmId.of(f, OXM_FIELDS[f].width, OXM_FIELDS[f].maskable) for f in sorted(OXM_FIELDS)
    )
    set_ids = tuple(OxmId.of(f, OXM_FIELDS[f].width) for f in sorted(SETTABLE))
    actions = tuple(ActionId(type=a) for a in _ACTIONS)
    out = []
    for t in range(n_tables):
        last = t == n_tables - 1
        ins = tuple(
            InstructionId(type=i) for i in _INSTRUCTIONS if not (last and i == c.OFPIT_GOTO_TABLE)
        )
        nxt = tuple(range(t + 1, n_tables))
        props = (
            TableFeaturePropInstructions(type=c.OFPTFPT_INSTRUCTIONS, instruction_ids=ins),
            TableFeaturePropInstructions(type=c.OFPTFPT_INSTRUCTIONS_MISS, instruction_ids=ins),
            TableFeaturePropNextTables(type=c.OFPTFPT_NEXT_TABLES, next_table_ids=nxt),
            TableFeaturePropNextTables(type=c.OFPTFPT_NEXT_TABLES_MISS, next_table_ids=nxt),
            TableFeaturePropActions(type=c.OFPTFPT_WRITE_ACTIONS, action_ids=actions),
            TableFeaturePropActions(type=c.OFPTFPT_WRITE_ACTIONS_MISS, action_ids=actions),
            TableFeaturePropActions(type=c.OFPTFPT_APPLY_ACTIONS, action_ids=actions),
            TableFeaturePropActions(type=c.OFPTFPT_APPLY_ACTIONS_MISS, action_ids=actions),
            TableFeaturePropOxm(type=c.OFPTFPT_MATCH, oxm_ids=match_ids),
            TableFeaturePropOxm(type=c.OFPTFPT_WILDCARDS, oxm_ids=match_ids),
            TableFeaturePropOxm(type=c.OFPTFPT_WRITE_SETFIELD, oxm_ids=set_ids),
            TableFeaturePropOxm(type=c.OFPTFPT_WRITE_SETFIELD_MISS, oxm_ids=set_ids),
            TableFeaturePropOxm(type=c.OFPTFPT_APPLY_SETFIELD, oxm_ids=set_ids),
            TableFeaturePropOxm(type=c.OFPTFPT_APPLY_SETFIELD_MISS, oxm_ids=set_ids),
        )
        out.append(
            TableFeatures(
                table_id=t,
                name=f"table{t}",
                metadata_match=0xFFFF_FFFF_FFFF_FFFF,
                metadata_write=0xFFFF_FFFF_FFFF_FFFF,
                config=0,
                max_entries=DEFAULT_MAX_ENTRIES,
                properties=props,
            )
        )
    return tuple(out)


def multipart_reply(
    dp: SwitchDatapath, req: MultipartRequest, now: float, desc: DescReply
) -> MultipartReply:
    """The (unsplit) reply to ``req``; raises PipelineError for a request to refuse."""
    p = dp.pipeline
    x = req.xid
    if isinstance(req, DescRequest):
        return desc.with_xid(x)
    if isinstance(req, FlowStatsRequest):
        body = p.flow_stats(now, req.table_id, req.match, req.out_port, req.out_group,
                            req.cookie, req.cookie_mask)  # fmt: skip
        return FlowStatsReply(xid=x, body=tuple(body))
    if isinstance(req, AggregateStatsRequest):
        pk, by, n = p.aggregate_stats(req.table_id, req.match, req.out_port, req.out_group,
                                      req.cookie, req.cookie_mask)  # fmt: skip
        return AggregateStatsReply(xid=x, packet_count=pk, byte_count=by, flow_count=n)
    if isinstance(req, TableStatsRequest):
        return TableStatsReply(xid=x, body=tuple(p.table_stats()))
    if isinstance(req, PortStatsRequest):
        return PortStatsReply(xid=x, body=tuple(dp.port_stats(now, req.port_no)))
    if isinstance(req, PortDescRequest):
        return PortDescReply(xid=x, body=tuple(dp.port_descs()))
    if isinstance(req, QueueStatsRequest):
        if req.port_no != c.OFPP_ANY and req.port_no not in dp.ports:
            raise PipelineError(c.OFPET_QUEUE_OP_FAILED, c.OFPQOFC_BAD_PORT, f"port {req.port_no}")
        if req.queue_id != c.OFPQ_ALL:
            raise PipelineError(
                c.OFPET_QUEUE_OP_FAILED, c.OFPQOFC_BAD_QUEUE, f"queue {req.queue_id}"
            )
        return QueueStatsReply(xid=x, body=())
    if isinstance(req, GroupStatsRequest):
        return GroupStatsReply(xid=x, body=tuple(p.group_stats(now, req.group_id)))
    if isinstance(req, GroupDescRequest):
        return GroupDescReply(xid=x, body=tuple(p.group_desc()))
    if isinstance(req, GroupFeaturesRequest):
        return p.group_features().with_xid(x)
    if isinstance(req, MeterStatsRequest):
        return MeterStatsReply(xid=x, body=tuple(p.meter_stats(now, req.meter_id)))
    if isinstance(req, MeterConfigRequest):
        return MeterConfigReply(xid=x, body=tuple(p.meter_config(req.meter_id)))
    if isinstance(req, MeterFeaturesRequest):
        return p.meter_features().with_xid(x)
    if isinstance(req, TableFeaturesRequest):
        if req.body:
            raise PipelineError(
                c.OFPET_TABLE_FEATURES_FAILED,
                c.OFPTFFC_EPERM,
                "quake's tables cannot be reconfigured",
            )
        return TableFeaturesReply(xid=x, body=table_features(p.n_tables))
    if isinstance(req, ExperimenterMultipartRequest):
        raise PipelineError(c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_EXPERIMENTER, "no experimenter stats")
    raise PipelineError(
        c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_MULTIPART, f"{type(req).__name__} unsupported"
    )
