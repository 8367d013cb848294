"""The Green Abstraction Layer data model (ETSI ES 203 237): resources, EASs, sensors.

Role: the vocabulary geyser shares with crater and cinder (paper section V).
A server is a hierarchy of *logical resources* with dotted ids rooted at
``"0"`` (the server): ``0.cpu3``, ``0.eth0``, ``0.quake``, ``0.quake.worker2``,
``0.vi-<id>``. Each resource offers *Energy-Aware States* (EASs): power-scaling
states and standby states, each saying what it gains in power and what it
costs in throughput and wake-up time. Sensors follow RFC 3433
(ENTITY-SENSOR-MIB) types and scales.

Design: frozen dataclasses and enums only; no I/O, no clock.

Invariants:

* :meth:`SensorScale.multiplier` is 10 ** (3 * (ordinal - 9)): units(9) is
  10^0, kilo(10) 10^3, milli(8) 10^-3, exa(14) 10^18 and peta(15) 10^15 are
  read from that *corrected* table (the RFC 3433 comments swapped exa and
  peta, and DROP used ``pow(10, ordinal)``; neither bug is repeated here).
  Note that after exa(14) and peta(15) the ordinals do not grow monotonically
  with the exponent, so the table is explicit.
* A sensor value is an int32 ``raw`` plus ``scale`` and ``precision``; the value
  in physical units is ``raw * multiplier(scale) * 10 ** -precision``.
* Every reading carries ``origin``: ``"measured"`` (read from hardware or the
  kernel) or ``"modelled"`` (computed, e.g. power from a load model).
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "EnergyAwareState",
    "Origin",
    "ResourceSpec",
    "SensorReading",
    "SensorRing",
    "SensorScale",
    "SensorSpec",
    "SensorStatus",
    "SensorType",
    "StateChange",
]

Origin = Literal["measured", "modelled"]


class SensorType(enum.IntEnum):
    """RFC 3433 EntitySensorDataType."""

    other = 1
    unknown = 2
    voltsAC = 3
    voltsDC = 4
    amperes = 5
    watts = 6
    hertz = 7
    celsius = 8
    percentRH = 9
    rpm = 10
    cmm = 11
    truthvalue = 12


_EXPONENT = {
    1: -24, 2: -21, 3: -18, 4: -15, 5: -12, 6: -9, 7: -6, 8: -3, 9: 0,
    10: 3, 11: 6, 12: 9, 13: 12, 14: 18, 15: 15, 16: 21, 17: 24,
}  # fmt: skip


class SensorScale(enum.IntEnum):
    """RFC 3433 EntitySensorDataScale (enum numbers kept; multipliers corrected)."""

    yocto = 1
    zepto = 2
    atto = 3
    femto = 4
    pico = 5
    nano = 6
    micro = 7
    milli = 8
    units = 9
    kilo = 10
    mega = 11
    giga = 12
    tera = 13
    exa = 14
    peta = 15
    zetta = 16
    yotta = 17

    @property
    def exponent(self) -> int:
        return _EXPONENT[int(self)]

    @property
    def multiplier(self) -> float:
        return float(10.0**self.exponent)


class SensorStatus(enum.IntEnum):
    """RFC 3433 EntitySensorStatus."""

    ok = 1
    unavailable = 2
    nonoperational = 3


INT32_MAX = 2**31 - 1


@dataclass(frozen=True, slots=True)
class SensorSpec:
    """A sensor's static description (RFC 3433 + GAL ``SensorResource``)."""

    name: str
    description: str
    type: SensorType
    scale: SensorScale
    precision: int
    refresh_rate_ms: int
    unit: str
    max_value: float | None = None

    def encode(self, value: float) -> int:
        """Physical value -> int32 raw (clamped), in this sensor's scale and precision."""
        raw = round(value / self.scale.multiplier * 10.0**self.precision)
        return max(-INT32_MAX - 1, min(INT32_MAX, raw))

    def decode(self, raw: int) -> float:
        """int32 raw -> physical value."""
        return raw * self.scale.multiplier / 10.0**self.precision


@dataclass(frozen=True, slots=True)
class SensorReading:
    """One sensor reading: status, raw int32, physical value, origin, time (monotonic s)."""

    status: SensorStatus
    raw: int
    value: float
    origin: Origin
    timestamp: float


class SensorRing:
    """A bounded history of readings: the oldest is dropped when full (ring buffer)."""

    def __init__(self, capacity: int) -> None:
        self._buf: deque[SensorReading] = deque(maxlen=max(1, capacity))

    def push(self, reading: SensorReading) -> None:
        self._buf.append(reading)

    def latest(self) -> SensorReading | None:
        return self._buf[-1] if self._buf else None

    def history(self) -> list[SensorReading]:
        return list(self._buf)


@dataclass(frozen=True, slots=True)
class EnergyAwareState:
    """One EAS. ``kind`` is ``"active"`` (full power), ``"scaling"`` or ``"standby"``.

    ``power_gain_pct`` is the saving versus full power (0..100),
    ``min_power_gain_pct`` the guaranteed minimum; throughputs are the maximum the
    resource forwards in this state (0 in standby). ``setting`` is what the
    actuator applies (number of workers, CPU quota in CPUs, governor name...).
    """

    id: int
    name: str
    kind: Literal["active", "scaling", "standby", "autonomic"]
    power_gain_pct: float
    min_power_gain_pct: float
    max_packet_throughput_pps: float
    max_bit_throughput_bps: float
    wakeup_time_s: float = 0.0
    sleeping_time_s: float = 0.0
    setting: str | int | float | None = None
    gain_origin: Origin = "modelled"


@dataclass(frozen=True, slots=True)
class StateChange:
    """One record of a resource's committed-EAS history."""

    timestamp: float
    state_id: int


@dataclass
class ResourceSpec:
    """A logical resource as discovered: id, kind, EASs (id -> EAS) and sensors."""

    id: str
    description: str
    type: str
    states: dict[int, EnergyAwareState]
    default_state: int
    sensors: dict[str, SensorSpec] = field(default_factory=dict)
    physical: str = ""
