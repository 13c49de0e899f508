"""Which sessions and station events an export writes, and the watermarks that remember it.

An incremental export writes what is new *to this stick* (the stick's random id in its marker);
the ``exports`` table keeps, per stick, the highest finished session and station event already on
it. Running sessions wait for the next export. ``--since`` is a one-off and moves no watermark.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .results import ExportError

SELECTIONS = ("incremental", "all", "since")


def parse_since(text: str) -> tuple[str, Any]:
    """``--since``: a session id (``12``) or a date/time (``2026-11-01``, ``2026-11-01T08:00+01:00``).

    A time without an offset is the station's local time.
    """
    value = (text or "").strip()
    if value.isdigit():
        return "id", int(value)
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ExportError(f"--since {text!r}: use a session id (e.g. 12) or a date/time like 2026-11-01 "
                          "or 2026-11-01T08:00+01:00") from None
    if when.tzinfo is None:
        when = when.astimezone()
    return "time", when


def parse_time(value: str | None) -> datetime | None:
    try:
        when = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    if when is not None and when.tzinfo is None:
        when = when.astimezone()
    return when


def watermarks(conn: sqlite3.Connection, stick_id: str) -> tuple[int, int]:
    """(sessions, station events) already on the stick *stick_id*: ids up to these were written."""
    row = conn.execute("select max(session_watermark), max(event_watermark) from exports where stick_id = ?",
                       (stick_id,)).fetchone()
    return int(row[0] or 0), int(row[1] or 0)


def count_new(conn: sqlite3.Connection, session_watermark: int) -> int:
    return conn.execute("select count(*) from sessions where id > ? and status != 'running'",
                        (session_watermark,)).fetchone()[0]


@dataclass
class Selection:
    """What one export writes, read inside its snapshot."""

    session_ids: list[int]
    #: SQL condition and parameters for the station events (no session) it writes.
    station_events_where: str
    params: dict
    station_events: int
    running: list[int]
    max_station_event: int

    @property
    def empty(self) -> bool:
        return not self.session_ids and not self.station_events

    def next_watermarks(self, selection: str, old: tuple[int, int]) -> tuple[int, int]:
        """The watermarks to remember after a finished export (``--since`` keeps the old ones)."""
        old_sessions, old_events = old
        if selection not in ("incremental", "all"):
            return old
        sessions = max([old_sessions, *self.session_ids])
        later_running = [r for r in self.running if r > old_sessions]
        if later_running:  # still running: it must come with the next export, once finished
            sessions = min(sessions, later_running[0] - 1)
        return sessions, max(old_events, self.max_station_event)


def select(conn: sqlite3.Connection, selection: str, since_value, sessions_wm: int, events_wm: int) -> Selection:
    ids, where, params = _sessions_and_events(conn, selection, since_value, sessions_wm, events_wm)
    running = [r[0] for r in conn.execute("select id from sessions where status = 'running' order by id")]
    station_events = conn.execute(f"select count(*) from events where {where}", params).fetchone()[0]
    max_event = conn.execute("select coalesce(max(id), 0) from events where session_id is null").fetchone()[0]
    return Selection(ids, where, params, station_events, running, max_event)


def _sessions_and_events(conn, selection, since_value, sessions_wm, events_wm):
    if selection == "incremental":
        ids = [r[0] for r in conn.execute(
            "select id from sessions where id > ? and status != 'running' order by id", (sessions_wm,))]
        return ids, "session_id is null and id > :wm", {"wm": events_wm}
    if selection == "all":
        ids = [r[0] for r in conn.execute("select id from sessions where status != 'running' order by id")]
        return ids, "session_id is null", {}
    kind, value = since_value
    if kind == "id":
        ids = [r[0] for r in conn.execute(
            "select id from sessions where id >= ? and status != 'running' order by id", (value,))]
        first = conn.execute("select started_at from sessions where id = ?", (ids[0],)).fetchone() if ids else None
        value = parse_time(first[0]) if first else None
        if value is None:
            return ids, "0", {}
    else:
        # Offsets differ across a DST change, so compare parsed times, not ISO strings.
        ids = [r[0] for r in conn.execute(
            "select id, started_at from sessions where status != 'running' order by id")
            if (parse_time(r[1]) or value) >= value]
    # Station events are few (refused starts, faults): filtering their times in Python is cheap.
    event_ids = [r[0] for r in conn.execute("select id, at from events where session_id is null")
                 if (parse_time(r[1]) or value) >= value]
    conn.execute("create temp table if not exists _export_events(id integer primary key)")
    conn.execute("delete from _export_events")
    conn.executemany("insert into _export_events(id) values (?)", [(i,) for i in event_ids])
    return ids, "id in (select id from _export_events)", {}
