"""The demo's crater stand-in: PN rules join exactly the members, along the LLDP path."""

from __future__ import annotations

import pytest

from openvolcano.netlab.edge_procs import outages
from openvolcano.netlab.pn_standin import BROADCAST, Member, personal_network_rules

A, B, C = 0xA1, 0xB1, 0xC1
LINE = {(A, 3, B, 1), (B, 1, A, 3), (B, 2, C, 1), (C, 1, B, 2)}
DEV, NAS = "02:00:00:00:00:01", "02:00:00:00:00:64"


def rules(state: object) -> set[tuple[str, int, str, str, tuple[int, ...]]]:
    out = set()
    for dpid, sw in state.switches.items():  # type: ignore[attr-defined]
        for f in sw.flows:
            ports = tuple(a.port for a in f.instructions[0].actions)
            m = f.match
            out.add((dpid[-2:], m["in_port"], m["eth_src"], m["eth_dst"], ports))
    return out


def test_same_switch_is_four_rules_on_that_switch_only() -> None:
    state = personal_network_rules([Member(DEV, A, 1), Member(NAS, A, 4)], LINE)
    assert rules(state) == {
        ("a1", 1, DEV, NAS, (4,)), ("a1", 4, NAS, DEV, (1,)),
        ("a1", 1, DEV, BROADCAST, (4,)), ("a1", 4, NAS, BROADCAST, (1,)),
    }  # fmt: skip


def test_rules_follow_the_path_across_switches() -> None:
    state = personal_network_rules([Member(DEV, C, 5), Member(NAS, A, 4)], LINE)
    assert set(state.switches) == {f"{d:016x}" for d in (A, B, C)}
    got = rules(state)
    assert ("c1", 5, DEV, NAS, (1,)) in got
    assert ("b1", 2, DEV, NAS, (1,)) in got
    assert ("a1", 3, DEV, NAS, (4,)) in got
    assert ("a1", 4, NAS, DEV, (3,)) in got
    assert ("b1", 1, NAS, DEV, (2,)) in got
    assert ("c1", 1, NAS, DEV, (5,)) in got
    assert len(got) == 12  # 3 switches x 2 directions x (unicast + broadcast)


def test_broadcast_goes_to_every_other_member_only() -> None:
    third = "02:00:00:00:00:03"
    state = personal_network_rules([Member(DEV, A, 1), Member(NAS, A, 4), Member(third, A, 7)], [])
    assert ("a1", 1, DEV, BROADCAST, (4, 7)) in rules(state)


def test_unreachable_member_is_an_error_not_a_partial_pn() -> None:
    with pytest.raises(ValueError, match="no path"):
        personal_network_rules([Member(DEV, A, 1), Member(NAS, 0xD1, 1)], LINE)


def test_outages_measure_from_last_success_to_first_success() -> None:
    lines = ["0.0 0.1 0", "1.0 1.1 1", "2.0 2.3 0", "3.0 3.3 0", "4.0 4.2 1", "5.0 5.1 1"]
    gaps, n, failed = outages(lines)
    assert gaps == pytest.approx([3.1])
    assert n == 6
    assert failed == 3
