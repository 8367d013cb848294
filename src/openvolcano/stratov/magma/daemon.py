"""``openvolcano magma``: run the controller and its REST API in the foreground.

Role: the thin shell over :class:`~.controller.Magma` (paper section IV):
parse the listen specs, build an optional TLS context, run the OpenFlow
listener and the uvicorn REST server in one event loop until SIGTERM/SIGINT,
then stop both (sessions are closed; switches keep their flows - in
``fail_mode=secure`` they keep forwarding - and are resynchronised when
magma comes back). The desired state lives in a SQLite file
(:class:`~.store.DesiredStore`, ``--state-db``) opened before anything
listens, so a restarted magma - also after SIGKILL - programs the same state.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import ssl
from collections.abc import Iterator

import uvicorn

from openvolcano.common.errors import InvalidInput

from .app import create_app
from .controller import Magma, MagmaConfig
from .standby import Lease, run_election
from .store import DesiredStore

__all__ = ["parse_listen", "run", "tls_context"]


def parse_listen(spec: str, default_port: int) -> tuple[str, int]:
    """``tcp:HOST:PORT``, ``HOST:PORT`` or ``HOST`` -> (host, port)."""
    text = spec.removeprefix("tcp:").removeprefix("ssl:")
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, str(default_port)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(f"bad listen address {spec!r}: expected [tcp:]HOST:PORT")
    return host, int(port)


def tls_context(cert: str, key: str, ca: str | None = None) -> ssl.SSLContext:
    """Server TLS for the OpenFlow channel; with ``ca``, switches must present a cert it signed."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        ctx.load_cert_chain(cert, key)
        if ca is not None:
            ctx.load_verify_locations(ca)
            ctx.verify_mode = ssl.CERT_REQUIRED
    except (OSError, ssl.SSLError) as e:
        raise InvalidInput(f"cannot load TLS certificate/key: {e}") from None
    return ctx


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: :func:`_main` owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _main(
    config: MagmaConfig, api_host: str, api_port: int, store: DesiredStore | None
) -> None:
    magma = Magma(config, store=store)
    lease = None
    if config.role == "auto":
        assert store is not None
        lease = Lease(store.path, ttl=config.lease_ttl)
    server = _Server(
        uvicorn.Config(create_app(magma), host=api_host, port=api_port, log_level="info")
    )
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with asyncio.TaskGroup() as tg:
        # startup garbage (imports, models, the loaded desired state) is long-lived: keep
        # it out of the collector so no full collection pauses a packet-in round trip
        ctl = tg.create_task(magma.serve(lambda _port: gc.freeze()))
        api = tg.create_task(server.serve())
        election = tg.create_task(run_election(magma, lease)) if lease is not None else None
        await stop.wait()
        if election is not None:
            election.cancel()
        server.should_exit = True
        await api
        ctl.cancel()
    if lease is not None:
        lease.release()  # a clean stop hands over at once
        lease.close()


def run(config: MagmaConfig, api_host: str, api_port: int, state_db: str | None = None) -> None:
    """Serve until SIGTERM/SIGINT; ``state_db`` None keeps the desired state in memory only."""
    if config.role == "auto" and state_db is None:
        raise InvalidInput("--role auto elects through the state database: give --state-db")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    store = DesiredStore(state_db) if state_db is not None else None
    try:
        if store is not None:
            logging.getLogger(__name__).info(
                "desired state in %s: %d owner(s)", store.path, len(store.load())
            )
        asyncio.run(_main(config, api_host, api_port, store))
    finally:
        if store is not None:
            store.close()
