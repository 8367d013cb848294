"""quake trace: packet descriptions, the JSON flows format, the report, and the CLI."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "conformance"))
import quake_frames as fr

from openvolcano.caldera.quake.trace import (
    build_packet,
    parse_flows,
    parse_port,
    render_trace,
    trace_flows,
    trace_report,
)
from openvolcano.cli.quake import app
from openvolcano.common.errors import InvalidInput
from openvolcano.ofp import consts as c

FLOWS = {
    "meters": [{"meter_id": 1, "flags": ["pktps"], "bands": [{"type": "drop", "rate": 1000}]}],
    "groups": [
        {
            "group_id": 1,
            "type": "all",
            "buckets": [{"actions": [{"output": 3}]}, {"actions": [{"output": 4}]}],
        }
    ],
    "flows": [
        {
            "table": 0,
            "priority": 10,
            "cookie": "0x5",
            "match": {"eth_type": "0x800", "ipv4_dst": "10.0.0.0/8"},
            "instructions": [
                {"meter": 1},
                {"apply": [{"set_field": {"ipv4_src": "192.0.2.9"}}]},
                {"metadata": "0x7/0xff"},
                {"goto": 1},
            ],
        },
        {
            "table": 1,
            "priority": 5,
            "match": {"metadata": "0x7", "eth_type": "0x800", "ip_proto": 6, "tcp_dst": 80},
            "actions": [{"output": 2}, {"group": 1}],
        },
        {"table": 1, "priority": 0, "actions": [{"output": "CONTROLLER"}]},
    ],
}


def test_packet_descriptions_build_the_reference_frames() -> None:
    tcp = build_packet("ipv4_src=10.0.0.1,ipv4_dst=10.0.0.2,tcp_src=1234,tcp_dst=80,payload_len=0")
    assert fr.verify_ipv4(tcp) == {"ip": True, "l4": True}
    assert tcp[12:14] == b"\x08\x00"
    assert tcp[23] == 6
    assert tcp[36:38] == b"\x00\x50"
    udp6 = build_packet("ipv6_src=2001:db8::1,ipv6_dst=2001:db8::2,udp_dst=53")
    assert udp6[12:14] == b"\x86\xdd"
    assert udp6[20] == 17
    assert fr.verify_ipv6_l4(udp6)
    icmp = build_packet("ipv4_dst=10.0.0.2,icmpv4_type=8")
    assert fr.verify_ipv4(icmp) == {"ip": True, "l4": True}
    tagged = build_packet("vlan_vid=10,vlan_pcp=3,ipv4_dst=10.0.0.2")
    assert tagged[12:16] == bytes.fromhex("8100600a")
    assert tagged[16:18] == b"\x08\x00"


def test_arp_description_matches_the_frame_builder() -> None:
    frame = build_packet(
        "eth_dst=ff:ff:ff:ff:ff:ff,arp_op=2,arp_sha=02:00:00:00:00:01,arp_spa=10.0.0.1,"
        "arp_tha=00:00:00:00:00:00,arp_tpa=10.0.0.2"
    )
    assert frame == fr.arp_frame(op=2)


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("bogus=1", "unknown field 'bogus'"),
        ("ipv4_dst", "not key=value"),
        ("ipv4_dst=300.0.0.1", "bad ipv4_dst"),
        ("tcp_dst=1,tcp_dst=2", "given twice"),
        ("payload_len=5000", "payload_len"),
    ],
)
def test_bad_packet_descriptions_say_what_is_wrong(text: str, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        build_packet(text)


@pytest.mark.parametrize(
    ("doc", "needle"),
    [
        ({"flows": [{"prio": 1}]}, "unknown keys"),
        ([{"match": {"nope": 1}}], "unknown OXM field"),
        ([{"actions": [{"teleport": 1}]}], "unknown action"),
        ([{"instructions": [{"apply": []}, {"fly": 1}]}], "unknown instruction"),
        ({"groups": [{"group_id": 1, "type": "round-robin"}]}, "group type"),
        ({"meters": [{"meter_id": 1, "flags": ["fast"]}]}, "meter flag"),
        ([{"actions": [], "instructions": []}], "not both"),
        ("x", "expected an object"),
    ],
)
def test_bad_flows_files_say_what_is_wrong(doc: object, needle: str) -> None:
    with pytest.raises(InvalidInput, match=needle):
        parse_flows(doc)


def test_trace_walks_tables_groups_and_rewrites() -> None:
    fs = parse_flows(FLOWS)
    assert fs.ports() == {2, 3, 4}
    frame = build_packet("ipv4_src=10.0.0.1,ipv4_dst=10.0.0.2,tcp_dst=80")
    res = trace_flows(fs, 1, frame)
    rep = trace_report(1, frame, res)
    assert [(t["table_id"], t["priority"], t["cookie"]) for t in rep["tables"]] == [
        (0, 10, 5),
        (1, 5, 0),
    ]
    assert [o["port"] for o in rep["outputs"]] == [2, 3, 4]
    out = bytes.fromhex(rep["outputs"][0]["data"])
    assert out[26:30] == bytes([192, 0, 2, 9])  # the set-field applied
    assert fr.verify_ipv4(out) == {"ip": True, "l4": True}
    text = render_trace(rep)
    assert "table 0: priority=10 cookie=0x5" in text
    assert "set_field:ipv4_src=192.0.2.9" in text
    assert "output ports: 2 (" in text


def test_trace_of_a_miss_reports_the_packet_in() -> None:
    frame = build_packet("ipv4_dst=10.0.0.2,udp_dst=53")
    rep = trace_report(1, frame, trace_flows(parse_flows(FLOWS), 1, frame))
    assert rep["outputs"] == []
    assert rep["packet_ins"] == [{"reason": "NO_MATCH", "table_id": 1}]
    other = build_packet("ipv6_dst=2001:db8::2")
    rep = trace_report(1, other, trace_flows(parse_flows(FLOWS), 1, other))
    assert rep["tables"] == [
        {"table_id": 0, "matched": False, "priority": None, "cookie": None, "match": "",
         "actions": []}
    ]  # fmt: skip
    assert "table 0: no match -> drop" in render_trace(rep)


def test_refused_flow_is_named() -> None:
    with pytest.raises(InvalidInput, match="flow 0 refused"):
        trace_flows(parse_flows([{"table": 0, "instructions": [{"goto": 0}]}]), 1, b"")


def test_parse_port() -> None:
    assert parse_port("LOCAL") == c.OFPP_LOCAL
    assert parse_port("7") == 7
    with pytest.raises(InvalidInput):
        parse_port("0")


def test_cli_trace_with_a_flows_file(tmp_path: Path) -> None:
    f = tmp_path / "flows.json"
    f.write_text(json.dumps(FLOWS))
    runner = CliRunner()
    r = runner.invoke(
        app, ["trace", "--flows", str(f), "--in-port", "1", "ipv4_dst=10.1.2.3,tcp_dst=80"]
    )
    assert r.exit_code == 0, r.output
    assert "table 1: priority=5" in r.output
    assert "output ports: 2 (" in r.output
    r = runner.invoke(
        app, ["trace", "--flows", str(f), "--in-port", "1", "--json", "ipv4_dst=10.1.2.3"]
    )
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["packet_ins"] == [{"reason": "NO_MATCH", "table_id": 1}]


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--in-port", "1", "ipv4_dst=10.0.0.1"], "exactly one of --flows"),
        (["--flows", "/nonexistent/f.json", "--in-port", "1", "ipv4_dst=1.2.3.4"], "cannot read"),
        (["--switch", "ftp://x", "--in-port", "1", "ipv4_dst=1.2.3.4"], "bad --switch"),
    ],
)
def test_cli_trace_errors_are_one_line(argv: list[str], needle: str) -> None:
    r = CliRunner().invoke(app, ["trace", *argv])
    assert r.exit_code == 2
    assert needle in r.output
    assert "Traceback" not in r.output
