"""``openvolcano magma``: run the controller and its REST API in the foreground.

Role: the thin shell over :class:`~.controller.Magma` (paper section IV):
parse the listen specs, build an optional TLS context, run the OpenFlow
listener and the uvicorn REST server in one event loop until SIGTERM/SIGINT,
then stop both (sessions are closed; switches keep their flows - in
``fail_mode=secure`` they keep forwarding - and are resynchronised when
magma comes back). The desired state lives in a SQLite file
(:class:`~.store.DesiredStore`, ``--state-db``) opened before anything
listens, so a restarted magma - also after SIGKILL - programs the same state.

TLS (:func:`listen_tls`, :func:`tls_context`): ``ssl:`` needs a certificate,
``tcp:`` refuses one, an unprefixed address is TLS exactly when one is given.
The server context is TLS 1.2+; with a CA, switches must present a
certificate signed by that CA alone (no system trust store). Every bad
certificate, key or CA file is one :class:`InvalidInput` naming the file.
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

__all__ = ["listen_tls", "parse_listen", "run", "tls_context"]


_SCHEMES = ("tcp", "ssl")


def parse_listen(
    spec: str, default_port: int, *, schemes: tuple[str, ...] = ("tcp",)
) -> tuple[str, int]:
    """``tcp:HOST:PORT``, ``HOST:PORT`` or ``HOST`` -> (host, port); prefixes among ``schemes``."""
    scheme, text = _split_scheme(spec)
    if scheme is not None and scheme not in schemes:
        raise InvalidInput(f"bad address {spec!r}: {scheme}: is not allowed here")
    host, sep, port = text.rpartition(":")
    if not sep or "]" in port:
        host, port = text, str(default_port)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        prefix = "[" + "|".join(f"{s}:" for s in schemes) + "]"
        raise InvalidInput(f"bad address {spec!r}: expected {prefix}HOST:PORT")
    return host, int(port)


def _split_scheme(spec: str) -> tuple[str | None, str]:
    head, sep, rest = spec.partition(":")
    if sep and head in _SCHEMES:
        return head, rest
    return None, spec


def listen_tls(spec: str, cert: str | None) -> bool:
    """Whether ``--listen spec`` is TLS: ``ssl:`` needs a cert, ``tcp:`` refuses one,
    no prefix follows the cert. Raises :class:`InvalidInput` on a contradiction."""
    scheme, _ = _split_scheme(spec)
    if scheme == "ssl" and cert is None:
        raise InvalidInput(f"--listen {spec}: TLS needs --tls-cert and --tls-key")
    if scheme == "tcp" and cert is not None:
        raise InvalidInput(f"--listen {spec} is plain TCP but --tls-cert is given: use ssl:")
    return cert is not None


def _refuse_password() -> bytes:
    raise InvalidInput("the TLS key is encrypted: give an unencrypted PEM key")


def tls_context(cert: str, key: str, ca: str | None = None) -> ssl.SSLContext:
    """Server TLS (1.2+) for the OpenFlow channel.

    With ``ca``, a switch must present a certificate signed by that CA - and only that
    CA: the system's trust store is not loaded. Every failure is one :class:`InvalidInput`
    naming the file.
    """
    for what, path in (("certificate", cert), ("key", key), ("CA", ca)):
        if path is None:
            continue
        try:
            with open(path, "rb"):
                pass
        except OSError as e:
            raise InvalidInput(f"cannot read TLS {what} {path}: {e.strerror or e}") from None
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key, password=_refuse_password)
    except ssl.SSLError as e:
        raise InvalidInput(
            f"TLS certificate {cert} and key {key} are not a matching PEM pair ({e.reason or e})"
        ) from None
    if ca is not None:
        try:
            ctx.load_verify_locations(ca)
        except ssl.SSLError as e:
            raise InvalidInput(f"TLS CA {ca} is not a PEM certificate ({e.reason or e})") from None
        ctx.verify_mode = ssl.CERT_REQUIRED
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
