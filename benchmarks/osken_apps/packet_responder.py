"""os-ken baseline of the magma bench: learn the source MAC of every packet-in, flood it back.

The same work magma's bench responder does (host learning, then a PACKET_OUT
flooding the frame), so the cbench-style client times equal jobs.
"""

from __future__ import annotations

from typing import Any

from os_ken.base import app_manager
from os_ken.controller import ofp_event
from os_ken.controller.handler import MAIN_DISPATCHER, set_ev_cls
from os_ken.ofproto import ofproto_v1_3


class PacketResponder(app_manager.OSKenApp):  # type: ignore[misc]
    OFP_VERSIONS = [ofproto_v1_3.OFP_VERSION]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hosts: dict[tuple[int, bytes], int] = {}

    @set_ev_cls(ofp_event.EventOFPPacketIn, MAIN_DISPATCHER)
    def packet_in(self, ev: Any) -> None:
        msg = ev.msg
        dp = msg.datapath
        p, o = dp.ofproto_parser, dp.ofproto
        in_port = msg.match["in_port"]
        self.hosts[(dp.id, bytes(msg.data[6:12]))] = in_port
        dp.send_msg(
            p.OFPPacketOut(
                datapath=dp, buffer_id=o.OFP_NO_BUFFER, in_port=in_port,
                actions=[p.OFPActionOutput(o.OFPP_FLOOD)], data=msg.data,
            )
        )  # fmt: skip
