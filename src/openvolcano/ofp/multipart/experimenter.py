"""Experimenter multipart messages (OFPMP_EXPERIMENTER).

Role: the escape hatch for vendor statistics; quake answers unknown
experimenters with an error, magma can still send and read them.

Design: the ``ofp_experimenter_multipart_header`` fields are flattened into
the request/reply, followed by opaque ``data`` that the codec does not
interpret (so it cannot be split into several messages).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.multipart.base import (
    MultipartReply,
    MultipartRequest,
    register_reply,
    register_request,
)
from openvolcano.ofp.wire import Reader, check_uint

__all__ = ["ExperimenterMultipartReply", "ExperimenterMultipartRequest"]

# struct ofp_experimenter_multipart_header {
#     uint32_t experimenter; /* Experimenter ID which takes the same form as in struct ofp_experimenter_header. */
#     uint32_t exp_type;     /* Experimenter defined. */
#     /* Experimenter-defined arbitrary additional data. */
# };
_EXP_MP_HEADER = struct.Struct("!II")
assert _EXP_MP_HEADER.size == c.OFP_EXPERIMENTER_MULTIPART_HEADER_LEN == 8


def _encode(experimenter: int, exp_type: int, data: bytes) -> bytes:
    return (
        _EXP_MP_HEADER.pack(
            check_uint("experimenter", experimenter, 32), check_uint("exp_type", exp_type, 32)
        )
        + data
    )


@register_request
@dataclass(frozen=True, kw_only=True)
class ExperimenterMultipartRequest(MultipartRequest):
    """OFPMP_EXPERIMENTER request: experimenter id, type and opaque data."""

    mp_type: ClassVar[int] = c.OFPMP_EXPERIMENTER
    experimenter: int
    exp_type: int
    data: bytes = b""

    def encode_mp_body(self) -> bytes:
        return _encode(self.experimenter, self.exp_type, self.data)

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        experimenter, exp_type = r.unpack(_EXP_MP_HEADER)
        return cls(
            xid=xid, flags=flags, experimenter=experimenter, exp_type=exp_type, data=r.rest()
        )


@register_reply
@dataclass(frozen=True, kw_only=True)
class ExperimenterMultipartReply(MultipartReply):
    """OFPMP_EXPERIMENTER reply: experimenter id, type and opaque data."""

    mp_type: ClassVar[int] = c.OFPMP_EXPERIMENTER
    experimenter: int
    exp_type: int
    data: bytes = b""

    def encode_mp_body(self) -> bytes:
        return _encode(self.experimenter, self.exp_type, self.data)

    @classmethod
    def decode_mp_body(cls, r: Reader, *, xid: int, flags: int) -> Self:
        experimenter, exp_type = r.unpack(_EXP_MP_HEADER)
        return cls(
            xid=xid, flags=flags, experimenter=experimenter, exp_type=exp_type, data=r.rest()
        )
