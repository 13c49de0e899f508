"""History: per-session statistics kept once, and the queries the history screens and export read.

Why a ``session_stats`` table: rail dependence and the top backward speed come from a session's
1 Hz samples (thousands of rows per session). They are computed *once*, when the session closes
(:func:`attach_stats` hooks a :class:`~app.shell.station.Station`), and kept one row per session, so a
member's history is one indexed query over ``sessions`` joined with ``session_stats`` and never
reads a sample (docs/architecture.md: 500 sessions open in under 100 ms). Sessions closed without the hook
(older databases, a crash, ``backstep simulate``) are filled in by :meth:`History.backfill`, which
:meth:`History.member_history` runs for just that member's missing rows first.

Pain and effort are *not* copied: they live on the session row (``pain_before``, ``pain_after``,
``effort``; the after-scores arrive after the session closed), so history always reads the latest.
The in-session pain tap is the ``pain`` event; its moment is kept here (``pain_tap_t``).

The ``session_stats`` table (the ``backstep-history`` migration set) is defined with the rest of the
station's database in :mod:`app.shell.schema`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from sqlite_utils import Database

from ..core import record
from ..core.effects import CloseSession, Effect
from ..core.progression import SessionOutcome
from ..core.rail_stats import RailStats, rail_stats, session_figures
from .schema import history_migrations

#: Bump when the way stats are computed changes: rows of an older version are recomputed by backfill.
STATS_VERSION = 2  # 2: samples, distance and per-phase figures (the export's one source)


def ensure_schema(db: Database) -> None:
    history_migrations.apply(db)


def _db(store_or_db: Any) -> Database:
    return store_or_db.db if hasattr(store_or_db, "db") and not isinstance(store_or_db, Database) else store_or_db


def wall_of(iso_text: str | None) -> float | None:
    """Epoch seconds of a stored ISO time (with its offset); ``None`` if missing or unreadable."""
    if not iso_text:
        return None
    try:
        return datetime.fromisoformat(iso_text).timestamp()
    except ValueError:
        return None


# --- the data the screens and the export read ------------------------------------------------------


@dataclass(frozen=True)
class SessionPoint:
    """One session of a member's history. Speeds km/h; shares 0..1 or ``None`` (nothing walked)."""

    session_id: int | None              # this station's session id; None for another station's
    started_at: str                     # ISO 8601 with offset, as stored
    started_wall: float                 # epoch seconds, for charts
    program_id: str
    program_name: str
    status: str                         # completed | stopped | emergency_stop | interrupted | running
    active_seconds: float
    pain_before: int | None
    pain_after: int | None
    effort: int | None
    walking_seconds: float = 0.0
    rails_held_share: float | None = None
    hands_free_share: float | None = None
    early_releases: int = 0
    rails_pauses: int = 0
    longest_hands_free_s: float = 0.0
    top_backward_speed_kmh: float = 0.0
    emergency_stops: int = 0
    pain_tapped: bool = False
    pain_tap_t: float | None = None
    #: Where it was walked: None here, else the other station's id (the clinic hub, docs/hub.md).
    station_id: str | None = None
    station_session_id: int | None = None

    @property
    def minutes(self) -> float:
        return (self.active_seconds or 0.0) / 60

    @property
    def pain_change(self) -> int | None:
        if self.pain_before is None or self.pain_after is None:
            return None
        return self.pain_after - self.pain_before

    def outcome(self) -> SessionOutcome:
        """What :func:`app.core.progression.suggest` needs from this session."""
        return SessionOutcome(session_id=self.session_id, status=self.status, pain_before=self.pain_before,
                              pain_after=self.pain_after, early_releases=self.early_releases,
                              emergency_stops=self.emergency_stops, pain_tapped=self.pain_tapped,
                              speed_kmh=self.top_backward_speed_kmh or None)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["minutes"] = round(self.minutes, 2)
        out["pain_change"] = self.pain_change
        return out


@dataclass(frozen=True)
class WeekPoint:
    """One calendar week (Monday first, the station's local dates). Empty weeks are included."""

    week_start: str                     # ISO date of the Monday
    sessions: int
    minutes: float
    goal: int | None                    # the member's goal sessions per week, if set
    goal_met: bool | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HistorySummary:
    sessions: int
    total_minutes: float
    top_backward_speed_kmh: float
    sessions_this_week: int
    goal_per_week: int | None
    last_pain_before: int | None
    last_pain_after: int | None
    #: Hands-free share of the most recent session that walked at all; None if none did.
    last_hands_free_share: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class MemberHistory:
    member_id: int | None               # None: every session on the station
    units: str
    goal_per_week: int | None
    sessions: list[SessionPoint] = field(default_factory=list)   # oldest first
    weeks: list[WeekPoint] = field(default_factory=list)          # oldest first
    summary: HistorySummary | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "units": self.units,
            "goal_per_week": self.goal_per_week,
            "summary": self.summary.as_dict() if self.summary else None,
            "weeks": [w.as_dict() for w in self.weeks],
            "sessions": [s.as_dict() for s in self.sessions],
        }


# --- computing and keeping per-session stats --------------------------------------------------------


def compute_session_stats(db: Database, session_id: int) -> dict[str, Any] | None:
    """Read one session's samples and events once; return its ``session_stats`` row (not stored)."""
    rows = list(db.query("select id, member_id, started_at, distance_m from sessions where id = ?", [session_id]))
    if not rows:
        return None
    session = rows[0]
    phases = list(db.query("select idx, rails, direction from phases where session_id = ?", [session_id]))
    optional = [p["idx"] for p in phases if p["rails"] == "optional"]
    backward = [p["idx"] for p in phases if p["direction"] == "backward"] if phases else None
    samples = list(db.query("select at, mode, phase_idx, target_speed_kmh, actual_speed_kmh, rails_held, distance_m "
                            "from samples where session_id = ? order by t", [session_id]))
    events = list(db.query("select kind, t, detail from events where session_id = ? order by id", [session_id]))
    stats: RailStats = rail_stats(samples, events, optional_phases=optional, backward_phases=backward)
    figures = session_figures(samples, session["distance_m"])
    pain_taps = [e for e in events if e["kind"] == "pain"]
    return {
        "session_id": session_id,
        "member_id": session["member_id"],
        "started_at": session["started_at"],
        "walking_seconds": stats.walking_seconds,
        "rails_held_seconds": stats.rails_held_seconds,
        "rails_held_share": None if stats.rails_held_share is None else round(stats.rails_held_share, 4),
        "hands_free_share": None if stats.hands_free_share is None else round(stats.hands_free_share, 4),
        "early_releases": stats.early_releases,
        "rails_pauses": stats.rails_pauses,
        "longest_hands_free_s": stats.longest_hands_free_s,
        "top_backward_speed_kmh": stats.top_backward_speed_kmh,
        "emergency_stops": sum(1 for e in events if e["kind"] == "emergency_stop"),
        "pain_tapped": int(bool(pain_taps)),
        "pain_tap_t": pain_taps[0]["t"] if pain_taps else None,
        "samples": figures.samples,
        "distance_m": None if figures.distance_m is None else round(figures.distance_m, 3),
        "distance_source": figures.distance_source,
        "phases": json.dumps([record.asdict(p) for p in figures.phases]),
        "version": STATS_VERSION,
        "computed_at": datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds"),
    }


def record_session_stats(store_or_db: Any, session_id: int) -> dict[str, Any] | None:
    """Compute and keep (insert or replace) the stats of one closed session."""
    db = _db(store_or_db)
    ensure_schema(db)
    row = compute_session_stats(db, session_id)
    if row is not None:
        with db.atomic():
            db["session_stats"].insert(row, replace=True)
    return row


def attach_stats(station: Any, store_or_db: Any | None = None) -> Callable[[Effect], None]:
    """Keep stats for every session the *station* closes (listens for :class:`CloseSession`).

    The listener runs after the station has carried the effect out, i.e. after the store flushed
    the session's last samples and set ``last_session_id``.
    """
    db = _db(store_or_db if store_or_db is not None else station.store)
    ensure_schema(db)

    def on_effect(effect: Effect) -> None:
        if isinstance(effect, CloseSession) and station.last_session_id is not None:
            record_session_stats(db, station.last_session_id)

    station.add_listener(on_effect)
    return on_effect


# --- queries -----------------------------------------------------------------------------------------

_SESSION_COLUMNS = """
    s.id as session_id, s.started_at, s.program_id, s.program_name, s.status, s.active_seconds,
    s.pain_before, s.pain_after, s.effort,
    st.walking_seconds, st.rails_held_share, st.hands_free_share, st.early_releases, st.rails_pauses,
    st.longest_hands_free_s, st.top_backward_speed_kmh, st.emergency_stops, st.pain_tapped, st.pain_tap_t
"""


def _point(row: dict) -> SessionPoint:
    return SessionPoint(
        session_id=row["session_id"],
        started_at=row["started_at"],
        started_wall=wall_of(row["started_at"]) or 0.0,
        program_id=row["program_id"],
        program_name=row["program_name"] or row["program_id"],
        status=row["status"],
        active_seconds=row["active_seconds"] or 0.0,
        pain_before=row["pain_before"],
        pain_after=row["pain_after"],
        effort=row["effort"],
        walking_seconds=row["walking_seconds"] or 0.0,
        rails_held_share=row["rails_held_share"],
        hands_free_share=row["hands_free_share"],
        early_releases=row["early_releases"] or 0,
        rails_pauses=row["rails_pauses"] or 0,
        longest_hands_free_s=row["longest_hands_free_s"] or 0.0,
        top_backward_speed_kmh=row["top_backward_speed_kmh"] or 0.0,
        emergency_stops=row["emergency_stops"] or 0,
        pain_tapped=bool(row["pain_tapped"]),
        pain_tap_t=row["pain_tap_t"],
        station_id=row.get("station_id"),
        station_session_id=row.get("station_session_id"),
    )


#: Other stations' sessions of the member, from the clinic hub (app.hub.local: ``hub_sessions``).
_HUB_SESSION_COLUMNS = """
    null as session_id, h.started_at, h.program_id, h.program_name, h.status, h.active_seconds,
    h.pain_before, h.pain_after, h.effort,
    h.walking_seconds, h.rails_held_share, h.hands_free_share, h.early_releases, h.rails_pauses,
    h.longest_hands_free_s, h.top_backward_speed_kmh, h.emergency_stops, h.pain_tapped, h.pain_tap_t,
    h.station_id, h.station_session_id
"""


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def _local_date(iso_text: str) -> date | None:
    try:
        return datetime.fromisoformat(iso_text).date()
    except (TypeError, ValueError):
        return None


def week_points(sessions: Iterable[SessionPoint], goal: int | None, today: date,
                weeks: int | None = None) -> list[WeekPoint]:
    """Sessions and minutes per calendar week, every week from the first session's (or the last
    *weeks*) to *today*'s, empty weeks included so a chart never hides a gap."""
    counts: dict[date, list] = {}
    for point in sessions:
        day = _local_date(point.started_at)
        if day is None:
            continue
        bucket = counts.setdefault(_monday(day), [0, 0.0])
        bucket[0] += 1
        bucket[1] += point.minutes
    last = _monday(today)
    if weeks is not None:
        first = last - timedelta(weeks=max(1, weeks) - 1)
    elif counts:
        first = min(min(counts), last)
    else:
        first = last
    out = []
    monday = first
    while monday <= last:
        n, minutes = counts.get(monday, (0, 0.0))
        out.append(WeekPoint(monday.isoformat(), n, round(minutes, 2), goal, None if not goal else n >= goal))
        monday += timedelta(weeks=1)
    return out


class History:
    """History queries on the store's database (a :class:`~app.shell.store.Store` or its ``db``)."""

    def __init__(self, store_or_db: Any):
        self.db = _db(store_or_db)
        ensure_schema(self.db)

    def missing_stats(self, member_id: int | None = None) -> list[int]:
        """Closed sessions without (current) stats, oldest first."""
        where = "and s.member_id = :member" if member_id is not None else ""
        sql = f"""
            select s.id from sessions s
            where s.status != 'running' {where}
              and not exists (select 1 from session_stats st where st.session_id = s.id and st.version = :version)
            order by s.id
        """
        return [r["id"] for r in self.db.query(sql, {"member": member_id, "version": STATS_VERSION})]

    def backfill(self, member_id: int | None = None) -> int:
        """Compute stats for closed sessions that have none. Returns how many were filled in."""
        missing = self.missing_stats(member_id)
        for session_id in missing:
            record_session_stats(self.db, session_id)
        return len(missing)

    def session_points(self, member_id: int | None = None, *, limit: int | None = None,
                       backfill: bool = True) -> list[SessionPoint]:
        """Sessions (oldest first) with their stats: one indexed query, no samples read.

        :param member_id: one member's sessions; ``None`` for every session on the station.
        :param limit: only the newest *limit* sessions.
        """
        if backfill:
            self.backfill(member_id)
        where = "where s.member_id = :member" if member_id is not None else ""
        sql = f"""
            select {_SESSION_COLUMNS}, null as station_id, null as station_session_id from sessions s
            left join session_stats st on st.session_id = s.id
            {where}
        """
        if member_id is not None and self._has_hub_sessions():
            # The member's whole history: sessions walked at the clinic's other stations too.
            sql += f"""
            union all
            select {_HUB_SESSION_COLUMNS} from hub_sessions h
            join members m on m.hub_uuid = h.member_uuid and m.id = :member
            """
        # julianday: stations may write times with different UTC offsets; order by the instant.
        sql = (f"select * from ({sql}) order by julianday(started_at) desc, session_id desc "
               f"{'limit :limit' if limit else ''}")
        rows = list(self.db.query(sql, {"member": member_id, "limit": limit}))
        return [_point(r) for r in reversed(rows)]

    def _has_hub_sessions(self) -> bool:
        return "hub_sessions" in self.db.table_names() and "hub_uuid" in self.db["members"].columns_dict

    def outcomes(self, member_id: int, count: int = 3) -> list[SessionOutcome]:
        """The member's last *count* finished sessions as progression inputs, oldest first."""
        points = [p for p in self.session_points(member_id, limit=count + 1) if p.status != "running"]
        return [p.outcome() for p in points[-count:]]

    def member_history(self, member_id: int | None, *, units: str = "mph", goal_per_week: int | None = None,
                       weeks: int | None = None, today: date | None = None, backfill: bool = True) -> MemberHistory:
        """Everything the history screen and summary show for one member (or everyone).

        :param backfill: compute missing stats first (a write); the export reads inside its own
            snapshot and passes False, having backfilled before it."""
        points = self.session_points(member_id, backfill=backfill)
        today = today or datetime.now().astimezone().date()
        week_list = week_points(points, goal_per_week, today, weeks)
        this_monday = _monday(today).isoformat()
        walked = [p for p in points if p.hands_free_share is not None]
        summary = HistorySummary(
            sessions=len(points),
            total_minutes=round(sum(p.minutes for p in points), 2),
            top_backward_speed_kmh=max((p.top_backward_speed_kmh for p in points), default=0.0),
            sessions_this_week=next((w.sessions for w in week_list if w.week_start == this_monday), 0),
            goal_per_week=goal_per_week,
            last_pain_before=points[-1].pain_before if points else None,
            last_pain_after=points[-1].pain_after if points else None,
            last_hands_free_share=walked[-1].hands_free_share if walked else None,
        )
        return MemberHistory(member_id, units, goal_per_week, points, week_list, summary)

    def stats_by_session(self, session_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
        """Stored stats rows for many sessions at once (the export), computing any that are missing."""
        ids = sorted(set(session_ids))
        out: dict[int, dict[str, Any]] = {}
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            marks = ",".join("?" * len(chunk))
            for row in self.db.query(f"select * from session_stats where version = ? and session_id in ({marks})", [STATS_VERSION, *chunk]):
                out[row["session_id"]] = row
        for session_id in ids:
            if session_id not in out:
                row = record_session_stats(self.db, session_id)
                if row is not None:
                    out[session_id] = row
        return out

    def session_stats(self, session_id: int) -> dict[str, Any] | None:
        """The stored stats row of one session (computed now if missing), for the export."""
        rows = list(self.db.query("select * from session_stats where session_id = ? and version = ?", [session_id, STATS_VERSION]))
        if rows:
            return rows[0]
        return record_session_stats(self.db, session_id)


def dumps(history: MemberHistory) -> str:
    return json.dumps(history.as_dict(), sort_keys=True)
