"""The export's fast path writes exactly the bytes of the straightforward one, on any data.

The fast path (:func:`app.shell.export.samples.fast_outputs`, :meth:`Track.points_fast`, strict
text decoding) formats a chunk of samples with string templates; it must fall back, chunk by
chunk, wherever the templates would differ from ``csv.writer``, the JSON encoder and the TCX
writer: NULLs, non-ASCII, markup, line separators, inf, -0.0, text or blobs where numbers belong,
bytes that are not UTF-8, phases that go back, distances that stop being reported.
"""

from __future__ import annotations

import hashlib
import math
import shutil
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.shell.export import Exporter
from app.shell.store import Store
from test_export_fixtures import T0, add_session

COLUMNS = ("session_id", "t", "at", "mode", "phase_idx", "target_speed_kmh", "actual_speed_kmh", "incline_pct",
           "rails_held", "lanyard_clipped", "distance_m")


def files(stick: Path) -> dict[str, str]:
    return {p.relative_to(stick).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(stick.rglob("*")) if p.is_file() and p.name != ".backstep-export.json"}


def export_both_ways(db: Path, work: Path) -> tuple[dict, dict]:
    out = []
    for fast in (True, False):
        stick = work / f"stick-{fast}"
        stick.mkdir()
        ticks = iter(range(1000))
        Exporter(db, clock=lambda: T0 + 86400 + next(ticks), fast=fast).export(stick, selection="all")
        out.append(files(stick))
    return out[0], out[1]


def plain_sample(session_id: int, t: int, phase: int = 0, distance: float | None = None) -> tuple:
    return (session_id, float(t), f"2026-11-21T08:{t // 60 % 60:02d}:{t % 60:02d}.000+00:00", "running", phase,
            0.8, 0.8, 0.0, 1, 1, distance)


def insert(db: Path, rows) -> None:
    conn = sqlite3.connect(db)
    with conn:
        conn.executemany(f"insert into samples ({', '.join(COLUMNS)}) values ({', '.join('?' * len(COLUMNS))})", rows)
    conn.close()


def base_db(path: Path, sessions: int = 2) -> list[int]:
    store = Store(path)
    ids = [add_session(store, start=T0 + i * 3600, measured=i % 2 == 1, seconds=(3, 2)) for i in range(sessions)]
    store.close()
    return ids


def test_tricky_samples_give_the_same_bytes_both_ways(tmp_path, monkeypatch):
    db = tmp_path / "b.db"
    first, second = base_db(db)
    tricky = [
        (first, 100.0, None, "running", 1, 0.8, None, 0.0, 1, 1, None),                      # NULL time
        (first, 101.0, "2026-11-21T08:01:41+00:00", "läuft", 1, 0.8, 0.7, 0.0, 0, 1, None),  # non-ASCII mode
        (first, 102.0, "<b>&amp;\u2028\x85", "run,ning", 1, float("inf"), -0.0, 0.0, 1, 1, None),
        (first, 103.0, "2026-11-21T08:01:43+00:00", "running", 0, "fast", b"\x00\x01", 12, 1, 1, None),
        (first, 104.0, "2026-11-21T08:01:44+00:00", "info", None, 0.8, 0.8, 2**62, 1, 1, None),
        (first, 105.0, "2026-11-21T08:01:45+00:00", "running", 1, -float("inf"), 1e-300, 1e300, 1, 1, None),
    ]
    insert(db, tricky)
    # A long measured session: clean chunks, then a chunk with a gap in the distance readings and
    # a phase that goes back, then a chunk whose time is not valid UTF-8.
    long_rows = [plain_sample(second, 200 + t, phase=0 if t < 2500 else 1, distance=float(t) / 3) for t in range(4500)]
    long_rows[2600] = (*long_rows[2600][:10], None)
    long_rows[2700] = (*long_rows[2700][:4], 0, *long_rows[2700][5:])
    insert(db, long_rows)
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("update samples set at = cast(? as text) where session_id = ? and t = ?",
                     (b"2026-11-21T\xff\xfe", second, 200.0 + 4400))
    conn.close()
    from app.shell.export import samples

    taken = []
    real = samples.fast_outputs
    monkeypatch.setattr(samples, "fast_outputs", lambda sid, rows: taken.append(real(sid, rows) is not None) or real(sid, rows))
    fast, straight = export_both_ways(db, tmp_path)
    assert fast == straight
    assert True in taken and False in taken  # both paths really ran, chunk by chunk


_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=6)
_number = st.one_of(st.none(), st.integers(-3, 2**62), st.floats(allow_nan=False, width=64),
                    st.sampled_from([0.0, -0.0, 0.1, 1.0, 2.5, 1e16, float("inf")]))
_plain_time = st.builds(lambda s: f"2026-11-21T08:00:{s % 60:02d}.{s % 1000:03d}+01:00", st.integers(0, 10**6))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(
    st.floats(0, 1e5, allow_nan=False), st.one_of(_plain_time, _text, st.none()),
    st.one_of(st.sampled_from(["running", "paused", "countdown"]), _text), st.one_of(st.none(), st.integers(0, 3)),
    _number, _number, _number, st.one_of(st.none(), st.integers(0, 1)), st.integers(0, 1), _number),
    min_size=1, max_size=40), st.booleans())
def test_any_samples_give_the_same_bytes_both_ways(samples, plain):
    work = Path(tempfile.mkdtemp())
    try:
        db = work / "b.db"
        first, second = base_db(db)
        if plain:  # mostly the fast path's own kind of data, one odd value among it
            samples = [plain_sample(first, 50 + i, phase=i % 2, distance=None) for i in range(30)] + \
                      [(first, *s) for s in samples[:1]]
        else:
            samples = [(first if i % 2 else second, *s) for i, s in enumerate(samples)]
        insert(db, [tuple(v if not (isinstance(v, float) and math.isnan(v)) else None for v in s) for s in samples])
        fast, straight = export_both_ways(db, work)
        assert fast == straight
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_equal_numbers_keep_their_own_text_on_the_fast_path(tmp_path, monkeypatch):
    """0.0 and -0.0, 1 and 1.0 are equal (and hash alike): the fast path's cached number texts must
    not write one for the other, within a session or in a later one. (The station's typed columns
    store -0.0 as 0.0 and 1.0 as 1 in an integer column; a database another tool made may not.)"""
    db = tmp_path / "b.db"
    first, second = base_db(db)
    conn = sqlite3.connect(db)
    with conn:  # the samples table without column types, holding only the samples below
        conn.execute("drop table samples")
        conn.execute(f"create table samples (id integer primary key, {', '.join(COLUMNS)})")
    conn.close()
    rows = []
    for session, t0, zero, one in ((first, 100, 0.0, 1), (second, 200, -0.0, 1.0), (first, 300, 0.0, 1)):
        for t in range(t0, t0 + 5):
            phase = one if t % 2 else 0  # an int column written as a float
            rows.append((session, float(t), f"2026-11-21T08:00:{t % 60:02d}.000+00:00", "running", phase,
                         float(one), zero, zero if t % 2 else 0.0, one, 1, None))
    insert(db, rows)
    from app.shell.export import samples

    taken = []
    real = samples.fast_outputs
    monkeypatch.setattr(samples, "fast_outputs", lambda sid, rows: taken.append(real(sid, rows) is not None) or real(sid, rows))
    fast, straight = export_both_ways(db, tmp_path)
    assert fast == straight
    assert taken and all(taken)  # every chunk took the fast path
