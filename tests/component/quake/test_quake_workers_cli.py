"""``openvolcano quake workers [N] --api URL`` against a management API over real HTTP.

The server is geyser's stand-in of quake's ``/workers`` API (the real one,
:mod:`openvolcano.caldera.quake.fastpath.mgmt`, is exercised with real
workers in ``test_fastpath_switch``); here only the command line is tested.
"""

from __future__ import annotations

import sys
from pathlib import Path

from typer.testing import CliRunner

from openvolcano.cli.main import app

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "geyser"))
from quake_mgmt_standin import QuakeMgmtStandIn


def test_show_and_set_active_workers() -> None:
    runner = CliRunner()
    with QuakeMgmtStandIn(maximum=4, pids=(11, 12, 13, 14)) as api:
        res = runner.invoke(app, ["quake", "workers", "--api", api.url])
        assert res.exit_code == 0, res.output
        assert "active 4 of 4 workers (pids 11 12 13 14)" in res.output
        res = runner.invoke(
            app, ["quake", "workers", "2", "--api", api.url.removeprefix("http://")]
        )
        assert res.exit_code == 0, res.output
        assert api.active == 2
        assert "active 2 of 4" in res.output
        res = runner.invoke(app, ["quake", "workers", "9", "--api", api.url])
        assert res.exit_code == 2
        assert "1..4" in res.output
        assert api.active == 2


def test_unreachable_api_is_one_line_and_exit_2() -> None:
    res = CliRunner().invoke(app, ["quake", "workers", "--api", "http://127.0.0.1:9"])
    assert res.exit_code == 2
    assert "unreachable" in res.output
    assert "Traceback" not in res.output
