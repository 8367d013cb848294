"""The catalogue's HTTP images, served in-process on loopback: behaviour and bad input."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from openvolcano.caldera.lavanode.images import hub, nas, sensor, stb

Serve = Callable[[type[BaseHTTPRequestHandler]], str]


@pytest.fixture
def serve() -> Iterator[Serve]:
    servers: list[ThreadingHTTPServer] = []

    def start(handler: type[BaseHTTPRequestHandler]) -> str:
        srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        servers.append(srv)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{srv.server_address[1]}"

    yield start
    for srv in servers:
        srv.shutdown()
        srv.server_close()


def call(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_nas_stores_and_serves_files(serve: Serve, tmp_path: Path) -> None:
    base = serve(nas.make_handler(tmp_path / "files"))
    assert call(base + "/health") == (200, b"ok\n")
    assert call(base + "/files/docs/a.txt", "PUT", b"hello")[0] == 201
    assert call(base + "/files/docs/a.txt") == (200, b"hello")
    assert (tmp_path / "files" / "docs" / "a.txt").read_bytes() == b"hello"
    assert call(base + "/files/") == (200, b"docs\n")
    assert call(base + "/files/../etc/passwd")[0] in (400, 404)
    assert call(base + "/files/.hidden", "PUT", b"x")[0] == 400
    assert call(base + "/files/missing")[0] == 404
    assert call(base + "/files/docs/a.txt", "DELETE")[0] == 204
    assert call(base + "/files/docs/a.txt")[0] == 404


def test_sensor_twin_keeps_latest_and_history_across_restart(serve: Serve, tmp_path: Path) -> None:
    path = tmp_path / "readings.jsonl"
    base = serve(sensor.make_handler(sensor.SensorStore(path)))
    for value in (20.5, 21.0):
        reading = json.dumps({"sensor": "temp", "value": value, "ts": value}).encode()
        assert call(base + "/readings", "POST", reading)[0] == 201
    assert call(base + "/readings", "POST", b'{"sensor": "temp", "value": "hot"}')[0] == 400
    assert call(base + "/readings", "POST", b"not json")[0] == 400
    assert json.loads(call(base + "/latest")[1])["temp"]["value"] == 21.0
    # A new store on the same file (the image after a migration) sees the history.
    again = serve(sensor.make_handler(sensor.SensorStore(path)))
    rows = json.loads(call(again + "/history?sensor=temp&limit=5")[1])
    assert [r["value"] for r in rows] == [20.5, 21.0]
    assert call(again + "/history?limit=x")[0] == 400


def test_stb_streams_generated_frames_and_records(serve: Serve, tmp_path: Path) -> None:
    base = serve(stb.make_handler(tmp_path / "rec"))
    status, body = call(base + "/stream?frames=3")
    assert status == 200
    assert body.startswith(b"YUV4MPEG2 W64 H48")
    frame_len = len(stb.frame(0))
    assert len(body) == len(stb.header()) + 3 * frame_len
    assert stb.frame(0) != stb.frame(1)
    assert body[len(stb.header()) :][:frame_len] == stb.frame(0)
    assert call(base + "/recordings?name=news&frames=2", "POST", b"")[0] == 201
    assert call(base + "/recordings") == (200, b"news\n")
    status, rec = call(base + "/recordings/news")
    assert status == 200
    assert rec == stb.header() + stb.frame(3) + stb.frame(4)
    assert call(base + "/recordings?name=Bad!&frames=2", "POST", b"")[0] == 400
    assert call(base + "/stream?frames=0")[0] == 400


def test_hub_config_persists_in_state_dir() -> None:
    text = hub.config_text(1883, "0.0.0.0", "/state/mosquitto")
    assert "listener 1883 0.0.0.0\n" in text
    assert "persistence_location /state/mosquitto/\n" in text
