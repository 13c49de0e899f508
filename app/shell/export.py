"""USB export: the session logs as CSV, JSON Lines and TCX, written safely onto a stick.

The same code runs behind ``backstep export --to DIR`` and the kiosk's Export screen
(:class:`ExportJob`). What it promises (DESIGN.md §5, issue 5):

- **No half file under a final name.** Every file is written to ``.<name>.partial`` in its final
  folder, flushed and fsynced; only when *all* of them are complete are they renamed (``os.replace``)
  into place and the folders fsynced; ``manifest.json`` (checksums) is written last and removed
  first, so a stick without it holds an unfinished export. A full, read-only or pulled stick, or a
  kill, leaves at most ``.partial`` files, which the next export to that stick overwrites.
- **Nothing on the stick is trusted.** Folders are opened by file descriptor with ``O_NOFOLLOW``
  and every file is created relative to them, so a link planted on the stick can never redirect a
  write onto the station. The only file ever read is our marker ``.backstep-export.json`` (a
  random stick id), and only when it is a small regular file.
- **The database is read, not changed.** Session data is read in one read transaction (a
  consistent snapshot while the kiosk keeps writing); the only writes go to the export's own
  tables (:mod:`app.shell.migrations_export`). The :class:`~app.shell.store.Store` is deliberately
  not opened: its crash recovery would mark the kiosk's running session ``interrupted``.
- **Streaming.** Samples are read with a cursor and written row by row to every output at once;
  memory does not grow with the number of sessions or samples (``benchmarks/bench_export.py``).
"""

from __future__ import annotations

import csv
import errno
import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import stat
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from sqlite_utils import Database

from ..core.rail_stats import split_seconds
from ..errors import UserError
from . import export_formats as fmt
from .history import STATS_VERSION, History, compute_session_stats
from .migrations_export import export_migrations
from .tcx import Lap, TcxWriter

log = logging.getLogger(__name__)

#: The marker is a few hundred bytes; anything bigger is not ours and is not read.
MARKER_MAX_BYTES = 4096
#: Python-side write buffer: one checksum update and one write per 64 KiB, not per CSV row.
_CHUNK = 64 * 1024
#: Samples are 1 Hz (app.shell.loop.SAMPLE_INTERVAL_S): one running sample = one second walked.
SAMPLE_SECONDS = 1.0
#: Check the cancel flag this often inside a long session.
_CANCEL_EVERY = 2000

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

ProgressCallback = Callable[[int, int], Any]
#: ``(history, title) -> PNG bytes``: draws one member's history charts (app.shell cannot import
#: pygame; the commands pass a renderer built on app.ui.charts). *title* is the member's name, or
#: their pseudonym when the export pseudonymizes.
ChartRenderer = Callable[[Any, str], bytes]
#: The folder under the station's export folder that holds one PNG per member.
CHARTS_FOLDER = "charts"


class ExportError(UserError):
    """The export could not finish; the message is one line for the CLI and the kiosk screen."""


class ExportCancelled(ExportError):
    pass


@dataclass
class ExportResult:
    """What an export did. ``ok`` False means ``message`` is the one-line reason."""

    ok: bool
    message: str
    folder: str | None = None
    files: list[str] = field(default_factory=list)
    sessions: int = 0
    samples: int = 0
    events: int = 0
    selection: str = "incremental"
    stick_id: str | None = None
    #: This export's own folder (``.../exports/<time>``): its samples, events and JSON Lines.
    export_folder: str | None = None
    nothing_new: bool = False
    cancelled: bool = False

    def as_json(self) -> dict:
        return asdict(self)


# --- the stick side: folders by file descriptor, files written under a temporary name ---------------


def describe_os_error(exc: OSError, where: str) -> str:
    """One line a person can act on, for an OSError met while writing to *where* on a stick."""
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"the stick is full ({where}); nothing was left half-written. Free some space or use another stick"
    if code == errno.EROFS:
        return f"the stick is read-only ({where}); check its write-protect switch or use another stick"
    if code in (errno.EACCES, errno.EPERM):
        return f"cannot write to {where}: permission denied; use a stick Backstep may write to"
    if code in (errno.EIO, errno.ENODEV, errno.ENXIO, errno.ESTALE, errno.ENOTCONN, errno.ENOENT, errno.EBADF):
        return (f"the stick was removed or stopped answering during the export ({where}); "
                "nothing was left half-written. Insert it and export again")
    if code == errno.ELOOP:
        return f"{where} is a link on the stick; Backstep never follows links on a stick. Remove it or use another stick"
    if code in (errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.ENOTEMPTY):
        return f"{where} is in the way (something else has that name); rename it on a computer or use another stick"
    return f"cannot write the export to {where} ({exc.strerror or exc})"


class _Folder:
    """A folder opened by descriptor. Children are opened relative to it with ``O_NOFOLLOW``."""

    def __init__(self, fd: int, path: str):
        self.fd = fd
        self.path = path

    @classmethod
    def open_target(cls, path: str | os.PathLike) -> "_Folder":
        """The target the person named (the stick's mount point): the one path we resolve normally."""
        shown = str(path)
        try:
            fd = os.open(shown, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
        except FileNotFoundError:
            raise ExportError(f"{shown} does not exist; insert the stick (is it mounted?) or check the path") from None
        except NotADirectoryError:
            raise ExportError(f"{shown} is not a folder; give the stick's folder, e.g. /media/backstep/STICK") from None
        except OSError as exc:
            raise ExportError(describe_os_error(exc, shown)) from None
        return cls(fd, shown)

    def child(self, name: str, *, create: bool) -> "_Folder | None":
        where = f"{self.path}/{name}"
        if create:
            try:
                os.mkdir(name, 0o755, dir_fd=self.fd)
            except FileExistsError:
                pass
        try:
            fd = os.open(name, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=self.fd)
        except FileNotFoundError:
            if create:
                raise
            return None
        except NotADirectoryError:
            # O_DIRECTORY|O_NOFOLLOW on a symlink gives ENOTDIR on some kernels, ELOOP on others.
            raise OSError(errno.ENOTDIR, "not a folder", where) from None
        return _Folder(fd, where)

    def read_small(self, name: str, limit: int) -> bytes | None:
        """The bytes of *name* if it is a regular file of at most *limit* bytes, else None.

        Never follows a link, never blocks on a FIFO planted under the name."""
        try:
            info = os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        try:
            fd = os.open(name, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | getattr(os, "O_NONBLOCK", 0), dir_fd=self.fd)
        except OSError:
            return None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between lstat and open
                return None
            chunks, size = [], 0
            while size <= limit:
                chunk = os.read(fd, min(1 << 20, limit + 1 - size))
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
        if size > limit:
            return None
        return b"".join(chunks)

    def exists(self, name: str) -> bool:
        try:
            os.stat(name, dir_fd=self.fd, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def read_marker(self) -> dict | None:
        """Our marker, if it is a small regular file holding JSON; anything else is ignored."""
        data = self.read_small(fmt.MARKER, MARKER_MAX_BYTES)
        if data is None:
            return None
        try:
            value = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        return value if isinstance(value, dict) else None

    def new_child(self, name: str) -> tuple["_Folder", str]:
        """A folder created now under *name* (``name-2``, ``name-3``... if taken): never one that
        was there before, so nothing already on the stick is written into."""
        for n in range(1, 1000):
            candidate = name if n == 1 else f"{name}-{n}"
            try:
                os.mkdir(candidate, 0o755, dir_fd=self.fd)
            except FileExistsError:
                continue
            folder = self.child(candidate, create=False)
            assert folder is not None
            return folder, candidate
        raise OSError(errno.EEXIST, "too many exports with the same time", f"{self.path}/{name}")

    def sweep_partials(self, keep: str) -> None:
        """Remove what killed exports left in the folders under this one (``.partial`` files only,
        by name; a folder left empty goes too). *keep* is the current export's folder."""
        for entry in os.scandir(self.fd):
            if entry.name == keep or not entry.is_dir(follow_symlinks=False):
                continue
            folder = self.child(entry.name, create=False)
            if folder is None:
                continue
            try:
                for inner in os.scandir(folder.fd):
                    if inner.name.startswith(".") and inner.name.endswith(fmt.PARTIAL):
                        folder.remove(inner.name)
            finally:
                folder.close()
            self.rmdir(entry.name)

    def rmdir(self, name: str) -> None:
        """Remove an empty folder we created (best effort: a folder with anything in it stays)."""
        try:
            os.rmdir(name, dir_fd=self.fd)
        except OSError:
            pass

    def replace(self, src: str, dst: str) -> None:
        os.replace(src, dst, src_dir_fd=self.fd, dst_dir_fd=self.fd)

    def remove(self, name: str) -> None:
        """Remove *name* if it is there (a link is removed itself, never followed)."""
        try:
            os.unlink(name, dir_fd=self.fd)
        except FileNotFoundError:
            pass

    def fsync(self) -> None:
        try:
            os.fsync(self.fd)
        except OSError as exc:
            if exc.errno != errno.EINVAL:  # some file systems cannot fsync a folder; the files are
                raise                      # fsynced already, so that is not a failure

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


class _Pending:
    """A file being written as ``.<final>.partial``; :meth:`finish` fsyncs, :meth:`commit` renames.

    The SHA-256 and size are taken from the bytes as they are written, so the manifest never needs
    to read anything back from the stick.
    """

    def __init__(self, folder: _Folder, final: str, relative: str):
        self.folder = folder
        self.final = final
        self.relative = relative
        self.temp = fmt.partial_name(final)
        self.sha = hashlib.sha256()
        self.size = 0
        self.committed = False
        self.finished = False
        self._buffer: list[str] = []
        self._buffered = 0
        # A leftover from a killed export, or anything planted under our temporary name: remove the
        # entry itself (unlink never follows a link), then create exclusively, never through a link.
        folder.remove(self.temp)
        fd = os.open(self.temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o644, dir_fd=folder.fd)
        self._file = os.fdopen(fd, "wb")

    def write(self, text: str) -> None:
        self._buffer.append(text)
        self._buffered += len(text)
        if self._buffered >= _CHUNK:
            self._drain()

    def _drain(self) -> None:
        if not self._buffer:
            return
        # "replace": a lone surrogate in a name must not stop the export.
        data = "".join(self._buffer).encode("utf-8", "replace")
        self._buffer.clear()
        self._buffered = 0
        self.sha.update(data)
        self.size += len(data)
        self._file.write(data)

    def write_bytes(self, data: bytes) -> None:
        """Binary content (a chart PNG), checksummed like text."""
        self._drain()
        self.sha.update(data)
        self.size += len(data)
        self._file.write(data)

    def finish(self) -> None:
        if self.finished:
            return
        self._drain()
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        self.finished = True

    def commit(self) -> None:
        self.folder.replace(self.temp, self.final)
        self.committed = True

    def discard(self) -> None:
        """Best effort after a failure: close and remove the temporary file (the stick may be gone)."""
        try:
            self._file.close()
        except (OSError, ValueError):
            pass
        if not self.committed:
            try:
                self.folder.remove(self.temp)
            except OSError:
                pass


# --- the database side -----------------------------------------------------------------------------


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


def _parse_time(value: str | None) -> datetime | None:
    try:
        when = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    if when is not None and when.tzinfo is None:
        when = when.astimezone()
    return when


def _now_iso(clock: Callable[[], float]) -> str:
    return datetime.fromtimestamp(clock(), tz=timezone.utc).astimezone().isoformat(timespec="seconds")


def _json_or_text(value: str | None) -> Any:
    if value is None:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return value


#: One encoder for every line (json.dumps builds a new one per call when given options).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_LINE_BREAKS_ESCAPED = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def _dumps(value: Any) -> str:
    # JSON allows U+0085, U+2028 and U+2029 raw inside strings, but many line readers (Python's
    # str.splitlines, some log tools) end a line there, which would cut a record in two. Escape them.
    return _ENCODER.encode(value).translate(_LINE_BREAKS_ESCAPED)


class _Csv:
    """A CSV file on the stick: UTF-8 with BOM (so spreadsheets show accents), RFC 4180 rows."""

    def __init__(self, pending: _Pending, columns: Iterable[str]):
        self.pending = pending
        pending.write("\ufeff")
        self.writer = csv.writer(pending)
        self.writer.writerow(columns)

    def row(self, values: Iterable[Any]) -> None:
        self.writer.writerow([fmt.cell(v) for v in values])

    def plain_row(self, values: Iterable[Any]) -> None:
        """A row with no free text (numbers and our own mode names): no formula guard needed."""
        self.writer.writerow(values)


@dataclass
class _LapPlan:
    key: int | None
    start_time: str
    seconds: float
    meters: float
    max_speed_ms: float | None
    notes: str


class Exporter:
    """Export sessions from the database at *db_path* into ``<target>/Backstep/<station-id>/``.

    :param db_path: the station's SQLite file (opened read-mostly; see the module docstring).
    :param station_id: names the folder; sessions keep their own ``station_id`` column.
    :param pseudonymize: member names become ``M-`` ids (HMAC of the member id, per-station key).
    """

    def __init__(self, db_path: str | os.PathLike, *, station_id: str = "backstep-1",
                 pseudonymize: bool = False, clock: Callable[[], float] = time.time,
                 charts: ChartRenderer | None = None):
        self.db_path = Path(db_path)
        self.station_id = station_id
        self.pseudonymize = pseudonymize
        self.clock = clock
        #: With a renderer, every member with a session in the export gets their history charts
        #: as ``charts/<member-N or pseudonym>.png`` (written, renamed and listed like every file).
        self.charts = charts
        self._key: bytes | None = None

    # --- public ------------------------------------------------------------------------------------

    def export(self, target: str | os.PathLike, *, selection: str = "incremental", since: str | None = None,
               on_progress: ProgressCallback | None = None, cancel: threading.Event | None = None) -> ExportResult:
        """Write the export; raise :class:`ExportError` (one line) when it cannot finish."""
        if selection not in ("incremental", "all", "since"):
            raise ValueError(f"unknown selection {selection!r}")
        since_value = parse_since(since) if selection == "since" else None
        conn = self._connect()
        try:
            root = _Folder.open_target(target)
        except BaseException:
            conn.close()
            raise
        folders: list[_Folder] = [root]
        pending: list[_Pending] = []
        created: list[tuple[_Folder, str]] = []  # folders this export made, removed again if it fails
        try:
            return self._export(conn, root, folders, pending, created, selection, since_value, on_progress, cancel)
        except OSError as exc:
            self._discard(pending, created)
            where = f"{root.path.rstrip('/')}/{fmt.FOLDER}/{fmt.fat_safe(self.station_id, fallback='station')}"
            raise ExportError(describe_os_error(exc, where)) from None
        except sqlite3.Error as exc:
            self._discard(pending, created)
            raise ExportError(f"{self.db_path}: database error during the export ({exc}); try again") from None
        except BaseException:
            self._discard(pending, created)
            raise
        finally:
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
            root = _Folder.open_target(target)
            opened = [root]
            try:
                stick_id = self._stick_id(root, opened)
                watermark = self._watermarks(conn, stick_id)[0] if stick_id else 0
                return conn.execute("select count(*) from sessions where id > ? and status != 'running'",
                                    (watermark,)).fetchone()[0]
            except OSError as exc:
                raise ExportError(describe_os_error(exc, root.path)) from None
            finally:
                for folder in reversed(opened):
                    folder.close()
        finally:
            conn.close()

    def _stick_id(self, root: _Folder, opened: list[_Folder]) -> str | None:
        """The id in this station's marker on the stick, or None for a stick we have not written."""
        top = root.child(fmt.FOLDER, create=False)
        if top:
            opened.append(top)
        station = top.child(fmt.fat_safe(self.station_id, fallback="station"), create=False) if top else None
        if station:
            opened.append(station)
        marker = station.read_marker() if station else None
        stick_id = marker.get("stick_id") if marker else None
        if isinstance(stick_id, str) and len(stick_id) == 32 and all(c in "0123456789abcdef" for c in stick_id):
            return stick_id
        return None

    def pseudonym(self, member_id: Any, member_name: str | None) -> str:
        """``M-`` + 10 hex digits of HMAC-SHA256(station key, member id): stable, not reversible
        without the key, which never leaves the station's database."""
        ident = f"id:{member_id}" if member_id is not None else f"name:{member_name}"
        assert self._key is not None
        return "M-" + hmac.new(self._key, ident.encode("utf-8", "replace"), hashlib.sha256).hexdigest()[:10].upper()

    # --- database -------------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if not self.db_path.is_file():
            raise ExportError(f"{self.db_path}: no database here yet; run a session first or pass --db FILE")
        try:
            conn = sqlite3.connect(str(self.db_path), isolation_level=None, timeout=10.0, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            # Text another tool wrote as invalid UTF-8 must not stop the export of everything else.
            conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
            # The kiosk's main loop is the writer; wait for its one-second commits instead of failing.
            conn.execute("PRAGMA busy_timeout=10000")
            tables = {row[0] for row in conn.execute("select name from sqlite_master where type='table'")}
            if not {"sessions", "samples", "events", "phases"} <= tables:
                conn.close()
                raise ExportError(f"{self.db_path}: not a Backstep database (no sessions table); check --db")
            db = Database(conn)
            export_migrations.apply(db)
            if self.pseudonymize:
                self._key = self._pseudonym_key(db)
        except sqlite3.Error as exc:
            raise ExportError(f"{self.db_path}: cannot open the database ({exc})") from None
        return conn

    def _pseudonym_key(self, db: Database) -> bytes:
        row = db.execute("select value from export_keys where name = 'member-pseudonym'").fetchone()
        if row:
            return bytes.fromhex(row[0])
        key = secrets.token_bytes(32)
        with db.atomic():
            db["export_keys"].insert({"name": "member-pseudonym", "value": key.hex(),
                                      "created_at": _now_iso(self.clock)}, ignore=True)
        return bytes.fromhex(db.execute("select value from export_keys where name = 'member-pseudonym'").fetchone()[0])

    def _watermarks(self, conn: sqlite3.Connection, stick_id: str) -> tuple[int, int]:
        row = conn.execute("select max(session_watermark), max(event_watermark) from exports where stick_id = ?",
                           (stick_id,)).fetchone()
        return int(row[0] or 0), int(row[1] or 0)

    # --- the export itself --------------------------------------------------------------------------------

    def _export(self, conn, root, folders, pending, created, selection, since_value, on_progress, cancel) -> ExportResult:
        station_name = fmt.fat_safe(self.station_id, fallback="station")
        shown = f"{root.path.rstrip('/')}/{fmt.FOLDER}/{station_name}"

        # 1. Which stick is this? Look without creating anything, so "nothing new" writes nothing.
        known = len(folders)
        stick_id = self._stick_id(root, folders) or secrets.token_hex(16)
        top = folders[known] if len(folders) > known else None
        station = folders[known + 1] if len(folders) > known + 1 else None

        # 2. What to export, from one consistent snapshot of the database.
        old_sessions_wm, old_events_wm = self._watermarks(conn, stick_id) if selection == "incremental" else (0, 0)
        self._backfill_stats(conn)
        conn.execute("BEGIN")
        session_ids, station_events_where, params = self._select(conn, selection, since_value, old_sessions_wm, old_events_wm)
        running = [r[0] for r in conn.execute("select id from sessions where status = 'running' order by id")]
        station_events = conn.execute(f"select count(*) from events where {station_events_where}", params).fetchone()[0]
        max_event = conn.execute("select coalesce(max(id), 0) from events where session_id is null").fetchone()[0]
        if not session_ids and not station_events:
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
        exported_at = _now_iso(self.clock)
        exports_folder = station.child(fmt.EXPORTS_FOLDER, create=True)
        folders.append(exports_folder)
        batch, batch_name = exports_folder.new_child(fmt.stamp(exported_at))
        folders.append(batch)
        batch_relative = f"{fmt.EXPORTS_FOLDER}/{batch_name}"
        created.append((exports_folder, batch_name))

        def new(folder: _Folder, name: str, relative: str) -> _Pending:
            item = _Pending(folder, name, relative)
            pending.append(item)
            return item

        def in_batch(name: str) -> _Pending:
            return new(batch, name, f"{batch_relative}/{name}")

        sessions_csv = _Csv(in_batch(fmt.SESSIONS_CSV), fmt.SESSION_COLUMNS)
        samples_csv = _Csv(in_batch(fmt.SAMPLES_CSV), fmt.SAMPLE_COLUMNS)
        events_csv = _Csv(in_batch(fmt.EVENTS_CSV), fmt.EVENT_COLUMNS)
        jsonl = in_batch(fmt.JSONL)
        index_rows: list[dict] = []
        jsonl.write(_dumps({"type": "export", "format": "backstep-export", "version": 1, "station_id": self.station_id,
                            "exported_at": exported_at, "selection": selection, "sessions": len(session_ids),
                            "pseudonymized": self.pseudonymize}) + "\n")

        total = len(session_ids)
        self._progress(on_progress, 0, total)
        counts = {"samples": 0, "events": 0}
        for done, session_id in enumerate(session_ids, start=1):
            self._check(cancel)
            self._write_session(conn, session_id, sessions_csv, samples_csv, events_csv, jsonl,
                                lambda name: new(tcx_folder, name, f"{fmt.TCX_FOLDER}/{name}"), counts, cancel,
                                batch_relative, index_rows)
            self._progress(on_progress, done, total)
        for row in conn.execute(f"select id, session_id, at, t, kind, safety, detail from events "
                                f"where {station_events_where} order by id", params):
            self._write_event(row, events_csv, jsonl)
            counts["events"] += 1

        charts_folder = None
        if self.charts is not None and session_ids:
            charts_folder = self._write_charts(conn, station, folders, session_ids, new)

        keep_aside = self._write_index(station, new, index_rows, exported_at)

        first_id = session_ids[0] if session_ids else None
        last_id = session_ids[-1] if session_ids else None
        readme = new(station, fmt.README, fmt.README)
        readme.write(fmt.readme_text(station_id=self.station_id, exported_at=exported_at, selection=selection,
                                     sessions=total, pseudonymized=self.pseudonymize, first_id=first_id,
                                     last_id=last_id).replace("\n", "\r\n"))  # CRLF: Notepad reads it too
        marker_file = new(station, fmt.MARKER, fmt.MARKER)
        marker_file.write(json.dumps({"format": "backstep-export-marker", "version": 1, "stick_id": stick_id,
                                      "station_id": self.station_id, "last_export_at": exported_at}, indent=1) + "\n")
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
        manifest = _Pending(station, fmt.MANIFEST, fmt.MANIFEST)
        pending.append(manifest)
        listed = [item for item in pending if item is not manifest and item is not marker_file]
        manifest.write(json.dumps({
            "format": "backstep-export-manifest", "version": 1, "station_id": self.station_id,
            "exported_at": exported_at, "selection": selection, "sessions": total,
            "samples": counts["samples"], "events": counts["events"],
            "files": [{"path": item.relative, "bytes": item.size, "sha256": item.sha.hexdigest()} for item in listed],
        }, indent=1, ensure_ascii=False) + "\n")
        manifest.finish()
        manifest.commit()
        station.fsync()

        # 5. Only now remember what this stick holds (the export's own table; one short write).
        new_sessions_wm = old_sessions_wm
        new_events_wm = old_events_wm
        if selection in ("incremental", "all"):
            new_sessions_wm = max([old_sessions_wm, *session_ids])
            later_running = [r for r in running if r > old_sessions_wm]
            if later_running:  # still running: it must come with the next export, once finished
                new_sessions_wm = min(new_sessions_wm, later_running[0] - 1)
            new_events_wm = max(old_events_wm, max_event)
        conn.execute("COMMIT")
        with Database(conn).atomic() as db:
            db["exports"].insert({
                "stick_id": stick_id, "station_id": self.station_id, "exported_at": exported_at,
                "target": shown, "selection": selection, "sessions": total, "samples": counts["samples"],
                "events": counts["events"], "first_session_id": first_id, "last_session_id": last_id,
                "session_watermark": new_sessions_wm, "event_watermark": new_events_wm,
            })
        files = [f"{shown}/{item.relative}" for item in pending if item is not marker_file]
        what = {"incremental": "new since the last export to this stick", "all": "all", "since": "selected with --since"}[selection]
        message = (f"exported {total} session(s) ({what}), {counts['samples']} samples and {counts['events']} events "
                   f"to {shown}")
        return ExportResult(ok=True, message=message, folder=shown, files=files, sessions=total,
                            samples=counts["samples"], events=counts["events"], selection=selection, stick_id=stick_id,
                            export_folder=f"{shown}/{batch_relative}")

    def _select(self, conn, selection, since_value, sessions_wm, events_wm):
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
            value = _parse_time(first[0]) if first else None
            if value is None:
                return ids, "0", {}
        else:
            # Offsets differ across a DST change, so compare parsed times, not ISO strings.
            ids = [r["id"] for r in conn.execute(
                "select id, started_at from sessions where status != 'running' order by id")
                if (_parse_time(r["started_at"]) or value) >= value]
        # Station events are few (refused starts, faults): filtering their times in Python is cheap.
        event_ids = [r["id"] for r in conn.execute("select id, at from events where session_id is null")
                     if (_parse_time(r["at"]) or value) >= value]
        conn.execute("create temp table if not exists _export_events(id integer primary key)")
        conn.execute("delete from _export_events")
        conn.executemany("insert into _export_events(id) values (?)", [(i,) for i in event_ids])
        return ids, "id in (select id from _export_events)", {}

    def _write_index(self, station: _Folder, new, index_rows: list[dict], exported_at: str) -> str | None:
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
                keep_aside = self._free_name(station, f"sessions-kept-{fmt.stamp(exported_at)}", ".csv")
        columns, rows = fmt.merge_sessions(previous, index_rows)
        index = _Csv(new(station, fmt.SESSIONS_CSV, fmt.SESSIONS_CSV), columns)
        for row in rows:
            index.plain_row(row)  # cells are as written (formula guard applied once, when first written)
        return keep_aside

    @staticmethod
    def _free_name(folder: _Folder, stem: str, suffix: str) -> str:
        for n in range(1, 1000):
            name = f"{stem}{'' if n == 1 else f'-{n}'}{suffix}"
            if not folder.exists(name):
                return name
        raise OSError(errno.EEXIST, "no free name", f"{folder.path}/{stem}{suffix}")

    def _write_session(self, conn, session_id, sessions_csv, samples_csv, events_csv, jsonl, new_tcx, counts, cancel,
                       batch_relative: str, index_rows: list[dict]):
        s = conn.execute("select * from sessions where id = ?", (session_id,)).fetchone()
        # Every figure of a session comes from its statistics (app.core.rail_stats, kept in
        # session_stats by app.shell.history), the same numbers the history screens and charts show.
        stats = self._session_stats(conn, session_id)
        figures = json.loads(stats["phases"] or "[]")
        pauses = conn.execute("select count(*) from events where session_id = ? and kind = 'pause'",
                              (session_id,)).fetchone()[0]
        estops = stats["emergency_stops"]
        measured = any(f["max_distance_m"] is not None for f in figures)
        distance, source = stats["distance_m"], stats["distance_source"] or ""
        hands_free = None if stats["hands_free_share"] is None else round(100.0 * stats["hands_free_share"], 1)
        if self.pseudonymize:
            member = self.pseudonym(s["member_id"], s["member_name"]) if (s["member_id"] is not None or s["member_name"]) else "guest"
            member_id = None
        else:
            member = s["member_name"] or ("guest" if s["member_id"] is None else "")
            member_id = s["member_id"]
        tcx_file = fmt.tcx_name(session_id, s["started_at"], s["program_name"] or s["program_id"])
        phases = [dict(r) for r in conn.execute(
            "select idx, name, direction, planned_seconds, target_speed_kmh, incline_pct, rails, round_label, started_at, t "
            "from phases where session_id = ? order by t, id", (session_id,))]
        summary = {
            "session_id": session_id, "station_id": s["station_id"], "member": member, "member_id": member_id,
            "program_id": s["program_id"], "program_name": s["program_name"], "units": s["program_units"],
            "status": s["status"], "stop_reason": s["stop_reason"], "started_at": s["started_at"], "ended_at": s["ended_at"],
            "active_seconds": s["active_seconds"], "elapsed_seconds": s["elapsed_seconds"],
            "phases_completed": s["phases_completed"], "phases_total": s["phases_total"],
            "distance_m": distance, "distance_source": source, "pauses": pauses, "emergency_stops": estops,
            "pain_before": s["pain_before"], "pain_after": s["pain_after"], "effort": s["effort"],
            "hands_free_percent": hands_free, "samples": stats["samples"], "source": s["source"],
            "tcx_file": f"{fmt.TCX_FOLDER}/{tcx_file}", "export_folder": batch_relative,
        }
        cells = [fmt.cell(summary[c]) for c in fmt.SESSION_COLUMNS]
        sessions_csv.plain_row(cells)
        index_rows.append(dict(zip(fmt.SESSION_COLUMNS, cells)))
        jsonl.write(_dumps({"type": "session", **summary, "program": _json_or_text(s["program_snapshot"]),
                            "phases": phases}) + "\n")

        laps = self._plan_laps(s, phases, figures, measured, distance)
        tcx_pending = new_tcx(tcx_file)
        tcx = TcxWriter(tcx_pending.write)
        tcx.start(s["started_at"])
        lap_index = {lap.key: i for i, lap in enumerate(laps)}
        current = 0
        tcx.lap(self._lap(laps[0]))
        cumulative = 0.0
        n = 0
        for row in conn.execute(
                "select t, at, mode, phase_idx, target_speed_kmh, actual_speed_kmh, incline_pct, rails_held, "
                "lanyard_clipped, distance_m from samples where session_id = ? order by t", (session_id,)):
            n += 1
            if n % _CANCEL_EVERY == 0:
                self._check(cancel)
            values = (session_id, *row)
            samples_csv.plain_row(values)
            jsonl.write(_dumps({"type": "sample", **dict(zip(fmt.SAMPLE_COLUMNS, values))}) + "\n")
            # Track points: a sample goes into its phase's lap; one that would go backwards in the
            # file (a phase index seen again) stays in the current lap, so the XML stays valid.
            target = lap_index.get(row["phase_idx"], current)
            while current < target:
                current += 1
                tcx.lap(self._lap(laps[current]))
            if measured:
                if row["distance_m"] is not None:
                    cumulative = float(row["distance_m"])
            elif row["mode"] == "running" and (row["target_speed_kmh"] or 0) > 0:  # walking, as the stats count it
                speed = row["actual_speed_kmh"] if row["actual_speed_kmh"] is not None else (row["target_speed_kmh"] or 0.0)
                cumulative += speed / 3.6 * SAMPLE_SECONDS
            tcx.point(row["at"], cumulative)
        while current < len(laps) - 1:
            current += 1
            tcx.lap(self._lap(laps[current]))
        tcx.end(self._activity_notes(s, member, summary))
        tcx_pending.finish()  # closed now: a thousand sessions must not hold a thousand open files
        counts["samples"] += n
        for row in conn.execute("select id, session_id, at, t, kind, safety, detail from events "
                                "where session_id = ? order by id", (session_id,)):
            self._write_event(row, events_csv, jsonl)
            counts["events"] += 1

    def _session_stats(self, conn, session_id: int) -> dict:
        """The session's stats row (kept when it closed, or by the backfill before the snapshot);
        computed here, without writing, for a session that closed in between."""
        row = conn.execute("select * from session_stats where session_id = ? and version = ?",
                           (session_id, STATS_VERSION)).fetchone()
        if row is not None:
            return dict(row)
        return compute_session_stats(Database(conn), session_id) or {}

    def _plan_laps(self, s, phases, figures: list[dict], measured: bool, distance) -> list[_LapPlan]:
        """One lap per phase that has samples, from the session's per-phase figures (TCX puts a
        lap's totals before its track points). Lap times add up to the session's active seconds
        and lap distances to its distance: the same figures as sessions.csv."""
        by_idx = {}
        for phase in phases:
            by_idx.setdefault(phase["idx"], phase)
        groups = [dict(f) for f in figures if f["phase_idx"] is not None]
        loose = [f for f in figures if f["phase_idx"] is None]
        if loose and groups:  # samples without a phase belong with the first lap
            first, extra = groups[0], loose[0]
            first["walking_seconds"] += extra["walking_seconds"]
            first["estimated_m"] += extra["estimated_m"]
            first["max_speed_kmh"] = max([v for v in (first["max_speed_kmh"], extra["max_speed_kmh"]) if v is not None],
                                         default=None)
        elif loose:
            groups = [dict(f) for f in loose]
        if not groups:  # a session that never produced a sample still needs one (empty) lap
            return [_LapPlan(key=None, start_time=s["started_at"], seconds=0.0, meters=0.0, max_speed_ms=None,
                             notes="no samples were recorded")]
        seconds = split_seconds([g["walking_seconds"] for g in groups], s["active_seconds"])
        laps: list[_LapPlan] = []
        previous_end = 0.0
        for n, group in enumerate(groups):
            phase = by_idx.get(group["phase_idx"], {})
            start = phase.get("started_at") or group["first_at"] or s["started_at"]
            last = n == len(groups) - 1
            if measured:
                end = max(previous_end, float(group["max_distance_m"])) if group["max_distance_m"] is not None else previous_end
                if last and distance is not None:
                    end = max(end, float(distance))  # the distance stored at the close, after the last sample
                meters, previous_end = end - previous_end, end
            else:
                meters = group["estimated_m"]
            laps.append(_LapPlan(
                key=group["phase_idx"], start_time=start, seconds=seconds[n], meters=meters,
                max_speed_ms=group["max_speed_kmh"] / 3.6 if group["max_speed_kmh"] is not None else None,
                notes=self._lap_notes(phase, group["phase_idx"]),
            ))
        return laps

    @staticmethod
    def _lap(plan: _LapPlan) -> Lap:
        return Lap(start_time=plan.start_time, seconds=plan.seconds, meters=plan.meters,
                   max_speed_ms=plan.max_speed_ms, notes=plan.notes)

    @staticmethod
    def _lap_notes(phase: dict, idx) -> str:
        if not phase:
            return f"phase {idx + 1}" if isinstance(idx, int) else ""
        parts = [f"phase {phase['idx'] + 1}" if isinstance(phase.get("idx"), int) else "phase"]
        if phase.get("name"):
            parts[0] += f" {phase['name']}"
        if phase.get("round_label"):
            parts.append(str(phase["round_label"]))
        if phase.get("direction"):
            parts.append(str(phase["direction"]))
        if phase.get("target_speed_kmh") is not None:
            parts.append(f"{phase['target_speed_kmh']:g} km/h")
        if phase.get("incline_pct") is not None:
            parts.append(f"incline {phase['incline_pct']:g} %")
        if phase.get("rails"):
            parts.append(f"rails {phase['rails']}")
        return ", ".join(parts)

    def _activity_notes(self, s, member: str, summary: dict) -> str:
        parts = [f"Backward walking on Backstep station {s['station_id']}, session {s['id']}",
                 f"program {s['program_name']} ({s['program_id']})", f"member {member}",
                 f"status {s['status']}" + (f" ({s['stop_reason']})" if s["stop_reason"] else "")]
        if s["pain_before"] is not None or s["pain_after"] is not None:
            parts.append(f"pain {s['pain_before'] if s['pain_before'] is not None else '-'} -> "
                         f"{s['pain_after'] if s['pain_after'] is not None else '-'} (0-10)")
        if summary["hands_free_percent"] is not None:
            parts.append(f"hands-free {summary['hands_free_percent']:g} % of walking time")
        parts.append(f"{summary['pauses']} pause(s), {summary['emergency_stops']} emergency stop(s)")
        if summary["distance_source"] == "estimated":
            parts.append("distance estimated from the set speed")
        return "; ".join(parts)

    @staticmethod
    def _write_event(row, events_csv: _Csv, jsonl: _Pending) -> None:
        values = (row["id"], row["session_id"], row["at"], row["t"], row["kind"], row["safety"], row["detail"])
        events_csv.row(values)
        record = dict(zip(fmt.EVENT_COLUMNS, values))
        record["detail"] = _json_or_text(row["detail"])
        jsonl.write(_dumps({"type": "event", **record}) + "\n")

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

    # --- charts ---------------------------------------------------------------------------------------

    def _backfill_stats(self, conn) -> None:
        """Per-session stats the charts read (hands-free share, top speed), for sessions closed
        before stats were kept. A derived table only; the sessions themselves are not changed."""
        self._history = None
        try:
            # Made here, outside the read snapshot: opening it applies its migrations (a write).
            self._history = History(Database(conn))
            self._history.backfill()
        except sqlite3.Error as exc:
            log.warning("export: could not complete the session stats for the charts: %s", exc)

    def _write_charts(self, conn, station: _Folder, folders: list[_Folder], session_ids, new) -> _Folder | None:
        """One PNG of history charts per member with a session in this export."""
        history = getattr(self, "_history", None)
        if history is None:
            return None
        marks = ",".join("?" * len(session_ids))
        rows = conn.execute(f"select member_id, max(member_name) as member_name from sessions where id in ({marks}) "
                            f"and member_id is not null group by member_id order by member_id", session_ids).fetchall()
        if not rows:
            return None
        has_members = conn.execute("select 1 from sqlite_master where type='table' and name='members'").fetchone()
        folder = station.child(CHARTS_FOLDER, create=True)
        folders.append(folder)
        for row in rows:
            member_id, name, units, goal = row["member_id"], row["member_name"], "mph", None
            if has_members:
                member = conn.execute("select name, units, goal_per_week from members where id = ?", (member_id,)).fetchone()
                if member is not None:
                    name, units, goal = member["name"] or name, member["units"] or units, member["goal_per_week"]
            if self.pseudonymize:
                title = file_stem = self.pseudonym(member_id, name)
            else:
                title, file_stem = name or f"member {member_id}", f"member-{member_id}"
            try:
                png = self.charts(history.member_history(member_id, units=units, goal_per_week=goal, backfill=False),
                                  title)
            except Exception as exc:  # noqa: BLE001 - a chart that cannot be drawn must not stop the logs
                log.warning("export: no chart for member %s: %s", member_id, exc)
                continue
            name_on_stick = fmt.fat_safe(file_stem, fallback=f"member-{member_id}") + ".png"
            new(folder, name_on_stick, f"{CHARTS_FOLDER}/{name_on_stick}").write_bytes(png)
        return folder

    @staticmethod
    def _discard(pending: list[_Pending], created: list[tuple[_Folder, str]]) -> None:
        for item in pending:
            item.discard()
        for parent, name in created:
            parent.rmdir(name)


class ExportJob:
    """The kiosk's handle on one export (the Export screen runs :meth:`run` off the main loop).

    ``ExportJob(store_path, target_dir, config).run(on_progress)`` returns an :class:`ExportResult`
    and never raises for a stick or database problem: ``result.ok`` is False and ``result.message``
    is the one line to show. :meth:`cancel` may be called from another thread; the export then stops
    before it renames anything, so the stick is left as it was (apart from ``.partial`` files).

    ``on_progress(done, total)`` counts sessions and is called from the thread that runs
    :meth:`run` (post it to the main loop; never draw from it). :meth:`count_new` tells the screen
    how many sessions an export would bring before the person taps Export.

    :attr:`requires_pin` says whether the screen must ask for the staff PIN first
    (``[export] require_pin``, on by default because the logs hold member data).
    """

    def __init__(self, store_path: str | os.PathLike, target_dir: str | os.PathLike, config, *,
                 selection: str = "incremental", since: str | None = None, clock: Callable[[], float] = time.time,
                 charts: ChartRenderer | None = None):
        self.store_path = Path(store_path)
        self.target_dir = Path(target_dir)
        self.config = config
        self.selection = selection
        self.since = since
        self.requires_pin: bool = bool(config.export.require_pin)
        self._cancel = threading.Event()
        self._exporter = Exporter(store_path, station_id=config.station.id,
                                  pseudonymize=config.export.pseudonymize_members, clock=clock, charts=charts)

    def cancel(self) -> None:
        self._cancel.set()

    def count_new(self) -> int | None:
        """Sessions an incremental export would write to this stick, or None if that cannot be told."""
        try:
            return self._exporter.count_new(self.target_dir)
        except UserError:
            return None

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self, on_progress: ProgressCallback | None = None) -> ExportResult:
        try:
            return self._exporter.export(self.target_dir, selection=self.selection, since=self.since,
                                         on_progress=on_progress, cancel=self._cancel)
        except ExportCancelled as exc:
            return ExportResult(ok=False, message=str(exc), selection=self.selection, cancelled=True)
        except UserError as exc:
            return ExportResult(ok=False, message=str(exc), selection=self.selection)
        except Exception as exc:  # noqa: BLE001 - the kiosk shows one line, the journal keeps the trace
            log.exception("export failed")
            return ExportResult(ok=False, message=f"the export failed ({type(exc).__name__}: {exc}); see the journal",
                                selection=self.selection)
