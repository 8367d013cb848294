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

# Importing the message packages registers every OFPT/OFPMP type with the
# decoder, so ``base.decode_message`` works whatever the caller imported.
from openvolcano.ofp import messages, multipart
from openvolcano.ofp.base import Message, decode_message
from openvolcano.ofp.connection import Connection, Role
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError, OFPError
from openvolcano.ofp.oxm import Match, OxmTLV

__all__ = [
    "Connection",
    "Match",
    "Message",
    "OFPDecodeError",
    "OFPEncodeError",
    "OFPError",
    "OxmTLV",
    "Role",
    "decode_message",
    "messages",
    "multipart",
]
