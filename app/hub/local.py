"""The station's side of the hub, in its own SQLite file: what was sent, what came down, how it went.

The ``backstep-hub`` migration set (defined with the rest of the station's database in
:mod:`app.shell.schema`, applied by :func:`ensure_schema`) adds, to the station's database:

* ``members.hub_uuid`` / ``hub_version`` / ``hub_dirty``: the member's clinic-wide identity, the
  hub version this copy is based on, and whether it changed here since. A trigger sets
  ``hub_dirty`` on any change to a member's fields made at this station, so the members code
  needs to know nothing of the hub; the sync's own writes change ``hub_version`` and so pass by.
* ``hub_sent``: one row per session the hub has (written only after the hub committed it), with
  the scores and statistics sent so far. A session missing here is sent again; the hub's unique
  keys make a second copy a no-op, so a kill at any moment loses and doubles nothing.
* ``hub_sessions``: other stations' sessions of this clinic's members (summaries, scores and
  statistics), for the history pages, progression and export.
* ``hub_log``: conflicts and refusals, in words (the staff page and doctor show the newest).
* ``hub_state``: last success, last error, what is waiting.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlite_utils import Database

# The member fields that travel between station and hub and the session_stats figures the hub keeps
# shape the tables above (a trigger, hub_sessions' columns), so they are defined with them.
from ..shell.schema import HUB_MEMBER_FIELDS as MEMBER_FIELDS
from ..shell.schema import HUB_STAT_FIELDS as STAT_FIELDS
from ..shell.schema import apply_hub_schema

BOOLEAN_MEMBER_FIELDS = frozenset({"hands_free_allowed", "archived"})
SCORE_KINDS = ("pain_before", "pain_after", "effort")


def ensure_schema(db: Database) -> None:
    """The hub's tables on the station's database (and the members and stats tables they extend)."""
    apply_hub_schema(db)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def log(db: Database, kind: str, detail: str) -> None:
    with db.conn:
        db["hub_log"].insert({"at": now_iso(), "kind": kind, "detail": detail[:500]})


def set_state(db: Database, **values: object) -> None:
    with db.conn:
        db["hub_state"].upsert_all([{"key": k, "value": None if v is None else str(v)} for k, v in values.items()],
                                   pk="key")


def state(db: Database) -> dict[str, str | None]:
    if "hub_state" not in db.table_names():
        return {}
    return {row["key"]: row["value"] for row in db["hub_state"].rows}


def waiting(db: Database) -> dict[str, int]:
    """What this station has that the hub does not have yet."""
    if "hub_sent" not in db.table_names():
        return {"sessions": 0, "members": 0}
    sessions = db.execute("SELECT count(*) FROM sessions WHERE status != 'running' AND id NOT IN "
                          "(SELECT session_id FROM hub_sent)").fetchone()[0]
    members = db.execute("SELECT count(*) FROM members WHERE hub_dirty = 1").fetchone()[0]
    return {"sessions": sessions, "members": members}
