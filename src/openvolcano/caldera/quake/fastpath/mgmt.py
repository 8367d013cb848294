"""quake's management API for its worker pool: ``GET /workers`` and ``PUT /workers``.

Role (paper §IV-V: the GAL lets geyser put data-plane workers into low-power
states): geyser's actuator (:class:`~openvolcano.caldera.geyser.actuators.HttpQuakeWorkers`)
and ``openvolcano quake workers N`` speak this API:

    GET /workers               -> 200 {"active": N, "max": M, "pids": [...], "exited": {...}}
    PUT /workers {"active": N} -> 200 {"active": N, "max": M}
                                  422 {"message": ...} if N is not an integer in 1..M
                                  400 {"message": ...} if the body is not a JSON object

With workers, the same server also answers ``GET /status``, ``GET
/metrics`` and ``POST /trace`` (as :mod:`..api` does for the single-process
switch), so one ``--api`` address serves all of them and ``openvolcano quake
trace --switch URL`` works with ``--workers N``. A trace runs on the agent's
*authoritative* tables (:func:`..trace.trace_request`): the workers' replicas
are these tables at an acknowledged version, and a trace touches no counter,
meter or timer, so no worker is involved:

    POST /trace {"in_port": N, "packet": "k=v,..."} | {"in_port": N, "frame": HEX}
                               -> 200 trace report (JSON)
                                  400 text: bad JSON or bad request (the reason)

Design: :func:`workers_request` is the API itself (no I/O, testable alone);
:func:`start_mgmt_api` is a tiny HTTP/1.0 responder on asyncio streams in the
switch's event loop, bounded like :mod:`..api` (8 KiB headers, 64 KiB body,
5 s to send them).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping
from typing import Any

from openvolcano.common.errors import InvalidInput

from ..api import render_metrics
from .pool import WorkerPool

__all__ = ["TraceFn", "start_mgmt_api", "trace_route", "workers_request"]

TraceFn = Callable[[Mapping[str, object]], Mapping[str, Any]]

_MAX_HEADER = 8192
_MAX_BODY = 65536
_TIMEOUT = 5.0
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed",
            422: "Unprocessable Entity"}  # fmt: skip


def workers_request(pool: WorkerPool, method: str, body: bytes) -> tuple[int, dict[str, object]]:
    """One ``/workers`` request -> (HTTP status, JSON body)."""
    if method == "GET":
        return 200, pool.status()
    if method != "PUT":
        return 405, {"message": "GET or PUT /workers"}
    try:
        req = json.loads(body or b"null")
    except ValueError as exc:
        return 400, {"message": f"bad JSON: {exc}"}
    if not isinstance(req, dict) or "active" not in req:
        return 400, {"message": 'expected a JSON object {"active": N}'}
    n = req["active"]
    if not isinstance(n, int) or isinstance(n, bool):
        return 422, {"message": f"active must be an integer, got {n!r}"}
    try:
        pool.set_active(n)
    except InvalidInput as exc:
        return 422, {"message": exc.message}
    return 200, {"active": pool.active, "max": pool.max_workers}


def trace_route(trace: TraceFn | None, method: str, body: bytes) -> tuple[int, str, bytes]:
    """One ``/trace`` request -> (HTTP status, content type, body)."""
    if method != "POST":
        return 405, "text/plain", b"POST /trace with a JSON body\n"
    if trace is None:
        return 404, "text/plain", b"tracing is not enabled\n"
    try:
        request = json.loads(body)
        if not isinstance(request, dict):
            raise InvalidInput("the body must be a JSON object")
        result = trace(request)
    except (ValueError, InvalidInput) as exc:  # JSONDecodeError is a ValueError
        msg = exc.message if isinstance(exc, InvalidInput) else f"bad JSON: {exc}"
        return 400, "text/plain", msg.encode() + b"\n"
    return 200, "application/json", json.dumps(result, indent=1).encode() + b"\n"


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            v = value.strip()
            return int(v) if v.isdigit() else -1
    return 0


async def start_mgmt_api(
    host: str,
    port: int,
    pool: WorkerPool,
    status: Callable[[], Mapping[str, object]],
    trace: TraceFn | None = None,
) -> asyncio.Server:
    """Serve ``/workers``, ``/status``, ``/metrics`` (and ``POST /trace`` if ``trace`` is
    given); the caller closes the server."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _TIMEOUT)
            parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
            method, path = (parts[0], parts[1].split("?", 1)[0]) if len(parts) >= 2 else ("", "")
            length = _content_length(head)
            if not 0 <= length <= _MAX_BODY:
                code, ctype, body = 400, "application/json", b'{"message": "bad Content-Length"}'
            else:
                data = await asyncio.wait_for(reader.readexactly(length), _TIMEOUT)
                code, ctype, body = _route(method, path, data)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            writer.close()
            return
        writer.write(
            f"HTTP/1.0 {code} {_REASONS.get(code, '')}\r\nContent-Type: {ctype}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()
        writer.close()

    def _route(method: str, path: str, data: bytes) -> tuple[int, str, bytes]:
        if path == "/workers":
            code, obj = workers_request(pool, method, data)
            return code, "application/json", json.dumps(obj).encode() + b"\n"
        if path == "/trace":
            return trace_route(trace, method, data)
        if method != "GET":
            return 405, "text/plain", b"GET only\n"
        if path == "/status":
            return 200, "application/json", json.dumps(status(), indent=1).encode() + b"\n"
        if path == "/metrics":
            return 200, "text/plain; version=0.0.4", render_metrics(status()).encode()
        return 404, "text/plain", b"try /workers, /status, /metrics or POST /trace\n"

    return await asyncio.start_server(handle, host, port, limit=_MAX_HEADER)
