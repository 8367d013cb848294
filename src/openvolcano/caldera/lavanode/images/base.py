"""Shared plumbing of the catalogue's HTTP images: arguments, server, SIGTERM.

Role: every HTTP image of the catalogue (NAS, sensor twin, set-top box) is a
stdlib threading HTTP server; this module parses the common command line,
serves a handler class on ``0.0.0.0:port`` and shuts down cleanly on SIGTERM
(the image is PID 1 of its PID namespace, so without a handler SIGTERM would
be ignored and lava would have to SIGKILL it).

Invariants: ``/health`` is answered by every image (200 ``ok``); the state
directory exists before the server accepts connections.
"""

from __future__ import annotations

import argparse
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType

__all__ = ["JsonHandler", "parse_args", "serve"]


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    """``--port`` and ``--state-dir``, common to every catalogue image."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state-dir", type=Path, required=True)
    parser.add_argument("--bind", default="0.0.0.0")
    args = parser.parse_args(argv)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    return args


class JsonHandler(BaseHTTPRequestHandler):
    """Base handler: quiet logging, small helpers to answer bytes or JSON."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        return

    def reply(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self, limit: int) -> bytes | None:
        """The request body, or None (after answering 411/413) when absent or too large."""
        length = self.headers.get("Content-Length")
        if length is None or not length.isdigit():
            self.reply(411, b"Content-Length required\n")
            return None
        if int(length) > limit:
            self.reply(413, b"body too large\n")
            return None
        return self.rfile.read(int(length))


def serve(handler: type[BaseHTTPRequestHandler], bind: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT, then close the listening socket and return."""
    server = ThreadingHTTPServer((bind, port), handler)
    server.daemon_threads = True

    def _stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        server.serve_forever(poll_interval=0.1)
    finally:
        server.server_close()
