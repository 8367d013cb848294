"""geyser's real quake client over real HTTP (loopback) against the management-API stand-in.

The unit tests check HttpQuakeWorkers through httpx.MockTransport; these run
it over a socket against :mod:`quake_mgmt_standin`, directly and through the
GAL two-phase commit: a timeout, a refused connection, an error status or a
malformed body must fail the commit with a clear message and change nothing
(what had been applied is compensated over HTTP too).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from geyser_asgi_client import sync_client
from quake_mgmt_standin import QuakeMgmtStandIn

from openvolcano.caldera.geyser.actuators import FakeCgroupFs, GeyserApplier, HttpQuakeWorkers
from openvolcano.caldera.geyser.agent import GeyserAgent
from openvolcano.caldera.geyser.app import create_app
from openvolcano.caldera.geyser.config import GeyserConfig
from openvolcano.caldera.geyser.gal.tree import CommitFailed
from openvolcano.caldera.geyser.probes.sources import HostReader
from openvolcano.common.clock import FakeClock
from openvolcano.common.errors import InvalidInput, Unavailable

FIX = Path(__file__).parents[2] / "fixtures" / "geyser"


@pytest.fixture
def standin() -> Iterator[QuakeMgmtStandIn]:
    with QuakeMgmtStandIn(maximum=4, pids=(101, 102, 103, 104)) as s:
        yield s


@pytest.fixture
def client(standin: QuakeMgmtStandIn) -> Iterator[HttpQuakeWorkers]:
    c = HttpQuakeWorkers(standin.url, timeout_s=0.5)
    yield c
    c.close()


def make_agent(quake: HttpQuakeWorkers, cgroups: FakeCgroupFs | None = None) -> GeyserAgent:
    cfg = GeyserConfig.model_validate(
        {
            "interfaces": [],
            "virtual_images": [{"id": "a", "cgroup": "ov/vi-a", "quotas": [0.5]}],
        }
    )
    cg = cgroups if cgroups is not None else FakeCgroupFs()
    agent = GeyserAgent(cfg, HostReader(FIX / "host"), GeyserApplier(quake=quake, cgroups=cg),
                        cg, quake)  # fmt: skip
    agent.start(0.0)
    return agent


def test_real_client_against_the_standin(
    standin: QuakeMgmtStandIn, client: HttpQuakeWorkers
) -> None:
    st = client.status()
    assert (st.active, st.maximum, st.pids) == (4, 4, (101, 102, 103, 104))
    client.set_active(2)
    assert standin.active == 2
    assert client.status().active == 2
    for bad in (0, 5):
        with pytest.raises(InvalidInput, match=r"quake refused PUT /workers: .*1\.\.4"):
            client.set_active(bad)
    assert standin.active == 2
    assert standin.requests[1] == ("PUT", {"active": 2})


def test_two_phase_commit_drives_the_worker_pool(
    standin: QuakeMgmtStandIn, client: HttpQuakeWorkers
) -> None:
    agent = make_agent(client)
    assert [r for r in agent.tree.ids() if r.startswith("0.quake")] == [
        "0.quake", "0.quake.worker0", "0.quake.worker1", "0.quake.worker2", "0.quake.worker3",
    ]  # fmt: skip
    agent.provision("0.quake", 3)
    assert standin.active == 4  # staged only
    assert agent.commit("0.quake", 1.0).changed == ["0.quake"]
    assert standin.active == 1
    assert agent.release("0.quake", 2.0).changed == ["0.quake"]
    assert standin.active == 4


def test_timeout_fails_the_commit_and_changes_nothing(
    standin: QuakeMgmtStandIn, client: HttpQuakeWorkers
) -> None:
    agent = make_agent(client)
    agent.provision("0.quake", 2)
    standin.hang()
    with pytest.raises(CommitFailed, match=r"did not answer PUT /workers within 0\.5 s"):
        agent.commit("0.quake", 1.0)
    standin.unhang()
    assert agent.monitor_state("0.quake", committed=True).state.id == 0
    assert agent.monitor_state("0.quake", committed=False).state.id == 2  # kept for a retry
    assert agent.rollback("0.quake").changed == ["0.quake"]


def test_refused_connection_is_a_clear_502_over_rest(standin: QuakeMgmtStandIn) -> None:
    quake = HttpQuakeWorkers(standin.url, timeout_s=2.0)
    agent = make_agent(quake)
    standin.stop()  # nothing listens on the port any more
    for rest in sync_client(create_app(agent, FakeClock(), background_refresh=False)):
        assert (
            rest.put("/gal/resources/0.quake/provisioned", json={"state_id": 1}).status_code == 200
        )
        resp = rest.post("/gal/resources/0.quake/commit")
        assert resp.status_code == 502
        body = resp.json()
        assert body["error"] == "commit_failed"
        assert "unreachable" in body["message"]
        assert standin.url in body["message"]
        assert rest.get("/gal/resources/0.quake/state").json()["state"]["id"] == 0
        assert rest.post("/gal/resources/0.quake/rollback").json()["changed"] == ["0.quake"]
    quake.close()


def test_applied_quake_change_is_compensated_over_http(
    standin: QuakeMgmtStandIn, client: HttpQuakeWorkers
) -> None:
    agent = make_agent(client, FakeCgroupFs())  # the VI's cgroup is missing: its apply fails
    agent.provision("0.quake", 2)
    agent.provision("0.vi-a", 1)
    with pytest.raises(CommitFailed, match=r"failed at '0\.vi-a'.*rolled back 1"):
        agent.commit("0", 1.0)
    puts = [body for method, body in standin.requests if method == "PUT"]
    assert puts == [{"active": 2}, {"active": 4}]  # applied, then put back
    assert standin.active == 4
    assert agent.monitor_state("0.quake", committed=True).state.id == 0


@pytest.mark.parametrize(
    ("knob", "message"),
    [("fail_status", "quake management API error 500"), ("garbage", "not a JSON object")],
)
def test_bad_answers_are_clear_errors(
    standin: QuakeMgmtStandIn, client: HttpQuakeWorkers, knob: str, message: str
) -> None:
    if knob == "fail_status":
        standin.fail_status = 500
    else:
        standin.garbage = True
    with pytest.raises(Unavailable, match=message):
        client.status()
    with pytest.raises(Unavailable, match=message):
        client.set_active(2)
    agent = make_agent(client)  # quake answering nonsense: no quake resource, no crash
    assert "0.quake" not in agent.tree.ids()


def test_refused_connection_without_agent() -> None:
    with socket.socket() as s:  # a port that was free a moment ago and has no listener
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    quake = HttpQuakeWorkers(f"http://127.0.0.1:{port}", timeout_s=2.0)
    with pytest.raises(Unavailable, match="unreachable"):
        quake.status()
    quake.close()
