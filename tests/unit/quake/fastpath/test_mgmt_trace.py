"""``POST /trace`` on the fast path's management API (:mod:`...fastpath.mgmt`), in process;
and :func:`start_fastpath`'s ``sched`` reaching the pool.

The route itself (:func:`trace_route`) on the agent's recording pipeline, then
the real HTTP server with ``openvolcano quake trace --switch URL`` as client
(the CLI blocks, so it runs in a thread while the server's loop serves).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from openvolcano.caldera.quake.daemon import make_config
from openvolcano.caldera.quake.fastpath.compact import RecordingPipeline
from openvolcano.caldera.quake.fastpath.mgmt import TraceFn, start_mgmt_api, trace_route
from openvolcano.caldera.quake.fastpath.pool import PoolError, WorkerPool
from openvolcano.caldera.quake.fastpath.switch import start_fastpath
from openvolcano.caldera.quake.pipeline import StaticPorts
from openvolcano.caldera.quake.trace import trace_request
from openvolcano.cli.quake import app
from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionOutput
from openvolcano.ofp.instructions import InstructionApplyActions
from openvolcano.ofp.messages import FlowMod
from openvolcano.ofp.oxm import Match, OxmTLV

PACKET = "eth_type=0x800,ipv4_src=10.0.0.1,ipv4_dst=10.0.0.2,ip_proto=17,udp_dst=53"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def agent_trace() -> TraceFn:
    """The agent's pipeline with one rule: in_port 1 -> output 2."""
    pl = RecordingPipeline(2, StaticPorts([1, 2]))
    m = Match(fields=(OxmTLV(field=c.OFPXMT_OFB_IN_PORT, value=1),))
    ins = (InstructionApplyActions(actions=(ActionOutput(port=2, max_len=0),)),)
    pl.apply_flow_mod(FlowMod(command=c.OFPFC_ADD, priority=7, match=m, instructions=ins), 0.0)
    return lambda req: trace_request(pl, req, 1.0)


def test_trace_route_answers_the_agent_tables_and_refuses_bad_requests() -> None:
    trace = agent_trace()
    code, ctype, body = trace_route(
        trace, "POST", json.dumps({"in_port": 1, "packet": PACKET}).encode()
    )
    assert (code, ctype) == (200, "application/json")
    report = json.loads(body)
    assert [o["port"] for o in report["outputs"]] == [2]
    assert report["tables"][0]["priority"] == 7
    code, _, body = trace_route(
        trace, "POST", json.dumps({"in_port": 2, "packet": PACKET}).encode()
    )
    assert json.loads(body)["outputs"] == []  # no rule for port 2: table miss
    assert trace_route(trace, "POST", b"{nope")[0] == 400
    code, _, body = trace_route(trace, "POST", b'{"in_port": 1}')
    assert (code, body) == (400, b"give 'packet' (k=v,...) or 'frame' (hex)\n")
    assert trace_route(trace, "POST", b"[1]")[0] == 400
    assert trace_route(trace, "GET", b"")[0] == 405
    assert trace_route(None, "POST", b"{}")[0] == 404


@pytest.mark.anyio
async def test_quake_trace_cli_works_against_the_workers_api() -> None:
    pool = WorkerPool([], max_workers=1)  # not started: the API only reads it
    server = await start_mgmt_api("127.0.0.1", 0, pool, dict, agent_trace())
    try:
        host, port = server.sockets[0].getsockname()[:2]
        url = f"http://{host}:{port}"
        argv = ["trace", "--switch", url, "--in-port", "1", "--json", PACKET]
        r = await asyncio.to_thread(CliRunner().invoke, app, argv)
        assert r.exit_code == 0, r.output
        assert [o["port"] for o in json.loads(r.output)["outputs"]] == [2]
        argv = ["trace", "--switch", url, "--in-port", "1", "ipv4_dst=nope"]
        r = await asyncio.to_thread(CliRunner().invoke, app, argv)
        assert r.exit_code == 2
        assert "Traceback" not in r.output
        assert "ipv4_dst" in r.output  # the switch's 400 reason, on one line
    finally:
        server.close()
        await server.wait_closed()


def test_start_fastpath_passes_the_scheduling_policy_to_the_pool() -> None:
    cfg = make_config(dpid="0x1", ports=["nonexistent0=1"], listen=[], tables=1)
    with pytest.raises(PoolError, match="unknown scheduling policy 'rr'"):
        start_fastpath(cfg, 1, sched="rr")  # refused by the pool before any worker starts
    assert WorkerPool([], max_workers=1).sched == "other"
    assert WorkerPool([], max_workers=1, sched="fifo").sched == "fifo"
