"""The session store: every session, phase, 1 Hz sample and event, in SQLite.

Why it is built this way (docs/database.md):

- WAL and ``synchronous=FULL``: a committed second survives a power cut.
- One writer, the main loop. Samples and ordinary events are buffered and committed together at
  least once a second (:meth:`Store.flush`); a safety event is committed at once.
- The session row is written at start and updated on every flush, so a crash leaves a row that the
  next :class:`Store` marks ``interrupted``, with its samples kept.
- A file that is corrupt or comes from a newer Backstep is never overwritten: it is renamed aside,
  reported in one line (:attr:`Store.notices`), and a fresh database is started. Which check finds
  it, before the open or (the kiosk) after READY=1, is :mod:`app.shell.db_check`'s.
- The store itself speaks plain :mod:`sqlite3` on the fixed schema of :mod:`app.shell.schema`.
  sqlite-utils (its migrations, and
  :attr:`Store.db` for the history, members, export and commands) is imported only when first used:
  it pulls in click, dateutil and pluggy, a large share of the kiosk's start-up time
  (docs/architecture.md, "Start-up"). A database already at :data:`SCHEMA_VERSION` needs no migration.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from . import db_check
from .member_rows import ensure_member_row
from .schema_version import SCHEMA_VERSION

if TYPE_CHECKING:
    from sqlite_utils import Database

#: Events that are safety events (docs/safety.md, rule 8): committed at once, never only buffered.
SAFETY_EVENTS = frozenset({
    "start_refused", "start_cancelled", "pause", "resume", "emergency_stop", "estop_cleared",
    "lanyard_pulled", "lanyard_clipped", "link_lost", "link_restored", "confirm_refused",
    "resume_refused", "pain", "stop", "fault", "fault_cleared", "speed_capped", "sensor_fault",
    "completed", "session_started",
    # A pause whose reason changed (rails -> link lost) is still one pause: docs/safety.md, rule 8.
    "pause_reason_changed", "resume_cancelled",
})


class StoreError(Exception):
    """The database cannot be used at all (e.g. the folder is not writable)."""


def iso(wall: float) -> str:
    """ISO 8601 with the local UTC offset, millisecond precision: ``2026-11-21T16:45:28.123+00:00``."""
    return datetime.fromtimestamp(wall, tz=timezone.utc).astimezone().isoformat(timespec="milliseconds")


class Store:
    """Open (or create) the database at *path*.

    :param path: the SQLite file; its folder is created if missing.
    :param station_id: written on every session row, for exports from several stations.
    :param full_check: check every page of an existing file (``PRAGMA quick_check``) before opening
        it, as every command does. The kiosk passes ``False``: before READY=1 it checks only what
        does not grow with the history, and runs the full check after READY=1
        (:class:`app.shell.db_check.LateCheck`). A file that check marked damaged gets the full
        check at every open.
    """

    def __init__(self, path: str | os.PathLike, station_id: str = "backstep-1", *, full_check: bool = True):
        self.path = Path(path)
        self.station_id = station_id
        self.full_check = full_check
        self.notices: list[str] = []
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path.parent}: cannot create the database folder ({exc.strerror}); check the path and permissions") from None
        self._db: Database | None = None
        self._samples: list[dict] = []
        self._events: list[dict] = []
        self._session_updates: dict[int, dict] = {}
        self._known_columns: dict[str, frozenset[str]] = {}
        self._open_checked()

    # --- opening --------------------------------------------------------------------------

    @property
    def db(self) -> "Database":
        """The database as sqlite-utils' :class:`~sqlite_utils.Database`, on the store's connection
        (made on first use: importing sqlite-utils is slow, and the store's own work needs none of it)."""
        if self._db is None:
            from sqlite_utils import Database

            self._db = Database(self.conn)
        return self._db

    def _open_checked(self) -> None:
        """Open the file (moved aside first when it is damaged or newer) and mark the sessions a crash
        left running: :attr:`conn` is then ready."""
        problem = self._problem_with_existing_file()
        if problem:
            self._move_aside(problem)
        try:
            self._open_and_recover()
        except sqlite3.Error as exc:
            if problem or not db_check.is_damage(exc):
                raise self._cannot_open(exc) from None
            # Damage the check before the open did not reach (the kiosk's reads no table) but the
            # open did: the sessions left running, or an older file's migrations. Moved aside too.
            self._move_aside(f"the database is damaged ({exc})")
            try:
                self._open_and_recover()
            except sqlite3.Error as again:
                raise self._cannot_open(again) from None

    def _cannot_open(self, exc: sqlite3.Error) -> StoreError:
        return StoreError(f"{self.path}: cannot open the database ({exc}); check the folder is writable")

    def _open_and_recover(self) -> None:
        self.conn = self._open()
        try:
            self.recover_interrupted()
        except BaseException:
            self.conn.close()
            self._db = None
            raise

    def _problem_with_existing_file(self) -> str | None:
        # A file a full check found damaged (after an earlier kiosk's READY=1) is checked whole,
        # whoever opens it: the finding is moved aside with the file, or dropped if it no longer holds.
        marked = db_check.damage_marked(self.path)
        problem = db_check.problem(self.path, full=self.full_check or marked is not None)
        if marked is not None and problem is None:
            db_check.marker_of(self.path).unlink(missing_ok=True)
            self.notices.append(f"{self.path}: the damage an earlier check found ({marked}) is not found now; "
                                "its marker is removed")
        return problem

    def _move_aside(self, problem: str) -> Path:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        kind = "newer" if "newer" in problem else "corrupt"
        aside = self.path.with_name(f"{self.path.name}.{kind}-{stamp}")
        for suffix in ("", "-wal", "-shm", db_check.MARKER_SUFFIX):
            source = Path(str(self.path) + suffix)
            if source.exists():
                source.rename(Path(str(aside) + suffix))
        self.notices.append(f"{self.path}: {problem}; moved it aside to {aside.name} and started a fresh database (nothing was deleted)")
        return aside

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self.path), check_same_thread=False)
        try:
            self._prepare(conn)
        except BaseException:
            conn.close()
            self._db = None
            raise
        return conn

    def _prepare(self, conn: sqlite3.Connection) -> None:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        if conn.execute("PRAGMA user_version").fetchone()[0] < SCHEMA_VERSION:
            # A new database, or one from an older Backstep: the migrations (app/shell/schema.py)
            # bring it up to date, with foreign keys not yet enforced: the links migration rebuilds
            # tables that others point to, and rows that predate a link must survive it
            # (docs/database.md).
            from sqlite_utils import Database

            from .schema import apply_schema

            self._db = Database(conn)
            apply_schema(self._db)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        conn.execute("PRAGMA foreign_keys=ON")

    @contextmanager
    def atomic(self):
        """One transaction (a savepoint inside one already open), as ``sqlite_utils.Database.atomic``."""
        conn = self.conn
        if conn.in_transaction:
            name = f"store_{id(self)}_{time.monotonic_ns()}"
            conn.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                if conn.in_transaction:
                    conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    conn.execute(f"RELEASE SAVEPOINT {name}")
                raise
            conn.execute(f"RELEASE SAVEPOINT {name}")
            return
        conn.execute("BEGIN")
        try:
            yield
        except BaseException:
            conn.rollback()
            raise
        try:
            conn.execute("COMMIT")
        except BaseException:
            conn.rollback()
            raise

    def _query(self, sql: str, params: Any = ()) -> list[dict]:
        return list(self._rows(sql, params))

    def _rows(self, sql: str, params: Any = ()) -> Iterator[dict]:
        cursor = self.conn.execute(sql, params)
        names = [d[0] for d in cursor.description]
        for row in cursor:
            yield dict(zip(names, row))

    def recover_interrupted(self) -> list[int]:
        """Mark sessions left ``running`` by a crash as ``interrupted``. Returns their ids."""
        rows = self._query("select id, last_saved_at, started_at from sessions where status = 'running'")
        with self.atomic():
            for row in rows:
                self.conn.execute("update sessions set status = 'interrupted', stop_reason = ?, ended_at = ? where id = ?",
                                  ("the station stopped during the session (power cut or crash)",
                                   row["last_saved_at"] or row["started_at"], row["id"]))
        if rows:
            ids = ", ".join(str(r["id"]) for r in rows)
            self.notices.append(f"{self.path}: session {ids} was left open by a crash or power cut; marked interrupted, samples kept")
        return [r["id"] for r in rows]

    # --- writing ----------------------------------------------------------------------------

    def open_session(self, *, program: Any, member: Any, wall: float, clock_s: float, source: str = "kiosk") -> int:
        """Write the session row at start and commit it. Returns the session id."""
        row = {
            "station_id": self.station_id,
            "member_id": getattr(member, "id", None),
            "member_name": getattr(member, "name", None),
            "program_id": program.id,
            "program_name": program.name,
            "program_units": program.units,
            "program_snapshot": json.dumps(program.snapshot, sort_keys=True, default=str),
            "status": "running",
            "stop_reason": "",
            "started_at": iso(wall),
            "last_saved_at": iso(wall),
            "started_clock_s": clock_s,
            "active_seconds": 0.0,
            "elapsed_seconds": 0.0,
            "phases_total": len(program.phases),
            "phases_completed": 0,
            "source": source,
        }
        self.flush()
        with self.atomic():
            # sessions.member_id links to members: a member the caller knows but the table lacks
            # gets an archived placeholder rather than a session that cannot be saved.
            ensure_member_row(self.conn, row["member_id"], row["member_name"], getattr(member, "units", None))
            return self._insert("sessions", [row])

    def add_phase(self, session_id: int, detail: dict, *, wall: float, t: float) -> None:
        with self.atomic():
            self._insert("phases", [{
                "session_id": session_id,
                "idx": detail.get("index"),
                "name": detail.get("name"),
                "direction": detail.get("direction"),
                "planned_seconds": detail.get("seconds"),
                "target_speed_kmh": detail.get("speed_kmh"),
                "incline_pct": detail.get("incline_pct"),
                "rails": detail.get("rails"),
                "round_label": detail.get("round", ""),
                "started_at": iso(wall),
                "t": t,
            }])

    def add_sample(self, session_id: int, *, t: float, wall: float, **values: Any) -> None:
        """Buffer one sample; it is committed by the next :meth:`flush` (at least once a second)."""
        self._samples.append({"session_id": session_id, "t": round(t, 3), "at": iso(wall), **values})

    def add_event(self, kind: str, *, session_id: int | None, wall: float, clock_s: float,
                  t: float | None = None, detail: dict | None = None) -> None:
        """Record an event. Safety events are committed at once; others with the next flush."""
        safety = kind in SAFETY_EVENTS
        self._events.append({
            "session_id": session_id,
            "at": iso(wall),
            "clock_s": clock_s,
            "t": None if t is None else round(t, 3),
            "kind": kind,
            "safety": int(safety),
            "detail": json.dumps(detail or {}, sort_keys=True, default=str),
        })
        if safety:
            self.flush()

    def update_session(self, session_id: int, **values: Any) -> None:
        """Buffer a change to the session row (progress counters); committed with the next flush."""
        self._session_updates.setdefault(session_id, {}).update(values)

    def close_session(self, session_id: int, *, status: str, wall: float, active_seconds: float,
                      elapsed_seconds: float, phases_completed: int, reason: str = "",
                      distance_m: float | None = None) -> None:
        self.update_session(session_id, status=status, ended_at=iso(wall), active_seconds=round(active_seconds, 3),
                            elapsed_seconds=round(elapsed_seconds, 3), phases_completed=phases_completed,
                            stop_reason=reason, **({"distance_m": distance_m} if distance_m is not None else {}))
        self.flush(saved_wall=wall)

    def score(self, session_id: int, when: str, score: int | None) -> None:
        column = {"before": "pain_before", "after": "pain_after", "effort": "effort"}.get(when)
        if column is None:
            return
        self.update_session(session_id, **{column: score})
        self.flush()

    def flush(self, saved_wall: float | None = None) -> None:
        """Commit everything buffered in one transaction (fsynced: WAL + synchronous=FULL)."""
        if not (self._samples or self._events or self._session_updates):
            return
        samples, events, updates = self._samples, self._events, self._session_updates
        self._samples, self._events, self._session_updates = [], [], {}
        saved_at = iso(saved_wall if saved_wall is not None else time.time())
        # Plain statements on the fixed schema: sqlite-utils' insert_all/update look the table up
        # (sqlite_master, table_info, a read of the row) on every call, about 15 times the cost of
        # the writes themselves, and this runs every second and on every safety event.
        with self.atomic():
            if samples:
                self._insert("samples", samples)
            if events:
                self._insert("events", events)
            for session_id, values in updates.items():
                self._update_session(session_id, {**values, "last_saved_at": values.get("ended_at", saved_at)})

    def _columns(self, table: str) -> frozenset[str]:
        known = self._known_columns.get(table)
        if known is None:
            known = self._known_columns[table] = frozenset(
                row[1] for row in self.conn.execute(f"PRAGMA table_info({table})"))
        return known

    def _checked(self, table: str, names) -> list[str]:
        names = sorted(set(names))
        unknown = set(names) - self._columns(table)
        if unknown:
            raise StoreError(f"{table}: no column {', '.join(sorted(unknown))} (a programming error, not a data one)")
        return names

    def _insert(self, table: str, rows: list[dict]) -> int | None:
        """Insert *rows*; returns the last one's row id."""
        names = self._checked(table, {key for row in rows for key in row})
        sql = f"insert into {table} ({', '.join(names)}) values ({', '.join(':' + n for n in names)})"
        if len(rows) == 1:
            return self.conn.execute(sql, rows[0]).lastrowid
        self.conn.executemany(sql, [{n: row.get(n) for n in names} for row in rows])
        return None

    def _update_session(self, session_id: int, values: dict) -> None:
        names = self._checked("sessions", values)
        sql = f"update sessions set {', '.join(f'{n} = :{n}' for n in names)} where id = :_id"
        if self.conn.execute(sql, {**values, "_id": session_id}).rowcount != 1:
            raise StoreError(f"session {session_id} is not in {self.path}; it cannot be updated")

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.conn.close()

    # --- reading ----------------------------------------------------------------------------

    def sessions(self, limit: int | None = None, member_id: int | None = None) -> Iterator[dict]:
        """Sessions, newest first, each with its number of stored samples."""
        where = "where s.member_id = :member" if member_id is not None else ""
        sql = f"""
            select s.*, (select count(*) from samples where samples.session_id = s.id) as samples
            from sessions s {where} order by s.id desc {'limit :limit' if limit else ''}
        """
        yield from self._rows(sql, {"member": member_id, "limit": limit})

    def session(self, session_id: int) -> dict | None:
        rows = self._query("select * from sessions where id = ?", [session_id])
        return rows[0] if rows else None

    def events(self, session_id: int | None = None) -> list[dict]:
        if session_id is None:
            return self._query("select * from events order by id")
        return self._query("select * from events where session_id = ? order by id", [session_id])

    def samples(self, session_id: int) -> list[dict]:
        return self._query("select * from samples where session_id = ? order by t", [session_id])
