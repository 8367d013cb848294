"""reconcile() applied to quake's real pipeline: apply the plan, then ask where packets go.

No mocks: the pipeline executes every FlowMod/GroupMod/MeterMod of the plan
(and refuses what a switch would refuse), and its flow/group/meter dumps are
what magma would read back from a real switch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
import quake_frames as fr

from openvolcano.api import magma as api
from openvolcano.caldera.quake.pipeline import Pipeline, StaticPorts
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.base import Message
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import BarrierRequest, FlowMod, GroupMod, MeterMod
from openvolcano.ofp.oxm import Match
from openvolcano.stratov.magma.convert import OWNER_COOKIE_MASK, owner_cookie
from openvolcano.stratov.magma.reconcile import (
    PHASES,
    DesiredConflict,
    Plan,
    SwitchTables,
    compile_desired,
    reconcile,
)

NOW = 1000.0
TO_B = fr.udp4_frame()  # 10.0.0.1 -> 10.0.0.2, eth 02..01 -> 02..02
TO_A = fr.eth(dst=fr.MAC_A, src=fr.MAC_B) + fr.ipv4(17, fr.udp(1, 2), src=fr.IP_B, dst=fr.IP_A)


def apply_msg(p: Pipeline, m: Message) -> None:
    if isinstance(m, FlowMod):
        p.apply_flow_mod(m, NOW)
    elif isinstance(m, GroupMod):
        p.apply_group_mod(m, NOW)
    elif isinstance(m, MeterMod):
        p.apply_meter_mod(m, NOW)
    else:
        assert isinstance(m, BarrierRequest)


def apply_plan(p: Pipeline, plan: Plan) -> None:
    for m in plan.messages:
        apply_msg(p, m)


def installed(p: Pipeline) -> SwitchTables:
    return SwitchTables.from_stats(p.flow_stats(NOW), p.group_desc(), p.meter_config())


def rules(data: Mapping[str, Any]) -> api.SwitchRules:
    return api.SwitchRules.model_validate(data)


def out(port: int | str) -> dict[str, Any]:
    return {"type": "apply_actions", "actions": [{"type": "output", "port": port}]}


def ip_flow(dst: str, port: int | str, priority: int = 100) -> dict[str, Any]:
    return {
        "priority": priority,
        "match": {"eth_type": 0x0800, "ipv4_dst": dst},
        "instructions": [out(port)],
    }


def where(p: Pipeline, frame: bytes, in_port: int = 1) -> list[int]:
    return p.trace(in_port, frame, NOW).ports


@pytest.fixture
def switch() -> Pipeline:
    return Pipeline(n_tables=4, ports=StaticPorts([1, 2, 3, 4]))


def sync(p: Pipeline, owners: Mapping[str, api.SwitchRules]) -> Plan:
    plan = reconcile(compile_desired(owners), installed(p))
    apply_plan(p, plan)
    return plan


def test_empty_switch_gets_the_desired_flows_and_packets_follow_them(switch: Pipeline) -> None:
    pn = rules({"flows": [ip_flow("10.0.0.2", 2), ip_flow("10.0.0.1", 1)]})
    plan = sync(switch, {"pn-a": pn})
    assert [len(p) for p in plan.phases] == [0, 3, 0, 0, 0]  # two adds + barrier
    assert where(switch, TO_B) == [2]
    assert where(switch, TO_A, in_port=2) == [1]
    assert {f.cookie for f in switch.flow_stats(NOW)} == {owner_cookie("pn-a")}
    assert reconcile(compile_desired({"pn-a": pn}), installed(switch)).empty


def test_stale_rule_is_removed_and_only_it(switch: Pipeline) -> None:
    pn = rules({"flows": [ip_flow("10.0.0.2", 2)]})
    sync(switch, {"pn-a": pn})
    intruder = FlowMod(
        cookie=0xBAD,
        priority=500,
        match=Match.of(eth_type=0x0800, ipv4_dst="10.0.0.2"),
        instructions=(InstructionApplyActions(actions=(ActionOutput(port=4),)),),
    )
    switch.apply_flow_mod(intruder, NOW)
    assert where(switch, TO_B) == [4]
    plan = sync(switch, {"pn-a": pn})
    assert [len(p) for p in plan.phases] == [0, 0, 0, 2, 0]
    (delete,) = plan.phases[3][:-1]
    assert isinstance(delete, FlowMod)
    assert (delete.command, delete.cookie) == (c.OFPFC_DELETE_STRICT, 0xBAD)
    assert where(switch, TO_B) == [2]
    assert len(switch.flow_stats(NOW)) == 1


def test_changed_route_is_replaced_in_place_without_a_delete(switch: Pipeline) -> None:
    sync(switch, {"pn-a": rules({"flows": [ip_flow("10.0.0.2", 2)]})})
    plan = sync(switch, {"pn-a": rules({"flows": [ip_flow("10.0.0.2", 3)]})})
    assert [len(p) for p in plan.phases] == [0, 0, 2, 0, 0]
    assert where(switch, TO_B) == [3]


def test_make_before_break_never_drops_the_flow(switch: Pipeline) -> None:
    """Old path: priority-100 rule to port 2. New path: priority-200 rule through group 7 to port 3.

    Applying the plan phase by phase, the packet is delivered after every phase,
    the group exists before the flow that uses it (the pipeline would refuse it
    otherwise), and the old rule is gone only at the end.
    """
    sync(switch, {"pn-a": rules({"flows": [ip_flow("10.0.0.2", 2)]})})
    new = rules(
        {
            "groups": [
                {
                    "group_id": 7,
                    "type": "indirect",
                    "buckets": [{"actions": [{"type": "output", "port": 3}]}],
                }
            ],
            "flows": [
                {
                    "priority": 200,
                    "match": {"eth_type": 0x0800, "ipv4_dst": "10.0.0.2"},
                    "instructions": [
                        {"type": "apply_actions", "actions": [{"type": "group", "group_id": 7}]}
                    ],
                }
            ],
        }
    )
    plan = reconcile(compile_desired({"pn-a": new}), installed(switch))
    seen = []
    for name, phase in zip(PHASES, plan.phases, strict=True):
        for m in phase:
            apply_msg(switch, m)
        seen.append((name, where(switch, TO_B)))
    assert seen == [
        ("groups-meters-add", [2]),
        ("flows-add", [3]),
        ("flows-replace", [3]),
        ("flows-delete", [3]),
        ("groups-meters-delete", [3]),
    ]
    assert len(switch.flow_stats(NOW)) == 1
    assert reconcile(compile_desired({"pn-a": new}), installed(switch)).empty


def test_removing_an_owner_removes_its_flows_then_its_groups_and_meters(switch: Pipeline) -> None:
    pn_b = rules(
        {
            "meters": [{"meter_id": 1, "bands": [{"rate": 1000}]}],
            "groups": [{"group_id": 9, "buckets": [{"actions": [{"type": "output", "port": 4}]}]}],
            "flows": [
                {
                    "priority": 300,
                    "match": {"eth_type": 0x0800, "ipv4_dst": "10.0.0.1"},
                    "instructions": [
                        {"type": "meter", "meter_id": 1},
                        {"type": "apply_actions", "actions": [{"type": "group", "group_id": 9}]},
                    ],
                }
            ],
        }
    )
    pn_a = rules({"flows": [ip_flow("10.0.0.2", 2)]})
    sync(switch, {"pn-a": pn_a, "pn-b": pn_b})
    assert where(switch, TO_A, in_port=2) == [4]
    assert switch.group_desc()
    assert switch.meter_config()
    plan = sync(switch, {"pn-a": pn_a})
    assert [len(p) for p in plan.phases] == [0, 0, 0, 2, 3]
    assert where(switch, TO_A, in_port=2) == []
    assert where(switch, TO_B) == [2]
    assert not switch.group_desc()
    assert not switch.meter_config()


def test_owners_are_told_apart_by_cookie(switch: Pipeline) -> None:
    sync(
        switch,
        {
            "pn-a": rules({"flows": [ip_flow("10.0.0.2", 2)]}),
            "pn-b": rules({"flows": [ip_flow("10.0.0.1", 1)]}),
        },
    )
    names = {owner_cookie(o): o for o in ("pn-a", "pn-b")}
    tables = SwitchTables.from_stats(switch.flow_stats(NOW), owners_by_cookie=names)
    assert sorted(str(r.owner) for r in tables.flows.values()) == ["pn-a", "pn-b"]
    assert all(r.cookie & ~OWNER_COOKIE_MASK == 0 for r in tables.flows.values())


def test_match_field_order_is_not_drift(switch: Pipeline) -> None:
    pn = rules(
        {
            "flows": [
                {
                    "priority": 9,
                    "match": {"eth_type": 0x0800, "ip_proto": 17, "udp_dst": 53},
                    "instructions": [out(3)],
                }
            ]
        }
    )
    desired = compile_desired({"pn-a": pn})
    (rule,) = desired.flows.values()
    switch.apply_flow_mod(
        FlowMod(
            cookie=rule.cookie,
            priority=9,
            match=Match(fields=tuple(reversed(rule.match.fields))),
            instructions=rule.instructions,
        ),
        NOW,
    )
    assert reconcile(desired, installed(switch)).empty
    assert where(switch, fr.udp4_frame(dport=53)) == [3]
    assert where(switch, fr.udp4_frame(dport=54)) == []


def test_two_owners_wanting_the_same_entry_is_a_conflict() -> None:
    same = rules({"flows": [ip_flow("10.0.0.2", 2)]})
    with pytest.raises(DesiredConflict, match="'pn-a' and 'pn-b' both want"):
        compile_desired({"pn-a": same, "pn-b": same})
    g = rules({"groups": [{"group_id": 1}]})
    with pytest.raises(DesiredConflict, match="both define group 1"):
        compile_desired({"pn-a": g, "pn-b": g})
