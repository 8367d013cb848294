"""Sensor twin: the cloud half of a home sensor, keeping its readings and serving history.

Role: the twin of a physical sensor (paper section II): the device pushes
readings, applications read the latest value or the history from the edge.
Readings are appended to ``<state-dir>/readings.jsonl`` (the migrated state),
so history survives a migration.

Protocol: ``POST /readings`` with a JSON object ``{"sensor": str, "value":
number, "ts"?: number}`` stores one reading (``ts`` defaults to the
receive time); ``GET /latest`` returns the newest reading per sensor;
``GET /history?sensor=S&limit=N`` the last N readings of S (all sensors if
S is absent); ``GET /health`` answers ``ok``.

Invariants: a malformed reading is refused with 400 and not stored; the
in-memory index is rebuilt from the file at start.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from openvolcano.caldera.lavanode.images.base import JsonHandler, parse_args, serve

__all__ = ["SensorStore", "main", "make_handler"]

MAX_BODY = 64 << 10


class SensorStore:
    """Readings kept in a JSON-lines file; the lock serialises the HTTP threads."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        # Written by add() under _lock, read by latest()/history() under _lock.
        self._readings: list[dict[str, object]] = []
        if path.exists():
            for line in path.read_text().splitlines():
                if line.strip():
                    self._readings.append(json.loads(line))

    @staticmethod
    def validate(raw: object) -> dict[str, object]:
        if not isinstance(raw, dict):
            raise ValueError("a reading is a JSON object")
        sensor, value = raw.get("sensor"), raw.get("value")
        if not isinstance(sensor, str) or not sensor or len(sensor) > 64:
            raise ValueError("'sensor' must be a non-empty string of at most 64 characters")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("'value' must be a number")
        ts = raw.get("ts", time.time())
        if isinstance(ts, bool) or not isinstance(ts, int | float):
            raise ValueError("'ts' must be a number")
        return {"sensor": sensor, "value": value, "ts": ts}

    def add(self, reading: dict[str, object]) -> None:
        with self._lock:
            with self._path.open("a") as f:
                f.write(json.dumps(reading) + "\n")
            self._readings.append(reading)

    def latest(self) -> dict[str, dict[str, object]]:
        with self._lock:
            return {str(r["sensor"]): r for r in self._readings}

    def history(self, sensor: str | None, limit: int) -> list[dict[str, object]]:
        with self._lock:
            rows = [r for r in self._readings if sensor is None or r["sensor"] == sensor]
        return rows[-limit:] if limit > 0 else []


def make_handler(store: SensorStore) -> type[JsonHandler]:
    class SensorHandler(JsonHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            if url.path == "/health":
                self.reply(200, b"ok\n")
            elif url.path == "/latest":
                self.reply(200, json.dumps(store.latest()).encode(), "application/json")
            elif url.path == "/history":
                limit_s = query.get("limit", ["100"])[0]
                if not limit_s.isdigit():
                    self.reply(400, b"limit must be a non-negative integer\n")
                    return
                rows = store.history(query.get("sensor", [None])[0], int(limit_s))
                self.reply(200, json.dumps(rows).encode(), "application/json")
            else:
                self.reply(404, b"not found\n")

        def do_POST(self) -> None:
            if self.path != "/readings":
                self.reply(404, b"not found\n")
                return
            body = self.read_body(MAX_BODY)
            if body is None:
                return
            try:
                reading = store.validate(json.loads(body))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                self.reply(400, f"bad reading: {exc}\n".encode())
                return
            store.add(reading)
            self.reply(201, json.dumps(reading).encode(), "application/json")

    return SensorHandler


def main(argv: list[str] | None = None) -> None:
    args = parse_args("sensor twin: latest readings and history", argv)
    serve(make_handler(SensorStore(args.state_dir / "readings.jsonl")), args.bind, args.port)


if __name__ == "__main__":
    main()
