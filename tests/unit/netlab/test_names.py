"""Name planning: unique, short, suffixed names; fallbacks when a readable name does not fit."""

from __future__ import annotations

import re

import pytest

from openvolcano.netlab.build import Lab
from openvolcano.netlab.names import IFNAMSIZ_MAX, plan_names
from openvolcano.netlab.topo import Topology, TopologyError


def _topo(host: str = "h1", switch: str = "s1", port: str = "p1") -> Topology:
    return Topology.parse(
        {
            "hosts": [{"name": host}, {"name": "v3"}],
            "switches": [
                {
                    "name": switch,
                    "ports": [{"name": port, "port_no": 1}, {"name": "p2", "port_no": 2}],
                }
            ],
            "links": [{"a": host, "b": f"{switch}:{port}"}, {"a": "v3", "b": f"{switch}:p2"}],
        }
    )


def test_readable_names_with_suffix() -> None:
    names = plan_names(_topo(), prefix="ovt", suffix="ab12")
    assert names.netns == {"h1": "ovt-h1-ab12", "v3": "ovt-v3-ab12", "s1": "ovt-s1-ab12"}
    assert names.ifaces == {
        ("h1", None): "h1-ab12",
        ("s1", "p1"): "s1-p1-ab12",
        ("v3", None): "v3-ab12",
        ("s1", "p2"): "s1-p2-ab12",
    }


def test_long_names_fall_back_and_stay_unique() -> None:
    # "v1-ab12" would be the fallback of the first long name; "v3" is also a host.
    names = plan_names(
        _topo(host="a-very-long-host", switch="core-switch", port="uplink"), suffix="ab12"
    )
    ifaces = list(names.ifaces.values())
    assert len(set(ifaces)) == len(ifaces)
    assert names.ifaces[("a-very-long-host", None)] == "v1-ab12"
    assert names.ifaces[("core-switch", "uplink")] == "v2-ab12"
    assert names.ifaces[("v3", None)] == "v3-ab12"
    assert names.ifaces[("core-switch", "p2")] == "v4-ab12"  # "v3-ab12" is taken
    for name in ifaces:
        assert len(name) <= IFNAMSIZ_MAX
        assert re.fullmatch(r"[a-z0-9_-]+-ab12", name)


def test_random_suffix_differs_between_labs() -> None:
    suffixes = {plan_names(_topo()).suffix for _ in range(20)}
    assert len(suffixes) > 1
    assert all(re.fullmatch(r"[0-9a-f]{4}", s) for s in suffixes)


def test_bad_prefix_or_suffix() -> None:
    with pytest.raises(TopologyError, match="invalid lab prefix"):
        plan_names(_topo(), prefix="Bad Prefix")
    with pytest.raises(TopologyError, match="invalid lab suffix"):
        plan_names(_topo(), suffix="x/y")


def test_lab_iface_lookup_without_building() -> None:
    lab = Lab(_topo(), suffix="ab12")
    assert lab.iface("s1", "p1") == "s1-p1-ab12"
    assert lab.iface("h1") == "eth0"
    assert lab.netns("s1") == "ovl-s1-ab12"
    with pytest.raises(TopologyError, match="which port"):
        lab.iface("s1")
    with pytest.raises(TopologyError, match="has no port 'p9'"):
        lab.iface("s1", "p9")
    with pytest.raises(TopologyError, match="no node called 'zz'"):
        lab.netns("zz")
