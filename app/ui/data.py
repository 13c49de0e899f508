"""Plain data the non-safety screens show, and the small interfaces that supply it.

The safety screens read only the core's :class:`~app.core.view.View`. Home, history, summary chart
and export also need data the core does not hold (the program library, members, stored sessions,
the USB stick); the composition root (``app.kiosk``) passes it in through these interfaces,
so the UI never imports the store, the exporter or the hardware.
"""

from __future__ import annotations

from typing import Protocol, Sequence

from app.core.member import Member
from app.core.program import Program
from app.core.record import Record, field, replace


class Sample(Record):
    """One point of the summary chart: program seconds, speed in the view's units, incline %."""

    t: float
    speed: float
    incline: float


class SessionRecord(Record):
    """One past session for the history screen."""

    started_at: float          # wall-clock seconds since the epoch
    program: str               # the program's name
    active_seconds: float
    status: str                # completed | stopped | emergency_stop | interrupted | running
    top_speed: float = 0.0     # in *units*
    units: str = "mph"


class HistoryWeek(Record):
    """One calendar week of a member's history (Monday first); empty weeks are included."""

    week_start: float          # the Monday, wall-clock seconds since the epoch (local midnight)
    sessions: int
    minutes: float
    goal: int | None = None    # the member's goal sessions per week, if set


class HistorySession(Record):
    """One past session with what the history charts show. Speeds in the history's units."""

    started_at: float          # wall-clock seconds since the epoch
    program: str
    active_seconds: float
    status: str
    top_speed: float = 0.0     # fastest backward target walked
    pain_before: int | None = None
    pain_after: int | None = None
    hands_free_share: float | None = None   # 0..1 of walking time; None: nothing walked
    early_releases: int = 0


class HistoryData(Record):
    """Everything the history screen and the exported chart PNG draw, for one member or everyone."""

    name: str                  # the member's name or pseudonym; "" for everyone
    units: str = "mph"
    goal_per_week: int | None = None
    sessions: tuple[HistorySession, ...] = ()   # oldest first
    weeks: tuple[HistoryWeek, ...] = ()         # oldest first


class DoseData(Record):
    """A dose in the member's units: speed, minutes, incline %."""

    speed: float
    minutes: float
    incline: float


class SuggestionData(Record):
    """The progression suggestion for a member's next session, as words and numbers to show."""

    action: str                # lower | start | step_back | hold | raise
    what: str | None           # speed | minutes | incline | None
    #: ``(catalogue key, params, English text)`` per reason (app.core.progression.REASONS keys);
    #: shown through the catalogue, one sentence each.
    reasons: tuple[tuple[str, dict, str], ...]
    current: DoseData
    next: DoseData
    units: str = "mph"
    status: str = "pending"    # pending | accepted | overridden
    decided_by: str | None = None
    final: DoseData | None = None
    #: The ceilings the therapist's +/- buttons may reach (limits, caps), in the member's units.
    max_speed: float = 99.0
    max_minutes: float = 120.0
    max_incline: float = 15.0


class MemberInfo(Record):
    """What the staff Members page shows per member."""

    member: Member
    code: str | None = None
    hands_free_allowed: bool = False
    program_id: str | None = None
    goal_per_week: int | None = None


class HubStatus(Record):
    """The clinic hub as the staff see it (docs/hub.md): when this station last synced, the last
    error if the most recent pass failed, and how many of its sessions wait to go up."""

    last_success: str | None            # ISO time of the last good pass; None: never
    last_error: str | None
    waiting_sessions: int


class StationData(Protocol):
    """Everything the kiosk asks of the station's data, as real methods: the kiosk calls them by
    name in code (a type checker sees a typo), never by a string. A station without a member store
    implements the member methods by raising an error that says so in one line (the staff page shows
    it); ``StaticData`` is the in-memory implementation."""

    def programs(self) -> Sequence[Program]: ...

    def members(self) -> Sequence[Member]: ...

    def history(self, member: Member | None) -> "HistoryData | Sequence[SessionRecord]": ...

    def search(self, text: str) -> Sequence[Member]: ...

    def program_for(self, member: Member) -> Program | None: ...

    def suggestion(self, member: Member) -> SuggestionData | None: ...

    def member_infos(self) -> Sequence[MemberInfo]: ...

    def set_hands_free(self, member: Member, allowed: bool) -> None: ...

    def accept(self, member: Member, by: str) -> SuggestionData | None: ...

    def override(self, member: Member, by: str, dose: DoseData) -> SuggestionData | None: ...

    def add_member(self, name: str, code: str, units: str) -> Member: ...

    def hub_status(self) -> HubStatus | None: ...

    def programs_note(self) -> str: ...

    def database_note(self) -> str: ...


#: The methods every station data has: the kiosk checks them when it starts, so a missing one is a
#: one-line error at start-up instead of a staff button that does nothing.
STATION_DATA_METHODS = tuple(name for name, value in vars(StationData).items()
                             if not name.startswith("_") and callable(value))


class StaticData(Record, frozen=False):
    """Lists in memory: what the demo, the tests and a station without a database use."""

    program_list: Sequence[Program] = ()
    member_list: Sequence[Member] = ()
    sessions: "Sequence[SessionRecord] | HistoryData" = ()
    suggestions: dict = field(default_factory=dict)      # member id -> SuggestionData
    prescribed: dict = field(default_factory=dict)       # member id -> Program
    codes: dict = field(default_factory=dict)            # member id -> short code
    hands_free: dict = field(default_factory=dict)       # member id -> bool

    def hub_status(self) -> HubStatus | None:
        return None          # no clinic hub in memory

    def programs_note(self) -> str:
        return ""            # built in memory: no program files were left out

    def database_note(self) -> str:
        return ""            # no database: nothing moved aside or found damaged

    def programs(self) -> Sequence[Program]:
        return self.program_list

    def members(self) -> Sequence[Member]:
        return self.member_list

    def history(self, member: Member | None):
        return self.sessions

    def search(self, text: str) -> Sequence[Member]:
        text = text.strip().lower()
        return [m for m in self.member_list
                if not text or str(self.codes.get(m.id, "")).lower().startswith(text) or text in m.name.lower()]

    def program_for(self, member: Member) -> Program | None:
        return self.prescribed.get(member.id)

    def suggestion(self, member: Member) -> SuggestionData | None:
        return self.suggestions.get(member.id)

    def member_infos(self) -> Sequence[MemberInfo]:
        return [MemberInfo(m, self.codes.get(m.id), self.hands_free.get(m.id, m.hands_free_allowed))
                for m in self.member_list]

    def set_hands_free(self, member: Member, allowed: bool) -> None:
        self.hands_free[member.id] = allowed

    def accept(self, member: Member, by: str) -> SuggestionData | None:
        current = self.suggestions.get(member.id)
        if current is not None:
            current = replace(current, status="accepted", decided_by=by, final=current.next)
            self.suggestions[member.id] = current
        return current

    def add_member(self, name: str, code: str, units: str) -> Member:
        if any(str(c).lower() == code.lower() for c in self.codes.values()):
            raise ValueError(f"code: {code!r} is already used; pick another")
        member = Member(max([m.id for m in self.member_list], default=0) + 1, name, units)
        self.member_list = [*self.member_list, member]
        self.codes[member.id] = code
        return member

    def override(self, member: Member, by: str, dose: DoseData) -> SuggestionData | None:
        current = self.suggestions.get(member.id)
        if current is not None:
            current = replace(current, status="overridden", decided_by=by, final=dose)
            self.suggestions[member.id] = current
        return current


def history_from_records(records: Sequence[SessionRecord], name: str, now: float, weeks: int = 8) -> HistoryData:
    """Old-style session records as :class:`HistoryData` (weeks as 7-day windows back from *now*)."""
    records = sorted(records, key=lambda r: r.started_at)
    units = records[-1].units if records else "mph"
    week_s = 7 * 24 * 3600
    start = now - weeks * week_s
    counts = [[0, 0.0] for _ in range(weeks)]
    for record in records:
        i = int((record.started_at - start) // week_s)
        if 0 <= i < weeks:
            counts[i][0] += 1
            counts[i][1] += record.active_seconds / 60
    return HistoryData(
        name=name, units=units,
        sessions=tuple(HistorySession(r.started_at, r.program, r.active_seconds, r.status, r.top_speed) for r in records),
        weeks=tuple(HistoryWeek(start + i * week_s, n, round(m, 2)) for i, (n, m) in enumerate(counts)))


# --- USB export --------------------------------------------------------------------------------

#: What an export can be doing. The kiosk shows one screen state per value.
EXPORT_STATES = ("no_stick", "detected", "exporting", "done", "error")
#: Errors in plain words: the exporter picks one; ``detail`` may add the system's own message.
EXPORT_ERRORS = ("full", "readonly", "removed", "other")


class ExportStatus(Record):
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
