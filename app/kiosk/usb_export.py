"""The Export screen's controller (:class:`app.ui.data.ExportController`) on the station's USB
handling: a thread watches the mount table for sticks (:mod:`app.shell.usb`), an export runs on
its own thread (:class:`app.shell.export.ExportJob`), then the stick is unmounted so the screen can
say it is safe to remove."""

from __future__ import annotations

import enum
import errno
import logging
import threading

from ..core.record import replace
from ..ui.data import ExportStatus

log = logging.getLogger("backstep.kiosk")

#: How often the USB watcher looks at the mount table when the kernel has not woken it.
USB_FALLBACK_POLL_S = 15.0


class UsbExport:
    """:class:`app.ui.data.ExportController` on the station's USB handling: a thread watches the mount
    table for sticks (``app.shell.usb``), :meth:`start` runs an ``ExportJob`` on its own thread, then
    unmounts the stick so the screen can say it is safe to remove.

    :param watch: start watching for sticks at once; ``False`` leaves it to :meth:`watch` (the
        kiosk's, after READY=1: until then the screen shows no stick).
    """

    def __init__(self, config, db_path, wake=None, *, mountinfo: str | None = None, unmount=None,
                 watch: bool = True):
        self._unmount = unmount
        self.config = config
        self.db_path = db_path
        self.wake = wake or (lambda: None)
        self.mountinfo = mountinfo
        self.watcher = None
        self._lock = threading.Lock()
        self._status = ExportStatus()
        self._stick = None
        self._stop = threading.Event()
        if watch:
            self.watch()

    def watch(self) -> None:
        """Start the thread that watches the mount table for sticks (once)."""
        from ..shell.usb import StickWatcher

        if self.watcher is not None:
            return
        mount_dir = self.config.export.mount_dir
        self.watcher = StickWatcher(mount_dir, self.mountinfo) if self.mountinfo else StickWatcher(mount_dir)
        threading.Thread(target=self._watch, name="backstep-usb-watch", daemon=True).start()

    def _set(self, **changes) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)
        self.wake()

    def _watch(self) -> None:
        from ..shell.usb import StickInserted, StickRemoved

        while not self._stop.is_set():
            try:
                # The kernel wakes this at once on any mount change (POLLPRI on mountinfo); the
                # timeout is only a fallback, kept long because every wake-up costs an idle Pi CPU.
                # A mount table that is a plain file (tests, some containers) never signals POLLPRI.
                live = str(self.watcher.mountinfo).startswith("/proc/")
                changes = self.watcher.wait(USB_FALLBACK_POLL_S if live else 2.0)
            except OSError as exc:
                log.warning("USB watch: %s", exc)
                self._stop.wait(5.0)
                continue
            for change in changes:
                if isinstance(change, StickInserted):
                    self._stick = change.stick
                    if self._status.state in ("no_stick", "done", "error"):
                        self._set(state="detected", stick=change.stick.name, progress=0.0, error="", detail="")
                elif isinstance(change, StickRemoved) and self._stick is not None \
                        and change.stick.path == self._stick.path:
                    self._stick = None
                    if self._status.state == "exporting":
                        self._set(state="error", error=ExportError.REMOVED.value, detail="")
                    elif self._status.state != "done":
                        self._set(state="no_stick", stick="")

    def status(self):
        with self._lock:
            return self._status

    def start(self) -> None:
        stick = self._stick
        if stick is None or self._status.state != "detected":
            return
        self._set(state="exporting", progress=0.0, sessions=0)
        threading.Thread(target=self._run, args=(stick,), name="backstep-export", daemon=True).start()

    def _run(self, stick) -> None:
        # Imported on the export's own thread, when a stick is first exported to: the export's
        # formats (XML escaping pulls in urllib, http.client and ssl) and the charts cost ~30 ms the
        # kiosk's start need not pay (docs/architecture.md, "Start-up").
        from ..shell.export import ExportJob
        from .charts import chart_png

        job = ExportJob(self.db_path, stick.path, self.config, charts=chart_png)
        result = job.run(on_progress=lambda done, total: self._set(progress=done / total if total else 0.0))
        if not result.ok:
            self._set(state="error", error=ExportError.of(result.errno).value, detail=result.message)
            return
        if self._unmount is None:
            from ..shell.usb import unmount as real_unmount

            self._unmount = real_unmount
        unmounted = self._unmount(stick.path)
        if unmounted.ok:
            self._set(state="done", progress=1.0, sessions=result.sessions)
        else:
            self._set(state="error", error=ExportError.OTHER.value, detail=unmounted.message)

    def dismiss(self) -> None:
        if self._status.state in ("done", "error"):
            self._set(state="detected" if self._stick is not None else "no_stick", error="", detail="", progress=0.0)

    def close(self) -> None:
        self._stop.set()


class ExportError(enum.Enum):
    """What went wrong with an export, in the plain words the Export screen has for it
    (:data:`app.ui.data.EXPORT_ERRORS`), told by the system's error number."""

    FULL = "full"
    READONLY = "readonly"
    REMOVED = "removed"
    OTHER = "other"

    @classmethod
    def of(cls, code: int | None) -> "ExportError":
        for kind, codes in _ERRNOS.items():
            if code in codes:
                return kind
        return cls.OTHER


_ERRNOS = {
    ExportError.FULL: {errno.ENOSPC, errno.EDQUOT, errno.EFBIG},
    ExportError.READONLY: {errno.EROFS},
    # A pulled stick: its mount point is gone, or its device stopped answering.
    ExportError.REMOVED: {errno.ENOENT, errno.ENODEV, errno.ENXIO, errno.EIO, errno.ESTALE, errno.ENOTCONN},
}
