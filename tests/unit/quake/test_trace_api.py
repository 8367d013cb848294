"""``POST /trace`` on quake's status endpoint (loopback only), against a real pipeline."""

from __future__ import annotations

import asyncio
import json

import pytest

from openvolcano.caldera.quake.api import start_api
from openvolcano.caldera.quake.pipeline import Pipeline, StaticPorts
from openvolcano.caldera.quake.trace import parse_flows, trace_request

FLOWS = [{"priority": 7, "match": {"eth_type": "0x800"}, "actions": [{"output": 2}]}]


async def _http(port: int, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} {path} HTTP/1.0\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), payload


async def _scenario() -> list[tuple[int, bytes]]:
    pl = Pipeline(n_tables=2, ports=StaticPorts([1, 2]))
    for fm in parse_flows(FLOWS).flows:
        pl.apply_flow_mod(fm, 0.0)
    srv = await start_api("127.0.0.1", 0, dict, lambda req: trace_request(pl, req, 1.0))
    bare = await start_api("127.0.0.1", 0, dict)
    port = srv.sockets[0].getsockname()[1]
    bare_port = bare.sockets[0].getsockname()[1]
    try:
        good = json.dumps({"in_port": 1, "packet": "ipv4_dst=10.0.0.2,udp_dst=53"}).encode()
        out = [
            await _http(port, "POST", "/trace", good),
            await _http(port, "POST", "/trace", b"{not json"),
            await _http(port, "POST", "/trace", b'{"in_port": 1, "packet": "nope=1"}'),
            await _http(port, "POST", "/trace"),
            await _http(bare_port, "POST", "/trace", good),
        ]
        assert [t.lookup_count for t in pl.table_stats()] == [0, 0]  # tracing changed nothing
        return out
    finally:
        srv.close()
        bare.close()


def test_post_trace() -> None:
    (ok, body), bad_json, bad_field, empty, disabled = asyncio.run(_scenario())
    assert ok == 200
    report = json.loads(body)
    assert [(t["table_id"], t["priority"]) for t in report["tables"]] == [(0, 7)]
    assert [o["port"] for o in report["outputs"]] == [2]
    assert bad_json[0] == 400
    assert bad_json[1].startswith(b"bad JSON")
    assert bad_field[0] == 400
    assert b"unknown field 'nope'" in bad_field[1]
    assert empty[0] == 400
    assert disabled[0] == 404


@pytest.mark.parametrize("request_", [{"packet": "ipv4_dst=1.2.3.4"}, {"in_port": 1}])
def test_trace_request_needs_port_and_packet(request_: dict[str, object]) -> None:
    pl = Pipeline(n_tables=1, ports=StaticPorts([1]))
    with pytest.raises(ValueError, match=r"in_port|packet"):
        trace_request(pl, request_, 0.0)
