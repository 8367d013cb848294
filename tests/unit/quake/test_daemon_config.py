"""quake's command-line parsing and status rendering: port numbering, targets, metrics."""

from __future__ import annotations

import pytest

from openvolcano.caldera.quake.agent_net import ControllerTarget, parse_target
from openvolcano.caldera.quake.api import parse_api_address, render_metrics
from openvolcano.caldera.quake.daemon import make_config, parse_port_specs
from openvolcano.common.errors import InvalidInput


def test_ports_are_numbered_in_order_skipping_explicit_numbers() -> None:
    assert parse_port_specs(["a", "b=1", "c", "d=7"]) == (("a", 2), ("b", 1), ("c", 3), ("d", 7))


@pytest.mark.parametrize("specs", [["a", "a"], ["a=1", "b=1"], ["a=0"], ["=3"], ["a=x"]])
def test_bad_port_specs_are_refused(specs: list[str]) -> None:
    with pytest.raises(InvalidInput):
        parse_port_specs(specs)


def test_targets() -> None:
    assert parse_target("tcp:10.0.0.1:6653") == ControllerTarget(False, "10.0.0.1", 6653)
    assert parse_target("tcp:[::1]:6653") == ControllerTarget(False, "::1", 6653)
    assert parse_target("ptcp:6653") == ControllerTarget(True, "0.0.0.0", 6653)
    assert parse_target("ptcp:6653:127.0.0.1") == ControllerTarget(True, "127.0.0.1", 6653)
    assert str(parse_target("tcp:[::1]:6653")) == "tcp:[::1]:6653"
    for bad in ("udp:1.2.3.4:5", "tcp:6653", "ptcp:x", "tcp:h:70000"):
        with pytest.raises(InvalidInput, match="controller target"):
            parse_target(bad)


def test_make_config_accepts_hex_dpid_and_rejects_mixups() -> None:
    cfg = make_config(dpid="0x2a", ports=["eth0"], controllers=["tcp:127.0.0.1:6653"],
                      listen=["ptcp:6634"], api="127.0.0.1:9000")  # fmt: skip
    assert (cfg.dpid, cfg.ports, cfg.api) == (42, (("eth0", 1),), ("127.0.0.1", 9000))
    with pytest.raises(InvalidInput, match="--listen"):
        make_config(dpid="1", ports=[], controllers=["ptcp:6653"])
    with pytest.raises(InvalidInput, match="fail-mode"):
        make_config(dpid="1", ports=[], fail_mode="open")
    with pytest.raises(InvalidInput):
        make_config(dpid="0xzz", ports=[])
    with pytest.raises(InvalidInput, match="--api"):
        parse_api_address("9000")


def test_metrics_text() -> None:
    status = {
        "ports": [{"port_no": 1, "name": 'e"0', "link_up": True,
                   "counters": dict.fromkeys(("rx_packets", "rx_bytes", "rx_dropped", "rx_errors",
                                              "tx_packets", "tx_bytes", "tx_dropped", "tx_errors"), 3)}],
        "tables": [{"table_id": 0, "active_count": 2, "lookup_count": 5}],
        "channels": [{}],
        "counters": {"packet_ins": 4},
    }  # fmt: skip
    text = render_metrics(status)
    assert 'quake_port_rx_packets_total{port="1",name="e\\"0"} 3' in text
    assert 'quake_table_active_entries{table="0"} 2' in text
    assert "quake_controllers_connected 1" in text
    assert "quake_packet_ins 4" in text
    assert "# TYPE quake_port_tx_bytes_total counter" in text
