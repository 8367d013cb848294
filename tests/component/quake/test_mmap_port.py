"""MmapPort (PACKET_MMAP rings) and TapPort on real interfaces, plus a harness smoke run.

The shared port contract (``test_port_contract.py``) is re-run here against
MmapPort (both TX modes) by importing its test functions: pytest collects
them again in this module, where the ``link`` fixture below provides MmapPort
ends of a veth pair between two netlab namespaces. Then the mmap-specific
behaviour: big batches spanning ring blocks, fanout sharing a port between
two sockets, and the TX ring wrapping around; TapPort against a socket on
its interface; and a ``--quick`` run of benchmarks/quake_bench.py against the
Linux bridge (sanity of the numbers only - benchmarks never assert speed).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_port_contract import (  # re-collected here against MmapPort
    Link,
    frame,
    receive,
    test_frames_cross_unchanged_in_order,
    test_identity_and_features,
    test_link_down_and_up_are_reported,
    test_own_transmissions_are_not_received,
    test_recv_batch_respects_max_and_never_blocks,
    test_vlan_tag_survives_reception,
)

from openvolcano.caldera.quake.ports import PortError
from openvolcano.caldera.quake.ports.afpacket import run_in_netns
from openvolcano.caldera.quake.ports.mmap import MmapPort, RingGeometry
from openvolcano.caldera.quake.ports.tap import TapPort
from openvolcano.netlab.build import Lab
from openvolcano.netlab.topo import Topology

pytestmark = [pytest.mark.root]

__all__ = [  # the imported contract tests are part of this module on purpose
    "test_frames_cross_unchanged_in_order",
    "test_identity_and_features",
    "test_link_down_and_up_are_reported",
    "test_own_transmissions_are_not_received",
    "test_recv_batch_respects_max_and_never_blocks",
    "test_vlan_tag_survives_reception",
]

REPO = Path(__file__).resolve().parents[3]
TIMEOUT = 5.0
SMALL = RingGeometry(block_size=1 << 14, block_nr=4, tx_frame_nr=128)


def _pair_lab(netlab: Callable[..., Lab]) -> Lab:
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
    return netlab(topo, prefix="ovm")


@pytest.fixture(params=["ring", "send"])
def link(request: pytest.FixtureRequest, netlab: Callable[..., Lab]) -> Iterator[Link]:
    lab = _pair_lab(netlab)
    a = MmapPort(lab.iface("s1", "p1"), netns=lab.netns("s1"), tx_mode=request.param)
    b = MmapPort(lab.iface("s2", "p1"), netns=lab.netns("s2"), geometry=SMALL)
    a.open()
    b.open()

    def carrier(up: bool) -> None:
        lab.run(
            "s2", ["ip", "link", "set", lab.iface("s2", "p1"), "up" if up else "down"], check=True
        )

    yield Link(a, b, carrier)
    a.close()
    b.close()


def test_batches_span_blocks_and_blocks_return_to_the_kernel(link: Link) -> None:
    # 16 KiB blocks hold ~100 small frames: 3 rounds of 300 cycle the 4-block ring several times
    for rnd in range(3):
        sent = [frame(rnd * 1000 + i, size=60 + i % 200) for i in range(300)]
        got: list[bytes] = []
        for i in range(0, 300, 50):  # paced so that the small ring never overflows
            assert link.a.send_batch(sent[i : i + 50]) == 50
            got += receive(link.b, 50)
        assert got == sent
    assert link.b.counters.rx_dropped == 0


def test_frame_larger_than_a_ring_slot_is_sent_or_counted_never_raised(link: Link) -> None:
    big = frame(
        1, size=3000
    )  # > a 2048-byte TX slot: takes send(); above a 1500 MTU the kernel refuses
    before = link.a.counters.tx_packets + link.a.counters.tx_dropped
    link.a.send_batch([frame(2), big, frame(3)])
    assert link.a.counters.tx_packets + link.a.counters.tx_dropped == before + 3
    got = receive(link.b, 3 if link.a.counters.tx_dropped == 0 else 2)
    assert got[0] == frame(2)  # order kept around the direct send
    assert got[-1] == frame(3)


def test_fanout_shares_a_port_between_two_sockets(netlab: Callable[..., Lab]) -> None:
    lab = _pair_lab(netlab)
    ns_b, if_b = lab.netns("s2"), lab.iface("s2", "p1")
    tx = MmapPort(lab.iface("s1", "p1"), netns=lab.netns("s1"))
    w1 = MmapPort(if_b, netns=ns_b, fanout_group=77, geometry=SMALL)
    w2 = MmapPort(if_b, netns=ns_b, fanout_group=77, geometry=SMALL)
    for p in (tx, w1, w2):
        p.open()
    try:
        # 64 flows: IPv4/UDP frames differing in the source port, so the flow hash spreads them
        sent = [_udp_frame(sport) for sport in range(1000, 1064) for _ in range(3)]
        tx.send_batch(sent)
        got1: list[bytes] = []
        got2: list[bytes] = []
        deadline = time.monotonic() + TIMEOUT
        while len(got1) + len(got2) < len(sent) and time.monotonic() < deadline:
            select.select([w1.fileno(), w2.fileno()], [], [], 0.2)
            got1 += [f for f in w1.recv_batch(256) if f[12:14] == b"\x08\x00"]
            got2 += [f for f in w2.recv_batch(256) if f[12:14] == b"\x08\x00"]
        assert sorted(got1 + got2) == sorted(sent)
        assert got1
        assert got2
        assert not {f[34:36] for f in got1} & {f[34:36] for f in got2}  # a flow stays on one
    finally:
        for p in (tx, w1, w2):
            p.close()


def _udp_frame(sport: int) -> bytes:
    eth = bytes.fromhex("02aabbccdd0202aabbccdd010800")
    ip = bytes.fromhex("4500002e00004000401100000a0000010a000002")
    udp = sport.to_bytes(2, "big") + bytes.fromhex("1389001a0000")
    return eth + ip + udp + bytes(18)


def test_tx_ring_wraps_around(netlab: Callable[..., Lab]) -> None:
    lab = _pair_lab(netlab)
    a = MmapPort(lab.iface("s1", "p1"), netns=lab.netns("s1"), geometry=SMALL)  # 128 TX slots
    b = MmapPort(lab.iface("s2", "p1"), netns=lab.netns("s2"))
    a.open()
    b.open()
    try:
        sent = [frame(i) for i in range(400)]
        got: list[bytes] = []
        for i in range(0, 400, 40):
            assert a.send_batch(sent[i : i + 40]) == 40
            got += receive(b, 40)
        assert got == sent
        assert a.counters.tx_packets == 400
        assert a.counters.tx_dropped == 0
    finally:
        a.close()
        b.close()


def test_unknown_interface_and_namespace_are_clear_errors() -> None:
    with pytest.raises(PortError, match="nosuchif0"):
        MmapPort("nosuchif0").open()
    with pytest.raises(PortError, match="nosuchns"):
        MmapPort("lo", netns="nosuchns").open()


def test_tap_port_exchanges_frames_with_its_interface(netlab: Callable[..., Lab]) -> None:
    lab = _pair_lab(netlab)  # only for a private namespace to create the TAP in
    ns = lab.netns("s1")
    name = "ovtap" + lab.suffix[:6]

    def make() -> tuple[TapPort, MmapPort]:
        tap = TapPort(name)
        tap.open()
        return tap, MmapPort(name, netns=ns)

    tap, peer = run_in_netns(ns, make)  # the TAP is created in (and vanishes with) ns
    peer.open()
    try:
        assert tap.link_up
        assert 0 < tap.hw_addr < 1 << 48
        sent = [frame(i) for i in range(20)]
        assert tap.send_batch(sent) == 20  # guest -> host: the interface receives them
        assert receive(peer, 20) == sent
        assert peer.send_batch(sent) == 20  # host -> guest: the TAP fd reads them
        assert receive(tap, 20) == sent
        assert tap.counters.rx_packets >= 20
        assert tap.counters.tx_packets == 20
    finally:
        peer.close()
        tap.close()


@pytest.mark.slow
@pytest.mark.usefixtures("requires_root")
def test_benchmark_quick_run_against_the_bridge(tmp_path: Path) -> None:
    if subprocess.run(["which", "trafgen"], capture_output=True, check=False).returncode != 0:
        pytest.skip("trafgen (netsniff-ng) is not installed")
    p = subprocess.run(
        [sys.executable, "-m", "benchmarks.quake_bench", "--quick", "--duts", "bridge",
         "--out", str(tmp_path), "--no-plots"],
        cwd=REPO, capture_output=True, text=True, timeout=100, check=False,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    recs = [json.loads(line) for line in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert [r["dut"] for r in recs] == ["bridge"]
    r = recs[0]
    assert r["offered_pps"] > 0
    assert r["fwd_pps"] > 0
    assert r["fwd_pps"] <= r["offered_pps"] * 1.01  # counter windows may skew by a few frames
    assert "| bridge | 64 | 1 |" in (tmp_path / "results.md").read_text()


def test_vnet_port_gets_plain_frames_and_segments_a_udp_gso_send(
    netlab: Callable[..., Lab],
) -> None:
    """A ``vnet`` port (the workers' rings) on a veth: plain frames arrive as they were
    sent, and a UDP GSO send from the peer's stack (one 4 x 1000-byte super-frame on the
    veth, checksum pending) arrives as four finished datagrams."""
    import socket

    lab = _pair_lab(netlab)
    ns1, if1, if2 = lab.netns("s1"), lab.iface("s1", "p1"), lab.iface("s2", "p1")
    a = MmapPort(if1, netns=ns1)
    b = MmapPort(if2, netns=lab.netns("s2"), vnet=True)  # default geometry: 128 KiB blocks
    a.open()
    b.open()
    try:
        sent = [frame(i, size=60 + i) for i in range(20)]
        assert a.send_batch(sent) == 20
        assert receive(b, 20) == sent

        mac = b.hw_addr.to_bytes(6, "big").hex(":")
        lab.run("s1", ["ip", "addr", "add", "10.77.0.1/24", "dev", if1], check=True)
        lab.run("s1", ["ip", "neigh", "replace", "10.77.0.2", "lladdr", mac, "dev", if1],
                check=True)  # fmt: skip
        payload = bytes(range(250)) * 16  # 4,000 bytes

        def send_gso() -> None:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.setsockopt(socket.IPPROTO_UDP, 103, 1000)  # UDP_SEGMENT: 1,000-byte datagrams
                s.sendto(payload, ("10.77.0.2", 5009))

        run_in_netns(ns1, send_gso)
        got: list[bytes] = []
        deadline = time.monotonic() + TIMEOUT
        while len(got) < 4 and time.monotonic() < deadline:
            select.select([b.fileno()], [], [], 0.2)
            got += [f for f in b.recv_batch(64) if f[12:14] == b"\x08\x00" and f[23] == 17]
        assert [len(f) for f in got] == [14 + 20 + 8 + 1000] * 4
        assert b"".join(f[42:] for f in got) == payload
        for f in got:  # each one a whole datagram: IPv4 total length and UDP length fixed
            assert int.from_bytes(f[16:18], "big") == 1028
            assert int.from_bytes(f[38:40], "big") == 1008
        assert b.counters.rx_errors == 0
    finally:
        a.close()
        b.close()
