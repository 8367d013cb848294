"""magma drives quake and, separately, Open vSwitch (userspace datapath): 3 switches in a line.

h1 -- s1 -- s2 -- s3 -- h3, plus hm on s1 port 3 that later moves to s3 port 3
(see :mod:`magma_lab`). The same scenario runs against both switches:
desired state installs and traffic flows; LLDP finds exactly the four
directed links; moving hm raises host-moved; a stale rule injected and a
switch wiped while magma is down are repaired when magma comes back; a
switch killed (SIGKILL) and restarted comes back empty and is
resynchronised with nothing stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from magma_lab import (
    DPIDS,
    HOSTS,
    LINKS,
    PN,
    OvsSwitches,
    Plumbing,
    QuakeSwitches,
    Switches,
    cookies,
    free_port,
    require_root_and_ovs,
    until,
    wait_for,
)

from openvolcano.api import magma as api
from openvolcano.stratov.magma.controller import Magma, MagmaConfig

pytestmark = [pytest.mark.root, pytest.mark.ovs, pytest.mark.slow]


@pytest.fixture(params=["ovs", "quake"])
def lab(request: pytest.FixtureRequest) -> Iterator[tuple[Plumbing, Switches]]:
    require_root_and_ovs("namespaces, veth")  # ovs-ofctl inspects quake too
    if request.param == "quake" and shutil.which("ip") is None:
        pytest.skip("iproute2 missing")
    net = Plumbing()
    sw: Switches | None = None
    try:
        net.build()
        sw = OvsSwitches(net) if request.param == "ovs" else QuakeSwitches(net)
        yield net, sw
    finally:
        if sw is not None:
            sw.stop()
        net.teardown()


async def until_io(pred: Callable[[], bool], timeout: float = 20) -> None:  # noqa: ASYNC109
    """Like ``until`` for predicates that run commands: evaluated off the event loop."""
    async with asyncio.timeout(timeout):
        while not await asyncio.to_thread(pred):  # noqa: ASYNC110 - polls switches, bounded
            await asyncio.sleep(0.1)


def test_line_topology_programming_resync_lldp_and_host_move(
    lab: tuple[Plumbing, Switches],
) -> None:
    net, sw = lab
    port = free_port()
    sw.start(f"tcp:127.0.0.1:{port}")

    async def run_magma(body: Callable[[Magma], Any]) -> None:
        magma = Magma(
            MagmaConfig(
                host="127.0.0.1", port=port, lldp_interval=0.5, echo_interval=1, dead_after=5
            )
        )
        task = asyncio.create_task(magma.serve())
        try:
            await body(magma)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def first(magma: Magma) -> None:
        sub = magma.bus.subscribe()
        await until(lambda: len(magma.sessions) == 3)
        await magma.put_owner("pn-a", PN)
        assert all((await magma.sync()).values())
        assert await asyncio.to_thread(net.ping, "h1", HOSTS["h3"])

        def links() -> set[tuple[int, int, int, int]]:
            return {
                (int(li.src_dpid, 16), li.src_port, int(li.dst_dpid, 16), li.dst_port)
                for li in magma.topology.links()
            }

        await until(lambda: links() == LINKS)  # exactly the links that exist
        await asyncio.to_thread(net.ping, "hm", "10.0.0.99")
        seen = await wait_for(sub, lambda e: isinstance(e, api.HostSeen) and e.host.port_no == 3)
        assert isinstance(seen, api.HostSeen)
        assert seen.host.dpid == api.format_dpid(DPIDS["s1"])
        await asyncio.to_thread(net.move_hm)
        moved = None
        for _ in range(10):
            await asyncio.to_thread(net.ping, "hm", "10.0.0.99", "eth1")
            with contextlib.suppress(TimeoutError):
                moved = await wait_for(sub, lambda e: isinstance(e, api.HostMoved), timeout=2)
                break
        assert isinstance(moved, api.HostMoved)
        assert (moved.old_dpid, moved.old_port) == (api.format_dpid(DPIDS["s1"]), 3)
        assert (moved.host.dpid, moved.host.port_no) == (api.format_dpid(DPIDS["s3"]), 3)
        assert moved.host.mac == seen.host.mac
        assert links() == LINKS  # the move added no link

    asyncio.run(run_magma(first))
    # magma is down: inject a stale rule on s2 and wipe s3 (a switch that lost its tables)
    sw.ofctl("s2", "add-flow", "cookie=0xbad,priority=500,in_port=1,actions=drop")
    sw.ofctl("s3", "del-flows")
    assert not cookies(sw, "s3")

    async def second(magma: Magma) -> None:
        await until(lambda: len(magma.sessions) == 3 and magma.sync_runs > 0)
        await magma.put_owner("pn-a", PN)  # this magma has no state db: PUT again
        assert 0xBAD not in await asyncio.to_thread(cookies, sw, "s2")
        assert len(await asyncio.to_thread(cookies, sw, "s3")) == 4  # 2 system + 2 pn-a
        assert await asyncio.to_thread(net.ping, "h1", HOSTS["h3"])
        # kill (SIGKILL) and restart the switch (a stale rule on it before): it comes
        # back with empty tables and magma gives it exactly the desired ones again
        want = sorted(await asyncio.to_thread(cookies, sw, "s1"))
        await asyncio.to_thread(sw.ofctl, "s1", "add-flow", "cookie=0xbee,priority=7,actions=drop")
        before = magma.sessions[DPIDS["s1"]]
        await asyncio.to_thread(sw.restart, "s1")
        await until(lambda: magma.sessions.get(DPIDS["s1"], before) is not before)
        last: dict[str, list[int]] = {}

        def resynced() -> bool:
            last.update({n: sorted(cookies(sw, n)) for n in DPIDS})
            return all(c == want for c in last.values())

        with contextlib.suppress(TimeoutError):
            await until_io(resynced)
        assert all(c == want for c in last.values()), (want, last)
        assert await asyncio.to_thread(net.ping, "h1", HOSTS["h3"])
        assert not magma.errors, list(magma.errors)

    asyncio.run(run_magma(second))
