"""geyser's thin main: load the config, start the agent, serve REST until SIGTERM.

Role: ``openvolcano geyser`` (one per data-plane server, paper section V). All
logic lives in :mod:`.agent` and :mod:`.app`; this module only wires them to
uvicorn and to the terminal (``--once``).

Invariants: ``--once`` takes two samples ``interval`` seconds apart (rates
need two) and prints the tree; every sensor line says ``measured`` or
``modelled``.
"""

from __future__ import annotations

import time

import uvicorn

from openvolcano.api import geyser as api
from openvolcano.caldera.geyser.agent import GeyserAgent
from openvolcano.caldera.geyser.app import create_app
from openvolcano.caldera.geyser.config import GeyserConfig
from openvolcano.common.clock import SystemClock

__all__ = ["format_tree", "run_once", "serve"]


def serve(config: GeyserConfig, host: str, port: int) -> None:
    """Run geyser's REST API in the foreground (uvicorn handles SIGINT/SIGTERM)."""
    clock = SystemClock()
    agent = GeyserAgent.from_config(config)
    agent.start(clock.now())
    agent.refresh(clock.now())
    app = create_app(agent, clock)
    uvicorn.run(app, host=host, port=port, log_level="info")


def run_once(config: GeyserConfig, interval: float = 0.5) -> api.Resource:
    """Sample twice, ``interval`` seconds apart, and return the whole tree."""
    clock = SystemClock()
    agent = GeyserAgent.from_config(config)
    agent.start(clock.now())
    agent.refresh(clock.now())
    time.sleep(interval)
    agent.refresh(clock.now())
    return agent.discovery("0", depth=64)


def _fmt(value: float, unit: str) -> str:
    if unit in ("B", "B/s") and abs(value) >= 1024:
        scaled, prefix = value, ""
        for p in ("Ki", "Mi", "Gi", "Ti"):
            if abs(scaled) < 1024:
                break
            scaled, prefix = scaled / 1024, p
        return f"{scaled:.1f} {prefix}{unit}"
    return f"{value:.4g} {unit}"


def format_tree(res: api.Resource, indent: int = 0) -> list[str]:
    """Human-readable tree: resource, committed EAS, EAS list, sensors with origins."""
    pad = "  " * indent
    state = next((s for s in res.states if s.id == res.committed_state), None)
    lines = [
        f"{pad}{res.id}  [{res.type}] {res.description}",
        f"{pad}  EAS committed={res.committed_state} ({state.name if state else '?'})"
        + (
            f" provisioned={res.provisioned_state}"
            if res.provisioned_state != res.committed_state
            else ""
        ),
    ]
    if len(res.states) > 1:
        for s in res.states:
            lines.append(
                f"{pad}    eas {s.id}: {s.kind:<8} gain {s.power_gain_pct:.1f}% ({s.gain_origin})"
                f" wake {s.wakeup_time_s:g}s  {s.name}"
            )
    for r in res.readings:
        name = r.sensor.rpartition(".")[2]
        shown = _fmt(r.value, r.unit) if r.status == "ok" else r.status
        lines.append(f"{pad}  {name:<16} {shown:<16} {r.origin}")
    for child in res.children:
        lines += format_tree(child, indent + 1)
    return lines
