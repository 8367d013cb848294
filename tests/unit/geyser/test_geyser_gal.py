"""GAL model and state machine: scales, provisioning, commit, rollback, release, partial failure."""

from __future__ import annotations

import pytest

from openvolcano.caldera.geyser.config import PowerModelConfig
from openvolcano.caldera.geyser.gal import resources as R
from openvolcano.caldera.geyser.gal.model import (
    EnergyAwareState,
    ResourceSpec,
    SensorReading,
    SensorScale,
    SensorSpec,
    SensorStatus,
    SensorType,
)
from openvolcano.caldera.geyser.gal.tree import CommitFailed, GalTree
from openvolcano.common.errors import Conflict, InvalidInput, NotFound

PM = PowerModelConfig(idle_w=50, max_w=150, standby_w=5)


class RecordingApplier:
    """Records (resource, state id) applied; fails on the resources listed in ``fail_on``."""

    def __init__(self, fail_on: set[str] | None = None, fail_undo: bool = False) -> None:
        self.applied: list[tuple[str, int]] = []
        self.fail_on = fail_on or set()
        self.fail_undo = fail_undo
        self.hardware: dict[str, int] = {}

    def apply(self, resource: ResourceSpec, state: EnergyAwareState) -> None:
        if resource.id in self.fail_on and (state.id != 0 or self.fail_undo):
            raise OSError(f"device busy ({resource.id})")
        self.applied.append((resource.id, state.id))
        self.hardware[resource.id] = state.id


def make_tree() -> GalTree:
    t = GalTree(history_len=3)
    t.add(R.server_resource(PM, 1000, 2, "emulated", []), now=0.0)
    t.add(R.quake_resource(4, 1000, PM), now=0.0)
    t.add(R.vi_resource("alice", "ov/vi-alice", [1.0, 0.5, 0.2], 1000, PM, 2), now=0.0)
    t.add(R.vi_resource("bob", "ov/vi-bob", [0.5], 1000, PM, 2), now=0.0)
    t.add(R.nic_resource("eth0", 1000), now=0.0)
    return t


def test_scale_multipliers_follow_the_corrected_table() -> None:
    assert SensorScale.units.multiplier == 1.0
    assert SensorScale.milli.multiplier == pytest.approx(1e-3)
    assert SensorScale.kilo.multiplier == 1e3
    assert SensorScale.mega.multiplier == 1e6
    assert SensorScale.exa.multiplier == 1e18  # RFC 3433 comment says 10^15: erratum
    assert SensorScale.peta.multiplier == 1e15  # RFC 3433 comment says 10^18: erratum
    assert SensorScale.yocto.multiplier == pytest.approx(1e-24)
    assert (int(SensorScale.exa), int(SensorScale.peta)) == (14, 15)  # enum numbers kept


def test_sensor_encoding_round_trips_and_clamps() -> None:
    watts = SensorSpec("power", "p", SensorType.watts, SensorScale.milli, 0, 1000, "W")
    assert watts.encode(87.5) == 87_500
    assert watts.decode(87_500) == pytest.approx(87.5)
    mem = SensorSpec("mem", "m", SensorType.other, SensorScale.mega, 3, 1000, "B")
    assert mem.encode(512 * 2**20) == 536_871  # 536.871 MB
    assert mem.encode(1e30) == 2**31 - 1


def test_resource_ids_and_eas_tables() -> None:
    t = make_tree()
    assert t.children("0") == ["0.eth0", "0.quake", "0.vi-alice", "0.vi-bob"]
    standby = t.get("0").spec.states[1]
    assert standby.kind == "standby"
    assert standby.wakeup_time_s == 10.0
    assert standby.power_gain_pct == pytest.approx(100 * (1 - 5 / 150))
    assert "EMULATED" in standby.name
    quake = t.get("0.quake").spec.states
    assert [s.setting for s in quake.values()] == [4, 3, 2, 1]
    assert quake[3].max_packet_throughput_pps == pytest.approx(
        quake[0].max_packet_throughput_pps / 4
    )
    assert t.get("0.vi-alice").spec.states[3].setting == 0.2


def test_provision_stages_only_and_commit_applies() -> None:
    t, hw = make_tree(), RecordingApplier()
    t.provision("0.vi-alice", 3)
    assert t.state("0.vi-alice").id == 0
    assert t.state("0.vi-alice", committed=False).id == 3
    assert hw.applied == []
    assert t.commit("0.vi-alice", now=5.0, applier=hw) == ["0.vi-alice"]
    assert hw.hardware == {"0.vi-alice": 3}
    assert t.state("0.vi-alice").id == 3
    assert [(h.timestamp, h.state_id) for h in t.state_history("0.vi-alice")] == [
        (0.0, 0),
        (5.0, 3),
    ]


def test_commit_without_stage_is_conflict() -> None:
    t = make_tree()
    with pytest.raises(Conflict, match="nothing staged"):
        t.commit("0", now=1.0, applier=RecordingApplier())


def test_bad_ids_and_states_change_nothing() -> None:
    t = make_tree()
    with pytest.raises(NotFound, match=r"0\.cpu9"):
        t.provision("0.cpu9", 0)
    with pytest.raises(InvalidInput, match="EAS 7"):
        t.provision("0.quake", 7)
    assert t.staged("0") == []


def test_rollback_discards_staged() -> None:
    t = make_tree()
    t.provision("0.quake", 2)
    t.provision("0.vi-bob", 1)
    assert t.rollback("0") == ["0.quake", "0.vi-bob"]
    assert t.staged("0") == []
    assert t.state("0.quake", committed=False).id == 0


def test_device_commit_applies_children_before_parent() -> None:
    t, hw = make_tree(), RecordingApplier()
    t.provision("0", 1)
    t.provision("0.quake", 3)
    t.provision("0.vi-alice", 2)
    assert t.commit("0", now=2.0, applier=hw) == ["0.quake", "0.vi-alice", "0"]
    assert hw.applied == [("0.quake", 3), ("0.vi-alice", 2), ("0", 1)]


def test_partial_failure_rolls_back_what_was_applied() -> None:
    t, hw = make_tree(), RecordingApplier(fail_on={"0.vi-bob"})
    t.provision("0.quake", 3)
    t.provision("0.vi-alice", 2)
    t.provision("0.vi-bob", 1)
    with pytest.raises(CommitFailed, match=r"failed at '0\.vi-bob'.*rolled back 2") as err:
        t.commit("0", now=3.0, applier=hw)
    assert err.value.details["rolled_back"] == ["0.quake", "0.vi-alice"]
    # hardware back to the committed EASs, in reverse order
    assert hw.applied == [("0.quake", 3), ("0.vi-alice", 2), ("0.vi-alice", 0), ("0.quake", 0)]
    assert hw.hardware == {"0.quake": 0, "0.vi-alice": 0}
    # committed unchanged, staged values kept for a retry or a rollback
    assert [t.state(r).id for r in ("0.quake", "0.vi-alice", "0.vi-bob")] == [0, 0, 0]
    assert t.staged("0") == ["0.quake", "0.vi-alice", "0.vi-bob"]
    assert len(t.state_history("0.quake")) == 1


def test_failed_compensation_is_reported() -> None:
    class UndoFails(RecordingApplier):
        def apply(self, resource: ResourceSpec, state: EnergyAwareState) -> None:
            if resource.id == "0.vi-bob" or (resource.id == "0.quake" and state.id == 0):
                raise OSError("stuck")
            super().apply(resource, state)

    t, hw = make_tree(), UndoFails()
    t.provision("0.quake", 1)
    t.provision("0.vi-alice", 1)
    t.provision("0.vi-bob", 1)
    with pytest.raises(CommitFailed, match=r"compensation also failed for 0\.quake") as err:
        t.commit("0", now=1.0, applier=hw)
    assert err.value.details["compensation_failed"] == ["0.quake"]
    assert hw.hardware == {"0.quake": 1, "0.vi-alice": 0}


def test_release_returns_to_default_states() -> None:
    t, hw = make_tree(), RecordingApplier()
    t.provision("0.quake", 2)
    t.commit("0.quake", now=1.0, applier=hw)
    t.provision("0.vi-alice", 1)  # staged, not committed
    assert t.release("0", now=2.0, applier=hw) == ["0.quake"]
    assert hw.hardware["0.quake"] == 0
    assert t.staged("0") == []
    assert t.state("0.quake").id == 0
    assert t.release("0", now=3.0, applier=hw) == []


def test_sensor_ring_buffer_and_ids() -> None:
    t = make_tree()
    for i in range(5):
        t.record("0", "power", SensorReading(SensorStatus.ok, i, float(i), "modelled", float(i)))
    assert [r.raw for r in t.sensor_history("0", "power")] == [2, 3, 4]
    latest = t.sensor("0", "power")
    assert latest is not None
    assert latest.raw == 4
    assert t.split_sensor_id("0.vi-alice.cpu") == ("0.vi-alice", "cpu")
    with pytest.raises(NotFound):
        t.split_sensor_id("0.vi-alice.nosuch")
    with pytest.raises(NotFound):
        t.sensor("0", "nosuch")


def test_add_requires_parent_and_remove_drops_subtree() -> None:
    t = make_tree()
    with pytest.raises(NotFound, match="parent"):
        t.add(R.process_resource("0.x.y", "p", 1, 1000, 2), now=0.0)
    t.add(R.process_resource("0.quake.worker0", "w", 1, 1000, 2), now=0.0)
    t.remove("0.quake")
    assert "0.quake.worker0" not in t.ids()
    assert "0.quake" not in t.ids()
