"""The station's whole SQLite database, in the order it is built: open this file to see every table.

Plain tables with clear names so the file reads well in ``sqlite-utils`` and Datasette
(docs/database.md). Times are ISO 8601 text with the UTC offset; ``clock_s`` is the station's clock
(monotonic seconds, or the script's clock in a simulation) so intervals stay exact; ``t`` is
seconds since the session started.

The schema is six sqlite-utils migration sets. sqlite-utils records each applied migration in
``_sqlite_migrations`` by (set name, function name), so on existing stations these names ARE the
schema's history: never rename a set or a migration function, never edit one that shipped; a change
is a new function appended to its set (and a bump of :data:`~app.shell.schema_version.SCHEMA_VERSION`
when the set is one the store applies).

1. ``backstep``: ``sessions``, ``phases``, ``samples``, ``events`` (the store's session record).
2. ``backstep-history``: ``session_stats``, one row of figures per closed session.
3. ``backstep-members``: ``members`` and their progression ``suggestions``.
4. ``backstep-links``: foreign keys across the three sets above, once all their tables exist.
5. ``backstep-export``: ``exports``, ``export_keys``, ``export_charts`` (the USB export's bookkeeping).
6. ``backstep-hub``: ``hub_sent``, ``hub_sessions``, ``hub_log``, ``hub_state`` and three columns and
   two triggers on ``members`` (only on a station that syncs with a clinic hub).

Who applies what: the store applies sets 1-4 (:func:`apply_schema`) on a start that finds the file
below :data:`~app.shell.schema_version.SCHEMA_VERSION`; a start with nothing to migrate never imports
this module (nor sqlite-utils). The export applies set 5 (:func:`apply_export_schema`) when it first
writes, and the hub sync set 6 (:func:`apply_hub_schema`), so a station that never exports or syncs
has none of their tables.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from .member_rows import ensure_member_row

session_migrations = Migrations("backstep")
history_migrations = Migrations("backstep-history")
members_migrations = Migrations("backstep-members")
links_migrations = Migrations("backstep-links")
export_migrations = Migrations("backstep-export")
hub_migrations = Migrations("backstep-hub")

#: Every set, in the order a database is built (each one's tables need only those of sets before it).
MIGRATION_SETS = (session_migrations, history_migrations, members_migrations, links_migrations,
                  export_migrations, hub_migrations)


# --- 1. backstep: the sessions, as the store writes them (app/shell/store.py) ---------------------

@session_migrations()
def m001_sessions_phases_samples_events(db: Database) -> None:
    db["sessions"].create(
        {
            "id": int,
            "station_id": str,
            "member_id": int,
            "member_name": str,
            "program_id": str,
            "program_name": str,
            "program_units": str,
            # The program as it was when the session ran, so history stays true (docs/database.md).
            "program_snapshot": str,
            "status": str,           # running | completed | stopped | emergency_stop | interrupted
            "stop_reason": str,
            "started_at": str,
            "ended_at": str,
            "last_saved_at": str,    # the last commit; an interrupted session ended about then
            "started_clock_s": float,
            "active_seconds": float,
            "elapsed_seconds": float,
            "phases_total": int,
            "phases_completed": int,
            "distance_m": float,
            "pain_before": int,
            "pain_after": int,
            "effort": int,
            "source": str,           # kiosk | simulate
        },
        pk="id",
        not_null={"status", "started_at", "program_id"},
    )
    db["sessions"].create_index(["started_at"])
    db["sessions"].create_index(["member_id", "started_at"])
    db["phases"].create(
        {
            "id": int,
            "session_id": int,
            "idx": int,
            "name": str,
            "direction": str,
            "planned_seconds": float,
            "target_speed_kmh": float,
            "incline_pct": float,
            "rails": str,
            "round_label": str,
            "started_at": str,
            "t": float,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["phases"].create_index(["session_id", "idx"])
    db["samples"].create(
        {
            "id": int,
            "session_id": int,
            "t": float,
            "at": str,
            "mode": str,
            "phase_idx": int,
            "target_speed_kmh": float,
            "actual_speed_kmh": float,
            "incline_pct": float,
            "rails_held": int,
            "lanyard_clipped": int,
            "distance_m": float,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["samples"].create_index(["session_id", "t"])
    db["events"].create(
        {
            "id": int,
            "session_id": int,
            "at": str,
            "clock_s": float,
            "t": float,
            "kind": str,
            "safety": int,
            "detail": str,
        },
        pk="id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["events"].create_index(["session_id", "clock_s"])
    db["events"].create_index(["kind"])


# --- 2. backstep-history: one row of figures per closed session (app/shell/history.py) ------------

# Rail dependence and the top backward speed come from a session's 1 Hz samples, thousands of rows:
# computed once when the session closes and kept here, so a member's history never reads a sample.


@history_migrations()
def h001_session_stats(db: Database) -> None:
    db["session_stats"].create(
        {
            "session_id": int,
            "member_id": int,
            "started_at": str,
            "walking_seconds": float,        # running with a belt target above 0 (1 Hz samples)
            "rails_held_seconds": float,
            "rails_held_share": float,       # 0..1; NULL when nothing was walked
            "hands_free_share": float,       # 1 - rails_held_share
            "early_releases": int,
            "rails_pauses": int,
            "longest_hands_free_s": float,   # in optional phases only
            "top_backward_speed_kmh": float,
            "emergency_stops": int,
            "pain_tapped": int,              # the in-session pain button was used
            "pain_tap_t": float,             # when: seconds since the session started
            "version": int,
            "computed_at": str,
        },
        pk="session_id",
        foreign_keys=[("session_id", "sessions", "id")],
    )
    db["session_stats"].create_index(["member_id", "started_at"])


@history_migrations()
def h002_distance_and_phase_figures(db: Database) -> None:
    """The figures the export read from samples itself: one source for history, CSV and TCX."""
    table = db["session_stats"]
    for name, kind in (("samples", int), ("distance_m", float), ("distance_source", str), ("phases", str)):
        if name not in table.columns_dict:
            table.add_column(name, kind)


# --- 3. backstep-members: members and progression suggestions (app/shell/members.py) --------------


@members_migrations()
def mb001_members_and_suggestions(db: Database) -> None:
    db["members"].create(
        {
            "id": int,
            "name": str,                    # display name or pseudonym
            "code": str,                    # short code for search; unique (case-insensitive)
            "units": str,                   # mph | kmh
            # Per-member caps; NULL = the station's. Applied by the safety core on every SetBelt.
            "cap_backward_speed_kmh": float,
            "cap_forward_speed_kmh": float,
            "cap_incline_pct": float,
            "hands_free_allowed": int,      # 0 until a therapist turns it on
            "program_id": str,              # optional prescribed library program
            "goal_per_week": int,
            # The therapist's limits for progression; NULL = the defaults in app.core.progression.
            "limit_speed_kmh": float,
            "limit_minutes": float,
            "limit_incline_pct": float,
            # The prescription (the dose progression works on).
            "rx_speed_kmh": float,
            "rx_minutes": float,
            "rx_incline_pct": float,
            "rx_rails": str,
            "archived": int,
            "created_at": str,
            "updated_at": str,
        },
        pk="id",
        not_null={"name", "units"},
    )
    db["members"].create_index(["code"], unique=True)
    db["suggestions"].create(
        {
            "id": int,
            "member_id": int,
            "session_id": int,              # the session it follows (NULL before any)
            "created_at": str,
            "updated_at": str,
            "action": str,                  # lower | start | step_back | hold | raise
            "what": str,                    # speed | minutes | incline | NULL
            "cur_speed_kmh": float, "cur_minutes": float, "cur_incline_pct": float, "cur_rails": str,
            "next_speed_kmh": float, "next_minutes": float, "next_incline_pct": float, "next_rails": str,
            "reasons": str,                 # JSON: [{key, params, text}]
            "text": str,                    # the reasons in English, as shown
            "status": str,                  # pending | accepted | overridden | superseded
            "decided_by": str,
            "decided_at": str,
            "final_speed_kmh": float, "final_minutes": float, "final_incline_pct": float, "final_rails": str,
            "raised": str,                  # what the decision raised (for taking turns)
        },
        pk="id",
        foreign_keys=[("member_id", "members", "id")],
    )
    db["suggestions"].create_index(["member_id", "id"])
    db["suggestions"].create_index(["member_id", "session_id"])


# --- 4. backstep-links: foreign keys across sets 1-3 ----------------------------------------------

# Links across the sets come last, once all their tables exist: Datasette and ``sqlite-utils`` then
# follow ``sessions.member_id`` to ``members``, ``session_stats.member_id`` to ``members`` and
# ``suggestions.session_id`` to ``sessions`` (docs/database.md, "Foreign keys").
#
# An existing database migrates without losing a row: the tables are rebuilt with sqlite-utils'
# ``transform`` (the store applies the schema before it turns foreign keys on), and a member id that
# sessions carry but ``members`` lacks (an older database, members kept elsewhere) gets an archived
# placeholder row named as the sessions named them, so every link resolves and nothing is dropped.

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


# --- 5. backstep-export: the USB export's bookkeeping (app/shell/export/) -------------------------

# The export never changes sets 1-4; these tables are the only thing it writes to the database.
# ``exports``: one row per finished export, the stick it went to (the random id in the stick's marker
# file) and the watermarks the next incremental export starts from. ``export_keys``: per-station
# secrets; today only the key for pseudonymous member ids, made once so a member keeps the same
# ``M-...`` id across exports. ``export_charts``: what each chart on a stick was drawn from.


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


# --- 6. backstep-hub: the station's side of a clinic hub (app/hub/local.py, app/hub/sync.py) ------

# ``members.hub_uuid`` / ``hub_version`` / ``hub_dirty``: the member's clinic-wide identity, the hub
# version this copy is based on, and whether it changed here since. A trigger sets ``hub_dirty`` on
# any change to a member's fields made at this station, so the members code needs to know nothing of
# the hub; the sync's own writes change ``hub_version`` and so pass by. ``hub_sent``: one row per
# session the hub has (written only after the hub committed it). ``hub_sessions``: other stations'
# sessions of this clinic's members. ``hub_log``: conflicts and refusals, in words. ``hub_state``:
# last success, last error, what is waiting.

#: The member fields that travel between station and hub (the hub's member_versions columns); a
#: change to one of them made at this station marks the member for the next sync.
HUB_MEMBER_FIELDS = (
    "name", "code", "units", "cap_backward_speed_kmh", "cap_forward_speed_kmh", "cap_incline_pct",
    "hands_free_allowed", "program_id", "goal_per_week", "limit_speed_kmh", "limit_minutes",
    "limit_incline_pct", "rx_speed_kmh", "rx_minutes", "rx_incline_pct", "rx_rails", "archived",
)
#: The ``session_stats`` figures the hub keeps of every station's sessions.
HUB_STAT_FIELDS = (
    "walking_seconds", "rails_held_seconds", "rails_held_share", "hands_free_share", "early_releases",
    "rails_pauses", "longest_hands_free_s", "top_backward_speed_kmh", "emergency_stops", "pain_tapped",
    "pain_tap_t",
)


@hub_migrations()
def hb001_hub_bookkeeping(db: Database) -> None:
    members = db["members"]
    for column, kind in (("hub_uuid", str), ("hub_version", int), ("hub_dirty", int)):
        if column not in members.columns_dict:
            members.add_column(column, kind)
    db.execute("UPDATE members SET hub_dirty = 1 WHERE hub_dirty IS NULL")
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS members_hub_uuid ON members (hub_uuid)")
    changed = " OR ".join(f"NEW.{f} IS NOT OLD.{f}" for f in HUB_MEMBER_FIELDS)
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
        **{name: float for name in HUB_STAT_FIELDS}, "received_at": str,
    }, pk=("station_id", "station_session_id"))
    db["hub_sessions"].create_index(["member_uuid", "started_at"])
    db["hub_log"].create({"id": int, "at": str, "kind": str, "detail": str}, pk="id")
    db["hub_state"].create({"key": str, "value": str}, pk="key")


# --- applying them --------------------------------------------------------------------------------


#: The sets every station's database has, in the order the links need: the store applies them.
STATION_SETS = (session_migrations, history_migrations, members_migrations, links_migrations)


def apply_schema(db: Database) -> None:
    """Sets 1-4, in order: what the store builds. Call with foreign keys not yet enforced: the links
    migration rebuilds tables that others point to, and rows that predate a link must survive it."""
    for migrations in STATION_SETS:
        migrations.apply(db)


def apply_export_schema(db: Database) -> None:
    """Set 5, on a database the store built: the export's bookkeeping."""
    export_migrations.apply(db)


def apply_hub_schema(db: Database) -> None:
    """Set 6 and the tables it extends (members, session_stats), on a database the store built."""
    members_migrations.apply(db)
    history_migrations.apply(db)
    hub_migrations.apply(db)
