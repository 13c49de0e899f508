"""The export itself: one read snapshot of the database, every file written, then committed.

:class:`Exporter` ties the jobs together: which sessions (:mod:`.selection`), their figures
(:mod:`.metrics`), the TCX laps (:mod:`.tcx`), the charts (:mod:`.charts`), and the stick
(:mod:`.stick`). Samples are read with a cursor and written row by row to every output at once;
memory does not grow with the number of sessions or samples (``benchmarks/bench_export.py``).
"""

from __future__ import annotations

import csv
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from contextlib import closing
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from sqlite_utils import Database

from .. import export_formats as fmt
from ..schema import apply_export_schema
from . import metrics, samples
from .charts import ChartRenderer, backfill_stats, remember_charts, write_charts
from .results import ExportCancelled, ExportError, ExportResult, ProgressCallback
from .selection import SELECTIONS, count_new, parse_since, select, watermarks
from .stick import Finisher, Folder, PendingFile, describe_os_error, discard, find_stick_id, free_name
from .tcx import Track, activity_notes, plan_laps

log = logging.getLogger(__name__)

#: Check the cancel flag this often inside a long session.
CANCEL_EVERY = 2000

SAMPLE_QUERY = ("select t, at, mode, phase_idx, target_speed_kmh, actual_speed_kmh, incline_pct, rails_held, "
                "lanyard_clipped, distance_m from samples where session_id = ? order by t")
EVENT_QUERY = "select id, session_id, at, t, kind, safety, detail from events"


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def now_iso(clock: Callable[[], float]) -> str:
    return datetime.fromtimestamp(clock(), tz=timezone.utc).astimezone().isoformat(timespec="seconds")


def json_or_text(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


#: One encoder for every line (json.dumps builds a new one per call when given options).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_LINE_BREAKS_ESCAPED = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def dumps(value: Any) -> str:
    # JSON allows U+0085, U+2028 and U+2029 raw inside strings, but many line readers (Python's
    # str.splitlines, some log tools) end a line there, which would cut a record in two. Escape them.
    return _ENCODER.encode(value).translate(_LINE_BREAKS_ESCAPED)


class Csv:
    """A CSV file on the stick: UTF-8 with BOM (so spreadsheets show accents), RFC 4180 rows."""

    def __init__(self, pending: PendingFile, columns: Iterable[str]):
        self.pending = pending
        pending.write("\ufeff")
        self.writer = csv.writer(pending)
        self.writer.writerow(columns)

    def row(self, values: Iterable[Any]) -> None:
        self.writer.writerow([fmt.cell(v) for v in values])

    def plain_row(self, values: Iterable[Any]) -> None:
        """A row with no free text (numbers and our own mode names): no formula guard needed."""
        self.writer.writerow(values)


class Exporter:
    """Export sessions from the database at *db_path* into ``<target>/Backstep/<station-id>/``.

    :param db_path: the station's SQLite file (opened read-mostly; see the package docstring).
    :param station_id: names the folder; sessions keep their own ``station_id`` column.
    :param pseudonymize: member names become ``M-`` ids (HMAC of the member id, per-station key).
    :param charts: with a renderer, every member with a session in the export gets their history
        charts as ``charts/<member-N or pseudonym>.png`` (written, renamed and listed like every file).
    """

    def __init__(self, db_path: str | os.PathLike, *, station_id: str = "backstep-1",
                 pseudonymize: bool = False, clock: Callable[[], float] = time.time,
                 charts: ChartRenderer | None = None, fast: bool = True):
        self.db_path = Path(db_path)
        #: False: every sample through the straightforward row-by-row path (:mod:`.samples`), the
        #: reference the fast path is tested against.
        self.fast = fast
        self.station_id = station_id
        self.pseudonymize = pseudonymize
        self.clock = clock
        self.charts = charts
        self._key: bytes | None = None

    @property
    def station_folder(self) -> str:
        return fmt.fat_safe(self.station_id, fallback="station")

    # --- public ------------------------------------------------------------------------------------

    def export(self, target: str | os.PathLike, *, selection: str = "incremental", since: str | None = None,
               on_progress: ProgressCallback | None = None, cancel: threading.Event | None = None) -> ExportResult:
        """Write the export; raise :class:`ExportError` (one line) when it cannot finish."""
        if selection not in SELECTIONS:
            raise ValueError(f"unknown selection {selection!r}")
        since_value = parse_since(since) if selection == "since" else None
        conn = self._connect()
        try:
            root = Folder.open_target(target)
        except BaseException:
            conn.close()
            raise
        folders: list[Folder] = [root]
        pending: list[PendingFile] = []
        created: list[tuple[Folder, str]] = []  # folders this export made, removed again if it fails
        finisher = Finisher()
        try:
            return self._export(conn, root, folders, pending, created, finisher, selection, since_value, on_progress,
                                cancel)
        except OSError as exc:
            finisher.close()
            discard(pending, created)
            where = f"{root.path.rstrip('/')}/{fmt.FOLDER}/{self.station_folder}"
            raise ExportError(describe_os_error(exc, where)) from None
        except sqlite3.Error as exc:
            finisher.close()
            discard(pending, created)
            raise ExportError(f"{self.db_path}: database error during the export ({exc}); try again") from None
        except BaseException:
            finisher.close()
            discard(pending, created)
            raise
        finally:
            finisher.close()
            if conn.in_transaction:
                conn.rollback()
            conn.close()
            for folder in reversed(folders):
                folder.close()

    def count_new(self, target: str | os.PathLike) -> int:
        """How many finished sessions an incremental export to *target* would write (for the
        screen's "12 new sessions" before the person taps Export). Writes nothing to the stick."""
        conn = self._connect()
        try:
            root = Folder.open_target(target)
            opened = [root]
            try:
                stick_id = find_stick_id(root, self.station_folder, opened)
                return count_new(conn, watermarks(conn, stick_id)[0] if stick_id else 0)
            except OSError as exc:
                raise ExportError(describe_os_error(exc, root.path)) from None
            finally:
                for folder in reversed(opened):
                    folder.close()
        finally:
            conn.close()

    def pseudonym(self, member_id: Any, member_name: str | None) -> str:
        assert self._key is not None
        return metrics.pseudonym(self._key, member_id, member_name)

    # --- database -------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if not self.db_path.is_file():
            raise ExportError(f"{self.db_path}: no database here yet; run a session first or pass --db FILE")
        try:
            conn = sqlite3.connect(str(self.db_path), isolation_level=None, timeout=10.0, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            # Text another tool wrote as invalid UTF-8 must not stop the export of everything else.
            conn.text_factory = _lenient_text
            # The kiosk's main loop is the writer; wait for its one-second commits instead of failing.
            conn.execute("PRAGMA busy_timeout=10000")
            tables = {row[0] for row in conn.execute("select name from sqlite_master where type='table'")}
            if not {"sessions", "samples", "events", "phases"} <= tables:
                conn.close()
                raise ExportError(f"{self.db_path}: not a Backstep database (no sessions table); check --db")
            db = Database(conn)
            apply_export_schema(db)
            if self.pseudonymize:
                self._key = metrics.pseudonym_key(db, lambda: now_iso(self.clock))
        except sqlite3.Error as exc:
            raise ExportError(f"{self.db_path}: cannot open the database ({exc})") from None
        return conn

    # --- the export itself --------------------------------------------------------------------------------

    def _export(self, conn, root, folders, pending, created, finisher, selection, since_value, on_progress, cancel) -> ExportResult:
        station_name = self.station_folder
        shown = f"{root.path.rstrip('/')}/{fmt.FOLDER}/{station_name}"

        # 1. Which stick is this? Look without creating anything, so "nothing new" writes nothing.
        known = len(folders)
        stick_id = find_stick_id(root, station_name, folders) or secrets.token_hex(16)
        top = folders[known] if len(folders) > known else None
        station = folders[known + 1] if len(folders) > known + 1 else None

        # 2. What to export, from one consistent snapshot of the database (stats completed first:
        #    every figure of a session comes from them).
        old_watermarks = watermarks(conn, stick_id) if selection == "incremental" else (0, 0)
        history = backfill_stats(conn)
        conn.execute("BEGIN")
        chosen = select(conn, selection, since_value, *old_watermarks)
        session_ids = chosen.session_ids
        if chosen.empty:
            why = {"incremental": "nothing new since the last export to this stick; use --all to write everything again",
                   "all": "no finished sessions to export yet",
                   "since": "no sessions match --since"}[selection]
            return ExportResult(ok=True, message=why, folder=shown, selection=selection, stick_id=stick_id, nothing_new=True)

        # 3. Write everything under temporary names.
        if top is None:
            top = root.child(fmt.FOLDER, create=True)
            folders.append(top)
        if station is None:
            station = top.child(station_name, create=True)
            folders.append(station)
        tcx_folder = station.child(fmt.TCX_FOLDER, create=True)
        folders.append(tcx_folder)
        exported_at = now_iso(self.clock)
        exports_folder = station.child(fmt.EXPORTS_FOLDER, create=True)
        folders.append(exports_folder)
        batch, batch_name = exports_folder.new_child(fmt.stamp(exported_at))
        folders.append(batch)
        batch_relative = f"{fmt.EXPORTS_FOLDER}/{batch_name}"
        created.append((exports_folder, batch_name))

        def new(folder: Folder, name: str, relative: str, in_memory: bool = False) -> PendingFile:
            item = PendingFile(folder, name, relative, in_memory=in_memory)
            pending.append(item)
            return item

        def in_batch(name: str) -> PendingFile:
            return new(batch, name, f"{batch_relative}/{name}")

        out = _Outputs(sessions=Csv(in_batch(fmt.SESSIONS_CSV), fmt.SESSION_COLUMNS),
                       samples=Csv(in_batch(fmt.SAMPLES_CSV), fmt.SAMPLE_COLUMNS),
                       events=Csv(in_batch(fmt.EVENTS_CSV), fmt.EVENT_COLUMNS), jsonl=in_batch(fmt.JSONL),
                       new_tcx=lambda name: new(tcx_folder, name, f"{fmt.TCX_FOLDER}/{name}", in_memory=True),
                       export_folder=batch_relative)
        out.jsonl.write(dumps({"type": "export", "format": "backstep-export", "version": 1, "station_id": self.station_id,
                               "exported_at": exported_at, "selection": selection, "sessions": len(session_ids),
                               "pseudonymized": self.pseudonymize}) + "\n")

        total = len(session_ids)
        self._progress(on_progress, 0, total)
        for done, session_id in enumerate(session_ids, start=1):
            self._check(cancel)
            self._write_session(conn, session_id, out, cancel, finisher)
            self._progress(on_progress, done, total)
        for row in conn.execute(f"{EVENT_QUERY} where {chosen.station_events_where} order by id", chosen.params):
            self._write_event(row, out)

        charts_folder, charts_drawn = None, {}
        if self.charts is not None and history is not None and session_ids:
            charts_folder, charts_drawn = write_charts(conn, history, self.charts, station, folders, session_ids, new,
                                                       self.pseudonym if self.pseudonymize else None, stick_id)

        keep_aside = self._write_index(station, new, out.index_rows, exported_at)
        self._write_clinic_sessions(conn, station, new)

        first_id = session_ids[0] if session_ids else None
        last_id = session_ids[-1] if session_ids else None
        readme = new(station, fmt.README, fmt.README)
        readme.write(fmt.readme_text(station_id=self.station_id, exported_at=exported_at, selection=selection,
                                     sessions=total, pseudonymized=self.pseudonymize, first_id=first_id,
                                     last_id=last_id).replace("\n", "\r\n"))  # CRLF: Notepad reads it too
        marker_file = new(station, fmt.MARKER, fmt.MARKER)
        marker_file.write(json.dumps({"format": "backstep-export-marker", "version": 1, "stick_id": stick_id,
                                      "station_id": self.station_id, "last_export_at": exported_at}, indent=1) + "\n")
        finisher.wait()
        for item in pending:
            self._check(cancel)
            item.finish()

        # 4. Commit: the old manifest goes first (a stick without one holds an unfinished export),
        #    then every rename, then the folders are fsynced, and the new manifest comes last.
        station.remove(fmt.MANIFEST)
        station.fsync()
        if keep_aside:
            station.replace(fmt.SESSIONS_CSV, keep_aside)
        for item in pending:
            item.commit()
        tcx_folder.fsync()
        batch.fsync()
        exports_folder.sweep_partials(keep=batch_name)
        exports_folder.fsync()
        if charts_folder is not None:
            charts_folder.fsync()
        station.fsync()
        manifest = PendingFile(station, fmt.MANIFEST, fmt.MANIFEST)
        pending.append(manifest)
        listed = [item for item in pending if item is not manifest and item is not marker_file]
        manifest.write(json.dumps({
            "format": "backstep-export-manifest", "version": 1, "station_id": self.station_id,
            "exported_at": exported_at, "selection": selection, "sessions": total,
            "samples": out.samples_written, "events": out.events_written,
            "files": [{"path": item.relative, "bytes": item.size, "sha256": item.sha.hexdigest()} for item in listed],
        }, indent=1, ensure_ascii=False) + "\n")
        manifest.finish()
        manifest.commit()
        station.fsync()

        # 5. Only now remember what this stick holds (the export's own table; one short write).
        new_sessions_wm, new_events_wm = chosen.next_watermarks(selection, old_watermarks)
        conn.execute("COMMIT")
        with Database(conn).atomic() as db:
            db["exports"].insert({
                "stick_id": stick_id, "station_id": self.station_id, "exported_at": exported_at,
                "target": shown, "selection": selection, "sessions": total, "samples": out.samples_written,
                "events": out.events_written, "first_session_id": first_id, "last_session_id": last_id,
                "session_watermark": new_sessions_wm, "event_watermark": new_events_wm,
            })
            remember_charts(db, stick_id, charts_drawn, exported_at)
        files = [f"{shown}/{item.relative}" for item in pending if item is not marker_file]
        what = {"incremental": "new since the last export to this stick", "all": "all", "since": "selected with --since"}[selection]
        message = (f"exported {total} session(s) ({what}), {out.samples_written} samples and {out.events_written} events "
                   f"to {shown}")
        return ExportResult(ok=True, message=message, folder=shown, files=files, sessions=total,
                            samples=out.samples_written, events=out.events_written, selection=selection,
                            stick_id=stick_id, export_folder=f"{shown}/{batch_relative}")

    def _write_clinic_sessions(self, conn, station: Folder, new) -> None:
        """``clinic-sessions.csv``: the members' sessions walked at the clinic's other stations, as
        the hub sent them down (docs/hub.md), marked with their station. Nothing at a lone station."""
        if conn.execute("select 1 from sqlite_master where type = 'table' and name = 'hub_sessions'").fetchone() is None:
            return
        rows = conn.execute(
            "select h.station_id, h.station_session_id, m.id, coalesce(m.name, h.member_name), h.started_at, "
            "h.ended_at, h.program_id, h.program_name, h.status, h.active_seconds, h.pain_before, h.pain_after, "
            "h.effort, h.hands_free_share, h.top_backward_speed_kmh "
            "from hub_sessions h left join members m on m.hub_uuid = h.member_uuid "
            "order by julianday(h.started_at), h.station_id, h.station_session_id").fetchall()
        if not rows:
            return
        out = Csv(new(station, fmt.CLINIC_CSV, fmt.CLINIC_CSV), fmt.CLINIC_COLUMNS)
        for (station_id, number, member_id, name, started, ended, program_id, program_name, status, active,
             before, after, effort, hands_free, top) in rows:
            member = self.pseudonym(member_id, name) if self.pseudonymize else name
            share = None if hands_free is None else round(hands_free * 100, 1)
            out.row([station_id, number, member, started, ended, program_id, program_name, status, active,
                     before, after, effort, share, top])

    def _write_index(self, station: Folder, new, index_rows: list[dict], exported_at: str) -> str | None:
        """The cumulative ``sessions.csv``: what the stick held plus this export, rewritten whole
        under a temporary name like every file. The earlier file is read as data only (a small
        regular file, never through a link); one this version cannot read is kept aside under
        another name, never replaced, so no row that was on the stick is lost. Returns that name:
        the caller renames the old file to it when the export commits, not before."""
        previous = keep_aside = None
        if station.exists(fmt.SESSIONS_CSV):
            data = station.read_small(fmt.SESSIONS_CSV, fmt.SESSIONS_MAX_BYTES)
            previous = fmt.parse_sessions_csv(data) if data is not None else None
            if previous is None:
                keep_aside = free_name(station, f"sessions-kept-{fmt.stamp(exported_at)}", ".csv")
        columns, rows = fmt.merge_sessions(previous, index_rows)
        index = Csv(new(station, fmt.SESSIONS_CSV, fmt.SESSIONS_CSV), columns)
        for row in rows:
            index.plain_row(row)  # cells are as written (formula guard applied once, when first written)
        return keep_aside

    def _write_session(self, conn, session_id: int, out: "_Outputs", cancel, finisher: Finisher) -> None:
        s = dict(conn.execute("select * from sessions where id = ?", (session_id,)).fetchone())
        stats = metrics.session_stats(conn, session_id)
        figures = metrics.phase_figures(stats)
        member, member_id = metrics.member_columns(s, self._key if self.pseudonymize else None)
        tcx_file = fmt.tcx_name(session_id, s["started_at"], s["program_name"] or s["program_id"])
        phases = [dict(r) for r in conn.execute(
            "select idx, name, direction, planned_seconds, target_speed_kmh, incline_pct, rails, round_label, started_at, t "
            "from phases where session_id = ? order by t, id", (session_id,))]
        summary = metrics.session_summary(s, stats, member=member, member_id=member_id,
                                          pauses=metrics.pauses(conn, session_id),
                                          tcx_relative=f"{fmt.TCX_FOLDER}/{tcx_file}", export_folder=out.export_folder)
        cells = metrics.index_row(summary)
        out.sessions.plain_row(cells)
        out.index_rows.append(dict(zip(fmt.SESSION_COLUMNS, cells)))
        out.jsonl.write(dumps({"type": "session", **summary, "program": json_or_text(s["program_snapshot"]),
                               "phases": phases}) + "\n")

        measured = any(f["max_distance_m"] is not None for f in figures)
        laps = plan_laps(s, phases, figures, measured, summary["distance_m"])
        tcx_pending = out.new_tcx(tcx_file)
        track = Track(tcx_pending.write, s["started_at"], laps, measured)
        n = 0
        with closing(self._sample_chunks(conn, session_id)) as chunks:  # closed: the decoder is restored
            for rows in chunks:
                self._check(cancel)
                n += len(rows)
                fast = samples.fast_outputs(session_id, rows) if self.fast else None
                if fast is None:
                    samples.write_rows(session_id, rows, out.samples, out.jsonl, track, dumps)
                else:
                    out.samples.pending.write(fast[0])
                    out.jsonl.write(fast[1])
                    track.points_fast(rows, fast[2])
        track.end(activity_notes(s, member, summary))
        finisher.submit(tcx_pending)  # closed now: a thousand sessions must not hold a thousand open files
        out.samples_written += n
        for row in conn.execute(f"{EVENT_QUERY} where session_id = ? order by id", (session_id,)):
            self._write_event(row, out)

    def _sample_chunks(self, conn: sqlite3.Connection, session_id: int) -> Iterator[list[tuple]]:
        """The session's samples as plain tuples, a chunk at a time. Text is decoded strictly (the
        lenient decoder costs a call per value); a sample holding invalid UTF-8 restarts the read
        leniently after the rows already handed out (the same snapshot, the same order)."""
        handed_out = 0
        for lenient in ((False, True) if self.fast else (True,)):
            conn.text_factory = _lenient_text if lenient else str
            try:
                cursor = conn.cursor()
                cursor.row_factory = None  # plain tuples: no per-row name lookups
                cursor.execute(SAMPLE_QUERY, (session_id,))
                skip = handed_out
                while skip:
                    skip -= len(cursor.fetchmany(min(skip, CANCEL_EVERY)))
                while rows := cursor.fetchmany(CANCEL_EVERY):
                    handed_out += len(rows)
                    yield rows
                return
            except sqlite3.OperationalError:
                if lenient:
                    raise
            finally:
                conn.text_factory = _lenient_text

    @staticmethod
    def _write_event(row, out: "_Outputs") -> None:
        values = tuple(row)
        out.events.row(values)
        record = dict(zip(fmt.EVENT_COLUMNS, values))
        record["detail"] = json_or_text(values[6])
        out.jsonl.write(dumps({"type": "event", **record}) + "\n")
        out.events_written += 1

    @staticmethod
    def _check(cancel: threading.Event | None) -> None:
        if cancel is not None and cancel.is_set():
            raise ExportCancelled("export cancelled; nothing on the stick was changed")

    @staticmethod
    def _progress(callback: ProgressCallback | None, done: int, total: int) -> None:
        if callback is None:
            return
        try:
            callback(done, total)
        except Exception:  # noqa: BLE001 - a broken progress bar must not spoil the export
            log.exception("export progress callback failed")


class _Outputs:
    """The files one export writes its sessions into, and what it has written so far."""

    def __init__(self, *, sessions: Csv, samples: Csv, events: Csv, jsonl: PendingFile,
                 new_tcx: Callable[[str], PendingFile], export_folder: str):
        self.sessions, self.samples, self.events, self.jsonl = sessions, samples, events, jsonl
        self.new_tcx = new_tcx
        self.export_folder = export_folder
        self.index_rows: list[dict] = []
        self.samples_written = 0
        self.events_written = 0
