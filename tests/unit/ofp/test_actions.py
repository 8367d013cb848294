"""OFPAT_* actions: every type, hand-built wire vectors, every decode error."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies_oxm import action_lists, actions

from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import (
    Action,
    ActionCopyTtlIn,
    ActionCopyTtlOut,
    ActionDecMplsTtl,
    ActionDecNwTtl,
    ActionExperimenter,
    ActionGroup,
    ActionOutput,
    ActionPopMpls,
    ActionPopPbb,
    ActionPopVlan,
    ActionPushMpls,
    ActionPushPbb,
    ActionPushVlan,
    ActionSetField,
    ActionSetMplsTtl,
    ActionSetNwTtl,
    ActionSetQueue,
    decode_action,
    decode_actions,
    encode_actions,
)
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError
from openvolcano.ofp.oxm import OxmExperimenter, OxmRaw, OxmTLV, ipv4, ipv6, mac
from openvolcano.ofp.wire import Reader

# (action, exact wire bytes from the openflow.h struct layouts)
VECTORS: list[tuple[Action, str]] = [
    (ActionOutput(port=1, max_len=0xFFFF), "0000 0010 00000001 ffff 000000000000"),
    (ActionOutput(port=c.OFPP_CONTROLLER, max_len=128), "0000 0010 fffffffd 0080 000000000000"),
    (ActionCopyTtlOut(), "000b 0008 00000000"),
    (ActionCopyTtlIn(), "000c 0008 00000000"),
    (ActionSetMplsTtl(mpls_ttl=63), "000f 0008 3f 000000"),
    (ActionDecMplsTtl(), "0010 0008 00000000"),
    (ActionPushVlan(ethertype=0x8100), "0011 0008 8100 0000"),
    (ActionPopVlan(), "0012 0008 00000000"),
    (ActionPushMpls(ethertype=0x8847), "0013 0008 8847 0000"),
    (ActionPopMpls(ethertype=0x0800), "0014 0008 0800 0000"),
    (ActionSetQueue(queue_id=7), "0015 0008 00000007"),
    (ActionGroup(group_id=0xFFFFFF00), "0016 0008 ffffff00"),
    (ActionSetNwTtl(nw_ttl=64), "0017 0008 40 000000"),
    (ActionDecNwTtl(), "0018 0008 00000000"),
    (
        ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_IPV4_DST, value=ipv4("10.0.0.1"))),
        "0019 0010 80001804 0a000001 00000000",
    ),
    (
        ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_ETH_SRC, value=mac("aa:bb:cc:dd:ee:ff"))),
        "0019 0010 80000806 aabbccddeeff 0000",
    ),
    (
        ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_IPV6_DST, value=ipv6("::1"))),
        "0019 0018 80003610 00000000000000000000000000000001",
    ),
    (
        ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_VLAN_VID, value=0x1000 | 42)),
        "0019 0010 80000c02 102a 000000000000",
    ),
    (ActionPushPbb(ethertype=0x88E7), "001a 0008 88e7 0000"),
    (ActionPopPbb(), "001b 0008 00000000"),
    (ActionExperimenter(experimenter=0x2320), "ffff 0008 00002320"),
    (
        ActionExperimenter(experimenter=0x2320, data=bytes(range(8))),
        "ffff 0010 00002320 0001020304050607",
    ),
]


@pytest.mark.parametrize(("action", "hexwire"), VECTORS, ids=lambda v: type(v).__name__)
def test_exact_bytes_and_round_trip(action: Action, hexwire: str) -> None:
    wire = bytes.fromhex(hexwire.replace(" ", ""))
    assert action.encode() == wire
    r = Reader(wire)
    assert decode_action(r) == action
    assert r.remaining() == 0


def test_every_ofpat_type_has_a_class() -> None:
    types = {getattr(c, n) for n in dir(c) if n.startswith("OFPAT_")}
    assert {type(a).action_type for a, _ in VECTORS} == types


def test_set_field_carries_non_basic_oxms() -> None:
    for oxm in (
        OxmExperimenter(field=1, hasmask=False, experimenter=0xFF000001, payload=b"\x01"),
        OxmRaw(oxm_class=c.OFPXMC_NXM_1, field=16, hasmask=False, payload=b"\0\0\0\1"),
    ):
        a = ActionSetField(field=oxm)
        wire = a.encode()
        assert len(wire) % 8 == 0
        assert decode_actions(Reader(wire)) == (a,)


def test_action_list_round_trip_and_default_max_len() -> None:
    acts = (
        ActionPushVlan(ethertype=0x8100),
        ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_VLAN_VID, value=0x1005)),
        ActionOutput(port=c.OFPP_CONTROLLER),
    )
    wire = encode_actions(acts)
    assert len(wire) == 8 + 16 + 16
    assert decode_actions(Reader(wire)) == acts
    assert acts[2].max_len == c.OFPCML_NO_BUFFER


def _hdr(type_: int, length: int) -> bytes:
    return struct.pack("!HH", type_, length)


def _set_field(oxm: bytes, length: int | None = None) -> bytes:
    if length is None:
        length = 4 + len(oxm) + (-(4 + len(oxm)) % 8)
    return _hdr(c.OFPAT_SET_FIELD, length) + oxm + b"\0" * (length - 4 - len(oxm))


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\x00\x00", c.OFPBAC_BAD_LEN),
        (_hdr(c.OFPAT_OUTPUT, 16) + b"\0" * 4, c.OFPBAC_BAD_LEN),  # truncated
        (_hdr(c.OFPAT_POP_VLAN, 4), c.OFPBAC_BAD_LEN),
        (_hdr(c.OFPAT_POP_VLAN, 0) + b"\0" * 4, c.OFPBAC_BAD_LEN),
        (_hdr(c.OFPAT_EXPERIMENTER, 12) + b"\0" * 8, c.OFPBAC_BAD_LEN),  # not a multiple of 8
        (_hdr(c.OFPAT_OUTPUT, 8) + b"\0" * 4, c.OFPBAC_BAD_LEN),  # output is 16 bytes
        (_hdr(c.OFPAT_GROUP, 16) + b"\0" * 12, c.OFPBAC_BAD_LEN),
        (_hdr(1, 8) + b"\0" * 4, c.OFPBAC_BAD_TYPE),  # OF 1.0's SET_VLAN_VID
        (_hdr(28, 8) + b"\0" * 4, c.OFPBAC_BAD_TYPE),
        (_hdr(0xFFFE, 8) + b"\0" * 4, c.OFPBAC_BAD_TYPE),
        (_set_field(bytes.fromhex("80006404") + b"\0" * 4), c.OFPBAC_BAD_SET_TYPE),  # field 50
        (_set_field(bytes.fromhex("80000002") + b"\0" * 2), c.OFPBAC_BAD_SET_LEN),  # in_port len 2
        (_set_field(bytes.fromhex("8000000400000001"), 24), c.OFPBAC_BAD_SET_LEN),  # too padded
        (_set_field(bytes.fromhex("80000008") + b"\0" * 4), c.OFPBAC_BAD_SET_LEN),  # OXM past end
        (_set_field(bytes.fromhex("80001908") + b"\0" * 8), c.OFPBAC_BAD_SET_ARGUMENT),  # masked
        (_set_field(bytes.fromhex("80000e01") + b"\x09"), c.OFPBAC_BAD_SET_ARGUMENT),  # pcp 9
    ],
)
def test_decode_errors(data: bytes, code: int) -> None:
    with pytest.raises(OFPDecodeError) as ei:
        decode_actions(Reader(data))
    assert (ei.value.type, ei.value.code) == (c.OFPET_BAD_ACTION, code)
    assert c.error_name(ei.value.type, ei.value.code) in str(ei.value)


@pytest.mark.parametrize(
    "action",
    [
        ActionOutput(port=1 << 32),
        ActionOutput(port=1, max_len=-1),
        ActionSetMplsTtl(mpls_ttl=256),
        ActionPushVlan(ethertype=0x10000),
        ActionGroup(group_id=-1),
        ActionExperimenter(experimenter=1, data=b"\0" * 3),
        ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_IPV4_DST, value=1, mask=1)),
        ActionSetField(field=OxmTLV(field=99, value=1)),
    ],
)
def test_encode_errors(action: Action) -> None:
    with pytest.raises(OFPEncodeError):
        action.encode()


def _decode_error_type(data: bytes) -> int | None:
    """The OFPET type of the decode error ``data`` raises, None if it decodes."""
    try:
        decode_actions(Reader(data))
    except OFPDecodeError as e:
        return e.type
    return None


@given(action_lists())
def test_round_trip(acts: tuple[Action, ...]) -> None:
    wire = encode_actions(acts)
    assert len(wire) % 8 == 0
    assert decode_actions(Reader(wire)) == acts


@given(st.binary(max_size=48))
def test_random_bytes_only_raise_decode_errors(data: bytes) -> None:
    assert _decode_error_type(data) in (None, c.OFPET_BAD_ACTION)


@given(actions(), st.data())
def test_mutated_actions_only_raise_decode_errors(action: Action, data: st.DataObject) -> None:
    wire = bytearray(action.encode())
    i = data.draw(st.integers(0, len(wire) - 1))
    wire[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(wire)))
    assert _decode_error_type(bytes(wire[:cut])) in (None, c.OFPET_BAD_ACTION)
