"""One contract for every quake PortBackend: the in-memory pair and AF_PACKET on a veth pair.

The AF_PACKET case builds two netlab switch namespaces joined by one veth
pair (needs root; skipped otherwise) and opens each end inside its
namespace. Waits poll the port descriptors with a bounded timeout.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from openvolcano.caldera.quake.ports import MemoryPort, PortBackend, PortError, memory_pair
from openvolcano.caldera.quake.ports.afpacket import AfPacketPort
from openvolcano.netlab.build import Lab
from openvolcano.netlab.topo import Topology

TIMEOUT = 5.0


@dataclass
class Link:
    a: PortBackend
    b: PortBackend
    set_carrier: Callable[[bool], None]  # unplug/replug: both ends see it


def _memory() -> Iterator[Link]:
    a, b = memory_pair("pa", "pb")
    a.open()
    b.open()

    def carrier(up: bool) -> None:
        assert isinstance(a, MemoryPort)
        a.set_link(up)

    yield Link(a, b, carrier)
    a.close()
    b.close()


def _afpacket(netlab: Callable[..., Lab]) -> Iterator[Link]:
    topo = Topology.parse(
        {
            "hosts": [],
            "switches": [
                {"name": "s1", "ports": [{"name": "p1", "port_no": 1}]},
                {"name": "s2", "ports": [{"name": "p1", "port_no": 1}]},
            ],
            "links": [{"a": "s1:p1", "b": "s2:p1"}],
        }
    )
    lab = netlab(topo)
    a = AfPacketPort(lab.iface("s1", "p1"), netns=lab.netns("s1"))
    b = AfPacketPort(lab.iface("s2", "p1"), netns=lab.netns("s2"))
    a.open()
    b.open()

    def carrier(up: bool) -> None:
        lab.run(
            "s2", ["ip", "link", "set", lab.iface("s2", "p1"), "up" if up else "down"], check=True
        )

    yield Link(a, b, carrier)
    a.close()
    b.close()


@pytest.fixture(params=["memory", pytest.param("afpacket", marks=pytest.mark.root)])
def link(request: pytest.FixtureRequest) -> Iterator[Link]:
    if request.param == "memory":
        yield from _memory()
    else:
        yield from _afpacket(request.getfixturevalue("netlab"))


def frame(n: int, *, vlan: int | None = None, size: int = 60) -> bytes:
    head = bytes.fromhex("02aabbccdd0102aabbccdd02")
    tag = b"" if vlan is None else b"\x81\x00" + vlan.to_bytes(2, "big")
    body = b"\x88\xb5" + n.to_bytes(4, "big")  # local experimental ethertype
    return (head + tag + body).ljust(size, b"\x00")


def receive(port: PortBackend, count: int) -> list[bytes]:
    """Frames from ``port`` until ``count`` arrived or TIMEOUT passed (ignoring foreign traffic)."""
    got: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT
    while len(got) < count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        select.select([port.fileno()], [], [], left)
        got += [f for f in port.recv_batch(64) if f[12:14] in (b"\x88\xb5", b"\x81\x00")]
    return got


def wait_link(port: PortBackend, up: bool) -> bool:
    deadline = time.monotonic() + TIMEOUT
    fd = port.link_fileno()
    assert fd is not None
    while port.link_up != up:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        select.select([fd], [], [], left)
        port.poll_link()
    return True


def test_frames_cross_unchanged_in_order(link: Link) -> None:
    sent = [frame(i, size=60 + i) for i in range(5)]
    assert link.a.send_batch(sent) == 5
    assert receive(link.b, 5) == sent
    assert link.a.counters.tx_packets == 5
    assert link.a.counters.tx_bytes == sum(map(len, sent))
    assert link.b.counters.rx_packets >= 5


def test_vlan_tag_survives_reception(link: Link) -> None:
    tagged = frame(7, vlan=0x2064)  # PCP 1, VID 100
    assert link.a.send(tagged)
    assert receive(link.b, 1) == [tagged]


def test_own_transmissions_are_not_received(link: Link) -> None:
    link.a.send(frame(1))
    assert receive(link.b, 1) == [frame(1)]
    assert [f for f in link.a.recv_batch(64) if f[12:14] == b"\x88\xb5"] == []


def test_recv_batch_respects_max_and_never_blocks(link: Link) -> None:
    link.b.recv_batch(64)  # drain stray frames; returns at once when there are none
    for i in range(6):
        link.a.send(frame(i))
    got = receive(link.b, 6)
    assert len(got) == 6
    assert link.b.recv_batch(0) == []
    link.a.send_batch([frame(i) for i in range(4)])
    select.select([link.b.fileno()], [], [], TIMEOUT)
    deadline = time.monotonic() + TIMEOUT
    first: list[bytes] = []
    while len(first) < 2 and time.monotonic() < deadline:
        first += link.b.recv_batch(2 - len(first))
    assert len(first) == 2


def test_identity_and_features(link: Link) -> None:
    assert 0 < link.a.hw_addr < 1 << 48
    assert link.a.hw_addr != link.b.hw_addr
    assert link.a.link_up
    assert link.b.link_up
    f = link.a.features()
    assert f.curr_speed > 0
    assert f.curr != 0


def test_link_down_and_up_are_reported(link: Link) -> None:
    link.set_carrier(False)
    assert wait_link(link.a, up=False)
    link.set_carrier(True)
    assert wait_link(link.a, up=True)
    link.a.send(frame(9))
    assert receive(link.b, 1) == [frame(9)]


def test_memory_queue_is_bounded_and_counts_drops() -> None:
    a, b = memory_pair("qa", "qb", rx_capacity=3)
    a.open()
    b.open()
    for i in range(5):
        a.send(frame(i))
    assert b.pending() == 3
    assert b.counters.rx_dropped == 2
    a.set_link(False)
    assert not a.send(frame(0))
    assert a.counters.tx_dropped == 1
    a.close()
    b.close()


def test_afpacket_unknown_interface_is_a_clear_error() -> None:
    with pytest.raises(PortError, match="nosuchif0"):
        AfPacketPort("nosuchif0").open()
