"""geyser's REST contract over a fixture host with fake actuators, incl. bad input and /metrics."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from geyser_asgi_client import SyncASGIClient, sync_client
from prometheus_client.parser import text_string_to_metric_families

from openvolcano.caldera.geyser.actuators import (
    FakeCgroupFs,
    FakeQuakeWorkers,
    FakeStandby,
    GeyserApplier,
)
from openvolcano.caldera.geyser.agent import GeyserAgent
from openvolcano.caldera.geyser.app import create_app
from openvolcano.caldera.geyser.config import GeyserConfig
from openvolcano.caldera.geyser.probes.sources import HostReader
from openvolcano.common.clock import FakeClock

FIX = Path(__file__).parents[2] / "fixtures" / "geyser"


def build(
    root: Path, *, with_power: bool
) -> tuple[GeyserAgent, FakeCgroupFs, FakeQuakeWorkers, FakeStandby, FakeClock]:
    shutil.copytree(FIX / "host/proc", root / "proc")
    shutil.copytree(FIX / "synthetic/proc/77", root / "proc/77")
    if with_power:
        shutil.copytree(FIX / "synthetic/sys", root / "sys")
    cfg = GeyserConfig.model_validate(
        {
            "virtual_images": [{"id": "alice", "cgroup": "ov/vi-alice", "quotas": [1.0, 0.2]}],
            "processes": [{"name": "dns", "pid": 77}],
            "standby": {"mode": "emulated", "cgroup": "ov/server"},
            "power": {"model": "edge-test", "idle_w": 50, "max_w": 150, "standby_w": 5},
            "interfaces": ["eth0"],
        }
    )
    cg = FakeCgroupFs()
    cg.add("ov/vi-alice")
    quake, standby, clock = FakeQuakeWorkers(3, pids=(77,)), FakeStandby(), FakeClock()
    applier = GeyserApplier(quake=quake, cgroups=cg, standby=standby)
    agent = GeyserAgent(cfg, HostReader(root), applier, cg, quake)
    agent.start(clock.now())
    agent.refresh(clock.now())
    clock.advance(1.0)
    agent.refresh(clock.now())
    return agent, cg, quake, standby, clock


@pytest.fixture
def setup(
    tmp_path: Path,
) -> Iterator[tuple[SyncASGIClient, FakeCgroupFs, FakeQuakeWorkers, FakeStandby]]:
    agent, cg, quake, standby, clock = build(tmp_path, with_power=False)
    for client in sync_client(create_app(agent, clock, background_refresh=False)):
        yield client, cg, quake, standby


def test_discovery_tree(
    setup: tuple[SyncASGIClient, FakeCgroupFs, FakeQuakeWorkers, FakeStandby],
) -> None:
    client = setup[0]
    tree = client.get("/gal").json()
    assert tree["id"] == "0"
    assert tree["type"] == "server"
    assert tree["child_ids"] == [
        "0.cpu0",
        "0.cpu1",
        "0.eth0",
        "0.proc-dns",
        "0.quake",
        "0.vi-alice",
    ]
    quake = next(c for c in tree["children"] if c["id"] == "0.quake")
    assert quake["child_ids"] == ["0.quake.worker0"]
    assert quake["children"][0]["sensors"][0]["id"] == "0.quake.worker0.cpu"
    power = next(r for r in tree["readings"] if r["sensor"] == "0.power")
    assert power["origin"] == "modelled"
    assert power["unit"] == "W"
    info = next(s for s in tree["sensors"] if s["name"] == "power")
    assert (info["type"], info["type_code"], info["scale"], info["scale_code"]) == (
        "watts",
        6,
        "milli",
        8,
    )
    assert power["raw"] == round(power["value"] * 1000)
    mem = next(r for r in tree["readings"] if r["sensor"] == "0.mem_total")
    assert mem["origin"] == "measured"
    assert mem["value"] > 1e6
    one = client.get("/gal/resources/0.vi-alice").json()
    assert [s["id"] for s in one["states"]] == [0, 1, 2]
    assert one["children"] == []


def test_provision_commit_rollback_release(
    setup: tuple[SyncASGIClient, FakeCgroupFs, FakeQuakeWorkers, FakeStandby],
) -> None:
    client, cg, quake, standby = setup
    r = client.put("/gal/resources/0.vi-alice/provisioned", json={"state_id": 2})
    assert r.status_code == 200
    assert r.json()["state"]["setting"] == 0.2
    assert cg.cpu_max("ov/vi-alice").cpus is None  # staged only
    assert (
        client.get("/gal/resources/0.vi-alice/state", params={"committed": False}).json()["state"][
            "id"
        ]
        == 2
    )
    r = client.post("/gal/resources/0.vi-alice/commit")
    assert r.status_code == 200
    assert r.json()["changed"] == ["0.vi-alice"]
    assert cg.cpu_max("ov/vi-alice").cpus == pytest.approx(0.2)
    client.put("/gal/resources/0.quake/provisioned", json={"state_id": 2})
    assert client.post("/gal/resources/0/rollback").json()["changed"] == ["0.quake"]
    assert quake.active == 3
    client.put("/gal/resources/0/provisioned", json={"state_id": 1})
    client.post("/gal/resources/0/commit")
    assert standby.asleep
    hist = client.get("/gal/resources/0/state/history").json()["history"]
    assert [h["state_id"] for h in hist] == [0, 1]
    assert client.post("/gal/resources/0/release").json()["changed"] == ["0.vi-alice", "0"]
    assert not standby.asleep
    assert cg.cpu_max("ov/vi-alice").cpus is None


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "needle"),
    [
        ("get", "/gal/resources/0.nosuch", None, 404, "0.nosuch"),
        ("put", "/gal/resources/0.nosuch/provisioned", {"state_id": 1}, 404, "not found"),
        ("put", "/gal/resources/0.quake/provisioned", {"state_id": 9}, 422, "EAS 9"),
        ("put", "/gal/resources/0.quake/provisioned", {"state_id": -1}, 422, "state_id"),
        ("put", "/gal/resources/0.quake/provisioned", {"state": 1}, 422, "state_id"),
        ("put", "/gal/resources/0.quake/provisioned", None, 422, "body"),
        ("post", "/gal/resources/0/commit", None, 409, "nothing staged"),
        ("post", "/gal/resources/0.nosuch/commit", None, 404, "not found"),
        ("get", "/gal/resources/0/sensors/nosuch", None, 404, "nosuch"),
        ("get", "/gal/resources/0?depth=-1", None, 422, "depth"),
    ],
)
def test_bad_requests_are_4xx_and_change_nothing(
    setup: tuple[SyncASGIClient, FakeCgroupFs, FakeQuakeWorkers, FakeStandby],
    method: str, path: str, body: object, status: int, needle: str,
) -> None:  # fmt: skip
    client = setup[0]
    before = client.get("/gal").json()
    kwargs = {} if body is None else {"json": body}
    r = client.request(method.upper(), path, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status, r.text
    assert needle in r.json()["message"]
    after = client.get("/gal").json()

    def strip(t):
        return [(c["id"], c["committed_state"], c["provisioned_state"]) for c in t["children"]]

    assert strip(before) == strip(after)


def test_actuator_failure_rolls_back_and_reports(
    setup: tuple[SyncASGIClient, FakeCgroupFs, FakeQuakeWorkers, FakeStandby],
) -> None:
    client, cg, quake, _ = setup
    del cg.groups["ov/vi-alice"]  # the virtual image's cgroup vanished under us
    client.put("/gal/resources/0.quake/provisioned", json={"state_id": 2})
    client.put("/gal/resources/0.vi-alice/provisioned", json={"state_id": 1})
    r = client.post("/gal/resources/0/commit")
    assert r.status_code == 502
    assert "rolled back 1" in r.json()["message"]
    assert quake.active == 3
    assert client.get("/gal/resources/0.quake/state").json()["state"]["id"] == 0


def test_sensor_and_history(
    setup: tuple[SyncASGIClient, FakeCgroupFs, FakeQuakeWorkers, FakeStandby],
) -> None:
    client = setup[0]
    r = client.get("/gal/resources/0.proc-dns/sensors/mem").json()
    assert r["value"] == pytest.approx(2560 * 4096, rel=1e-3)
    assert r["origin"] == "measured"
    hist = client.get("/gal/resources/0/sensors/mem_total/history").json()["readings"]
    assert len(hist) == 2


def test_metrics_parse_with_prometheus_parser(
    setup: tuple[SyncASGIClient, FakeCgroupFs, FakeQuakeWorkers, FakeStandby],
) -> None:
    client = setup[0]
    client.put("/gal/resources/0.quake/provisioned", json={"state_id": 1})
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    samples = {
        (s.labels["resource"], s.labels["sensor"]): s
        for s in families["geyser_sensor_value"].samples
    }
    power = samples[("0", "power")]
    assert power.labels["origin"] == "modelled"
    assert power.labels["unit"] == "W"
    assert 50 <= power.value <= 150
    assert samples[("0", "mem_total")].labels["origin"] == "measured"
    prov = {s.labels["resource"]: s.value for s in families["geyser_eas_provisioned"].samples}
    com = {s.labels["resource"]: s.value for s in families["geyser_eas_committed"].samples}
    assert prov["0.quake"] == 1
    assert com["0.quake"] == 0


def test_measured_power_where_hardware_reports_it(tmp_path: Path) -> None:
    agent, *_ = build(tmp_path, with_power=True)
    readings = {r.sensor: r for _, _, r in agent.all_readings()}
    assert readings["0.power"].origin == "measured"
    assert readings["0.power"].value == pytest.approx(87.5)
    assert readings["0.coretemp_temp1"].value == pytest.approx(45.0)
    cpu0 = agent.discovery("0.cpu0")
    assert [s.setting for s in cpu0.states] == ["performance", "schedutil", "powersave"]
    assert {s.name for s in cpu0.sensors} >= {"freq", "idle_c6"}
    assert readings["0.cpu0.freq"].value == pytest.approx(2.4e9)


def test_openapi_lists_the_gal_routes(
    setup: tuple[SyncASGIClient, FakeCgroupFs, FakeQuakeWorkers, FakeStandby],
) -> None:
    paths = setup[0].get("/openapi.json").json()["paths"]
    assert "/gal/resources/{rid}/provisioned" in paths
    assert "/gal/resources/{rid}/commit" in paths
