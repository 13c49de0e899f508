"""The bridge from stored data to screen data: the program library, the member store and the
history, as the UI's plain :mod:`app.ui.data` types (the UI never touches the database).

The member store and the history are opened on first use, or ahead of it by :meth:`StoreData.open`
after READY=1: they bring sqlite-utils and their migrations, which the first frame does not need
(docs/architecture.md, "Start-up").
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from ..core.units import from_kmh
from ..errors import UserError
from ..ui.data import DoseData, HistoryData, HistorySession, HistoryWeek, MemberInfo, SuggestionData

log = logging.getLogger("backstep.kiosk")


class StoreData:
    """The program library and the session store, as the UI's :class:`app.ui.data.StationData`."""

    def __init__(self, programs, store=None, caps=None, library=None, *, lazy: bool = False, hub: bool = False):
        """:param lazy: open the member store later (:meth:`open`, after READY).
        :param hub: this station syncs with a clinic hub ([hub] in its config; docs/hub.md)."""
        self._hub = hub
        self._programs = list(programs)
        self._library = library
        self._caps = caps
        self.store = store
        self._members = None
        self._opened = False
        if not lazy:
            self.open()

    def open(self) -> None:
        """Open the member store (its migrations run on the store's connection). Done once; the
        kiosk calls it after READY=1, and any use before that opens it then."""
        if self._opened:
            return
        self._opened = True
        if self.store is None:
            return
        from ..shell.members import Members

        try:
            self._members = Members(self.store, self._caps)
        except Exception as exc:  # noqa: BLE001 - no member list: everyone walks as a guest
            log.warning("members unavailable: %s", exc)

    @property
    def members_store(self):
        """The member store (``app.shell.members.Members``), or ``None`` when there is none."""
        self.open()
        return self._members

    def programs(self):
        return self._programs

    def programs_note(self) -> str:
        """The library's one line about program files left out (the staff Programs page)."""
        return self._library.skipped_note() if self._library is not None else ""

    def database_note(self) -> str:
        """The store's notices, one a line (the staff Sensors page): a file moved aside, sessions
        a crash left open, damage found by the full check after READY=1."""
        return "\n".join(self.store.notices) if self.store is not None else ""

    def hub_status(self):
        """What ``backstep sync`` (beside the kiosk) last wrote into the station's database."""
        if not self._hub or self.store is None:
            return None
        from ..hub import local
        from ..ui.data import HubStatus

        try:
            state, waiting = local.state(self.store.db), local.waiting(self.store.db)
        except Exception as exc:  # noqa: BLE001 - a staff page line, never a reason to fail
            log.warning("hub status unavailable: %s", exc)
            return HubStatus(None, str(exc), 0)
        return HubStatus(state.get("last_success_at"), state.get("last_error"), waiting["sessions"])

    def members(self):
        if not self._opened:
            # Not opened yet (the kiosk opens it just after READY=1, then re-reads this list):
            # the first frame waits for no database work.
            return []
        members = self.members_store
        return members.core_members() if members is not None else []

    def history(self, member):
        """The member's (or everyone's) history for the screen: one indexed query over the kept
        per-session stats (``app.shell.history``), never a scan of samples."""
        if self.store is None:
            return HistoryData(name=member.name if member else "")
        from ..shell.history import History

        units, goal = (member.units if member else "mph"), None
        if member is not None and self.members_store is not None:
            try:
                record = self._members.get(member.id)
                units, goal = record.units, record.goal_per_week
            except Exception as exc:  # noqa: BLE001 - a guest-like member still gets a history
                log.warning("member %s: %s", member.id, exc)
        history = History(self.store).member_history(member.id if member else None, units=units, goal_per_week=goal)
        return history_data(history, member.name if member else "")

    # --- members (app.ui.data.MemberData) -------------------------------------------------------

    def _need_members(self):
        members = self.members_store
        if members is None:
            raise UserError("no member store on this station (sessions are not being saved)")
        return members

    def search(self, text):
        return [m.core() for m in self._need_members().search(text)]

    def program_for(self, member):
        return self._need_members().program_for(member.id, self._library)

    def suggestion(self, member):
        members = self._need_members()
        return suggestion_data(members, members.suggestion(member.id))

    def member_infos(self):
        return [MemberInfo(r.core(), r.code, r.hands_free_allowed, r.program_id, r.goal_per_week)
                for r in self._need_members().list()]

    def set_hands_free(self, member, allowed):
        self._need_members().update(member.id, hands_free=bool(allowed))

    def accept(self, member, by):
        members = self._need_members()
        return suggestion_data(members, members.accept(member.id, by))

    def add_member(self, name, code, units):
        return self._need_members().add(name, code=code, units=units).core()

    def override(self, member, by, dose):
        members = self._need_members()
        return suggestion_data(members, members.override(member.id, by, speed=dose.speed, minutes=dose.minutes,
                                                         incline=dose.incline))


def history_data(history, name: str):
    """``app.shell.history.MemberHistory`` as the UI's plain :class:`app.ui.data.HistoryData`
    (speeds in the history's units)."""
    units = history.units or "mph"

    def monday(iso: str) -> float:
        day = date.fromisoformat(iso)
        return datetime(day.year, day.month, day.day).timestamp()

    sessions = tuple(HistorySession(
        # A session walked at another of the clinic's stations says where (docs/hub.md).
        started_at=p.started_wall, program=p.program_name if p.station_id is None else f"{p.program_name} · {p.station_id}",
        active_seconds=p.active_seconds, status=p.status,
        top_speed=round(from_kmh(p.top_backward_speed_kmh or 0.0, units), 2), pain_before=p.pain_before,
        pain_after=p.pain_after, hands_free_share=p.hands_free_share, early_releases=p.early_releases)
        for p in history.sessions)
    weeks = tuple(HistoryWeek(monday(w.week_start), w.sessions, w.minutes, w.goal) for w in history.weeks)
    return HistoryData(name=name, units=units, goal_per_week=history.goal_per_week, sessions=sessions, weeks=weeks)


def suggestion_data(members, stored):
    """``app.shell.members.StoredSuggestion`` as the UI's :class:`app.ui.data.SuggestionData`, with
    the ceilings the staff page's +/- buttons may reach (the therapist's limits and the caps)."""
    if stored is None:
        return None
    from ..shell.members import MAX_MINUTES

    record = members.get(stored.member_id)
    units = record.units
    caps = members.station_caps.tightened(record.caps)

    def dose(d):
        return None if d is None else DoseData(round(from_kmh(d.speed_kmh, units), 1), d.minutes, d.incline_pct)

    limits = record.limits
    # Hand-set values may go past the default targets up to the therapist's limits and the caps;
    # with no limit set, the caps (speed, incline) or the station's maximum minutes.
    top_speed = limits.max_speed_kmh if limits.max_speed_kmh is not None else caps.backward_speed_kmh
    top_speed = min(top_speed, caps.backward_speed_kmh)
    top_incline = limits.max_incline_pct if limits.max_incline_pct is not None else caps.backward_incline_pct
    top_incline = min(top_incline, caps.backward_incline_pct, record.cap_incline_pct
                      if record.cap_incline_pct is not None else caps.backward_incline_pct)
    top_minutes = limits.max_minutes if limits.max_minutes is not None else MAX_MINUTES
    return SuggestionData(
        action=stored.action, what=stored.what, reasons=tuple((r.get("key", ""), dict(r.get("params") or {}), r.get("text", ""))
                                                           for r in stored.reasons),
        current=dose(stored.current), next=dose(stored.next), units=units, status=stored.status,
        decided_by=stored.decided_by, final=dose(stored.final),
        max_speed=int(from_kmh(top_speed, units) * 10 + 1e-6) / 10, max_minutes=float(top_minutes),
        max_incline=float(top_incline))
