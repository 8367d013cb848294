"""A real geyser on this machine: real per-process figures, a real cgroup quota, the CLI.

These run the real probes and actuators (no fixtures): the CPU figure geyser
reports for a busy child must rise while it runs and fall once it is stopped,
and a CPU quota committed through GAL must actually throttle a process.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from openvolcano.caldera.geyser.agent import GeyserAgent
from openvolcano.caldera.geyser.cgroupfs import detect_cgroup
from openvolcano.caldera.geyser.config import GeyserConfig

BUSY = "while True: pass"
OPENVOLCANO = [sys.executable, "-m", "openvolcano.cli.main"]


def wait_for(pred: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``pred`` until true or ``timeout`` seconds pass (bounded; never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def busy_child() -> Iterator[subprocess.Popen[bytes]]:
    child = subprocess.Popen([sys.executable, "-c", BUSY])
    try:
        yield child
    finally:
        child.kill()
        child.wait(timeout=10)


def test_real_geyser_reports_a_busy_process(
    busy_child: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    port = free_port()
    cfg = tmp_path / "geyser.toml"
    cfg.write_text(f'refresh_s = 0.2\n[[processes]]\nname = "busy"\npid = {busy_child.pid}\n')
    main = "from openvolcano.cli.main import main; main()"
    log = tmp_path / "geyser.log"
    with log.open("wb") as log_f:
        server = subprocess.Popen(
            [sys.executable, "-c", main, "geyser", "--port", str(port), "--config", str(cfg)],
            stdout=log_f, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}/gal/resources"

        def cpu() -> float:
            try:
                r = httpx.get(f"{base}/0.proc-busy/sensors/cpu", timeout=2)
            except httpx.TransportError:
                return -1.0
            body = r.json()
            return float(body["value"]) if r.status_code == 200 and body["status"] == "ok" else -1.0

        wait_for(lambda: cpu() > 40.0, 30, "geyser to report the busy child above 40% CPU")
        mem = httpx.get(f"{base}/0.proc-busy/sensors/mem", timeout=2).json()
        assert mem["origin"] == "measured"
        assert mem["value"] > 1e6
        server_load = httpx.get(f"{base}/0/sensors/cpu_load", timeout=2).json()
        assert server_load["origin"] == "measured"
        assert server_load["value"] > 10
        power = httpx.get(f"{base}/0/sensors/power", timeout=2).json()
        assert power["origin"] == "modelled"  # this machine reports no power
        os.kill(busy_child.pid, signal.SIGSTOP)
        wait_for(lambda: 0.0 <= cpu() < 5.0, 30, "the stopped child's CPU figure to fall below 5%")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
    # uvicorn shuts down gracefully on SIGTERM, then re-raises the signal
    assert server.returncode in (0, -signal.SIGTERM), log.read_text()
    assert "Finished server process" in log.read_text()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.root
@pytest.mark.usefixtures("requires_root")
def test_cgroup_quota_committed_through_gal_limits_a_process(tmp_path: Path) -> None:
    root = Path("/sys/fs/cgroup")
    cg = detect_cgroup(root)
    if cg is None:
        pytest.skip("no cgroup hierarchy with a cpu controller on this machine")
    name = f"ovgeyser-{uuid.uuid4().hex[:8]}"
    if cg.version == 2:
        procs, made = root / name / "cgroup.procs", [root / name]
        sub = root / "cgroup.subtree_control"
        enabled_cpu = "cpu" not in sub.read_text().split()
    else:
        procs, made = root / "cpu" / name / "cgroup.procs", [root / "cpu" / name]
        sub, enabled_cpu = root, False
    child: subprocess.Popen[bytes] | None = None
    try:
        if enabled_cpu:
            sub.write_text("+cpu\n")
        for d in made:
            d.mkdir()
        cfg = GeyserConfig.model_validate(
            {
                "cgroup_root": str(root),
                "virtual_images": [{"id": "t", "cgroup": name, "quotas": [0.2]}],
            }
        )
        agent = GeyserAgent.from_config(cfg)
        agent.start(0.0)
        agent.provision("0.vi-t", 1)
        assert agent.commit("0.vi-t", 1.0).changed == ["0.vi-t"]
        assert cg.cpu_max(name).cpus == pytest.approx(0.2)
        child = subprocess.Popen(
            ["/bin/sh", "-c", f'echo $$ > {procs} && exec {sys.executable} -c "{BUSY}"']
        )
        wait_for(
            lambda: str(child.pid) in procs.read_text().split(), 10, "the child to join its cgroup"
        )
        wait_for(
            lambda: "python" in Path(f"/proc/{child.pid}/comm").read_text(),
            10,
            "exec of the busy loop",
        )
        t0, c0 = time.monotonic(), _cpu_seconds(child.pid)
        time.sleep(1.5)  # the measurement window itself
        share = (_cpu_seconds(child.pid) - c0) / (time.monotonic() - t0)
        assert share < 0.4, f"quota 0.2 CPU, but the child used {share:.2f} CPU"
        agent.refresh(2.0)
        agent.refresh(2.5)
        assert agent.monitor_sensor("0.vi-t", "quota").value == pytest.approx(0.2)  # type: ignore[union-attr]
        agent.release("0.vi-t", 3.0)
        assert cg.cpu_max(name).cpus is None
    finally:
        if child is not None:
            child.kill()
            child.wait(timeout=10)
        for d in reversed(made):
            if d.exists():
                wait_for(
                    lambda d=d: not (d / "cgroup.procs").read_text().strip(), 10, f"{d} to empty"
                )
                d.rmdir()
        if enabled_cpu:
            sub.write_text("-cpu\n")


def test_once_prints_the_tree_with_origins() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from openvolcano.cli.main import main; main()", "geyser", "--once"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("0  [server]")
    power = next(line for line in lines if line.strip().startswith("power "))
    assert power.rstrip().endswith(("modelled", "measured"))
    load = next(line for line in lines if line.strip().startswith("cpu_load"))
    assert load.rstrip().endswith("measured")
    assert any(line.strip().startswith("0.cpu0") for line in lines)


def test_bad_config_is_one_clear_line(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("refresh_s = -1\n")
    out = subprocess.run(
        [sys.executable, "-c", "from openvolcano.cli.main import main; main()", "geyser", "--once",
         "--config", str(cfg)], capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert out.returncode == 2
    assert "refresh_s" in out.stderr
    assert "Traceback" not in out.stderr
