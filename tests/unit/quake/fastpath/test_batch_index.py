"""The numpy batch index of the workers' flow cache: whole batches answered or refused.

Oracle: a plain dict from the same key bytes to the same values. The index must give
every frame's value when it knows every key, and refuse (None) the whole batch when
one frame is unknown or too short - never a wrong value, whatever the table's growth
(cuckoo moves, rebuilds) has done.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openvolcano.caldera.quake.fastpath.batch_index import BatchIndex


def _frames(n: int, seed: int = 1, size: int = 64) -> list[bytes]:
    rnd = random.Random(seed)
    return [rnd.randbytes(size) for _ in range(n)]


def test_answers_every_learnt_key_through_growth_and_refuses_unknown_or_short_frames() -> None:
    ix = BatchIndex(0, 38)  # the cache key frame[0:38]; the index reads whole words [0, 40)
    frames = _frames(5000)
    for i in range(0, 5000, 250):  # learnt in batches: the table grows from 1,024 cells
        assert ix.learn(frames[i : i + 250], list(range(i, i + 250))) == 250
    assert len(ix) == 5000
    assert ix.learn(frames[:300], [7] * 300) == 0  # known keys keep their values
    for i in range(0, 5000, 500):
        for length in (64, 0):  # one join of whole frames, or of key slices
            got = ix.lookup(frames[i : i + 500], length)
            assert got is not None
            assert got.tolist() == list(range(i, i + 500))
    assert ix.lookup([*frames[:10], _frames(1, seed=9)[0]]) is None  # one unknown key
    assert ix.lookup([frames[0], frames[1][:39]]) is None  # one frame shorter than the key
    # bytes 38-39 are outside the cache key but inside the index's words: a stricter key
    assert ix.lookup([frames[0][:38] + b"zz" + frames[0][40:]]) is None
    ix.clear()
    assert len(ix) == 0
    assert ix.lookup(frames[:3]) is None


def test_learns_only_non_negative_ints_and_keys_of_full_length() -> None:
    ix = BatchIndex(12, 30)  # words [8, 32)
    f = _frames(6, seed=2)
    program = object()  # a full Program in the cache dict: never indexed
    assert ix.learn([*f[:4], f[4][:20], f[5]], [1, None, program, -1, 5, 6]) == 2
    assert ix.lookup([f[0], f[5], f[0]]) is not None
    assert ix.lookup([f[1]]) is None
    assert ix.lookup([f[0]]).tolist() == [1]  # type: ignore[union-attr]


def test_an_all_zero_key_is_not_mistaken_for_an_empty_cell() -> None:
    ix = BatchIndex(0, 16)
    ix.learn(_frames(3, seed=3), [1, 2, 3])
    assert ix.lookup([bytes(64)]) is None  # an empty cell's sentinel entry has a zero key
    assert ix.learn([bytes(64)], [9]) == 1
    assert ix.lookup([bytes(64), bytes(64)]).tolist() == [9, 9]  # type: ignore[union-attr]


def test_keys_too_wide_for_the_index_are_refused() -> None:
    with pytest.raises(ValueError, match="words"):
        BatchIndex(0, 70)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=300), st.integers(0, 2**31))
def test_agrees_with_a_dict(picks: list[int], seed: int) -> None:
    """Keys that share most bytes (one varying byte pair, like flows of one host pair)
    learnt in random batches; every lookup equals the dict's answer or is None, and is
    None only when the dict lacks a key."""
    rnd = random.Random(seed)
    base = bytearray(rnd.randbytes(64))
    keys = []
    for i in range(41):
        base[34:36] = i.to_bytes(2, "big")
        keys.append(bytes(base))
    ix, ref = BatchIndex(0, 38), {}
    for start in range(0, len(picks), 7):
        batch = [keys[i] for i in picks[start : start + 7]]
        vals = [i * 3 for i in picks[start : start + 7]]
        if rnd.random() < 0.5:
            ix.learn(batch, vals)
            for f, v in zip(batch, vals, strict=True):
                ref.setdefault(f[:38], v)
        got = ix.lookup(batch, 64)
        want = [ref.get(f[:38]) for f in batch]
        if None in want:
            assert got is None
        else:
            assert got is not None
            assert got.tolist() == want
