"""Foreign keys between the tables of the three schema sets, as their own migration set.

The session schema (:mod:`app.shell.migrations`), the history stats (:mod:`app.shell.history`) and
the members (:mod:`app.shell.members`) are separate sqlite-utils migration sets, so links across
them come last, once all three tables exist (``backstep-links``): Datasette and ``sqlite-utils``
then follow ``sessions.member_id`` to ``members``, ``session_stats.member_id`` to ``members`` and
``suggestions.session_id`` to ``sessions`` (docs/database.md).

An existing database migrates without losing a row: the tables are rebuilt with sqlite-utils'
``transform`` (foreign keys not enforced while it runs), and a member id that sessions carry but
``members`` lacks (an older database, members kept elsewhere) gets an archived placeholder row
named as the sessions named them, so every link resolves and nothing is dropped or changed.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from .history import history_migrations
from .member_rows import ensure_member_row
from .members import members_migrations
from .migrations import migrations

links_migrations = Migrations("backstep-links")

#: (table, column, other table, other column): what the links migration declares.
LINKS = (
    ("sessions", "member_id", "members", "id"),
    ("session_stats", "member_id", "members", "id"),
    ("suggestions", "session_id", "sessions", "id"),
)


@links_migrations()
def l001_foreign_keys_to_members_and_sessions(db: Database) -> None:
    orphans = db.execute("""
        select member_id, max(member_name), max(program_units) from sessions
        where member_id is not null and member_id not in (select id from members) group by member_id
        union
        select member_id, null, null from session_stats
        where member_id is not null and member_id not in (select id from members)
          and member_id not in (select member_id from sessions where member_id is not null)
        group by member_id""").fetchall()
    for member_id, name, units in orphans:
        ensure_member_row(db, member_id, name, units)
    for table, column, other, other_column in LINKS:
        db[table].transform(add_foreign_keys=[(column, other, other_column)])


def apply_schema(db: Database) -> None:
    """Every migration set of the station's database, in the order the links need."""
    migrations.apply(db)
    history_migrations.apply(db)
    members_migrations.apply(db)
    links_migrations.apply(db)
