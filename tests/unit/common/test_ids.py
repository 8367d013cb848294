"""Typed ids: parsing of the forms operators type, canonical formatting, clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from openvolcano.common.errors import InvalidInput
from openvolcano.common.ids import OFPP_MAX, DatapathId, object_id, port_no


@pytest.mark.parametrize(
    "text",
    [
        "1",
        "0x1",
        "0X01",
        "0000000000000001",
        "dpid:0000000000000001",
        "00:00:00:00:00:00:00:01",
        " 1 ",
    ],
)
def test_dpid_accepts_operator_forms(text: str) -> None:
    assert DatapathId(text) == 1


def test_dpid_formats() -> None:
    d = DatapathId(0xABCDEF0123456789)
    assert d.hex == "abcdef0123456789"
    assert d.colon == "ab:cd:ef:01:23:45:67:89"
    assert str(d) == d.colon
    assert repr(d) == "DatapathId(0xabcdef0123456789)"
    assert isinstance(d, int)
    assert {d: "x"}[0xABCDEF0123456789] == "x"


def test_sixteen_digits_are_hex_but_shorter_digit_strings_are_decimal() -> None:
    assert DatapathId("0000000000000010") == 16
    assert DatapathId("10") == 10


@pytest.mark.parametrize(
    "bad", ["", "0x", "0xZZ", "-1", "0x1_0", "1.5", "dpid:1", "00:01", str(1 << 64), "abc"]
)
def test_dpid_rejects_garbage_with_message(bad: str) -> None:
    with pytest.raises(InvalidInput, match="invalid datapath id"):
        DatapathId(bad)


def test_dpid_rejects_out_of_range_and_bool() -> None:
    with pytest.raises(InvalidInput, match="64 bits"):
        DatapathId(1 << 64)
    with pytest.raises(InvalidInput):
        DatapathId(-1)
    with pytest.raises(InvalidInput):
        DatapathId(True)


@given(st.integers(min_value=0, max_value=(1 << 64) - 1))
def test_dpid_round_trips_through_both_text_forms(n: int) -> None:
    d = DatapathId(n)
    assert DatapathId(str(d)) == n
    assert DatapathId(d.hex) == n
    assert DatapathId(f"0x{n:x}") == n


class _Switch(BaseModel):
    dpid: DatapathId


def test_dpid_as_pydantic_field() -> None:
    sw = _Switch.model_validate({"dpid": "0x2a"})
    assert type(sw.dpid) is DatapathId
    assert sw.dpid == 42
    assert sw.model_dump_json() == '{"dpid":"00:00:00:00:00:00:00:2a"}'
    assert _Switch.model_validate_json(sw.model_dump_json()) == sw
    with pytest.raises(ValueError, match="invalid datapath id"):
        _Switch.model_validate({"dpid": "nope"})
    with pytest.raises(ValueError, match="integer or a string"):
        _Switch.model_validate({"dpid": 1.5})


def test_port_no() -> None:
    assert port_no(1) == 1
    assert port_no("0x10") == 16
    assert port_no(0xFFFFFFFD) == 0xFFFFFFFD  # OFPP_CONTROLLER is a valid port number
    assert port_no(OFPP_MAX, physical=True) == OFPP_MAX
    for bad in (0, OFPP_MAX + 1):
        with pytest.raises(InvalidInput, match=r"must be in 1\.\."):
            port_no(bad, physical=True)
    for bad_any in (-1, 1 << 32, "x", True):
        with pytest.raises(InvalidInput, match="invalid port number"):
            port_no(bad_any)


def test_object_id() -> None:
    assert object_id("alice-01.home") == "alice-01.home"
    for bad in ("", "-x", "a b", "a/b", "x" * 65):
        with pytest.raises(InvalidInput, match="invalid user id"):
            object_id(bad, "user id")
