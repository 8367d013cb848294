"""Tuple-space-search classifier vs a naive linear scan (hypothesis), plus the cache and early exit."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from openvolcano.caldera.quake.pipeline.classifier import Classifier, Rule

# Three small fields keep collisions (and so interesting priority fights) frequent.
FIELDS = (0, 3, 12)
WIDTH = 4

masks = st.sampled_from([0x0, 0x3, 0xC, 0xF])
rule_st = st.tuples(
    st.lists(st.tuples(masks, st.integers(0, 15)), min_size=3, max_size=3),
    st.integers(0, 6),
)
key_st = st.lists(st.one_of(st.none(), st.integers(0, 15)), min_size=3, max_size=3)


def _make(spec: tuple[list[tuple[int, int]], int], i: int) -> Rule[int]:
    fields, prio = spec
    match = tuple((f, v & m, m) for f, (m, v) in zip(FIELDS, fields, strict=True) if m)
    return Rule(match, prio, i)


def _key(vals: list[int | None]) -> list[int | None]:
    key: list[int | None] = [None] * 40
    for f, v in zip(FIELDS, vals, strict=True):
        key[f] = v
    return key


@settings(max_examples=300, deadline=None)
@given(st.lists(rule_st, max_size=25), st.lists(key_st, min_size=1, max_size=10), st.data())
def test_tss_agrees_with_linear_scan(specs: list, keys: list, data: st.DataObject) -> None:
    cls: Classifier[int] = Classifier()
    rules = [_make(s, i) for i, s in enumerate(specs)]
    for r in rules:
        cls.insert(r)
    # remove a random subset, to exercise max_priority maintenance
    removed = data.draw(st.sets(st.integers(0, max(0, len(rules) - 1)), max_size=len(rules) // 2))
    live = [r for i, r in enumerate(rules) if i not in removed]
    for i in removed:
        if i < len(rules):
            cls.remove(rules[i])
    assert len(cls) == len(live)
    for vals in keys:
        key = _key(vals)
        matching = [r for r in live if r.matches(key)]
        got = cls.lookup(key)
        assert got is cls.lookup(key)  # cached answer is the same
        if not matching:
            assert got is None
            continue
        best = max(r.priority for r in matching)
        assert got is not None
        assert got.matches(key)
        assert got.priority == best
        top = [r for r in matching if r.priority == best]
        if len(top) == 1:
            assert got is top[0]


def test_early_exit_skips_low_priority_subtables() -> None:
    cls: Classifier[str] = Classifier()
    cls.insert(Rule(((3, 1, 0xF),), 100, "high"))
    for m in range(1, 15):  # many low-priority subtables with distinct masks
        cls.insert(Rule(((12, 0, m),), 1, f"low{m}"))
    key = _key([0, 1, 0])
    order = cls._ordered()
    assert order[0].max_priority == 100
    assert cls.n_subtables() == 15
    hit = cls.lookup_uncached(key)
    assert hit is not None
    assert hit.payload == "high"


def test_cache_invalidated_on_change() -> None:
    cls: Classifier[str] = Classifier()
    key = _key([1, 2, 3])
    assert cls.lookup(key) is None
    r = Rule(((0, 1, 0xF),), 5, "a")
    cls.insert(r)
    assert cls.lookup(key) is r
    cls.remove(r)
    assert cls.lookup(key) is None
    assert len(cls) == 0
    assert cls.n_subtables() == 0
