"""Errors raised by the OpenFlow codec, saying whose fault it was.

* :class:`OFPDecodeError` - the *peer* sent bytes we cannot accept. It carries
  the OpenFlow error ``type``/``code`` that the receiver should send back in an
  OFPT_ERROR, and the offending bytes (the spec asks for at least the first 64).
* :class:`OFPEncodeError` - *we* tried to build a message that cannot be put on
  the wire (a value out of range, a missing field). A bug on our side, never sent.

Decoding never raises anything else: every other exception escaping a decoder
is a bug, and the fuzz tests hunt for it.
"""

from __future__ import annotations

from openvolcano.ofp import consts as c

__all__ = ["OFPDecodeError", "OFPEncodeError", "OFPError"]


class OFPError(Exception):
    """Base class of every error raised by :mod:`openvolcano.ofp`."""


class OFPDecodeError(OFPError):
    """The peer sent something invalid; reply with OFPT_ERROR(type, code, data)."""

    def __init__(self, type: int, code: int, reason: str, data: bytes = b"") -> None:
        super().__init__(f"{reason} ({c.error_name(type, code)})")
        self.type = type
        self.code = code
        self.reason = reason
        # The spec: "at least 64 bytes of the failed request".
        self.data = bytes(data[:64])


class OFPEncodeError(OFPError, ValueError):
    """We asked the codec to encode something that is not valid OpenFlow 1.3."""
