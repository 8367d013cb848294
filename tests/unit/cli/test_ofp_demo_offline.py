"""The OpenFlow demo's parts that need no Open vSwitch: missing OVS, flow comparison, table."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import pytest

from openvolcano.cli.ofp_demo import demo_flows, format_flow_table, mismatches, run_demo
from openvolcano.netlab.ovs import OvsNotInstalled
from openvolcano.ofp.multipart import FlowStats
from openvolcano.ofp.oxm import Match


def test_missing_ovs_is_a_clear_error(tmp_path: Path) -> None:
    lines: list[str] = []
    with pytest.raises(OvsNotInstalled, match="run `make deps`"):
        asyncio.run(run_demo(timeout=5, say=lines.append, ovs_search_path=str(tmp_path)))
    assert lines[-1] == "Open vSwitch stopped"


def _as_stats() -> tuple[FlowStats, ...]:
    return tuple(
        FlowStats(
            table_id=f.table_id,
            priority=f.priority,
            cookie=f.cookie,
            match=Match(fields=tuple(reversed(f.match.fields))),  # order must not matter
            instructions=f.instructions,
        )
        for f in demo_flows()
    )


def test_mismatches_compare_by_cookie_and_ignore_match_order() -> None:
    stats = _as_stats()
    assert mismatches(demo_flows(), stats) == []
    changed = (dataclasses.replace(stats[2], priority=1), *stats[3:])
    problems = mismatches(demo_flows(), changed)
    assert problems[0].startswith("cookie 0x10: installed but not read back")
    assert any(p.startswith("cookie 0x30: installed (0, 200") for p in problems)
    assert len(problems) == 3


def test_flow_table_is_readable() -> None:
    header, *rows = format_flow_table(_as_stats())
    assert header.split() == ["table", "prio", "cookie", "match", "instructions", "packets"]
    assert len(rows) == 5
    assert "apply(output:CONTROLLER)" in rows[3]
    assert "set_field:eth_dst=02:00:00:00:00:01" in rows[1]
    assert rows[4].startswith("1 ")
