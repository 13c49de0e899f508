"""Export fixture databases with a fixed clock and print a digest of every file written.

    python tools/export_digest.py [--charts] > before.txt   # then, after a change:
    python tools/export_digest.py [--charts] | diff before.txt -

A refactoring or speed-up of the export must leave this output unchanged (the stick's random id
lives only in the marker file, which is left out). Uses the test fixtures: the Store-built
sessions (pauses, an e-stop, guests, a formula typed as a name, measured and estimated distance)
and a bulk database.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from test_export_fixtures import T0, make_bulk, make_sessions  # noqa: E402

from app.shell.export import Exporter  # noqa: E402


def digest(folder: Path) -> list[str]:
    lines = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name == ".backstep-export.json":
            continue
        data = path.read_bytes()
        lines.append(f"{hashlib.sha256(data).hexdigest()[:16]} {len(data):>9} {path.relative_to(folder).as_posix()}")
    return lines


def main(argv: list[str]) -> int:
    charts = None
    if "--charts" in argv:
        from app.commands.export import chart_png as charts
    with tempfile.TemporaryDirectory() as work:
        work_path = Path(work)
        for name, build in (("sessions", lambda db: make_sessions(db, 6)), ("bulk", lambda db: make_bulk(db, 12, 300))):
            db = work_path / f"{name}.db"
            build(db)
            stick = work_path / f"stick-{name}"
            stick.mkdir()
            ticks = iter(range(10**6))
            exporter = Exporter(db, clock=lambda: T0 + 86400 + next(ticks) * 60, charts=charts)
            for selection in ("incremental", "all"):
                exporter.export(stick, selection=selection)
            for line in digest(stick):
                print(f"{name} {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
