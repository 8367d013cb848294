"""The pipeline's view of the switch ports: which exist, their config and state.

Role: port liveness drives FAST_FAILOVER and SELECT groups, OFPPC_NO_FWD and
OFPPC_NO_PACKET_IN gate outputs and packet-ins, OFPPC_NO_RECV drops
ingress, and FLOOD/ALL enumerate ports. The port layer (``quake.ports``)
owns the real ports; the pipeline only reads this small view, so it stays
pure and tests can use :class:`StaticPorts`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from openvolcano.ofp import consts as c

__all__ = ["PortView", "StaticPorts", "port_live"]


class PortView(Protocol):
    def port_numbers(self) -> Iterable[int]:
        """Every port that exists (numbers <= OFPP_MAX; LOCAL is implicit)."""

    def port_config(self, port: int) -> int | None:
        """OFPPC_* bits, or None if the port does not exist."""

    def port_state(self, port: int) -> int:
        """OFPPS_* bits."""


class StaticPorts:
    """An in-memory :class:`PortView`: ``{port_no: (config, state)}``, mutable by its owner."""

    def __init__(self, ports: Iterable[int] = ()) -> None:
        self.ports: dict[int, tuple[int, int]] = dict.fromkeys(ports, (0, 0))

    def port_numbers(self) -> Iterable[int]:
        return sorted(self.ports)

    def port_config(self, port: int) -> int | None:
        entry = self.ports.get(port)
        return None if entry is None else entry[0]

    def port_state(self, port: int) -> int:
        entry = self.ports.get(port)
        return 0 if entry is None else entry[1]

    def set(self, port: int, config: int = 0, state: int = 0) -> None:
        self.ports[port] = (config, state)


def port_live(view: PortView, port: int) -> bool:
    """A port is live if it exists, is not administratively down and its link is up."""
    cfg = view.port_config(port)
    if cfg is None:
        return False
    return not cfg & c.OFPPC_PORT_DOWN and not view.port_state(port) & c.OFPPS_LINK_DOWN
