"""The DROP-compatible XML profile (/GAL/{id}/{method}) over a fixture host with fake actuators.

Every answer is parsed with xml.etree and checked against the GAL namespace
and DROP's element/attribute names; the two-phase cycle runs over XML and is
seen by the JSON API too (same agent); bad requests get DROP's status mapping.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from geyser_asgi_client import SyncASGIClient, sync_client

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
NS = "http://www.econet-project.eu/GAL"


def q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def xml_body(tag: str, **attrs: str) -> str:
    extra = "".join(f' {k}="{v}"' for k, v in attrs.items())
    return f'<gal:{tag} xmlns:gal="{NS}"{extra}/>'


@dataclass
class Setup:
    client: SyncASGIClient
    quake: FakeQuakeWorkers
    standby: FakeStandby

    def xml(self, method: str, url: str, status: int = 200, **kwargs: object) -> ET.Element:
        resp = self.client.request(method, url, **kwargs)
        assert resp.status_code == status, resp.text
        assert resp.headers["content-type"].startswith("text/xml")
        assert resp.headers["access-control-allow-origin"] == "*"
        assert resp.content.startswith(b"<?xml")
        return ET.fromstring(resp.content)


@pytest.fixture
def gal() -> Iterator[Setup]:
    cfg = GeyserConfig.model_validate(
        {
            "interfaces": ["eth0"],
            "virtual_images": [{"id": "gone", "cgroup": "ov/vi-gone", "quotas": [0.5]}],
            "standby": {"mode": "emulated", "cgroup": "ov/server"},
            "power": {"idle_w": 50, "max_w": 150, "standby_w": 5},
        }
    )
    quake, standby, clock = FakeQuakeWorkers(3, pids=(11,)), FakeStandby(), FakeClock()
    cg = FakeCgroupFs()  # "ov/vi-gone" is not there: committing its quota fails
    applier = GeyserApplier(quake=quake, cgroups=cg, standby=standby)
    agent = GeyserAgent(cfg, HostReader(FIX / "host"), applier, cg, quake)
    agent.start(clock.now())
    agent.refresh(clock.now())
    clock.advance(1.0)
    agent.refresh(clock.now())
    for client in sync_client(create_app(agent, clock, background_refresh=False)):
        yield Setup(client, quake, standby)


def test_discovery_renders_drop_elements(gal: Setup) -> None:
    raw = gal.client.get("/GAL/0/discovery").content
    assert b'xmlns:gal="http://www.econet-project.eu/GAL"' in raw
    root = ET.fromstring(raw)
    assert root.tag == q("resource")
    assert root.get("resource_id") == "0"
    assert root.get("type") == "server"
    states = root.find(q("powerStates"))
    assert states is not None
    by_id = {s.get("state_id"): s for s in states.findall(q("state"))}
    assert set(by_id) == {"0", "1"}
    assert by_id["1"].get("minimum_power_gain") == "97"  # 1 - 5 W / 150 W
    assert by_id["1"].get("maximum_bit_throughput") == "0"
    assert "EMULATED" in (by_id["1"].get("description") or "")
    assert float(by_id["0"].get("maximum_bit_throughput") or "0") > 0
    kids = root.find(q("logicalChildren"))
    assert kids is not None
    ids = [k.get("resource_id") for k in kids.findall(q("resource"))]
    assert ids == ["0.cpu0", "0.cpu1", "0.eth0", "0.quake", "0.vi-gone"]
    assert kids.get("count") == "5"
    assert all(len(k) == 0 for k in kids)  # childDepth 0: brief entries only
    phys = root.find(q("physicalChildren"))
    assert phys is not None
    assert phys.get("count") == "0"
    sensors = root.find(q("sensors"))
    assert sensors is not None
    sens = {s.get("resource_id"): s for s in sensors.findall(q("resource"))}
    power = sens["0.power"]
    assert (power.get("type"), power.get("scale"), power.get("precision")) == ("6", "8", "0")
    assert power.get("max") == "150000"  # 150 W in milliwatts: raw, in the sensor's scale
    assert sens["0.cpu_load"].get("max") == "10000"  # 100 % with precision 2
    assert sens["0.cpu_load"].get("rate") == "1000"
    committed, provisioned = root.find(q("committedState")), root.find(q("provisionedState"))
    assert committed is not None
    assert provisioned is not None
    assert committed.get("state_id") == provisioned.get("state_id") == "0"


def test_property_selector_and_child_depth(gal: Setup) -> None:
    root = gal.xml("GET", "/GAL/0/discovery?propertySelector=powerStates")
    assert [c.tag for c in root] == [q("powerStates")]
    root = gal.xml("GET", "/GAL/0/discovery?propertySelector=sensors&propertySelector=states")
    assert [c.tag for c in root] == [q("sensors"), q("committedState"), q("provisionedState")]
    root = gal.xml("GET", "/GAL/0/discovery?propertySelector=logicalChildren,powerStates"
                          "&childDepth=1")  # fmt: skip
    kids = root.find(q("logicalChildren"))
    assert kids is not None
    quake = next(k for k in kids if k.get("resource_id") == "0.quake")
    qstates = quake.find(q("powerStates"))
    assert qstates is not None
    assert len(qstates) == 3
    workers = quake.find(q("logicalChildren"))
    assert workers is not None
    assert [w.get("resource_id") for w in workers] == ["0.quake.worker0"]
    assert len(workers[0]) == 0  # depth exhausted


@pytest.mark.parametrize(
    "url",
    ["/GAL/0.quake/discovery", "/GAL/0.quake", "/GAL/discovery?id=0.quake",
     "/GAL?id=0.quake", "/GAL/0.quake/DISCOVERY"],
)  # fmt: skip
def test_url_forms(gal: Setup, url: str) -> None:
    assert gal.xml("GET", url).get("resource_id") == "0.quake"


def test_monitoring_reports_raw_values_of_ok_sensors(gal: Setup) -> None:
    root = gal.xml("GET", "/GAL/0/monitoring")
    assert root.tag == q("monitoring")
    assert root[0].tag == q("committedState")
    assert root[0].get("value") == "0"
    values = {_tag(c): c for c in root[1:]}
    mem = gal.client.get("/gal/resources/0/sensors/mem_total").json()
    assert values["mem_total"].get("value") == str(mem["raw"])
    assert values["mem_total"].get("resource_id") == "0.mem_total"
    assert values["power"].get("origin") == "modelled"
    json_ok = {r["sensor"] for r in gal.client.get("/gal/resources/0").json()["readings"]
               if r["status"] == "ok"}  # fmt: skip
    assert {c.get("resource_id") for c in root[1:]} == json_ok


def _tag(el: ET.Element) -> str:
    return el.tag.rpartition("}")[2]


def test_two_phase_cycle_over_xml(gal: Setup) -> None:
    body = xml_body("provisionedState", state_id="2")
    root = gal.xml("PUT", "/GAL/0.quake/provisionedState", content=body)
    assert (root.tag, root.get("state_id")) == (q("provisionedState"), "2")
    assert gal.quake.active == 3  # staged only
    assert gal.xml("GET", "/GAL/0.quake/provisionedState").get("state_id") == "2"
    assert gal.xml("GET", "/GAL/0.quake/committedState").get("state_id") == "0"

    root = gal.xml("POST", "/GAL/0.quake/committedState", content=xml_body("commit"))
    assert root.tag == q("commit")
    assert [c.get("resource_id") for c in root] == ["0.quake"]
    assert gal.quake.active == 1
    json_state = gal.client.get("/gal/resources/0.quake/state").json()
    assert json_state["state"]["id"] == 2  # the JSON API sees the same agent

    gal.xml("PUT", "/GAL/0.quake/provisionedState", content=xml_body("x", state_id="0"))
    root = gal.xml("POST", "/GAL/0.quake/committedState", content=xml_body("rollback"))
    assert [c.get("resource_id") for c in root] == ["0.quake"]
    assert gal.xml("GET", "/GAL/0.quake/provisionedState").get("state_id") == "2"
    assert gal.quake.active == 1

    root = gal.xml("DELETE", "/GAL/0.quake/release")
    assert (root.tag, root.get("count")) == (q("release"), "1")
    assert gal.quake.active == 3
    assert gal.xml("GET", "/GAL/0.quake/committedState").get("state_id") == "0"

    gal.xml("PUT", "/GAL/0/provisionedState", content=xml_body("p", state_id="1"))
    gal.xml("POST", "/GAL/0/committedState", content=xml_body("commit"))
    assert gal.standby.asleep


def test_failed_commit_is_gal_failure(gal: Setup) -> None:
    gal.xml("PUT", "/GAL/0.vi-gone/provisionedState", content=xml_body("p", state_id="1"))
    err = gal.xml("POST", "/GAL/0.vi-gone/committedState", 500, content=xml_body("commit"))
    assert (err.tag, err.get("returnCode"), err.get("name")) == (q("error"), "-1", "GalFailure")
    assert "ov/vi-gone" in (err.text or "")
    assert gal.xml("GET", "/GAL/0.vi-gone/committedState").get("state_id") == "0"


BAD = [
    ("GET", "/GAL/0/discovery", xml_body("x"), 400, "1"),
    ("PUT", "/GAL/0/provisionedState", "", 400, "1"),
    ("POST", "/GAL/0/committedState", "  ", 400, "1"),
    ("PUT", "/GAL/0/provisionedState", "<gal:p state_id='1'", 400, "1"),
    ("PUT", "/GAL/0/provisionedState",
     '<!DOCTYPE x [<!ENTITY a "1">]><x state_id="&a;"/>', 400, "1"),
    ("PUT", "/GAL/0/provisionedState", xml_body("p", state_id="one"), 400, "1"),
    ("PUT", "/GAL/0/provisionedState", xml_body("p"), 400, "1"),
    ("PUT", "/GAL/0/provisionedState", '<p xmlns="urn:other" state_id="1"/>', 400, "1"),
    ("POST", "/GAL/0/committedState", xml_body("frobnicate"), 400, "1"),
    ("GET", "/GAL/0/discovery?id=0", "", 400, "1"),
    ("GET", "/GAL/discovery", "", 400, "1"),
    ("GET", "/GAL/0/discovery?propertySelector=colour", "", 400, "1"),
    ("GET", "/GAL/0/discovery?childDepth=-1", "", 400, "1"),
    ("GET", "/GAL/0/sleep", "", 501, "2"),
    ("GET", "/GAL/0.nosuch/discovery", "", 404, "4"),
    ("GET", "/GAL/0.nosuch/monitoring", "", 404, "4"),
    ("PUT", "/GAL/0/provisionedState", xml_body("p", state_id="9"), 500, "1"),
    ("POST", "/GAL/0/committedState", xml_body("commit"), 500, "1"),  # nothing staged
    ("DELETE", "/GAL/0/discovery", "", 405, "1"),
]  # fmt: skip


@pytest.mark.parametrize(("verb", "url", "body", "status", "code"), BAD)
def test_bad_requests_change_nothing(
    gal: Setup, verb: str, url: str, body: str, status: int, code: str
) -> None:
    err = gal.xml(verb, url, status, content=body)
    assert err.tag == q("error")
    assert err.get("returnCode") == code
    assert err.text
    assert "Traceback" not in err.text
    assert gal.xml("GET", "/GAL/0/provisionedState").get("state_id") == "0"
    assert gal.xml("GET", "/GAL/0/committedState").get("state_id") == "0"
    assert not gal.standby.asleep


def test_wrong_verb_names_the_allowed_ones(gal: Setup) -> None:
    resp = gal.client.request("DELETE", "/GAL/0/discovery")
    assert resp.status_code == 405
    assert resp.headers["allow"] == "GET, OPTIONS"


def test_options_answers_cors_preflight(gal: Setup) -> None:
    resp = gal.client.request("OPTIONS", "/GAL/0/provisionedState")
    assert resp.status_code == 200
    assert resp.headers["access-control-allow-origin"] == "*"
    assert "PUT" in resp.headers["access-control-allow-methods"]
    assert "Content-Type" in resp.headers["access-control-allow-headers"]
