"""The edge demo end to end: every step passes, and isolation really blocked the second user.

Runs :func:`openvolcano.netlab.edge_demo.run_demo` - real quake, magma, lava
and geyser processes in netlab namespaces - exactly as ``make demo`` does.
"""

from __future__ import annotations

import pytest

from openvolcano.netlab.edge_demo import DemoOptions, run_demo

pytestmark = [pytest.mark.root, pytest.mark.slow, pytest.mark.usefixtures("requires_root")]


def test_edge_demo_passes_every_step() -> None:
    lines: list[str] = []
    summary = run_demo(DemoOptions(timeout=30.0, out=lines.append))
    failed = [(s.name, s.error) for s in summary.steps if not s.ok]
    assert summary.ok, f"failed steps: {failed}\n" + "\n".join(lines)
    names = [s.name for s in summary.steps]
    assert len(names) == 8
    assert names[-1] == "teardown"
    steps = {s.name[0]: s for s in summary.steps}
    assert steps["5"].figures["bob_blocked"] is True
    assert any("bob GET (static ARP for the NAS): blocked" in x for x in lines)
    assert steps["6"].figures["migration"] == "cold"
    assert steps["6"].figures["client_downtime_s"] > 0  # the move was seen by the device
    assert steps["7"].figures["trace_out_port"] == 2
