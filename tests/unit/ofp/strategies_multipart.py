"""Hypothesis strategies for every multipart request and reply.

``multipart_messages()`` draws any class registered in
:mod:`openvolcano.ofp.multipart` with valid field values; the entry
strategies (``flow_stats()``, ``table_features()``, ``table_feature_props()``...)
are reused by the split/merge tests. Matches and instructions come from
``strategies_oxm``; ports, buckets and meter bands from ``strategies_messages``.
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st
from strategies_messages import buckets, meter_bands, ports
from strategies_oxm import instruction_lists, matches

from openvolcano.ofp import consts as c
from openvolcano.ofp import multipart as mp

__all__ = [
    "flow_stats",
    "multipart_messages",
    "multipart_strategies",
    "table_feature_props",
    "table_features",
]


def uint(bits: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=(1 << bits) - 1)


def _text(max_size: int) -> st.SearchStrategy[str]:
    """A NUL-free ASCII string that fits ``char x[max_size + 1]``."""
    return st.text(alphabet=string.printable, max_size=max_size)


def _lists(elem: st.SearchStrategy[Any], max_size: int = 3) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.lists(elem, max_size=max_size).map(tuple)


def flow_stats() -> st.SearchStrategy[mp.FlowStats]:
    return st.builds(
        mp.FlowStats,
        table_id=uint(8),
        duration_sec=uint(32),
        duration_nsec=uint(32),
        priority=uint(16),
        idle_timeout=uint(16),
        hard_timeout=uint(16),
        flags=uint(16),
        cookie=uint(64),
        packet_count=uint(64),
        byte_count=uint(64),
        match=matches(max_fields=4),
        instructions=instruction_lists(max_size=3),
    )


def _port_stats() -> st.SearchStrategy[mp.PortStats]:
    counters = {
        name: uint(64)
        for name in [
            "rx_packets",
            "tx_packets",
            "rx_bytes",
            "tx_bytes",
            "rx_dropped",
            "tx_dropped",
            "rx_errors",
            "tx_errors",
            "rx_frame_err",
            "rx_over_err",
            "rx_crc_err",
            "collisions",
        ]
    }
    return st.builds(
        mp.PortStats, port_no=uint(32), duration_sec=uint(32), duration_nsec=uint(32), **counters
    )


def _instruction_ids() -> st.SearchStrategy[mp.InstructionId | mp.InstructionIdExperimenter]:
    return st.one_of(
        st.builds(mp.InstructionId, type=uint(16).filter(lambda t: t != c.OFPIT_EXPERIMENTER)),
        st.builds(
            mp.InstructionIdExperimenter, experimenter=uint(32), exp_data=st.binary(max_size=6)
        ),
    )


def _action_ids() -> st.SearchStrategy[mp.ActionId | mp.ActionIdExperimenter]:
    return st.one_of(
        st.builds(mp.ActionId, type=uint(16).filter(lambda t: t != c.OFPAT_EXPERIMENTER)),
        st.builds(mp.ActionIdExperimenter, experimenter=uint(32), exp_data=st.binary(max_size=6)),
    )


def _oxm_ids() -> st.SearchStrategy[mp.OxmId | mp.OxmIdExperimenter]:
    return st.one_of(
        st.builds(mp.OxmId, header=uint(32).filter(lambda h: h >> 16 != c.OFPXMC_EXPERIMENTER)),
        st.builds(
            mp.OxmIdExperimenter,
            header=uint(16).map(lambda low: (c.OFPXMC_EXPERIMENTER << 16) | low),
            experimenter=uint(32),
        ),
    )


def table_feature_props() -> st.SearchStrategy[mp.TableFeatureProp]:
    """Any table feature property, of every OFPTFPT_* type."""
    return st.one_of(
        st.builds(
            mp.TableFeaturePropInstructions,
            type=st.sampled_from([c.OFPTFPT_INSTRUCTIONS, c.OFPTFPT_INSTRUCTIONS_MISS]),
            instruction_ids=_lists(_instruction_ids(), 4),
        ),
        st.builds(
            mp.TableFeaturePropNextTables,
            type=st.sampled_from([c.OFPTFPT_NEXT_TABLES, c.OFPTFPT_NEXT_TABLES_MISS]),
            next_table_ids=_lists(uint(8), 9),
        ),
        st.builds(
            mp.TableFeaturePropActions,
            type=st.sampled_from(
                [
                    c.OFPTFPT_WRITE_ACTIONS,
                    c.OFPTFPT_WRITE_ACTIONS_MISS,
                    c.OFPTFPT_APPLY_ACTIONS,
                    c.OFPTFPT_APPLY_ACTIONS_MISS,
                ]
            ),
            action_ids=_lists(_action_ids(), 4),
        ),
        st.builds(
            mp.TableFeaturePropOxm,
            type=st.sampled_from(
                [
                    c.OFPTFPT_MATCH,
                    c.OFPTFPT_WILDCARDS,
                    c.OFPTFPT_WRITE_SETFIELD,
                    c.OFPTFPT_WRITE_SETFIELD_MISS,
                    c.OFPTFPT_APPLY_SETFIELD,
                    c.OFPTFPT_APPLY_SETFIELD_MISS,
                ]
            ),
            oxm_ids=_lists(_oxm_ids(), 4),
        ),
        st.builds(
            mp.TableFeaturePropExperimenter,
            type=st.sampled_from([c.OFPTFPT_EXPERIMENTER, c.OFPTFPT_EXPERIMENTER_MISS]),
            experimenter=uint(32),
            exp_type=uint(32),
            data=st.binary(max_size=10),
        ),
    )


def table_features() -> st.SearchStrategy[mp.TableFeatures]:
    return st.builds(
        mp.TableFeatures,
        table_id=uint(8),
        name=_text(c.OFP_MAX_TABLE_NAME_LEN - 1),
        metadata_match=uint(64),
        metadata_write=uint(64),
        config=uint(32),
        max_entries=uint(32),
        properties=_lists(table_feature_props(), 5),
    )


def _group_stats() -> st.SearchStrategy[mp.GroupStats]:
    return st.builds(
        mp.GroupStats,
        group_id=uint(32),
        ref_count=uint(32),
        packet_count=uint(64),
        byte_count=uint(64),
        duration_sec=uint(32),
        duration_nsec=uint(32),
        bucket_stats=_lists(
            st.builds(mp.BucketCounter, packet_count=uint(64), byte_count=uint(64))
        ),
    )


def _meter_stats() -> st.SearchStrategy[mp.MeterStats]:
    band = st.builds(mp.MeterBandStats, packet_band_count=uint(64), byte_band_count=uint(64))
    return st.builds(
        mp.MeterStats,
        meter_id=uint(32),
        flow_count=uint(32),
        packet_in_count=uint(64),
        byte_in_count=uint(64),
        duration_sec=uint(32),
        duration_nsec=uint(32),
        band_stats=_lists(band),
    )


def _four() -> st.SearchStrategy[tuple[int, ...]]:
    return st.tuples(uint(32), uint(32), uint(32), uint(32))


def multipart_strategies() -> dict[type[Any], st.SearchStrategy[Any]]:
    """One strategy per request/reply class (keys cover every registered class)."""
    f = uint(16)
    flow_filter = {
        "flags": f,
        "table_id": uint(8),
        "out_port": uint(32),
        "out_group": uint(32),
        "cookie": uint(64),
        "cookie_mask": uint(64),
        "match": matches(max_fields=4),
    }
    return {
        mp.DescRequest: st.builds(mp.DescRequest, flags=f),
        mp.DescReply: st.builds(
            mp.DescReply,
            flags=f,
            mfr_desc=_text(c.DESC_STR_LEN - 1),
            hw_desc=_text(c.DESC_STR_LEN - 1),
            sw_desc=_text(c.DESC_STR_LEN - 1),
            serial_num=_text(c.SERIAL_NUM_LEN - 1),
            dp_desc=_text(c.DESC_STR_LEN - 1),
        ),
        mp.FlowStatsRequest: st.builds(mp.FlowStatsRequest, **flow_filter),
        mp.FlowStatsReply: st.builds(mp.FlowStatsReply, flags=f, body=_lists(flow_stats())),
        mp.AggregateStatsRequest: st.builds(mp.AggregateStatsRequest, **flow_filter),
        mp.AggregateStatsReply: st.builds(
            mp.AggregateStatsReply,
            flags=f,
            packet_count=uint(64),
            byte_count=uint(64),
            flow_count=uint(32),
        ),
        mp.TableStatsRequest: st.builds(mp.TableStatsRequest, flags=f),
        mp.TableStatsReply: st.builds(
            mp.TableStatsReply,
            flags=f,
            body=_lists(
                st.builds(
                    mp.TableStats,
                    table_id=uint(8),
                    active_count=uint(32),
                    lookup_count=uint(64),
                    matched_count=uint(64),
                )
            ),
        ),
        mp.PortStatsRequest: st.builds(mp.PortStatsRequest, flags=f, port_no=uint(32)),
        mp.PortStatsReply: st.builds(mp.PortStatsReply, flags=f, body=_lists(_port_stats())),
        mp.QueueStatsRequest: st.builds(
            mp.QueueStatsRequest, flags=f, port_no=uint(32), queue_id=uint(32)
        ),
        mp.QueueStatsReply: st.builds(
            mp.QueueStatsReply,
            flags=f,
            body=_lists(
                st.builds(
                    mp.QueueStats,
                    port_no=uint(32),
                    queue_id=uint(32),
                    tx_bytes=uint(64),
                    tx_packets=uint(64),
                    tx_errors=uint(64),
                    duration_sec=uint(32),
                    duration_nsec=uint(32),
                )
            ),
        ),
        mp.GroupStatsRequest: st.builds(mp.GroupStatsRequest, flags=f, group_id=uint(32)),
        mp.GroupStatsReply: st.builds(mp.GroupStatsReply, flags=f, body=_lists(_group_stats())),
        mp.GroupDescRequest: st.builds(mp.GroupDescRequest, flags=f),
        mp.GroupDescReply: st.builds(
            mp.GroupDescReply,
            flags=f,
            body=_lists(
                st.builds(mp.GroupDesc, type=uint(8), group_id=uint(32), buckets=_lists(buckets()))
            ),
        ),
        mp.GroupFeaturesRequest: st.builds(mp.GroupFeaturesRequest, flags=f),
        mp.GroupFeaturesReply: st.builds(
            mp.GroupFeaturesReply,
            flags=f,
            types=uint(32),
            capabilities=uint(32),
            max_groups=_four(),
            actions=_four(),
        ),
        mp.MeterStatsRequest: st.builds(mp.MeterStatsRequest, flags=f, meter_id=uint(32)),
        mp.MeterStatsReply: st.builds(mp.MeterStatsReply, flags=f, body=_lists(_meter_stats())),
        mp.MeterConfigRequest: st.builds(mp.MeterConfigRequest, flags=f, meter_id=uint(32)),
        mp.MeterConfigReply: st.builds(
            mp.MeterConfigReply,
            flags=f,
            body=_lists(
                st.builds(
                    mp.MeterConfig, flags=uint(16), meter_id=uint(32), bands=_lists(meter_bands())
                )
            ),
        ),
        mp.MeterFeaturesRequest: st.builds(mp.MeterFeaturesRequest, flags=f),
        mp.MeterFeaturesReply: st.builds(
            mp.MeterFeaturesReply,
            flags=f,
            max_meter=uint(32),
            band_types=uint(32),
            capabilities=uint(32),
            max_bands=uint(8),
            max_color=uint(8),
        ),
        mp.TableFeaturesRequest: st.builds(
            mp.TableFeaturesRequest, flags=f, body=_lists(table_features(), 2)
        ),
        mp.TableFeaturesReply: st.builds(
            mp.TableFeaturesReply, flags=f, body=_lists(table_features(), 2)
        ),
        mp.PortDescRequest: st.builds(mp.PortDescRequest, flags=f),
        mp.PortDescReply: st.builds(mp.PortDescReply, flags=f, body=_lists(ports())),
        mp.ExperimenterMultipartRequest: st.builds(
            mp.ExperimenterMultipartRequest,
            flags=f,
            experimenter=uint(32),
            exp_type=uint(32),
            data=st.binary(max_size=24),
        ),
        mp.ExperimenterMultipartReply: st.builds(
            mp.ExperimenterMultipartReply,
            flags=f,
            experimenter=uint(32),
            exp_type=uint(32),
            data=st.binary(max_size=24),
        ),
    }


def multipart_messages() -> st.SearchStrategy[mp.MultipartRequest | mp.MultipartReply]:
    """Any multipart request or reply, with a random xid."""
    return st.one_of(*multipart_strategies().values()).flatmap(lambda m: uint(32).map(m.with_xid))
