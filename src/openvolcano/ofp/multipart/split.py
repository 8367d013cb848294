"""Cutting a large multipart message into a ``*_MORE`` sequence, and gluing one back.

Role: an OpenFlow message is at most 65535 bytes, but quake may have
thousands of flows to report; the switch sends a flow stats reply as several
messages, all but the last flagged ``OFPMPF_REPLY_MORE``, and magma merges the
sequence back into one reply (the same holds for table features requests with
``OFPMPF_REQ_MORE``).

Design: only messages with a ``body`` tuple of entries can be cut; entries are
packed greedily in order, never split. :func:`split_reply` /
:func:`split_request` are used by the sender (an impossible cut is our bug:
:class:`OFPEncodeError`); :func:`merge_replies` / :func:`merge_requests` by the
receiver, which checks that the sequence is well formed (same class, same xid,
``*_MORE`` on all but the last - a peer fault: :class:`OFPDecodeError` with
``OFPET_BAD_REQUEST/OFPBRC_BAD_MULTIPART``).

Invariant: ``merge_replies(split_reply(r, n)) == r`` for every reply ``r`` whose
flags lack ``OFPMPF_REPLY_MORE`` and every ``n`` large enough for its biggest entry.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, TypeVar, cast

from openvolcano.ofp import consts as c
from openvolcano.ofp.base import OFP_MAX_MESSAGE_LEN
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError
from openvolcano.ofp.multipart.base import MultipartReply, MultipartRequest

__all__ = ["merge_replies", "merge_requests", "split_reply", "split_request"]

_HEADER_LEN = c.OFP_MULTIPART_REPLY_LEN  # == OFP_MULTIPART_REQUEST_LEN

_R = TypeVar("_R", MultipartReply, MultipartRequest)


def _body(msg: MultipartReply | MultipartRequest) -> tuple[Any, ...] | None:
    body = getattr(msg, "body", None)
    return body if isinstance(body, tuple) else None


def _replace(msg: _R, **changes: Any) -> _R:
    # dataclasses.replace cannot see the subclasses' ``body`` field through _R.
    return cast(_R, dataclasses.replace(cast(Any, msg), **changes))


def _split(msg: _R, max_len: int) -> list[_R]:
    if not _HEADER_LEN < max_len <= OFP_MAX_MESSAGE_LEN:
        raise OFPEncodeError(f"max_len {max_len} must be in ({_HEADER_LEN}, {OFP_MAX_MESSAGE_LEN}]")
    more = msg.more_flag
    body = _body(msg)
    if body is None:
        size = len(msg.encode())
        if size > max_len:
            raise OFPEncodeError(
                f"{type(msg).__name__} is {size} bytes, over {max_len}, and has no body list to cut"
            )
        return [msg]
    chunks: list[list[Any]] = [[]]
    used = _HEADER_LEN
    for entry in body:
        size = len(entry.encode())
        if _HEADER_LEN + size > max_len:
            raise OFPEncodeError(
                f"one {type(entry).__name__} is {size} bytes: it cannot fit in a {max_len}-byte message"
            )
        if used + size > max_len:
            chunks.append([])
            used = _HEADER_LEN
        chunks[-1].append(entry)
        used += size
    last = len(chunks) - 1
    return [
        _replace(
            msg,
            body=tuple(chunk),
            flags=msg.flags & ~more if i == last else msg.flags | more,
        )
        for i, chunk in enumerate(chunks)
    ]


def _merge(msgs: Sequence[_R]) -> _R:
    if not msgs:
        raise ValueError("nothing to merge")
    first = msgs[0]
    more = first.more_flag

    def fail(reason: str) -> OFPDecodeError:
        return OFPDecodeError(c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_MULTIPART, reason)

    for i, m in enumerate(msgs):
        if type(m) is not type(first):
            raise fail(f"part {i} is a {type(m).__name__}, part 0 a {type(first).__name__}")
        if m.xid != first.xid:
            raise fail(f"part {i} has xid {m.xid}, part 0 has {first.xid}")
        if bool(m.flags & more) != (i < len(msgs) - 1):
            raise fail(f"part {i} of {len(msgs)}: the MORE flag must be set on all but the last")
    if len(msgs) == 1:
        return first
    if _body(first) is None:
        raise fail(f"{type(first).__name__} has no body list: it cannot come in several parts")
    body: list[Any] = []
    for m in msgs:
        body.extend(_body(m) or ())
    return _replace(msgs[-1], body=tuple(body))


def split_reply(reply: MultipartReply, max_len: int = OFP_MAX_MESSAGE_LEN) -> list[MultipartReply]:
    """``reply`` as messages of at most ``max_len`` bytes; ``OFPMPF_REPLY_MORE`` on all but the last."""
    return _split(reply, max_len)


def split_request(
    request: MultipartRequest, max_len: int = OFP_MAX_MESSAGE_LEN
) -> list[MultipartRequest]:
    """``request`` as messages of at most ``max_len`` bytes; ``OFPMPF_REQ_MORE`` on all but the last."""
    return _split(request, max_len)


def merge_replies(replies: Sequence[MultipartReply]) -> MultipartReply:
    """One reply from a complete ``OFPMPF_REPLY_MORE`` sequence (flags of the last part)."""
    return _merge(replies)


def merge_requests(requests: Sequence[MultipartRequest]) -> MultipartRequest:
    """One request from a complete ``OFPMPF_REQ_MORE`` sequence (flags of the last part)."""
    return _merge(requests)
