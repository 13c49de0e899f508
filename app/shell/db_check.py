"""Is the session database sound? A check whose cost does not grow with the history, one that reads
every page, and a marker that carries what the second found to the next start.

- :func:`problem` with ``full=False``: the file opens as SQLite, its header and its schema can be
  read, and the schema is not newer than this Backstep's. It reads the first pages and the schema
  only, so a station with years of history pays what a new one pays: the kiosk runs only this
  before READY=1.
- :func:`problem` with ``full=True`` adds SQLite's ``PRAGMA quick_check``, which reads every page:
  about 0.1 s for 600,000 samples on a development machine, several times that on a Pi's SD card,
  and more each year. Commands run it whenever they open the store; the kiosk runs it after
  READY=1, on a worker thread (:class:`LateCheck`).
- A file the kiosk already has open cannot be moved aside under it. What the late check finds is
  logged, told to staff, and written beside the file (:func:`marker_of`); the next open of the store
  runs the full check first and moves the file aside, as any damaged file is
  (docs/database.md, "Damaged or newer files").
"""

from __future__ import annotations

import logging
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from .schema_version import SCHEMA_VERSION

log = logging.getLogger(__name__)

#: Beside the database, named like SQLite's own -wal and -shm, so it is moved aside with them.
MARKER_SUFFIX = "-damaged"


def marker_of(path: Path) -> Path:
    """The file beside the database at *path* that says a full check found it damaged."""
    return Path(str(path) + MARKER_SUFFIX)


def damage_marked(path: Path) -> str | None:
    """What an earlier full check found (its marker's text), or ``None`` when nothing was marked."""
    try:
        return marker_of(path).read_text(encoding="utf-8").strip() or "no detail"
    except FileNotFoundError:
        return None
    except OSError as exc:
        # Unreadable but there: still a finding, so the next open does the full check.
        return f"the marker cannot be read: {exc.strerror or exc}"


def is_damage(exc: sqlite3.Error) -> bool:
    """SQLite said the file is damaged or no database, not that it is busy, locked or unreachable."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def problem(path: Path, *, full: bool) -> str | None:
    """What is wrong with the existing file at *path*, in words; ``None`` when nothing is (or there
    is no file yet). *full* adds the check that reads every page."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        return _problem(path, full=full)
    except sqlite3.DatabaseError as exc:
        return _unreadable(exc)


def _unreadable(exc: sqlite3.DatabaseError) -> str:
    return f"the file is not a readable database ({exc})"


def _problem(path: Path, *, full: bool) -> str | None:
    """:func:`problem` on a read-only connection of its own; raises :class:`sqlite3.DatabaseError`
    where SQLite cannot read the file at all."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return verdict(conn, full=full)
    finally:
        conn.close()


def verdict(conn: sqlite3.Connection, *, full: bool) -> str | None:
    """:func:`problem` on an open connection (``backstep doctor`` reads its session count on the same
    one); raises :class:`sqlite3.DatabaseError` where SQLite cannot read the file at all."""
    conn.execute("PRAGMA schema_version").fetchone()  # the header: page 1
    conn.execute("select count(*) from sqlite_master").fetchone()  # every table's definition, parsed
    if full:
        try:
            result = conn.execute("PRAGMA quick_check").fetchone()
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                raise
            result = (str(exc),)  # a page too broken to list its faults: "database disk image is malformed"
        if not result or result[0] != "ok":
            # On one line: SQLite's first finding spans two ("*** in database main ***" and the page).
            return f"the database is damaged ({' '.join(str(result[0]).split()) if result else 'no answer'})"
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        return f"the database comes from a newer Backstep (schema {version}, this one knows {SCHEMA_VERSION})"
    return None


class LateCheck:
    """The full check of the database the kiosk already has open, for after READY=1
    (``app.kiosk.after_ready``): :meth:`run` on the worker thread, :meth:`report` on the loop's.

    It reads on a read-only connection of its own, so the kiosk's writes go on beside it (WAL), and
    SQLite does the reading without holding Python's interpreter lock, so the loop is not held.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        #: What the check found, once :meth:`run` has run and found something.
        self.found: str | None = None

    def run(self) -> None:
        """The check; on damage, a journal line and the marker beside the file (worker thread)."""
        started = time.perf_counter()
        try:
            found = _problem(self.path, full=True)
        except sqlite3.DatabaseError as exc:
            if not is_damage(exc):
                # Busy, locked, an I/O error: no verdict on the file, so nothing is marked.
                log.warning("%s: the database's full check could not run (%s)", self.path, exc)
                return
            found = _unreadable(exc)
        if found is None:
            log.info("%s: full check ok, %.0f ms off the loop's thread", self.path,
                     (time.perf_counter() - started) * 1000)
            return
        self.found = found
        log.error("%s: %s; in use until the next start, which moves it aside and starts a fresh database",
                  self.path, found)
        try:
            marker_of(self.path).write_text(f"{datetime.now().isoformat(timespec='seconds')} {found}\n",
                                            encoding="utf-8")
        except OSError as exc:
            log.error("%s: cannot write %s (%s): the next start will not know the file is damaged",
                      self.path, marker_of(self.path).name, exc.strerror or exc)

    def report(self, notices: list[str]) -> None:
        """Add the finding to *notices* (the store's, which staff see); on the loop's thread."""
        if self.found is not None:
            notices.append(f"{self.path}: SQLite's full check says {self.found}; the station keeps using it until "
                           "its next start, which moves it aside and starts a fresh database (nothing is deleted)")
