"""Durable desired state of magma: one SQLite row per owner.

Role: magma (paper section IV) must survive its own restart. The desired
state is the only thing it cannot rebuild from the switches (their tables
may be stale, wiped or hand-edited), so it is written here *before* it is
applied; a restarted magma loads it and resynchronises every switch that
reconnects to the same desired state without anyone PUTting it again.

Design: one table ``owner_state(owner TEXT PRIMARY KEY, state TEXT, updated REAL)``
holding each owner's :class:`~openvolcano.api.magma.OwnerState` as JSON.
Every write is its own committed transaction (WAL journal), so a SIGKILL
between two PUTs loses nothing that was acknowledged. Writes are tiny and
rare (one per PUT/DELETE): they run on the caller's thread. A row that no
longer validates (schema drift, hand edit) is refused at load with an error
naming the owner, never silently dropped.

Invariants: :meth:`DesiredStore.load` returns exactly the owners saved and
not deleted; the file is created (with its parent directory) on open.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from pydantic import ValidationError

from openvolcano.api import magma as api
from openvolcano.common.errors import InvalidInput

__all__ = ["DEFAULT_STATE_DB", "DesiredStore"]

DEFAULT_STATE_DB = "/var/lib/openvolcano/magma/desired.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS owner_state (
    owner   TEXT PRIMARY KEY,
    state   TEXT NOT NULL,
    updated REAL NOT NULL
)
"""


class DesiredStore:
    """Desired state per owner in the SQLite file ``path`` (``":memory:"`` for none)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as e:
            raise InvalidInput(f"cannot open the state database {self.path!r}: {e}") from None

    def load(self) -> dict[str, api.OwnerState]:
        out: dict[str, api.OwnerState] = {}
        rows = self._db.execute("SELECT owner, state FROM owner_state ORDER BY owner")
        for owner, text in rows:
            try:
                out[owner] = api.OwnerState.model_validate_json(text)
            except ValidationError as e:
                raise InvalidInput(
                    f"state database {self.path!r}: owner {owner!r} is not valid: "
                    f"{e.errors()[0]['msg']}"
                ) from None
        return out

    def save(self, owner: str, state: api.OwnerState) -> None:
        self._db.execute(
            "INSERT INTO owner_state (owner, state, updated) VALUES (?, ?, ?) "
            "ON CONFLICT(owner) DO UPDATE SET state = excluded.state, updated = excluded.updated",
            (owner, state.model_dump_json(), time.time()),
        )

    def delete(self, owner: str) -> None:
        self._db.execute("DELETE FROM owner_state WHERE owner = ?", (owner,))

    def data_version(self) -> int:
        """Changes whenever another connection (another magma) committed to the file."""
        return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def close(self) -> None:
        self._db.close()
