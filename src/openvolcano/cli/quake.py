"""``openvolcano quake``: run the OpenFlow 1.3 software switch in the foreground.

Role: the command line of quake (paper section VI). The main command takes
the switch options and runs the daemon (:mod:`openvolcano.caldera.quake.daemon`)
until SIGTERM; subcommands (``trace``, later ``workers``) hang off the same
group, so the main command is a typer callback with
``invoke_without_command=True``. Bad options and unopenable ports are one
clear line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

from typing import Annotated

import typer

from openvolcano.common.errors import OpenVolcanoError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.callback(invoke_without_command=True)
def quake(
    ctx: typer.Context,
    dpid: str = typer.Option("1", "--dpid", help="datapath id: decimal or 0x-hex"),
    port: Annotated[
        list[str] | None,
        typer.Option("--port", help="interface to attach (IFNAME or IFNAME=OFPORT); repeatable"),
    ] = None,
    controller: Annotated[
        list[str] | None,
        typer.Option("--controller", help="controller to connect to, tcp:HOST:PORT; repeatable"),
    ] = None,
    listen: Annotated[
        list[str] | None,
        typer.Option("--listen", help="accept OpenFlow connections on ptcp:PORT[:IP]; repeatable"),
    ] = None,
    fail_mode: str = typer.Option(
        "secure", "--fail-mode", help="secure | standalone (MAC learning with no controller)"
    ),
    tables: int = typer.Option(254, "--tables", help="number of flow tables (1..254)"),
    api: str | None = typer.Option(
        None, "--api", help="serve GET /status and /metrics on HOST:PORT"
    ),
) -> None:
    """quake: the Caldera user-space OpenFlow 1.3 switch."""
    if ctx.invoked_subcommand is not None:
        return
    from openvolcano.caldera.quake.daemon import make_config, run

    try:
        cfg = make_config(
            dpid=dpid,
            ports=port or [],
            controllers=controller or [],
            listen=listen or [],
            fail_mode=fail_mode,
            tables=tables,
            api=api,
        )
        run(cfg)
    except OpenVolcanoError as exc:
        typer.echo(f"quake: {exc.message}", err=True)
        raise typer.Exit(code=2) from None
    except OSError as exc:  # e.g. the --listen or --api port is taken
        typer.echo(f"quake: {exc.strerror or exc}", err=True)
        raise typer.Exit(code=2) from None
