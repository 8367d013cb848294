"""The demo's stand-in for crater's Personal Network rules (pure, no I/O).

Role: in the paper (section IV) crater computes, for each user, the OpenFlow
rules of their **Personal Network** - a private L2 overlay joining the user's
physical devices and virtual images - and magma installs them. crater does
not exist yet; ``openvolcano demo`` needs those rules, so this module computes
the smallest honest version of them and nothing more. It lives in netlab (a
front end) and uses only :mod:`openvolcano.api.magma` models, so it can be
dropped the day crater lands.

Design: a member is a MAC address at a switch port (``dpid``, ``port_no``).
For every ordered pair of members (src, dst) the path from src's switch to
dst's switch is a shortest path over the directed inter-switch links (as
magma's ``GET /links`` reports them); on every switch of the path one rule
``in_port, eth_src=src, eth_dst=dst -> output`` forwards the frame one hop
further (the last hop to dst's port), and one rule per (switch, in_port,
src) sends ``eth_dst=ff:ff:ff:ff:ff:ff`` (ARP) to every other member's next
hop only. Nothing else is allowed: a frame from a MAC that is not a member,
or to a MAC outside the PN, matches no PN rule.

Invariants: the result is deterministic (sorted) for the same input, so
PUTting it twice changes nothing; a member whose switch is unreachable is a
:class:`ValueError` naming it (never a partial PN).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from openvolcano.api import magma as api

__all__ = ["BROADCAST", "PN_PRIORITY", "Member", "owner_of", "personal_network_rules"]

BROADCAST = "ff:ff:ff:ff:ff:ff"
#: Above magma-system's table-miss (0), below its LLDP rule (65535).
PN_PRIORITY = 1000


@dataclass(frozen=True)
class Member:
    """One device of the PN: its MAC and where it is attached."""

    mac: str
    dpid: int
    port_no: int


def owner_of(user: str) -> str:
    """The magma owner name of ``user``'s Personal Network."""
    return f"pn-{user}"


Link = tuple[int, int, int, int]  # (src_dpid, src_port, dst_dpid, dst_port), directed


def _path(links: Iterable[Link], src: int, dst: int) -> list[tuple[int, int, int]]:
    """Hops from switch ``src`` to ``dst``: (dpid, out_port, next switch's in_port); BFS."""
    nxt: dict[int, list[tuple[int, int, int]]] = {}
    for a, ap, b, bp in sorted(links):
        nxt.setdefault(a, []).append((ap, b, bp))
    seen: dict[int, tuple[int, int, int] | None] = {src: None}  # dpid -> (prev, out, in)
    queue = deque([src])
    while queue and dst not in seen:
        here = queue.popleft()
        for out, there, inp in nxt.get(here, []):
            if there not in seen:
                seen[there] = (here, out, inp)
                queue.append(there)
    if dst not in seen:
        raise ValueError(f"no path from switch {src:#x} to switch {dst:#x}")
    hops: list[tuple[int, int, int]] = []
    here = dst
    while (back := seen[here]) is not None:
        prev, out, inp = back
        hops.append((prev, out, inp))
        here = prev
    return hops[::-1]


def _out(ports: Sequence[int]) -> tuple[api.ApplyActions, ...]:
    return (api.ApplyActions(actions=tuple(api.OutputAction(port=p) for p in sorted(set(ports)))),)


def personal_network_rules(members: Sequence[Member], links: Iterable[Link]) -> api.OwnerState:
    """The desired state (magma ``PUT /owners/pn-<user>``) joining exactly ``members`` at L2."""
    links = list(links)
    unicast: dict[tuple[int, int, str, str], int] = {}  # (dpid, in_port, src, dst) -> out
    flood: dict[tuple[int, int, str], set[int]] = {}  # (dpid, in_port, src) -> outs
    for src in members:
        for dst in members:
            if src.mac == dst.mac:
                continue
            in_port = src.port_no
            steps: list[tuple[int, int, int]] = []  # (dpid, in_port, out_port)
            for dpid, out, nxt_in in _path(links, src.dpid, dst.dpid):
                steps.append((dpid, in_port, out))
                in_port = nxt_in
            steps.append((dst.dpid, in_port, dst.port_no))
            for dpid, inp, out in steps:
                unicast[(dpid, inp, src.mac, dst.mac)] = out
                flood.setdefault((dpid, inp, src.mac), set()).add(out)
    flows: dict[int, list[api.DesiredFlow]] = {}
    for (dpid, inp, s, d), out in sorted(unicast.items()):
        match: dict[str, int | str] = {"in_port": inp, "eth_src": s, "eth_dst": d}
        flows.setdefault(dpid, []).append(
            api.DesiredFlow(priority=PN_PRIORITY, match=match, instructions=_out([out]))
        )
    for (dpid, inp, s), outs in sorted(flood.items()):
        match = {"in_port": inp, "eth_src": s, "eth_dst": BROADCAST}
        flows[dpid].append(
            api.DesiredFlow(priority=PN_PRIORITY, match=match, instructions=_out(sorted(outs)))
        )
    return api.OwnerState(
        switches={
            api.format_dpid(dpid): api.SwitchRules(flows=tuple(f)) for dpid, f in flows.items()
        }
    )
