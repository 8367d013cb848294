"""Tuple-space-search packet classifier: the flow lookup of every quake table.

Design essay
============

The paper's prototype scanned its flow list linearly; its throughput fell
apart above 128 flows. A flow table is a set of rules, each a *masked*
match (for every field: value and mask, an all-zero mask meaning "any")
plus a priority; lookup must return the highest-priority rule that
matches a packet's flow key.

Tuple space search (Srinivasan et al., SIGCOMM '99; the scheme behind Open
vSwitch's ``lib/classifier.c``) rests on one observation: real rule sets
use few distinct *masks* ("tuples") even when they hold many rules. Rules
that share a mask are grouped into a :class:`Subtable`, a hash table keyed
by the rule's masked values. Looking a packet up in a subtable is one
masking of the key with that subtable's mask and one dict probe, whatever
the number of rules in it. A lookup is therefore
O(number of distinct masks), not O(number of rules).

Priorities: each subtable remembers the highest priority of its rules
(``max_priority``); subtables are visited in decreasing ``max_priority``.
Once the best rule found so far has priority >= the next subtable's
``max_priority``, no remaining subtable can beat it and the search stops
early. Rule sets in which specific rules carry high priorities (the common
case: ACLs, MAC learning, routes by prefix length) are usually answered by
the first subtable or two. Two rules with the same priority that both
match a packet are, per the OpenFlow spec, an ambiguity the controller must
avoid (CHECK_OVERLAP exists for that); we return one of them, the first
inserted when both are in the same subtable.

Inside a hash bucket several rules can have identical masked values but
different priorities (identical match at different priorities); the bucket
is a list kept sorted by (descending priority, insertion sequence), so
its head is the bucket's answer.

Absent fields: a packet without an IPv4 header has ``None`` for
``ipv4_src``; masking keeps ``None``, and ``None`` never equals a rule's
int, so a rule that needs the field cannot match. Prerequisite checking
on flow-mod guarantees such rules also constrain the layer's presence.

An exact-match cache sits in front (DESIGN §4): a dict from the full flow
key to the winning rule, emptied whenever the rule set changes (a
*version* bump). Traffic made of a few long flows is then answered with
one dict probe. The cache is bounded (cleared when full) so memory cannot
grow with the number of distinct packets.

What this module does not do (OVS does, at C speed): staged lookup with
per-stage hashes, prefix tries for IP-address wildcards, and RCU-style
concurrent versions. quake gets concurrency by giving each worker process
its own replica (DESIGN §4), so this structure needs only single-writer
semantics.

Invariants: ``_order`` lists exactly the non-empty subtables, sorted by
``max_priority`` descending, whenever ``_dirty`` is false; a rule is in
exactly one bucket of exactly one subtable; :meth:`lookup` gives the same
winner priority as a linear scan (property-tested).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

__all__ = ["Classifier", "Mask", "Rule", "Subtable", "split_key"]

T = TypeVar("T")

# A normalised match: ((field, value, mask), ...) sorted by field, no zero masks,
# value already masked.
MatchKey = tuple[tuple[int, int, int], ...]
# A subtable signature: ((field, mask), ...) sorted by field.
Mask = tuple[tuple[int, int], ...]

_CACHE_MAX = 8192


def split_key(match: MatchKey) -> tuple[Mask, tuple[int, ...]]:
    """``(mask, values)`` of a normalised match: its subtable signature and bucket key."""
    if not match:
        return (), ()
    fs, vs, ms = zip(*match, strict=True)
    return tuple(zip(fs, ms, strict=True)), vs


class Rule(Generic[T]):
    """One classifier rule. ``payload`` is the flow entry it belongs to."""

    __slots__ = ("match", "payload", "priority", "seq")

    def __init__(self, match: MatchKey, priority: int, payload: T) -> None:
        self.match = match
        self.priority = priority
        self.payload = payload
        self.seq = 0

    def mask(self) -> Mask:
        return tuple((f, m) for f, _, m in self.match)

    def values(self) -> tuple[int, ...]:
        return tuple(v for _, v, _ in self.match)

    def matches(self, key: list[int | None]) -> bool:
        """Reference semantics (used by strict checks and the linear-scan oracle)."""
        for f, v, m in self.match:
            k = key[f]
            if k is None or k & m != v:
                return False
        return True


class Subtable(Generic[T]):
    """All rules sharing one mask: a dict from masked values to a priority-sorted rule list."""

    __slots__ = ("buckets", "fields", "mask", "masks", "max_priority", "n_rules", "prios")

    def __init__(self, mask: Mask) -> None:
        self.mask = mask
        self.fields = tuple(f for f, _ in mask)
        self.masks = tuple(m for _, m in mask)
        self.buckets: dict[tuple[int | None, ...], list[Rule[T]]] = {}
        self.max_priority = -1
        self.n_rules = 0
        self.prios: dict[int, int] = {}  # priority -> rules: max_priority after a removal

    def probe(self, key: list[int | None]) -> Rule[T] | None:
        hk = tuple(
            None if (k := key[f]) is None else k & m
            for f, m in zip(self.fields, self.masks, strict=True)
        )
        bucket = self.buckets.get(hk)
        return bucket[0] if bucket else None


class Classifier(Generic[T]):
    """A set of rules with priority lookup by tuple-space search. Single writer."""

    def __init__(self) -> None:
        self._subtables: dict[Mask, Subtable[T]] = {}
        self._order: list[Subtable[T]] = []
        self._dirty = False
        self._seq = 0
        self._count = 0
        self._cache: dict[tuple[int | None, ...], Rule[T] | None] = {}
        self.version = 0

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Rule[T]]:
        for st in list(self._subtables.values()):
            for bucket in list(st.buckets.values()):
                yield from list(bucket)

    def n_subtables(self) -> int:
        return len(self._subtables)

    def masks(self) -> list[Mask]:
        """The distinct masks in use (the flow cache derives its key profile from them)."""
        return list(self._subtables)

    def _changed(self) -> None:
        self.version += 1
        self._cache.clear()

    def insert(self, rule: Rule[T], split: tuple[Mask, tuple[int, ...]] | None = None) -> None:
        """Add ``rule``; ``split`` is its :func:`split_key` when the caller has it already."""
        self._seq += 1
        rule.seq = self._seq
        mask, values = split_key(rule.match) if split is None else split
        st = self._subtables.get(mask)
        if st is None:
            st = self._subtables[mask] = Subtable(mask)
        bucket = st.buckets.setdefault(values, [])
        i = 0
        while i < len(bucket) and bucket[i].priority >= rule.priority:
            i += 1
        bucket.insert(i, rule)
        st.n_rules += 1
        st.prios[rule.priority] = st.prios.get(rule.priority, 0) + 1
        if rule.priority > st.max_priority:
            st.max_priority = rule.priority
        self._dirty = True
        self._count += 1
        self._changed()

    def remove(self, rule: Rule[T]) -> None:
        mask, values = split_key(rule.match)
        st = self._subtables[mask]
        bucket = st.buckets[values]
        bucket.remove(rule)
        if not bucket:
            del st.buckets[values]
        st.n_rules -= 1
        left = st.prios[rule.priority] - 1
        if left:
            st.prios[rule.priority] = left
        else:
            del st.prios[rule.priority]
        if st.n_rules == 0:
            del self._subtables[mask]
        elif not left and rule.priority == st.max_priority:
            st.max_priority = max(st.prios)  # O(distinct priorities), not O(rules)
        self._dirty = True
        self._count -= 1
        self._changed()

    def find_exact(
        self, match: MatchKey, priority: int, split: tuple[Mask, tuple[int, ...]] | None = None
    ) -> Rule[T] | None:
        """The rule with exactly this match and priority (strict semantics)."""
        mask, values = split_key(match) if split is None else split
        st = self._subtables.get(mask)
        if st is None:
            return None
        for r in st.buckets.get(values, ()):
            if r.priority == priority:
                return r
        return None

    def _ordered(self) -> list[Subtable[T]]:
        if self._dirty:
            self._order = sorted(self._subtables.values(), key=lambda s: -s.max_priority)
            self._dirty = False
        return self._order

    def lookup(self, key: list[int | None]) -> Rule[T] | None:
        """The highest-priority rule matching ``key`` (cached by the full key)."""
        ck = tuple(key)
        cache = self._cache
        if ck in cache:
            return cache[ck]
        best = self.lookup_uncached(key)
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[ck] = best
        return best

    def lookup_uncached(self, key: list[int | None]) -> Rule[T] | None:
        best: Rule[T] | None = None
        for st in self._ordered():
            if best is not None and best.priority >= st.max_priority:
                break
            r = st.probe(key)
            if r is not None and (best is None or r.priority > best.priority):
                best = r
        return best
