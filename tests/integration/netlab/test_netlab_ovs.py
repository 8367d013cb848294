"""A private Open vSwitch starts, configures a bridge, and leaves nothing behind."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from openvolcano.netlab.ovs import OvsCommandError, PrivateOvs, unique_name

pytestmark = [pytest.mark.ovs, pytest.mark.root]


def _gone(pids: dict[str, int]) -> bool:
    return not any(psutil.pid_exists(pid) for pid in pids.values())


def test_start_configure_stop_leaves_no_process_dir_or_interface() -> None:
    bridge, port = unique_name("ovtb"), unique_name("ovtp")
    ovs = PrivateOvs()
    with ovs:
        pids = ovs.pids
        assert set(pids) == {"ovsdb-server", "ovs-vswitchd"}
        assert all(psutil.pid_exists(p) for p in pids.values())
        tmp = ovs.dir
        assert tmp is not None
        assert tmp.is_dir()
        ovs.add_bridge(bridge, datapath_id=0xABC)
        ovs.add_port(bridge, port, type="internal", ofport=7)
        # ovs-vsctl's own wait (cur_cfg) can return before ovs-vswitchd wrote the
        # interface's ofport (seen as "[]" under load): wait for the value itself,
        # bounded by vsctl's --timeout (fails with OvsCommandError if it never comes).
        ovs.vsctl("wait-until", "interface", port, "ofport=7")
        assert ovs.vsctl("get", "interface", port, "ofport").strip() == "7"
        assert ovs.vsctl("get", "bridge", bridge, "fail_mode").strip() == "secure"
        assert "dpid:0000000000000abc" in ovs.ofctl("show", bridge)
        ovs.ofctl("add-flow", bridge, "priority=9,in_port=7,actions=drop")
        (flow,) = ovs.dump_flows(bridge)
        assert "priority=9,in_port=7" in flow
        # The bridge's mgmt socket is in our private run dir, not /var/run/openvswitch.
        assert (tmp / f"{bridge}.mgmt").exists()
        assert Path(f"/sys/class/net/{bridge}").exists()
    assert _gone(pids)
    assert not tmp.exists()
    assert ovs.dir is None
    assert not Path(f"/sys/class/net/{bridge}").exists()
    assert not Path(f"/sys/class/net/{port}").exists()
    ovs.stop()  # idempotent


def test_context_manager_cleans_up_when_the_body_fails() -> None:
    seen: dict[str, object] = {}
    bridge = unique_name("ovtb")

    def body() -> None:
        with PrivateOvs() as ovs:
            seen.update(pids=ovs.pids, dir=ovs.dir)
            ovs.add_bridge(bridge)
            ovs.vsctl("add-port", "ovnosuchbr", "ovnosuchp")

    with pytest.raises(OvsCommandError, match="no bridge named"):
        body()
    pids, tmp = seen["pids"], seen["dir"]
    assert isinstance(pids, dict)
    assert _gone(pids)
    assert isinstance(tmp, Path)
    assert not tmp.exists()
    assert not Path(f"/sys/class/net/{bridge}").exists()
