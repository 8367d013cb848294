"""Fixtures for the third-party controller interop tests: ``switch_kind`` and ``bench``.

``switch_kind`` parametrizes a test over the switches under test (``ovs``,
``quake``); ``quake`` is skipped, with the reason, only while ``openvolcano
quake --help`` fails. ``bench(topology)`` builds the topology with netlab,
creates the switch under test for switch ``s1`` (not started) and returns an
:class:`~interop_harness.Bench`; its controllers and switch are stopped after
the test, before netlab removes the lab.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from interop_harness import (
    Bench,
    faucet_unavailable_reason,
    make_switch,
    quake_unavailable_reason,
)

from openvolcano.netlab.build import Lab
from openvolcano.netlab.topo import Topology


@functools.cache
def _quake_reason() -> str | None:
    return quake_unavailable_reason()


@pytest.fixture(params=[pytest.param("ovs", marks=pytest.mark.ovs), "quake"])
def switch_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    if kind == "quake":
        reason = _quake_reason()
        if reason is not None:
            pytest.skip(reason)
    return kind


@pytest.fixture
def bench(
    netlab: Callable[..., Lab], switch_kind: str
) -> Iterator[Callable[[dict[str, Any]], Bench]]:
    benches: list[Bench] = []

    def factory(topo: dict[str, Any], switch: str = "s1") -> Bench:
        lab = netlab(Topology.parse(topo))
        made = Bench(lab, make_switch(switch_kind, lab, switch))
        benches.append(made)
        return made

    yield factory
    for made in reversed(benches):
        made.cleanup()


@pytest.fixture
def faucet_available() -> None:
    """Skip without Faucet's virtualenv, except in CI, where `make` must have made it."""
    reason = faucet_unavailable_reason()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
