"""A numpy index of the compact cache's slot keys: a whole batch looked up in ~20 array calls.

Role (paper §VI; docs/quake-fastpath.md "Many flows: the batch index"): with
tens of thousands of live flows, the worker's flow cache (:mod:`.compact_cache`)
pays one dict lookup per frame: a fresh key slice, its hash, and four lines
of memory at random (the dict's index and entry, the stored key, the slot's
``int``), each a wait on memory once the ~10 MB of 65,536 keys no longer
fit the core's cache beside the rings. This index answers the same question
for a whole batch - "which table-0 slot does each frame's key map to?" - with
numpy calls whose loops issue the loads of all frames at once, so their waits
overlap, over compact arrays (~90-140 bytes a live flow, beside the dict's entry).

Design: a two-choice cuckoo hash table over the frames' key bytes
``frame[a:b]`` (the cache key ``frame[lo:hi]`` widened to whole 8-byte words:
a stricter key, so a hit here implies the cache's hit). Each key has two cells,
from two multiplicative hashes of its words (a matrix product each); a cell
holds a 31-bit fingerprint and the key's entry number, so a lookup reads
both cells, keeps the one whose fingerprint matches, and checks the whole key
against the entry's stored words (one ``bytes`` comparison for the batch).
Insertion moves keys between their two cells (cuckoo); a table that cannot
place a key doubles and rehashes. Keys are only ever added; :meth:`clear`
drops them all.

Invariants: an entry maps a key to the value the owner's cache dict held for
a frame with that key when it was learnt; the owner clears the index whenever
its dict loses or changes entries (invalidation, eviction), so every answer
is the dict's. :meth:`lookup` answers for every frame of a batch or for none
(None: a frame too short, unknown, or a fingerprint clash - the owner then
takes its per-frame path, which is always right).
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import numpy as np

__all__ = ["BatchIndex"]

_U64 = np.uint64
# Odd 64-bit multipliers (two hash functions over up to 8 words of key).
_K1 = np.array([0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                0x27D4EB2F165667C5, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53,
                0x94D049BB133111EB, 0xBF58476D1CE4E5B9], dtype=_U64)  # fmt: skip
_K2 = np.array([0xD6E8FEB86659FD93, 0xA0761D6478BD642F, 0xE7037ED1A0B428DB,
                0x8EBC6AF09C88C6E3, 0x589965CC75374CC3, 0x1D8E4E27C47D124F,
                0x2545F4914F6CDD1D, 0x9FB21C651E98DF25], dtype=_U64)  # fmt: skip
_S32 = _U64(32)
_LOW = _U64(0xFFFFFFFF)
_S33 = _U64(33)  # fingerprint: the top 31 bits of hash 2 (depend on every key bit)
_MIN_BITS = 10  # smallest table: 1,024 cells
_MAX_LOAD = 0.45  # two-choice cuckoo tables fill reliably below one half
_MAX_KICKS = 64  # moves per insertion before the table grows
MAX_WORDS = len(_K1)  # keys of at most 64 bytes


class BatchIndex:
    """Key bytes ``frame[a:b]`` -> a non-negative ``int`` (a slot number), for whole batches."""

    def __init__(self, lo: int, hi: int) -> None:
        a, b = lo & ~7, (hi + 7) & ~7
        if not 0 <= lo < hi or (b - a) // 8 > MAX_WORDS:
            raise ValueError(f"key bytes [{lo}, {hi}) do not fit {MAX_WORDS} words")
        self.width = b - a
        self._a, self._b = a, b
        self.key = itemgetter(slice(a, b))  # frame -> its key bytes (short frame: fewer)
        nw = self.width // 8
        self._k1, self._k2 = _K1[:nw].copy(), _K2[:nw].copy()
        self._nw = nw
        self.clear()

    def __len__(self) -> int:
        return self._n

    def clear(self) -> None:
        """Forget every key (the owner's cache dropped its entries)."""
        self._bits = _MIN_BITS
        self._shift = _U64(64 - _MIN_BITS)
        self._cells = np.zeros(1 << _MIN_BITS, dtype=_U64)  # 0: empty; fp << 32 | entry
        # Per entry: key words, value, both hashes. Entry 0 is a sentinel (value -1, key of
        # zeros): an empty cell's lookup lands on it.
        self._keys = np.zeros((64, self._nw), dtype=_U64)
        self._vals = np.full(64, -1, dtype=np.int32)
        self._h1, self._h2 = array("Q", [0]), array("Q", [0])  # each entry's hashes (placement)
        self._n = 0

    # --- hashing -------------------------------------------------------------------------
    def _hashes(self, w: np.ndarray[Any, Any]) -> tuple[Any, Any]:
        """Both 64-bit hashes of each row of key words ``w`` (multiplicative: the top bits,
        which give the cells and the fingerprint, depend on every bit of the key)."""
        return w @ self._k1, w @ self._k2

    def _words(self, frames: Sequence[bytes], length: int) -> np.ndarray[Any, Any] | None:
        """The key words of each frame as rows (contiguous), or None (a frame too short).
        ``length``: every frame's length, if they are all the same (else 0)."""
        n = len(frames)
        if length >= self._b:  # one join of whole frames, the keys cut out by numpy
            raw = np.frombuffer(b"".join(frames), dtype=np.uint8).reshape(n, length)
            return raw[:, self._a : self._b].copy().view(_U64)
        buf = b"".join(map(self.key, frames))
        if len(buf) != self.width * n:
            return None
        return np.frombuffer(buf, dtype=_U64).reshape(n, self._nw)

    # --- the batch lookup ----------------------------------------------------------------
    def lookup(
        self, frames: Sequence[bytes], length: int = 0
    ) -> np.ndarray[Any, np.dtype[np.int32]] | None:
        """The value of every frame's key (int32 array), or None if any frame has none.
        ``length``: the length of every frame, if the caller knows they are all equal."""
        if not self._n:
            return None
        w = self._words(frames, length)
        if w is None:
            return None
        h1, h2 = self._hashes(w)
        cells, sh = self._cells, self._shift
        c1 = cells[h1 >> sh]
        c2 = cells[h2 >> sh]
        e = np.where(c1 >> _S32 == h2 >> _S33, c1, c2) & _LOW
        if self._keys.take(e, axis=0).tobytes() != w.tobytes():
            return None  # unknown key (or a fingerprint clash): the per-frame path decides
        vals: np.ndarray[Any, np.dtype[np.int32]] = self._vals.take(e)
        if vals.min() < 0:
            return None  # an empty cell's sentinel, whose stored (zero) key matched
        return vals

    # --- learning ------------------------------------------------------------------------
    def learn(self, frames: Sequence[bytes], values: Sequence[Any]) -> int:
        """Add each frame's key with its value where the value is a non-negative ``int``
        (the cache dict's values for these frames; others are skipped). Keys already
        known, and frames too short for the key, are skipped. How many were added."""
        keyf, width = self.key, self.width
        new: dict[bytes, int] = {}
        for f, v in zip(frames, values, strict=True):
            if v.__class__ is int and v >= 0:
                k = keyf(f)
                if len(k) == width:
                    new.setdefault(k, v)
        if not new:
            return 0
        keys = list(new)
        w = np.frombuffer(b"".join(keys), dtype=_U64).reshape(len(keys), self._nw)
        h1, h2 = self._hashes(w)
        if self._n:  # drop the keys already known (both cells checked, whole keys compared)
            sh = self._shift
            known = np.zeros(len(keys), dtype=bool)
            for c in (self._cells[h1 >> sh], self._cells[h2 >> sh]):
                e = c & _LOW
                known |= (e > 0) & (self._keys.take(e, axis=0) == w).all(axis=1)
            if known.any():
                fresh = ~known
                keys = [k for k, old in zip(keys, known.tolist(), strict=True) if not old]
                w, h1, h2 = w[fresh], h1[fresh], h2[fresh]
                if not keys:
                    return 0
        m = len(keys)
        first, last = self._n + 1, self._n + m
        if last >= len(self._keys):
            size = max(2 * len(self._keys), last + 1)
            self._keys = _grown(self._keys, size, 0)
            self._vals = _grown(self._vals, size, -1)
        self._keys[first : last + 1] = w
        self._vals[first : last + 1] = [new[k] for k in keys]
        self._h1.frombytes(h1.tobytes())
        self._h2.frombytes(h2.tobytes())
        self._n = last
        if last > _MAX_LOAD * len(self._cells):  # grow: every entry placed anew
            self._rebuild(max(self._bits + 1, math.ceil(math.log2(last / _MAX_LOAD))))
        elif not self._place(range(first, last + 1)):
            self._rebuild(self._bits + 1)
        return m

    def _place(self, entries: range) -> bool:
        """Put each entry in one of its two cells, moving others to their other cell (cuckoo).
        False: an entry was left out (the table must grow)."""
        cells = self._cells
        sh = 64 - self._bits
        hs1, hs2 = self._h1, self._h2
        for e in entries:
            cell = (hs2[e] >> 33) << 32 | e
            pos = hs1[e] >> sh
            for _ in range(_MAX_KICKS):
                old = int(cells[pos])
                cells[pos] = cell
                if not old:
                    break
                cell = old  # the evicted entry goes to its other cell
                o = old & 0xFFFFFFFF
                p1 = hs1[o] >> sh
                pos = hs2[o] >> sh if p1 == pos else p1
            else:
                return False
        return True

    def _rebuild(self, bits: int) -> None:
        """A table of ``2**bits`` cells (or more, if placement fails) with every entry."""
        while True:
            self._bits = bits
            self._shift = _U64(64 - bits)
            self._cells = np.zeros(1 << bits, dtype=_U64)
            if self._place(range(1, self._n + 1)):
                return
            bits += 1


def _grown(a: np.ndarray[Any, Any], size: int, fill: int) -> np.ndarray[Any, Any]:
    """``a`` extended to ``size`` rows with ``fill``."""
    out = np.full((size, *a.shape[1:]), fill, dtype=a.dtype)
    out[: len(a)] = a
    return out
