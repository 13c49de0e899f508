"""A placeholder members row, so that ``sessions.member_id`` always links to a member.

Plain SQL on any connection (sqlite3's or sqlite-utils'): the store uses it on its own connection
at every session start, and the links migration (``backstep-links`` in :mod:`app.shell.schema`) for the rows
an older database carries (docs/database.md).
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


def _now() -> str:
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def ensure_member_row(db: Any, member_id: int | None, name: str | None = None, units: str | None = None) -> None:
    """A members row for *member_id* if there is none: archived, so it joins no pick list, and
    named as the session names the member. Keeps ``sessions.member_id`` a link that resolves."""
    if member_id is None:
        return
    db.execute(
        "insert or ignore into members (id, name, units, hands_free_allowed, archived, created_at, updated_at) "
        "values (?, ?, ?, 0, 1, ?, ?)",
        [member_id, name or f"member {member_id}", units if units in ("mph", "kmh") else "mph", _now(), _now()])
