"""Splitting large multipart messages into *_MORE sequences and merging them back."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies_multipart import multipart_strategies

from openvolcano.ofp import consts as c
from openvolcano.ofp import multipart as mp
from openvolcano.ofp.base import decode_message
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError


def _port_stats_reply(n: int, xid: int = 5) -> mp.PortStatsReply:
    return mp.PortStatsReply(
        xid=xid, body=tuple(mp.PortStats(port_no=i, rx_packets=i) for i in range(n))
    )


def test_a_reply_too_big_for_one_message_is_split_at_the_limit() -> None:
    reply = _port_stats_reply(1200)  # 16 + 1200 * 112 bytes: over 65535
    with pytest.raises(OFPEncodeError):
        reply.encode()
    parts = mp.split_reply(reply)
    per_message = (65535 - 16) // 112
    assert [len(p.body) for p in parts] == [per_message, per_message, 1200 - 2 * per_message]
    assert [p.flags for p in parts] == [c.OFPMPF_REPLY_MORE, c.OFPMPF_REPLY_MORE, 0]
    assert all(p.xid == 5 for p in parts)
    wire = [decode_message(p.encode()) for p in parts]
    assert all(len(p.encode()) <= 65535 for p in parts)
    assert mp.merge_replies(wire) == reply  # type: ignore[arg-type]


def test_small_or_bodiless_replies_stay_whole() -> None:
    for reply in (
        _port_stats_reply(3),
        mp.PortStatsReply(),
        mp.DescReply(mfr_desc="x"),
        mp.ExperimenterMultipartReply(experimenter=1, exp_type=2, data=b"abc"),
    ):
        assert mp.split_reply(reply) == [reply]
        assert mp.merge_replies([reply]) == reply


def test_split_respects_a_small_max_len() -> None:
    parts = mp.split_reply(_port_stats_reply(5), max_len=16 + 2 * 112)
    assert [len(p.body) for p in parts] == [2, 2, 1]
    assert all(len(p.encode()) <= 16 + 2 * 112 for p in parts)


def test_table_features_requests_split_with_req_more() -> None:
    req = mp.TableFeaturesRequest(
        xid=1, body=tuple(mp.TableFeatures(table_id=i, name=f"t{i}") for i in range(4))
    )
    parts = mp.split_request(req, max_len=16 + 2 * 64)
    assert [p.flags for p in parts] == [c.OFPMPF_REQ_MORE, 0]
    assert mp.merge_requests(parts) == req


def test_what_cannot_be_split_is_an_encode_error() -> None:
    with pytest.raises(OFPEncodeError):
        mp.split_reply(_port_stats_reply(2), max_len=100)  # one entry needs 128
    with pytest.raises(OFPEncodeError):
        mp.split_reply(mp.DescReply(), max_len=1000)  # no body list to cut
    with pytest.raises(OFPEncodeError):
        mp.split_reply(_port_stats_reply(1), max_len=70000)


def test_merge_rejects_malformed_sequences() -> None:
    more = mp.PortStatsReply(xid=5, flags=c.OFPMPF_REPLY_MORE, body=_port_stats_reply(1).body)
    last = _port_stats_reply(2)
    bad = [
        [last, last],  # MORE missing on the first part
        [more, more],  # MORE on the last part
        [more, _port_stats_reply(1, xid=6)],  # xid changes
        [more, mp.TableStatsReply(xid=5)],  # type changes
        [mp.DescReply(xid=1, flags=c.OFPMPF_REPLY_MORE), mp.DescReply(xid=1)],  # no body list
    ]
    for parts in bad:
        with pytest.raises(OFPDecodeError) as info:
            mp.merge_replies(parts)  # type: ignore[arg-type]
        assert (info.value.type, info.value.code) == (c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_MULTIPART)
    assert mp.merge_replies([more, last]).body == more.body + last.body  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="nothing"):
        mp.merge_replies([])


_LIST_REPLIES = [
    cls
    for cls in mp.reply_types().values()
    if "body" in cls.__dataclass_fields__  # type: ignore[attr-defined]
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(_LIST_REPLIES).flatmap(lambda cls: multipart_strategies()[cls]),
    st.integers(2_000, 65535),
)
def test_split_then_merge_is_identity(reply: mp.MultipartReply, max_len: int) -> None:
    reply = dataclasses.replace(reply, flags=reply.flags & ~c.OFPMPF_REPLY_MORE)
    parts = mp.split_reply(reply, max_len)
    assert all(len(p.encode()) <= max_len for p in parts)
    assert mp.merge_replies([decode_message(p.encode()) for p in parts]) == reply  # type: ignore[misc]
