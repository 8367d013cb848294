"""A MAC-learning OpenFlow 1.3 switch application for os-ken (an interop test peer).

Role: the controller of ``test_controller_restart.py`` (``test_osken_simple_switch.py``
runs the upstream ``simple_switch_13`` itself, built by ``make osken-apps``). It
behaves like that classic Ryu/os-ken example, written against os-ken's public
API, and logs what the restart test counts (connections, installed flows):

* on SWITCH_FEATURES it installs the table-miss flow (priority 0, empty match,
  output to CONTROLLER with no buffering) and logs ``switch connected dpid=...``;
* on PACKET_IN it learns ``eth_src -> in_port``; a known ``eth_dst`` gets a
  permanent priority-1 flow ``in_port, eth_src, eth_dst -> output`` (no idle or
  hard timeout, so forwarding survives a controller outage in fail-secure mode);
  an unknown one is flooded; the packet itself is sent back with PACKET_OUT.

Invariants: flows are only ever added (never deleted), so after a controller
restart the switch keeps what the previous instance installed; the MAC table
lives in this process and starts empty after a restart (re-learned from
PACKET_INs). Every flow it installs is logged (``flow dpid=... in_port=...``),
so a test failure shows what the controller did.
"""

from __future__ import annotations

from typing import Any

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import CONFIG_DISPATCHER, MAIN_DISPATCHER, set_ev_cls
from os_ken.lib.packet import ether_types, ethernet, packet
from os_ken.ofproto import ofproto_v1_3


class LearningSwitch13(app_manager.OSKenApp):  # type: ignore[misc]
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mac_tables: dict[int, dict[str, int]] = {}

    @set_ev_cls(ofp_event.EventOFPSwitchFeatures, CONFIG_DISPATCHER)  # type: ignore[untyped-decorator]
    def on_switch_features(self, ev: Any) -> None:
        dp = ev.msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        self.mac_tables[dp.id] = {}
        to_controller = parser.OFPActionOutput(ofp.OFPP_CONTROLLER, ofp.OFPCML_NO_BUFFER)
        self._add_flow(dp, 0, parser.OFPMatch(), [to_controller])
        self.logger.info("switch connected dpid=%016x", dp.id)

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)  # type: ignore[untyped-decorator]
    def on_packet_in(self, ev: Any) -> None:
        msg = ev.msg
        dp = msg.datapath
        ofp, parser = dp.ofproto, dp.ofproto_parser
        in_port = msg.match["in_port"]
        eth = packet.Packet(msg.data).get_protocol(ethernet.ethernet)
        if eth is None or eth.ethertype == ether_types.ETH_TYPE_LLDP:
            return
        table = self.mac_tables.setdefault(dp.id, {})
        table[eth.src] = in_port
        out_port = table.get(eth.dst, ofp.OFPP_FLOOD)
        actions = [parser.OFPActionOutput(out_port)]
        if out_port != ofp.OFPP_FLOOD:
            match = parser.OFPMatch(in_port=in_port, eth_src=eth.src, eth_dst=eth.dst)
            self._add_flow(dp, 1, match, actions)
            self.logger.info(
                "flow dpid=%016x in_port=%d %s->%s output=%d",
                dp.id,
                in_port,
                eth.src,
                eth.dst,
                out_port,
            )
        data = msg.data if msg.buffer_id == ofp.OFP_NO_BUFFER else None
        dp.send_msg(
            parser.OFPPacketOut(
                datapath=dp, buffer_id=msg.buffer_id, in_port=in_port, actions=actions, data=data
            )
        )

    @staticmethod
    def _add_flow(dp: Any, priority: int, match: Any, actions: list[Any]) -> None:
        ofp, parser = dp.ofproto, dp.ofproto_parser
        instructions = [parser.OFPInstructionActions(ofp.OFPIT_APPLY_ACTIONS, actions)]
        dp.send_msg(
            parser.OFPFlowMod(
                datapath=dp, priority=priority, match=match, instructions=instructions
            )
        )
