"""Group and meter table OpenFlow 1.3 messages: GROUP_MOD and METER_MOD.

Role: program the group table (select/all/indirect/fast-failover buckets) and
the meter table (rate limiting bands) of a switch (spec 1.3.5 §7.3.4.2,
§7.3.4.4). In the paper magma uses groups for a Personal Network's broadcast
domain and meters for per-user rate limits on quake. Part of ofp_lib.

Design: the bucket and band structures live in :mod:`openvolcano.ofp.structs`
(shared with the GROUP_DESC / METER_CONFIG multipart replies); these classes
only add the fixed header.

Invariants: ``decode_message(m.encode()) == m``; a malformed bucket raises
OFPET_GROUP_MOD_FAILED/OFPGMFC_BAD_BUCKET, an unknown band
OFPET_METER_MOD_FAILED/OFPMMFC_BAD_BAND, a short header
OFPET_BAD_REQUEST/OFPBRC_BAD_LEN.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar, Self

from openvolcano.ofp import consts as c
from openvolcano.ofp.base import Message, register
from openvolcano.ofp.structs import Bucket, MeterBand, decode_buckets, decode_meter_bands
from openvolcano.ofp.wire import Reader, check_uint

__all__ = ["GroupMod", "MeterMod"]

# struct ofp_group_mod {
#     struct ofp_header header;
#     uint16_t command;             /* One of OFPGC_*. */
#     uint8_t type;                 /* One of OFPGT_*. */
#     uint8_t pad;                  /* Pad to 64 bits. */
#     uint32_t group_id;            /* Group identifier. */
#     struct ofp_bucket buckets[0]; /* The length of the bucket array is inferred
#                                      from the length field in the header. */
# };
# OFP_ASSERT(sizeof(struct ofp_group_mod) == 16);
_GROUP_MOD = struct.Struct("!HBxI")
assert c.OFP_HEADER_LEN + _GROUP_MOD.size == c.OFP_GROUP_MOD_LEN == 16


@register
@dataclass(frozen=True, kw_only=True)
class GroupMod(Message):
    """OFPT_GROUP_MOD: ``command`` one of ``OFPGC_*``, ``type`` one of ``OFPGT_*``."""

    msg_type: ClassVar[int] = c.OFPT_GROUP_MOD
    command: int = c.OFPGC_ADD
    type: int = c.OFPGT_ALL
    group_id: int
    buckets: tuple[Bucket, ...] = ()

    def encode_body(self) -> bytes:
        check_uint("command", self.command, 16)
        check_uint("type", self.type, 8)
        check_uint("group_id", self.group_id, 32)
        return _GROUP_MOD.pack(self.command, self.type, self.group_id) + b"".join(
            b.encode() for b in self.buckets
        )

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        command, type_, group_id = r.unpack(_GROUP_MOD)
        return cls(
            xid=xid, command=command, type=type_, group_id=group_id, buckets=decode_buckets(r)
        )


# struct ofp_meter_mod {
#     struct ofp_header header;
#     uint16_t command;        /* One of OFPMC_*. */
#     uint16_t flags;          /* Bitmap of OFPMF_* flags. */
#     uint32_t meter_id;       /* Meter instance. */
#     struct ofp_meter_band_header bands[0]; /* The band list length is
#                                               inferred from the length field
#                                               in the header. */
# };
# OFP_ASSERT(sizeof(struct ofp_meter_mod) == 16);
_METER_MOD = struct.Struct("!HHI")
assert c.OFP_HEADER_LEN + _METER_MOD.size == c.OFP_METER_MOD_LEN == 16


@register
@dataclass(frozen=True, kw_only=True)
class MeterMod(Message):
    """OFPT_METER_MOD: ``command`` one of ``OFPMC_*``, ``flags`` a bitmap of ``OFPMF_*``."""

    msg_type: ClassVar[int] = c.OFPT_METER_MOD
    command: int = c.OFPMC_ADD
    flags: int = 0
    meter_id: int
    bands: tuple[MeterBand, ...] = ()

    def encode_body(self) -> bytes:
        check_uint("command", self.command, 16)
        check_uint("flags", self.flags, 16)
        check_uint("meter_id", self.meter_id, 32)
        return _METER_MOD.pack(self.command, self.flags, self.meter_id) + b"".join(
            b.encode() for b in self.bands
        )

    @classmethod
    def decode_body(cls, r: Reader, xid: int) -> Self:
        command, flags, meter_id = r.unpack(_METER_MOD)
        return cls(
            xid=xid, command=command, flags=flags, meter_id=meter_id, bands=decode_meter_bands(r)
        )
