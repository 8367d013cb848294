"""Match validation and normalisation: an ``ofp.oxm.Match`` -> the classifier's ``MatchKey``.

Role: every flow-mod's match passes through :func:`normalize` before it
reaches a flow table. The codec's ``OXM_FIELDS`` table (widths,
maskability, OpenFlow 1.3.5 table-12 prerequisites) is the single source of
truth; this module applies it with the spec's error codes:

* a non-basic (experimenter) field -> ``OFPBMC_BAD_FIELD``;
* the same field twice -> ``OFPBMC_DUP_FIELD``;
* a mask on a non-maskable field -> ``OFPBMC_BAD_MASK``;
* a value or mask wider than the field -> ``OFPBMC_BAD_VALUE`` / ``OFPBMC_BAD_MASK``;
* a value bit set where the mask is 0 -> ``OFPBMC_BAD_WILDCARDS`` (spec §7.2.3.5);
* an unmet prerequisite -> ``OFPBMC_BAD_PREREQ``.

Normal form (``MatchKey``): ``((field, value, mask), ...)`` sorted by field,
exact fields carry the all-ones mask, all-zero masks are dropped (they
match anything), so two matches that select the same packets compare equal.
That is what "identical match" means for ADD/strict commands.

Also here: :data:`SETTABLE` (the fields set-field may write) and the
relations the flow-table commands need (:func:`covers`, :func:`overlaps`).
"""

from __future__ import annotations

from openvolcano.ofp import consts as c
from openvolcano.ofp.oxm import Match, OxmTLV
from openvolcano.ofp.oxm_fields import OXM_FIELDS

from .classifier import MatchKey
from .errors import PipelineError

__all__ = ["SETTABLE", "covers", "normalize", "overlaps", "prereq_met"]

#: Fields OFPAT_SET_FIELD may write (not in_port/in_phy_port/metadata/tunnel_id/mpls_bos/exthdr).
SETTABLE = frozenset(OXM_FIELDS) - {
    c.OFPXMT_OFB_IN_PORT,
    c.OFPXMT_OFB_IN_PHY_PORT,
    c.OFPXMT_OFB_METADATA,
    c.OFPXMT_OFB_TUNNEL_ID,
    c.OFPXMT_OFB_MPLS_BOS,
    c.OFPXMT_OFB_IPV6_EXTHDR,
}


def _bad(code: int, reason: str) -> PipelineError:
    return PipelineError(c.OFPET_BAD_MATCH, code, reason)


# field -> (max_value, maskable): one probe instead of an OxmField attribute walk.
_LIMITS: dict[int, tuple[int, bool]] = {f: (i.max_value, i.maskable) for f, i in OXM_FIELDS.items()}
# Fields other fields' prerequisites name with values: their value/mask decide the outcome.
_PRE_TARGETS = frozenset(
    p.field for i in OXM_FIELDS.values() for p in i.prereqs if p.values is not None
)
# Prerequisite outcome per match *shape* (fields in wire order, values of the targets):
# None = all met, else the BAD_PREREQ reason. Bounded: cleared when full.
_PREREQ_CACHE: dict[tuple[object, ...], str | None] = {}
_PREREQ_CACHE_MAX = 4096


def normalize(match: Match) -> MatchKey:
    """Validate ``match`` and return its normal form; raises :class:`PipelineError`."""
    seen: set[int] = set()
    out: list[tuple[int, int, int]] = []
    shape: list[object] = []
    limits = _LIMITS
    targets = _PRE_TARGETS
    for oxm in match.fields:
        if type(oxm) is not OxmTLV and not isinstance(oxm, OxmTLV):
            raise _bad(c.OFPBMC_BAD_FIELD, f"unsupported match field {oxm}")
        f = oxm.field
        lim = limits.get(f)
        if lim is None:
            raise _bad(c.OFPBMC_BAD_FIELD, f"unsupported match field {oxm}")
        if f in seen:
            raise _bad(c.OFPBMC_DUP_FIELD, f"{OXM_FIELDS[f].name} appears twice")
        seen.add(f)
        full, maskable = lim
        value = oxm.value
        if value < 0 or value > full:
            info = OXM_FIELDS[f]
            raise _bad(c.OFPBMC_BAD_VALUE, f"{info.name}={value:#x} wider than {info.bits} bits")
        mask = oxm.mask
        if mask is None:
            out.append((f, value, full))
        else:
            name = OXM_FIELDS[f].name
            if not maskable:
                raise _bad(c.OFPBMC_BAD_MASK, f"{name} cannot be masked")
            if mask < 0 or mask > full:
                raise _bad(c.OFPBMC_BAD_MASK, f"{name} mask {mask:#x} too wide")
            if value & ~mask:
                raise _bad(
                    c.OFPBMC_BAD_WILDCARDS,
                    f"{name} value {value:#x} has bits outside mask {mask:#x}",
                )
            if mask:
                out.append((f, value, mask))
        shape.append((f, value, mask) if f in targets else f)
    sk = tuple(shape)
    cache = _PREREQ_CACHE
    if sk in cache:
        reason = cache[sk]
    else:
        unmet = match.unmet_prerequisite()
        reason = None
        if unmet is not None:
            tlv, pre = unmet
            reason = f"{tlv.name} needs {OXM_FIELDS[pre.field].name} in {pre.values}"
        if len(cache) >= _PREREQ_CACHE_MAX:
            cache.clear()
        cache[sk] = reason
    if reason is not None:
        raise _bad(c.OFPBMC_BAD_PREREQ, reason)
    out.sort()
    return tuple(out)


def covers(general: MatchKey, specific: MatchKey) -> bool:
    """True if every packet matching ``specific`` matches ``general`` (non-strict selection)."""
    spec = {f: (v, m) for f, v, m in specific}
    for f, v, m in general:
        have = spec.get(f)
        if have is None:
            return False
        sv, sm = have
        if sm & m != m or sv & m != v:
            return False
    return True


def overlaps(a: MatchKey, b: MatchKey) -> bool:
    """True if some packet could match both (CHECK_OVERLAP)."""
    bd = {f: (v, m) for f, v, m in b}
    for f, v, m in a:
        other = bd.get(f)
        if other is not None and (v ^ other[0]) & m & other[1]:
            return False
    return True


def prereq_met(match: MatchKey, field: int) -> bool:
    """Whether a match pins the prerequisites of ``field`` (used for set-field checks)."""
    md = {f: (v, m) for f, v, m in match}
    for pre in OXM_FIELDS[field].prereqs:
        have = md.get(pre.field)
        if have is None:
            return False
        if pre.values is None:
            continue
        need = pre.mask if pre.mask is not None else OXM_FIELDS[pre.field].max_value
        v, m = have
        if m & need != need or (v & need) not in pre.values:
            return False
        if not prereq_met(match, pre.field):
            return False
    return True
