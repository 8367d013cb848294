"""Internet checksums (RFC 1071/1624) and CRC32c (SCTP, RFC 3309), over ints and bytes.

Role: when quake rewrites a header (set-field, TTL decrement, DSCP remark) it
must leave every checksum that covers the rewritten bytes correct, as a real
switch does. We update checksums *incrementally* (RFC 1624, eqn. 3:
``HC' = ~(~HC + ~m + m')``) from the old and new bytes of the rewritten
region, so the cost does not depend on the payload size and a truncated or
sampled payload still ends up with the right checksum. SCTP's CRC32c cannot be
updated incrementally; it is recomputed over the SCTP packet.

Invariant: every region handed to :func:`adjust` starts at an even offset
relative to the start of the checksummed data (callers widen odd regions
with :func:`even_span`); all header offsets quake rewrites satisfy that,
because every L3/L4 header starts at an even frame offset.
"""

from __future__ import annotations

__all__ = ["adjust", "crc32c", "even_span", "internet_checksum", "ones_sum"]


def ones_sum(data: bytes | bytearray | memoryview) -> int:
    """16-bit one's-complement sum of ``data`` (odd length padded with a zero byte), folded."""
    if len(data) % 2:
        data = bytes(data) + b"\0"
    total = int.from_bytes(data, "big")
    # Fold the big integer 16 bits at a time: sum of words mod 0xFFFF (end-around carry).
    s = 0
    while total:
        s += total & 0xFFFF
        total >>= 16
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def internet_checksum(data: bytes | bytearray | memoryview) -> int:
    """The RFC 1071 checksum of ``data`` (the value to store in the header)."""
    return ~ones_sum(data) & 0xFFFF


def adjust(csum: int, old: bytes | bytearray, new: bytes | bytearray) -> int:
    """RFC 1624 incremental update of a stored checksum when ``old`` bytes become ``new``."""
    s = (~csum & 0xFFFF) + (~ones_sum(old) & 0xFFFF) + ones_sum(new)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def even_span(start: int, end: int, base: int) -> tuple[int, int]:
    """Widen ``[start, end)`` so both ends are even relative to ``base``."""
    if (start - base) % 2:
        start -= 1
    if (end - base) % 2:
        end += 1
    return start, end


def _crc32c_table() -> tuple[int, ...]:
    poly = 0x82F63B78  # Castagnoli, reflected
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC32C = _crc32c_table()


def crc32c(data: bytes | bytearray | memoryview) -> int:
    """CRC32c of ``data`` as SCTP stores it (the caller writes it little-endian)."""
    crc = 0xFFFFFFFF
    table = _CRC32C
    for b in bytes(data):
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
