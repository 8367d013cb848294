"""``openvolcano ofp``: OpenFlow 1.3 tools.

Role: the operator-facing door to the paper's ofp_lib. Today it holds the
interop demo (:mod:`openvolcano.cli.ofp_demo`), the project's ``make demo``:
our codec handshakes with a private Open vSwitch, installs flows, reads them
back and compares with ``ovs-ofctl``.

Design: a thin typer layer; all work happens in :func:`run_demo`. Expected
failures (:class:`~openvolcano.common.errors.OpenVolcanoError`: OVS missing,
switch silent, flows differ) print one ``error:`` line and exit non-zero.
"""

from __future__ import annotations

import asyncio

import typer

from openvolcano.cli.ofp_demo import DemoError, format_flow_table, mismatches, run_demo
from openvolcano.common.errors import OpenVolcanoError

app = typer.Typer(
    help="OpenFlow 1.3 tools (the sans-IO codec shared by magma and quake).",
    no_args_is_help=True,
)


@app.command()
def demo(
    timeout: float = typer.Option(
        30.0,
        "--timeout",
        min=1.0,
        help="Seconds allowed for OVS to start, connect and answer every request.",
    ),
) -> None:
    """Drive a private Open vSwitch with our OpenFlow 1.3 codec.

    Starts ovsdb-server and ovs-vswitchd in a temporary directory, creates a
    userspace bridge whose controller is a tiny asyncio controller built on
    openvolcano.ofp, completes HELLO and FEATURES, installs five flows
    (table-miss, ARP flood, masked IPv4 with set_field, goto-table, table 1),
    sends a BARRIER, reads the flows back with FLOW_STATS and prints them next
    to `ovs-ofctl -O OpenFlow13 dump-flows`. Exits 0 when both views agree.
    """
    try:
        result = asyncio.run(run_demo(timeout=timeout, say=lambda s: typer.echo(f"* {s}")))
        typer.echo(f"\ndatapath {result.datapath_id:016x}, flows read back over OpenFlow:")
        for line in format_flow_table(result.read_back):
            typer.echo(f"  {line}")
        typer.echo(f"\novs-ofctl -O OpenFlow13 dump-flows {result.bridge}:")
        for line in result.ofctl_flows:
            typer.echo(f"  {line}")
        problems = mismatches(result.installed, result.read_back)
        if len(result.ofctl_flows) != len(result.installed):
            problems.append(
                f"ovs-ofctl shows {len(result.ofctl_flows)} flows, "
                f"{len(result.installed)} were installed"
            )
        if problems:
            raise DemoError("flows differ: " + "; ".join(problems))
    except OpenVolcanoError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(130) from None
    typer.echo(f"\nOK: all {len(result.installed)} flows read back as installed.")
