"""The figures of one session as the export writes them (a sessions.csv row, the JSON "session" line).

Every number comes from one place: the session row the store keeps and the session's statistics
(:func:`app.core.rail_stats.rail_stats` and :func:`~app.core.rail_stats.session_figures`, kept in
``session_stats`` by :mod:`app.shell.history` when the session closed): distance and its source,
the hands-free share, emergency stops, the sample count and the per-phase lap figures. They are the
same numbers the history screens and charts show. Members may appear by a pseudonym instead of
their name (an HMAC of the member id with a per-station key that never leaves the database).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
from typing import Any, Callable

from sqlite_utils import Database

from .. import export_formats as fmt
from ..history import STATS_VERSION, compute_session_stats


def session_stats(conn: sqlite3.Connection, session_id: int) -> dict:
    """The session's stats row (kept when it closed, or by the backfill before the snapshot);
    computed here, without writing, for a session that closed in between."""
    cursor = conn.execute("select * from session_stats where session_id = ? and version = ?", (session_id, STATS_VERSION))
    row = cursor.fetchone()
    if row is not None:
        return dict(zip([c[0] for c in cursor.description], row))
    return compute_session_stats(Database(conn), session_id) or {}


def pseudonym_key(db: Database, now_iso: Callable[[], str]) -> bytes:
    """The station's key for member pseudonyms, created once (``export_keys``)."""
    row = db.execute("select value from export_keys where name = 'member-pseudonym'").fetchone()
    if row:
        return bytes.fromhex(row[0])
    with db.atomic():
        db["export_keys"].insert({"name": "member-pseudonym", "value": secrets.token_bytes(32).hex(),
                                  "created_at": now_iso()}, ignore=True)
    return bytes.fromhex(db.execute("select value from export_keys where name = 'member-pseudonym'").fetchone()[0])


def pseudonym(key: bytes, member_id: Any, member_name: str | None) -> str:
    """``M-`` + 10 hex digits of HMAC-SHA256(station key, member id): stable, not reversible
    without the key, which never leaves the station's database."""
    ident = f"id:{member_id}" if member_id is not None else f"name:{member_name}"
    return "M-" + hmac.new(key, ident.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:10].upper()


def member_columns(session: dict, key: bytes | None) -> tuple[str, Any]:
    """(member, member_id) as exported: the name, or the pseudonym (and no id) with a *key*."""
    if key is not None:
        named = session["member_id"] is not None or session["member_name"]
        return (pseudonym(key, session["member_id"], session["member_name"]) if named else "guest"), None
    return session["member_name"] or ("guest" if session["member_id"] is None else ""), session["member_id"]


def pauses(conn: sqlite3.Connection, session_id: int) -> int:
    return conn.execute("select count(*) from events where session_id = ? and kind = 'pause'",
                        (session_id,)).fetchone()[0]


def hands_free_percent(stats: dict) -> float | None:
    share = stats.get("hands_free_share")
    return None if share is None else round(100.0 * share, 1)


def phase_figures(stats: dict) -> list[dict]:
    """Per-phase figures (walking seconds, estimated metres, distance readings, top speed)."""
    return json.loads(stats.get("phases") or "[]")


def session_summary(session: dict, stats: dict, *, member: str, member_id: Any, pauses: int,
                    tcx_relative: str, export_folder: str) -> dict:
    """The session's row of sessions.csv (and its JSON "session" line), by column name."""
    s = session
    return {
        "session_id": s["id"], "station_id": s["station_id"], "member": member, "member_id": member_id,
        "program_id": s["program_id"], "program_name": s["program_name"], "units": s["program_units"],
        "status": s["status"], "stop_reason": s["stop_reason"], "started_at": s["started_at"], "ended_at": s["ended_at"],
        "active_seconds": s["active_seconds"], "elapsed_seconds": s["elapsed_seconds"],
        "phases_completed": s["phases_completed"], "phases_total": s["phases_total"],
        "distance_m": stats.get("distance_m"), "distance_source": stats.get("distance_source") or "",
        "pauses": pauses, "emergency_stops": stats.get("emergency_stops"),
        "pain_before": s["pain_before"], "pain_after": s["pain_after"], "effort": s["effort"],
        "hands_free_percent": hands_free_percent(stats), "samples": stats.get("samples"), "source": s["source"],
        "tcx_file": tcx_relative, "export_folder": export_folder,
    }


def index_row(summary: dict) -> list:
    """The summary as CSV cells, formula guard applied (the same cells in both sessions.csv files)."""
    return [fmt.cell(summary[c]) for c in fmt.SESSION_COLUMNS]
