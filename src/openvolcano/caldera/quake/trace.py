"""``openvolcano quake trace``: explain where a packet goes through quake's tables, and why.

Role (DESIGN "Operate"; STYLE: "every daemon explains itself", after OVS'
``ofproto/trace``): an operator or a test describes a packet and gets the
tables visited, the entry hit in each (priority, cookie, match), the actions
executed, the action set, and the final ports and packet-ins. Two sources of
tables: a flows file run in a private :class:`~.pipeline.Pipeline`, or a
running quake (``POST /trace`` on its status endpoint, :mod:`.api`), which
runs :meth:`Pipeline.trace` on the live tables - no counter, meter or idle
timer is touched, so it is safe as a test oracle.

Formats (both JSON, documented in docs/quake.md):

* **flows**: a list of flow entries, or ``{"flows": [...], "groups": [...],
  "meters": [...]}``. A flow is ``{"table": 0, "priority": 10, "cookie":
  "0x1", "match": {"eth_type": "0x800", "ipv4_dst": "10.0.0.0/8"},
  "instructions": [...]}`` or with ``"actions": [...]`` as a shorthand for
  one apply-actions instruction. Instructions: ``{"apply": [actions]}``,
  ``{"write": [actions]}``, ``{"clear": true}``, ``{"goto": N}``,
  ``{"metadata": "VALUE[/MASK]"}``, ``{"meter": N}``. Actions:
  ``{"output": N | "CONTROLLER" | "FLOOD" | "ALL" | "IN_PORT" | "LOCAL"}``,
  ``{"set_field": {"FIELD": VALUE}}``, ``{"push_vlan": "0x8100"}``,
  ``{"pop_vlan": true}``, ``{"push_mpls": "0x8847"}``, ``{"pop_mpls":
  "0x800"}``, ``{"group": N}``, ``{"dec_nw_ttl": true}``, ``{"set_queue": N}``.
  Groups: ``{"group_id": 1, "type": "all|select|indirect|ff", "buckets":
  [{"actions": [...], "weight": 1, "watch_port": 2}]}``. Meters:
  ``{"meter_id": 1, "flags": ["kbps"|"pktps"|"burst"|"stats"], "bands":
  [{"type": "drop"|"dscp_remark", "rate": 1000, "burst_size": 0}]}``.
  Values are ints or strings (``"0x.."``, addresses); ``"VALUE/MASK"``
  masks a match field (a prefix length works for IPv4/IPv6).
* **packet**: ``key=value`` pairs separated by commas, e.g.
  ``eth_src=02:00:00:00:00:01,eth_dst=02:00:00:00:00:02,eth_type=0x800,
  ipv4_src=10.0.0.1,ipv4_dst=10.0.0.2,ip_proto=6,tcp_dst=80``. Missing
  layers are filled from the fields given (``ipv4_*`` implies IPv4,
  ``tcp_*`` TCP...); checksums are correct.

Everything here is pure: bad input raises
:class:`~openvolcano.common.errors.InvalidInput` naming the bad part.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from openvolcano.common.errors import InvalidInput
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import (
    Action,
    ActionDecNwTtl,
    ActionGroup,
    ActionOutput,
    ActionPopMpls,
    ActionPopVlan,
    ActionPushMpls,
    ActionPushVlan,
    ActionSetField,
    ActionSetQueue,
)
from openvolcano.ofp.instructions import (
    Instruction,
    InstructionApplyActions,
    InstructionClearActions,
    InstructionGotoTable,
    InstructionMeter,
    InstructionWriteActions,
    InstructionWriteMetadata,
)
from openvolcano.ofp.messages import FlowMod, GroupMod, MeterMod
from openvolcano.ofp.oxm import Match, OxmTLV
from openvolcano.ofp.oxm_fields import field_by_name, parse_value
from openvolcano.ofp.structs import Bucket, MeterBandDrop, MeterBandDscpRemark

from .pipeline import Pipeline, PipelineError, Result, StaticPorts
from .pipeline.checksum import internet_checksum

__all__ = [
    "FlowSet",
    "build_packet",
    "parse_flows",
    "parse_port",
    "render_trace",
    "trace_flows",
    "trace_report",
    "trace_request",
]

_PORT_NAMES = {
    "CONTROLLER": c.OFPP_CONTROLLER, "FLOOD": c.OFPP_FLOOD, "ALL": c.OFPP_ALL,
    "IN_PORT": c.OFPP_IN_PORT, "LOCAL": c.OFPP_LOCAL, "TABLE": c.OFPP_TABLE,
}  # fmt: skip
_GROUP_TYPES = {
    "all": c.OFPGT_ALL, "select": c.OFPGT_SELECT, "indirect": c.OFPGT_INDIRECT,
    "ff": c.OFPGT_FF, "fast_failover": c.OFPGT_FF,
}  # fmt: skip
_METER_FLAGS = {
    "kbps": c.OFPMF_KBPS, "pktps": c.OFPMF_PKTPS, "burst": c.OFPMF_BURST, "stats": c.OFPMF_STATS,
}  # fmt: skip
_REASONS = {c.OFPR_NO_MATCH: "NO_MATCH", c.OFPR_ACTION: "ACTION", c.OFPR_INVALID_TTL: "INVALID_TTL"}


@dataclass(frozen=True)
class FlowSet:
    """What a flows file installs, in order: meters, then groups, then flows."""

    flows: tuple[FlowMod, ...]
    groups: tuple[GroupMod, ...] = ()
    meters: tuple[MeterMod, ...] = ()

    def ports(self) -> set[int]:
        """Every port number an output action or a bucket's watch_port names."""
        out: set[int] = set()
        actions: list[Action] = []
        for fm in self.flows:
            for ins in fm.instructions:
                if isinstance(ins, InstructionApplyActions | InstructionWriteActions):
                    actions += ins.actions
        for gm in self.groups:
            for b in gm.buckets:
                actions += b.actions
                if 0 < b.watch_port <= c.OFPP_MAX:
                    out.add(b.watch_port)
        out |= {a.port for a in actions if isinstance(a, ActionOutput) and a.port <= c.OFPP_MAX}
        return out


# --- flows file ------------------------------------------------------------------------


def _int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"{what}: expected an integer, got {value!r}")
    try:
        return value if isinstance(value, int) else int(value, 0)
    except ValueError:
        raise InvalidInput(f"{what}: expected an integer, got {value!r}") from None


def _dict(value: object, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{what}: expected an object, got {value!r}")
    return value


def _list(value: object, what: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise InvalidInput(f"{what}: expected a list, got {value!r}")
    return value


def _field_value(name: str, value: object, what: str) -> OxmTLV:
    try:
        f = field_by_name(name)
    except KeyError as exc:
        raise InvalidInput(f"{what}: {exc.args[0]}") from None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise InvalidInput(f"{what}: bad value {value!r} for {name}")
    try:
        if isinstance(value, str) and "/" in value:
            text, mask_text = value.split("/", 1)
            if f.kind in ("ipv4", "ipv6") and mask_text.isdigit():
                net = ipaddress.ip_network(f"{text}/{mask_text}", strict=False)
                mask: int = int(net.netmask)
            else:
                mask = parse_value(f, mask_text)
            tlv = OxmTLV(field=f.field, value=parse_value(f, text), mask=mask)
        else:
            tlv = OxmTLV(field=f.field, value=parse_value(f, value))
        tlv.encode()
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"{what}: bad value {value!r} for {name}: {exc}") from None
    return tlv


def _port(value: object, what: str) -> int:
    if isinstance(value, str) and value.upper() in _PORT_NAMES:
        return _PORT_NAMES[value.upper()]
    return _int(value, what)


def parse_port(text: str) -> int:
    """A port number or reserved name (LOCAL, CONTROLLER...) -> its number."""
    p = _port(text.strip(), f"port {text!r}")
    if not (0 < p <= c.OFPP_MAX or p in _PORT_NAMES.values()):
        raise InvalidInput(f"port {text!r}: expected 1..{c.OFPP_MAX} or a reserved name")
    return p


def _action(spec: object, what: str) -> Action:
    d = _dict(spec, what)
    if len(d) != 1:
        raise InvalidInput(f"{what}: one action per object, got {sorted(d)}")
    ((kind, arg),) = d.items()
    if kind == "output":
        return ActionOutput(port=_port(arg, what), max_len=c.OFPCML_NO_BUFFER)
    if kind == "set_field":
        fd = _dict(arg, what)
        if len(fd) != 1:
            raise InvalidInput(f"{what}: set_field takes one field")
        ((name, value),) = fd.items()
        return ActionSetField(field=_field_value(name, value, what))
    if kind == "push_vlan":
        return ActionPushVlan(ethertype=_int(arg, what))
    if kind == "pop_vlan":
        return ActionPopVlan()
    if kind == "push_mpls":
        return ActionPushMpls(ethertype=_int(arg, what))
    if kind == "pop_mpls":
        return ActionPopMpls(ethertype=_int(arg, what))
    if kind == "group":
        return ActionGroup(group_id=_int(arg, what))
    if kind == "dec_nw_ttl":
        return ActionDecNwTtl()
    if kind == "set_queue":
        return ActionSetQueue(queue_id=_int(arg, what))
    raise InvalidInput(f"{what}: unknown action {kind!r}")


def _actions(spec: object, what: str) -> tuple[Action, ...]:
    return tuple(_action(a, f"{what} action {i}") for i, a in enumerate(_list(spec, what)))


def _instruction(spec: object, what: str) -> Instruction:
    d = _dict(spec, what)
    if len(d) != 1:
        raise InvalidInput(f"{what}: one instruction per object, got {sorted(d)}")
    ((kind, arg),) = d.items()
    if kind == "apply":
        return InstructionApplyActions(actions=_actions(arg, what))
    if kind == "write":
        return InstructionWriteActions(actions=_actions(arg, what))
    if kind == "clear":
        return InstructionClearActions()
    if kind == "goto":
        return InstructionGotoTable(table_id=_int(arg, what))
    if kind == "meter":
        return InstructionMeter(meter_id=_int(arg, what))
    if kind == "metadata":
        text = str(arg)
        value, _, mask = text.partition("/")
        return InstructionWriteMetadata(
            metadata=_int(value, what),
            metadata_mask=_int(mask, what) if mask else 0xFFFF_FFFF_FFFF_FFFF,
        )
    raise InvalidInput(f"{what}: unknown instruction {kind!r}")


def _flow(spec: object, what: str) -> FlowMod:
    d = _dict(spec, what)
    known = {"table", "priority", "cookie", "match", "instructions", "actions"}
    extra = set(d) - known
    if extra:
        raise InvalidInput(f"{what}: unknown keys {sorted(extra)} (known: {sorted(known)})")
    match = _dict(d.get("match", {}), f"{what} match")
    fields = tuple(_field_value(k, v, f"{what} match") for k, v in match.items())
    if "actions" in d and "instructions" in d:
        raise InvalidInput(f"{what}: give actions or instructions, not both")
    if "actions" in d:
        instructions: tuple[Instruction, ...] = (
            InstructionApplyActions(actions=_actions(d["actions"], what)),
        )
    else:
        instructions = tuple(
            _instruction(x, f"{what} instruction {i}")
            for i, x in enumerate(_list(d.get("instructions", []), what))
        )
    return FlowMod(
        table_id=_int(d.get("table", 0), f"{what} table"),
        priority=_int(d.get("priority", c.OFP_DEFAULT_PRIORITY), f"{what} priority"),
        cookie=_int(d.get("cookie", 0), f"{what} cookie"),
        match=Match(fields=fields),
        instructions=instructions,
    )


def _group(spec: object, what: str) -> GroupMod:
    d = _dict(spec, what)
    kind = str(d.get("type", "all")).lower()
    if kind not in _GROUP_TYPES:
        raise InvalidInput(f"{what}: group type {kind!r} (known: {sorted(_GROUP_TYPES)})")
    buckets = []
    for i, b in enumerate(_list(d.get("buckets", []), what)):
        bd = _dict(b, f"{what} bucket {i}")
        buckets.append(
            Bucket(
                weight=_int(bd.get("weight", 0), what),
                watch_port=_port(bd.get("watch_port", c.OFPP_ANY), what),
                watch_group=_int(bd.get("watch_group", c.OFPG_ANY), what),
                actions=_actions(bd.get("actions", []), f"{what} bucket {i}"),
            )
        )
    return GroupMod(
        group_id=_int(d.get("group_id"), f"{what} group_id"),
        type=_GROUP_TYPES[kind],
        buckets=tuple(buckets),
    )


def _meter(spec: object, what: str) -> MeterMod:
    d = _dict(spec, what)
    flags = 0
    for name in _list(d.get("flags", ["kbps"]), what):
        if name not in _METER_FLAGS:
            raise InvalidInput(f"{what}: meter flag {name!r} (known: {sorted(_METER_FLAGS)})")
        flags |= _METER_FLAGS[name]
    bands: list[MeterBandDrop | MeterBandDscpRemark] = []
    for i, b in enumerate(_list(d.get("bands", []), what)):
        bd = _dict(b, f"{what} band {i}")
        rate = _int(bd.get("rate"), f"{what} band {i} rate")
        burst = _int(bd.get("burst_size", 0), f"{what} band {i} burst_size")
        if bd.get("type", "drop") == "drop":
            bands.append(MeterBandDrop(rate=rate, burst_size=burst))
        elif bd.get("type") == "dscp_remark":
            prec = _int(bd.get("prec_level", 1), what)
            bands.append(MeterBandDscpRemark(rate=rate, burst_size=burst, prec_level=prec))
        else:
            raise InvalidInput(f"{what} band {i}: type must be drop or dscp_remark")
    return MeterMod(
        meter_id=_int(d.get("meter_id"), f"{what} meter_id"), flags=flags, bands=tuple(bands)
    )


def parse_flows(doc: object) -> FlowSet:
    """The flows file's JSON (a list of flows, or an object with flows/groups/meters)."""
    if isinstance(doc, list):
        doc = {"flows": doc}
    d = _dict(doc, "flows file")
    extra = set(d) - {"flows", "groups", "meters"}
    if extra:
        raise InvalidInput(f"flows file: unknown keys {sorted(extra)}")
    return FlowSet(
        flows=tuple(
            _flow(f, f"flow {i}") for i, f in enumerate(_list(d.get("flows", []), "flows"))
        ),
        groups=tuple(
            _group(g, f"group {i}") for i, g in enumerate(_list(d.get("groups", []), "groups"))
        ),
        meters=tuple(
            _meter(m, f"meter {i}") for i, m in enumerate(_list(d.get("meters", []), "meters"))
        ),
    )


# --- packet description ------------------------------------------------------------------

_PACKET_KEYS = (
    "eth_src", "eth_dst", "eth_type", "vlan_vid", "vlan_pcp", "ipv4_src", "ipv4_dst",
    "ipv6_src", "ipv6_dst", "ip_proto", "ip_dscp", "ip_ecn", "nw_ttl", "tcp_src", "tcp_dst",
    "udp_src", "udp_dst", "icmpv4_type", "icmpv4_code", "icmpv6_type", "icmpv6_code",
    "arp_op", "arp_spa", "arp_tpa", "arp_sha", "arp_tha", "payload_len",
)  # fmt: skip


def _parse_kv(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not value:
            raise InvalidInput(f"packet: {part!r} is not key=value")
        if key not in _PACKET_KEYS:
            raise InvalidInput(f"packet: unknown field {key!r} (known: {', '.join(_PACKET_KEYS)})")
        if key in out:
            raise InvalidInput(f"packet: {key} given twice")
        out[key] = value
    return out


def _v(kv: Mapping[str, str], key: str, default: int | str) -> int:
    text = kv.get(key, default)
    name = {"nw_ttl": "ip_proto", "payload_len": "ip_proto"}.get(key, key)
    if isinstance(text, int):
        return text
    try:
        f = field_by_name(name)
        value = parse_value(f, text) if name == key else int(text, 0)
    except (ValueError, KeyError) as exc:
        raise InvalidInput(f"packet: bad {key} {text!r}: {exc}") from None
    return value


def _l4(kv: Mapping[str, str], proto: int, pseudo: bytes) -> bytes:
    n = _v(kv, "payload_len", "16")
    if not 0 <= n <= 1400:
        raise InvalidInput(f"packet: payload_len {n} outside 0..1400")
    payload = bytes(n)
    if proto == 6:
        seg = struct.pack("!HHIIBBHHH", _v(kv, "tcp_src", "1234"), _v(kv, "tcp_dst", "80"),
                          1, 0, 5 << 4, 0x02, 8192, 0, 0) + payload  # fmt: skip
        at = 16
    elif proto == 17:
        seg = struct.pack("!HHHH", _v(kv, "udp_src", "1234"), _v(kv, "udp_dst", "53"),
                          8 + len(payload), 0) + payload  # fmt: skip
        at = 6
    elif proto in (1, 58):
        pre = "icmpv4" if proto == 1 else "icmpv6"
        t = _v(kv, f"{pre}_type", "8" if proto == 1 else "128")
        seg = struct.pack("!BBHI", t, _v(kv, f"{pre}_code", "0"), 0, 0x00010001) + payload
        at = 2
    else:
        return payload
    covered = seg if proto == 1 else pseudo + struct.pack("!H", len(seg)) + seg  # ICMPv4: no pseudo
    cs = internet_checksum(covered) or (0xFFFF if proto == 17 else 0)
    return seg[:at] + struct.pack("!H", cs) + seg[at + 2 :]


def build_packet(text: str) -> bytes:
    """The Ethernet frame a ``key=value,...`` description stands for (see the module docstring)."""
    kv = _parse_kv(text)
    keys = set(kv)
    if "eth_type" in kv:
        etype = _v(kv, "eth_type", 0)
    elif keys & {"ipv6_src", "ipv6_dst", "icmpv6_type", "icmpv6_code"}:
        etype = 0x86DD
    elif keys & {"arp_op", "arp_spa", "arp_tpa", "arp_sha", "arp_tha"}:
        etype = 0x0806
    elif keys - {"eth_src", "eth_dst", "vlan_vid", "vlan_pcp"}:
        etype = 0x0800
    else:
        etype = 0x88B5  # local experimental ethertype: a bare L2 frame
    src = _v(kv, "eth_src", "02:00:00:00:00:01")
    dst = _v(kv, "eth_dst", "02:00:00:00:00:02")
    frame = dst.to_bytes(6, "big") + src.to_bytes(6, "big")
    if "vlan_vid" in kv or "vlan_pcp" in kv:
        vid = _v(kv, "vlan_vid", "0") & 0xFFF
        frame += struct.pack("!HH", 0x8100, (_v(kv, "vlan_pcp", "0") << 13) | vid)
    frame += struct.pack("!H", etype)
    if "ip_proto" in kv:
        proto = _v(kv, "ip_proto", 0)
    elif keys & {"tcp_src", "tcp_dst"}:
        proto = 6
    elif keys & {"udp_src", "udp_dst"}:
        proto = 17
    else:
        proto = 58 if etype == 0x86DD else 1
    tos = (_v(kv, "ip_dscp", "0") << 2) | _v(kv, "ip_ecn", "0")
    ttl = _v(kv, "nw_ttl", "64")
    if etype == 0x0800:
        s, d = _v(kv, "ipv4_src", "10.0.0.1"), _v(kv, "ipv4_dst", "10.0.0.2")
        sd = s.to_bytes(4, "big") + d.to_bytes(4, "big")
        l4 = _l4(kv, proto, sd + struct.pack("!BB", 0, proto))
        ip = struct.pack("!BBHHHBBH", 0x45, tos, 20 + len(l4), 1, 0, ttl, proto, 0) + sd
        ip = ip[:10] + struct.pack("!H", internet_checksum(ip)) + ip[12:]
        return frame + ip + l4
    if etype == 0x86DD:
        s, d = _v(kv, "ipv6_src", "fd00::1"), _v(kv, "ipv6_dst", "fd00::2")
        sd = s.to_bytes(16, "big") + d.to_bytes(16, "big")
        l4 = _l4(kv, proto, sd + struct.pack("!BB", 0, proto))
        return frame + struct.pack("!IHBB", (6 << 28) | (tos << 20), len(l4), proto, ttl) + sd + l4
    if etype == 0x0806:
        arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, _v(kv, "arp_op", "1"))
        arp += _v(kv, "arp_sha", "02:00:00:00:00:01").to_bytes(6, "big")
        arp += _v(kv, "arp_spa", "10.0.0.1").to_bytes(4, "big")
        arp += _v(kv, "arp_tha", "00:00:00:00:00:00").to_bytes(6, "big")
        arp += _v(kv, "arp_tpa", "10.0.0.2").to_bytes(4, "big")
        return frame + arp
    return frame + bytes(46)


# --- running and reporting ---------------------------------------------------------------


def trace_report(in_port: int, frame: bytes, res: Result) -> dict[str, Any]:
    """The JSON form of a trace (what ``POST /trace`` answers and the CLI prints)."""
    return {
        "in_port": in_port,
        "frame": frame.hex(),
        "tables": [
            {
                "table_id": s.table_id,
                "matched": s.priority is not None,
                "priority": s.priority,
                "cookie": s.cookie,
                "match": s.match,
                "actions": list(s.events),
            }
            for s in res.trace.steps
        ],
        "action_set": list(res.trace.action_set),
        "drops": list(res.trace.drops),
        "outputs": [{"port": o.port, "data": o.data.hex()} for o in res.outputs],
        "packet_ins": [
            {"reason": _REASONS.get(p.reason, str(p.reason)), "table_id": p.table_id}
            for p in res.packet_ins
        ],
    }


def _port_name(p: int) -> str:
    names = {v: k for k, v in _PORT_NAMES.items()}
    return names.get(p, str(p))


def render_trace(report: Mapping[str, Any]) -> str:
    """Human-readable lines for a :func:`trace_report`."""
    lines = [f"in_port {report['in_port']}, {len(report['frame']) // 2} bytes"]
    for t in report["tables"]:
        if t["matched"]:
            lines.append(
                f"table {t['table_id']}: priority={t['priority']} cookie={t['cookie']:#x} "
                f"match={t['match'] or '(any)'}"
            )
        elif t["table_id"] < 0:
            lines.append(f"{t['match']}:")
        else:
            lines.append(f"table {t['table_id']}: no match -> drop")
        lines.extend(f"    {e}" for e in t["actions"])
    if report["action_set"]:
        lines.append("action set: " + ", ".join(report["action_set"]))
    lines.extend(f"drop: {d}" for d in report["drops"])
    outs = [f"{_port_name(o['port'])} ({len(o['data']) // 2} bytes)" for o in report["outputs"]]
    lines.append("output ports: " + (", ".join(outs) if outs else "none"))
    for p in report["packet_ins"]:
        lines.append(f"packet-in: reason={p['reason']} table={p['table_id']}")
    return "\n".join(lines)


def trace_flows(flows: FlowSet, in_port: int, frame: bytes, ports: Sequence[int] = ()) -> Result:
    """Install ``flows`` in a fresh pipeline and trace ``frame`` from ``in_port``.

    The switch's ports are ``ports`` plus ``in_port`` plus every port the
    flows name (outputs to any other port are drops, as on a real switch).
    """
    numbers = {in_port, *ports, *flows.ports()} - {c.OFPP_LOCAL}
    pl = Pipeline(ports=StaticPorts(sorted(p for p in numbers if 0 < p <= c.OFPP_MAX)))
    try:
        for mm in flows.meters:
            pl.apply_meter_mod(mm, 0.0)
        for gm in flows.groups:
            pl.apply_group_mod(gm, 0.0)
        for i, fm in enumerate(flows.flows):
            try:
                pl.apply_flow_mod(fm, 0.0)
            except PipelineError as exc:
                raise InvalidInput(f"flow {i} refused: {exc.reason}") from None
    except PipelineError as exc:
        raise InvalidInput(f"group/meter refused: {exc.reason}") from None
    return pl.trace(in_port, frame, 0.0)


def trace_request(pipeline: Pipeline, request: Mapping[str, object], now: float) -> dict[str, Any]:
    """``POST /trace`` on a live switch: ``{"in_port": N, "packet": "k=v,..."}`` or ``"frame": HEX``."""
    in_port = _port(request.get("in_port"), "in_port")
    if "frame" in request:
        try:
            frame = bytes.fromhex(str(request["frame"]))
        except ValueError:
            raise InvalidInput("frame: expected hex bytes") from None
    elif "packet" in request:
        frame = build_packet(str(request["packet"]))
    else:
        raise InvalidInput("give 'packet' (k=v,...) or 'frame' (hex)")
    return trace_report(in_port, frame, pipeline.trace(in_port, frame, now))
