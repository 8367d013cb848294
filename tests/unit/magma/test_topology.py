"""Pure topology: LLDP frames round-trip, links come and go, hosts are learned and moves detected."""

from __future__ import annotations

from openvolcano.api import magma as api
from openvolcano.stratov.magma.topology import Topology, lldp_frame, parse_lldp

MAC1 = bytes.fromhex("ffffffffffff") + bytes.fromhex("020000000011") + b"\x08\x06" + b"\0" * 28


def test_lldp_round_trip_and_foreign_frames() -> None:
    assert parse_lldp(lldp_frame(0xA1, 7, 0x0200000000AA)) == (0xA1, 7)
    assert parse_lldp(MAC1) is None
    assert parse_lldp(lldp_frame(0xA1, 7, 1)[:20]) is None


def test_links_hosts_and_moves() -> None:
    t = Topology(link_ttl=5)
    t.switch_up(1)
    t.switch_up(2)
    (up,) = t.lldp_received(2, 4, lldp_frame(1, 3, 1), now=0)
    assert isinstance(up, api.LinkUp)
    assert (up.link.src_port, up.link.dst_port) == (3, 4)
    assert t.lldp_received(2, 4, lldp_frame(1, 3, 1), now=1) == []  # already known
    assert t.packet_seen(2, 4, MAC1, now=1) == []  # a link port: not a host
    (seen,) = t.packet_seen(1, 1, MAC1, now=2)
    assert isinstance(seen, api.HostSeen)
    assert t.packet_seen(1, 1, MAC1, now=3) == []
    (moved,) = t.packet_seen(2, 9, MAC1, now=4)
    assert isinstance(moved, api.HostMoved)
    assert (moved.old_dpid, moved.old_port, moved.host.port_no) == (api.format_dpid(1), 1, 9)
    assert moved.host.first_seen == 2
    assert t.graph().number_of_edges() == 2
    (down,) = t.port_down(1, 3, now=5)
    assert down.reason == "port down"
    t.lldp_received(2, 4, lldp_frame(1, 3, 1), now=6)
    assert t.expire(now=10) == []
    assert [d.reason for d in t.expire(now=12)] == ["LLDP not seen"]
