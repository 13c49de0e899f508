"""USB export: the session logs as CSV, JSON Lines and TCX, written safely onto a stick.

The same code runs behind ``backstep export --to DIR`` and the kiosk's Export screen
(:class:`ExportJob`). What it promises (docs/export.md):

- **Nothing on the stick is lost.** ``sessions.csv`` holds every session ever exported to the
  stick (the rows already there, plus the new ones; a session exported again replaces its own
  row); each export's samples, events and JSON Lines go into a new ``exports/<time>/`` folder.
- **No half file under a final name.** Every file is written to ``.<name>.partial`` in its final
  folder, flushed and fsynced; only when *all* of them are complete are they renamed (``os.replace``)
  into place and the folders fsynced; ``manifest.json`` (checksums) is written last and removed
  first, so a stick without it holds an unfinished export. A full, read-only or pulled stick, or a
  kill, leaves at most ``.partial`` files, which the next export to that stick removes.
- **Nothing on the stick is trusted** (:mod:`.stick`): folders by descriptor, never a link followed.
- **The database is read, not changed.** Session data is read in one read transaction (a
  consistent snapshot while the kiosk keeps writing); the only writes go to the export's own
  tables (``backstep-export`` in :mod:`app.shell.schema`) and the derived ``session_stats``. The
  :class:`~app.shell.store.Store` is deliberately not opened: its crash recovery would mark the
  kiosk's running session ``interrupted``.
- **One source per figure** (:mod:`.metrics`): the session's statistics, as history shows them.

Split by job: :mod:`.stick` (stick I/O), :mod:`.selection` (what to write, watermarks),
:mod:`.metrics` (session figures), :mod:`.tcx` (laps and track), :mod:`.charts` (PNG per member),
:mod:`.writer` (the export that ties them together), :mod:`.job` (the kiosk's handle).
"""

from __future__ import annotations

from .charts import CHARTS_FOLDER, ChartRenderer
from .job import ExportJob
from .results import ExportCancelled, ExportError, ExportResult, ProgressCallback
from .selection import parse_since
from .stick import Folder, PendingFile, describe_os_error
from .writer import Exporter

__all__ = ["CHARTS_FOLDER", "ChartRenderer", "ExportCancelled", "ExportError", "ExportJob", "ExportResult",
           "Exporter", "Folder", "PendingFile", "ProgressCallback", "describe_os_error", "parse_since"]
