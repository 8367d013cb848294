"""Typed identifiers shared by every plane: datapath ids, port numbers, users, servers, images, PNs.

Role: the same id crosses many boundaries (an OpenFlow FEATURES_REPLY, a REST
path, a database row, a log line); giving each kind its own type lets mypy
catch a server id passed where a user id is expected, and gives each one
exactly one parser and one canonical text form.

Design:

* :class:`DatapathId` is an ``int`` subclass (it *is* the 64-bit number the
  OpenFlow codec carries, and compares/hashes equal to it) that parses the
  forms operators type - decimal, ``0x`` hex, OVS' 16 hex digits with or
  without a ``dpid:`` prefix, and 8 colon-separated octets - and formats
  itself both ways. It carries a lazily-built pydantic schema, so API models
  may use it as a field type without this module importing pydantic.
* :data:`PortNo` is a ``NewType`` over ``int``; :func:`port_no` validates it.
* Names of managed objects (:data:`UserId`, :data:`ServerId`, :data:`ImageId`,
  :data:`PnId`, :data:`ServiceId`, :data:`SiteId`) are ``NewType`` over
  ``str``; :func:`object_id` validates the common shape (1-64 characters of
  letters, digits, ``-``, ``_``, ``.``; starting with a letter or digit) so
  they are safe in URLs, file names and log lines.

Invariants: every parser raises
:class:`~openvolcano.common.errors.InvalidInput` with a message naming the
bad value; ``DatapathId.parse(str(d)) == d`` for every valid ``d``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, NewType, Self

from openvolcano.common.errors import InvalidInput

if TYPE_CHECKING:  # pydantic is only needed when a model uses DatapathId as a field.
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import CoreSchema

__all__ = [
    "OFPP_MAX",
    "DatapathId",
    "ImageId",
    "PnId",
    "PortNo",
    "ServerId",
    "ServiceId",
    "SiteId",
    "UserId",
    "object_id",
    "port_no",
]

_U64_MAX = (1 << 64) - 1
_U32_MAX = (1 << 32) - 1
# Highest number of a physical (non-reserved) OpenFlow 1.3 port (openflow.h: OFPP_MAX).
OFPP_MAX = 0xFFFFFF00

_HEX = re.compile(r"[0-9a-fA-F]+")
_HEX16 = re.compile(r"[0-9a-fA-F]{16}")
_COLON = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){7}")
_DECIMAL = re.compile(r"[0-9]+")
_OBJECT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


class DatapathId(int):
    """A 64-bit OpenFlow datapath id.

    ``DatapathId(1)``, ``DatapathId("1")``, ``DatapathId("0x1")``,
    ``DatapathId("0000000000000001")``, ``DatapathId("dpid:0000000000000001")``
    and ``DatapathId("00:00:00:00:00:00:00:01")`` are all the same id. A bare
    string of exactly 16 hex digits is read as hex (the form OVS prints);
    any other all-digit string is decimal.
    """

    def __new__(cls, value: int | str) -> Self:
        return super().__new__(cls, _parse_dpid(value))

    @classmethod
    def parse(cls, value: int | str) -> Self:
        """Same as the constructor; reads better at call sites that parse user input."""
        return cls(value)

    @property
    def hex(self) -> str:
        """16 lower-case hex digits, no separators: ``0000000000000001`` (OVS' form)."""
        return f"{int(self):016x}"

    @property
    def colon(self) -> str:
        """8 colon-separated octets: ``00:00:00:00:00:00:00:01``."""
        h = self.hex
        return ":".join(h[i : i + 2] for i in range(0, 16, 2))

    def __str__(self) -> str:
        return self.colon

    def __repr__(self) -> str:
        return f"DatapathId(0x{int(self):x})"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            _pydantic_validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                lambda d: DatapathId(d).colon, when_used="json"
            ),
        )


def _pydantic_validate(value: object) -> DatapathId:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"a datapath id must be an integer or a string, not {value!r}")
    try:
        return DatapathId(value)
    except InvalidInput as exc:  # pydantic turns ValueError into a validation error
        raise ValueError(exc.message) from None


def _parse_dpid(value: int | str) -> int:
    if isinstance(value, bool):
        raise InvalidInput(f"invalid datapath id {value!r}: not a number")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        number = _parse_dpid_text(value)
    else:
        raise InvalidInput(f"invalid datapath id {value!r}: expected an integer or a string")
    if not 0 <= number <= _U64_MAX:
        raise InvalidInput(f"invalid datapath id {value!r}: must fit in 64 bits (0..2**64-1)")
    return number


def _parse_dpid_text(value: str) -> int:
    text = value.strip()
    low = text.lower()
    if low.startswith("dpid:"):
        text = text[5:]
        if not _HEX16.fullmatch(text):
            raise InvalidInput(f"invalid datapath id {value!r}: 'dpid:' needs 16 hex digits")
        return int(text, 16)
    if low.startswith("0x") and _HEX.fullmatch(text[2:]):
        return int(text[2:], 16)
    if _COLON.fullmatch(text):
        return int(text.replace(":", ""), 16)
    elif _HEX16.fullmatch(text):
        return int(text, 16)
    elif _DECIMAL.fullmatch(text):
        return int(text, 10)
    raise InvalidInput(
        f"invalid datapath id {value!r}: expected decimal, 0x-hex, 16 hex digits "
        "or 8 colon-separated octets"
    )


PortNo = NewType("PortNo", int)
"""An OpenFlow 1.3 port number (32 bits; physical ports are 1..OFPP_MAX)."""


def port_no(value: int | str, *, physical: bool = False) -> PortNo:
    """Validate an OpenFlow port number; ``physical=True`` also rejects 0 and reserved ports."""
    if isinstance(value, bool):
        raise InvalidInput(f"invalid port number {value!r}")
    if isinstance(value, str):
        text = value.strip()
        if text.lower().startswith("0x") and _HEX.fullmatch(text[2:]):
            number = int(text[2:], 16)
        elif _DECIMAL.fullmatch(text):
            number = int(text, 10)
        else:
            raise InvalidInput(f"invalid port number {value!r}: not a number")
    else:
        number = value
    low = 1 if physical else 0
    high = OFPP_MAX if physical else _U32_MAX
    if not low <= number <= high:
        raise InvalidInput(f"invalid port number {value!r}: must be in {low}..{high:#x}")
    return PortNo(number)


UserId = NewType("UserId", str)
"""A user (subscriber) of the platform."""
ServerId = NewType("ServerId", str)
"""An edge server that hosts virtual images (runs quake and geyser)."""
ImageId = NewType("ImageId", str)
"""A virtual image (an instance of a virtualised home device)."""
PnId = NewType("PnId", str)
"""A Personal Network: one user's private L2 overlay."""
ServiceId = NewType("ServiceId", str)
"""A service (virtual-image type or chain) in the provider's catalogue."""
SiteId = NewType("SiteId", str)
"""An edge site (a group of servers and switches close to users)."""


def object_id(value: str, kind: str = "id") -> str:
    """Validate the common shape of object names; ``kind`` names the id in the error.

    Wrap the result in the specific type: ``UserId(object_id(raw, "user id"))``.
    """
    if not isinstance(value, str) or not _OBJECT_ID.fullmatch(value):
        raise InvalidInput(
            f"invalid {kind} {value!r}: use 1-64 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return value
