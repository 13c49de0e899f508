"""One sync pass between a station's SQLite file and the clinic hub.

Order of a pass (each step commits on its own, so a pass cut short anywhere resumes cleanly):

1. members changed here go up as new versions; a stale one (another station changed the member
   first) is refused by the hub, and this station takes the hub's copy and logs it;
2. members changed elsewhere come down;
3. closed sessions go up in batches: session, phases, samples (COPY), events, statistics and
   scores in one hub transaction, then ``hub_sent`` here. Every hub row has a unique key
   (station, station's session id, station's row id) and goes in with ``ON CONFLICT DO NOTHING``,
   so a batch sent twice (a kill between the hub's commit and ours) lands once;
4. scores and statistics that arrived after their session was sent follow it up;
5. other stations' sessions of the clinic's members come down as summaries, for the history;
6. a row in ``backstep.syncs`` says the pass worked (``backstep hub status``).

The station's SQLite stays the source of truth for its own sessions; nothing here runs in the
kiosk's safety loop (docs/hub.md).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable

from sqlite_utils import Database

from . import local
from .connection import HubError, connect, explain
from .local import BOOLEAN_MEMBER_FIELDS, MEMBER_FIELDS, SCORE_KINDS, STAT_FIELDS

log = logging.getLogger(__name__)

#: Sessions per hub transaction: big enough that a backlog goes up in seconds, small enough that
#: a dropped connection costs little work again.
BATCH_SESSIONS = 25
#: Times come down as ISO 8601 in UTC, as the station writes its own (with an offset).
_ISO = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"+00:00\"')"
#: Other stations' sessions are fetched again over this window, so a session that a slower
#: transaction committed with an earlier received_at is not skipped.
PULL_OVERLAP = "10 minutes"

SESSION_COLUMNS = ("member_name", "program_id", "program_name", "program_units", "program_snapshot", "status",
                   "stop_reason", "started_at", "ended_at", "active_seconds", "elapsed_seconds", "phases_total",
                   "phases_completed", "distance_m", "source")
PHASE_COLUMNS = ("idx", "name", "direction", "planned_seconds", "target_speed_kmh", "incline_pct", "rails",
                 "round_label", "started_at", "t")
SAMPLE_COLUMNS = ("t", "at", "mode", "phase_idx", "target_speed_kmh", "actual_speed_kmh", "incline_pct",
                  "rails_held", "lanyard_clipped", "distance_m")
EVENT_COLUMNS = ("at", "clock_s", "t", "kind", "safety", "detail")
BOOLEAN_ROW_COLUMNS = frozenset({"rails_held", "lanyard_clipped", "safety", "pain_tapped"})


@dataclass
class SyncResult:
    """What one pass did; ``backstep sync --json`` prints it."""

    station_id: str
    members_sent: int = 0
    members_received: int = 0
    sessions_sent: int = 0
    samples_sent: int = 0
    scores_sent: int = 0
    sessions_received: int = 0
    programs_received: int = 0
    conflicts: list[str] = field(default_factory=list)
    waiting: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _row(values: dict, columns: Iterable[str]) -> tuple:
    return tuple(_bool(values.get(c)) if c in BOOLEAN_ROW_COLUMNS else values.get(c) for c in columns)


class StationSync:
    """Sync the station database *db* (a sqlite-utils ``Database``) as *station_id* with the hub at *dsn*."""

    def __init__(self, db: Database, station_id: str, dsn: str, *, programs_dir=None, caps=None):
        """:param programs_dir: where the clinic's programs from the hub are written (None: not
            taken); :param caps: the station's caps, which every such program must pass."""
        self.db = db
        self.station_id = station_id
        self.dsn = dsn
        self.programs_dir = programs_dir
        self.caps = caps
        local.ensure_schema(db)

    # --- the pass -----------------------------------------------------------------------------------

    def run_once(self) -> SyncResult:
        """One pass; raises :class:`HubError` (one line) when the hub cannot be reached or refuses."""
        psycopg = __import__("psycopg")
        result = SyncResult(self.station_id)
        local.set_state(self.db, last_attempt_at=local.now_iso())
        try:
            with connect(self.dsn) as conn:
                self._check_station(conn)
                self._push_members(conn, result)
                self._pull_members(conn, result)
                self._push_sessions(conn, result)
                self._push_late_scores(conn, result)
                self._push_station_events(conn)
                self._pull_sessions(conn, result)
                self._pull_programs(conn, result)
                result.waiting = local.waiting(self.db)
                with conn.transaction():
                    conn.execute("INSERT INTO backstep.syncs (station_id, sessions_sent, samples_sent, members_sent, "
                                 "waiting) VALUES (%s, %s, %s, %s, %s)",
                                 (self.station_id, result.sessions_sent, result.samples_sent, result.members_sent,
                                  result.waiting["sessions"]))
        except HubError as exc:
            local.set_state(self.db, last_error=str(exc), last_error_at=local.now_iso())
            raise
        except psycopg.Error as exc:
            error = explain(exc, "this station's sync")
            local.set_state(self.db, last_error=str(error), last_error_at=local.now_iso())
            raise error from None
        local.set_state(self.db, last_success_at=local.now_iso(), last_error=None,
                        waiting_sessions=result.waiting["sessions"], waiting_members=result.waiting["members"])
        return result

    def _check_station(self, conn) -> None:
        row = conn.execute("SELECT backstep.current_station()").fetchone()
        mine = row[0] if row else None
        if mine is None:
            raise HubError("the hub does not know this login as a station; use the connection string that "
                           "'backstep hub add-station' printed for this station")
        if mine != self.station_id:
            raise HubError(f"this login belongs to station {mine!r} at the hub, but the config says [station] id = "
                           f"{self.station_id!r}; fix one so they agree")

    # --- members up -----------------------------------------------------------------------------------

    def _push_members(self, conn, result: SyncResult) -> None:
        psycopg = __import__("psycopg")
        rows = list(self.db.query("SELECT * FROM members WHERE hub_dirty = 1 ORDER BY id"))
        for row in rows:
            if row["hub_uuid"] is None:
                # The identity is fixed here first, so a kill after the hub's commit cannot make
                # a second clinic-wide member of the same person.
                member_uuid = str(uuid.uuid4())
                with self.db.conn:
                    self.db.execute("UPDATE members SET hub_uuid = ?, hub_version = 0 WHERE id = ? AND hub_uuid IS NULL",
                                    [member_uuid, row["id"]])
                row = next(self.db.query("SELECT * FROM members WHERE id = ?", [row["id"]]))
            base = row["hub_version"] or 0
            try:
                with conn.transaction():
                    new_identity = base == 0 and conn.execute(
                        "SELECT 1 FROM backstep.members WHERE member_uuid = %s", (row["hub_uuid"],)).fetchone() is None
                    if new_identity:
                        conn.execute("INSERT INTO backstep.members (member_uuid, station_id) VALUES (%s, %s)",
                                     (row["hub_uuid"], self.station_id))
                    self._claim_code(conn, row)
                    values = [row[f] if f not in BOOLEAN_MEMBER_FIELDS else bool(row[f]) for f in MEMBER_FIELDS]
                    conn.execute(
                        f"INSERT INTO backstep.member_versions (member_uuid, version, station_id, {', '.join(MEMBER_FIELDS)}) "
                        f"VALUES (%s, %s, %s, {', '.join(['%s'] * len(MEMBER_FIELDS))})",
                        [row["hub_uuid"], base + 1, self.station_id, *values])
            except psycopg.errors.SerializationFailure:
                self._take_hubs_copy(conn, row, result)
                continue
            except psycopg.errors.UniqueViolation as exc:
                if "member_versions_pkey" in str(exc):
                    self._take_hubs_copy(conn, row, result)
                    continue
                raise
            except CodeTaken as exc:
                message = str(exc)
                result.conflicts.append(message)
                local.log(self.db, "member code taken", message)
                continue
            with self.db.conn:
                # Still dirty if someone changed the member here while it travelled.
                self.db.execute("UPDATE members SET hub_version = ?, hub_dirty = CASE WHEN updated_at IS ? "
                                "THEN 0 ELSE 1 END WHERE id = ?", [base + 1, row["updated_at"], row["id"]])
            result.members_sent += 1

    def _claim_code(self, conn, row: dict) -> None:
        code = row["code"]
        if not code:
            return
        conn.execute("INSERT INTO backstep.member_codes (code_key, member_uuid, station_id) VALUES (%s, %s, %s) "
                     "ON CONFLICT (code_key) DO NOTHING", (code.lower(), row["hub_uuid"], self.station_id))
        owner = conn.execute("SELECT member_uuid FROM backstep.member_codes WHERE code_key = %s",
                             (code.lower(),)).fetchone()
        if owner and str(owner[0]) != row["hub_uuid"]:
            raise CodeTaken(f"member {row['name']!r}: the code {code!r} belongs to another member of the clinic; "
                            f"give this member another code (backstep members set {row['id']} --code NEW)")

    def _take_hubs_copy(self, conn, row: dict, result: SyncResult) -> None:
        hub = conn.execute("SELECT * FROM backstep.members_current WHERE member_uuid = %s", (row["hub_uuid"],)).fetchone()
        names = [d.name for d in conn.execute("SELECT * FROM backstep.members_current LIMIT 0").description]
        copy = dict(zip(names, hub)) if hub else None
        if copy and copy["station_id"] == self.station_id and all(
                _same(copy[f], row[f]) for f in MEMBER_FIELDS):
            # Our own change, committed at the hub by a pass that was cut off before it could
            # note that here: nothing was lost, nothing to report.
            self._apply_member(copy)
            return
        message = (f"member {row['name']!r} was changed at station {copy['station_id'] or 'the hub'} and here since the "
                   f"last sync; the hub's copy (version {copy['version']}) was kept and this station's change dropped"
                   if copy else f"member {row['name']!r}: the hub refused this station's change")
        log.warning("%s", message)
        local.log(self.db, "member conflict", message)
        result.conflicts.append(message)
        if copy:
            self._apply_member(copy)
            result.members_received += 1

    # --- members down -------------------------------------------------------------------------------

    def _pull_members(self, conn, result: SyncResult) -> None:
        known = {r["hub_uuid"]: r for r in self.db.query(
            "SELECT id, hub_uuid, hub_version, hub_dirty, name FROM members WHERE hub_uuid IS NOT NULL")}
        cursor = conn.execute("SELECT * FROM backstep.members_current")
        names = [d.name for d in cursor.description]
        for values in cursor.fetchall():
            hub = dict(zip(names, values))
            mine = known.get(str(hub["member_uuid"]))
            if mine is not None and (mine["hub_version"] or 0) >= hub["version"]:
                continue
            if mine is not None and mine["hub_dirty"]:
                message = (f"member {mine['name']!r} was changed here and at station {hub['station_id'] or 'the hub'}; "
                           f"the hub's copy (version {hub['version']}) was kept")
                local.log(self.db, "member conflict", message)
                result.conflicts.append(message)
            self._apply_member(hub)
            result.members_received += 1

    def _apply_member(self, hub: dict) -> None:
        values = {f: (int(hub[f]) if f in BOOLEAN_MEMBER_FIELDS else hub[f]) for f in MEMBER_FIELDS}
        member_uuid = str(hub["member_uuid"])
        with self.db.conn:
            existing = list(self.db.query("SELECT id FROM members WHERE hub_uuid = ?", [member_uuid]))
            if values["code"]:
                clash = list(self.db.query("SELECT id, name FROM members WHERE lower(code) = lower(?) AND "
                                           "(hub_uuid IS NULL OR hub_uuid != ?)", [values["code"], member_uuid]))
                for other in clash:
                    # The code is the clinic's, claimed at the hub first: this station's member
                    # keeps everything else and staff give it a new code.
                    self.db.execute("UPDATE members SET code = NULL WHERE id = ?", [other["id"]])
                    local.log(self.db, "member code taken", f"member {other['name']!r} lost the code "
                              f"{values['code']!r} to a member added at another station; give them a new code")
            stamp = local.now_iso()
            if existing:
                sets = ", ".join(f"{f} = ?" for f in MEMBER_FIELDS)
                self.db.execute(f"UPDATE members SET {sets}, hub_version = ?, hub_dirty = 0, updated_at = ? WHERE id = ?",
                                [*values.values(), hub["version"], stamp, existing[0]["id"]])
            else:
                self.db["members"].insert({**values, "hub_uuid": member_uuid, "hub_version": hub["version"],
                                           "hub_dirty": 0, "created_at": stamp, "updated_at": stamp})
                # The insert trigger marks members without a hub identity only; this one has one.

    # --- sessions up ----------------------------------------------------------------------------------

    def _pending_sessions(self) -> list[int]:
        return [r[0] for r in self.db.execute(
            "SELECT s.id FROM sessions s LEFT JOIN members m ON m.id = s.member_id "
            "WHERE s.status != 'running' AND s.id NOT IN (SELECT session_id FROM hub_sent) "
            "AND (s.member_id IS NULL OR (m.hub_uuid IS NOT NULL AND m.hub_version > 0)) ORDER BY s.id").fetchall()]

    def _push_sessions(self, conn, result: SyncResult) -> None:
        pending = self._pending_sessions()
        for start in range(0, len(pending), BATCH_SESSIONS):
            batch = pending[start:start + BATCH_SESSIONS]
            sent = self._send_batch(conn, batch, result)
            with self.db.conn:
                self.db["hub_sent"].insert_all(sent, pk="session_id", replace=True)
            result.sessions_sent += len(batch)

    def _send_batch(self, conn, batch: list[int], result: SyncResult) -> list[dict]:
        marks = ",".join("?" * len(batch))
        sessions = list(self.db.query(
            f"SELECT s.*, m.hub_uuid AS member_uuid FROM sessions s LEFT JOIN members m ON m.id = s.member_id "
            f"WHERE s.id IN ({marks}) ORDER BY s.id", batch))
        stats = {r["session_id"]: r for r in self.db.query(
            f"SELECT * FROM session_stats WHERE session_id IN ({marks})", batch)}
        me = self.station_id
        sent = []
        with conn.transaction():
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO backstep.sessions (station_id, station_session_id, member_uuid, {', '.join(SESSION_COLUMNS)}) "
                    f"VALUES (%s, %s, %s, {', '.join(['%s'] * len(SESSION_COLUMNS))}) ON CONFLICT DO NOTHING",
                    [(me, s["id"], s["member_uuid"], *_row(s, SESSION_COLUMNS)) for s in sessions])
                self._copy_rows(cur, "phases", PHASE_COLUMNS, batch)
                result.samples_sent += self._copy_rows(cur, "samples", SAMPLE_COLUMNS, batch)
                self._copy_rows(cur, "events", EVENT_COLUMNS, batch)
                stat_rows = [(me, sid, *_row(row, STAT_FIELDS)) for sid, row in stats.items()]
                if stat_rows:
                    cur.executemany(
                        f"INSERT INTO backstep.session_stats (station_id, station_session_id, {', '.join(STAT_FIELDS)}) "
                        f"VALUES (%s, %s, {', '.join(['%s'] * len(STAT_FIELDS))}) ON CONFLICT DO NOTHING", stat_rows)
                score_rows = [(me, s["id"], kind, s[kind]) for s in sessions for kind in SCORE_KINDS
                              if s.get(kind) is not None]
                if score_rows:
                    cur.executemany("INSERT INTO backstep.scores (station_id, station_session_id, kind, value) "
                                    "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", score_rows)
                result.scores_sent += len(score_rows)
        stamp = local.now_iso()
        for s in sessions:
            sent.append({"session_id": s["id"], "sent_at": stamp,
                         "scores": ",".join(k for k in SCORE_KINDS if s.get(k) is not None),
                         "stats": int(s["id"] in stats)})
        return sent

    def _copy_rows(self, cur, table: str, columns: tuple[str, ...], batch: list[int]) -> int:
        """COPY the batch's rows of *table* into a temporary table, then insert the new ones."""
        temp = f"up_{table}"
        cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {temp} (LIKE backstep.{table}) ON COMMIT DELETE ROWS")
        names = ("station_id", "station_session_id", "station_row_id", *columns)
        marks = ",".join("?" * len(batch))
        count = 0
        # The station's 0/1 flags go as they are: PostgreSQL's boolean input takes '1' and '0'.
        with cur.copy(f"COPY {temp} ({', '.join(names)}) FROM STDIN") as copy:
            for row in self.db.execute(
                    f"SELECT ?, session_id, id, {', '.join(columns)} FROM {table} WHERE session_id IN ({marks})",
                    [self.station_id, *batch]):
                copy.write_row(row)
                count += 1
        cur.execute(f"INSERT INTO backstep.{table} ({', '.join(names)}) SELECT {', '.join(names)} FROM {temp} "
                    f"ON CONFLICT DO NOTHING")
        return count

    def _push_late_scores(self, conn, result: SyncResult) -> None:
        """Scores and statistics kept after their session went up (the pain score after a walk)."""
        rows = list(self.db.query(
            "SELECT s.id, s.pain_before, s.pain_after, s.effort, h.scores, h.stats, "
            "(SELECT count(*) FROM session_stats st WHERE st.session_id = s.id) AS has_stats "
            "FROM sessions s JOIN hub_sent h ON h.session_id = s.id "
            "WHERE (s.pain_before IS NOT NULL AND instr(h.scores, 'pain_before') = 0) "
            "   OR (s.pain_after IS NOT NULL AND instr(h.scores, 'pain_after') = 0) "
            "   OR (s.effort IS NOT NULL AND instr(h.scores, 'effort') = 0) "
            "   OR (h.stats = 0 AND EXISTS (SELECT 1 FROM session_stats st WHERE st.session_id = s.id))"))
        if not rows:
            return
        me = self.station_id
        with conn.transaction(), conn.cursor() as cur:
            score_rows = [(me, r["id"], kind, r[kind]) for r in rows for kind in SCORE_KINDS if r[kind] is not None]
            if score_rows:
                cur.executemany("INSERT INTO backstep.scores (station_id, station_session_id, kind, value) "
                                "VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING", score_rows)
            late_stats = [r["id"] for r in rows if r["has_stats"] and not r["stats"]]
            for stat in self.db.query(f"SELECT * FROM session_stats WHERE session_id IN "
                                      f"({','.join('?' * len(late_stats))})", late_stats) if late_stats else []:
                cur.execute(f"INSERT INTO backstep.session_stats (station_id, station_session_id, {', '.join(STAT_FIELDS)}) "
                            f"VALUES (%s, %s, {', '.join(['%s'] * len(STAT_FIELDS))}) ON CONFLICT DO NOTHING",
                            (me, stat["session_id"], *_row(stat, STAT_FIELDS)))
        result.scores_sent += len(score_rows)
        with self.db.conn:
            for r in rows:
                kinds = ",".join(k for k in SCORE_KINDS if r[k] is not None)
                self.db.execute("UPDATE hub_sent SET scores = ?, stats = ? WHERE session_id = ?",
                                [kinds, int(bool(r["has_stats"])), r["id"]])

    def _push_station_events(self, conn) -> None:
        """Events outside any session (a refused start, a fault at rest), after the last one sent."""
        since = int(local.state(self.db).get("station_events_sent_until") or 0)
        rows = self.db.execute("SELECT id, at, clock_s, kind, safety, detail FROM events WHERE session_id IS NULL "
                               "AND id > ? ORDER BY id", [since]).fetchall()
        if not rows:
            return
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany("INSERT INTO backstep.station_events (station_id, station_row_id, at, clock_s, kind, safety, "
                            "detail) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                            [(self.station_id, r[0], r[1], r[2], r[3], bool(r[4]), r[5]) for r in rows])
        local.set_state(self.db, station_events_sent_until=rows[-1][0])

    # --- the clinic's programs down ---------------------------------------------------------------------

    def _pull_programs(self, conn, result: SyncResult) -> None:
        """The newest version of each program the therapists put on the hub, as a file the library
        reads (checked again here against this station's caps; one that fails is logged, not written)."""
        if self.programs_dir is None:
            return
        from pathlib import Path

        from ..core.program import parse_program_text

        rows = conn.execute("SELECT DISTINCT ON (program_id) program_id, version, toml FROM backstep.programs "
                            "ORDER BY program_id, version DESC").fetchall()
        if not rows:
            return
        folder = Path(self.programs_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for program_id, version, text in rows:
            target = folder / f"{program_id}.toml"
            if target.exists() and target.read_text(encoding="utf-8") == text:
                continue
            program, problems = parse_program_text(text, f"hub program {program_id} v{version}", self.caps)
            if program is None:
                message = f"hub program {program_id} (version {version}) left out: {problems[0] if problems else 'invalid'}"
                local.log(self.db, "program refused", message)
                result.conflicts.append(message)
                continue
            _write_atomically(target, text)
            result.programs_received += 1

    # --- other stations' sessions down ----------------------------------------------------------------

    def _pull_sessions(self, conn, result: SyncResult) -> None:
        since = local.state(self.db).get("sessions_pulled_until")
        cursor = conn.execute(f"""
            SELECT s.station_id, s.station_session_id, s.member_uuid::text, s.member_name, s.program_id,
                   s.program_name, s.status, s.stop_reason, {_ISO.format('s.started_at')}, {_ISO.format('s.ended_at')},
                   s.active_seconds, s.elapsed_seconds, s.phases_total, s.phases_completed, s.distance_m,
                   max(c.value) FILTER (WHERE c.kind = 'pain_before'),
                   max(c.value) FILTER (WHERE c.kind = 'pain_after'),
                   max(c.value) FILTER (WHERE c.kind = 'effort'),
                   {', '.join(f'bool_or(st.{f})::int' if f in BOOLEAN_ROW_COLUMNS else f'max(st.{f})'
                              for f in STAT_FIELDS)},
                   greatest(s.received_at, max(c.received_at))::text
            FROM backstep.sessions s
            LEFT JOIN backstep.scores c USING (station_id, station_session_id)
            LEFT JOIN backstep.session_stats st USING (station_id, station_session_id)
            WHERE s.station_id <> %s AND s.member_uuid IS NOT NULL
            GROUP BY s.station_id, s.station_session_id
            HAVING %s::timestamptz IS NULL
                OR greatest(s.received_at, max(c.received_at)) > %s::timestamptz - interval '{PULL_OVERLAP}'
            """, (self.station_id, since, since))
        names = ("station_id", "station_session_id", "member_uuid", "member_name", "program_id", "program_name",
                 "status", "stop_reason", "started_at", "ended_at", "active_seconds", "elapsed_seconds",
                 "phases_total", "phases_completed", "distance_m", "pain_before", "pain_after", "effort",
                 *STAT_FIELDS, "received_at")
        rows = [dict(zip(names, values)) for values in cursor.fetchall()]
        newest = conn.execute("SELECT now()::text").fetchone()[0]
        if rows:
            with self.db.conn:
                self.db["hub_sessions"].upsert_all(rows, pk=("station_id", "station_session_id"))
        local.set_state(self.db, sessions_pulled_until=newest)
        result.sessions_received += len(rows)


def _same(hub_value: Any, station_value: Any) -> bool:
    if isinstance(hub_value, bool) or isinstance(station_value, bool):
        return bool(hub_value) == bool(station_value)
    return hub_value == station_value


def _write_atomically(path, text: str) -> None:
    import os

    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)


class CodeTaken(Exception):
    """A member's code is another member's at the hub."""
