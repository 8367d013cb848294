"""quake's pure fast path: flow tables, classifier, groups, meters, action execution.

No I/O, logging or clock reads: time is passed in as ``now``; every decision
(packets to send, packet-ins, flow-removed) is returned to the caller.
See docs/quake-pipeline.md for the design and the semantics implemented.
"""

from __future__ import annotations

from .core import DEFAULT_N_TABLES, Pipeline
from .errors import PipelineError
from .ports import PortView, StaticPorts
from .results import Output, PacketInDecision, Result, Trace, TraceStep

__all__ = [
    "DEFAULT_N_TABLES",
    "Output",
    "PacketInDecision",
    "Pipeline",
    "PipelineError",
    "PortView",
    "Result",
    "StaticPorts",
    "Trace",
    "TraceStep",
]
