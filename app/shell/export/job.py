"""The kiosk's handle on one export (run off the main loop by the Export screen)."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable

from ...errors import UserError
from .charts import ChartRenderer
from .results import ExportCancelled, ExportResult, ProgressCallback
from .writer import Exporter

log = logging.getLogger("app.shell.export")


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
            return ExportResult(ok=False, message=str(exc), selection=self.selection, errno=_errno_behind(exc))
        except Exception as exc:  # noqa: BLE001 - the kiosk shows one line, the journal keeps the trace
            log.exception("export failed")
            return ExportResult(ok=False, message=f"the export failed ({type(exc).__name__}: {exc}); see the journal",
                                selection=self.selection)


def _errno_behind(exc: BaseException | None) -> int | None:
    """The errno of the OSError an export error was raised while handling (``raise ... from None``
    hides it from tracebacks, not from ``__context__``)."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno is not None:
            return exc.errno
        exc = exc.__cause__ or exc.__context__
    return None
