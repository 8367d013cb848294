"""Low-level wire helpers: a bounds-checked reader and packing helpers.

Every decoder reads through :class:`Reader`; running past the end of the
available bytes raises :class:`OFPDecodeError` with OFPET_BAD_REQUEST /
OFPBRC_BAD_LEN (or the error type/code the caller chose for its structure),
so a truncated message can never raise ``struct.error`` or ``IndexError``.
"""

from __future__ import annotations

import builtins
import struct

from openvolcano.ofp import consts as c
from openvolcano.ofp.errors import OFPDecodeError, OFPEncodeError

__all__ = ["Reader", "check_uint", "encode_cstr", "pad_to", "padding"]

_U8 = struct.Struct("!B")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_U64 = struct.Struct("!Q")


class Reader:
    """A cursor over a read-only byte buffer, bounded to ``[start, end)``.

    ``err_type``/``err_code`` are what a short read raises; sub-readers made by
    :meth:`sub` inherit them unless overridden.
    """

    __slots__ = ("buf", "end", "err_code", "err_type", "pos")

    def __init__(
        self,
        buf: bytes | memoryview,
        start: int = 0,
        end: int | None = None,
        *,
        err_type: int = c.OFPET_BAD_REQUEST,
        err_code: int = c.OFPBRC_BAD_LEN,
    ) -> None:
        self.buf = buf if isinstance(buf, memoryview) else memoryview(buf)
        self.pos = start
        self.end = len(self.buf) if end is None else min(end, len(self.buf))
        self.err_type = err_type
        self.err_code = err_code

    def remaining(self) -> int:
        return self.end - self.pos

    def fail(self, reason: str, type: int | None = None, code: int | None = None) -> OFPDecodeError:
        """Build (not raise) the decode error for this reader's context."""
        return OFPDecodeError(
            self.err_type if type is None else type,
            self.err_code if code is None else code,
            reason,
            bytes(self.buf[: min(len(self.buf), 64)]),
        )

    def _need(self, n: int) -> int:
        pos = self.pos
        if n < 0 or pos + n > self.end:
            raise self.fail(f"truncated: need {n} bytes at offset {pos}, have {self.end - pos}")
        self.pos = pos + n
        return pos

    def u8(self) -> int:
        return int(_U8.unpack_from(self.buf, self._need(1))[0])

    def u16(self) -> int:
        return int(_U16.unpack_from(self.buf, self._need(2))[0])

    def u32(self) -> int:
        return int(_U32.unpack_from(self.buf, self._need(4))[0])

    def u64(self) -> int:
        return int(_U64.unpack_from(self.buf, self._need(8))[0])

    def uint(self, nbytes: int) -> int:
        """Big-endian unsigned integer of any width (OXM values: 6-byte MACs, 16-byte IPv6)."""
        pos = self._need(nbytes)
        return int.from_bytes(self.buf[pos : pos + nbytes], "big")

    def bytes(self, n: int) -> bytes:
        pos = self._need(n)
        return bytes(self.buf[pos : pos + n])

    def rest(self) -> builtins.bytes:
        return self.bytes(self.remaining())

    def skip(self, n: int) -> None:
        self._need(n)

    def unpack(self, st: struct.Struct) -> tuple[int, ...]:
        return st.unpack_from(self.buf, self._need(st.size))

    def sub(
        self, length: int, *, err_type: int | None = None, err_code: int | None = None
    ) -> Reader:
        """Consume ``length`` bytes and return a reader bounded to exactly them."""
        start = self._need(length)
        return Reader(
            self.buf,
            start,
            start + length,
            err_type=self.err_type if err_type is None else err_type,
            err_code=self.err_code if err_code is None else err_code,
        )

    def peek_u16(self, offset: int = 0) -> int:
        pos = self.pos + offset
        if pos + 2 > self.end:
            raise self.fail(f"truncated: need 2 bytes at offset {pos}")
        return int(_U16.unpack_from(self.buf, pos)[0])

    def cstr(self, n: int) -> str:
        """A fixed-size NUL-padded ASCII string field (e.g. ``char name[OFP_MAX_PORT_NAME_LEN]``)."""
        raw = self.bytes(n)
        return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def padding(length: int, align: int = 8) -> int:
    """Number of pad bytes that round ``length`` up to a multiple of ``align``."""
    return (-length) % align


def pad_to(data: bytes, align: int = 8) -> bytes:
    return data + b"\0" * padding(len(data), align)


def check_uint(name: str, value: int, bits: int) -> int:
    """Validate an unsigned field before packing; raises :class:`OFPEncodeError`."""
    if not isinstance(value, int) or value < 0 or value >> bits:
        raise OFPEncodeError(f"{name}={value!r} does not fit in {bits} unsigned bits")
    return value


def encode_cstr(name: str, value: str, size: int) -> bytes:
    try:
        raw = value.encode("ascii")
    except UnicodeEncodeError:
        raise OFPEncodeError(f"{name}={value!r} is not ASCII") from None
    if len(raw) >= size:
        raise OFPEncodeError(f"{name}={value!r} is longer than {size - 1} bytes")
    return raw.ljust(size, b"\0")
