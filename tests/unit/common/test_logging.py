"""Daemon logging: one line per event, key=value or JSON, extras kept, re-setup not duplicated."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from openvolcano.common.errors import InvalidInput
from openvolcano.common.logging import setup_logging


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)


@pytest.mark.usefixtures("restore_root")
def test_key_value_one_line_with_extras() -> None:
    out = io.StringIO()
    setup_logging("debug", json=False, stream=out)
    logging.getLogger("openvolcano.test").info(
        "switch connected", extra={"dpid": "00:01", "note": 'two\nlines "q"'}
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    line = lines[0]
    assert line.startswith("ts=")
    assert ' level=info logger=openvolcano.test msg="switch connected" dpid=00:01 ' in line
    assert line.endswith('note="two\\nlines \\"q\\""')


@pytest.mark.usefixtures("restore_root")
def test_json_lines_and_exceptions() -> None:
    out = io.StringIO()
    setup_logging("info", json=True, stream=out)
    log = logging.getLogger("openvolcano.test")
    log.debug("hidden")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed", extra={"port": 3})
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["level"] == "error"
    assert event["msg"] == "failed"
    assert event["port"] == 3
    assert "RuntimeError: boom" in event["exc"]


@pytest.mark.usefixtures("restore_root")
def test_setup_twice_replaces_its_own_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    setup_logging("info", stream=first)
    setup_logging("WARNING", stream=second)
    logging.getLogger("openvolcano.test").warning("once")
    assert first.getvalue() == ""
    assert second.getvalue().count("msg=once") == 1


def test_bad_level() -> None:
    with pytest.raises(InvalidInput, match="invalid log level 'loud'"):
        setup_logging("loud")
