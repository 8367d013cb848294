"""In-memory ports: the shipped fake of :class:`~.base.PortBackend`, for tests and simulation.

Role: lets the whole switch (datapath, agent, OpenFlow sessions) run without
root, namespaces or a kernel: two :class:`MemoryPort` ends joined by
:func:`memory_pair` behave like a veth pair - what one end sends the other
receives, and the carrier is shared (taking one end down takes the link
down for both, as with veth).

Design: each end has a bounded receive queue (``rx_capacity`` frames; when
full, the arriving frame is dropped and counted in the receiver's
``rx_dropped``, like a NIC ring overflow) and an ``eventfd`` that is readable
while the queue is non-empty, so the asyncio runtime polls memory ports
exactly like real ones. A second eventfd signals link changes.

Invariants: single-threaded use (the owner's event loop); ``send`` while the
link is down or the peer is closed counts ``tx_dropped`` and returns False.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque

from .base import PortBackend, PortCounters, PortError, PortFeatures, speed_features

__all__ = ["DEFAULT_RX_CAPACITY", "MemoryPort", "memory_pair"]

DEFAULT_RX_CAPACITY = 4096
_MEMORY_SPEED_MBPS = 10_000
_MAX_FRAME = 65535


class _Signal:
    """An eventfd: readable while set. Owner: one MemoryPort."""

    def __init__(self) -> None:
        self.fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._set = False

    def set(self) -> None:
        if not self._set:
            os.eventfd_write(self.fd, 1)
            self._set = True

    def clear(self) -> None:
        if self._set:
            with contextlib.suppress(BlockingIOError):
                os.eventfd_read(self.fd)
            self._set = False

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class MemoryPort(PortBackend):
    """One end of an in-memory link. Create ends with :func:`memory_pair`."""

    def __init__(self, name: str, hw_addr: int, rx_capacity: int = DEFAULT_RX_CAPACITY) -> None:
        if rx_capacity < 1:
            raise ValueError("rx_capacity must be at least 1")
        self.name = name
        self.counters = PortCounters()
        self._hw_addr = hw_addr
        self._rx: deque[bytes] = deque()
        self._rx_capacity = rx_capacity
        self._peer: MemoryPort | None = None
        self._carrier = True  # shared state: written by set_link on either end
        self._link_seen = True  # what poll_link last reported
        self._rx_signal: _Signal | None = None
        self._link_signal: _Signal | None = None

    # --- lifecycle ----------------------------------------------------------------
    def open(self) -> None:
        if self._rx_signal is None:
            self._rx_signal = _Signal()
            self._link_signal = _Signal()
            self._link_seen = self._carrier
            if self._rx:
                self._rx_signal.set()

    def close(self) -> None:
        for sig in (self._rx_signal, self._link_signal):
            if sig is not None:
                sig.close()
        self._rx_signal = self._link_signal = None
        self._rx.clear()

    @property
    def is_open(self) -> bool:
        return self._rx_signal is not None

    def fileno(self) -> int:
        if self._rx_signal is None:
            raise PortError(f"port {self.name} is not open")
        return self._rx_signal.fd

    def link_fileno(self) -> int | None:
        return None if self._link_signal is None else self._link_signal.fd

    # --- link ---------------------------------------------------------------------
    @property
    def link_up(self) -> bool:
        return self._carrier

    def set_link(self, up: bool) -> None:
        """Plug or unplug the cable: both ends see the change (simulation/test control)."""
        ends = [self] if self._peer is None else [self, self._peer]
        for end in ends:
            if end._carrier != up:
                end._carrier = up
                if end._link_signal is not None:
                    end._link_signal.set()

    def poll_link(self) -> bool:
        if self._link_signal is not None:
            self._link_signal.clear()
        changed = self._link_seen != self._carrier
        self._link_seen = self._carrier
        return changed

    @property
    def hw_addr(self) -> int:
        return self._hw_addr

    def features(self) -> PortFeatures:
        return speed_features(_MEMORY_SPEED_MBPS)

    # --- frames -------------------------------------------------------------------
    def _deliver(self, frame: bytes) -> None:
        if len(self._rx) >= self._rx_capacity:
            self.counters.rx_dropped += 1
            return
        self._rx.append(frame)
        if self._rx_signal is not None:
            self._rx_signal.set()

    def recv_batch(self, max_frames: int) -> list[bytes]:
        out: list[bytes] = []
        rx = self._rx
        while rx and len(out) < max_frames:
            frame = rx.popleft()
            self.counters.rx_packets += 1
            self.counters.rx_bytes += len(frame)
            out.append(frame)
        if not rx and self._rx_signal is not None:
            self._rx_signal.clear()
        return out

    def send(self, frame: bytes) -> bool:
        peer = self._peer
        if peer is None or not self._carrier or not peer.is_open or len(frame) > _MAX_FRAME:
            self.counters.tx_dropped += 1
            return False
        self.counters.tx_packets += 1
        self.counters.tx_bytes += len(frame)
        peer._deliver(bytes(frame))
        return True

    def pending(self) -> int:
        """Frames waiting in the receive queue (tests, status)."""
        return len(self._rx)


def memory_pair(
    name_a: str,
    name_b: str,
    *,
    mac_a: int | None = None,
    mac_b: int | None = None,
    rx_capacity: int = DEFAULT_RX_CAPACITY,
) -> tuple[MemoryPort, MemoryPort]:
    """Two joined ends, like ``ip link add A type veth peer name B`` (link up).

    MACs default to locally administered addresses derived from the names.
    """
    a = MemoryPort(name_a, mac_a if mac_a is not None else _mac_for(name_a), rx_capacity)
    b = MemoryPort(name_b, mac_b if mac_b is not None else _mac_for(name_b), rx_capacity)
    a._peer, b._peer = b, a
    return a, b


def _mac_for(name: str) -> int:
    """A stable locally administered unicast MAC (02:xx:...) from a port name."""
    h = 0
    for ch in name.encode():
        h = (h * 131 + ch) & 0xFFFF_FFFF
    return (0x02 << 40) | (0x42 << 32) | h
