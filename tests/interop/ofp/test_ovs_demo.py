"""The OpenFlow demo against a real Open vSwitch: what we install is what OVS reports."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from openvolcano.cli.main import app
from openvolcano.cli.ofp_demo import DEMO_DPID, demo_flows, flow_key, mismatches, run_demo

pytestmark = [pytest.mark.ovs, pytest.mark.root, pytest.mark.slow]


def test_flows_read_back_over_openflow_equal_the_installed_ones() -> None:
    lines: list[str] = []
    result = asyncio.run(run_demo(timeout=30, say=lines.append))
    assert result.datapath_id == DEMO_DPID
    installed = demo_flows()
    assert result.installed == installed
    want = sorted(
        (flow_key(f.table_id, f.priority, f.cookie, f.match, f.instructions) for f in installed),
        key=repr,
    )
    got = sorted(
        (
            flow_key(f.table_id, f.priority, f.cookie, f.match, f.instructions)
            for f in result.read_back
        ),
        key=repr,
    )
    assert got == want
    assert mismatches(installed, result.read_back) == []
    assert len(result.ofctl_flows) == len(installed)
    assert any("goto_table:1" in line for line in result.ofctl_flows)
    assert "negotiated OpenFlow version 0x04" in lines
    assert lines[-1] == "Open vSwitch stopped"


def test_cli_help_describes_the_demo() -> None:
    out = CliRunner().invoke(app, ["ofp", "demo", "--help"])
    assert out.exit_code == 0
    assert "--timeout" in out.output
    assert "FLOW_STATS" in out.output
