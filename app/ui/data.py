"""Plain data the non-safety screens show, and the small interfaces that supply it.

The safety screens read only the core's :class:`~app.core.view.View`. Home, history, summary chart
and export also need data the core does not hold (the program library, members, stored sessions,
the USB stick); the composition root (``app.commands.run``) passes it in through these interfaces,
so the UI never imports the store, the exporter or the hardware.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from app.core.member import Member
from app.core.program import Program


@dataclass(frozen=True)
class Sample:
    """One point of the summary chart: program seconds, speed in the view's units, incline %."""

    t: float
    speed: float
    incline: float


@dataclass(frozen=True)
class SessionRecord:
    """One past session for the history screen."""

    started_at: float          # wall-clock seconds since the epoch
    program: str               # the program's name
    active_seconds: float
    status: str                # completed | stopped | emergency_stop | interrupted | running
    top_speed: float = 0.0     # in *units*
    units: str = "mph"


class StationData(Protocol):
    def programs(self) -> Sequence[Program]: ...

    def members(self) -> Sequence[Member]: ...

    def history(self, member: Member | None) -> Sequence[SessionRecord]: ...


@dataclass
class StaticData:
    """Lists in memory: what the demo, the tests and a station without a database use."""

    program_list: Sequence[Program] = ()
    member_list: Sequence[Member] = ()
    sessions: Sequence[SessionRecord] = ()

    def programs(self) -> Sequence[Program]:
        return self.program_list

    def members(self) -> Sequence[Member]:
        return self.member_list

    def history(self, member: Member | None) -> Sequence[SessionRecord]:
        return self.sessions


# --- USB export --------------------------------------------------------------------------------

#: What an export can be doing. The kiosk shows one screen state per value.
EXPORT_STATES = ("no_stick", "detected", "exporting", "done", "error")
#: Errors in plain words: the exporter picks one; ``detail`` may add the system's own message.
EXPORT_ERRORS = ("full", "readonly", "removed", "other")


@dataclass(frozen=True)
class ExportStatus:
    state: str = "no_stick"     # one of EXPORT_STATES
    stick: str = ""             # the stick's label, as people see it
    progress: float = 0.0       # 0..1 while exporting
    sessions: int = 0           # written so far / in total when done
    error: str = ""             # one of EXPORT_ERRORS when state == "error"
    detail: str = ""            # the system's message, shown small under the plain words


class ExportController(Protocol):
    """Implemented by the export engineer (``app.shell.export``). Called from the UI thread only;
    ``start`` must return at once and do the work on its own thread."""

    def status(self) -> ExportStatus: ...

    def start(self) -> None: ...

    def dismiss(self) -> None:
        """Back to ``detected``/``no_stick`` after a done or error screen was read."""


class NoExport:
    """No USB handling on this station: the export screen says to insert a stick."""

    def status(self) -> ExportStatus:
        return ExportStatus()

    def start(self) -> None:
        pass

    def dismiss(self) -> None:
        pass


def minutes_per_week(sessions: Sequence[SessionRecord], now: float, weeks: int = 8) -> list[float]:
    """Active minutes in each of the last *weeks* 7-day windows, oldest first."""
    totals = [0.0] * weeks
    for record in sessions:
        age_weeks = int((now - record.started_at) // (7 * 24 * 3600))
        if 0 <= age_weeks < weeks:
            totals[weeks - 1 - age_weeks] += record.active_seconds / 60
    return totals
