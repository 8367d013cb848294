"""Clocks and the error hierarchy."""

from __future__ import annotations

import pytest

from openvolcano.common.clock import Clock, FakeClock, SystemClock
from openvolcano.common.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OpenVolcanoError,
    Unavailable,
)


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(start=10.0, wall_start=1000.0)
    assert (clock.now(), clock.wall()) == (10.0, 1000.0)
    assert clock.advance(2.5) == 12.5
    assert (clock.now(), clock.wall()) == (12.5, 1002.5)
    with pytest.raises(InvalidInput, match="backwards"):
        clock.advance(-1)
    assert clock.now() == 12.5


def test_both_clocks_satisfy_the_protocol() -> None:
    assert isinstance(FakeClock(), Clock)
    assert isinstance(SystemClock(), Clock)
    system = SystemClock()
    first = system.now()
    assert system.now() >= first  # monotonic: never goes backwards
    assert system.wall() > 1_600_000_000


@pytest.mark.parametrize(
    ("cls", "status", "code"),
    [
        (NotFound, 404, "not_found"),
        (Conflict, 409, "conflict"),
        (InvalidInput, 422, "invalid_input"),
        (Unavailable, 503, "unavailable"),
        (OpenVolcanoError, 500, "error"),
    ],
)
def test_error_mapping(cls: type[OpenVolcanoError], status: int, code: str) -> None:
    err = cls("user 'alice' not found", user="alice")
    assert isinstance(err, OpenVolcanoError)
    assert err.http_status == status
    assert str(err) == err.message == "user 'alice' not found"
    assert err.to_dict() == {
        "error": code,
        "message": "user 'alice' not found",
        "details": {"user": "alice"},
    }
    assert "details" not in cls("x").to_dict()


def test_invalid_input_is_a_value_error() -> None:
    assert issubclass(InvalidInput, ValueError)
