"""Project-wide pytest fixtures: the ``netlab`` factory and the ``requires_root`` skip helper.

Tests that build namespaces are marked ``root`` and use the ``requires_root``
fixture (the ``netlab`` fixture uses it too); they are skipped only when not
running as root (CI runs as root, so they run there).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from openvolcano.netlab.build import Lab, NetlabError
from openvolcano.netlab.topo import Topology

# CI machines have 2 shared cores: a per-example deadline would make property
# tests fail at random under load. Select with HYPOTHESIS_PROFILE=dev for more examples.
settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile("dev", parent=settings.get_profile("ci"), max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def requires_root() -> None:
    """Skip the test unless running as root: ``@pytest.mark.usefixtures("requires_root")``."""
    if os.geteuid() != 0:
        pytest.skip("needs root (network namespaces, veth pairs)")


@pytest.fixture
def netlab(requires_root: None) -> Iterator[Callable[..., Lab]]:
    """Factory: ``lab = netlab(topo)`` builds ``topo``; every lab is torn down after the test."""
    labs: list[Lab] = []

    def factory(topo: Topology, **kwargs: Any) -> Lab:
        lab = Lab(topo, prefix=kwargs.pop("prefix", "ovt"), **kwargs)
        labs.append(lab)  # recorded before building: a half-built lab is cleaned up too
        return lab.build()

    yield factory
    problems = []
    for lab in reversed(labs):
        try:
            lab.teardown()
        except NetlabError as exc:
            problems.append(str(exc))
    if problems:
        pytest.fail("netlab teardown: " + "; ".join(problems))
