"""``openvolcano netlab show``: summary, JSON that parses back, one-line errors."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from openvolcano.cli.main import app
from openvolcano.netlab.topo import Topology, load_topology

TOML = """
[[hosts]]
name = "h1"
ipv4 = "10.0.0.1/24"
[[switches]]
name = "s1"
dpid = "0x1"
ports = [{ name = "p1", port_no = 1 }]
[[links]]
a = "h1"
b = "s1:p1"
"""


def test_show_summary_and_json(tmp_path: Path) -> None:
    path = tmp_path / "lab.toml"
    path.write_text(TOML)
    runner = CliRunner()
    result = runner.invoke(app, ["netlab", "show", str(path)])
    assert result.exit_code == 0, result.output
    assert "link   h1 (eth0) <-> s1:p1 (s1-p1-xxxx)" in result.output
    assert "switch s1 dpid 00:00:00:00:00:00:00:01" in result.output
    result = runner.invoke(app, ["netlab", "show", "--json", str(path)])
    assert result.exit_code == 0, result.output
    assert Topology.model_validate_json(result.stdout) == load_topology(path)


def test_show_invalid_file_is_one_error_line(tmp_path: Path) -> None:
    path = tmp_path / "lab.json"
    path.write_text('{"hosts": [{"name": "h1"}], "links": [{"a": "h1", "b": "s9:p1"}]}')
    result = CliRunner().invoke(app, ["netlab", "show", str(path)])
    assert result.exit_code == 1
    assert result.stderr == f"error: {path}: link 1 (h1 - s9:p1): unknown node 's9'\n"
    assert "Traceback" not in result.output
