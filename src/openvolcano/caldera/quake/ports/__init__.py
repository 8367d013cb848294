"""quake's port back-ends behind one PortBackend interface.

An in-memory backend for tests and simulation (:mod:`.memory`) and the real
Linux backend (:mod:`.afpacket`: AF_PACKET on physical interfaces and on the
TAP/veth logical ports to virtual images). :mod:`.base` defines the interface
and the counters every backend keeps.
"""

from .base import PortBackend, PortCounters, PortError, PortFeatures, speed_features
from .memory import MemoryPort, memory_pair

__all__ = [
    "MemoryPort",
    "PortBackend",
    "PortCounters",
    "PortError",
    "PortFeatures",
    "memory_pair",
    "speed_features",
]
