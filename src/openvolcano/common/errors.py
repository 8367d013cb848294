"""The project-wide error hierarchy, with a user-facing message on every error.

Role: every package raises these for *expected* failures (a user asked for
something that does not exist, a name is taken, a value is invalid, a peer is
down) so that each front end can report them the same way: REST layers map
them to HTTP status codes (:attr:`OpenVolcanoError.http_status`), the CLI
prints :attr:`OpenVolcanoError.message` and exits non-zero, daemons log it.
Anything that is *not* an :class:`OpenVolcanoError` escaping to a front end
is a bug and is reported as one (HTTP 500, traceback in the log).

Invariants:

* ``str(err) == err.message`` and the message is written for the operator:
  it names the thing (``"user 'alice' not found"``), never a Python repr of
  an internal object.
* ``http_status`` is a class attribute, so mapping an error to a response
  needs no table kept in sync elsewhere.
* No I/O and no third-party imports: the pure cores may raise these.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "Conflict",
    "InvalidInput",
    "NotFound",
    "OpenVolcanoError",
    "Unavailable",
]


class OpenVolcanoError(Exception):
    """Base of every expected OpenVolcano failure.

    ``message`` is shown to users as is; ``details`` carries optional
    machine-readable context (field names, ids) for API error bodies.
    """

    http_status: ClassVar[int] = 500
    code: ClassVar[str] = "error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, Any]:
        """The JSON error body REST layers send: ``{"error", "message", "details"?}``."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = dict(self.details)
        return body


class NotFound(OpenVolcanoError):
    """The named thing does not exist (HTTP 404)."""

    http_status = 404
    code = "not_found"


class Conflict(OpenVolcanoError):
    """The request contradicts current state: duplicate name, busy resource (HTTP 409)."""

    http_status = 409
    code = "conflict"


class InvalidInput(OpenVolcanoError, ValueError):
    """A value supplied by the user or a peer is malformed or out of range (HTTP 422)."""

    http_status = 422
    code = "invalid_input"


class Unavailable(OpenVolcanoError):
    """A dependency (peer daemon, switch, back-end) cannot be reached right now (HTTP 503)."""

    http_status = 503
    code = "unavailable"
