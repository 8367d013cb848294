"""magma's durable desired state: the SQLite store and Magma's use of it (no switch needed).

A restarted magma must see exactly the owners that were PUT and not deleted;
a conflicting PUT stores nothing; a broken database is a clear error.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from openvolcano.api import magma as api
from openvolcano.common.errors import Conflict, InvalidInput
from openvolcano.stratov.magma.controller import Magma, MagmaConfig
from openvolcano.stratov.magma.store import DesiredStore


def state(priority: int, dpid: str = "a1") -> api.OwnerState:
    return api.OwnerState.model_validate(
        {"switches": {dpid: {"flows": [{"priority": priority, "match": {"in_port": 1},
                                        "instructions": [{"type": "clear_actions"}]}]}}}
    )  # fmt: skip


def test_store_round_trip_survives_reopen(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "desired.db"  # parent directory created
    store = DesiredStore(db)
    store.save("pn-a", state(1))
    store.save("pn-b", state(2))
    store.save("pn-a", state(3))  # replaces
    store.delete("pn-b")
    store.delete("nobody")
    store.close()
    again = DesiredStore(db)
    assert again.load() == {"pn-a": state(3)}
    again.close()


def test_magma_persists_before_applying_and_reloads(tmp_path: Path) -> None:
    db = tmp_path / "desired.db"

    async def first() -> None:
        magma = Magma(MagmaConfig(lldp_interval=0), store=DesiredStore(db))
        await magma.put_owner("pn-a", state(1))
        await magma.put_owner("pn-b", state(2))
        with pytest.raises(Conflict):
            await magma.put_owner("pn-c", state(1))  # same (table, priority, match) as pn-a
        assert await magma.delete_owner("pn-b")

    asyncio.run(first())
    magma = Magma(MagmaConfig(lldp_interval=0), store=DesiredStore(db))
    assert magma.desired == {"pn-a": state(1)}
    rules = magma.desired_rules(0xA1)
    assert {r.owner for r in rules.flows.values()} == {"pn-a", "magma-system"}
    assert magma.owner_of(next(r.cookie for r in rules.flows.values() if r.owner == "pn-a")) == (
        "pn-a"
    )


def test_broken_database_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "desired.db"
    DesiredStore(db).close()
    with sqlite3.connect(db) as raw:
        raw.execute("INSERT INTO owner_state VALUES ('pn-x', '{\"switches\": 5}', 0)")
    with pytest.raises(InvalidInput, match="owner 'pn-x' is not valid"):
        DesiredStore(db).load()
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidInput, match="cannot open the state database"):
        DesiredStore(tmp_path / "file" / "desired.db")
