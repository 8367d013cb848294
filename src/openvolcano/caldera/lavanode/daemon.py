"""The lava node agent's thin main: serve a back-end over REST until SIGTERM.

Role: ``openvolcano lava agent`` on a data-plane server (paper section IV).
The CLI builds the concrete back-end (it may import StratoV's drivers; this
package may not, by import contract) and hands it here; all request
handling lives in :mod:`.agent`.

Design: one uvicorn server in the foreground. SIGTERM/SIGINT ask it to shut
down gracefully (our own asyncio handlers: uvicorn's would re-raise the
signal after serving and kill the process before the back-end is closed);
once it has stopped serving, the back-end's optional ``close()`` releases its
connections and the process exits 0. Images keep running: an agent
restart must not take the user's devices down.

Invariants: the listen address is parsed and checked before anything starts,
so a bad ``--listen`` is one clear error, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import signal
from collections.abc import Awaitable, Callable, Iterator

import uvicorn

from openvolcano.caldera.lavanode.agent import NodeBackend, create_app
from openvolcano.common.errors import InvalidInput

__all__ = ["parse_listen", "serve"]


def parse_listen(listen: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) -> ``(host, port)``; InvalidInput otherwise."""
    host, sep, port_text = listen.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise InvalidInput(f"--listen wants HOST:PORT, got {listen!r}")
    host = host.removeprefix("[").removesuffix("]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise InvalidInput(f"--listen wants an IP address, got {host!r}") from None
    port = int(port_text)
    if not 1 <= port <= 65535:
        raise InvalidInput(f"--listen port must be 1..65535, got {port}")
    return host, port


class _Server(uvicorn.Server):
    """uvicorn without its own signal capture (see the module docstring)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _serve(backend: NodeBackend, host: str, port: int, log_level: str) -> None:
    config = uvicorn.Config(create_app(backend), host=host, port=port, log_level=log_level)
    server = _Server(config)

    def stop() -> None:
        server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    try:
        await server.serve()
    finally:
        close: Callable[[], Awaitable[None]] | None = getattr(backend, "close", None)
        if close is not None:
            await close()


def serve(backend: NodeBackend, listen: str, *, log_level: str = "info") -> None:
    """Run the agent for ``backend`` on ``listen`` in the foreground until SIGTERM/SIGINT."""
    host, port = parse_listen(listen)
    asyncio.run(_serve(backend, host, port, log_level))
