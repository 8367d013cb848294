"""The :class:`PortBackend` interface every quake port implements, and its counters.

Role (paper §VI, Caldera data plane): quake forwards between *physical*
ports (Linux interfaces, reached with AF_PACKET) and *logical* ports (TAP or
veth ends facing virtual images); tests and simulations use in-memory ports.
The datapath runtime (:mod:`openvolcano.caldera.quake.datapath`) only sees
this interface, so a backend can be swapped (later: PACKET_MMAP rings) without
touching the switch logic - the shape of OVS' ``netdev-provider.h``.

Design:

* A backend is *pollable*: :meth:`PortBackend.fileno` becomes readable when
  frames wait, and :meth:`PortBackend.recv_batch` drains up to ``max_frames``
  without ever blocking. :meth:`PortBackend.link_fileno` (optional) becomes
  readable when the link may have changed; :meth:`PortBackend.poll_link`
  then re-reads the state and says whether it changed.
* Sending never blocks either: a frame that cannot be sent now (link down,
  kernel queue full) is counted in ``tx_dropped`` and forgotten.
* Frames are whole Ethernet frames as on the wire, 802.1Q tags included
  (a backend whose kernel strips tags puts them back).

Invariants: counters only grow; ``recv_batch`` and ``send`` never raise for
a closed or broken link (they count and return); only ``open`` raises,
with :class:`PortError` naming the port.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from dataclasses import dataclass, fields

from openvolcano.common.errors import OpenVolcanoError
from openvolcano.ofp import consts as c

__all__ = ["PortBackend", "PortCounters", "PortError", "PortFeatures", "speed_features"]


class PortError(OpenVolcanoError):
    """A port could not be opened (no such interface, no permission, ...)."""


@dataclass(slots=True)
class PortCounters:
    """Wire-level counters of one port. Writer: the port's owner (the datapath thread)."""

    rx_packets: int = 0
    rx_bytes: int = 0
    rx_dropped: int = 0
    rx_errors: int = 0
    tx_packets: int = 0
    tx_bytes: int = 0
    tx_dropped: int = 0
    tx_errors: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class PortFeatures:
    """The ``ofp_port`` feature words: OFPPF_* bitmaps and speeds in kbit/s."""

    curr: int = 0
    advertised: int = 0
    supported: int = 0
    peer: int = 0
    curr_speed: int = 0
    max_speed: int = 0


_SPEED_BITS = (  # Mbit/s -> OFPPF_* (full duplex)
    (10, c.OFPPF_10MB_FD),
    (100, c.OFPPF_100MB_FD),
    (1000, c.OFPPF_1GB_FD),
    (10_000, c.OFPPF_10GB_FD),
    (40_000, c.OFPPF_40GB_FD),
    (100_000, c.OFPPF_100GB_FD),
    (1_000_000, c.OFPPF_1TB_FD),
)


def speed_features(mbps: int, *, copper: bool = True) -> PortFeatures:
    """Features of a full-duplex link running at ``mbps`` (0 or unknown: OFPPF_OTHER)."""
    bit = next((b for s, b in _SPEED_BITS if s == mbps), c.OFPPF_OTHER)
    medium = c.OFPPF_COPPER if copper else c.OFPPF_FIBER
    kbps = max(mbps, 0) * 1000
    return PortFeatures(
        curr=bit | medium,
        advertised=0,
        supported=bit | medium,
        peer=0,
        curr_speed=kbps,
        max_speed=kbps,
    )


class PortBackend(abc.ABC):
    """One switch port. Single owner: the datapath runtime that opened it."""

    name: str
    counters: PortCounters

    @abc.abstractmethod
    def open(self) -> None:
        """Acquire the resources (sockets...); raises :class:`PortError`."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release everything; idempotent."""

    @abc.abstractmethod
    def fileno(self) -> int:
        """A descriptor that polls readable when frames are waiting."""

    def link_fileno(self) -> int | None:
        """A descriptor that polls readable when the link may have changed (None: never)."""
        return None

    def poll_link(self) -> bool:
        """Re-read the link state after :meth:`link_fileno` fired; True if it changed."""
        return False

    @abc.abstractmethod
    def recv_batch(self, max_frames: int) -> list[bytes]:
        """Up to ``max_frames`` received frames, without blocking (maybe none)."""

    @abc.abstractmethod
    def send(self, frame: bytes) -> bool:
        """Queue one frame for transmission; False (and ``tx_dropped`` + 1) if it could not be."""

    def send_batch(self, frames: Iterable[bytes]) -> int:
        """Send several frames; returns how many were accepted."""
        return sum(1 for f in frames if self.send(f))

    @property
    @abc.abstractmethod
    def link_up(self) -> bool:
        """Carrier present (the OFPPS_LINK_DOWN bit is its negation)."""

    @property
    @abc.abstractmethod
    def hw_addr(self) -> int:
        """The port's MAC address as a 48-bit integer."""

    @abc.abstractmethod
    def features(self) -> PortFeatures:
        """Speed and medium for ``ofp_port``."""
