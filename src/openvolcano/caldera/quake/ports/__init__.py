"""quake's port back-ends behind one PortBackend interface.

An in-memory backend for tests and simulation, and real Linux backends
(AF_PACKET on physical interfaces, TAP/veth logical ports to virtual images).
"""
