"""A real ``openvolcano magma`` process killed with SIGKILL resynchronises from its state db.

Open vSwitch (userspace datapath) runs the 3-switch line of :mod:`magma_lab`.
The desired state is PUT once over REST; magma is then killed by pid (no
clean shutdown), a stale rule is injected on s2 and s3 is wiped while it is
down, and a new process on the same ``--state-db`` must bring every switch
back to the desired state - nobody PUTs it again - with traffic flowing.
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from magma_lab import (
    DPIDS,
    HOSTS,
    OPENVOLCANO,
    PN_JSON,
    OvsSwitches,
    Plumbing,
    cookies,
    free_port,
    poll_until,
    require_root_and_ovs,
    stop_process,
)

pytestmark = [pytest.mark.root, pytest.mark.ovs, pytest.mark.slow]


@pytest.fixture
def lab() -> Iterator[tuple[Plumbing, OvsSwitches]]:
    require_root_and_ovs("namespaces, veth")
    net = Plumbing()
    sw: OvsSwitches | None = None
    try:
        net.build()
        sw = OvsSwitches(net)
        yield net, sw
    finally:
        if sw is not None:
            sw.stop()
        net.teardown()


class MagmaProcess:
    def __init__(self, of_port: int, api_port: int, db: Path) -> None:
        argv = [OPENVOLCANO, "magma", "--listen", f"tcp:127.0.0.1:{of_port}",
                "--api", f"127.0.0.1:{api_port}", "--state-db", str(db), "--lldp-interval", "0"]  # fmt: skip
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=5)

    def poll(self, what: str, pred: Callable[[], bool], timeout: float = 30) -> None:
        """Until ``pred()`` holds; the pause between tries also notices magma dying."""
        poll_until(what, pred, self.proc, timeout=timeout)

    def in_sync(self) -> bool:
        for dpid in DPIDS.values():
            r = self.http.get(f"/switches/{dpid:x}/flows")
            if r.status_code != 200 or not r.json()["in_sync"]:
                return False
        return True

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.http.close()
        stop_process(self.proc, sig)


def test_sigkilled_magma_restarts_on_its_state_db_and_resyncs(
    lab: tuple[Plumbing, OvsSwitches], tmp_path: Path
) -> None:
    net, sw = lab
    of_port, api_port = free_port(), free_port()
    db = tmp_path / "desired.db"
    sw.start(f"tcp:127.0.0.1:{of_port}")

    magma = MagmaProcess(of_port, api_port, db)
    try:
        magma.poll("3 switches", lambda: len(magma.http.get("/switches").json()) == 3)
        r = magma.http.put("/owners/pn-a", json=PN_JSON)
        assert r.status_code == 200, r.text
        assert all(r.json().values()), r.json()
        assert net.ping("h1", HOSTS["h3"])
        want = sorted(cookies(sw, "s3"))
        assert len(want) == 4  # 2 system + 2 pn-a
    finally:
        magma.stop(signal.SIGKILL)  # by pid, no clean shutdown
    assert magma.proc.returncode == -signal.SIGKILL

    sw.ofctl("s2", "add-flow", "cookie=0xbad,priority=500,in_port=1,actions=drop")
    sw.ofctl("s3", "del-flows")
    assert not net.ping("h1", HOSTS["h3"])

    magma = MagmaProcess(of_port, api_port, db)
    try:
        magma.poll("3 switches", lambda: len(magma.http.get("/switches").json()) == 3)
        assert magma.http.get("/owners").json() == ["pn-a"]
        magma.poll("switches in sync", magma.in_sync)
        assert all(sorted(cookies(sw, n)) == want for n in DPIDS)
        assert net.ping("h1", HOSTS["h3"])
        assert magma.http.get("/errors").json() == []
    finally:
        magma.stop()
    assert magma.proc.returncode == 0
