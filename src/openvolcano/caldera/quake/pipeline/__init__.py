"""quake's pure fast path: flow tables, classifier, groups, meters, action execution.

No I/O, logging or clock reads: time is passed in as ``now``; every decision
(packets to send, packet-ins, flow-removed) is returned to the caller.
"""
