"""Golden cross-check of matches, actions and instructions against os-ken 4.2.2.

os-ken (an independent OpenFlow 1.3 implementation) serializes a FlowMod or a
PacketOut carrying every OXM basic field (exact and, where maskable, masked),
every action, every SET_FIELD target and every instruction it supports. We
slice the match / action / instruction bytes out of its message, decode them
with our codec, compare each value with what os-ken was given, and re-encode
to the identical bytes.

Not cross-checked here, with the reason (each is covered by hand-built vectors
in tests/unit/ofp/):

* ``InstructionExperimenter`` - os-ken 4.2.2's v1.3 parser has no
  OFPIT_EXPERIMENTER instruction class (asserted below, so this list goes
  stale loudly if it gains one).
* masks on non-maskable fields and masked SET_FIELD - invalid in OpenFlow 1.3;
  os-ken would emit them, we reject them by design (unit-tested).
"""

from __future__ import annotations

from typing import Any

import pytest
from os_ken.ofproto import ofproto_v1_3 as osk
from os_ken.ofproto import ofproto_v1_3_parser as oskp

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
    decode_actions,
    encode_actions,
)
from openvolcano.ofp.instructions import (
    InstructionApplyActions,
    InstructionClearActions,
    InstructionGotoTable,
    InstructionMeter,
    InstructionWriteActions,
    InstructionWriteMetadata,
    decode_instructions,
    encode_instructions,
)
from openvolcano.ofp.oxm import OXM_FIELDS, Match, OxmExperimenter, OxmField, OxmRaw, OxmTLV
from openvolcano.ofp.wire import Reader

FLOW_MOD_MATCH_OFFSET = 48  # ofp_flow_mod is 56 bytes including the 8-byte ofp_match head
PACKET_OUT_ACTIONS_OFFSET = 24  # sizeof(struct ofp_packet_out)


class _Datapath:
    """All os-ken's serialize() needs from a datapath."""

    ofproto = osk
    ofproto_parser = oskp


# Literal samples given to os-ken, and the ints they denote (written out, not computed by us).
# Masked values have no bits outside their mask: os-ken clears such bits when serializing.
TEXT_SAMPLES: dict[str, tuple[str, int]] = {
    "mac": ("aa:bb:cc:dd:ee:01", 0xAABBCCDDEE01),
    "ipv4": ("192.0.2.1", 0xC0000201),
    "ipv6": ("2001:db8::1", (0x20010DB8 << 96) | 1),
}
TEXT_MASKED: dict[str, tuple[str, int, str, int]] = {
    # kind: (value text, value int, mask text, mask int)
    "mac": ("aa:bb:cc:00:00:00", 0xAABBCC000000, "ff:ff:ff:00:00:00", 0xFFFFFF000000),
    "ipv4": ("192.0.0.0", 0xC0000000, "255.255.0.0", 0xFFFF0000),
    "ipv6": ("2001:db8::", 0x20010DB8 << 96, "ffff:ffff::", 0xFFFFFFFF << 96),
}
INT_VALUE = 0x0123456789ABCDEF
INT_MASK = 0xF0F0F0F0F0F0F0F0


def _sample(f: OxmField, masked: bool) -> tuple[Any, OxmTLV]:
    """(what os-ken is given, the TLV we expect to decode)."""
    if f.kind == "int":
        value = INT_VALUE & f.max_value
        if not masked:
            return value, OxmTLV(field=f.field, value=value)
        mask = INT_MASK & ((1 << 8 * f.width) - 1)
        return (value & mask, mask), OxmTLV(field=f.field, value=value & mask, mask=mask)
    if not masked:
        vtext, vint = TEXT_SAMPLES[f.kind]
        return vtext, OxmTLV(field=f.field, value=vint)
    vtext, vint, mtext, mint = TEXT_MASKED[f.kind]
    return (vtext, mtext), OxmTLV(field=f.field, value=vint, mask=mint)


def _flow_mod_tail(match: Any, instructions: list[Any]) -> bytes:
    msg = oskp.OFPFlowMod(_Datapath(), match=match, instructions=instructions)
    msg.serialize()
    return bytes(msg.buf)[FLOW_MOD_MATCH_OFFSET:]


def _packet_out_actions(actions: list[Any]) -> bytes:
    msg = oskp.OFPPacketOut(
        _Datapath(), buffer_id=c.OFP_NO_BUFFER, in_port=c.OFPP_CONTROLLER, actions=actions, data=b""
    )
    msg.serialize()
    buf = bytes(msg.buf)
    return buf[PACKET_OUT_ACTIONS_OFFSET : PACKET_OUT_ACTIONS_OFFSET + msg.actions_len]


def _decode_match(tail: bytes) -> tuple[Match, Reader]:
    r = Reader(tail)
    return Match.decode(r), r


CASES = [(f, False) for f in OXM_FIELDS.values()] + [
    (f, True) for f in OXM_FIELDS.values() if f.maskable
]


@pytest.mark.parametrize(
    ("f", "masked"), CASES, ids=[f"{f.name}{'/mask' if m else ''}" for f, m in CASES]
)
def test_each_match_field(f: OxmField, masked: bool) -> None:
    given, expected = _sample(f, masked)
    tail = _flow_mod_tail(oskp.OFPMatch(**{f.name: given}), [])
    match, r = _decode_match(tail)
    assert r.remaining() == 0
    assert match.fields == (expected,)
    assert match.encode() == tail


def _every_action() -> list[tuple[Any, Action]]:
    return [
        (oskp.OFPActionOutput(3, 0xFFE5), ActionOutput(port=3, max_len=0xFFE5)),
        (oskp.OFPActionOutput(c.OFPP_CONTROLLER, 0xFFFF), ActionOutput(port=c.OFPP_CONTROLLER)),
        (oskp.OFPActionCopyTtlOut(), ActionCopyTtlOut()),
        (oskp.OFPActionCopyTtlIn(), ActionCopyTtlIn()),
        (oskp.OFPActionSetMplsTtl(17), ActionSetMplsTtl(mpls_ttl=17)),
        (oskp.OFPActionDecMplsTtl(), ActionDecMplsTtl()),
        (oskp.OFPActionPushVlan(0x88A8), ActionPushVlan(ethertype=0x88A8)),
        (oskp.OFPActionPopVlan(), ActionPopVlan()),
        (oskp.OFPActionPushMpls(0x8848), ActionPushMpls(ethertype=0x8848)),
        (oskp.OFPActionPopMpls(0x86DD), ActionPopMpls(ethertype=0x86DD)),
        (oskp.OFPActionSetQueue(0xDEADBEEF), ActionSetQueue(queue_id=0xDEADBEEF)),
        (oskp.OFPActionGroup(77), ActionGroup(group_id=77)),
        (oskp.OFPActionSetNwTtl(255), ActionSetNwTtl(nw_ttl=255)),
        (oskp.OFPActionDecNwTtl(), ActionDecNwTtl()),
        (
            oskp.OFPActionSetField(ipv4_src="192.0.2.1"),
            ActionSetField(field=OxmTLV(field=c.OFPXMT_OFB_IPV4_SRC, value=0xC0000201)),
        ),
        (oskp.OFPActionPushPbb(0x88E7), ActionPushPbb(ethertype=0x88E7)),
        (oskp.OFPActionPopPbb(), ActionPopPbb()),
        # 0x2320 (Nicira) would be parsed as an NX action by os-ken; use a private id.
        (
            oskp.OFPActionExperimenterUnknown(0x00ABCDEF, b"12345678"),
            ActionExperimenter(experimenter=0x00ABCDEF, data=b"12345678"),
        ),
        (
            oskp.OFPActionExperimenterUnknown(0x00ABCDEF, b""),
            ActionExperimenter(experimenter=0x00ABCDEF),
        ),
    ]


def test_every_action_type_is_covered() -> None:
    types = {getattr(c, n) for n in dir(c) if n.startswith("OFPAT_")}
    assert {type(ours).action_type for _, ours in _every_action()} == types


@pytest.mark.parametrize(("theirs", "ours"), _every_action(), ids=lambda a: type(a).__name__)
def test_each_action(theirs: Any, ours: Action) -> None:
    wire = _packet_out_actions([theirs])
    assert decode_actions(Reader(wire)) == (ours,)
    assert ours.encode() == wire


def test_all_actions_in_one_list() -> None:
    pairs = _every_action()
    wire = _packet_out_actions([t for t, _ in pairs])
    ours = tuple(o for _, o in pairs)
    assert decode_actions(Reader(wire)) == ours
    assert encode_actions(ours) == wire


@pytest.mark.parametrize("f", list(OXM_FIELDS.values()), ids=lambda f: f.name)
def test_set_field_of_each_field(f: OxmField) -> None:
    given, expected = _sample(f, masked=False)
    wire = _packet_out_actions([oskp.OFPActionSetField(**{f.name: given})])
    assert decode_actions(Reader(wire)) == (ActionSetField(field=expected),)
    assert ActionSetField(field=expected).encode() == wire


def test_non_basic_oxm_classes_pass_through() -> None:
    # tcp_flags is an ONF experimenter OXM (EXT-109); xreg0 is class OFPXMC_PACKET_REGS (0x8001).
    tail = _flow_mod_tail(oskp.OFPMatch(in_port=1, tcp_flags=(0x12, 0x3F), xreg0=5), [])
    match, _ = _decode_match(tail)
    assert match.get("in_port") == OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=1)
    experimenter = next(o for o in match.fields if isinstance(o, OxmExperimenter))
    assert (experimenter.experimenter, experimenter.field, experimenter.hasmask) == (
        0x4F4E4600,
        42,
        True,
    )
    assert experimenter.payload == bytes.fromhex("0012003f")  # value, mask
    raw = next(o for o in match.fields if isinstance(o, OxmRaw))
    assert (raw.oxm_class, raw.field, raw.hasmask) == (0x8001, 0, False)
    assert raw.payload == (5).to_bytes(8, "big")
    assert match.encode() == tail


def test_wide_flow_mod_match_and_every_instruction() -> None:
    exact = {f.name: _sample(f, masked=False) for f in OXM_FIELDS.values()}
    actions = _every_action()
    theirs = [
        oskp.OFPInstructionMeter(9, osk.OFPIT_METER),
        oskp.OFPInstructionActions(osk.OFPIT_APPLY_ACTIONS, [t for t, _ in actions]),
        oskp.OFPInstructionActions(osk.OFPIT_CLEAR_ACTIONS, []),
        oskp.OFPInstructionActions(osk.OFPIT_WRITE_ACTIONS, [oskp.OFPActionGroup(4)]),
        oskp.OFPInstructionWriteMetadata(0xFEDCBA9876543210, 0xFFFF0000FFFF0000),
        oskp.OFPInstructionGotoTable(254),
    ]
    ours = (
        InstructionMeter(meter_id=9),
        InstructionApplyActions(actions=tuple(o for _, o in actions)),
        InstructionClearActions(),
        InstructionWriteActions(actions=(ActionGroup(group_id=4),)),
        InstructionWriteMetadata(metadata=0xFEDCBA9876543210, metadata_mask=0xFFFF0000FFFF0000),
        InstructionGotoTable(table_id=254),
    )
    tail = _flow_mod_tail(oskp.OFPMatch(**{k: v for k, (v, _) in exact.items()}), theirs)
    match, r = _decode_match(tail)
    # os-ken orders fields by number; compare as a mapping, then byte-for-byte.
    assert {o.field: o for o in match.fields if isinstance(o, OxmTLV)} == {
        t.field: t for _, t in exact.values()
    }
    assert len(match.fields) == len(OXM_FIELDS)
    assert decode_instructions(r) == ours
    assert match.encode() + encode_instructions(ours) == tail


def test_os_ken_still_lacks_an_experimenter_instruction() -> None:
    # Keeps the "not cross-checked" list in the module docstring honest.
    assert not hasattr(oskp, "OFPInstructionExperimenter")


@pytest.mark.parametrize("masked", [False, True], ids=["exact", "masked"])
def test_os_ken_parses_our_matches(masked: bool) -> None:
    fields = [f for f in OXM_FIELDS.values() if f.maskable or not masked]
    samples = {f.name: _sample(f, masked) for f in fields}
    ours = Match(fields=tuple(tlv for _, tlv in samples.values()))
    parsed = oskp.OFPMatch.parser(bytearray(ours.encode()), 0)
    assert dict(parsed.items()) == {name: given for name, (given, _) in samples.items()}


def test_os_ken_parses_our_actions_and_instructions() -> None:
    pairs = _every_action()
    wire = InstructionApplyActions(actions=tuple(o for _, o in pairs)).encode()
    parsed = oskp.OFPInstruction.parser(bytearray(wire), 0)
    assert parsed.type == c.OFPIT_APPLY_ACTIONS
    # Compare with os-ken's reading of its own serialization (its unserialized objects lack len).
    theirs = oskp.OFPInstruction.parser(
        bytearray(
            _flow_mod_tail(
                oskp.OFPMatch(),
                [oskp.OFPInstructionActions(osk.OFPIT_APPLY_ACTIONS, [t for t, _ in pairs])],
            )[8:]
        ),
        0,
    )
    assert [a.to_jsondict() for a in parsed.actions] == [a.to_jsondict() for a in theirs.actions]
    assert len(parsed.actions) == len(pairs)


def test_constants_agree_with_os_ken() -> None:
    # os-ken spells struct sizes OFP_*_SIZE where we use OFP_*_LEN, and keeps the pre-1.3.5
    # IANA-less port 6633 where 1.3.5 says OFP_TCP_PORT = 6653.
    differences = {}
    compared = 0
    for name in dir(osk):
        value = getattr(osk, name)
        if not name.startswith("OFP") or not isinstance(value, int):
            continue
        ours_name = name.replace("_SIZE", "_LEN") if name.startswith("OFP_") else name
        if hasattr(c, ours_name):
            compared += 1
            if getattr(c, ours_name) != value:
                differences[name] = (value, getattr(c, ours_name))
    assert differences == {"OFP_TCP_PORT": (6633, 6653)}
    assert compared > 400
