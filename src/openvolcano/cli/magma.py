"""``openvolcano magma``: run StratoV's OpenFlow 1.3 controller standalone.

Role: the command line of magma (paper section IV). Parses options and hands
over to :mod:`openvolcano.stratov.magma.daemon`; bad options are one clear
line and exit code 2, never a traceback.
"""

from __future__ import annotations

from typing import Annotated

import typer

from openvolcano.common.errors import OpenVolcanoError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.callback(invoke_without_command=True)
def magma(
    listen: Annotated[
        str,
        typer.Option(
            help="OpenFlow listen address tcp:HOST:PORT, ssl:HOST:PORT (TLS) or HOST:PORT "
            "(TLS when --tls-cert is given)"
        ),
    ] = "0.0.0.0:6653",
    api: Annotated[str, typer.Option(help="REST API address HOST:PORT")] = "127.0.0.1:8080",
    role: Annotated[
        str,
        typer.Option(
            help="OpenFlow role: equal, master, slave, or auto (hot standby: elect the "
            "master through a lease in the shared --state-db)"
        ),
    ] = "equal",
    generation_id: Annotated[int, typer.Option(min=0, help="role generation id")] = 0,
    tls_cert: Annotated[
        str | None, typer.Option("--tls-cert", "--cert", help="TLS certificate (PEM)")
    ] = None,
    tls_key: Annotated[
        str | None, typer.Option("--tls-key", "--key", help="TLS private key (PEM, unencrypted)")
    ] = None,
    tls_ca: Annotated[
        str | None,
        typer.Option(
            "--tls-ca", "--ca", help="CA that must sign switch certificates (else none asked)"
        ),
    ] = None,
    lldp_interval: Annotated[
        float, typer.Option(min=0, help="seconds between LLDP probes (0: off)")
    ] = 2.0,
    no_host_learning: Annotated[
        bool, typer.Option("--no-host-learning", help="no table-miss to the controller")
    ] = False,
    state_db: Annotated[
        str, typer.Option(help="SQLite file keeping the desired state across restarts")
    ] = "/var/lib/openvolcano/magma/desired.db",
    no_state_db: Annotated[
        bool, typer.Option("--no-state-db", help="keep the desired state in memory only")
    ] = False,
) -> None:
    """StratoV's OpenFlow 1.3 controller: keeps every switch equal to the desired state."""
    from openvolcano.stratov.magma.controller import MagmaConfig
    from openvolcano.stratov.magma.daemon import listen_tls, parse_listen, run, tls_context

    try:
        if role not in ("equal", "master", "slave", "auto"):
            raise typer.BadParameter(f"--role {role!r}: expected equal, master, slave or auto")
        if (tls_cert is None) != (tls_key is None):
            raise typer.BadParameter("--tls-cert and --tls-key go together")
        if tls_ca is not None and tls_cert is None:
            raise typer.BadParameter("--tls-ca needs --tls-cert and --tls-key")
        of_host, of_port = parse_listen(listen, 6653, schemes=("tcp", "ssl"))
        api_host, api_port = parse_listen(api, 8080)
        tls = listen_tls(listen, tls_cert)
        ctx = tls_context(tls_cert, tls_key, tls_ca) if tls and tls_cert and tls_key else None
        cfg = MagmaConfig(
            host=of_host, port=of_port, ssl=ctx, role=role, generation_id=generation_id,
            lldp_interval=lldp_interval, learn_hosts=not no_host_learning,
        )  # fmt: skip
        run(cfg, api_host, api_port, None if no_state_db else state_db)
    except OpenVolcanoError as exc:
        typer.echo(f"magma: {exc.message}", err=True)
        raise typer.Exit(code=2) from None
