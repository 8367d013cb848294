"""--rx-thread on a real veth: threaded NAPI pinned, GRO on, RPS off, the XDP pass program
attached, frames still flow (through the NAPI thread), everything restored; clear errors for
what it cannot do.

The setup runs in a child started with ``ip netns exec`` (sysfs must show the
namespace's interfaces, as for a quake started that way), which prints what it
sees as JSON after apply and after restore.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable

import pytest

from openvolcano.caldera.quake.ports import PortError
from openvolcano.caldera.quake.ports.rxthread import RxThread
from openvolcano.netlab.build import Lab
from openvolcano.netlab.topo import Topology

pytestmark = [pytest.mark.root]

_CHILD = textwrap.dedent(
    """
    import json, os, socket, subprocess, sys, time
    from pathlib import Path
    from openvolcano.caldera.quake.ports.mmap import MmapPort
    from openvolcano.caldera.quake.ports import PortError
    from openvolcano.caldera.quake.ports.rxthread import (
        RxThread, _ethtool_gro, _set_xdp, attach_xdp_pass)

    ifname, peer, peer_ns = sys.argv[1], sys.argv[2], sys.argv[3]
    dev = Path("/sys/class/net") / ifname
    rps = dev / "queues" / "rx-0" / "rps_cpus"
    rps.write_text("1\\n")  # as a test bed steering this port's RX to CPU 0

    def state():
        link = subprocess.run(["ip", "link", "show", ifname], capture_output=True, text=True)
        return {"threaded": dev.joinpath("threaded").read_text().strip(),
                "gro": _ethtool_gro(ifname, None), "rps": rps.read_text().strip(),
                "xdp": "prog/xdp" in link.stdout}

    before = state()
    rx = RxThread(ifname, [0])
    rx.apply()
    after = state()
    affinity = [sorted(os.sched_getaffinity(p)) for p in rx.pids]
    port, out = MmapPort(ifname), MmapPort(peer, netns=peer_ns, tx_mode="send")
    port.open(); out.open()
    frame = bytes.fromhex("020000000002020000000001") + b"\\x88\\xb5" + b"rx-thread" * 6
    out.send_batch([frame] * 20)
    got, deadline = [], time.monotonic() + 5
    while len(got) < 20 and time.monotonic() < deadline:
        got += port.recv_batch(64)
    port.close(); out.close()
    rx.restore()
    restored = state()
    attach_xdp_pass(ifname)  # someone else's XDP program: --rx-thread must leave it alone
    try:
        RxThread(ifname, [0]).apply()
        refused = ""
    except PortError as exc:
        refused = str(exc)
    busy = state()
    _set_xdp(ifname, -1)
    print(json.dumps({"before": before, "after": after, "restored": restored,
                      "affinity": affinity, "got": len(got), "same": all(g == frame for g in got),
                      "refused": refused, "busy": busy}))
    """
)


def _lab(netlab: Callable[..., Lab]) -> Lab:
    topo = Topology.parse(
        {
            "hosts": [],
            "switches": [{"name": "s1", "ports": [{"name": "p1", "port_no": 1}]},
                         {"name": "s2", "ports": [{"name": "p1", "port_no": 1}]}],
            "links": [{"a": "s1:p1", "b": "s2:p1"}],
        }
    )  # fmt: skip
    return netlab(topo, prefix="orx")


def test_rx_thread_applies_pins_forwards_and_restores(netlab: Callable[..., Lab]) -> None:
    lab = _lab(netlab)
    ns, a = lab.netns("s1"), lab.iface("s1", "p1")
    p = subprocess.run(
        ["ip", "netns", "exec", ns, sys.executable, "-c", _CHILD, a, lab.iface("s2", "p1"),
         lab.netns("s2")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["before"]["threaded"] == "0"
    assert r["after"] == {"threaded": "1", "gro": 1, "rps": "0", "xdp": True}  # veth: XDP pass
    assert r["affinity"]
    assert all(cpus == [0] for cpus in r["affinity"])
    assert r["got"] == 20
    assert r["same"]
    assert r["restored"] == r["before"]
    assert not r["before"]["xdp"]
    assert "already has an XDP program" in r["refused"]
    assert r["busy"] == {**r["before"], "xdp": True}  # nothing else changed, theirs kept


def test_rx_thread_refuses_what_it_cannot_do() -> None:
    with pytest.raises(PortError, match="own network namespace"):
        RxThread("eth9@elsewhere", [0])
    with pytest.raises(PortError, match="no CPU"):
        RxThread("eth9", [])
    with pytest.raises(PortError, match="no interface ov-nosuch0"):
        RxThread("ov-nosuch0", [0]).apply()
