"""magma's view of the network: LLDP link discovery, host learning, host-moved detection.

Role: the paper's magma "reports what happens in the network"; StratoV learns
that a user moved (follow-me, paper section III) when a known MAC address
appears on another switch or port. This module is pure: it builds and parses
LLDP frames and keeps the switches, links and hosts, with ``now`` passed in;
the controller sends the probes (PACKET_OUT on every port) and feeds it the
PACKET_INs, port-status and switch up/down it sees, and publishes the events
returned.

Design: a link is *directed* - LLDP sent from ``(a, pa)`` arrived at
``(b, pb)`` - and lives ``link_ttl`` seconds after it was last seen; it is
dropped at once when either port goes down or either switch disconnects. A
host is learned from the source MAC of a non-LLDP PACKET_IN on a port that is
not an inter-switch link port; multicast sources are ignored. LLDP frames
carry the chassis id ``dpid:<16 hex>`` and the port id as decimal text
(locally assigned subtypes, IEEE 802.1AB).

Invariant: a (dpid, port) is never both a host attachment and a link end
once the link is known: learning the link forgets hosts learned there.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import networkx as nx

from openvolcano.api import magma as api

__all__ = ["LLDP_ETHERTYPE", "LLDP_MAC", "Topology", "lldp_frame", "parse_lldp"]

LLDP_ETHERTYPE = 0x88CC
LLDP_MAC = bytes.fromhex("0180c200000e")
_CHASSIS_PREFIX = b"dpid:"


def _tlv(type_: int, value: bytes) -> bytes:
    return struct.pack("!H", (type_ << 9) | len(value)) + value


def lldp_frame(dpid: int, port_no: int, src_mac: int, ttl: int = 120) -> bytes:
    """An LLDP frame announcing switch ``dpid``, port ``port_no``."""
    body = (
        _tlv(1, b"\x07" + _CHASSIS_PREFIX + f"{dpid:016x}".encode())
        + _tlv(2, b"\x07" + str(port_no).encode())
        + _tlv(3, struct.pack("!H", ttl))
        + _tlv(0, b"")
    )
    return LLDP_MAC + src_mac.to_bytes(6, "big") + struct.pack("!H", LLDP_ETHERTYPE) + body


def parse_lldp(frame: bytes) -> tuple[int, int] | None:
    """``(dpid, port_no)`` of one of our LLDP frames; None for anything else."""
    if len(frame) < 14 or frame[12:14] != b"\x88\xcc":
        return None
    off, dpid, port = 14, None, None
    while off + 2 <= len(frame):
        (hdr,) = struct.unpack_from("!H", frame, off)
        type_, length = hdr >> 9, hdr & 0x1FF
        value = frame[off + 2 : off + 2 + length]
        off += 2 + length
        if type_ == 0 or len(value) != length:
            break
        try:
            if type_ == 1 and value[:1] == b"\x07" and value[1:].startswith(_CHASSIS_PREFIX):
                dpid = int(value[1 + len(_CHASSIS_PREFIX) :], 16)
            elif type_ == 2 and value[:1] == b"\x07":
                port = int(value[1:])
        except ValueError:
            return None
    if dpid is None or port is None:
        return None
    return dpid, port


def _mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


@dataclass
class _Host:
    dpid: int
    port_no: int
    first_seen: float
    last_seen: float


class Topology:
    """Switches, directed links and hosts. Writer: the controller task; readers: REST."""

    def __init__(self, link_ttl: float = 10.0) -> None:
        self.link_ttl = link_ttl
        self.switches: set[int] = set()
        self._links: dict[tuple[int, int], tuple[int, int, float]] = {}
        self._hosts: dict[str, _Host] = {}

    # -- links -----------------------------------------------------------------------

    def _link_info(self, src: tuple[int, int], dst: tuple[int, int]) -> api.LinkInfo:
        return api.LinkInfo(
            src_dpid=api.format_dpid(src[0]),
            src_port=src[1],
            dst_dpid=api.format_dpid(dst[0]),
            dst_port=dst[1],
        )

    def _is_link_port(self, dpid: int, port: int) -> bool:
        if (dpid, port) in self._links:
            return True
        return any((d, p) == (dpid, port) for d, p, _ in self._links.values())

    def lldp_received(self, dpid: int, in_port: int, frame: bytes, now: float) -> list[api.LinkUp]:
        """Account one LLDP PACKET_IN; a LinkUp the first time a link is seen."""
        parsed = parse_lldp(frame)
        if parsed is None or parsed[0] not in self.switches:
            return []
        src, dst = parsed, (dpid, in_port)
        known = self._links.get(src)
        self._links[src] = (dst[0], dst[1], now)
        for mac in [m for m, h in self._hosts.items() if (h.dpid, h.port_no) in (src, dst)]:
            del self._hosts[mac]
        if known is not None and known[:2] == dst:
            return []
        return [api.LinkUp(at=now, link=self._link_info(src, dst))]

    def _drop_links(
        self,
        pred: Callable[[tuple[int, int], tuple[int, int], float], bool],
        now: float,
        reason: str,
    ) -> list[api.LinkDown]:
        gone = [(s, d) for s, d in self._links.items() if pred(s, (d[0], d[1]), d[2])]
        for s, _ in gone:
            del self._links[s]
        return [
            api.LinkDown(at=now, link=self._link_info(s, (d[0], d[1])), reason=reason)
            for s, d in gone
        ]

    def expire(self, now: float) -> list[api.LinkDown]:
        return self._drop_links(lambda s, d, seen: now - seen > self.link_ttl, now, "LLDP not seen")

    def port_down(self, dpid: int, port: int, now: float) -> list[api.LinkDown]:
        end = (dpid, port)
        return self._drop_links(lambda s, d, seen: end in (s, d), now, "port down")

    def switch_up(self, dpid: int) -> None:
        self.switches.add(dpid)

    def switch_down(self, dpid: int, now: float) -> list[api.LinkDown]:
        self.switches.discard(dpid)
        return self._drop_links(lambda s, d, seen: dpid in (s[0], d[0]), now, "switch down")

    # -- hosts -------------------------------------------------------------------------

    def packet_seen(
        self, dpid: int, in_port: int, frame: bytes, now: float
    ) -> list[api.HostSeen | api.HostMoved]:
        """Learn the source MAC of a PACKET_IN; HostSeen when new, HostMoved when it moved."""
        if len(frame) < 14 or frame[6] & 1 or self._is_link_port(dpid, in_port):
            return []
        mac = _mac_text(frame[6:12])
        host = self._hosts.get(mac)
        if host is None:
            host = self._hosts[mac] = _Host(dpid, in_port, now, now)
            return [api.HostSeen(at=now, host=self._host_info(mac, host))]
        host.last_seen = now
        if (host.dpid, host.port_no) == (dpid, in_port):
            return []
        old = (host.dpid, host.port_no)
        host.dpid, host.port_no = dpid, in_port
        return [
            api.HostMoved(
                at=now,
                host=self._host_info(mac, host),
                old_dpid=api.format_dpid(old[0]),
                old_port=old[1],
            )
        ]

    def _host_info(self, mac: str, h: _Host) -> api.HostInfo:
        return api.HostInfo(
            mac=mac,
            dpid=api.format_dpid(h.dpid),
            port_no=h.port_no,
            first_seen=h.first_seen,
            last_seen=h.last_seen,
        )

    # -- views -------------------------------------------------------------------------

    def links(self) -> list[api.LinkInfo]:
        return sorted(
            (self._link_info(s, (d[0], d[1])) for s, d in self._links.items()),
            key=lambda li: (li.src_dpid, li.src_port),
        )

    def hosts(self) -> list[api.HostInfo]:
        return [self._host_info(m, h) for m, h in sorted(self._hosts.items())]

    def graph(self) -> nx.MultiGraph:
        """Switches (``("switch", dpid)``), hosts (``("host", mac)``) and links as edges."""
        g = nx.MultiGraph()
        for dpid in self.switches:
            g.add_node(("switch", dpid))
        for (a, pa), (b, pb, _) in self._links.items():
            g.add_edge(("switch", a), ("switch", b), key=(a, pa, b, pb), ports={a: pa, b: pb})
        for mac, h in self._hosts.items():
            g.add_edge(("host", mac), ("switch", h.dpid), port=h.port_no)
        return g
