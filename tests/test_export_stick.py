"""Bad sticks: full, read-only, pulled mid-export, and a kill in the middle of an export.

Real file systems: a 256 KiB tmpfs for "full", the same tmpfs remounted read-only, and a real
``backstep export`` subprocess killed with SIGKILL. Each test checks the promise of docs/export.md: a
one-line message, a non-zero exit, no half-written file under a final name, the database untouched.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from lxml import etree

from app.config import Config, StationSection
from app.shell import export as export_module
from app.shell.export import ExportJob
from conftest import wait_for
from test_export import db_fingerprint, station_dir
from test_export_fixtures import make_bulk, make_sessions

ROOT = Path(__file__).resolve().parent.parent
FINAL_SUFFIXES = (".csv", ".jsonl", ".txt", ".json", ".tcx")


@pytest.fixture
def tmpfs(tmp_path):
    """A 256 KiB tmpfs (root only); unmounted afterwards."""
    mount_point = tmp_path / "stick"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount_point)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not root'}); the full/read-only tests need one")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], capture_output=True)


def assert_whole(folder: Path) -> None:
    """Every file under a final name is complete: parseable to its end."""
    for path in folder.rglob("*"):
        if not path.is_file() or path.name.endswith(".partial"):
            continue
        data = path.read_bytes()
        if path.suffix == ".csv":
            assert data.endswith(b"\r\n"), path
            rows = list(csv.reader(data.decode("utf-8-sig").splitlines()))
            assert all(len(row) == len(rows[0]) for row in rows), path
        elif path.suffix == ".jsonl":
            assert data.endswith(b"\n"), path
            for line in data.decode().splitlines():
                json.loads(line)
        elif path.suffix == ".json":
            json.loads(data)
        elif path.suffix == ".tcx":
            etree.fromstring(data)  # raises on a truncated document
        elif path.suffix == ".txt":
            assert data.rstrip().endswith(b"."), path


def final_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.endswith(".partial"))


def test_full_stick_is_refused_cleanly(tmp_path, tmpfs):
    db = tmp_path / "big.db"
    make_bulk(db, 20, 600)  # ~12,000 samples: several MB of CSV, JSON and TCX for a 256 KiB stick
    before = db_fingerprint(db)
    done = subprocess.run([sys.executable, "-m", "app", "export", "--to", str(tmpfs), "--db", str(db)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert "full" in done.stderr
    assert final_files(tmpfs) == []
    assert not list(tmpfs.rglob("*.partial"))  # the temporary files were cleaned up too
    assert db_fingerprint(db) == before
    conn = sqlite3.connect(db)
    assert conn.execute("select count(*) from exports").fetchone()[0] == 0  # nothing remembered as exported
    conn.close()


def test_full_stick_keeps_the_previous_export_intact(tmp_path, tmpfs):
    db = tmp_path / "b.db"
    make_sessions(db, 2)
    first = ExportJob(db, tmpfs, Config()).run()
    assert first.ok, first.message
    old = {p: p.read_bytes() for p in final_files(tmpfs)}
    make_bulk(tmp_path / "big.db", 20, 600)
    result = ExportJob(tmp_path / "big.db", tmpfs, Config(), selection="all").run()
    assert not result.ok and "full" in result.message
    # The failure came before any rename: the earlier export is exactly as it was, manifest included.
    assert {p: p.read_bytes() for p in final_files(tmpfs)} == old
    assert not list(tmpfs.rglob("*.partial"))


def test_read_only_stick_is_refused_cleanly(tmp_path, tmpfs):
    db = tmp_path / "b.db"
    make_sessions(db, 2)
    done = subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot remount read-only: {done.stderr.strip()}")
    result = subprocess.run([sys.executable, "-m", "app", "export", "--to", str(tmpfs), "--db", str(db)],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode != 0
    assert "read-only" in result.stderr and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert list(tmpfs.iterdir()) == []


def test_stick_pulled_mid_export_leaves_no_half_file(tmp_path, monkeypatch):
    """A pulled stick shows up as EIO (or ENODEV) on the next write; injected here at the 5th chunk."""
    db = tmp_path / "big.db"
    make_bulk(db, 5, 600)
    stick = tmp_path / "stick"
    stick.mkdir()
    real_drain = export_module.PendingFile._drain
    calls = {"n": 0}

    def failing_drain(self):
        calls["n"] += 1
        if calls["n"] == 5:
            raise OSError(errno.EIO, "Input/output error")
        real_drain(self)

    monkeypatch.setattr(export_module.PendingFile, "_drain", failing_drain)
    result = ExportJob(db, stick, Config()).run()
    assert not result.ok and "removed" in result.message and "\n" not in result.message
    assert final_files(stick) == []
    assert not list(stick.rglob("*.partial"))


@pytest.mark.slow
def test_kill_during_export_leaves_no_half_file_under_a_final_name(tmp_path):
    db = tmp_path / "big.db"
    make_bulk(db, 150, 600)  # 90,000 samples: the export takes long enough to be killed mid-way
    stick = tmp_path / "stick"
    stick.mkdir()
    # A finished export first, so there are final names a broken export could damage.
    first = subprocess.run([sys.executable, "-m", "app", "export", "--to", str(stick), "--db", str(db), "--since", "140"],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert first.returncode == 0, first.stderr
    out = station_dir(stick)
    before = {p: p.read_bytes() for p in final_files(out)}

    proc = subprocess.Popen([sys.executable, "-m", "app", "export", "--to", str(stick), "--db", str(db), "--all"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Kill once the export is well under way: some TCX files written, under temporary names.
    wait_for(lambda: len(list((out / "tcx").glob("*.partial"))) >= 20, 60, interval=0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert list(out.rglob("*.partial")), "the kill should land mid-export (raise the fixture size if not)"
    assert_whole(out)
    # The kill came before the commit: every final-named file is still the first export's.
    assert {p: p.read_bytes() for p in final_files(out)} == before

    # The next export finishes, replaces the leftovers and remembers nothing from the killed one.
    again = subprocess.run([sys.executable, "-m", "app", "export", "--to", str(stick), "--db", str(db), "--all"],
                           capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert again.returncode == 0, again.stderr
    assert not list(out.rglob("*.partial"))
    assert_whole(out)
    assert len(list((out / "tcx").glob("*.tcx"))) == 150


@pytest.mark.slow
def test_kill_at_any_moment_never_leaves_a_broken_final_file(tmp_path):
    """Kill at several points, including the rename phase; whatever is final is whole."""
    db = tmp_path / "b.db"
    make_bulk(db, 40, 300)
    for delay in (0.05, 0.2, 0.4, 0.7, 1.0, 1.5):
        stick = tmp_path / f"stick-{uuid.uuid4().hex[:6]}"
        stick.mkdir()
        proc = subprocess.Popen([sys.executable, "-m", "app", "export", "--to", str(stick), "--db", str(db), "--all"],
                                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        assert_whole(stick)
        manifest = station_dir(stick) / "manifest.json"
        if manifest.exists():  # the export finished: everything it lists is there
            for entry in json.loads(manifest.read_text())["files"]:
                assert (station_dir(stick) / entry["path"]).stat().st_size == entry["bytes"]


def test_error_messages_are_one_line_for_every_errno():
    for code in (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EIO, errno.ENODEV, errno.ENOENT, errno.ELOOP,
                 errno.ENOTDIR, errno.EINVAL):
        message = export_module.describe_os_error(OSError(code, os.strerror(code)), "/media/backstep/STICK/Backstep/x")
        assert "\n" not in message and "/media/backstep/STICK" in message


def test_station_id_names_the_folder(tmp_path):
    db = tmp_path / "b.db"
    make_sessions(db, 1)
    stick = tmp_path / "s"
    stick.mkdir()
    result = ExportJob(db, stick, Config(station=StationSection(id="gym-2"))).run()
    assert result.ok and (stick / "Backstep" / "gym-2" / "sessions.csv").exists()
