"""Process and HTTP plumbing of ``openvolcano demo``: daemons by pid, bounded waits, probes.

Role: the demo (:mod:`openvolcano.netlab.edge_demo`) runs the real daemons of
OpenVolcano - quake, magma, lava's node agent, geyser - as separate
``openvolcano ...`` processes and talks to them only over their public
interfaces (REST, OpenFlow). netlab may not import the planes, so this module
is all it needs to drive them: start a daemon with its output in a log file,
stop it by pid, wait (bounded) for a condition, and the small HTTP probe the
user's device runs inside its namespace.

Invariants: only processes started here are ever signalled, by pid (each in
its own session, so a daemon's children go with it); every wait has a
deadline and names what it waited for when it fails, with the tail of the
log of any daemon that died meanwhile.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TypeVar

import httpx

from openvolcano.common.errors import OpenVolcanoError

__all__ = [
    "OPENVOLCANO",
    "PROBE_SCRIPT",
    "Daemons",
    "DemoError",
    "free_port",
    "outages",
    "wait_until",
]

T = TypeVar("T")

#: The ``openvolcano`` command of the running interpreter's environment.
OPENVOLCANO = str(Path(sys.executable).with_name("openvolcano"))


class DemoError(OpenVolcanoError):
    """A demo step could not be carried out (the message says which and why)."""

    code = "demo_failed"


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Daemons:
    """``openvolcano`` daemons this demo started, by name; logs under ``logdir``."""

    def __init__(self, logdir: Path) -> None:
        self.logdir = logdir
        # Written by start/stop, read by alive/stop_all; one thread.
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}

    def start(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        """Start ``argv`` in its own session, stdout+stderr to ``<logdir>/<name>.log``."""
        log = (self.logdir / f"{name}.log").open("wb")
        self._logs[name] = log
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def log_tail(self, name: str, lines: int = 6) -> str:
        try:
            text = (self.logdir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def check_alive(self) -> None:
        """DemoError naming the first daemon that exited, with its last log lines."""
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise DemoError(
                    f"{name} exited with status {proc.returncode}:\n{self.log_tail(name)}"
                )

    def stop(self, name: str, timeout: float = 5.0) -> None:
        """SIGTERM the daemon's process group (its pid), SIGKILL after ``timeout``."""
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
        log = self._logs.pop(name, None)
        if log is not None:
            log.close()

    def stop_all(self) -> None:
        """Stop every daemon, last started first."""
        for name in reversed(list(self.procs)):
            self.stop(name)


def wait_until(
    what: str,
    fn: Callable[[], T | None],
    timeout: float,
    daemons: Daemons | None = None,
    period: float = 0.05,
) -> T:
    """Call ``fn`` until it returns something truthy (returned), at most ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last_error = ""
    while True:
        if daemons is not None:
            daemons.check_alive()
        try:
            value = fn()
        except (OSError, ValueError, KeyError, httpx.HTTPError) as exc:  # not answering yet
            value, last_error = None, f" (last error: {exc})"
        if value:
            return value
        if time.monotonic() >= deadline:
            raise DemoError(f"timed out after {timeout:g} s waiting for {what}{last_error}")
        time.sleep(period)


#: The user's device polling its NAS: one HTTP GET every PERIOD s, a fresh TCP
#: connection each time, one line per probe: "start end ok" (CLOCK_MONOTONIC,
#: which is the same in every namespace of the machine). Stops on SIGTERM.
PROBE_SCRIPT = r"""
import signal, sys, time, urllib.request
url, out, period, expected = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
with open(out, "w", buffering=1) as f:
    while True:
        t0 = time.monotonic()
        try:
            with opener.open(url, timeout=0.25) as r:
                ok = r.status == 200 and r.read().decode() == expected
        except Exception:
            ok = False
        t1 = time.monotonic()
        f.write(f"{t0:.4f} {t1:.4f} {int(ok)}\n")
        time.sleep(max(0.0, period - (t1 - t0)))
"""


def outages(lines: Sequence[str]) -> tuple[list[float], int, int]:
    """(outage durations, probes, failed probes) from PROBE_SCRIPT output.

    An outage runs from the end of the last successful probe before a run of
    failures to the end of the first successful probe after it; failures
    before the first success (the probe starting up) do not count.
    """
    probes = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3:
            probes.append((float(parts[0]), float(parts[1]), parts[2] == "1"))
    gaps: list[float] = []
    last_ok: float | None = None
    failing = False
    for _, end, ok in probes:
        if ok:
            if failing and last_ok is not None:
                gaps.append(end - last_ok)
            last_ok, failing = end, False
        elif last_ok is not None:
            failing = True
    return gaps, len(probes), sum(1 for *_, ok in probes if not ok)
