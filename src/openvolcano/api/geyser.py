"""REST bodies of geyser's Green Abstraction Layer API (JSON profile).

Role: the contract between geyser (Caldera, one per server) and its clients
in StratoV (cinder polls sensors, crater provisions and commits EASs). The
control plane imports these models, never ``openvolcano.caldera``.

Design: pydantic models mirroring the GAL primitives of ETSI ES 203 237 (see
docs/geyser.md): discovery returns a :class:`Resource` (optionally with
children to a depth), provisioning takes a :class:`ProvisionRequest`,
commit/rollback/release return a :class:`ChangeResult`, monitoring returns
:class:`StateView` / :class:`SensorReading` and their histories.

Invariants: sensor ``type``/``scale`` use RFC 3433 names and codes; ``value``
is in physical units (``raw * 10**exponent(scale) * 10**-precision``);
``origin`` says whether a reading was measured or modelled.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChangeResult",
    "EnergyAwareState",
    "ErrorBody",
    "ProvisionRequest",
    "Resource",
    "SensorHistory",
    "SensorInfo",
    "SensorReading",
    "StateHistory",
    "StateHistoryEntry",
    "StateView",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EnergyAwareState(_Model):
    id: int
    name: str
    kind: Literal["active", "scaling", "standby", "autonomic"]
    power_gain_pct: float
    min_power_gain_pct: float
    max_packet_throughput_pps: float
    max_bit_throughput_bps: float
    wakeup_time_s: float
    sleeping_time_s: float
    setting: str | int | float | None
    gain_origin: Literal["measured", "modelled"]


class SensorInfo(_Model):
    id: str = Field(description="full dotted id: <resource id>.<sensor name>")
    name: str
    description: str
    type: str = Field(description="RFC 3433 EntitySensorDataType name")
    type_code: int
    scale: str = Field(description="RFC 3433 EntitySensorDataScale name")
    scale_code: int
    precision: int
    refresh_rate_ms: int
    unit: str
    max_value: float | None


class SensorReading(_Model):
    sensor: str
    status: Literal["ok", "unavailable", "nonoperational"]
    raw: int
    value: float
    unit: str
    origin: Literal["measured", "modelled"]
    timestamp: float = Field(description="geyser monotonic clock, seconds")


class Resource(_Model):
    id: str
    description: str
    type: str
    committed_state: int
    provisioned_state: int
    states: list[EnergyAwareState]
    sensors: list[SensorInfo]
    readings: list[SensorReading]
    child_ids: list[str]
    children: list[Resource] = Field(default_factory=list)


class ProvisionRequest(_Model):
    state_id: int = Field(ge=0, le=65535)


class ChangeResult(_Model):
    resource: str
    changed: list[str]


class StateView(_Model):
    resource: str
    committed: bool
    state: EnergyAwareState


class StateHistoryEntry(_Model):
    timestamp: float
    state_id: int


class StateHistory(_Model):
    resource: str
    history: list[StateHistoryEntry]


class SensorHistory(_Model):
    sensor: str
    readings: list[SensorReading]


class ErrorBody(_Model):
    error: str
    message: str
    details: dict[str, object] | None = None
