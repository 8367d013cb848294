"""OpenFlow 1.3 meters: token-bucket rate limiters with DROP and DSCP_REMARK bands.

Role: a flow's OFPIT_METER instruction sends its packets through a meter
before its actions (spec §5.7). Each band is a token bucket driven by the
``now`` the caller passes in (no clock reads here):

* KBPS meters count bits (a band of rate R kb/s refills R*1000 bits per
  second, a packet costs 8*len bits); PKTPS meters count packets;
* bucket depth is ``burst_size`` (kbits or packets) with OFPMF_BURST, else
  one second's worth of the band's rate;
* every band measures every packet entering the meter: a band whose
  bucket holds the packet's cost consumes it, otherwise the band is
  *exceeded*. The band applied is the exceeded band with the highest rate
  (spec: "the band with the highest configured rate lower than the current
  measured rate"); none exceeded means the packet passes unchanged.
* DROP discards; DSCP_REMARK raises the drop precedence of the packet's
  DSCP (the AF "dp" bits, DSCP bits 1-2) by ``prec_level``, capped at 3.

Invariant: buckets never exceed their depth and never go negative; time
going backwards refills nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openvolcano.ofp import consts as c
from openvolcano.ofp.messages import MeterMod
from openvolcano.ofp.structs import MeterBand, MeterBandDrop, MeterBandDscpRemark

from .errors import PipelineError

__all__ = ["MAX_BANDS", "MAX_METERS", "Band", "Meter", "Verdict", "validate_meter_mod"]

MAX_METERS = 65536
MAX_BANDS = 8

# (kind, prec_level): ("pass", 0), ("drop", 0) or ("remark", prec_level)
Verdict = tuple[str, int]
PASS: Verdict = ("pass", 0)


@dataclass(eq=False)
class Band:
    spec: MeterBand
    depth: float
    refill: float  # tokens per second
    tokens: float
    packet_count: int = 0
    byte_count: int = 0


@dataclass(eq=False)
class Meter:
    meter_id: int
    flags: int
    bands_spec: tuple[MeterBand, ...]
    created: float
    last: float
    bands: list[Band] = field(default_factory=list)
    packet_in_count: int = 0
    byte_in_count: int = 0

    @classmethod
    def build(cls, mod: MeterMod, now: float) -> Meter:
        m = cls(mod.meter_id, mod.flags, mod.bands, now, now)
        kbps = bool(mod.flags & c.OFPMF_KBPS)
        for b in sorted(mod.bands, key=lambda b: b.rate):
            unit = 1000.0 if kbps else 1.0
            burst = b.burst_size if mod.flags & c.OFPMF_BURST and b.burst_size else b.rate
            depth = burst * unit
            m.bands.append(Band(b, depth, b.rate * unit, depth))
        return m

    def apply(self, length: int, now: float) -> Verdict:
        """Meter one packet of ``length`` bytes at time ``now``."""
        dt = max(0.0, now - self.last)
        self.last = max(self.last, now)
        self.packet_in_count += 1
        self.byte_in_count += length
        cost = float(length * 8) if self.flags & c.OFPMF_KBPS else 1.0
        hit: Band | None = None
        for band in self.bands:  # ascending rate: the last exceeded one wins
            band.tokens = min(band.depth, band.tokens + band.refill * dt)
            if band.tokens >= cost:
                band.tokens -= cost
            else:
                hit = band
        if hit is None:
            return PASS
        hit.packet_count += 1
        hit.byte_count += length
        if isinstance(hit.spec, MeterBandDscpRemark):
            return ("remark", hit.spec.prec_level)
        return ("drop", 0)


def validate_meter_mod(mod: MeterMod, exists: bool, n_meters: int) -> None:
    """Raise the spec's OFPET_METER_MOD_FAILED error for an unacceptable METER_MOD."""

    def bad(code: int, reason: str) -> PipelineError:
        return PipelineError(c.OFPET_METER_MOD_FAILED, code, reason)

    if mod.command not in (c.OFPMC_ADD, c.OFPMC_MODIFY, c.OFPMC_DELETE):
        raise bad(c.OFPMMFC_BAD_COMMAND, f"unknown meter command {mod.command}")
    if mod.command == c.OFPMC_DELETE:
        if mod.meter_id != c.OFPM_ALL and not 1 <= mod.meter_id <= c.OFPM_MAX:
            raise bad(c.OFPMMFC_INVALID_METER, f"meter id {mod.meter_id:#x}")
        return
    if not 1 <= mod.meter_id <= c.OFPM_MAX:
        raise bad(c.OFPMMFC_INVALID_METER, f"meter id {mod.meter_id:#x} is not a flow meter")
    if mod.command == c.OFPMC_ADD and exists:
        raise bad(c.OFPMMFC_METER_EXISTS, f"meter {mod.meter_id} exists")
    if mod.command == c.OFPMC_MODIFY and not exists:
        raise bad(c.OFPMMFC_UNKNOWN_METER, f"meter {mod.meter_id} does not exist")
    if mod.command == c.OFPMC_ADD and n_meters >= MAX_METERS:
        raise bad(c.OFPMMFC_OUT_OF_METERS, f"{MAX_METERS} meters already")
    rate_flags = mod.flags & (c.OFPMF_KBPS | c.OFPMF_PKTPS)
    known = c.OFPMF_KBPS | c.OFPMF_PKTPS | c.OFPMF_BURST | c.OFPMF_STATS
    if rate_flags in (0, c.OFPMF_KBPS | c.OFPMF_PKTPS) or mod.flags & ~known:
        raise bad(
            c.OFPMMFC_BAD_FLAGS, f"meter flags {mod.flags:#x}: need exactly one of KBPS/PKTPS"
        )
    if len(mod.bands) > MAX_BANDS:
        raise bad(c.OFPMMFC_OUT_OF_BANDS, f"{len(mod.bands)} bands, at most {MAX_BANDS}")
    for b in mod.bands:
        if not isinstance(b, (MeterBandDrop, MeterBandDscpRemark)):
            raise bad(c.OFPMMFC_BAD_BAND, "experimenter bands are not supported")
        if b.rate == 0:
            raise bad(c.OFPMMFC_BAD_RATE, "band rate 0")
        if mod.flags & c.OFPMF_BURST and b.burst_size == 0:
            raise bad(c.OFPMMFC_BAD_BURST, "OFPMF_BURST with burst_size 0")
        if isinstance(b, MeterBandDscpRemark) and not 1 <= b.prec_level <= 3:
            raise bad(c.OFPMMFC_BAD_BAND_VALUE, f"prec_level {b.prec_level} not in 1..3")
