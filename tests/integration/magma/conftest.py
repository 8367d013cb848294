"""The private Open vSwitch that magma's process-level integration tests drive."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from openvolcano.netlab.ovs import OvsNotInstalled, PrivateOvs, find_binaries


@pytest.fixture
def ovs() -> Iterator[PrivateOvs]:
    """A private ovsdb-server + ovs-vswitchd (skipped without root or Open vSwitch)."""
    if os.geteuid() != 0:
        pytest.skip("needs root (Open vSwitch)")
    try:
        find_binaries()
    except OvsNotInstalled as e:
        pytest.skip(str(e))
    with PrivateOvs() as private:
        yield private
