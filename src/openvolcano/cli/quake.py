"""``openvolcano quake``: run the OpenFlow 1.3 software switch in the foreground.

Role: the command line of quake (paper section VI). The main command takes
the switch options and runs the daemon (:mod:`openvolcano.caldera.quake.daemon`)
until SIGTERM; subcommands (``trace``, later ``workers``) hang off the same
group, so the main command is a typer callback with
``invoke_without_command=True``. Bad options and unopenable ports are one
clear line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated, Any

import typer

from openvolcano.common.errors import InvalidInput, OpenVolcanoError

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)


@app.callback(invoke_without_command=True)
def quake(
    ctx: typer.Context,
    dpid: str = typer.Option("1", "--dpid", help="datapath id: decimal or 0x-hex"),
    port: Annotated[
        list[str] | None,
        typer.Option("--port", help="interface to attach, IFNAME[@NETNS][=OFPORT]; repeatable"),
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
        None, "--api", help="serve GET /status, /metrics and POST /trace on HOST:PORT"
    ),
    local_port: str | None = typer.Option(
        None, "--local-port", help="TAP interface to create as the OFPP_LOCAL port"
    ),
    workers: int = typer.Option(
        0, "--workers", help="worker processes forwarding (0: one process, no fast path)"
    ),
    worker_sched: str = typer.Option(
        "other",
        "--worker-sched",
        help="workers' scheduling: other | fifo (SCHED_FIFO 1: keeps forwarding under overload)",
    ),
    worker_cpus: str = typer.Option(
        "", "--worker-cpus", help="CPUs to pin workers to, comma separated (worker i: i-th, cyclic)"
    ),
    rx_thread: bool = typer.Option(
        False,
        "--rx-thread",
        help="run each port's kernel receive work in a NAPI thread pinned to the workers' CPUs"
        " (threaded NAPI, GRO on, RPS off; restored at exit): with --worker-sched fifo the"
        " switch no longer collapses under overload. Ports in quake's own namespace only",
    ),
    worker_batch: int = typer.Option(
        256,
        "--worker-batch",
        help="frames a worker takes from a port per batch, at most (1..1024; larger batches"
        " amortise per-batch work under load, smaller ones shorten each port's turn)",
    ),
    batch_index: bool = typer.Option(
        True,
        "--batch-index/--no-batch-index",
        help="workers look up large batches of many flows in a numpy index beside the flow"
        " cache (faster in process with thousands of live flows; ~90-140 bytes per live flow). Off: the"
        " cache's dict only",
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
            local_port=local_port,
        )
        if workers < 0:
            raise InvalidInput(f"bad --workers {workers}: expected 0 or more")
        cpus = _parse_cpus(worker_cpus)
        if cpus and not workers:
            raise InvalidInput("--worker-cpus needs --workers N (N >= 1)")
        if worker_sched not in ("other", "fifo"):
            raise InvalidInput(f"bad --worker-sched {worker_sched!r}: expected other or fifo")
        if worker_sched != "other" and not workers:
            raise InvalidInput("--worker-sched needs --workers N (N >= 1)")
        if rx_thread and not workers:
            raise InvalidInput("--rx-thread needs --workers N (N >= 1)")
        if not batch_index and not workers:
            raise InvalidInput("--no-batch-index needs --workers N (N >= 1)")
        if worker_batch != 256 and not workers:
            raise InvalidInput("--worker-batch needs --workers N (N >= 1)")
        if workers:  # the multi-process fast path (openvolcano.caldera.quake.fastpath)
            from openvolcano.caldera.quake.fastpath.pool import WorkerTuning
            from openvolcano.caldera.quake.fastpath.switch import run_fastpath

            tuning = WorkerTuning(batch=worker_batch, batch_index=batch_index)
            run_fastpath(cfg, workers, cpus, worker_sched, rx_thread, tuning)
        else:
            run(cfg)
    except OpenVolcanoError as exc:
        typer.echo(f"quake: {exc.message}", err=True)
        raise typer.Exit(code=2) from None
    except OSError as exc:  # e.g. the --listen or --api port is taken
        typer.echo(f"quake: {exc.strerror or exc}", err=True)
        raise typer.Exit(code=2) from None


def _parse_cpus(text: str) -> tuple[int, ...]:
    """``"1,3"`` -> ``(1, 3)``; every CPU must exist (the agent itself may be pinned elsewhere)."""
    import os

    cpus: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if not part.isdigit():
            raise InvalidInput(f"bad --worker-cpus {text!r}: expected CPU numbers like 1,3")
        cpus.append(int(part))
    allowed = set(range(os.cpu_count() or 1))
    bad = [n for n in cpus if n not in allowed]
    if bad:
        raise InvalidInput(f"--worker-cpus: CPU {bad[0]} is not available (have {sorted(allowed)})")
    return tuple(cpus)


def _fetch_trace(switch: str, in_port: int, packet: str) -> dict[str, Any]:
    """POST /trace to a running quake's status endpoint (``http://HOST:PORT``)."""
    url = switch.rstrip("/") + "/trace"
    if not url.startswith(("http://", "https://")):
        raise InvalidInput(f"bad --switch {switch!r}: expected http://HOST:PORT")
    body = json.dumps({"in_port": in_port, "packet": packet}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # scheme checked above
            answer = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise InvalidInput(exc.read().decode(errors="replace").strip() or str(exc)) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InvalidInput(f"cannot reach {url}: {reason}") from None
    if not isinstance(answer, dict):
        raise InvalidInput(f"{url} did not answer a trace")
    return answer


@app.command()
def trace(
    packet: str = typer.Argument(
        ...,
        help="packet as key=value,... e.g. eth_type=0x800,ipv4_dst=10.0.0.2,ip_proto=6,tcp_dst=80",
    ),
    in_port: str = typer.Option(..., "--in-port", help="ingress port number (or LOCAL)"),
    flows: Annotated[
        Path | None, typer.Option("--flows", help="JSON flows file (see docs/quake.md)")
    ] = None,
    switch: str | None = typer.Option(
        None, "--switch", help="trace on a running quake instead: http://HOST:APIPORT"
    ),
    ports: str = typer.Option(
        "", "--ports", help="extra port numbers of the traced switch, comma separated (--flows)"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the trace as JSON"),
) -> None:
    """Explain a packet's path through the tables: entries hit, actions, final ports."""
    from openvolcano.caldera.quake import trace as qt

    try:
        if (flows is None) == (switch is None):
            raise InvalidInput("give exactly one of --flows FILE or --switch URL")
        port_no = qt.parse_port(in_port)
        if switch is not None:
            report = _fetch_trace(switch, port_no, packet)
        else:
            assert flows is not None
            try:
                doc = json.loads(flows.read_text())
            except OSError as exc:
                raise InvalidInput(f"cannot read {flows}: {exc.strerror}") from None
            except ValueError as exc:
                raise InvalidInput(f"{flows}: not JSON: {exc}") from None
            extra = [qt.parse_port(p) for p in ports.split(",") if p.strip()]
            frame = qt.build_packet(packet)
            result = qt.trace_flows(qt.parse_flows(doc), port_no, frame, extra)
            report = qt.trace_report(port_no, frame, result)
    except OpenVolcanoError as exc:
        typer.echo(f"quake trace: {exc.message}", err=True)
        raise typer.Exit(code=2) from None
    typer.echo(json.dumps(report, indent=1) if as_json else qt.render_trace(report))


# --- fast-path worker management (openvolcano.caldera.quake.fastpath) ----------------------
@app.command("workers")
def workers_command(
    active: int | None = typer.Argument(None, help="number of active workers to set"),
    api: str = typer.Option(..., "--api", help="the running quake's --api: http://HOST:PORT"),
) -> None:
    """Show or change the number of active forwarding workers of a running quake.

    Prints the active and maximum counts and the live workers' pids.
    A worker that died is listed with its exit status.
    """
    from openvolcano.caldera.geyser.actuators import HttpQuakeWorkers

    url = api if api.startswith(("http://", "https://")) else f"http://{api}"
    try:
        client = HttpQuakeWorkers(url, timeout_s=5.0)
        if active is not None:
            client.set_active(active)
        st = client.status()
    except OpenVolcanoError as exc:
        typer.echo(f"quake workers: {exc.message}", err=True)
        raise typer.Exit(code=2) from None
    pids = " ".join(map(str, st.pids))
    gone = "".join(f"; worker {w} exited (status {code})" for w, code in st.exited)
    typer.echo(f"active {st.active} of {st.maximum} workers (pids {pids}){gone}")
