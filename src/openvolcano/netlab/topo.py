"""Topology description: hosts, switches (named port sets) and links, as validated data.

Role: the first half of netlab (the second, :mod:`openvolcano.netlab.build`,
turns a description into namespaces and veth pairs). Integration tests, the
benchmarks and the demo describe the emulated edge network they need here,
in Python or in a JSON/TOML file (``openvolcano netlab show FILE`` checks one).

Model (after Mininet's ``topo.py``: a description, not live objects):

* a :class:`Host` is a network namespace with one interface (``eth0`` by
  default) carrying optional IPv4/IPv6 addresses (``"10.0.0.1/24"``) and MAC;
* a :class:`Switch` is a namespace holding named ports, each with an OpenFlow
  port number; a switch daemon (quake, OVS) started in that namespace attaches
  to them - netlab itself does not forward anything;
* a :class:`Link` joins two endpoints, written ``"h1"`` (a host's interface)
  or ``"s1:p1"`` (a switch port), and becomes one veth pair.

Invariants, checked by :class:`Topology` with every problem listed at once:
node names are unique across hosts and switches; port names and port numbers
are unique within a switch; every link endpoint names an existing node and
port; no port or host interface is used by two links; a link does not join a
node to itself. A valid :class:`Topology` can always be built.
"""

from __future__ import annotations

import json
import re
import tomllib
from ipaddress import IPv4Interface, IPv6Interface
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from openvolcano.common.errors import InvalidInput
from openvolcano.common.ids import OFPP_MAX, DatapathId

__all__ = [
    "Endpoint",
    "Host",
    "Link",
    "Switch",
    "SwitchPort",
    "Topology",
    "TopologyError",
    "load_topology",
]

# Node and port names become parts of namespace and interface names: keep them short and plain.
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,23}")
_MAC = re.compile(r"[0-9a-f]{2}(?::[0-9a-f]{2}){5}")


class TopologyError(InvalidInput):
    """A topology description is invalid; the message lists every problem found."""


def _check_name(value: str, what: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError(
            f"invalid {what} name {value!r}: use 1-24 lower-case letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Host(_Strict):
    """An end host: one namespace, one interface (``iface``), optional addresses and MAC."""

    name: str
    ipv4: IPv4Interface | None = None
    ipv6: IPv6Interface | None = None
    mac: str | None = None
    iface: str = "eth0"

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value, "host")

    @field_validator("iface")
    @classmethod
    def _iface(cls, value: str) -> str:
        return _check_name(value, "interface")

    @field_validator("mac")
    @classmethod
    def _mac(cls, value: str | None) -> str | None:
        if value is None:
            return None
        mac = value.lower().replace("-", ":")
        if not _MAC.fullmatch(mac):
            raise ValueError(
                f"invalid MAC address {value!r}: expected 6 hex octets like 02:00:00:00:00:01"
            )
        if int(mac[:2], 16) & 1:
            raise ValueError(
                f"invalid MAC address {value!r}: a multicast address cannot name a host"
            )
        return mac


class SwitchPort(_Strict):
    """One switch port: a name (part of the interface name) and its OpenFlow port number."""

    name: str
    port_no: int = Field(ge=1, le=OFPP_MAX)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value, "port")


class Switch(_Strict):
    """A switch namespace: a set of ports a switch daemon attaches to; ``dpid`` is optional."""

    name: str
    ports: tuple[SwitchPort, ...] = ()
    dpid: DatapathId | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _check_name(value, "switch")

    @model_validator(mode="after")
    def _unique_ports(self) -> Self:
        problems = []
        seen_names: set[str] = set()
        seen_numbers: dict[int, str] = {}
        for port in self.ports:
            if port.name in seen_names:
                problems.append(f"switch {self.name!r}: duplicate port name {port.name!r}")
            seen_names.add(port.name)
            if port.port_no in seen_numbers:
                problems.append(
                    f"switch {self.name!r}: port number {port.port_no} used by both "
                    f"{seen_numbers[port.port_no]!r} and {port.name!r}"
                )
            seen_numbers.setdefault(port.port_no, port.name)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def port(self, name: str) -> SwitchPort:
        """The port called ``name`` (:class:`TopologyError` if there is none)."""
        for port in self.ports:
            if port.name == name:
                return port
        raise TopologyError(f"switch {self.name!r} has no port {name!r}")


class Endpoint(_Strict):
    """One end of a link: ``node`` and, for a switch, ``port`` (``None`` = the host's interface)."""

    node: str
    port: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, data: Any) -> Any:
        if isinstance(data, str):
            node, sep, port = data.partition(":")
            if sep and not port:
                raise ValueError(f"invalid link endpoint {data!r}: empty port after ':'")
            return {"node": node, "port": port if sep else None}
        return data

    def __str__(self) -> str:
        return self.node if self.port is None else f"{self.node}:{self.port}"


class Link(_Strict):
    """A point-to-point link (one veth pair) between two endpoints."""

    a: Endpoint
    b: Endpoint

    @classmethod
    def between(cls, a: str, b: str) -> Link:
        """``Link.between("h1", "s1:p1")``."""
        return cls.model_validate({"a": a, "b": b})


class Topology(_Strict):
    """A whole emulated network; construction validates every cross-reference."""

    hosts: tuple[Host, ...] = ()
    switches: tuple[Switch, ...] = ()
    links: tuple[Link, ...] = ()

    @model_validator(mode="after")
    def _cross_check(self) -> Self:
        problems: list[str] = []
        nodes: dict[str, Host | Switch] = {}
        for node in self.nodes():
            if node.name in nodes:
                problems.append(f"duplicate node name {node.name!r}")
            nodes.setdefault(node.name, node)
        used: dict[tuple[str, str | None], int] = {}
        for number, link in enumerate(self.links, start=1):
            if link.a.node == link.b.node:
                problems.append(
                    f"link {number} ({link.a} - {link.b}) joins {link.a.node!r} to itself"
                )
            for end in (link.a, link.b):
                problem = _check_endpoint(end, nodes)
                if problem:
                    problems.append(f"link {number} ({link.a} - {link.b}): {problem}")
                    continue
                key = (end.node, end.port)
                if key in used:
                    what = f"port {end}" if end.port else f"host {end.node!r} (one interface)"
                    problems.append(f"link {number}: {what} is already used by link {used[key]}")
                used.setdefault(key, number)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def nodes(self) -> list[Host | Switch]:
        """Every node, hosts first, in declaration order."""
        return [*self.hosts, *self.switches]

    def node(self, name: str) -> Host | Switch:
        """The host or switch called ``name`` (:class:`TopologyError` if there is none)."""
        for node in self.nodes():
            if node.name == name:
                return node
        raise TopologyError(f"no node called {name!r} in the topology")

    @classmethod
    def parse(cls, data: Any, source: str = "topology") -> Topology:
        """Validate plain data (from JSON/TOML); errors become one readable :class:`TopologyError`."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise TopologyError(f"{source}: {_describe(exc)}") from None


def _check_endpoint(end: Endpoint, nodes: dict[str, Host | Switch]) -> str | None:
    node = nodes.get(end.node)
    if node is None:
        return f"unknown node {end.node!r}"
    if isinstance(node, Host):
        if end.port is not None and end.port != node.iface:
            return f"host {end.node!r} has only interface {node.iface!r}, not {end.port!r}"
        return None
    if end.port is None:
        return f"switch {end.node!r} needs a port: write '{end.node}:PORT'"
    if not any(p.name == end.port for p in node.ports):
        return f"switch {end.node!r} has no port {end.port!r}"
    return None


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        loc = ".".join(str(part) for part in error["loc"])
        msg = error["msg"].removeprefix("Value error, ")
        problems.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(problems)


def load_topology(path: str | Path) -> Topology:
    """Read and validate a topology file: ``.toml`` as TOML, anything else as JSON."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise TopologyError(f"{path}: cannot read topology file: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".toml":
            data: Any = tomllib.loads(raw.decode())
        else:
            data = json.loads(raw)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        kind = "TOML" if path.suffix.lower() == ".toml" else "JSON"
        raise TopologyError(f"{path}: not valid {kind}: {exc}") from None
    return Topology.parse(data, source=str(path))
