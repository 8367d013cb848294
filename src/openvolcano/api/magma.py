"""REST bodies, desired-state models and events of magma, StratoV's OpenFlow controller.

Role: magma is the Commit stage for the network (paper section IV): the rest
of StratoV (crater through conduit) hands it the *desired* flows, groups and
meters of every switch, grouped by **owner** (one Personal Network, or a
system function such as topology discovery), and magma keeps every switch
equal to that. This module is the vocabulary: the desired state in a
readable JSON form, the read views of the REST API, and the typed events
magma publishes (switch/link/host up, down, moved; packet-in; errors).

Design: match fields are ``{name: value}`` or ``{name: "value/mask"}`` with
names and text forms as in :mod:`openvolcano.ofp.oxm_fields` (``"eth_dst":
"02:00:00:00:00:01"``, ``"ipv4_dst": "10.1.0.0/255.255.0.0"``); actions and
instructions are small tagged models (``{"type": "output", "port": 2}``).
Validation is complete at parse time (unknown field, bad value, mask on an
unmaskable field, missing prerequisite, out-of-range ids): a malformed flow
is a 422 with a message naming the problem and never reaches a switch.
magma converts these models to and from :mod:`openvolcano.ofp` objects.

Invariants: every model is frozen and forbids unknown keys; datapath ids
are normalised to 16 lower-case hex digits; no I/O here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from openvolcano.ofp.oxm import Match, OxmTLV
from openvolcano.ofp.oxm_fields import OXM_FIELDS_BY_NAME, OxmField, parse_value

__all__ = [
    "OWNER_PATTERN",
    "Action",
    "ApplyActions",
    "ClearActions",
    "DecNwTtlAction",
    "DesiredBucket",
    "DesiredFlow",
    "DesiredGroup",
    "DesiredMeter",
    "ErrorRecord",
    "FlowRemovedEvent",
    "FlowView",
    "FlowsReport",
    "GotoTable",
    "GroupAction",
    "HostInfo",
    "HostMoved",
    "HostSeen",
    "Instruction",
    "LinkDown",
    "LinkInfo",
    "LinkUp",
    "MagmaEvent",
    "MeterBand",
    "MeterInstruction",
    "OutputAction",
    "OwnerState",
    "PacketInReceived",
    "PopVlanAction",
    "PortInfo",
    "PortStatusChanged",
    "PushVlanAction",
    "RoleInfo",
    "SetFieldAction",
    "SetQueueAction",
    "SwitchDown",
    "SwitchError",
    "SwitchInfo",
    "SwitchRules",
    "SwitchUp",
    "WriteActions",
    "WriteMetadata",
    "format_dpid",
    "parse_dpid",
    "parse_match",
]

#: Owner names: PN ids, "magma-topology", ... (they end up in logs and URLs).
OWNER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
OwnerName = Annotated[str, Field(pattern=OWNER_PATTERN)]

_OFPP_MAX = 0xFFFFFF00
_OFPG_MAX = 0xFFFFFF00
_OFPM_MAX = 0xFFFF0000
_U16 = 0xFFFF
_U32 = 0xFFFFFFFF
_U64 = (1 << 64) - 1
_MAX_TABLE = 254
_NAME_BY_NUMBER = {f.field: f.name for f in OXM_FIELDS_BY_NAME.values()}


def parse_dpid(text: str | int) -> int:
    """A datapath id from ``"0000000000000001"``, ``"0x1"``, ``"00:00:..:01"`` or an int."""
    if isinstance(text, bool):
        raise ValueError("datapath id: expected a hex string or an int")
    if isinstance(text, int):
        value = text
    else:
        s = text.strip().lower().replace(":", "")
        try:
            value = int(s, 16)
        except ValueError:
            raise ValueError(f"datapath id {text!r}: expected up to 16 hex digits") from None
    if not 0 <= value <= _U64:
        raise ValueError(f"datapath id {text!r} does not fit in 64 bits")
    return value


def format_dpid(dpid: int) -> str:
    return f"{dpid:016x}"


def _ipv4_fast(text: str) -> int | None:
    """Dotted-quad IPv4 without ``ipaddress`` (None: let the full parser judge it)."""
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for p in parts:
        if not p.isdigit() or not p.isascii() or len(p) > 3 or (len(p) > 1 and p[0] == "0"):
            return None
        octet = int(p)
        if octet > 255:
            return None
        value = value << 8 | octet
    return value


def _value(f: OxmField, raw: int | str) -> int:
    if isinstance(raw, str) and f.kind == "ipv4":
        fast = _ipv4_fast(raw)
        if fast is not None:
            return fast
    return parse_value(f, raw)


def parse_match(spec: dict[str, int | str]) -> Match:
    """The ofp :class:`Match` of a JSON match; ``ValueError`` naming the bad field."""
    tlvs: list[OxmTLV] = []
    for name, raw in spec.items():
        f = OXM_FIELDS_BY_NAME.get(name)
        if f is None:
            known = ", ".join(OXM_FIELDS_BY_NAME)
            raise ValueError(f"unknown match field {name!r} (known: {known})")
        try:
            mask: int | None = None
            if isinstance(raw, str) and "/" in raw:
                text, mask_text = raw.split("/", 1)
                if not f.maskable:
                    raise ValueError("this field cannot be masked")
                value, mask = _value(f, text.strip()), _value(f, mask_text.strip())
            else:
                value = _value(f, raw)
        except (ValueError, TypeError) as e:
            raise ValueError(f"match field {name}={raw!r}: {e}") from None
        top = 1 << f.bits
        if not 0 <= value < top or (mask is not None and not 0 <= mask < 1 << (8 * f.width)):
            raise ValueError(f"match {spec}: {name} value does not fit in {f.bits} bits")
        tlvs.append(OxmTLV(field=f.field, value=value, mask=mask))
    match = Match(fields=tuple(tlvs))
    unmet = match.unmet_prerequisite()
    if unmet is not None:
        tlv, pre = unmet
        need = _NAME_BY_NUMBER[pre.field]
        values = "" if pre.values is None else f" = one of {[hex(v) for v in pre.values]}"
        raise ValueError(f"match field {tlv.name} needs {need}{values} in the match")
    return match


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# -- actions ------------------------------------------------------------------------

PortSpec = int | Literal["controller", "flood", "all", "in_port", "local", "table"]


class OutputAction(_Model):
    """Send out of ``port`` (a number or a reserved name); ``max_len`` only for controller."""

    type: Literal["output"] = "output"
    port: PortSpec
    max_len: int | None = Field(default=None, ge=0, le=_U16)

    @field_validator("port")
    @classmethod
    def _port(cls, v: PortSpec) -> PortSpec:
        if isinstance(v, int) and not 1 <= v <= _OFPP_MAX:
            raise ValueError(f"port {v}: physical ports are 1..{_OFPP_MAX}")
        return v


class SetFieldAction(_Model):
    """Rewrite header field ``field`` (a match-field name) to ``value``."""

    type: Literal["set_field"] = "set_field"
    field: str
    value: int | str

    @model_validator(mode="after")
    def _check(self) -> SetFieldAction:
        f = OXM_FIELDS_BY_NAME.get(self.field)
        if f is None:
            raise ValueError(f"set_field: unknown field {self.field!r}")
        try:
            v = parse_value(f, self.value)
        except (ValueError, TypeError) as e:
            raise ValueError(f"set_field {self.field}={self.value!r}: {e}") from None
        if not 0 <= v <= f.max_value:
            raise ValueError(f"set_field {self.field}={self.value!r}: out of range")
        return self


class GroupAction(_Model):
    type: Literal["group"] = "group"
    group_id: int = Field(ge=0, le=_OFPG_MAX)


class PushVlanAction(_Model):
    type: Literal["push_vlan"] = "push_vlan"
    ethertype: Literal[0x8100, 0x88A8] = 0x8100


class PopVlanAction(_Model):
    type: Literal["pop_vlan"] = "pop_vlan"


class SetQueueAction(_Model):
    type: Literal["set_queue"] = "set_queue"
    queue_id: int = Field(ge=0, le=_U32)


class DecNwTtlAction(_Model):
    type: Literal["dec_nw_ttl"] = "dec_nw_ttl"


Action = Annotated[
    OutputAction
    | SetFieldAction
    | GroupAction
    | PushVlanAction
    | PopVlanAction
    | SetQueueAction
    | DecNwTtlAction,
    Field(discriminator="type"),
]


# -- instructions ---------------------------------------------------------------------


class ApplyActions(_Model):
    type: Literal["apply_actions"] = "apply_actions"
    actions: tuple[Action, ...] = ()


class WriteActions(_Model):
    type: Literal["write_actions"] = "write_actions"
    actions: tuple[Action, ...] = ()


class ClearActions(_Model):
    type: Literal["clear_actions"] = "clear_actions"


class GotoTable(_Model):
    type: Literal["goto_table"] = "goto_table"
    table_id: int = Field(ge=1, le=_MAX_TABLE)


class WriteMetadata(_Model):
    type: Literal["write_metadata"] = "write_metadata"
    metadata: int = Field(ge=0, le=_U64)
    mask: int = Field(default=_U64, ge=0, le=_U64)


class MeterInstruction(_Model):
    type: Literal["meter"] = "meter"
    meter_id: int = Field(ge=1, le=_OFPM_MAX)


Instruction = Annotated[
    ApplyActions | WriteActions | ClearActions | GotoTable | WriteMetadata | MeterInstruction,
    Field(discriminator="type"),
]


# -- desired state ----------------------------------------------------------------------


class DesiredFlow(_Model):
    """One permanent flow entry (magma re-installs what disappears: no timeouts here).

    An empty ``instructions`` list drops matching packets.
    """

    table_id: int = Field(default=0, ge=0, le=_MAX_TABLE)
    priority: int = Field(default=0x8000, ge=0, le=_U16)
    match: dict[str, int | str] = Field(default_factory=dict)
    instructions: tuple[Instruction, ...] = ()
    send_flow_removed: bool = False

    @model_validator(mode="after")
    def _check(self) -> DesiredFlow:
        parse_match(self.match)
        kinds = [i.type for i in self.instructions]
        dup = {k for k in kinds if kinds.count(k) > 1}
        if dup:
            raise ValueError(f"instruction {sorted(dup)[0]} appears more than once")
        for i in self.instructions:
            if isinstance(i, GotoTable) and i.table_id <= self.table_id:
                raise ValueError(
                    f"goto_table {i.table_id} from table {self.table_id}: must go forward"
                )
        return self


class DesiredBucket(_Model):
    weight: int = Field(default=0, ge=0, le=_U16)
    watch_port: int | None = Field(default=None, ge=1, le=_OFPP_MAX)
    watch_group: int | None = Field(default=None, ge=0, le=_OFPG_MAX)
    actions: tuple[Action, ...] = ()


class DesiredGroup(_Model):
    group_id: int = Field(ge=0, le=_OFPG_MAX)
    type: Literal["all", "select", "indirect", "fast_failover"] = "all"
    buckets: tuple[DesiredBucket, ...] = ()

    @model_validator(mode="after")
    def _check(self) -> DesiredGroup:
        if self.type == "indirect" and len(self.buckets) != 1:
            raise ValueError(f"group {self.group_id}: an indirect group has exactly one bucket")
        return self


class MeterBand(_Model):
    type: Literal["drop", "dscp_remark"] = "drop"
    rate: int = Field(ge=1, le=_U32)
    burst_size: int = Field(default=0, ge=0, le=_U32)
    prec_level: int = Field(default=0, ge=0, le=63)


class DesiredMeter(_Model):
    meter_id: int = Field(ge=1, le=_OFPM_MAX)
    unit: Literal["kbps", "pktps"] = "kbps"
    burst: bool = False
    stats: bool = True
    bands: tuple[MeterBand, ...] = Field(min_length=1)


class SwitchRules(_Model):
    """What one owner wants on one switch."""

    flows: tuple[DesiredFlow, ...] = ()
    groups: tuple[DesiredGroup, ...] = ()
    meters: tuple[DesiredMeter, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> SwitchRules:
        for what, ids in (
            ("group", [g.group_id for g in self.groups]),
            ("meter", [m.meter_id for m in self.meters]),
        ):
            dup = {i for i in ids if ids.count(i) > 1}
            if dup:
                raise ValueError(f"{what} id {min(dup)} is defined twice")
        keys = [(f.table_id, f.priority, parse_match(f.match)) for f in self.flows]
        seen: set[tuple[int, int, frozenset[tuple[str, object]]]] = set()
        for t, p, m in keys:
            k = (t, p, frozenset(m.to_dict().items()))
            if k in seen:
                raise ValueError(f"two flows in table {t} with priority {p} and the same match")
            seen.add(k)
        return self


class OwnerState(_Model):
    """``PUT /owners/{owner}``: everything one owner wants, by datapath id.

    Switches not listed get none of this owner's rules (they are removed).
    """

    switches: dict[str, SwitchRules] = Field(default_factory=dict)

    @field_validator("switches")
    @classmethod
    def _dpids(cls, v: dict[str, SwitchRules]) -> dict[str, SwitchRules]:
        out: dict[str, SwitchRules] = {}
        for k, rules in v.items():
            key = format_dpid(parse_dpid(k))
            if key in out:
                raise ValueError(f"datapath id {k!r} listed twice")
            out[key] = rules
        return out


# -- read views -----------------------------------------------------------------------------


class PortInfo(_Model):
    port_no: int
    name: str
    hw_addr: str
    up: bool
    rx_packets: int | None = None
    tx_packets: int | None = None
    rx_bytes: int | None = None
    tx_bytes: int | None = None


class SwitchInfo(_Model):
    dpid: str
    address: str
    connected_at: float
    n_tables: int
    role: str
    ports: tuple[PortInfo, ...] = ()


class LinkInfo(_Model):
    """A directed link found by LLDP: ``src`` port's frames arrive at ``dst`` port."""

    src_dpid: str
    src_port: int
    dst_dpid: str
    dst_port: int


class HostInfo(_Model):
    mac: str
    dpid: str
    port_no: int
    first_seen: float
    last_seen: float


class FlowView(_Model):
    owner: str | None
    cookie: str
    table_id: int
    priority: int
    match: dict[str, int | str]
    instructions: tuple[str, ...]
    packet_count: int | None = None


class FlowsReport(_Model):
    """``GET /switches/{dpid}/flows``: installed vs desired; drift = what a resync would change."""

    dpid: str
    connected: bool
    installed: tuple[FlowView, ...]
    desired: tuple[FlowView, ...]
    missing: tuple[FlowView, ...]
    stale: tuple[FlowView, ...]
    changed: tuple[FlowView, ...]
    in_sync: bool


class ErrorRecord(_Model):
    """An OFPT_ERROR from a switch, with the message we had sent that caused it."""

    dpid: str
    at: float
    type: int
    code: int
    name: str
    xid: int
    caused_by: str | None


# -- events ----------------------------------------------------------------------------------


class _Event(_Model):
    at: float


class SwitchUp(_Event):
    kind: Literal["switch_up"] = "switch_up"
    dpid: str
    address: str


class SwitchDown(_Event):
    kind: Literal["switch_down"] = "switch_down"
    dpid: str
    reason: str


class PortStatusChanged(_Event):
    kind: Literal["port_status"] = "port_status"
    dpid: str
    port: PortInfo
    reason: Literal["add", "delete", "modify"]


class RoleInfo(_Model):
    """``GET /role``: this magma's OpenFlow role (hot standby) and the leader lease."""

    role: str  # equal | master | slave
    generation_id: int
    election: bool  # --role auto: the role follows the lease in the state database
    lease_holder: str | None = None
    lease_expires: float | None = None


class PacketInReceived(_Event):
    kind: Literal["packet_in"] = "packet_in"
    dpid: str
    in_port: int
    reason: int
    table_id: int
    cookie: int
    data: bytes


class FlowRemovedEvent(_Event):
    kind: Literal["flow_removed"] = "flow_removed"
    dpid: str
    owner: str | None
    cookie: int
    table_id: int
    priority: int
    reason: int
    match: dict[str, int | str]


class SwitchError(_Event):
    kind: Literal["error"] = "error"
    error: ErrorRecord


class LinkUp(_Event):
    kind: Literal["link_up"] = "link_up"
    link: LinkInfo


class LinkDown(_Event):
    kind: Literal["link_down"] = "link_down"
    link: LinkInfo
    reason: str


class HostSeen(_Event):
    kind: Literal["host_seen"] = "host_seen"
    host: HostInfo


class HostMoved(_Event):
    """A known MAC appeared on another switch or port: how StratoV learns a user moved."""

    kind: Literal["host_moved"] = "host_moved"
    host: HostInfo
    old_dpid: str
    old_port: int


MagmaEvent = Annotated[
    SwitchUp
    | SwitchDown
    | PortStatusChanged
    | PacketInReceived
    | FlowRemovedEvent
    | SwitchError
    | LinkUp
    | LinkDown
    | HostSeen
    | HostMoved,
    Field(discriminator="kind"),
]
