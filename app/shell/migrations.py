"""The database schema, as sqlite-utils migrations. Append new migrations; never edit old ones.

Plain tables with clear names so the file reads well in ``sqlite-utils`` and Datasette
(docs/database.md). Times are ISO 8601 text with the UTC offset; ``clock_s`` is the station's clock
(monotonic seconds, or the script's clock in a simulation) so intervals stay exact; ``t`` is
seconds since the session started.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from .schema_version import SCHEMA_VERSION  # noqa: F401 - bump it there with every migration

migrations = Migrations("backstep")


@migrations()
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
