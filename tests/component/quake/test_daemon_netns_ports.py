"""``--port IFNAME@NETNS``: quake attaching to an interface that lives in another namespace.

Parsing is pure; the root case builds a netlab switch namespace and opens a
port there through the daemon's own factory (:func:`open_port`) from this
process, which stays in its namespace.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from openvolcano.caldera.quake.daemon import build_switch, make_config, open_port, parse_port_specs
from openvolcano.caldera.quake.ports import PortError
from openvolcano.common.errors import InvalidInput
from openvolcano.netlab.build import Lab
from openvolcano.netlab.topo import Topology


def test_namespace_is_kept_with_the_name_and_numbering_is_unchanged() -> None:
    assert parse_port_specs(["a@ns1", "b@ns-2=5", "c"]) == (("a@ns1", 1), ("b@ns-2", 5), ("c", 2))


@pytest.mark.parametrize("spec", ["a@", "@ns", "a@b@c", "a@x/y", "a@=3"])
def test_bad_namespace_specs_are_refused(spec: str) -> None:
    with pytest.raises(InvalidInput, match="IFNAME\\[@NETNS\\]"):
        parse_port_specs([spec])


def test_unknown_namespace_is_a_port_error_naming_it() -> None:
    with pytest.raises(PortError, match="no-such-ns-x1"):
        open_port("eth0@no-such-ns-x1").open()


@pytest.mark.root
def test_switch_opens_ports_inside_a_namespace(netlab: Callable[..., Lab]) -> None:
    topo = Topology.parse({
        "hosts": [{"name": "h1", "mac": "02:00:00:00:00:01"}],
        "switches": [{"name": "s1", "ports": [{"name": "p1", "port_no": 1}]}],
        "links": [{"a": "h1", "b": "s1:p1"}],
    })  # fmt: skip
    lab = netlab(topo)
    ifname = lab.iface("s1", "p1")
    cfg = make_config(dpid="1", ports=[f"{ifname}@{lab.netns('s1')}=3"])
    sw = build_switch(cfg)
    try:
        port = sw.dp.ports[3]
        assert port.backend.name == ifname
        assert port.backend.link_up
        assert port.backend.hw_addr != 0
    finally:
        sw.dp.close()
