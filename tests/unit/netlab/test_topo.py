"""Topology description: valid shapes parse; each kind of mistake is reported clearly."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from openvolcano.netlab.topo import Link, Topology, TopologyError, load_topology


def _data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "hosts": [
            {"name": "h1", "ipv4": "10.0.0.1/24", "mac": "02:00:00:00:00:01"},
            {"name": "h2", "ipv4": "10.0.0.2/24", "ipv6": "fd00::2/64"},
        ],
        "switches": [
            {"name": "s1", "ports": [{"name": "p1", "port_no": 1}, {"name": "p2", "port_no": 2}]},
            {"name": "s2", "ports": [{"name": "p1", "port_no": 1}], "dpid": "0x2"},
        ],
        "links": [
            {"a": "h1", "b": "s1:p1"},
            {"a": "h2", "b": "s2:p1"},
        ],
    }
    data.update(overrides)
    return data


def test_valid_topology_parses() -> None:
    topo = Topology.parse(_data())
    assert [n.name for n in topo.nodes()] == ["h1", "h2", "s1", "s2"]
    h1 = topo.node("h1")
    assert str(h1.ipv4) == "10.0.0.1/24"  # type: ignore[union-attr]
    s2 = topo.node("s2")
    assert s2.dpid == 2  # type: ignore[union-attr]
    assert str(topo.links[0].b) == "s1:p1"
    assert topo.links[0] == Link.between("h1", "s1:p1")


def test_switch_to_switch_link_and_explicit_host_iface() -> None:
    links = [{"a": "h1:eth0", "b": "s1:p1"}, {"a": "s1:p2", "b": "s2:p1"}]
    topo = Topology.parse(_data(links=links))
    assert len(topo.links) == 2


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"links": [{"a": "h9", "b": "s1:p1"}]}, "unknown node 'h9'"),
        ({"links": [{"a": "h1", "b": "s1:p7"}]}, "switch 's1' has no port 'p7'"),
        ({"links": [{"a": "h1", "b": "s1"}]}, "switch 's1' needs a port"),
        ({"links": [{"a": "h1:eth3", "b": "s1:p1"}]}, "has only interface 'eth0'"),
        (
            {"links": [{"a": "h1", "b": "s1:p1"}, {"a": "h2", "b": "s1:p1"}]},
            "port s1:p1 is already used by link 1",
        ),
        (
            {"links": [{"a": "h1", "b": "s1:p1"}, {"a": "h1", "b": "s1:p2"}]},
            "host 'h1' (one interface) is already used by link 1",
        ),
        ({"links": [{"a": "s1:p1", "b": "s1:p2"}]}, "joins 's1' to itself"),
        ({"links": [{"a": "h1", "b": "s1:"}]}, "empty port after ':'"),
        ({"hosts": [{"name": "s1"}], "links": []}, "duplicate node name 's1'"),
        ({"hosts": [{"name": "H1"}], "links": []}, "invalid host name 'H1'"),
        ({"hosts": [{"name": "h1", "mac": "zz"}], "links": []}, "invalid MAC address 'zz'"),
        (
            {"hosts": [{"name": "h1", "mac": "01:00:5e:00:00:01"}], "links": []},
            "multicast address",
        ),
        ({"hosts": [{"name": "h1", "ipv4": "10.0.0.300/24"}], "links": []}, "hosts.0.ipv4"),
        ({"hosts": [{"name": "h1", "colour": "red"}], "links": []}, "hosts.0.colour"),
    ],
)
def test_mistakes_are_named(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(TopologyError, match=r"^my-topo: ") as info:
        Topology.parse(_data(**overrides), source="my-topo")
    assert message in str(info.value)


def test_switch_port_mistakes() -> None:
    ports = [{"name": "p1", "port_no": 1}, {"name": "p1", "port_no": 1}]
    with pytest.raises(TopologyError) as info:
        Topology.parse({"switches": [{"name": "s1", "ports": ports}]})
    assert "duplicate port name 'p1'" in str(info.value)
    assert "port number 1 used by both 'p1' and 'p1'" in str(info.value)
    with pytest.raises(TopologyError, match="port_no"):
        Topology.parse({"switches": [{"name": "s1", "ports": [{"name": "p1", "port_no": 0}]}]})


def test_every_problem_is_listed_at_once() -> None:
    links = [{"a": "h9", "b": "s1:p1"}, {"a": "h1", "b": "s3:p1"}]
    with pytest.raises(TopologyError) as info:
        Topology.parse(_data(links=links))
    assert "unknown node 'h9'" in str(info.value)
    assert "unknown node 's3'" in str(info.value)


def test_lookup_errors() -> None:
    topo = Topology.parse(_data())
    with pytest.raises(TopologyError, match="no node called 'x'"):
        topo.node("x")
    s1 = topo.node("s1")
    with pytest.raises(TopologyError, match="has no port 'p9'"):
        s1.port("p9")  # type: ignore[union-attr]


def test_load_json_and_toml(tmp_path: Path) -> None:
    js = tmp_path / "t.json"
    js.write_text(json.dumps(_data()))
    assert load_topology(js) == Topology.parse(_data())
    toml = tmp_path / "t.toml"
    toml.write_text(
        '[[hosts]]\nname = "h1"\nipv4 = "10.0.0.1/24"\n'
        '[[switches]]\nname = "s1"\nports = [{ name = "p1", port_no = 1 }]\n'
        '[[links]]\na = "h1"\nb = "s1:p1"\n'
    )
    assert load_topology(toml).links[0] == Link.between("h1", "s1:p1")


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(TopologyError, match="cannot read topology file"):
        load_topology(tmp_path / "missing.json")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[hosts]\n")
    with pytest.raises(TopologyError, match="not valid TOML"):
        load_topology(bad)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{")
    with pytest.raises(TopologyError, match="not valid JSON"):
        load_topology(bad_json)
