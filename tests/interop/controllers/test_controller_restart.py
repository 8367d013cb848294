"""The switch under test survives a controller outage and reconnects when the controller returns.

With the os-ken learning controller: h1 and h2 talk first (the controller
installs permanent flows for them), then the controller is stopped.

* fail **secure**: h1-h2 keeps working on the installed flows, while h1-h3,
  which never talked and so has no flows, gets nothing (a new ARP broadcast has
  only the table-miss flow to the absent controller);
* fail **standalone**: the switch learns on its own, so h1-h3 works too.

Then the controller starts again (with an empty MAC table): the switch must
reconnect (a second SWITCH_FEATURES, seen in the controller log), the
controller resynchronises (table-miss again, new flows for new traffic) and
every pair works.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from interop_harness import Bench, OsKenController, flush_neighbours

pytestmark = [pytest.mark.root, pytest.mark.slow]

HOSTS = {"h1": "10.0.0.1", "h2": "10.0.0.2", "h3": "10.0.0.3"}
TOPO: dict[str, Any] = {
    "hosts": [{"name": h, "ipv4": f"{ip}/24"} for h, ip in HOSTS.items()],
    "switches": [
        {
            "name": "s1",
            "dpid": "0x2a",
            "ports": [{"name": f"p{i}", "port_no": i} for i in range(1, 4)],
        }
    ],
    "links": [{"a": f"h{i}", "b": f"s1:p{i}"} for i in range(1, 4)],
}
CONNECTED = r"switch connected dpid=000000000000002a"


@pytest.mark.parametrize("fail_mode", ["secure", "standalone"])
def test_forwarding_survives_controller_restart(
    bench: Callable[..., Bench], fail_mode: str
) -> None:
    b = bench(TOPO)
    ctl = b.controller(OsKenController(b.lab, "s1"))
    ctl.start()
    b.switch.start(fail_mode=fail_mode)
    ctl.wait_for_log(CONNECTED)
    b.assert_reach("h1", HOSTS["h2"])
    b.assert_reach("h2", HOSTS["h1"])

    ctl.stop()
    b.assert_reach("h1", HOSTS["h2"])  # installed flows keep forwarding
    flush_neighbours(b.lab, "h1", "h3")
    if fail_mode == "secure":
        b.assert_no_reach("h1", HOSTS["h3"])
    else:
        b.assert_reach("h1", HOSTS["h3"])  # the switch learns by itself

    ctl.start()
    ctl.wait_for_log(CONNECTED, count=2, timeout=30)
    flush_neighbours(b.lab, "h1", "h2", "h3")
    for src, dst in (("h1", "h3"), ("h3", "h2"), ("h2", "h1")):
        b.assert_reach(src, HOSTS[dst])
    if fail_mode == "secure":
        # h1-h3 was only possible through flows the restarted controller installed.
        assert "flow dpid=000000000000002a in_port=3" in ctl.log_text().split("=== start #2")[1], (
            b.report()
        )
