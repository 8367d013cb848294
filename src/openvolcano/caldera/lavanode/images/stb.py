"""Virtual set-top box / video recorder: streams a generated test video, records it to state.

Role: the twin of a user's set-top box and video recorder (paper section II).
The "channel" is a generated test stream - raw YUV4MPEG2 (``.y4m``) frames of
a moving colour-bar pattern, so any player (ffplay, mpv, VLC) can show it and
tests can check frames byte for byte. Recordings are files under
``<state-dir>/recordings`` - the migrated state - so a recording made before
a migration can be replayed after it.

Protocol: ``GET /stream?frames=N`` streams N frames (default 25, at most
250) of the live channel; ``POST /recordings?name=R&frames=N`` records N
frames to ``R.y4m``; ``GET /recordings`` lists recordings;
``GET /recordings/R`` plays one back; ``GET /health`` answers ``ok``.

Invariants: frame ``i`` of the channel is a pure function of ``i`` (the
pattern scrolls by one column per frame); recording names are ``[a-z0-9-]``.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from openvolcano.caldera.lavanode.images.base import JsonHandler, parse_args, serve

__all__ = ["HEIGHT", "WIDTH", "frame", "header", "main", "make_handler"]

WIDTH, HEIGHT = 64, 48
MAX_FRAMES = 250
_NAME = re.compile(r"^[a-z0-9-]{1,40}$")
_BARS = [(235, 128, 128), (210, 16, 146), (170, 166, 16), (145, 54, 34), (106, 202, 222), (81, 90, 240), (41, 240, 110), (16, 128, 128)]  # fmt: skip


def header() -> bytes:
    """The YUV4MPEG2 stream header (25 fps, 4:4:4, progressive)."""
    return f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F25:1 Ip A1:1 C444\n".encode()


def frame(index: int) -> bytes:
    """Frame ``index``: eight colour bars scrolled left by ``index`` columns."""
    planes = []
    for component in range(3):
        row = bytes(
            _BARS[((x + index) % WIDTH) * len(_BARS) // WIDTH][component] for x in range(WIDTH)
        )
        planes.append(row * HEIGHT)
    return b"FRAME\n" + b"".join(planes)


def make_handler(recordings: Path) -> type[JsonHandler]:
    recordings.mkdir(parents=True, exist_ok=True)
    clock = {"frame": 0}
    lock = threading.Lock()

    def next_frames(n: int) -> list[bytes]:
        with lock:  # the live channel advances for every viewer together
            start = clock["frame"]
            clock["frame"] += n
        return [frame(start + i) for i in range(n)]

    class StbHandler(JsonHandler):
        def _frames(self, query: dict[str, list[str]]) -> int | None:
            raw = query.get("frames", ["25"])[0]
            if not raw.isdigit() or not 1 <= int(raw) <= MAX_FRAMES:
                self.reply(400, f"frames must be 1..{MAX_FRAMES}\n".encode())
                return None
            return int(raw)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/health":
                self.reply(200, b"ok\n")
            elif url.path == "/stream":
                n = self._frames(parse_qs(url.query))
                if n is not None:
                    body = header() + b"".join(next_frames(n))
                    self.reply(200, body, "video/x-yuv4mpeg")
            elif url.path == "/recordings":
                names = sorted(p.stem for p in recordings.glob("*.y4m"))
                self.reply(200, "".join(n + "\n" for n in names).encode())
            elif url.path.startswith("/recordings/"):
                name = url.path.removeprefix("/recordings/")
                path = recordings / f"{name}.y4m"
                if _NAME.match(name) and path.is_file():
                    self.reply(200, path.read_bytes(), "video/x-yuv4mpeg")
                else:
                    self.reply(404, b"no such recording\n")
            else:
                self.reply(404, b"not found\n")

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path != "/recordings":
                self.reply(404, b"not found\n")
                return
            name = query.get("name", [""])[0]
            if not _NAME.match(name):
                self.reply(400, b"name must match [a-z0-9-]{1,40}\n")
                return
            n = self._frames(query)
            if n is None:
                return
            tmp = recordings / f".{name}.part"
            tmp.write_bytes(header() + b"".join(next_frames(n)))
            tmp.replace(recordings / f"{name}.y4m")
            self.reply(201, f"recorded {n} frames\n".encode())

    return StbHandler


def main(argv: list[str] | None = None) -> None:
    args = parse_args("virtual set-top box / video recorder", argv)
    serve(make_handler(args.state_dir / "recordings"), args.bind, args.port)


if __name__ == "__main__":
    main()
