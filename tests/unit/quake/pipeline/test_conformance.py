"""Run the data-driven conformance cases (tests/conformance/quake_cases.py) in memory."""

from __future__ import annotations

import pytest
from quake_cases import CASES, Case

from openvolcano.caldera.quake.pipeline import Pipeline, StaticPorts
from openvolcano.ofp.messages import FlowMod, GroupMod, MeterMod


@pytest.mark.parametrize("case", CASES, ids=[k.name for k in CASES])
def test_case(case: Case) -> None:
    pl = Pipeline(n_tables=8, ports=StaticPorts(case.ports))
    for msg in case.setup:
        if isinstance(msg, FlowMod):
            pl.apply_flow_mod(msg, 0.0)
        elif isinstance(msg, GroupMod):
            pl.apply_group_mod(msg, 0.0)
        elif isinstance(msg, MeterMod):
            pl.apply_meter_mod(msg, 0.0)
        else:
            pytest.fail(f"unsupported setup message {msg!r}")
    res = pl.process(case.in_port, case.frame, 1.0)
    assert [(o.port, o.data) for o in res.outputs] == list(case.outputs), res.trace.render()
    assert [(p.reason, p.table_id) for p in res.packet_ins] == list(case.packet_ins)
    # the counters saw the packet exactly once per matched table
    hits = sum(t.matched_count for t in pl.table_stats())
    assert hits == sum(1 for s in res.trace.steps if s.priority is not None)
