"""The station's schema lives in one module (app/shell/schema.py), and gathering it there changed
nothing a station keeps: an existing database opens with every row and no migration re-run, and a
new database is built exactly as before.

"Before" is recorded in tests/fixtures/schema_before_gathering/, dumped (``Connection.iterdump``)
from databases the code of commit ce15093 made, when the six migration sets lived in five modules:

- ``store.sql``: what ``Store(path)`` alone created (sets backstep, -history, -members, -links);
- ``station.sql``: a station that also exported and synced with a hub (all six sets), with rows
  in every table; its ``_sqlite_migrations`` rows are as that code wrote them.
"""

from __future__ import annotations

import ast
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from app.shell.schema_version import SCHEMA_VERSION
from app.shell.store import Store

BEFORE = Path(__file__).parent / "fixtures" / "schema_before_gathering"
ROOT = Path(__file__).resolve().parent.parent


def _restore(dump: Path, path: Path, user_version: int = SCHEMA_VERSION) -> None:
    conn = sqlite3.connect(path)
    conn.executescript(dump.read_text())
    conn.execute(f"PRAGMA user_version={user_version}")
    conn.commit()
    conn.close()


def _schema(conn: sqlite3.Connection) -> list[tuple]:
    """Every table, index and trigger with its SQL, as SQLite keeps it (the root page aside)."""
    return sorted(conn.execute("select type, name, tbl_name, sql from sqlite_master").fetchall(),
                  key=lambda row: (row[0], row[1]))


def _rows(conn: sqlite3.Connection) -> dict[str, list[tuple]]:
    tables = [r[0] for r in conn.execute("select name from sqlite_master where type = 'table' order by name")]
    return {t: conn.execute(f'select * from "{t}" order by rowid').fetchall() for t in tables}


def _schema_of_dump(dump: Path, tmp_path: Path) -> list[tuple]:
    path = tmp_path / f"{dump.stem}-before.db"
    _restore(dump, path)
    conn = sqlite3.connect(path)
    try:
        return _schema(conn)
    finally:
        conn.close()


def test_a_new_store_database_has_exactly_the_schema_the_previous_layout_built(tmp_path):
    store = Store(tmp_path / "new.db")
    assert _schema(store.conn) == _schema_of_dump(BEFORE / "store.sql", tmp_path)
    store.close()


def test_a_new_database_with_export_and_hub_has_exactly_the_schema_the_previous_layout_built(tmp_path):
    from app.shell.schema import apply_export_schema, apply_hub_schema

    store = Store(tmp_path / "new.db")
    apply_export_schema(store.db)  # what the export does when it first runs
    apply_hub_schema(store.db)     # what the hub sync does when it first runs
    assert _schema(store.conn) == _schema_of_dump(BEFORE / "station.sql", tmp_path)
    store.close()


def test_a_database_from_the_previous_layout_opens_with_every_row_kept_and_no_migration_rerun(tmp_path):
    from app.shell.schema import apply_export_schema, apply_hub_schema

    path = tmp_path / "station.db"
    _restore(BEFORE / "station.sql", path)
    conn = sqlite3.connect(path)
    before = _rows(conn)
    conn.close()
    assert before["sessions"] and before["hub_sessions"] and before["export_charts"]  # the fixture has rows

    store = Store(path)
    apply_export_schema(store.db)
    apply_hub_schema(store.db)
    # Every row as it was, _sqlite_migrations included: no migration ran again, none was added.
    assert _rows(store.conn) == before
    store.close()


@pytest.mark.parametrize("user_version", [SCHEMA_VERSION - 1, 0])
def test_a_database_behind_schema_version_takes_the_migration_path_and_reruns_nothing(tmp_path, user_version):
    """A version below SCHEMA_VERSION sends the store through sqlite-utils' migrations: the
    (set, function) names recorded by the previous layout must all be recognised as applied."""
    path = tmp_path / "station.db"
    _restore(BEFORE / "store.sql", path, user_version=user_version)
    conn = sqlite3.connect(path)
    before = _rows(conn)
    conn.close()
    store = Store(path)
    assert _rows(store.conn) == before
    assert store.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store.close()


def test_every_migration_the_previous_layout_recorded_is_one_the_schema_module_knows(tmp_path):
    from app.shell import schema

    path = tmp_path / "station.db"
    _restore(BEFORE / "station.sql", path)
    db = Database(path)
    recorded = {(r["migration_set"], r["name"]) for r in db["_sqlite_migrations"].rows}
    sets = [value for value in vars(schema).values() if isinstance(value, Migrations)]
    assert set(sets) == set(schema.MIGRATION_SETS)
    empty = Database(memory=True)
    known = {(s.name, m.name) for s in sets for m in s.pending(empty)}
    assert recorded == known
    assert all(not s.pending(db) for s in sets)
    db.close()


def test_schema_version_counts_the_migrations_the_store_applies():
    """The store skips the migrations when a file is at SCHEMA_VERSION: forgetting to bump it
    with a new migration would leave that migration unapplied on every existing station.
    (The history and members sets predate the version and count as version 1 with the sessions.)"""
    from app.shell.schema import links_migrations, session_migrations

    fresh = Database(sqlite3.connect(":memory:"))
    assert len(session_migrations.pending(fresh)) + len(links_migrations.pending(fresh)) == SCHEMA_VERSION


def test_every_migration_set_is_declared_in_the_schema_module():
    """One place to read the whole database: no other module declares a migration set."""
    declaring = set()
    for source in sorted((ROOT / "app").rglob("*.py")) + sorted((ROOT / "hardware").rglob("*.py")):
        tree = ast.parse(source.read_text(), str(source))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "Migrations":
                declaring.add(source.relative_to(ROOT).as_posix())
    assert declaring == {"app/shell/schema.py"}
