"""What one pass of the pipeline decides: frames to send, packet-ins, and a trace.

Role: the pipeline never sends anything; :meth:`Pipeline.process` returns a
:class:`Result` and quake's shell (port I/O, OpenFlow agent) carries it out.
The :class:`Trace` records every table visited, the entry hit and the
actions executed: the structure behind ``openvolcano quake trace`` and a
test oracle ("where does this packet go, and why?").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from openvolcano.ofp import consts as c
from openvolcano.ofp.messages import PacketIn
from openvolcano.ofp.oxm import Match

__all__ = ["Output", "PacketInDecision", "Result", "Trace", "TraceStep"]


@dataclass(frozen=True, slots=True)
class Output:
    """Send ``data`` out of ``port`` (a port number, or OFPP_LOCAL), on ``queue_id`` if set."""

    port: int
    data: bytes
    queue_id: int | None = None


@dataclass(frozen=True, kw_only=True)
class PacketInDecision:
    """A packet for the controller. The agent chooses buffering and builds the message."""

    reason: int
    table_id: int
    cookie: int
    match: Match
    data: bytes  # the whole frame
    max_len: int  # from the output action; OFPCML_NO_BUFFER = send it all, unbuffered

    def message(self, buffer_id: int = c.OFP_NO_BUFFER, xid: int = 0) -> PacketIn:
        """The OFPT_PACKET_IN; a buffered packet carries only its first ``max_len`` bytes."""
        data = self.data if buffer_id == c.OFP_NO_BUFFER else self.data[: self.max_len]
        return PacketIn(
            xid=xid,
            buffer_id=buffer_id,
            total_len=len(self.data),
            reason=self.reason,
            table_id=self.table_id,
            cookie=self.cookie,
            match=self.match,
            data=data,
        )


@dataclass(kw_only=True)
class TraceStep:
    """One table visit: the entry hit (or a miss) and what its instructions did."""

    table_id: int
    priority: int | None = None  # None: no entry matched (packet dropped)
    cookie: int | None = None
    match: str = ""
    events: list[str] = field(default_factory=list)


@dataclass(kw_only=True)
class Trace:
    steps: list[TraceStep] = field(default_factory=list)
    action_set: list[str] = field(default_factory=list)
    drops: list[str] = field(default_factory=list)

    def render(self) -> str:
        lines: list[str] = []
        for s in self.steps:
            if s.priority is None:
                lines.append(f"table {s.table_id}: no match -> drop")
            else:
                lines.append(
                    f"table {s.table_id}: priority={s.priority} cookie={s.cookie:#x} match={s.match}"
                )
            lines.extend(f"    {e}" for e in s.events)
        if self.action_set:
            lines.append("action set: " + ", ".join(self.action_set))
        lines.extend(f"drop: {d}" for d in self.drops)
        return "\n".join(lines)


@dataclass(kw_only=True)
class Result:
    outputs: list[Output] = field(default_factory=list)
    packet_ins: list[PacketInDecision] = field(default_factory=list)
    trace: Trace = field(default_factory=Trace)

    @property
    def ports(self) -> list[int]:
        return [o.port for o in self.outputs]
