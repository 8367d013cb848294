"""quake's status endpoint: ``GET /status``, ``GET /metrics`` and ``POST /trace``.

Role (DESIGN §3, "Operate"): every daemon explains itself. cinder and
operators read quake's ports, counters, controllers and tables here.

Design: deliberately tiny - an HTTP/1.0 responder on asyncio streams in the
switch's own event loop (no framework, no thread), reading the switch's
state through :meth:`QuakeSwitch.status`. One request per connection;
requests are bounded (8 KiB of headers, 64 KiB of body, 5 s to send them);
other methods and paths get 405/404.

``POST /trace`` (body: JSON ``{"in_port": N, "packet": "k=v,..."}`` or
``"frame": HEX``) answers the trace of that packet through the *live*
tables (:func:`.trace.trace_request`, :meth:`Pipeline.trace`): bad input is
400 with a one-line reason.

Invariant: the endpoint only reads switch state (a trace has no side effect).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Mapping

from openvolcano.common.errors import InvalidInput

__all__ = ["parse_api_address", "render_metrics", "start_api"]

_MAX_HEADER = 8192
_MAX_BODY = 65536
_TIMEOUT = 5.0
StatusFn = Callable[[], Mapping[str, object]]
TraceFn = Callable[[Mapping[str, object]], Mapping[str, object]]


def parse_api_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InvalidInput(f"bad --api address {text!r}: expected HOST:PORT")
    return host, int(port)


def _metric(
    lines: list[str], name: str, kind: str, help_: str, samples: list[tuple[str, object]]
) -> None:
    lines.append(f"# HELP {name} {help_}")
    lines.append(f"# TYPE {name} {kind}")
    for labels, value in samples:
        lines.append(f"{name}{labels} {value}")


def _label(**kw: object) -> str:
    inner = ",".join(
        f'{k}="{str(v).replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in kw.items()
    )
    return "{" + inner + "}"


def render_metrics(status: Mapping[str, object]) -> str:
    """The Prometheus text exposition of a :meth:`QuakeSwitch.status` snapshot."""
    lines: list[str] = []
    ports = status.get("ports", [])
    assert isinstance(ports, list)
    for counter in ("rx_packets", "rx_bytes", "rx_dropped", "rx_errors",
                    "tx_packets", "tx_bytes", "tx_dropped", "tx_errors"):  # fmt: skip
        _metric(
            lines, f"quake_port_{counter}_total", "counter", f"port {counter.replace('_', ' ')}",
            [(_label(port=p["port_no"], name=p["name"]), p["counters"][counter]) for p in ports],
        )  # fmt: skip
    _metric(lines, "quake_port_link_up", "gauge", "1 if the port has carrier",
            [(_label(port=p["port_no"], name=p["name"]), int(p["link_up"])) for p in ports])  # fmt: skip
    tables = status.get("tables", [])
    assert isinstance(tables, list)
    _metric(lines, "quake_table_active_entries", "gauge", "flow entries per table",
            [(_label(table=t["table_id"]), t["active_count"]) for t in tables])  # fmt: skip
    _metric(lines, "quake_table_lookups_total", "counter", "lookups per table",
            [(_label(table=t["table_id"]), t["lookup_count"]) for t in tables])  # fmt: skip
    channels = status.get("channels", [])
    assert isinstance(channels, list)
    _metric(lines, "quake_controllers_connected", "gauge", "OpenFlow controllers connected",
            [("", len(channels))])  # fmt: skip
    counters = status.get("counters", {})
    assert isinstance(counters, dict)
    for key, value in sorted(counters.items()):
        _metric(lines, f"quake_{key}", "gauge", key.replace("_", " "), [("", value)])
    return "\n".join(lines) + "\n"


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            try:
                return int(value.strip())
            except ValueError:
                return -1
    return 0


def _trace(trace: TraceFn | None, body: bytes) -> tuple[str, str, bytes]:
    if trace is None:
        return "404 Not Found", "text/plain", b"tracing is not enabled\n"
    try:
        request = json.loads(body)
        if not isinstance(request, dict):
            raise InvalidInput("the body must be a JSON object")
        result = trace(request)
    except (ValueError, InvalidInput) as exc:  # JSONDecodeError is a ValueError
        msg = exc.message if isinstance(exc, InvalidInput) else f"bad JSON: {exc}"
        return "400 Bad Request", "text/plain", msg.encode() + b"\n"
    return "200 OK", "application/json", json.dumps(result, indent=1).encode() + b"\n"


async def start_api(
    host: str, port: int, status: StatusFn, trace: TraceFn | None = None
) -> asyncio.Server:
    """Serve ``/status``, ``/metrics`` (and ``/trace`` if given); the caller closes the server."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _TIMEOUT)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, OSError):
            writer.close()
            return
        parts = head.split(b"\r\n", 1)[0].decode("latin-1").split()
        method, path = (parts[0], parts[1].split("?", 1)[0]) if len(parts) >= 2 else ("", "")
        if method == "POST" and path == "/trace":
            length = _content_length(head)
            if not 0 < length <= _MAX_BODY:
                code, ctype, body = "400 Bad Request", "text/plain", b"bad Content-Length\n"
            else:
                try:
                    data = await asyncio.wait_for(reader.readexactly(length), _TIMEOUT)
                except (asyncio.IncompleteReadError, TimeoutError, OSError):
                    writer.close()
                    return
                code, ctype, body = _trace(trace, data)
        elif method != "GET":
            code, ctype, body = "405 Method Not Allowed", "text/plain", b"GET only\n"
        elif path == "/status":
            code, ctype = "200 OK", "application/json"
            body = json.dumps(status(), indent=1).encode() + b"\n"
        elif path == "/metrics":
            code, ctype = "200 OK", "text/plain; version=0.0.4"
            body = render_metrics(status()).encode()
        else:
            code, ctype, body = (
                "404 Not Found",
                "text/plain",
                b"try /status, /metrics or POST /trace\n",
            )
        writer.write(
            f"HTTP/1.0 {code}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
            "Connection: close\r\n\r\n".encode()
            + body
        )
        with contextlib.suppress(ConnectionError, OSError):
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, host, port, limit=_MAX_HEADER)
