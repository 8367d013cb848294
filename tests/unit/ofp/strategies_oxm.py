"""Hypothesis strategies for OXM TLVs, matches, actions and instructions.

Every strategy draws only *valid* values: OXM values within the field's bits,
masks only on maskable fields, SET_FIELD without masks, experimenter payloads
sized so the structure stays 8-byte aligned. The message and multipart
strategies import ``matches``, ``action_lists`` and ``instruction_lists`` from
here (``from strategies_oxm import ...``; pytest puts this directory on the path).
"""

from __future__ import annotations

from hypothesis import strategies as st

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
)
from openvolcano.ofp.instructions import (
    Instruction,
    InstructionApplyActions,
    InstructionClearActions,
    InstructionExperimenter,
    InstructionGotoTable,
    InstructionMeter,
    InstructionWriteActions,
    InstructionWriteMetadata,
)
from openvolcano.ofp.oxm import OXM_FIELDS, Match, Oxm, OxmExperimenter, OxmRaw, OxmTLV

__all__ = [
    "action_lists",
    "actions",
    "instruction_lists",
    "instructions",
    "matches",
    "oxm_tlvs",
    "oxms",
]


def uint(bits: int) -> st.SearchStrategy[int]:
    return st.integers(min_value=0, max_value=(1 << bits) - 1)


@st.composite
def oxm_tlvs(draw: st.DrawFn, *, masks: bool = True) -> OxmTLV:
    """A basic-class OXM TLV; masked (sometimes) only when the field is maskable."""
    f = OXM_FIELDS[draw(st.sampled_from(sorted(OXM_FIELDS)))]
    value = draw(uint(f.bits))
    mask = None
    if masks and f.maskable and draw(st.booleans()):
        mask = draw(uint(8 * f.width))
    return OxmTLV(field=f.field, value=value, mask=mask)


def oxm_experimenters() -> st.SearchStrategy[OxmExperimenter]:
    return st.builds(
        OxmExperimenter,
        field=uint(7),
        hasmask=st.booleans(),
        experimenter=uint(32),
        payload=st.binary(max_size=12),
    )


def oxm_raws() -> st.SearchStrategy[OxmRaw]:
    other_classes = st.one_of(
        st.sampled_from([c.OFPXMC_NXM_0, c.OFPXMC_NXM_1]), st.integers(2, 0x7FFF)
    )
    return st.builds(
        OxmRaw,
        oxm_class=other_classes,
        field=uint(7),
        hasmask=st.booleans(),
        payload=st.binary(max_size=16),
    )


def oxms(*, masks: bool = True) -> st.SearchStrategy[Oxm]:
    """Any OXM: mostly basic-class, sometimes experimenter or another class."""
    return st.one_of(oxm_tlvs(masks=masks), oxm_experimenters(), oxm_raws())


def _oxm_key(o: Oxm) -> tuple[int, ...]:
    if isinstance(o, OxmTLV):
        return (c.OFPXMC_OPENFLOW_BASIC, o.field)
    if isinstance(o, OxmExperimenter):
        return (o.oxm_class, o.field, o.experimenter)
    return (o.oxm_class, o.field)


def matches(*, max_fields: int = 8, basic_only: bool = False) -> st.SearchStrategy[Match]:
    """An OXM match with distinct fields (prerequisites are not enforced: that is the pipeline's)."""
    element = oxm_tlvs() if basic_only else oxms()
    return st.lists(element, max_size=max_fields, unique_by=_oxm_key).map(
        lambda fields: Match(fields=tuple(fields))
    )


def _aligned_data() -> st.SearchStrategy[bytes]:
    # 8-byte header + data must stay a multiple of 8.
    return st.integers(0, 3).flatmap(lambda n: st.binary(min_size=8 * n, max_size=8 * n))


def actions() -> st.SearchStrategy[Action]:
    """Any one action with valid arguments."""
    return st.one_of(
        st.builds(ActionOutput, port=uint(32), max_len=uint(16)),
        st.just(ActionCopyTtlOut()),
        st.just(ActionCopyTtlIn()),
        st.builds(ActionSetMplsTtl, mpls_ttl=uint(8)),
        st.just(ActionDecMplsTtl()),
        st.builds(ActionPushVlan, ethertype=st.sampled_from([0x8100, 0x88A8])),
        st.just(ActionPopVlan()),
        st.builds(ActionPushMpls, ethertype=st.sampled_from([0x8847, 0x8848])),
        st.builds(ActionPopMpls, ethertype=uint(16)),
        st.builds(ActionSetQueue, queue_id=uint(32)),
        st.builds(ActionGroup, group_id=uint(32)),
        st.builds(ActionSetNwTtl, nw_ttl=uint(8)),
        st.just(ActionDecNwTtl()),
        st.builds(ActionSetField, field=oxms(masks=False)),
        st.builds(ActionPushPbb, ethertype=st.just(0x88E7)),
        st.just(ActionPopPbb()),
        st.builds(ActionExperimenter, experimenter=uint(32), data=_aligned_data()),
    )


def action_lists(*, max_size: int = 6) -> st.SearchStrategy[tuple[Action, ...]]:
    return st.lists(actions(), max_size=max_size).map(tuple)


def instructions() -> st.SearchStrategy[Instruction]:
    """Any one instruction with valid arguments."""
    return st.one_of(
        st.builds(InstructionGotoTable, table_id=uint(8)),
        st.builds(InstructionWriteMetadata, metadata=uint(64), metadata_mask=uint(64)),
        st.builds(InstructionWriteActions, actions=action_lists(max_size=4)),
        st.builds(InstructionApplyActions, actions=action_lists(max_size=4)),
        st.just(InstructionClearActions()),
        st.builds(InstructionMeter, meter_id=uint(32)),
        st.builds(InstructionExperimenter, experimenter=uint(32), data=_aligned_data()),
    )


def instruction_lists(*, max_size: int = 4) -> st.SearchStrategy[tuple[Instruction, ...]]:
    """Instruction lists with each OFPIT type at most once, as a flow entry requires."""
    return st.lists(instructions(), max_size=max_size, unique_by=lambda i: i.instruction_type).map(
        tuple
    )
