"""OpenFlow 1.3 groups: the group table, GROUP_MOD validation, bucket selection.

Role: a group (spec §5.6) lets one flow action fan out (ALL), load-balance
(SELECT), share a next hop (INDIRECT) or fail over (FAST_FAILOVER). Groups
may chain to other groups (bucket action OFPAT_GROUP); a modification that
would make a group reach itself is refused with OFPGMFC_LOOP.

Design:

* :func:`validate_group_mod` checks a GROUP_MOD against the current table
  and returns nothing or raises the spec's ``OFPET_GROUP_MOD_FAILED`` error;
  action validation inside buckets is delegated to the pipeline's action
  checker (it knows the ports);
* SELECT picks a bucket by hashing the packet's flow fields (so one
  connection stays on one bucket), weighted by bucket weight, among *live*
  buckets only; FAST_FAILOVER picks the first live bucket. Liveness comes
  from the pipeline (port state, and recursively the watched group);
* deleting a group is refused while another group chains to it
  (OFPGMFC_CHAINED_GROUP); the flows forwarding to it are deleted by the
  pipeline (FLOW_REMOVED reason OFPRR_GROUP_DELETE).

Invariant: the group graph is acyclic at all times.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import Action, ActionGroup
from openvolcano.ofp.messages import GroupMod
from openvolcano.ofp.structs import Bucket

from .errors import PipelineError

__all__ = ["MAX_BUCKETS", "MAX_GROUPS", "Group", "chained_groups", "select_bucket",
           "validate_group_mod"]  # fmt: skip

MAX_GROUPS = 65536
MAX_BUCKETS = 64


@dataclass(eq=False)
class Group:
    """A group entry with its counters. Written by the pipeline only."""

    group_id: int
    type: int
    buckets: tuple[Bucket, ...]
    created: float
    packet_count: int = 0
    byte_count: int = 0
    bucket_packets: list[int] = field(default_factory=list)
    bucket_bytes: list[int] = field(default_factory=list)

    def reset_bucket_counters(self) -> None:
        self.bucket_packets = [0] * len(self.buckets)
        self.bucket_bytes = [0] * len(self.buckets)


def chained_groups(buckets: Sequence[Bucket]) -> set[int]:
    return {a.group_id for b in buckets for a in b.actions if isinstance(a, ActionGroup)}


def _reaches(
    start: set[int], target: int, groups: Mapping[int, Group], new: tuple[int, set[int]]
) -> bool:
    seen: set[int] = set()
    todo = list(start)
    while todo:
        g = todo.pop()
        if g == target:
            return True
        if g in seen:
            continue
        seen.add(g)
        nxt = (
            new[1] if g == new[0] else (chained_groups(groups[g].buckets) if g in groups else set())
        )
        todo.extend(nxt)
    return False


def validate_group_mod(
    mod: GroupMod,
    groups: Mapping[int, Group],
    check_actions: Callable[[Sequence[Action]], None],
) -> None:
    """Raise the spec's error for a GROUP_MOD the switch must refuse."""

    def bad(code: int, reason: str) -> PipelineError:
        return PipelineError(c.OFPET_GROUP_MOD_FAILED, code, reason)

    gid = mod.group_id
    if mod.command not in (c.OFPGC_ADD, c.OFPGC_MODIFY, c.OFPGC_DELETE):
        raise bad(c.OFPGMFC_BAD_COMMAND, f"unknown group command {mod.command}")
    if mod.command == c.OFPGC_DELETE:
        if gid != c.OFPG_ALL and gid > c.OFPG_MAX:
            raise bad(c.OFPGMFC_INVALID_GROUP, f"group id {gid:#x}")
        if gid in groups:
            users = [g for g, grp in groups.items() if gid in chained_groups(grp.buckets)]
            if users:
                raise bad(c.OFPGMFC_CHAINED_GROUP, f"group {gid} is used by groups {users}")
        return
    if gid > c.OFPG_MAX:
        raise bad(c.OFPGMFC_INVALID_GROUP, f"group id {gid:#x} is reserved")
    if mod.command == c.OFPGC_ADD and gid in groups:
        raise bad(c.OFPGMFC_GROUP_EXISTS, f"group {gid} exists")
    if mod.command == c.OFPGC_MODIFY and gid not in groups:
        raise bad(c.OFPGMFC_UNKNOWN_GROUP, f"group {gid} does not exist")
    if mod.command == c.OFPGC_ADD and len(groups) >= MAX_GROUPS:
        raise bad(c.OFPGMFC_OUT_OF_GROUPS, f"{MAX_GROUPS} groups already")
    if mod.type not in (c.OFPGT_ALL, c.OFPGT_SELECT, c.OFPGT_INDIRECT, c.OFPGT_FF):
        raise bad(c.OFPGMFC_BAD_TYPE, f"group type {mod.type}")
    if len(mod.buckets) > MAX_BUCKETS:
        raise bad(c.OFPGMFC_OUT_OF_BUCKETS, f"{len(mod.buckets)} buckets, at most {MAX_BUCKETS}")
    if mod.type == c.OFPGT_INDIRECT and len(mod.buckets) != 1:
        raise bad(c.OFPGMFC_INVALID_GROUP, "an indirect group has exactly one bucket")
    for b in mod.buckets:
        if mod.type != c.OFPGT_SELECT and b.weight:
            raise bad(c.OFPGMFC_BAD_BUCKET, "weight is only for select groups")
        if mod.type == c.OFPGT_FF and b.watch_port == c.OFPP_ANY and b.watch_group == c.OFPG_ANY:
            raise bad(c.OFPGMFC_BAD_WATCH, "a fast-failover bucket must watch a port or group")
        if b.watch_group != c.OFPG_ANY and b.watch_group not in groups and b.watch_group != gid:
            raise bad(c.OFPGMFC_BAD_WATCH, f"watched group {b.watch_group} does not exist")
        check_actions(b.actions)
    targets = chained_groups(mod.buckets)
    for t in targets:
        if t != gid and t not in groups:
            raise bad(c.OFPGMFC_CHAINING_UNSUPPORTED, f"bucket chains to unknown group {t}")
    if _reaches(targets, gid, groups, (gid, targets)):
        raise bad(c.OFPGMFC_LOOP, f"group {gid} would forward to itself")


def select_bucket(weights: Sequence[int], live: Sequence[bool], flow_hash: int) -> int | None:
    """Index of the SELECT bucket for a flow: weighted choice among live, non-zero-weight buckets."""
    total = sum(w for w, ok in zip(weights, live, strict=True) if ok)
    if total == 0:
        return None
    point = flow_hash % total
    for i, (w, ok) in enumerate(zip(weights, live, strict=True)):
        if ok:
            if point < w:
                return i
            point -= w
    return None
