"""``openvolcano demo``: a user's Personal Network and virtual NAS following them across edge sites.

Role: the most complete real thing OpenVolcano runs today (the paper's
sections II-VI end to end, DESIGN §3 flows "subscribe" and "follow-me"). Two
emulated edge sites, each an ``openvolcano quake`` switch, one
``openvolcano magma`` controller, a ``lava`` node agent running the user's
virtual NAS on the netns back-end, one ``geyser`` per server. The
orchestration layer (crater, conduit, cinder, netmanager) does not exist yet,
so this module plays it, explicitly and minimally: it reads magma's
topology and hosts, computes the PN rules with
:func:`~openvolcano.netlab.pn_standin.personal_network_rules`, PUTs them to
magma, and asks lava to migrate the NAS - all through the daemons' public
REST interfaces, never by importing the planes.

Design: the topology is netlab data (:func:`edge_topology`); each *server*
is a namespace whose Linux bridge ``br0`` holds the virtual images' NICs and
is uplinked to a port of its site's quake (lava's netns back-end attaches
image NICs to a bridge; quake cannot add ports at runtime, so the bridge is
the server's internal switch and the uplink its quake port). quake runs in
the root namespace with ``--port IFNAME@NETNS`` so the controller and every
REST API stay on loopback. The user's device has a second, unplugged leg at
site B; "moving" unplugs the first and plugs the second (same MAC and IP).
Every step is timed and checked; :func:`run_demo` returns a
:class:`DemoSummary` and tears everything down (by pid, then netlab) also on
failure and Ctrl-C.

Invariants: nothing outside the lab's namespaces, the demo's temporary
directory, its daemons (by pid) and the NAS image (destroyed through lava)
is touched; the summary passes only if every step's checks passed.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from openvolcano.netlab.build import Lab
from openvolcano.netlab.edge_procs import Daemons, DemoError
from openvolcano.netlab.edge_steps import EdgeSteps, edge_topology

__all__ = ["DemoOptions", "DemoSummary", "StepResult", "edge_topology", "run_demo"]


@dataclass
class StepResult:
    """One step of the demo: whether its checks passed, how long it took, what it measured."""

    name: str
    ok: bool
    seconds: float
    figures: dict[str, Any] = field(default_factory=dict)
    error: str = ""


@dataclass
class DemoSummary:
    """Every step's result; ``ok`` only if every step passed."""

    steps: list[StepResult]
    total_s: float

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.ok for s in self.steps)

    def to_json(self) -> str:
        return json.dumps(
            {"ok": self.ok, "total_s": round(self.total_s, 3),
             "steps": [asdict(s) for s in self.steps]},
            indent=1,
        )  # fmt: skip

    def table(self) -> str:
        rows = [("step", "result", "time", "figures")]
        for s in self.steps:
            figs = ", ".join(f"{k}={v}" for k, v in s.figures.items())
            if s.error:
                figs = f"{figs}; {s.error.splitlines()[0]}" if figs else s.error.splitlines()[0]
            rows.append((s.name, "PASS" if s.ok else "FAIL", f"{s.seconds:.2f}s", figs))
        w = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[2]:>{w[2]}}  {r[3]}" for r in rows]
        lines.insert(1, "-" * min(100, max(len(x) for x in lines)))
        verdict = "every step passed" if self.ok else "SOME STEPS FAILED"
        lines.append(f"total {self.total_s:.1f} s: {verdict}")
        return "\n".join(lines)


@dataclass(frozen=True)
class DemoOptions:
    """``timeout``: bound of every wait; ``keep``: called (blocking) before teardown."""

    timeout: float = 20.0
    keep: Callable[[dict[str, str]], None] | None = None
    out: Callable[[str], None] = print


class _Runner:
    """Runs steps in order, times them, stops at the first failure."""

    def __init__(self, out: Callable[[str], None]) -> None:
        self.out = out
        self.steps: list[StepResult] = []
        self.t0 = time.monotonic()

    def say(self, text: str) -> None:
        self.out(f"[{time.monotonic() - self.t0:6.2f}s] {text}")

    @contextmanager
    def step(self, name: str) -> Iterator[dict[str, Any]]:
        figures: dict[str, Any] = {}
        self.say(f"== {name}")
        start = time.monotonic()
        try:
            yield figures
        except (DemoError, OSError, httpx.HTTPError, subprocess.SubprocessError) as exc:
            msg = getattr(exc, "message", None) or str(exc)
            self.steps.append(StepResult(name, False, time.monotonic() - start, figures, msg))
            self.say(f"   FAIL: {msg}")
            raise _Stop from None
        except BaseException as exc:
            self.steps.append(StepResult(name, False, time.monotonic() - start, figures, repr(exc)))
            raise
        self.steps.append(StepResult(name, True, time.monotonic() - start, figures))


class _Stop(Exception):
    """A step failed: skip the remaining steps, tear down, report."""


def run_demo(opts: DemoOptions | None = None) -> DemoSummary:
    """Run the whole scenario and tear it down; the summary says what passed."""
    opts = opts or DemoOptions()
    run = _Runner(opts.out)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ovdemo-")))
        daemons = Daemons(tmp)
        lab = Lab(edge_topology(), prefix="ovd")
        http = stack.enter_context(httpx.Client(timeout=10.0, trust_env=False))
        env = EdgeSteps(run.say, lab, daemons, http, tmp, opts.timeout)
        try:
            try:
                _scenario(run, env)
                if opts.keep is not None:
                    opts.keep(env.endpoints())
            except _Stop:
                pass
        finally:
            with run.step("teardown") as fig:
                fig.update(env.teardown())
    return DemoSummary(run.steps, time.monotonic() - run.t0)


def _scenario(run: _Runner, env: EdgeSteps) -> None:
    with run.step("1 edge network (netlab)") as fig:
        fig.update(env.build_network())
    with run.step("2 switches + controller, LLDP") as fig:
        fig.update(env.start_network_daemons())
    with run.step("3 virtual NAS at site A (lava)") as fig:
        fig.update(env.create_nas())
    with run.step("4 Personal Network rules (magma)") as fig:
        fig.update(env.install_pn())
    with run.step("5 fetch from NAS + isolation") as fig:
        fig.update(env.fetch_and_isolation())
    with run.step("6 follow-me to site B") as fig:
        fig.update(env.follow_me())
    with run.step("7 observe (geyser, quake)") as fig:
        fig.update(env.observe())
