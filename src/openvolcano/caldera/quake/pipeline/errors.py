"""The one error type the pure pipeline raises: a request it must refuse.

Role: quake's OpenFlow agent turns a :class:`PipelineError` into an
``OFPT_ERROR`` carrying ``type``/``code`` (the spec's ``OFPET_*``/codes) and the
first bytes of the offending request. Every ``apply_*`` method of
:class:`~openvolcano.caldera.quake.pipeline.core.Pipeline` either succeeds
(returning its decisions) or raises this error *before changing any state*
(validation happens first, mutation after), so a refused request leaves the
switch exactly as it was.
"""

from __future__ import annotations

from openvolcano.ofp import consts as c
from openvolcano.ofp.errors import OFPError

__all__ = ["PipelineError"]


class PipelineError(OFPError):
    """The controller asked for something the switch refuses: reply OFPT_ERROR(type, code)."""

    def __init__(self, type: int, code: int, reason: str) -> None:
        super().__init__(f"{reason} ({c.error_name(type, code)})")
        self.type = type
        self.code = code
        self.reason = reason
