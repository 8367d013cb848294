"""geyser's configuration: what to watch, how to model power, which actuators to use.

Role: one TOML file per server (``openvolcano geyser --config FILE``); every
field has a default so geyser runs with no file at all (then it watches the
host, models power with the generic server model and actuates nothing but what
it can detect).

Example::

    refresh_s = 1.0
    [power]                   # per server model; used where hardware reports no power
    model = "edge-2u"
    idle_w = 55.0
    max_w = 180.0
    standby_w = 6.0
    wakeup_s = 12.0
    sleep_s = 4.0
    [quake]
    url = "http://127.0.0.1:8282"   # quake's management API (GET/PUT /workers)
    timeout_s = 2.0
    [[virtual_images]]
    id = "alice-nas"
    cgroup = "openvolcano/vi-alice-nas"
    quotas = [1.0, 0.5, 0.2]
    [[processes]]
    name = "dnsmasq"
    pid = 812
    [standby]
    mode = "emulated"         # "none" | "suspend" | "emulated"
    cgroup = "openvolcano/server1"  # emulated: the server's processes (freezer cgroup)
    ports = ["eth0"]                # emulated: the server's interfaces, set down
    netns = "ovl-server1-3fa9"      # emulated: namespace holding the ports ("" = this one)
    freeze_timeout_s = 5.0
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from openvolcano.common.errors import InvalidInput

__all__ = ["GeyserConfig", "PowerModelConfig", "load_config"]

NAME = r"^[a-z0-9][a-z0-9_-]{0,62}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PowerModelConfig(_Strict):
    """Linear server power model: ``idle_w + (max_w - idle_w) * cpu_utilisation``."""

    model: str = "generic-server"
    idle_w: float = Field(default=60.0, ge=0)
    max_w: float = Field(default=150.0, gt=0)
    standby_w: float = Field(default=5.0, ge=0)
    wakeup_s: float = Field(default=10.0, ge=0)
    sleep_s: float = Field(default=3.0, ge=0)
    max_bit_throughput_bps: float = Field(default=10e9, ge=0)
    max_packet_throughput_pps: float = Field(default=14.88e6, ge=0)


class QuakeConfig(_Strict):
    url: str
    timeout_s: float = Field(default=2.0, gt=0, le=60)


class VirtualImageConfig(_Strict):
    id: str = Field(pattern=NAME)
    cgroup: str
    quotas: list[float] = Field(default_factory=lambda: [1.0, 0.5, 0.2])


class ProcessConfig(_Strict):
    name: str = Field(pattern=NAME)
    pid: int = Field(gt=0)


class StandbyConfig(_Strict):
    """Server standby. ``emulated``: the server is the processes in ``cgroup``
    (relative to the freezer hierarchy) plus the interfaces ``ports`` (in
    network namespace ``netns`` if set); standby freezes the one and sets the
    others down."""

    mode: Literal["none", "suspend", "emulated"] = "none"
    cgroup: str = ""
    ports: list[str] = Field(default_factory=list)
    netns: str = ""
    freeze_timeout_s: float = Field(default=5.0, gt=0, le=60)

    @model_validator(mode="after")
    def _emulated_needs_a_cgroup(self) -> StandbyConfig:
        if self.mode == "emulated" and not self.cgroup:
            raise ValueError("mode 'emulated' needs 'cgroup' (the server's cgroup to freeze)")
        return self


class GeyserConfig(_Strict):
    refresh_s: float = Field(default=1.0, gt=0)
    history: int = Field(default=120, ge=1, le=100_000)
    root: str = "/"
    cgroup_root: str = "/sys/fs/cgroup"
    interfaces: list[str] | None = None
    power: PowerModelConfig = Field(default_factory=PowerModelConfig)
    quake: QuakeConfig | None = None
    virtual_images: list[VirtualImageConfig] = Field(default_factory=list)
    processes: list[ProcessConfig] = Field(default_factory=list)
    standby: StandbyConfig = Field(default_factory=StandbyConfig)


def load_config(path: Path | None) -> GeyserConfig:
    """Read and validate a TOML config (None -> all defaults); errors name the problem."""
    if path is None:
        return GeyserConfig()
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"cannot read geyser config {str(path)!r}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"geyser config {str(path)!r} is not valid TOML: {exc}") from None
    try:
        return GeyserConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InvalidInput(f"geyser config {str(path)!r}: {where}: {first['msg']}") from None
