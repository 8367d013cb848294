"""os-ken baseline of the magma bench: push N flow-mods and a barrier to the first switch.

Reads ``BENCH_FLOWS`` (rule count) and ``BENCH_OUT`` (result file); writes
``{"flows": N, "seconds": T}``, T from the first FLOW_MOD to the BARRIER_REPLY.
The rules are the ones magma programs in the same run (see magma_bench.bench_rules).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3


class FlowPush(app_manager.OSKenApp):  # type: ignore[misc]
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.t0 = 0.0
        self.n = int(os.environ["BENCH_FLOWS"])

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)
    def features(self, ev: Any) -> None:
        dp = ev.msg.datapath
        p = dp.ofproto_parser
        self.t0 = time.perf_counter()
        for i in range(self.n):
            ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
            match = p.OFPMatch(eth_type=0x0800, ipv4_dst=ip)
            dp.send_msg(p.OFPFlowMod(dp, table_id=0, priority=100, match=match, instructions=[]))
        dp.send_msg(p.OFPBarrierRequest(dp))

    @set_ev_cls(ofp_event.EventOFPBarrierReply, [CONFIG_DISPATCHER, MAIN_DISPATCHER])
    def barrier(self, ev: Any) -> None:
        seconds = time.perf_counter() - self.t0
        with open(os.environ["BENCH_OUT"], "w") as f:
            json.dump({"flows": self.n, "seconds": seconds}, f)
