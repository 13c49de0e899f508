"""What the export writes: FAT-safe names, CSV columns, the JSON Lines layout and README.txt.

Pure helpers (no I/O) so the naming rules and the file layout can be tested on their own.
"""

from __future__ import annotations

import csv
import io
import re
import textwrap
import unicodedata

#: Characters FAT/exFAT (and Windows) refuse in a name, plus the path separators.
_FAT_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')
#: Device names Windows refuses as a file name, with or without an extension.
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
#: FAT long names hold 255 UTF-16 units, ext4 255 bytes; our names are ASCII, so 255 either way.
MAX_NAME = 255

FOLDER = "Backstep"
MARKER = ".backstep-export.json"
MANIFEST = "manifest.json"
README = "README.txt"
SESSIONS_CSV = "sessions.csv"
#: Sessions of this station's members walked at the clinic's other stations (docs/hub.md).
CLINIC_CSV = "clinic-sessions.csv"
CLINIC_COLUMNS = ("station_id", "station_session_id", "member", "started_at", "ended_at", "program_id",
                  "program_name", "status", "active_seconds", "pain_before", "pain_after", "effort",
                  "hands_free_percent", "top_backward_speed_kmh")
SAMPLES_CSV = "samples.csv"
EVENTS_CSV = "events.csv"
JSONL = "backstep.jsonl"
TCX_FOLDER = "tcx"
#: One folder per export under this one: that export's samples, events and JSON Lines (never rewritten).
EXPORTS_FOLDER = "exports"
#: A sessions.csv on a stick bigger than this is not read (about 200,000 sessions); it is kept aside.
SESSIONS_MAX_BYTES = 64 * 2**20
#: Suffix of a file still being written; never a final name (see README below).
PARTIAL = ".partial"

SESSION_COLUMNS = (
    "session_id", "station_id", "member", "member_id", "program_id", "program_name", "units",
    "status", "stop_reason", "started_at", "ended_at", "active_seconds", "elapsed_seconds",
    "phases_completed", "phases_total", "distance_m", "distance_source", "pauses", "emergency_stops",
    "pain_before", "pain_after", "effort", "hands_free_percent", "samples", "source", "tcx_file",
    "export_folder",
)
SAMPLE_COLUMNS = (
    "session_id", "t", "at", "mode", "phase_idx", "target_speed_kmh", "actual_speed_kmh",
    "incline_pct", "rails_held", "lanyard_clipped", "distance_m",
)
EVENT_COLUMNS = ("event_id", "session_id", "at", "t", "kind", "safety", "detail")


def slug(text: str, limit: int = 60, fallback: str = "session") -> str:
    """Lower-case ASCII words joined by ``-``: ``"Größe: Ü?"`` -> ``"grosse-u"``.

    Accents are folded (NFKD, ``ß`` -> ``ss``) so names stay readable on any stick and any
    computer; anything else that is not a letter or digit becomes one ``-``.
    """
    folded = unicodedata.normalize("NFKD", (text or "").replace("ß", "ss"))
    ascii_only = folded.encode("ascii", "ignore").decode("ascii").lower()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_only).strip("-")
    if len(words) > limit:
        words = words[:limit].rstrip("-")
    return words or fallback


def fat_safe(name: str, fallback: str = "backstep") -> str:
    """A single path component any FAT stick and any OS accepts, close to *name*.

    Forbidden characters become ``_``; trailing dots and spaces (which Windows silently drops) are
    stripped; ``.`` and ``..`` and device names like ``CON`` are avoided; at most 255 characters.
    """
    cleaned = _FAT_FORBIDDEN.sub("_", name or "")
    cleaned = unicodedata.normalize("NFC", cleaned).strip().rstrip(". ")
    cleaned = cleaned.encode("ascii", "replace").decode("ascii").replace("?", "_")
    if not cleaned or set(cleaned) <= {"."}:
        cleaned = fallback
    if cleaned.split(".")[0].upper() in _RESERVED:
        cleaned = f"_{cleaned}"
    return cleaned[:MAX_NAME].rstrip(". ") or fallback


def stamp(iso_time: str | None) -> str:
    """``2026-11-21T16:45:28.123+01:00`` -> ``2026-11-21T16-45-28`` (local time, no colons)."""
    text = (iso_time or "")[:19]
    if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", text):
        return "undated"
    return text.replace(":", "-")


def tcx_name(session_id: int, started_at: str | None, program_name: str) -> str:
    """``2026-11-21T16-45-28_session-12_beginner-flat.tcx``: sorts by time, unique by session id."""
    return fat_safe(f"{stamp(started_at)}_session-{int(session_id)}_{slug(program_name, fallback='program')}.tcx")


def partial_name(final: str) -> str:
    """The temporary name a file is written under before it is renamed to *final*."""
    return fat_safe(f".{final}"[: MAX_NAME - len(PARTIAL)] + PARTIAL)


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value) -> str | int | float:
    """A CSV cell. Text that a spreadsheet would run as a formula (``=HYPERLINK(...)`` typed as a
    member or program name) gets a leading ``'``, as OWASP advises for CSV exports; numbers and
    empty values pass through."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def session_key(row) -> tuple[str, str]:
    """What makes two sessions.csv rows the same session: id *and* start time (a database that
    was replaced starts its ids at 1 again; those are other sessions)."""
    return str(row.get("session_id", "")), str(row.get("started_at", ""))


def parse_sessions_csv(data: bytes) -> tuple[list[str], list[dict[str, str]]] | None:
    """The columns and rows of a ``sessions.csv`` an export wrote, or None if *data* is not one
    (then the caller keeps the file aside rather than replace it)."""
    try:
        text = data.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except (UnicodeDecodeError, csv.Error):
        return None
    rows = [row for row in rows if row]
    if not rows:
        return None
    header = rows[0]
    if "session_id" not in header or "started_at" not in header or len(set(header)) != len(header):
        return None
    if any(len(row) != len(header) for row in rows[1:]):
        return None
    return header, [dict(zip(header, row)) for row in rows[1:]]


def merge_sessions(previous: tuple[list[str], list[dict]] | None,
                   new_rows: list[dict]) -> tuple[list[str], list[list]]:
    """The cumulative ``sessions.csv``: every row already on the stick, in its place, with the rows
    of this export replacing the same sessions (the database is the source of truth) and new
    sessions appended. Columns of an earlier file that this version does not know are kept."""
    old_columns, old_rows = previous or ([], [])
    columns = [*SESSION_COLUMNS, *(c for c in old_columns if c not in SESSION_COLUMNS)]
    fresh = {session_key(row): row for row in new_rows}
    merged = []
    for row in old_rows:
        replacement = fresh.pop(session_key(row), None)
        merged.append(row if replacement is None else {**row, **replacement})
    merged.extend(row for row in new_rows if session_key(row) in fresh)
    return columns, [[row.get(c, "") for c in columns] for row in merged]


def readme_text(*, station_id: str, exported_at: str, selection: str, sessions: int,
                pseudonymized: bool, first_id: int | None, last_id: int | None) -> str:
    """README.txt: what each file holds, in plain words, for whoever opens the stick."""
    which = {
        "incremental": ("the sessions finished since the last export from this station to this stick "
                        "(all of them on a stick's first export)"),
        "all": "every finished session stored on the station",
        "since": "the sessions asked for with --since",
    }.get(selection, selection)
    span = f" (sessions {first_id} to {last_id})" if first_id is not None else ""
    members = ("Members appear as pseudonymous ids (M- and ten characters); the same member keeps the "
               "same id in every export from this station. The names stay on the station."
               if pseudonymized else
               "Members appear by name. These files hold personal health data: keep them safe.")
    headline = textwrap.fill(f"Exported {exported_at}: {sessions} session(s){span}, {which}.", 96)
    members = textwrap.fill(members, 96)
    return f"""BACKSTEP EXPORT - station {station_id}
{headline}

Backstep is a supervised backward-walking station. This folder holds its session logs.
All times are ISO 8601 with the UTC offset, e.g. 2026-11-21T16:45:28.123+01:00.
Speeds are km/h, distances metres, inclines percent, durations seconds.
{members}

FILES
  sessions.csv    EVERY session exported to this stick, one row each, from every export so
                  far: member, program, status (completed, stopped, emergency_stop,
                  interrupted), start and end, active seconds (program time walked, pauses
                  excluded), distance, number of pauses and emergency stops, pain before and
                  after (0-10), effort, and hands_free_percent: the share of the walking seconds
                  with the hands off the rails. distance_source says whether the distance was
                  measured by the treadmill or estimated from the set speed. export_folder names
                  the folder under exports/ that holds the session's samples and events.
  exports/<date and time>/  One folder per export, never changed afterwards:
    sessions.csv    the sessions of that export (same columns as above);
    samples.csv     one row per second of each session (1 Hz): mode, phase, target and actual
                    speed, incline, rails held (1/0), lanyard clipped (1/0), distance;
    events.csv      every event: phase changes, pauses and why, emergency stops, pain scores,
                    refused starts. safety=1 marks safety events. detail is JSON. Rows with an
                    empty session_id happened at the station outside a session;
    backstep.jsonl  the same data as JSON Lines: one JSON object per line, each with a "type":
                    "export" (first line: station, time, counts), then per session one
                    "session" line (with the program as it was and its phases), its "sample"
                    lines and its "event" lines; station events last.
  tcx/*.tcx       One Training Center (TCX) file per session, sport Other, one lap per
                  program phase, a track point per second with the distance, for
                  training-log tools that import TCX (Garmin Connect, Strava, GoldenCheetah).
                  Lap time counts the seconds walked (pauses excluded).
  charts/*.png    For each member with a session in this export, their whole history as
                  charts on one page: sessions per week against their goal, minutes per
                  week, top backward speed, pain before and after (0-10) and the hands-free
                  share (0-100 %) per session. Every axis starts at zero. Named member-<id>,
                  or by the member's pseudonym when the station pseudonymizes.
  clinic-sessions.csv  Only at a station of a clinic hub: the sessions its members walked at the
                  clinic's OTHER stations, one row each, marked with the station_id and that
                  station's own session number (its samples stay on that station and the hub).
                  Rewritten whole from the hub's copy at every export.
  manifest.json   Written last: every file of this export with its size and SHA-256
                  checksum. If it is missing, the export did not finish: export again.
  .backstep-export.json  A random id for this stick, so the next export from the station
                  writes only what is new. Delete it to get everything again next time.

Nothing an earlier export wrote is lost: sessions.csv is rewritten with the rows it held plus
the new ones (a session exported again replaces its own row, found by session_id and
started_at, so no session appears twice; rows of sessions the station no longer holds stay),
and each export's samples and events go into a new folder under exports/. An export of
everything (backstep export --all) writes one folder with every session. A sessions.csv that
Backstep cannot read is kept as sessions-kept-<date>.csv, never overwritten.
Files are written under a temporary name (ending in {PARTIAL}) and renamed when complete, so a
file under its final name is always whole. Text a spreadsheet might take for a formula starts
with an apostrophe. The CSV files are UTF-8 with a byte-order mark, so spreadsheets show
accented names correctly.
"""
