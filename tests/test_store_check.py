"""The database's checks on real SQLite files (app.shell.db_check; docs/database.md, "Damaged or
newer files"): the kiosk's open before READY=1 reads only the header and the schema, so damage deep
in the history is found by the full check after READY=1, which logs it, tells staff and marks the
file; the next open moves the file aside and starts fresh, deleting nothing. A damaged header or
schema, and damage the open itself reads, are still moved aside before READY=1."""

from __future__ import annotations

import hashlib
import logging
import sqlite3
from pathlib import Path

import pytest
from test_export_fixtures import make_bulk

from app.shell import db_check
from app.shell.db_check import LateCheck, damage_marked, marker_of
from app.shell.store import Store

PAGE_NOISE = bytes(range(256)) * 64  # 16 KiB of bytes no b-tree page is made of


def history(path: Path) -> Path:
    """A station's database with 20 sessions of 600 samples (12,000 rows: hundreds of pages)."""
    make_bulk(path, 20, 600)
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0  # all in the file
    return path


def page_size_and_root(path: Path, table: str) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("select rootpage from sqlite_master where type = 'table' and name = ?", [table]).fetchone()[0]
    finally:
        conn.close()
    return size, root


def overwrite_page(path: Path, page: int, size: int) -> None:
    with open(path, "r+b") as f:
        f.seek((page - 1) * size)
        f.write(PAGE_NOISE[:size])


def samples_leaves(path: Path) -> tuple[int, list[int]]:
    """(page size, the first two leaf pages of the samples table): its root's first two children."""
    size, root = page_size_and_root(path, "samples")
    data = path.read_bytes()[(root - 1) * size:root * size]
    assert data[0] == 0x05, "the samples table should have grown past one page"
    # The cell pointer array follows the 12-byte header; an interior cell starts with its left child.
    cells = [int.from_bytes(data[12 + 2 * i:14 + 2 * i], "big") for i in range(2)]
    leaves = [int.from_bytes(data[cell:cell + 4], "big") for cell in cells]
    assert not {1, root} & set(leaves)
    return size, leaves


def damage_a_samples_page(path: Path) -> None:
    """Overwrite a leaf page in the middle of the samples table with noise (SQLite's check stops at
    it: "database disk image is malformed"); the header, the schema and every other table stay
    readable."""
    size, leaves = samples_leaves(path)
    overwrite_page(path, leaves[0], size)


def copy_a_samples_page(path: Path) -> None:
    """Copy one leaf page of the samples table over the next: each page is sound, their order is
    not (SQLite's check lists it: "Rowid 52 out of order")."""
    size, (first, second) = samples_leaves(path)
    with open(path, "r+b") as f:
        f.seek((first - 1) * size)
        page = f.read(size)
        f.seek((second - 1) * size)
        f.write(page)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def aside(folder: Path) -> list[Path]:
    """The database files moved aside (without their -wal, -shm and marker, which go with them)."""
    return sorted(p for p in folder.iterdir()
                  if ".corrupt-" in p.name and not p.name.endswith(("-wal", "-shm", db_check.MARKER_SUFFIX)))


def test_the_kiosk_open_does_not_read_the_history_but_the_full_check_does(tmp_path):
    path = history(tmp_path / "b.db")
    damage_a_samples_page(path)
    assert db_check.problem(path, full=False) is None
    assert "the database is damaged" in db_check.problem(path, full=True)

    kiosk = Store(path, full_check=False)  # before READY=1: the header and the schema only
    try:
        assert kiosk.notices == []
        assert aside(tmp_path) == []
        assert kiosk.session(1)["status"] == "completed"  # the undamaged tables are there to use
    finally:
        kiosk.close()

    command = Store(path)  # a command (sessions, export, doctor's neighbours) checks every page
    try:
        assert "the database is damaged" in command.notices[0] and "moved it aside" in command.notices[0]
        assert len(aside(tmp_path)) == 1
    finally:
        command.close()


@pytest.mark.parametrize("damage", [damage_a_samples_page, copy_a_samples_page])
def test_the_full_check_after_ready_logs_marks_and_tells_staff(tmp_path, caplog, damage):
    path = history(tmp_path / "b.db")
    damage(path)
    assert db_check.problem(path, full=False) is None
    store = Store(path, full_check=False)
    try:
        check = LateCheck(path)
        with caplog.at_level(logging.ERROR):
            check.run()  # the worker thread's part
        check.report(store.notices)  # the loop's part
    finally:
        store.close()
    assert "the database is damaged" in check.found
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "the database is damaged" in errors[0].getMessage()
    assert "moves it aside" in errors[0].getMessage()
    assert len(store.notices) == 1
    assert "full check says the database is damaged" in store.notices[0]
    assert "next start" in store.notices[0]
    assert "the database is damaged" in damage_marked(path)
    assert "\n" not in damage_marked(path) and "\n" not in store.notices[0], "one line each"
    assert aside(tmp_path) == [], "the file in use is not moved under the kiosk"


def test_a_sound_database_passes_the_late_check_unmarked(tmp_path, caplog):
    path = history(tmp_path / "b.db")
    store = Store(path, full_check=False)
    try:
        check = LateCheck(path)
        with caplog.at_level(logging.WARNING):
            check.run()
        check.report(store.notices)
    finally:
        store.close()
    assert check.found is None and store.notices == []
    assert not marker_of(path).exists() and damage_marked(path) is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_the_next_start_moves_a_marked_file_aside_and_deletes_nothing(tmp_path):
    path = history(tmp_path / "b.db")
    damage_a_samples_page(path)
    first = Store(path, full_check=False)
    LateCheck(path).run()
    first.close()
    damaged = digest(path)
    marker_text = marker_of(path).read_text()

    second = Store(path, full_check=False)  # the next start of the kiosk
    try:
        assert len(second.notices) == 1
        assert "the database is damaged" in second.notices[0] and "moved it aside" in second.notices[0]
        assert list(second.sessions()) == [], "a fresh database"
    finally:
        second.close()
    [moved] = aside(tmp_path)
    assert digest(moved) == damaged, "the damaged file is kept whole"
    assert marker_of(moved).read_text() == marker_text, "the finding is kept beside it"
    assert not marker_of(path).exists()

    third = Store(path, full_check=False)  # and the start after that is an ordinary one
    try:
        assert third.notices == []
    finally:
        third.close()


def test_a_marker_the_full_check_no_longer_confirms_is_dropped(tmp_path):
    path = history(tmp_path / "b.db")
    marker_of(path).write_text("2026-01-01T00:00:00 the database is damaged (an old finding)\n")
    store = Store(path, full_check=False)
    try:
        assert aside(tmp_path) == []
        assert len(store.notices) == 1 and "an old finding" in store.notices[0] and "not found now" in store.notices[0]
        assert store.session(1) is not None
    finally:
        store.close()
    assert not marker_of(path).exists()


def damage_header(path: Path) -> None:
    with open(path, "r+b") as f:
        f.write(b"not SQLite at all")


def damage_schema(path: Path) -> None:
    data = bytearray(path.read_bytes())
    at = data.index(b"CREATE TABLE")  # the schema's text, in sqlite_master's pages
    data[at:at + 12] = b"CRATE TALBE "
    path.write_bytes(bytes(data))


def damage_sessions(path: Path) -> None:
    """The sessions table, which the open reads (sessions a crash left running)."""
    size, root = page_size_and_root(path, "sessions")
    overwrite_page(path, root, size)


@pytest.mark.parametrize("damage, words", [
    (damage_header, "not a readable database"),
    (damage_schema, "malformed database schema"),
    (damage_sessions, "the database is damaged"),
])
def test_damage_the_open_reads_is_still_moved_aside_before_ready(tmp_path, damage, words):
    path = history(tmp_path / "b.db")
    damage(path)
    damaged = digest(path)
    store = Store(path, full_check=False)
    try:
        assert len(store.notices) == 1 and words in store.notices[0] and "moved it aside" in store.notices[0]
        assert list(store.sessions()) == [], "a fresh database"
    finally:
        store.close()
    [moved] = aside(tmp_path)
    assert digest(moved) == damaged


def test_a_busy_or_missing_file_is_not_marked_damaged(tmp_path, caplog):
    """No verdict on the file (SQLite could not read it for another reason): nothing is marked."""
    check = LateCheck(tmp_path / "gone" / "b.db")
    with caplog.at_level(logging.WARNING):
        check.run()
    assert check.found is None and not marker_of(tmp_path / "gone" / "b.db").exists()
    assert "could not run" in caplog.text
