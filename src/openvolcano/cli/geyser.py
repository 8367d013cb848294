"""``openvolcano geyser``: run the per-server GAL agent, or print its tree once.

Role: the command line of geyser (paper section V). Parses options, loads the
config and hands over to :mod:`openvolcano.caldera.geyser.daemon`; a bad
config file is reported as one clear line and a non-zero exit, never a
traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from openvolcano.common.errors import OpenVolcanoError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.callback(invoke_without_command=True)
def geyser(
    host: Annotated[str, typer.Option(help="address to serve the GAL REST API on")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(min=1, max=65535, help="TCP port of the GAL REST API")
    ] = 8181,
    config: Annotated[Path | None, typer.Option("--config", help="geyser TOML config file")] = None,
    once: Annotated[
        bool, typer.Option("--once", help="print the resource tree once and exit")
    ] = False,
) -> None:
    """Per-server monitoring and Green Abstraction Layer (GAL) agent."""
    from openvolcano.caldera.geyser.config import load_config
    from openvolcano.caldera.geyser.daemon import format_tree, run_once, serve

    try:
        cfg = load_config(config)
        if once:
            typer.echo("\n".join(format_tree(run_once(cfg))))
            return
        serve(cfg, host, port)
    except OpenVolcanoError as exc:
        typer.echo(f"geyser: {exc.message}", err=True)
        raise typer.Exit(code=2) from None
