"""``openvolcano quake``: the thin main of the switch daemon over the quake library.

Role (paper §VI): one quake per Caldera server, attached to its physical
and logical interfaces, speaking OpenFlow 1.3 to magma. This module only
turns options into a :class:`QuakeConfig`, builds the objects
(:class:`~.datapath.SwitchDatapath`, :class:`~.agent.SwitchAgent`,
:class:`~.agent_net.QuakeSwitch`, optional status endpoint) and runs the
event loop in the foreground until SIGTERM/SIGINT, then shuts down cleanly.

Design: ``--local-port IFNAME`` adds the switch's OFPP_LOCAL port as a TAP
interface of that name (:class:`~.ports.tap.TapPort`); without it outputs
to LOCAL are dropped and counted (``dropped_local`` in ``/status``). The
status endpoint also serves ``POST /trace`` over the live tables. Port numbers are assigned 1, 2, 3... in option order unless given
(``IFNAME=N``); automatic numbers skip the explicit ones. Every bad option
is an :class:`~openvolcano.common.errors.InvalidInput` with a message for
the operator; a port that cannot be opened is a
:class:`~.ports.base.PortError`. ``--port IFNAME@NETNS`` opens an interface
that lives in network namespace ``NETNS`` (``/run/netns/NETNS``) while quake
stays in its own: the emulated edge network keeps switch ports in
namespaces and the management plane (controller, APIs) on loopback. Tests never import this module's
:func:`run` path: they build the library objects directly or spawn the CLI.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from openvolcano.common.errors import InvalidInput
from openvolcano.common.ids import DatapathId
from openvolcano.ofp import consts as c

from .agent import FAIL_MODES, SwitchAgent
from .agent_net import ControllerTarget, QuakeSwitch, parse_target
from .api import parse_api_address, start_api
from .datapath import SwitchDatapath
from .ports.afpacket import AfPacketPort
from .ports.base import PortBackend
from .ports.tap import TapPort
from .trace import trace_request

__all__ = [
    "QuakeConfig",
    "build_switch",
    "make_config",
    "open_port",
    "parse_port_specs",
    "run",
    "serve",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class QuakeConfig:
    dpid: int
    ports: tuple[tuple[str, int], ...]
    controllers: tuple[ControllerTarget, ...] = ()
    listen: tuple[ControllerTarget, ...] = ()
    fail_mode: str = "secure"
    n_tables: int = 254
    api: tuple[str, int] | None = None
    local_port: str | None = None


def parse_port_specs(specs: Sequence[str]) -> tuple[tuple[str, int], ...]:
    """``["eth0", "eth1=7", "tap3"]`` -> ``(("eth0", 1), ("eth1", 7), ("tap3", 2))``.

    A name may carry its namespace, ``IFNAME@NETNS`` (kept as given, opened by
    :func:`open_port`).
    """
    named: list[tuple[str, int | None]] = []
    for spec in specs:
        name, sep, num = spec.partition("=")
        ifname, at, netns = name.partition("@")
        if not ifname or (at and (not netns or "/" in netns or "@" in netns)):
            raise InvalidInput(f"bad --port {spec!r}: expected IFNAME[@NETNS] or IFNAME[@NETNS]=N")
        if sep:
            if not num.isdigit() or not 0 < int(num) <= c.OFPP_MAX:
                raise InvalidInput(f"bad --port {spec!r}: N must be 1..{c.OFPP_MAX}")
            named.append((name, int(num)))
        else:
            named.append((name, None))
    names = [n for n, _ in named]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise InvalidInput(f"interface given twice: {', '.join(sorted(dup))}")
    taken = [n for _, n in named if n is not None]
    if len(taken) != len(set(taken)):
        raise InvalidInput("two --port options use the same port number")
    used = set(taken)
    nxt = 1
    out: list[tuple[str, int]] = []
    for name, given in named:
        if given is None:
            while nxt in used:
                nxt += 1
            given = nxt
            used.add(given)
        out.append((name, given))
    return tuple(out)


def make_config(
    *,
    dpid: str,
    ports: Sequence[str],
    controllers: Sequence[str] = (),
    listen: Sequence[str] = (),
    fail_mode: str = "secure",
    tables: int = 254,
    api: str | None = None,
    local_port: str | None = None,
) -> QuakeConfig:
    """Validate command-line values into a :class:`QuakeConfig` (InvalidInput on error)."""
    if fail_mode not in FAIL_MODES:
        raise InvalidInput(f"bad --fail-mode {fail_mode!r}: expected secure or standalone")
    if local_port is not None and (
        not 0 < len(local_port.encode()) < 16
        or "/" in local_port
        or local_port.strip() != local_port
    ):
        raise InvalidInput(f"bad --local-port {local_port!r}: expected an interface name")
    if local_port is not None and local_port in {spec.partition("=")[0] for spec in ports}:
        raise InvalidInput(f"--local-port {local_port} is also given as --port")
    if not 1 <= tables <= 254:
        raise InvalidInput(f"bad --tables {tables}: expected 1..254")
    ctl = tuple(parse_target(t) for t in controllers)
    if any(t.passive for t in ctl):
        raise InvalidInput("--controller takes tcp:HOST:PORT; use --listen for ptcp:PORT")
    lis = tuple(parse_target(t) for t in listen)
    if any(not t.passive for t in lis):
        raise InvalidInput("--listen takes ptcp:PORT[:IP]")
    return QuakeConfig(
        dpid=int(DatapathId.parse(dpid)),
        ports=parse_port_specs(ports),
        controllers=ctl,
        listen=lis,
        fail_mode=fail_mode,
        n_tables=tables,
        api=parse_api_address(api) if api else None,
        local_port=local_port,
    )


def open_port(spec: str) -> PortBackend:
    """An AF_PACKET port for ``IFNAME`` or ``IFNAME@NETNS`` (interface in that namespace)."""
    ifname, _, netns = spec.partition("@")
    return AfPacketPort(ifname, netns=netns or None)


def build_switch(
    cfg: QuakeConfig,
    backend: Callable[[str], PortBackend] = open_port,
    local_backend: Callable[[str], PortBackend] = TapPort,
) -> QuakeSwitch:
    """The switch objects for ``cfg``, ports opened (PortError if one cannot be)."""
    dp = SwitchDatapath(n_tables=cfg.n_tables)
    agent = SwitchAgent(dp, cfg.dpid, fail_mode=cfg.fail_mode)
    sw = QuakeSwitch(agent, controllers=cfg.controllers)
    try:
        for name, port_no in cfg.ports:
            sw.add_port(backend(name), port_no)
        if cfg.local_port is not None:
            sw.add_port(local_backend(cfg.local_port), c.OFPP_LOCAL)
    except BaseException:
        dp.close()
        raise
    return sw


async def serve(cfg: QuakeConfig, stop: asyncio.Event | None = None) -> None:
    """Run the switch until ``stop`` is set (or SIGTERM/SIGINT when ``stop`` is None)."""
    sw = build_switch(cfg)
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
    api_server = None
    if cfg.api is not None:
        api_server = await start_api(
            cfg.api[0],
            cfg.api[1],
            sw.status,
            lambda req: trace_request(sw.dp.pipeline, req, sw.clock.now()),
        )
    try:
        run_task = asyncio.create_task(sw.run(stop, cfg.listen))
        await asyncio.sleep(0)
        ports = ", ".join(f"{n}={p}" for n, p in cfg.ports)
        if cfg.local_port is not None:
            ports += f"{', ' if ports else ''}{cfg.local_port}=LOCAL"
        print(
            f"quake: dpid={cfg.dpid:#018x} ports [{ports}] fail-mode={cfg.fail_mode}",
            file=sys.stderr,
            flush=True,
        )
        await run_task
    finally:
        if api_server is not None:
            api_server.close()


def run(cfg: QuakeConfig) -> None:
    """Foreground daemon entry point."""
    logging.basicConfig(level=logging.INFO, format="quake: %(levelname)s %(message)s")
    asyncio.run(serve(cfg))
