"""The hot-standby leader lease in the SQLite state db: one holder, expiry, growing generation.

Two :class:`Lease` objects on one file stand for two magma processes; ``now``
is passed in, so expiry is checked without waiting.
"""

from __future__ import annotations

from pathlib import Path

from openvolcano.stratov.magma.standby import Lease


def test_one_holder_until_expiry_then_takeover_with_a_higher_generation(tmp_path: Path) -> None:
    db = str(tmp_path / "desired.db")
    a, b = Lease(db, holder="a", ttl=3.0), Lease(db, holder="b", ttl=3.0)
    try:
        held, st = a.claim(now=100.0)
        assert held
        assert (st.holder, st.generation, st.expires) == ("a", 1, 103.0)
        held, st = b.claim(now=101.0)
        assert not held
        assert st.holder == "a"
        held, st = a.claim(now=102.0)  # renewal keeps the generation
        assert held
        assert (st.generation, st.expires) == (1, 105.0)
        held, st = b.claim(now=104.9)
        assert not held
        held, st = b.claim(now=105.1)  # a stopped renewing: b takes over
        assert held
        assert (st.holder, st.generation) == ("b", 2)
        held, st = a.claim(now=105.2)
        assert not held
        assert st.holder == "b"
    finally:
        a.close()
        b.close()


def test_release_expires_at_once_and_keeps_the_generation(tmp_path: Path) -> None:
    db = str(tmp_path / "desired.db")
    a, b = Lease(db, holder="a"), Lease(db, holder="b")
    try:
        assert a.claim(now=10.0)[0]
        a.release()
        held, st = b.claim(now=10.5)
        assert held
        assert st.generation == 2  # switches refuse a generation that goes back
    finally:
        a.close()
        b.close()
