"""Virtual NAS: an HTTP file store whose files live in the image's state directory.

Role: the twin of a user's home NAS (paper section II). Files are stored
under ``<state-dir>/files`` - the directory lava copies when the image
migrates - so a file written before a migration is served after it.

Protocol (a subset of WebDAV's plain-HTTP methods): ``GET /files/<path>``
reads, ``PUT /files/<path>`` writes (atomically: temp file + rename),
``DELETE /files/<path>`` removes, ``GET /files/`` lists names one per line,
``GET /health`` answers ``ok``.

Invariants: paths never escape ``files/`` (``..``, absolute and hidden
components are refused with 400); a PUT is either fully visible or not at all.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import unquote

from openvolcano.caldera.lavanode.images.base import JsonHandler, parse_args, serve

__all__ = ["main", "make_handler"]

MAX_FILE = 64 << 20


def make_handler(root: Path) -> type[JsonHandler]:
    """A handler class serving files under ``root``."""
    root.mkdir(parents=True, exist_ok=True)

    class NasHandler(JsonHandler):
        def _target(self) -> Path | None:
            path = unquote(self.path.split("?", 1)[0])
            if not path.startswith("/files/"):
                self.reply(404, b"not found\n")
                return None
            parts = [p for p in path[len("/files/") :].split("/") if p]
            if any(p.startswith(".") for p in parts):
                self.reply(400, b"bad path\n")
                return None
            return root.joinpath(*parts)

        def do_GET(self) -> None:
            if self.path == "/health":
                self.reply(200, b"ok\n")
                return
            target = self._target()
            if target is None:
                return
            if target == root:
                names = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
                self.reply(200, "".join(n + "\n" for n in names).encode())
            elif target.is_file():
                self.reply(200, target.read_bytes(), "application/octet-stream")
            else:
                self.reply(404, b"no such file\n")

        do_HEAD = do_GET

        def do_PUT(self) -> None:
            target = self._target()
            if target is None:
                return
            if target == root:
                self.reply(400, b"a file name is needed\n")
                return
            body = self.read_body(MAX_FILE)
            if body is None:
                return
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".put-")
            with os.fdopen(fd, "wb") as f:
                f.write(body)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
            self.reply(201, b"stored\n")

        def do_DELETE(self) -> None:
            target = self._target()
            if target is None:
                return
            if not target.is_file():
                self.reply(404, b"no such file\n")
                return
            target.unlink()
            self.reply(204, b"")

    return NasHandler


def main(argv: list[str] | None = None) -> None:
    args = parse_args("virtual NAS: HTTP file store", argv)
    serve(make_handler(args.state_dir / "files"), args.bind, args.port)


if __name__ == "__main__":
    main()
