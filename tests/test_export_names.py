"""FAT-safe names and valid files whatever a therapist types as a program or member name."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from app.config import Config, ExportSection
from app.core.member import Member
from app.shell.export import ExportJob
from app.shell.export_formats import MAX_NAME, fat_safe, partial_name, slug, tcx_name
from app.shell.store import Store
from test_export import XSD
from test_export_fixtures import T0, add_session

FORBIDDEN = set('<>:"/\\|?*') | {chr(c) for c in range(32)} | {"\x7f"}
RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}

weird_text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300) | st.sampled_from([
    "", "   ", "...", "CON", "nul.txt", "a/b\\c", "Étirement: ½ «rapide» ?", "再来一次", "🙂🙂", "x" * 400,
    "=cmd|' /C calc'!A0", "\x00\x01\x1f", "\ud800 lone surrogate", ". trailing dot.", "<script>",
])


def assert_fat_safe(name: str) -> None:
    assert name and len(name) <= MAX_NAME and len(name.encode("utf-8")) <= MAX_NAME
    assert not (set(name) & FORBIDDEN), name
    assert name == name.strip() and not name.endswith("."), name
    assert name not in (".", "..")
    assert name.split(".")[0].upper() not in RESERVED, name
    assert name.isascii()


@given(weird_text, st.integers(min_value=1, max_value=10**12), st.one_of(st.none(), weird_text))
def test_tcx_names_are_fat_safe(program_name, session_id, started_at):
    name = tcx_name(session_id, started_at, program_name)
    assert_fat_safe(name)
    assert name.endswith(".tcx") and f"_session-{session_id}_" in name
    assert_fat_safe(partial_name(name))


@given(weird_text)
def test_folder_names_are_fat_safe_and_slugs_are_plain(text):
    assert_fat_safe(fat_safe(text))
    assert set(slug(text)) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")


def test_readable_names():
    assert tcx_name(12, "2026-11-21T16:45:28.123+01:00", "Beginner flat") == "2026-11-21T16-45-28_session-12_beginner-flat.tcx"
    assert slug("Größe: Über «Knie»") == "grosse-uber-knie"
    assert fat_safe("CON") == "_CON" and fat_safe("") == "backstep"


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program_name=weird_text.filter(lambda s: s.strip() != ""), member_name=weird_text)
def test_weird_names_still_give_valid_files(program_name, member_name):
    """Program and member names end up in CSV cells, JSON and TCX notes: all must stay valid."""
    schema = _schema()
    folder = Path(tempfile.mkdtemp())
    try:
        db = folder / "b.db"
        store = Store(db)
        add_session(store, start=T0, member=Member(id=3, name="placeholder"), seconds=(3, 2))
        store.close()
        # Whatever a file or a form let through ends up in the database: put it there directly.
        conn = sqlite3.connect(db)
        with conn:
            # As raw bytes: text written by another tool may not even be valid UTF-8.
            program_raw, member_raw = (v.encode("utf-8", "surrogatepass") for v in (program_name, member_name))
            conn.execute("update sessions set program_name = cast(? as text), member_name = cast(? as text), "
                         "stop_reason = cast(? as text)", (program_raw, member_raw, member_raw))
            conn.execute("update phases set name = cast(? as text)", (program_raw,))
        conn.close()
        stick = folder / "stick"
        stick.mkdir()
        result = ExportJob(db, stick, Config(export=ExportSection())).run()
        assert result.ok, result.message
        out = stick / "Backstep" / "backstep-1"
        (tcx,) = list((out / "tcx").iterdir())
        assert_fat_safe(tcx.name)
        assert schema.validate(etree.parse(str(tcx))), schema.error_log.last_error
        with (out / "sessions.csv").open(encoding="utf-8-sig", newline="") as handle:
            (row,) = list(csv.DictReader(handle))
        assert row["session_id"] == "1"
        for line in (Path(result.export_folder) / "backstep.jsonl").read_text(encoding="utf-8").splitlines():
            json.loads(line)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_SCHEMA = []


def _schema():
    if not _SCHEMA:
        _SCHEMA.append(etree.XMLSchema(etree.parse(str(XSD))))
    return _SCHEMA[0]
