"""Hot standby: two real ``openvolcano magma --role auto`` processes, one OVS bridge.

Both processes share one ``--state-db`` (the desired state and the leader
lease) and are both controllers of the bridge. The first holds the lease and
is OpenFlow MASTER (generation 1); the second is SLAVE: it has the switch
session but refuses desired-state changes (503). The master is SIGKILLed by
pid; the slave must take the lease, become MASTER with a higher generation id
(bounded wait: lease ttl 3 s + renewal 1 s + margin), accept a changed desired
state and install it, and Open vSwitch must report it as the master
controller (``ovs-vsctl list controller``, column ``role``).
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from magma_lab import OPENVOLCANO, free_port, poll_until, stop_process

from openvolcano.netlab.ovs import PrivateOvs

pytestmark = [pytest.mark.root, pytest.mark.ovs, pytest.mark.slow]

DPID = 0xC1
TAKEOVER_S = 15.0  # generous bound on lease expiry (3 s) + renewal period (1 s) + resync


def owner(priority: int) -> dict[str, Any]:
    out = [{"type": "apply_actions", "actions": [{"type": "output", "port": 2}]}]
    flow = {"priority": priority, "match": {"in_port": 1}, "instructions": out}
    return {"switches": {f"{DPID:x}": {"flows": [flow]}}}


class Magma:
    def __init__(self, of_port: int, db: Path) -> None:
        api_port = free_port()
        self.target = f"tcp:127.0.0.1:{of_port}"
        argv = [OPENVOLCANO, "magma", "--listen", self.target, "--api", f"127.0.0.1:{api_port}",
                "--state-db", str(db), "--lldp-interval", "0", "--role", "auto"]  # fmt: skip
        self.log = db.with_name(f"magma-{of_port}.log")
        with self.log.open("wb") as log:  # read back in failure messages
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
            )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=5)

    def poll(self, what: str, pred: Callable[[], bool], timeout: float = 30) -> None:
        poll_until(what, pred, self.proc, self.tail, timeout)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]

    def role(self) -> str:
        return str(self.http.get("/role").json()["role"])

    def connected(self) -> bool:
        return [s["dpid"] for s in self.http.get("/switches").json()] == [f"{DPID:016x}"]

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.http.close()
        stop_process(self.proc, sig)


def controller_role(ovs: PrivateOvs, target: str) -> str:
    out = ovs.vsctl("--bare", "--columns=role", "find", "controller", f'target="{target}"')
    return out.strip()


def flows(ovs: PrivateOvs, br: str) -> str:
    return ovs.ofctl("dump-flows", br)


def test_slave_takes_over_when_the_master_is_killed(ovs: PrivateOvs, tmp_path: Path) -> None:
    db = tmp_path / "desired.db"
    a_port, b_port = free_port(), free_port()
    a = Magma(a_port, db)
    b: Magma | None = None
    br = f"mghs{os.getpid() % 10000}"
    try:
        a.poll("master role", lambda: a.role() == "master")
        ovs.add_bridge(br, controller=a.target, datapath_id=DPID)
        b = Magma(b_port, db)
        ovs.vsctl("set-controller", br, a.target, b.target)
        for uuid in ovs.vsctl("--bare", "--columns=_uuid", "list", "controller").split():
            ovs.vsctl("set", "controller", uuid, "max_backoff=1000")
        a.poll("the switch", a.connected)
        b.poll("the switch", b.connected)
        assert b.role() == "slave"
        assert b.http.put("/owners/pn-a", json=owner(100)).status_code == 503  # slave refuses

        r = a.http.put("/owners/pn-a", json=owner(100))
        assert r.status_code == 200, r.text
        assert r.json() == {f"{DPID:016x}": True}
        assert "priority=100,in_port=1" in flows(ovs, br)
        a.poll("OVS: a is master", lambda: controller_role(ovs, a.target) == "master")
        generation = a.http.get("/role").json()["generation_id"]

        a.stop(signal.SIGKILL)  # by pid: no lease release, no goodbye
        assert a.proc.returncode == -signal.SIGKILL
        b.poll("take-over", lambda: b.role() == "master", timeout=TAKEOVER_S)
        assert b.http.get("/role").json()["generation_id"] > generation
        assert b.http.get("/owners").json() == ["pn-a"]  # desired state from the shared db

        r = b.http.put("/owners/pn-a", json=owner(200))
        assert r.status_code == 200, r.text
        assert r.json() == {f"{DPID:016x}": True}
        dumped = flows(ovs, br)
        assert "priority=200,in_port=1" in dumped
        assert "priority=100,in_port=1" not in dumped
        b.poll("OVS: b is master", lambda: controller_role(ovs, b.target) == "master")
    finally:
        a.stop()
        if b is not None:
            b.stop()
        ovs.vsctl("--if-exists", "del-br", br)
