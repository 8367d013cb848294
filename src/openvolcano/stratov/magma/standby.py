"""Hot standby for magma: a leader lease in the shared state database, and the election loop.

Role: magma (paper section IV) is the only writer of the network's flow
tables, so losing it must not stop the Commit stage for long. Two magma
processes run against the same switches and the same ``--state-db`` file;
one is OpenFlow MASTER and programs, the other is SLAVE: it keeps its switch
sessions (features, ports, port status) and the desired state, and programs
nothing (the switches refuse a slave's changes anyway). When the master
dies the slave takes over.

Design (``--role auto``):

* **Lease.** One row ``leader_lease(holder, generation, expires)`` in the
  SQLite state database. :meth:`Lease.claim` runs in one ``BEGIN IMMEDIATE``
  transaction (SQLite's write lock makes it atomic across processes): the
  caller gets the lease if nobody holds it, it expired, or the caller holds it
  already (a renewal); ``expires`` becomes ``now + ttl``. Taking over from
  another holder increments ``generation``.
* **Election loop** (:func:`run_election`): every ``lease_interval`` s
  (1 s) claim the lease. Holding it and not master -> become master with the
  lease's generation as OpenFlow generation id: ROLE_REQUEST(MASTER) on every
  switch, reload the desired state from the store, and resync every switch
  (dump, diff, fix). Not holding it and master -> become slave (a paused
  master that lost its lease). The switches enforce the order: a
  ROLE_REQUEST with a generation id older than one they have seen is refused
  (OFPRRFC_STALE), so a stale master cannot take a switch back; a slave
  therefore uses the lease's current generation in its own ROLE_REQUESTs.
* A slave reloads the desired state whenever the store changed (SQLite's
  ``data_version``), so its REST API shows what the master stores.
* Take-over time: at most ``lease_ttl + lease_interval`` s after the master's
  last renewal (4 s with the defaults) plus one resync. Holders are compared
  by id (``host:pid:random``); expiry uses the wall clock, so both instances
  must share a host (they share the SQLite file anyway).

Invariants: at most one holder of an unexpired lease; the generation only grows.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import sqlite3
import time
from dataclasses import dataclass

from openvolcano.common.errors import InvalidInput

from .controller import Magma

__all__ = ["Lease", "LeaseState", "run_election"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leader_lease (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    holder     TEXT NOT NULL,
    generation INTEGER NOT NULL,
    expires    REAL NOT NULL
)
"""


@dataclass(frozen=True)
class LeaseState:
    holder: str
    generation: int
    expires: float


class Lease:
    """The leader lease in the SQLite file ``path`` (the magma state database)."""

    def __init__(self, path: str, holder: str | None = None, ttl: float = 3.0) -> None:
        self.path = path
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.ttl = ttl
        try:
            self._db = sqlite3.connect(path, isolation_level=None, timeout=ttl)
            self._db.execute(_SCHEMA)
        except sqlite3.Error as e:
            raise InvalidInput(f"cannot open the lease in {path!r}: {e}") from None

    def read(self) -> LeaseState | None:
        row = self._db.execute("SELECT holder, generation, expires FROM leader_lease").fetchone()
        return None if row is None else LeaseState(row[0], int(row[1]), float(row[2]))

    def claim(self, now: float | None = None) -> tuple[bool, LeaseState]:
        """Take or renew the lease if free, expired or ours; (held by us, the lease now)."""
        t = time.time() if now is None else now
        self._db.execute("BEGIN IMMEDIATE")
        try:
            cur = self.read()
            if cur is not None and cur.holder != self.holder and cur.expires > t:
                self._db.execute("COMMIT")
                return False, cur
            generation = 1 if cur is None else cur.generation + (cur.holder != self.holder)
            new = LeaseState(self.holder, generation, t + self.ttl)
            self._db.execute(
                "INSERT INTO leader_lease (id, holder, generation, expires) VALUES (1, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET holder = excluded.holder, "
                "generation = excluded.generation, expires = excluded.expires",
                (new.holder, new.generation, new.expires),
            )
            self._db.execute("COMMIT")
            return True, new
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def release(self) -> None:
        """Give the lease up at once (clean shutdown): the standby need not wait for expiry."""
        # keep the row: the generation must keep growing (switches refuse a stale one)
        self._db.execute("UPDATE leader_lease SET expires = 0 WHERE holder = ?", (self.holder,))

    def close(self) -> None:
        self._db.close()


async def run_election(magma: Magma, lease: Lease) -> None:
    """Claim/renew the lease every ``lease_interval`` s and follow it with magma's role."""
    interval = magma.config.lease_interval
    seen_version = -1
    while True:
        try:
            held, state = lease.claim()
        except sqlite3.Error as e:  # locked for longer than the ttl: try again
            log.warning("lease %s: %s", lease.path, e)
            held, state = False, None
        if held and state is not None and magma.role != "master":
            log.info("lease taken (generation %d): becoming master", state.generation)
            await magma.set_role("master", state.generation)
        elif not held and state is not None:
            if magma.role == "master":
                log.warning("lease lost to %s: becoming slave", state.holder)
                await magma.set_role("slave", state.generation)
            else:  # a slave's ROLE_REQUEST carries the current generation, or it is stale
                magma.generation_id = state.generation
        if magma.role == "slave" and magma.store is not None:
            version = magma.store.data_version()
            if version != seen_version:
                seen_version = version
                magma.reload_desired()
        magma.lease = state
        await asyncio.sleep(interval)
