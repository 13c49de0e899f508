"""What an export returns or raises: one line a person can act on, for the CLI and the kiosk."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from ...errors import UserError

#: ``on_progress(done, total)``: sessions written so far.
ProgressCallback = Callable[[int, int], Any]


class ExportError(UserError):
    """The export could not finish; the message is one line for the CLI and the kiosk screen."""


class ExportCancelled(ExportError):
    pass


@dataclass
class ExportResult:
    """What an export did. ``ok`` False means ``message`` is the one-line reason."""

    ok: bool
    message: str
    folder: str | None = None
    files: list[str] = field(default_factory=list)
    sessions: int = 0
    samples: int = 0
    events: int = 0
    selection: str = "incremental"
    stick_id: str | None = None
    #: This export's own folder (``.../exports/<time>``): its samples, events and JSON Lines.
    export_folder: str | None = None
    nothing_new: bool = False
    cancelled: bool = False
    #: The system's error number behind a failure (ENOSPC, EROFS, ...), for the kiosk's plain words.
    errno: int | None = None

    def as_json(self) -> dict:
        payload = asdict(self)
        del payload["errno"]        # for the kiosk; the command line prints the message
        return payload
