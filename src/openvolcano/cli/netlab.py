"""``openvolcano netlab``: tools for emulated edge networks (:mod:`openvolcano.netlab`).

Role: lets an operator or test author check a topology file before building
it. ``openvolcano netlab show FILE`` reads a JSON or TOML topology, validates
it (unknown nodes, duplicate names, ports used twice...) and prints it, as a
readable summary or, with ``--json``, as normalised JSON.

Design: a thin typer layer over :func:`~openvolcano.netlab.topo.load_topology`;
an invalid file prints one ``error:`` line naming the file and every problem,
and exits with status 1 - never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openvolcano.netlab.names import plan_names
from openvolcano.netlab.topo import Host, Topology, TopologyError, load_topology

app = typer.Typer(
    help="Emulated edge networks: topology files, namespaces and veth pairs.",
    no_args_is_help=True,
)


@app.command()
def show(
    file: Annotated[Path, typer.Argument(help="Topology file: .toml is TOML, anything else JSON.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the normalised topology as JSON.")
    ] = False,
) -> None:
    """Validate a topology file and print it."""
    try:
        topo = load_topology(file)
    except TopologyError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(topo.model_dump_json(indent=2, exclude_none=True))
    else:
        typer.echo(describe(topo))


def describe(topo: Topology) -> str:
    """A readable summary: nodes with addresses and ports, links with their interface names."""
    names = plan_names(topo, suffix="xxxx")
    lines = [f"{len(topo.hosts)} hosts, {len(topo.switches)} switches, {len(topo.links)} links"]
    for host in topo.hosts:
        extras = [str(a) for a in (host.ipv4, host.ipv6, host.mac) if a is not None]
        lines.append(f"host   {host.name:<12} {host.iface:<8} {' '.join(extras)}".rstrip())
    for switch in topo.switches:
        dpid = f" dpid {switch.dpid}" if switch.dpid is not None else ""
        lines.append(f"switch {switch.name}{dpid}")
        for port in switch.ports:
            lines.append(f"         port {port.port_no:<5} {port.name}")
    for link in topo.links:
        ends = []
        for end in (link.a, link.b):
            node = topo.node(end.node)
            iface = node.iface if isinstance(node, Host) else names.ifaces[(end.node, end.port)]
            ends.append(f"{end} ({iface})")
        lines.append(f"link   {ends[0]} <-> {ends[1]}")
    if topo.links:
        lines.append("(xxxx stands for the random per-lab suffix)")
    return "\n".join(lines)
