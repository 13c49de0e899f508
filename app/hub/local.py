"""The station's side of the hub, in its own SQLite file: what was sent, what came down, how it went.

A migration set of its own (``backstep-hub``) adds, to the station's database:

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
from sqlite_utils.migrations import Migrations

hub_migrations = Migrations("backstep-hub")

#: The member fields that travel between station and hub (the hub's member_versions columns).
MEMBER_FIELDS = (
    "name", "code", "units", "cap_backward_speed_kmh", "cap_forward_speed_kmh", "cap_incline_pct",
    "hands_free_allowed", "program_id", "goal_per_week", "limit_speed_kmh", "limit_minutes",
    "limit_incline_pct", "rx_speed_kmh", "rx_minutes", "rx_incline_pct", "rx_rails", "archived",
)
BOOLEAN_MEMBER_FIELDS = frozenset({"hands_free_allowed", "archived"})

STAT_FIELDS = (
    "walking_seconds", "rails_held_seconds", "rails_held_share", "hands_free_share", "early_releases",
    "rails_pauses", "longest_hands_free_s", "top_backward_speed_kmh", "emergency_stops", "pain_tapped",
    "pain_tap_t",
)
SCORE_KINDS = ("pain_before", "pain_after", "effort")


@hub_migrations()
def hb001_hub_bookkeeping(db: Database) -> None:
    members = db["members"]
    for column, kind in (("hub_uuid", str), ("hub_version", int), ("hub_dirty", int)):
        if column not in members.columns_dict:
            members.add_column(column, kind)
    db.execute("UPDATE members SET hub_dirty = 1 WHERE hub_dirty IS NULL")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS members_hub_uuid ON members (hub_uuid)")
    changed = " OR ".join(f"NEW.{f} IS NOT OLD.{f}" for f in MEMBER_FIELDS)
    db.executescript(f"""
        CREATE TRIGGER IF NOT EXISTS members_changed_here AFTER UPDATE ON members
        WHEN NEW.hub_version IS OLD.hub_version AND ({changed})
        BEGIN UPDATE members SET hub_dirty = 1 WHERE id = NEW.id; END;
        CREATE TRIGGER IF NOT EXISTS members_added_here AFTER INSERT ON members
        WHEN NEW.hub_uuid IS NULL
        BEGIN UPDATE members SET hub_dirty = 1 WHERE id = NEW.id; END;
    """)
    db["hub_sent"].create({
        "session_id": int, "sent_at": str, "scores": str, "stats": int,
    }, pk="session_id", foreign_keys=[("session_id", "sessions", "id")])
    db["hub_sessions"].create({
        "station_id": str, "station_session_id": int, "member_uuid": str, "member_name": str,
        "program_id": str, "program_name": str, "status": str, "stop_reason": str,
        "started_at": str, "ended_at": str, "active_seconds": float, "elapsed_seconds": float,
        "phases_total": int, "phases_completed": int, "distance_m": float,
        "pain_before": int, "pain_after": int, "effort": int,
        **{name: float for name in STAT_FIELDS}, "received_at": str,
    }, pk=("station_id", "station_session_id"))
    db["hub_sessions"].create_index(["member_uuid", "started_at"])
    db["hub_log"].create({"id": int, "at": str, "kind": str, "detail": str}, pk="id")
    db["hub_state"].create({"key": str, "value": str}, pk="key")


def ensure_schema(db: Database) -> None:
    hub_migrations.apply(db)


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
