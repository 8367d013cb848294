"""magma's desired-state JSON models: valid forms parse, malformed ones fail with a clear reason."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from openvolcano.api import magma as api
from openvolcano.ofp.oxm import Match


def test_match_text_forms_become_codec_values() -> None:
    m = api.parse_match(
        {"eth_type": 0x0800, "ipv4_dst": "10.1.0.0/255.255.0.0", "eth_dst": "02:00:00:00:00:01"}
    )
    assert m == Match.of(
        eth_type=0x0800, ipv4_dst=("10.1.0.0", "255.255.0.0"), eth_dst="02:00:00:00:00:01"
    )


@pytest.mark.parametrize(
    ("match", "reason"),
    [
        ({"ip_dest": "10.0.0.1"}, "unknown match field 'ip_dest'"),
        ({"eth_type": "0x800/0xff00"}, "cannot be masked"),
        ({"ipv4_dst": "10.0.0.1"}, "ipv4_dst needs eth_type"),
        ({"eth_type": 0x800, "ipv4_dst": "10.0.0.300"}, "ipv4_dst='10.0.0.300'"),
        ({"in_port": 1 << 40}, "in_port"),
    ],
)
def test_malformed_match_is_rejected_with_the_reason(match: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        api.DesiredFlow.model_validate({"match": match})
    assert reason in str(info.value)


def test_instructions_are_tagged_models() -> None:
    flow = api.DesiredFlow.model_validate(
        {
            "priority": 10,
            "match": {"in_port": 1},
            "instructions": [
                {"type": "apply_actions", "actions": [{"type": "output", "port": "controller"}]},
                {"type": "goto_table", "table_id": 1},
            ],
        }
    )
    assert isinstance(flow.instructions[0], api.ApplyActions)
    assert flow.instructions[0].actions == (api.OutputAction(port="controller"),)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"table_id": 2, "instructions": [{"type": "goto_table", "table_id": 1}]},
            "must go forward",
        ),
        (
            {
                "instructions": [
                    {"type": "apply_actions", "actions": [{"type": "output", "port": 0}]}
                ]
            },
            "port 0",
        ),
        ({"instructions": [{"type": "teleport"}]}, "teleport"),
        (
            {
                "instructions": [
                    {
                        "type": "apply_actions",
                        "actions": [{"type": "set_field", "field": "eth_dst", "value": "zz"}],
                    }
                ]
            },
            "set_field eth_dst",
        ),
        ({"priority": 70000}, "priority"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_malformed_flow_is_rejected(body: dict[str, object], reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        api.DesiredFlow.model_validate(body)
    assert reason in str(info.value)


def test_switch_rules_refuse_duplicates() -> None:
    flow = {"priority": 5, "match": {"in_port": 1}}
    with pytest.raises(ValidationError, match="same match"):
        api.SwitchRules.model_validate({"flows": [flow, flow]})
    group = {"group_id": 3, "buckets": []}
    with pytest.raises(ValidationError, match="group id 3 is defined twice"):
        api.SwitchRules.model_validate({"groups": [group, group]})


def test_owner_state_normalises_datapath_ids() -> None:
    state = api.OwnerState.model_validate({"switches": {"0x1": {}, "00:00:00:00:00:00:00:02": {}}})
    assert set(state.switches) == {"0000000000000001", "0000000000000002"}
    with pytest.raises(ValidationError, match="listed twice"):
        api.OwnerState.model_validate({"switches": {"0x1": {}, "1": {}}})
    with pytest.raises(ValidationError, match="hex digits"):
        api.OwnerState.model_validate({"switches": {"s1": {}}})


def test_parse_match_ipv4_fast_path_agrees_with_the_codec_and_refuses_bad_text() -> None:
    from openvolcano.api.magma import parse_match
    from openvolcano.ofp.oxm import Match

    for text in ("10.0.0.1", "0.0.0.0", "255.255.255.255", "192.168.1.0/255.255.255.0"):
        value = tuple(text.split("/")) if "/" in text else text
        want = Match.of(eth_type=0x0800, ipv4_dst=value)
        assert parse_match({"eth_type": 0x0800, "ipv4_dst": text}) == want
    for bad in ("10.0.0.256", "10.0.0", "10.0.0.1.2", "1e.0.0.1", "10.0.0.01", " 10.0.0.1"):
        with pytest.raises(ValueError, match="ipv4_dst"):
            parse_match({"eth_type": 0x0800, "ipv4_dst": bad})
    with pytest.raises(ValueError, match="does not fit"):
        parse_match({"in_port": 1 << 32})
