"""``openvolcano demo``: the most complete real thing OpenVolcano runs, printed step by step.

Role: what ``make demo`` runs. A thin front end over
:func:`openvolcano.netlab.edge_demo.run_demo` (two edge sites of quake
switches, magma, a lava NAS following its user, geyser; see docs/demo.md).
Progress lines go to stdout as the steps run, then a summary table (or the
summary as JSON with ``--json``). Exit status 0 only if every step passed;
1 if a step failed; 2 when not run as root. ``--keep`` leaves everything
running until Ctrl-C. SIGTERM is turned into an exception so the teardown
runs.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Annotated, NoReturn

import typer

__all__ = ["demo"]


def _sigterm(*_: object) -> NoReturn:
    sys.exit(143)


def demo(
    keep: Annotated[
        bool, typer.Option("--keep", help="leave everything running until Ctrl-C, then tear down")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the summary as JSON (progress goes to stderr)")
    ] = False,
    timeout: Annotated[
        float, typer.Option(min=1.0, max=600.0, help="bound of every wait, seconds")
    ] = 20.0,
) -> None:
    """Two edge sites, a Personal Network and a virtual NAS following its user (needs root)."""
    from openvolcano.netlab.edge_demo import DemoOptions, run_demo

    if os.geteuid() != 0:
        typer.echo("demo: needs root (network namespaces, veth pairs, cgroups)", err=True)
        raise typer.Exit(code=2)

    def out(line: str) -> None:
        typer.echo(line, err=as_json)

    def hold(endpoints: dict[str, str]) -> None:
        out("--keep: everything stays up; press Ctrl-C (or kill this process) to tear down")
        for what, where in endpoints.items():
            out(f"  {what:<18} {where}")
        threading.Event().wait()  # until Ctrl-C / SIGTERM

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _sigterm)
    try:
        summary = run_demo(DemoOptions(timeout=timeout, keep=hold if keep else None, out=out))
    except KeyboardInterrupt:
        out("interrupted: everything the demo started has been removed")
        raise typer.Exit(code=130) from None
    if as_json:
        typer.echo(summary.to_json())
    else:
        typer.echo("")
        typer.echo(summary.table())
    raise typer.Exit(code=0 if summary.ok else 1)
