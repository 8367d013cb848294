"""Actuator contracts: each real implementation and its fake pass the same tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from openvolcano.caldera.geyser.actuators import (
    FakeCgroupFs,
    FakeGovernor,
    FakeQuakeWorkers,
    FakeStandby,
    GeyserApplier,
    HttpQuakeWorkers,
    QuakeWorkers,
    SysfsGovernor,
    wol_magic_packet,
)
from openvolcano.caldera.geyser.agent import GeyserAgent
from openvolcano.caldera.geyser.cgroupfs import (
    CgroupFs,
    CgroupV1,
    CgroupV2,
    detect_cgroup,
    detect_freezer,
)
from openvolcano.caldera.geyser.config import GeyserConfig, PowerModelConfig
from openvolcano.caldera.geyser.gal import resources as R
from openvolcano.common.errors import InvalidInput, NotFound, Unavailable

PM = PowerModelConfig()


def quake_mgmt_transport(fake: FakeQuakeWorkers) -> httpx.MockTransport:
    """quake's management API (GET/PUT /workers) served from a fake pool."""

    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.path != "/workers":
            return httpx.Response(404, json={"message": "no such path"})
        if req.method == "GET":
            st = fake.status()
            return httpx.Response(
                200, json={"active": st.active, "max": st.maximum, "pids": list(st.pids)}
            )
        if req.method == "PUT":
            body = json.loads(req.content)
            try:
                fake.set_active(body["active"])
            except InvalidInput as exc:
                return httpx.Response(422, json={"message": exc.message})
            return httpx.Response(200, json={"active": fake.active, "max": fake.maximum})
        return httpx.Response(405, json={"message": "method not allowed"})

    return httpx.MockTransport(handler)


def _fake_quake() -> QuakeWorkers:
    return FakeQuakeWorkers(4, pids=(11, 12, 13, 14))


def _http_quake() -> QuakeWorkers:
    return HttpQuakeWorkers(
        "http://quake", transport=quake_mgmt_transport(FakeQuakeWorkers(4, pids=(11, 12, 13, 14)))
    )


@pytest.mark.parametrize("make", [_fake_quake, _http_quake], ids=["fake", "http"])
def test_quake_workers_contract(make: Callable[[], QuakeWorkers]) -> None:
    q = make()
    assert q.status().active == 4
    assert q.status().maximum == 4
    assert q.status().pids == (11, 12, 13, 14)
    q.set_active(2)
    assert q.status().active == 2
    with pytest.raises(InvalidInput):
        q.set_active(0)
    with pytest.raises(InvalidInput):
        q.set_active(5)
    assert q.status().active == 2


@pytest.mark.parametrize(
    ("exited", "want"),
    [({"1": -9, "0": 3}, ((0, 3), (1, -9))), ({"2": None}, ((2, None),)), (None, ())],
    ids=["killed-and-failed", "status-unknown", "none"],
)
def test_http_quake_reads_the_workers_that_died(
    exited: dict[str, int | None] | None, want: tuple[tuple[int, int | None], ...]
) -> None:
    body: dict[str, object] = {"active": 2, "max": 3, "pids": [12]}
    if exited is not None:
        body["exited"] = exited
    q = HttpQuakeWorkers(
        "http://quake", transport=httpx.MockTransport(lambda req: httpx.Response(200, json=body))
    )
    assert q.status().exited == want


@pytest.mark.parametrize("bad", [["0"], {"x": 1}, {"0": "killed"}])
def test_http_quake_refuses_a_malformed_exited_map(bad: object) -> None:
    body = {"active": 1, "max": 2, "pids": [12], "exited": bad}
    q = HttpQuakeWorkers(
        "http://quake", transport=httpx.MockTransport(lambda req: httpx.Response(200, json=body))
    )
    with pytest.raises(Unavailable, match="'exited'"):
        q.status()


def test_http_quake_unreachable_is_unavailable() -> None:
    def refuse(req: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=req)

    q = HttpQuakeWorkers("http://quake", transport=httpx.MockTransport(refuse))
    with pytest.raises(Unavailable, match="unreachable"):
        q.status()


def _v2(tmp: Path) -> CgroupFs:
    d = tmp / "ov/vi-a"
    d.mkdir(parents=True)
    (d / "cpu.max").write_text("max 100000\n")
    (d / "cgroup.freeze").write_text("0\n")
    (d / "cgroup.events").write_text("populated 1\nfrozen 0\n")
    (d / "cgroup.procs").write_text("5\n6\n")
    (tmp / "cgroup.controllers").write_text("cpuset cpu io memory pids\n")
    return CgroupV2(tmp)


def _v1(tmp: Path) -> CgroupFs:
    for ctl in ("cpu", "freezer"):
        (tmp / ctl / "ov/vi-a").mkdir(parents=True)
    (tmp / "cpu/cpu.cfs_quota_us").write_text("-1\n")
    (tmp / "cpu/ov/vi-a/cpu.cfs_quota_us").write_text("-1\n")
    (tmp / "cpu/ov/vi-a/cpu.cfs_period_us").write_text("100000\n")
    (tmp / "cpu/ov/vi-a/cgroup.procs").write_text("5\n6\n")
    (tmp / "freezer/ov/vi-a/freezer.state").write_text("THAWED\n")
    return CgroupV1(tmp)


def _fake(_: Path) -> CgroupFs:
    f = FakeCgroupFs()
    f.add("ov/vi-a")
    f.groups["ov/vi-a"]["pids"] = [5, 6]
    return f


@pytest.mark.parametrize("make", [_v2, _v1, _fake], ids=["v2", "v1", "fake"])
def test_cgroup_contract(make: Callable[[Path], CgroupFs], tmp_path: Path) -> None:
    cg = make(tmp_path)
    assert cg.exists("ov/vi-a")
    assert not cg.exists("ov/vi-b")
    assert cg.cpu_max("ov/vi-a").cpus is None
    cg.set_cpu_max("ov/vi-a", 0.2)
    assert cg.cpu_max("ov/vi-a").cpus == pytest.approx(0.2)
    cg.set_cpu_max("ov/vi-a", None)
    assert cg.cpu_max("ov/vi-a").cpus is None
    with pytest.raises(InvalidInput):
        cg.set_cpu_max("ov/vi-a", 0.0)
    with pytest.raises(InvalidInput, match="relative"):
        cg.cpu_max("../../etc")
    with pytest.raises(InvalidInput):
        cg.cpu_max("/etc")
    assert not cg.frozen("ov/vi-a")
    assert cg.freeze_state("ov/vi-a") == "thawed"
    cg.set_frozen("ov/vi-a", True)
    assert cg.frozen("ov/vi-a")
    assert cg.freeze_state("ov/vi-a") in ("freezing", "frozen")
    assert cg.pids("ov/vi-a") == [5, 6]
    with pytest.raises(NotFound):
        cg.set_cpu_max("ov/vi-b", 0.5)


def test_cgroup_detection(tmp_path: Path) -> None:
    assert detect_cgroup(tmp_path) is None
    assert isinstance(detect_cgroup(_v1(tmp_path / "a").root), CgroupV1)  # type: ignore[attr-defined]
    assert isinstance(detect_cgroup(_v2(tmp_path / "b").root), CgroupV2)  # type: ignore[attr-defined]


def test_freezer_detection_needs_no_cpu_controller(tmp_path: Path) -> None:
    assert detect_freezer(tmp_path) is None
    (tmp_path / "freezer").mkdir()
    (tmp_path / "freezer/cgroup.procs").write_text("")
    assert isinstance(detect_freezer(tmp_path), CgroupV1)
    hybrid = tmp_path / "h"
    (hybrid / "unified").mkdir(parents=True)
    (hybrid / "unified/cgroup.controllers").write_text("\n")  # v2 with no controllers at all
    fz = detect_freezer(hybrid)
    assert isinstance(fz, CgroupV2)
    assert fz.root == hybrid / "unified"
    assert detect_cgroup(hybrid) is None


def test_freeze_completion_is_read_from_the_kernel_files(tmp_path: Path) -> None:
    v1 = _v1(tmp_path / "a")
    (tmp_path / "a/freezer/ov/vi-a/freezer.state").write_text("FREEZING\n")
    assert v1.freeze_state("ov/vi-a") == "freezing"
    (tmp_path / "a/freezer/ov/vi-a/freezer.state").write_text("FROZEN\n")
    assert v1.freeze_state("ov/vi-a") == "frozen"
    v2 = _v2(tmp_path / "b")
    v2.set_frozen("ov/vi-a", True)
    assert v2.freeze_state("ov/vi-a") == "freezing"
    (tmp_path / "b/ov/vi-a/cgroup.events").write_text("populated 1\nfrozen 1\n")
    assert v2.freeze_state("ov/vi-a") == "frozen"


def test_emulated_standby_config_needs_the_server_cgroup() -> None:
    with pytest.raises(ValidationError, match="needs 'cgroup'"):
        GeyserConfig.model_validate({"standby": {"mode": "emulated", "ports": ["eth0"]}})


def test_sysfs_governor_against_synthetic_tree(tmp_path: Path) -> None:
    d = tmp_path / "sys/devices/system/cpu/cpu0/cpufreq"
    d.mkdir(parents=True)
    (d / "scaling_available_governors").write_text("performance powersave\n")
    (d / "scaling_governor").write_text("performance\n")
    for gov in (SysfsGovernor(tmp_path), FakeGovernor({"cpu0": "performance"})):
        gov.set("cpu0", "powersave")
        assert gov.get("cpu0") == "powersave"
        with pytest.raises(NotFound):
            gov.get("cpu7")
    with pytest.raises(InvalidInput, match="not available"):
        SysfsGovernor(tmp_path).set("cpu0", "turbo")


def test_wol_magic_packet() -> None:
    pkt = wol_magic_packet("02:fc:00:00:00:01")
    assert len(pkt) == 102
    assert pkt[:6] == b"\xff" * 6
    assert pkt[6:12] == bytes.fromhex("02fc00000001")
    assert pkt[-6:] == pkt[6:12]
    with pytest.raises(InvalidInput):
        wol_magic_packet("02:fc:00")


def test_applier_routes_each_resource_kind() -> None:
    cg, quake, standby = _fake(Path()), FakeQuakeWorkers(4), FakeStandby()
    gov = FakeGovernor({"cpu0": "performance"})
    ap = GeyserApplier(quake=quake, cgroups=cg, governor=gov, standby=standby)
    vi = R.vi_resource("a", "ov/vi-a", [0.5, 0.2], 1000, PM, 2)
    ap.apply(vi, vi.states[2])
    assert cg.cpu_max("ov/vi-a").cpus == pytest.approx(0.2)
    qr = R.quake_resource(4, 1000, PM)
    ap.apply(qr, qr.states[3])
    assert quake.active == 1
    srv = R.server_resource(PM, 1000, 2, "emulated", [])
    ap.apply(srv, srv.states[1])
    assert [standby.asleep] == [True]  # (a list: mypy would narrow a bare attribute for good)
    ap.apply(srv, srv.states[0])
    assert [standby.asleep] == [False]
    cpu = R.cpu_resource("cpu0", 1000, ("performance", "powersave"), [], PM, 2)
    ap.apply(cpu, cpu.states[1])
    assert gov.get("cpu0") == "powersave"
    with pytest.raises(Unavailable):
        GeyserApplier().apply(vi, vi.states[1])


def test_emulated_standby_without_a_freezer_is_refused_clearly(tmp_path: Path) -> None:
    cfg = GeyserConfig.model_validate(
        {"cgroup_root": str(tmp_path), "standby": {"mode": "emulated", "cgroup": "ov/srv"}}
    )
    with pytest.raises(InvalidInput, match="needs a cgroup freezer"):
        GeyserAgent.from_config(cfg)
