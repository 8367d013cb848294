"""Daemon logging: one line per event on stderr, as ``key=value`` text or as JSON.

Role: every daemon calls :func:`setup_logging` once in ``main()``; library code
only does ``log = logging.getLogger(__name__)`` and
``log.info("switch connected", extra={"dpid": dpid, "peer": addr})``. The
pure cores never log (they return decisions); the fast path only counts.

Line format (``json=False``)::

    ts=2026-01-02T03:04:05.678Z level=info logger=openvolcano.magma msg="switch connected" dpid=00:00:00:00:00:00:00:01

With ``json=True`` the same fields form one JSON object per line. Fields from
``extra=`` are appended in the order given; an exception adds ``exc`` (the
formatted traceback, escaped so the event stays on one line).

Invariants: exactly one line per event (newlines in values are escaped);
calling :func:`setup_logging` again replaces the handler it installed before
instead of duplicating output; handlers installed by others (pytest's
caplog) are left alone.
"""

from __future__ import annotations

import json as _json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

from openvolcano.common.errors import InvalidInput

__all__ = ["JsonFormatter", "KeyValueFormatter", "setup_logging"]

# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "critical": 50}


def _fields(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, Any]:
    ts = datetime.fromtimestamp(record.created, tz=UTC)
    fields: dict[str, Any] = {
        "ts": ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z",
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    for key, value in vars(record).items():
        if key not in _STANDARD_ATTRS and not key.startswith("_"):
            fields[key] = value
    if record.exc_info:
        fields["exc"] = formatter.formatException(record.exc_info)
    return fields


def _kv_value(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if text and all(c.isprintable() and c not in ' "=' for c in text):
        return text
    return _json.dumps(text)  # quotes, and escapes newlines and quotes


class KeyValueFormatter(logging.Formatter):
    """``key=value`` pairs, values quoted only when they contain spaces, quotes or ``=``."""

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{k}={_kv_value(v)}" for k, v in _fields(record, self).items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line; values that JSON cannot hold are written with ``str()``."""

    def format(self, record: logging.LogRecord) -> str:
        return _json.dumps(_fields(record, self), default=str)


class _OwnHandler(logging.StreamHandler[TextIO]):
    """Marks the handler :func:`setup_logging` installed, so a second call replaces it."""


def setup_logging(
    level: str | int = "info", json: bool = False, stream: TextIO | None = None
) -> None:
    """Send every log event to ``stream`` (default stderr) at ``level`` or above."""
    if isinstance(level, str):
        if level.lower() not in _LEVELS:
            raise InvalidInput(
                f"invalid log level {level!r}: use one of {', '.join(sorted(_LEVELS))}"
            )
        numeric = _LEVELS[level.lower()]
    else:
        numeric = level
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _OwnHandler):
            root.removeHandler(handler)
            handler.close()
    handler = _OwnHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter() if json else KeyValueFormatter())
    root.addHandler(handler)
    root.setLevel(numeric)
