"""Faucet drives the switch under test: one VLAN across untagged and tagged ports, isolated from another.

Faucet (from ``.venv-faucet``) programs its multi-table pipeline (VLAN
assignment and tagging, MAC learning, flooding by VLAN) into the switch. Hosts
h1, h2 (untagged, native VLAN 100) and h3 (tagged: its VLAN-100
interface, see :func:`~interop_harness.add_vlan_interface`) must
reach each other; h4 (untagged, VLAN 200) has an address in the same IPv4
subnet, so only the VLAN separation keeps it apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest
from interop_harness import Bench, FaucetController, QuakeSwitch, add_vlan_interface

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.usefixtures("faucet_available")]

VLAN100 = {"h1": "10.0.0.1", "h2": "10.0.0.2", "h3": "10.0.0.3"}
H4 = "10.0.0.4"
TOPO: dict[str, Any] = {
    "hosts": [
        {"name": "h1", "ipv4": "10.0.0.1/24"},
        {"name": "h2", "ipv4": "10.0.0.2/24"},
        {"name": "h3"},  # addressed on its VLAN interface below
        {"name": "h4", "ipv4": f"{H4}/24"},
    ],
    "switches": [
        {
            "name": "s1",
            "dpid": "0x1",
            "ports": [{"name": f"p{i}", "port_no": i} for i in range(1, 5)],
        }
    ],
    "links": [{"a": f"h{i}", "b": f"s1:p{i}"} for i in range(1, 5)],
}
FAUCET_YAML = """\
vlans:
  office:
    vid: 100
  guest:
    vid: 200
dps:
  s1:
    dp_id: 0x1
    hardware: "Open vSwitch"
    interfaces:
      1:
        native_vlan: office
      2:
        native_vlan: office
      3:
        tagged_vlans: [office]
      4:
        native_vlan: guest
"""


@pytest.mark.parametrize(
    ("switch_kind", "workers"),
    [
        pytest.param("ovs", 0, marks=pytest.mark.ovs, id="ovs"),
        pytest.param("quake", 0, id="quake-w0"),
        pytest.param("quake", 1, id="quake-w1"),  # the fast path: a worker process forwards
    ],
    indirect=["switch_kind"],
)
def test_hosts_on_one_vlan_reach_each_other_and_not_the_other_vlan(
    bench: Callable[..., Bench], switch_kind: str, workers: int
) -> None:
    b = bench(TOPO)
    if isinstance(b.switch, QuakeSwitch):
        b.switch.workers = workers
    add_vlan_interface(b.lab, "h3", vid=100, address=f"{VLAN100['h3']}/24")
    faucet = b.controller(FaucetController(b.lab, "s1"))
    faucet.write_config(FAUCET_YAML)
    faucet.start()
    b.switch.start(fail_mode="secure")
    faucet.wait_for_log(FaucetController.CONNECTED, timeout=30)
    # Reachability is asserted only once Faucet has every configured port up (and so has
    # programmed its VLAN): a port it never saw up is a harness failure, reported as such.
    faucet.wait_ports_up(range(1, 5))

    for src, dst in itertools.permutations(VLAN100, 2):
        b.assert_reach(src, VLAN100[dst])
    for address in VLAN100.values():
        b.assert_no_reach("h4", address)
    b.assert_no_reach("h1", H4)
    b.assert_no_reach("h3", H4)
