"""The openflow.h constants: a few spec values, and the number -> name helpers."""

from __future__ import annotations

import pytest

from openvolcano.ofp import consts as c


def test_spot_values_from_the_1_3_5_spec() -> None:
    assert c.OFP_VERSION == 0x04
    assert c.OFP_TCP_PORT == 6653
    assert c.OFPT_METER_MOD == 29
    assert c.OFPXMT_OFB_IPV6_EXTHDR == 39
    assert c.OFPBRC_MULTIPART_BUFFER_OVERFLOW == 13
    assert c.OFPTFPT_EXPERIMENTER == 0xFFFE
    assert c.OFPCML_MAX == 0xFFE5
    assert c.OFPM_MAX == 0xFFFF0000


def test_error_name() -> None:
    assert c.error_name(c.OFPET_BAD_REQUEST, c.OFPBRC_BAD_LEN) == "OFPET_BAD_REQUEST/OFPBRC_BAD_LEN"
    assert c.error_name(c.OFPET_BAD_MATCH, c.OFPBMC_DUP_FIELD) == "OFPET_BAD_MATCH/OFPBMC_DUP_FIELD"
    assert (
        c.error_name(c.OFPET_TABLE_FEATURES_FAILED, 5)
        == "OFPET_TABLE_FEATURES_FAILED/OFPTFFC_EPERM"
    )
    assert c.error_name(c.OFPET_BAD_ACTION, 99) == "OFPET_BAD_ACTION/99"
    assert c.error_name(c.OFPET_EXPERIMENTER, 7) == "OFPET_EXPERIMENTER/7"
    assert c.error_name(42, 1) == "42/1"


def test_every_error_type_has_a_named_code_family() -> None:
    for name in dir(c):
        if name.startswith("OFPET_") and name != "OFPET_EXPERIMENTER":
            assert "/OFP" in c.error_name(getattr(c, name), 0), name


def test_name_of_picks_the_most_specific_family() -> None:
    assert c.name_of("OFPT_", c.OFPT_FLOW_MOD) == "OFPT_FLOW_MOD"
    assert c.name_of("OFPP_", 0xFFFFFFFD) == "OFPP_CONTROLLER"
    assert c.name_of("OFPC_", 1) == "OFPC_FLOW_STATS"
    assert c.name_of("OFPC_FRAG_", 1) == "OFPC_FRAG_DROP"
    assert c.name_of("OFPMPF_", 1) == "OFPMPF_REQ_MORE"
    assert c.name_of("OFPAT_", 1) == "OFPAT_0x1"
    with pytest.raises(KeyError):
        c.name_of("NOPE_", 1)


def test_flag_names() -> None:
    assert c.flag_names("OFPFF_", c.OFPFF_SEND_FLOW_REM | c.OFPFF_NO_BYT_COUNTS) == [
        "OFPFF_SEND_FLOW_REM",
        "OFPFF_NO_BYT_COUNTS",
    ]
    assert c.flag_names("OFPPC_", (1 << 1) | c.OFPPC_PORT_DOWN) == ["OFPPC_PORT_DOWN", "0x2"]
    assert c.flag_names("OFPPS_", 0) == []
