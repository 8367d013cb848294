"""One OpenFlow flow table: entries, the flow-mod commands, timeouts and counters.

Role: quake's pipeline (paper §4, Caldera) holds ``n_tables`` of these. A
:class:`FlowTable` implements the *table-local* semantics of OFPT_FLOW_MOD
(OpenFlow 1.3.5 §6.4) over a :class:`~.classifier.Classifier`:

* ADD: an entry with the identical (normalised) match and priority is
  replaced - duration restarts, counters are kept unless OFPFF_RESET_COUNTS,
  no FLOW_REMOVED is sent for it; with OFPFF_CHECK_OVERLAP an overlapping
  entry of the same priority refuses the add (OFPFMFC_OVERLAP); a full
  table refuses a new entry (OFPFMFC_TABLE_FULL);
* MODIFY / MODIFY_STRICT: replace the instructions of the selected entries
  (cookie/cookie_mask filter; counters reset with OFPFF_RESET_COUNTS);
  selecting nothing is not an error and adds nothing (1.3 semantics);
* DELETE / DELETE_STRICT: remove the selected entries, filtered by
  cookie/cookie_mask, out_port and out_group; returned so the pipeline can
  send FLOW_REMOVED(OFPRR_DELETE) for those with OFPFF_SEND_FLOW_REM;
* :meth:`expire` removes entries whose idle or hard timeout has passed.

Non-strict selection: an entry is selected if its match is at least as
specific as the request's (:func:`~.fields.covers`); strict selection needs
the identical match and priority.

Validation of instructions needs groups, meters and ports and lives in the
pipeline; by the time a command reaches this module it is valid except for
table-local conditions (overlap, capacity).

Invariant: every entry is in the classifier exactly once and in
``_timed`` iff it has a non-zero timeout.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from openvolcano.ofp import consts as c
from openvolcano.ofp.actions import ActionGroup, ActionOutput
from openvolcano.ofp.instructions import (
    Instruction,
    InstructionApplyActions,
    InstructionMeter,
    InstructionWriteActions,
)
from openvolcano.ofp.oxm import Match

from .classifier import Classifier, Mask, MatchKey, Rule, split_key
from .errors import PipelineError
from .fields import covers, overlaps

__all__ = ["FlowEntry", "FlowTable", "duration"]


def duration(now: float, since: float) -> tuple[int, int]:
    """(sec, nsec) elapsed, never negative."""
    d = max(0.0, now - since)
    sec = int(d)
    return sec, min(999_999_999, round((d - sec) * 1e9))


@dataclass(eq=False, kw_only=True, slots=True)
class FlowEntry:
    """A flow entry. Written by its table (mod/expire) and the pipeline (counters on hit)."""

    table_id: int
    match: Match
    key: MatchKey
    priority: int
    cookie: int = 0
    idle_timeout: int = 0
    hard_timeout: int = 0
    flags: int = 0
    instructions: tuple[Instruction, ...] = ()
    created: float = 0.0
    last_used: float = 0.0
    packet_count: int = 0
    byte_count: int = 0
    rule: Rule[FlowEntry] | None = field(default=None, repr=False)
    # The replica update that carries this entry to the workers (fast path; 0 otherwise):
    # counter reports from an older replica version belong to an older entry.
    version: int = 0

    @property
    def is_table_miss(self) -> bool:
        return self.priority == 0 and not self.key

    def out_ports(self) -> Iterator[int]:
        for ins in self.instructions:
            if isinstance(ins, (InstructionApplyActions, InstructionWriteActions)):
                for a in ins.actions:
                    if isinstance(a, ActionOutput):
                        yield a.port

    def out_groups(self) -> Iterator[int]:
        for ins in self.instructions:
            if isinstance(ins, (InstructionApplyActions, InstructionWriteActions)):
                for a in ins.actions:
                    if isinstance(a, ActionGroup):
                        yield a.group_id

    def meter_id(self) -> int | None:
        for ins in self.instructions:
            if isinstance(ins, InstructionMeter):
                return ins.meter_id
        return None

    def selected_by(self, cookie: int, cookie_mask: int, out_port: int, out_group: int) -> bool:
        if (self.cookie ^ cookie) & cookie_mask:
            return False
        if out_port != c.OFPP_ANY and out_port not in set(self.out_ports()):
            return False
        return out_group == c.OFPG_ANY or out_group in set(self.out_groups())


class FlowTable:
    """A flow table. Single writer: the pipeline that owns it."""

    def __init__(self, table_id: int, max_entries: int) -> None:
        self.table_id = table_id
        self.max_entries = max_entries
        self.config = 0
        self.lookup_count = 0
        self.matched_count = 0
        self.classifier: Classifier[FlowEntry] = Classifier()
        self._timed: set[FlowEntry] = set()
        # split_key() of the last entry add() was given (a change hook can reuse it)
        self.last_split: tuple[Mask, tuple[int, ...]] = ((), ())

    def __len__(self) -> int:
        return len(self.classifier)

    def has_timed(self) -> bool:
        """Whether some entry has an idle or hard timeout (:meth:`expire` has work)."""
        return bool(self._timed)

    def entries(self) -> Iterator[FlowEntry]:
        for rule in self.classifier:
            yield rule.payload

    def _insert(self, entry: FlowEntry, split: tuple[Mask, tuple[int, ...]] | None = None) -> None:
        entry.rule = Rule(entry.key, entry.priority, entry)
        self.classifier.insert(entry.rule, split)
        if entry.idle_timeout or entry.hard_timeout:
            self._timed.add(entry)

    def _remove(self, entry: FlowEntry) -> None:
        assert entry.rule is not None
        self.classifier.remove(entry.rule)
        self._timed.discard(entry)

    def add(self, entry: FlowEntry) -> FlowEntry | None:
        """OFPFC_ADD of a validated entry (see the module docstring for replace semantics);
        the entry it replaced, if any."""
        split = self.last_split = split_key(entry.key)
        old_rule = self.classifier.find_exact(entry.key, entry.priority, split)
        if entry.flags & c.OFPFF_CHECK_OVERLAP:
            for other in self.entries():
                if other.priority == entry.priority and overlaps(other.key, entry.key):
                    if other.key == entry.key:
                        continue  # identical: replaced, not an overlap
                    raise PipelineError(
                        c.OFPET_FLOW_MOD_FAILED,
                        c.OFPFMFC_OVERLAP,
                        f"overlaps an entry of priority {entry.priority} in table {self.table_id}",
                    )
        if old_rule is None and len(self) >= self.max_entries:
            raise PipelineError(
                c.OFPET_FLOW_MOD_FAILED,
                c.OFPFMFC_TABLE_FULL,
                f"table {self.table_id} is full ({self.max_entries} entries)",
            )
        if old_rule is not None:
            old = old_rule.payload
            if not entry.flags & c.OFPFF_RESET_COUNTS:
                entry.packet_count, entry.byte_count = old.packet_count, old.byte_count
            self._remove(old)
            self._insert(entry, split)
            return old
        self._insert(entry, split)
        return None

    def select(
        self,
        key: MatchKey,
        strict: bool,
        priority: int,
        cookie: int,
        cookie_mask: int,
        out_port: int = c.OFPP_ANY,
        out_group: int = c.OFPG_ANY,
    ) -> list[FlowEntry]:
        """The entries a MODIFY/DELETE (or stats request) with these arguments selects."""
        if strict:
            rule = self.classifier.find_exact(key, priority)
            cands = [] if rule is None else [rule.payload]
        else:
            cands = [e for e in self.entries() if covers(key, e.key)]
        return [e for e in cands if e.selected_by(cookie, cookie_mask, out_port, out_group)]

    def modify(
        self, targets: list[FlowEntry], instructions: tuple[Instruction, ...], reset_counts: bool
    ) -> None:
        for e in targets:
            e.instructions = instructions
            if reset_counts:
                e.packet_count = e.byte_count = 0
        # The lookup cache holds rules, whose payload we just changed in place: still valid.

    def delete(self, targets: list[FlowEntry]) -> None:
        for e in targets:
            self._remove(e)

    def expire(self, now: float) -> list[tuple[FlowEntry, int]]:
        """Remove timed-out entries: ``[(entry, OFPRR_HARD_TIMEOUT | OFPRR_IDLE_TIMEOUT)]``."""
        out: list[tuple[FlowEntry, int]] = []
        for e in list(self._timed):
            if e.hard_timeout and now - e.created >= e.hard_timeout:
                out.append((e, c.OFPRR_HARD_TIMEOUT))
            elif e.idle_timeout and now - e.last_used >= e.idle_timeout:
                out.append((e, c.OFPRR_IDLE_TIMEOUT))
        for e, _ in out:
            self._remove(e)
        out.sort(key=lambda x: (x[0].created, x[0].priority))
        return out
