"""``openvolcano lava``: operator commands against a real node agent process (fake back-end).

The agent is started by the test as ``openvolcano lava agent --backend fake``
on a free loopback port, stopped with SIGTERM by pid (it must exit 0); the
operator commands run in-process through typer's runner and reach it over
HTTP, exactly as an operator's shell would.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from openvolcano.cli.main import app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def agent_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "agent.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "openvolcano"), "lava", "agent", "--backend",
             "fake", "--listen", f"127.0.0.1:{port}", "--server", "a", "--server", "b"],
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=1).json()["backend"] == "fake":
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "agent did not come up"
            time.sleep(0.05)
        yield url
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def lava(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["lava", *args, "--agent", url])
    return result.exit_code, result.stdout, result.stderr


def test_operator_life_cycle(agent_url: str) -> None:
    code, out, _ = lava(agent_url, "servers")
    assert (code, out.split()) == (0, ["a", "b"])
    code, out, _ = lava(agent_url, "create", "nas1", "--server", "a", "--kind", "nas", "--start")
    assert code == 0
    assert out.split()[:4] == ["nas1", "a", "running", "nas"]
    code, out, _ = lava(agent_url, "list", "--json")
    assert code == 0
    assert [(i["name"], i["server"], i["state"]) for i in json.loads(out)] == [
        ("nas1", "a", "running")
    ]
    code, out, _ = lava(agent_url, "migrate", "nas1", "b", "--mode", "live", "--json")
    assert code == 0
    report = json.loads(out)
    assert (report["source"], report["target"], report["mode_used"]) == ("a", "b", "live")
    code, out, _ = lava(agent_url, "migrate", "nas1", "a")
    assert code == 0
    assert out.startswith("nas1: b -> a mode cold (asked cold) total ")
    code, out, _ = lava(agent_url, "stop", "nas1")
    assert (code, out.split()[2]) == (0, "stopped")
    code, out, _ = lava(agent_url, "start", "nas1")
    assert (code, out.split()[2]) == (0, "running")
    code, out, _ = lava(agent_url, "status", "nas1", "--json")
    assert (code, json.loads(out)["server"]) == (0, "a")
    code, out, _ = lava(agent_url, "destroy", "nas1")
    assert (code, out) == (0, "destroyed nas1\n")
    code, out, _ = lava(agent_url, "list")
    assert (code, out.splitlines()[1:]) == (0, [])


def test_errors_are_one_line_and_exit_1(agent_url: str) -> None:
    for args, message in [
        (("status", "ghost"), "lava: virtual image 'ghost' not found\n"),
        (("destroy", "ghost"), "lava: virtual image 'ghost' not found\n"),
        (("create", "x1", "--server", "nowhere"), "lava: server 'nowhere' not found\n"),
        (("create", "Bad!", "--server", "a"), None),
        (("migrate", "ghost", "b"), "lava: virtual image 'ghost' not found\n"),
    ]:
        code, out, err = lava(agent_url, *args)
        assert code == 1, (args, out, err)
        assert len(err.splitlines()) == 1, err
        assert err.startswith("lava: ")
        if message is not None:
            assert err == message
    code, _, err = lava("http://127.0.0.1:1", "list")
    assert code == 1
    assert err.startswith("lava: lava node agent at http://127.0.0.1:1 unreachable")
    assert len(err.splitlines()) == 1


def test_agent_rejects_bad_listen_address() -> None:
    result = CliRunner().invoke(
        app, ["lava", "agent", "--backend", "fake", "--listen", "nowhere:80"]
    )
    assert result.exit_code == 1
    assert result.stderr == "lava: --listen wants an IP address, got 'nowhere'\n"
