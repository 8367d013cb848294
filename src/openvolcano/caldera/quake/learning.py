"""Fail-standalone forwarding: a plain MAC-learning bridge for when no controller is connected.

Role: OpenFlow 1.3 §6.3.6 lets a switch that lost its controllers either stop
forwarding new traffic (*fail secure*: only the installed flows keep working)
or act as an ordinary Ethernet switch (*fail standalone*). quake's runtime
hands frames to :class:`MacLearning` instead of the OpenFlow pipeline while
it is in standalone mode and no controller is connected.

Design: a pure decision object - :meth:`MacLearning.forward` takes the
ingress port, the frame and ``now`` and returns the output ports; the
caller sends. Source MACs are learned (unicast sources only), entries age
out after ``aging`` seconds, and the table holds at most ``capacity``
entries (when full, the least recently learned entry is evicted: a policy
that keeps the bridge working under a MAC flood, at the cost of flooding).

Invariants: never raises on frame content (a runt frame is dropped); never
forwards a frame back out of its ingress port.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

__all__ = ["DEFAULT_AGING", "DEFAULT_CAPACITY", "MacLearning"]

DEFAULT_AGING = 300.0
DEFAULT_CAPACITY = 8192


class MacLearning:
    """MAC -> port table. Single writer: the datapath runtime."""

    def __init__(self, aging: float = DEFAULT_AGING, capacity: int = DEFAULT_CAPACITY) -> None:
        self.aging = aging
        self.capacity = capacity
        self._table: OrderedDict[int, tuple[int, float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._table)

    def lookup(self, mac: int, now: float) -> int | None:
        entry = self._table.get(mac)
        if entry is None or now - entry[1] > self.aging:
            return None
        return entry[0]

    def forget_port(self, port: int) -> None:
        """Drop every address learned on ``port`` (port deleted or link down)."""
        for mac in [m for m, (p, _) in self._table.items() if p == port]:
            del self._table[mac]

    def forward(self, in_port: int, frame: bytes, ports: Iterable[int], now: float) -> list[int]:
        """Output ports for ``frame`` received on ``in_port``; ``ports``: the live ports."""
        if len(frame) < 14:
            return []
        dst = int.from_bytes(frame[0:6], "big")
        src = int.from_bytes(frame[6:12], "big")
        if not src >> 40 & 1:  # learn unicast sources only
            self._table.pop(src, None)
            self._table[src] = (in_port, now)
            while len(self._table) > self.capacity:
                self._table.popitem(last=False)
        out = None if dst >> 40 & 1 else self.lookup(dst, now)
        if out is not None:
            return [] if out == in_port else [out]
        return [p for p in ports if p != in_port]
