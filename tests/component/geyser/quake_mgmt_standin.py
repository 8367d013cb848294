"""STAND-IN for quake's management API, served over real HTTP on loopback (test helper).

quake does not serve its management API yet; geyser's real client
(:class:`~openvolcano.caldera.geyser.actuators.HttpQuakeWorkers`) is tested
against this small server, which implements the API as docs/geyser.md defines
it, until quake's own lands (then these tests should run against quake):

    GET /workers              -> 200 {"active": N, "max": M, "pids": [...]}
    PUT /workers {"active": N} -> 200 {"active": N, "max": M}; 422 {"message"} if N not in 1..M

Knobs for failure tests: ``hang()`` makes every request wait (until
``unhang()`` or the server stops) so the client times out; ``fail_status``
answers every request with that status; ``garbage`` answers 200 with a body
that is not JSON. ``requests`` records ``(method, body)`` of every request.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

__all__ = ["QuakeMgmtStandIn"]


class QuakeMgmtStandIn:
    """A thread serving quake's management API on 127.0.0.1, a free port (context manager)."""

    def __init__(self, maximum: int = 4, pids: tuple[int, ...] = ()) -> None:
        self.maximum = maximum
        self.active = maximum
        self.pids = pids
        self.requests: list[tuple[str, object]] = []
        self.fail_status: int | None = None
        self.garbage = False
        self._go = threading.Event()
        self._go.set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def hang(self) -> None:
        self._go.clear()

    def unhang(self) -> None:
        self._go.set()

    def __enter__(self) -> QuakeMgmtStandIn:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent); later connections are refused."""
        self._go.set()
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def handle(self, method: str, raw: bytes) -> tuple[int, bytes]:
        """One request -> (status, body): the API itself, independent of HTTP plumbing."""
        self._go.wait(timeout=30)
        with self._lock:
            try:
                body: object = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            self.requests.append((method, body))
            if self.fail_status is not None:
                return self.fail_status, _json({"message": "stand-in told to fail"})
            if self.garbage:
                return 200, b"<html>not json</html>"
            if method == "GET":
                return 200, _json({"active": self.active, "max": self.maximum,
                                   "pids": list(self.pids)})  # fmt: skip
            n = body.get("active") if isinstance(body, dict) else None
            if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= self.maximum:
                msg = f"'active' must be an integer in 1..{self.maximum}, got {n!r}"
                return 422, _json({"message": msg})
            self.active = n
            return 200, _json({"active": self.active, "max": self.maximum})


def _json(obj: object) -> bytes:
    return json.dumps(obj).encode()


def _handler_for(standin: QuakeMgmtStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so once stop() returns nothing answers
        # (a kept-alive connection would outlive the listening socket).
        protocol_version = "HTTP/1.0"

        def _reply(self, status: int, body: bytes) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout test)

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path != "/workers":
                self._reply(404, _json({"message": f"no such path {self.path}"}))
            elif method not in ("GET", "PUT"):
                self._reply(405, _json({"message": f"{method} not allowed"}))
            else:
                self._reply(*standin.handle(method, raw))

        def do_GET(self) -> None:
            self._serve("GET")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: object) -> None:
            return None

    return Handler
