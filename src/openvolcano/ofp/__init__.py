"""OpenFlow 1.3 (wire version 0x04, spec 1.3.5), sans-IO, for both roles: the paper's ofp_lib.

quake (the switch) and magma (the controller) share this one library. It turns
bytes into typed messages and back, byte-exact, and never does I/O; the
:class:`~openvolcano.ofp.connection.Connection` state machine frames a byte
stream, negotiates the version, allocates xids and answers echoes, h11-style.

Modules: ``consts`` (names as in openflow.h), ``wire`` (bounded reader),
``base`` (header, registry), ``oxm`` (matches), ``actions``, ``instructions``,
``structs`` (ports, buckets, meter bands, queues), ``messages`` (every OFPT
type but multipart), ``multipart`` (every OFPMP request/reply),
``table_features``, ``connection``.
"""
