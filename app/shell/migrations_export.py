"""The export's own bookkeeping tables, as a separate sqlite-utils migration set.

A separate set (``backstep-export``) so the session schema in :mod:`app.shell.migrations` stays
owned by the store: the export never changes ``sessions``, ``samples``, ``events`` or ``phases``;
these two tables are the only thing it ever writes to the database.

- ``exports``: one row per finished export, the stick it went to (the random id in the stick's
  marker file) and the watermarks the next incremental export starts from.
- ``export_keys``: per-station secrets; today only the key for pseudonymous member ids, created
  once so a member keeps the same ``M-...`` id across exports.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

export_migrations = Migrations("backstep-export")


@export_migrations()
def e001_exports_and_keys(db: Database) -> None:
    db["exports"].create(
        {
            "id": int,
            "stick_id": str,           # the marker file's random id; "" for a --since export
            "station_id": str,
            "exported_at": str,        # ISO 8601 with offset
            "target": str,             # the folder written, as the station saw it
            "selection": str,          # incremental | all | since
            "sessions": int,
            "samples": int,
            "events": int,
            "first_session_id": int,
            "last_session_id": int,
            # Every finished session with id <= this one is on the stick (running ones are not).
            "session_watermark": int,
            # Every station event (no session) with id <= this one is on the stick.
            "event_watermark": int,
        },
        pk="id",
    )
    db["exports"].create_index(["stick_id", "id"])
    db["export_keys"].create({"name": str, "value": str, "created_at": str}, pk="name")


@export_migrations()
def e002_chart_fingerprints(db: Database) -> None:
    """What each member's chart on a stick was drawn from, so an unchanged chart is not redrawn."""
    db["export_charts"].create(
        {
            "stick_id": str,
            "member_id": int,
            "file": str,               # charts/<name>.png, as on the stick
            "fingerprint": str,        # SHA-256 of the history drawn, the title and the Backstep version
            "exported_at": str,
        },
        pk=("stick_id", "member_id"),
    )
