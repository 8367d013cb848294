"""An os-ken MAC-learning controller drives the switch under test: three hosts all reach each other.

The controller is ``apps/learning_switch_13.py`` (the behaviour of os-ken's
classic ``simple_switch_13``): the switch must complete the OpenFlow 1.3
handshake, accept the table-miss flow, send PACKET_INs for unknown traffic,
execute flooding PACKET_OUTs, and forward on the flows the controller installs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from typing import Any

import pytest
from interop_harness import Bench, OsKenController

pytestmark = [pytest.mark.root, pytest.mark.slow]

HOSTS = {"h1": "10.0.0.1", "h2": "10.0.0.2", "h3": "10.0.0.3"}
TOPO: dict[str, Any] = {
    "hosts": [{"name": h, "ipv4": f"{ip}/24"} for h, ip in HOSTS.items()],
    "switches": [
        {
            "name": "s1",
            "dpid": "0x1",
            "ports": [{"name": f"p{i}", "port_no": i} for i in range(1, 4)],
        }
    ],
    "links": [{"a": f"h{i}", "b": f"s1:p{i}"} for i in range(1, 4)],
}


def test_three_hosts_learn_and_reach_each_other(bench: Callable[..., Bench]) -> None:
    b = bench(TOPO)
    ctl = b.controller(OsKenController(b.lab, "s1"))
    ctl.start()
    b.switch.start(fail_mode="secure")
    ctl.wait_for_log(r"switch connected dpid=0000000000000001")

    for src, dst in itertools.permutations(HOSTS, 2):
        b.assert_reach(src, HOSTS[dst])

    # The traffic went through flows the controller learned and installed, in both
    # directions between every pair (not only through flooding PACKET_OUTs).
    installed = {
        (int(m[1]), int(m[2]))
        for m in re.finditer(r"flow dpid=\S+ in_port=(\d+) \S+ output=(\d+)", ctl.log_text())
    }
    want = set(itertools.permutations((1, 2, 3), 2))
    assert want <= installed, f"controller installed {sorted(installed)}\n{b.report()}"
