"""The private Open vSwitch that magma's process-level integration tests drive."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from magma_lab import require_root_and_ovs

from openvolcano.netlab.ovs import PrivateOvs


@pytest.fixture
def ovs() -> Iterator[PrivateOvs]:
    """A private ovsdb-server + ovs-vswitchd (skipped without root or Open vSwitch)."""
    require_root_and_ovs("Open vSwitch")
    with PrivateOvs() as private:
        yield private
