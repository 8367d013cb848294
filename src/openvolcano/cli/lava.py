"""``openvolcano lava``: run a lava node agent, or operate virtual images through one.

Role: the operator's command line of lava (paper section IV). ``agent`` runs
the node agent daemon on a data-plane server in the foreground (the back-end
is built here - the CLI may import both planes, the agent may not import
StratoV - and served by :mod:`openvolcano.caldera.lavanode.daemon`). The
other subcommands (``list``, ``create``, ``start``, ``stop``, ``migrate``,
``destroy``, ``status``, ``servers``) talk to an agent URL through StratoV's
:class:`~openvolcano.stratov.lava.agent_client.AgentDriver`, exactly as the
control plane does.

Invariants: every expected failure (unknown image or server, conflict,
unreachable agent, bad option) is one ``lava: ...`` line on stderr and exit
status 1, never a traceback; ``--json`` prints the API model as JSON for
scripts.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from pydantic import BaseModel, ValidationError

from openvolcano.api.lava import (
    IFNAME_PATTERN,
    NAME_PATTERN,
    ImageKind,
    ImageSpec,
    ImageStatus,
    MigrationMode,
)
from openvolcano.common.errors import InvalidInput, OpenVolcanoError

if TYPE_CHECKING:
    from openvolcano.stratov.lava.driver import VirtDriver

__all__ = ["app"]

app = typer.Typer(
    help="lava: virtual images (the twins of home devices) on netns, libvirt or fake back-ends.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")

AgentOpt = Annotated[
    str,
    typer.Option(
        "--agent",
        envvar="OPENVOLCANO_LAVA_AGENT",
        help="URL of the lava node agent",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the result as JSON")]
NameArg = Annotated[str, typer.Argument(help="virtual image name")]


class Backend(StrEnum):
    """Back-ends the node agent can serve."""

    NETNS = "netns"
    LIBVIRT = "libvirt"
    FAKE = "fake"


def _fail(message: str) -> typer.Exit:
    typer.echo(f"lava: {message}", err=True)
    return typer.Exit(code=1)


def _call(agent: str, fn: Callable[[VirtDriver], Awaitable[T]]) -> T:
    """Run ``fn(driver)`` against the agent at ``agent``; expected errors exit 1."""
    from openvolcano.stratov.lava.agent_client import AgentDriver

    async def run() -> T:
        driver = AgentDriver(agent, timeout=600.0)
        try:
            return await fn(driver)
        finally:
            await driver.close()

    try:
        return asyncio.run(run())
    except OpenVolcanoError as exc:
        raise _fail(exc.message) from None


def _print_json(value: BaseModel | list[BaseModel]) -> None:
    if isinstance(value, list):
        typer.echo(json.dumps([v.model_dump(mode="json") for v in value], indent=2))
    else:
        typer.echo(value.model_dump_json(indent=2))


def _status_line(s: ImageStatus) -> str:
    pid = str(s.pid) if s.pid is not None else "-"
    return f"{s.name:<20} {s.server:<12} {s.state.value:<8} {s.kind.value:<7} {s.backend:<8} {pid}"


# -- the node agent daemon ------------------------------------------------------


def parse_server(text: str) -> tuple[str, str | None, str | None]:
    """``NAME[:NETNS[:BRIDGE]]`` -> (name, netns or None, bridge or None); OpenVolcanoError if bad."""
    parts = text.split(":")
    name = parts[0]
    if len(parts) > 3 or not re.fullmatch(NAME_PATTERN, name):
        raise InvalidInput(
            f"bad --server {text!r}: expected NAME[:NETNS[:BRIDGE]], NAME like {NAME_PATTERN}"
        )
    netns = parts[1] if len(parts) > 1 else ""
    bridge = parts[2] if len(parts) > 2 else ""
    if (bridge and not netns) or not re.fullmatch(r"[A-Za-z0-9_.-]{0,63}", netns):
        raise InvalidInput(f"bad --server {text!r}: NETNS must name a network namespace")
    if bridge and not re.fullmatch(IFNAME_PATTERN, bridge):
        raise InvalidInput(f"bad --server {text!r}: BRIDGE must be an interface name")
    return name, netns or None, bridge or None


@app.command()
def agent(
    backend: Annotated[Backend, typer.Option(help="virtualization back-end to serve")],
    listen: Annotated[
        str, typer.Option(help="HOST:PORT to serve the agent's REST API on")
    ] = "127.0.0.1:8700",
    state_dir: Annotated[
        Path, typer.Option(help="state directory of netns images (one sub-directory per server)")
    ] = Path("/var/lib/openvolcano/lava"),
    libvirt_uri: Annotated[
        str, typer.Option(help="libvirt connection URI of the libvirt back-end")
    ] = "qemu:///system",
    domain_type: Annotated[
        str | None,
        typer.Option(help="libvirt domain type: qemu (TCG), kvm; default test for test:// URIs"),
    ] = None,
    server: Annotated[
        list[str] | None,
        typer.Option(
            help="server this agent manages, NAME[:NETNS[:BRIDGE]] (netns: image NICs go into "
            "namespace NETNS, on bridge BRIDGE); repeatable; default 'local'"
        ),
    ] = None,
    capacity: Annotated[int, typer.Option(min=0, help="maximum number of images per server")] = 16,
) -> None:
    """Run the lava node agent in the foreground until SIGTERM."""
    from openvolcano.caldera.lavanode.daemon import serve

    try:
        specs = [parse_server(text) for text in server or ["local"]]
        names = [name for name, _, _ in specs]
        if backend is not Backend.NETNS and any(ns or br for _, ns, br in specs):
            raise _fail("NETNS and BRIDGE in --server apply to the netns back-end only")
        driver: VirtDriver
        if backend is Backend.FAKE:
            from openvolcano.stratov.lava.fake import FakeDriver

            driver = FakeDriver(dict.fromkeys(names, capacity))
        elif backend is Backend.NETNS:
            from openvolcano.stratov.lava.netns import NetnsDriver, NetnsServer

            driver = NetnsDriver(
                [
                    NetnsServer(
                        name=n, state_root=state_dir / n, netns=ns, bridge=br, capacity=capacity
                    )
                    for n, ns, br in specs
                ]
            )
        else:
            from openvolcano.stratov.lava.libvirt_driver import LibvirtDriver, LibvirtServer

            dtype = domain_type or ("test" if libvirt_uri.startswith("test:") else "qemu")
            driver = LibvirtDriver(
                [
                    LibvirtServer(name=n, uri=libvirt_uri, capacity=capacity, domain_type=dtype)
                    for n in names
                ]
            )
        serve(driver, listen)
    except OpenVolcanoError as exc:
        raise _fail(exc.message) from None


# -- operator commands ----------------------------------------------------------


@app.command("list")
def list_images(agent: AgentOpt = "http://127.0.0.1:8700", as_json: JsonOpt = False) -> None:
    """List every virtual image the agent manages."""
    images = _call(agent, lambda d: d.list_images())
    if as_json:
        _print_json(list(images))
        return
    typer.echo(f"{'NAME':<20} {'SERVER':<12} {'STATE':<8} {'KIND':<7} {'BACKEND':<8} PID")
    for s in images:
        typer.echo(_status_line(s))


@app.command()
def servers(agent: AgentOpt = "http://127.0.0.1:8700") -> None:
    """List the servers the agent can place images on."""
    for name in _call(agent, lambda d: d.servers()):
        typer.echo(name)


@app.command()
def create(
    name: NameArg,
    server: Annotated[str, typer.Option(help="server to define the image on")],
    kind: Annotated[ImageKind, typer.Option(help="catalogue image kind")] = ImageKind.NAS,
    command: Annotated[
        str | None, typer.Option(help="command line of a custom image (split on spaces)")
    ] = None,
    port: Annotated[
        int | None, typer.Option(min=1, max=65535, help="service port (default: the kind's)")
    ] = None,
    cpu_cores: Annotated[float, typer.Option(help="CPU limit in cores")] = 1.0,
    memory_mb: Annotated[int, typer.Option(help="memory limit in MiB")] = 128,
    start: Annotated[bool, typer.Option("--start", help="start it once defined")] = False,
    agent: AgentOpt = "http://127.0.0.1:8700",
    as_json: JsonOpt = False,
) -> None:
    """Define a virtual image on a server (and start it with --start)."""
    try:
        spec = ImageSpec(
            name=name,
            kind=kind,
            command=command.split() if command else [],
            service_port=port,
            cpu_cores=cpu_cores,
            memory_mb=memory_mb,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _fail(f"invalid image {where}: {first['msg']}") from None

    async def run(d: VirtDriver) -> ImageStatus:
        status = await d.create(server, spec)
        return await d.start(name) if start else status

    _show(_call(agent, run), as_json)


def _show(status: ImageStatus, as_json: bool) -> None:
    if as_json:
        _print_json(status)
    else:
        typer.echo(_status_line(status))


@app.command("start")
def start_image(
    name: NameArg, agent: AgentOpt = "http://127.0.0.1:8700", as_json: JsonOpt = False
) -> None:
    """Start a defined or stopped virtual image."""
    _show(_call(agent, lambda d: d.start(name)), as_json)


@app.command()
def stop(
    name: NameArg, agent: AgentOpt = "http://127.0.0.1:8700", as_json: JsonOpt = False
) -> None:
    """Stop a running virtual image (its state is kept)."""
    _show(_call(agent, lambda d: d.stop(name)), as_json)


@app.command()
def status(
    name: NameArg, agent: AgentOpt = "http://127.0.0.1:8700", as_json: JsonOpt = False
) -> None:
    """Show where a virtual image is and whether it runs."""
    _show(_call(agent, lambda d: d.status(name)), as_json)


@app.command()
def destroy(name: NameArg, agent: AgentOpt = "http://127.0.0.1:8700") -> None:
    """Stop a virtual image if needed and remove it with its state and ports."""
    _call(agent, lambda d: d.destroy(name))
    typer.echo(f"destroyed {name}")


@app.command()
def migrate(
    name: NameArg,
    target: Annotated[str, typer.Argument(help="server to move the image to")],
    mode: Annotated[MigrationMode, typer.Option(help="live or cold")] = MigrationMode.COLD,
    agent: AgentOpt = "http://127.0.0.1:8700",
    as_json: JsonOpt = False,
) -> None:
    """Move a virtual image to another server; print the measured report."""
    report = _call(agent, lambda d: d.migrate(name, target, mode))
    if as_json:
        _print_json(report)
        return
    typer.echo(
        f"{report.image}: {report.source} -> {report.target} "
        f"mode {report.mode_used.value} (asked {report.mode_requested.value}) "
        f"total {report.total_s * 1000:.0f} ms downtime {report.downtime_s * 1000:.0f} ms "
        f"moved {report.bytes_moved} bytes"
    )
    if report.note:
        typer.echo(f"note: {report.note}")
