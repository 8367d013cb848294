"""A switch port's interface deleted under running quake workers (root, netlab).

Regression for the worker spin: a packet socket whose device is unregistered
reports ``POLLERR`` (``ENETDOWN``) until its error is read, so a worker that
only looked at ``poll()``'s return spun at ~55 % CPU. Now the worker reads the
error, sees the device is gone, drops the port, tells the agent, and goes back
to sleeping in ``poll()``; the agent reports the port down (PORT_STATUS, port
desc state) and the other ports keep forwarding. The workers run at ``sched="fifo"`` (passed through :func:`start_fastpath`,
as the CLI's ``--worker-sched`` does). The switch's trace handler
(``POST /trace`` on the workers' API) is checked on the way. CPU is measured as the
worker's own ``utime + stime`` (``/proc/PID/stat``), never wall clock.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

import pytest
from test_fastpath_pool import Net, frame, net  # the fixture is shared on purpose
from test_fastpath_switch import WAIT, fwd, sink
from test_switch_session import Controller

from openvolcano.caldera.quake.daemon import make_config
from openvolcano.caldera.quake.fastpath.switch import ControlPort, start_fastpath, stop_fastpath
from openvolcano.ofp import consts as c
from openvolcano.ofp.messages import BarrierReply, BarrierRequest, PortStatus

pytestmark = [pytest.mark.root, pytest.mark.anyio]
__all__ = ["net"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # fields 14 and 15 of proc(5)


async def test_deleted_port_is_reported_down_and_the_worker_does_not_spin(net: Net) -> None:
    lab = net.lab
    ports = [f"{lab.iface('sw', f'p{i}')}={i}" for i in (1, 2, 3)]
    cfg = make_config(dpid="0x52", ports=ports, listen=["ptcp:0:127.0.0.1"], tables=1)
    sw = start_fastpath(cfg, 1, netns=lab.netns("sw"), sched="fifo")
    stop = asyncio.Event()
    task = asyncio.create_task(sw.run(stop, cfg.listen))
    try:
        await asyncio.wait_for(sw.ready.wait(), WAIT)
        ctl = await Controller.connect(sw.listen_addresses[0][1])
        ctl.send(fwd(1, 2))
        await ctl.request(BarrierRequest(), BarrierReply)
        (pid,) = sw.pool.status()["pids"]  # type: ignore[misc]
        assert isinstance(pid, int)
        assert os.sched_getscheduler(pid) == os.SCHED_FIFO  # start_fastpath's sched reached it

        # POST /trace's handler (serve_fastpath wires it): the agent's tables, as shipped
        report = sw.trace({"in_port": 1, "frame": frame(1, 1).hex()})
        assert [o["port"] for o in report["outputs"]] == [2]

        argv = ["ip", "-n", lab.netns("sw"), "link", "del", lab.iface("sw", "p3")]
        await asyncio.to_thread(subprocess.run, argv, check=True)
        st = await ctl.expect(PortStatus)
        while st.desc.port_no != 3 or not st.desc.state & c.OFPPS_LINK_DOWN:
            st = await ctl.expect(PortStatus)  # bounded by expect's own timeout
        before = cpu_ticks(pid)
        await asyncio.sleep(1.0)  # a CPU-time window, not a wall-clock assertion
        used = cpu_ticks(pid) - before
        assert used < os.sysconf("SC_CLK_TCK") // 10, f"worker used {used} ticks in 1 s"
        port3 = sw.fdp.ports[3].backend
        assert isinstance(port3, ControlPort)
        deadline = time.monotonic() + WAIT
        while not port3.gone:  # the worker reports the port it dropped
            assert time.monotonic() < deadline, "no worker reported port 3 gone"
            await asyncio.sleep(0.05)
        assert sw.fdp.ports[3].desc().state & c.OFPPS_LINK_DOWN

        sent = [frame(2000 + i, i) for i in range(16)]
        net.gen.send_batch(sent)
        assert sorted(await sink(net, 2, 16)) == sorted(sent)  # the other ports still forward
        ctl.close()
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT)
        stop_fastpath(sw)
