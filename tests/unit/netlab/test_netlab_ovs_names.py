"""PrivateOvs input checks that need no Open vSwitch: missing binaries, names."""

from __future__ import annotations

from pathlib import Path

import pytest

from openvolcano.common.errors import InvalidInput
from openvolcano.netlab.ovs import OvsNotInstalled, PrivateOvs, find_binaries, unique_name


def test_missing_binaries_say_run_make_deps(tmp_path: Path) -> None:
    with pytest.raises(OvsNotInstalled, match="make deps") as info:
        find_binaries(path=str(tmp_path), schemas=(str(tmp_path / "none.ovsschema"),))
    assert "ovs-vswitchd" in str(info.value)
    assert "vswitch.ovsschema" in str(info.value)


def test_unique_names_fit_an_interface_name() -> None:
    names = {unique_name("ovbr") for _ in range(50)}
    assert len(names) == 50
    assert all(len(n) <= 15 for n in names)
    with pytest.raises(InvalidInput):
        unique_name("a-very-long-prefix")


def test_commands_before_start_are_refused_and_bad_bridge_names_rejected() -> None:
    ovs = PrivateOvs()
    with pytest.raises(Exception, match="not started"):
        ovs.vsctl("show")
    with pytest.raises(InvalidInput, match="interface name"):
        ovs.add_bridge("x" * 16)
    ovs.stop()  # stopping what never started is harmless
