"""The staff desk: what the staff pages do with the station's member data. The kiosk routes taps
here; this class holds no screen logic and draws nothing.

- the Members page: the list, hands-free allowed on/off per member;
- one member's suggestion for next time: step speed, minutes, incline; accept or save (override);
- a new member from the touchscreen: units, create;
- the code pad, shared with the member search: typing, deleting, the next page of keys.

Every call into :class:`~app.ui.data.StationData` goes through :meth:`StaffDesk.ask`: a store
problem becomes one line in ``ui.staff_message`` (shown on the page), never a crash of the kiosk.
"""

from __future__ import annotations

import logging
from typing import Callable, TypeVar

from app.core.member import Member
from app.core.record import replace

from .data import MemberInfo, StationData
from .intents import Overlay
from .scenes import UiState
from .scenes.choose import SEARCH_PAGES
from .text import t

log = logging.getLogger(__name__)

T = TypeVar("T")

#: The longest code the pad types: the member store takes 1 to 12 letters, digits or "-".
CODE_MAX = 12


class StaffDesk:
    """The staff pages' actions on *ui* (the kiosk's UiState) and *data*. The kiosk checks the PIN
    before routing a staff-only intent here."""

    def __init__(self, ui: UiState, data: StationData):
        self.ui = ui
        self.data = data

    def ask(self, call: Callable[..., T], *args, default: T | None = None) -> T | None:
        """``call(*args)``, a method of the station's data; an error gives *default* and its first
        line in ``ui.staff_message``."""
        try:
            return call(*args)
        except Exception as exc:  # noqa: BLE001 - a store problem is a message, never a crash
            log.warning("%s failed: %s", getattr(call, "__name__", call), exc)
            self.ui.staff_message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return default

    # --- the Members page ------------------------------------------------------------------------
    def refresh_members(self) -> None:
        """Re-read the member list; the member whose page is open follows its new record."""
        ui = self.ui
        ui.staff_infos = list(self.ask(self.data.member_infos, default=[]) or [])
        if ui.staff_member is not None:
            ident = ui.staff_member.member.id
            ui.staff_member = next((i for i in ui.staff_infos if i.member.id == ident), None)

    def open_members(self) -> None:
        self.ui.staff_message = ""
        self.refresh_members()

    def toggle_hands_free(self, info: MemberInfo) -> None:
        self.ui.staff_message = ""
        self.ask(self.data.set_hands_free, info.member, not info.hands_free_allowed)
        self.refresh_members()

    # --- one member's prescription -----------------------------------------------------------------
    def open_member(self, info: MemberInfo) -> None:
        """Show *info*'s suggestion, with its dose (the decided one, else the suggested one)."""
        ui = self.ui
        ui.staff_member = info
        ui.staff_message = ""
        ui.staff_suggestion = self.ask(self.data.suggestion, info.member)
        s = ui.staff_suggestion
        ui.staff_dose = (s.final or s.next) if s is not None else None
        ui.overlay = Overlay.STAFF_MEMBER

    def step_dose(self, thing: str, step: float) -> None:
        """Speed, minutes or incline up or down by *step* (the scene offers only steps in range)."""
        ui = self.ui
        if ui.staff_dose is None:
            return
        value = round(getattr(ui.staff_dose, thing) + step, 1)
        ui.staff_dose = replace(ui.staff_dose, **{thing: value})
        ui.staff_message = ""

    def accept(self) -> bool:
        """The suggestion as it stands. True when it was stored."""
        return self._decide(lambda member: self.ask(self.data.accept, member, t("staff_by")))

    def override(self) -> bool:
        """The dose set with the -/+ buttons. True when it was stored."""
        return self._decide(lambda member: self.ask(self.data.override, member, t("staff_by"), self.ui.staff_dose))

    def _decide(self, store) -> bool:
        ui = self.ui
        if ui.staff_member is None:
            return False
        ui.staff_message = ""
        member = ui.staff_member.member
        decided = store(member)
        if decided is None:
            return False
        ui.staff_suggestion = decided
        ui.staff_dose = decided.final or decided.next
        ui.staff_message = t("rx_saved")
        if ui.member is not None and ui.member.id == member.id:
            # The member chosen on the home screen walks the new prescription next.
            ui.member_program = self.ask(self.data.program_for, member)
        return True

    # --- a new member ------------------------------------------------------------------------------
    def toggle_units(self) -> None:
        self.ui.add_units = "kmh" if self.ui.add_units == "mph" else "mph"

    def add_member(self) -> Member | None:
        """The typed code as a new member (name and code alike): the member, or None when nothing
        was typed or the store refused (its reason is in ``ui.staff_message``)."""
        ui = self.ui
        if not ui.search:
            return None
        ui.staff_message = ""
        return self.ask(self.data.add_member, ui.search, ui.search, ui.add_units)

    # --- the code pad ------------------------------------------------------------------------------
    def start_typing(self) -> None:
        ui = self.ui
        ui.search, ui.search_keys, ui.search_results = "", 0, []
        ui.staff_message = ""

    def type_key(self, key: str) -> None:
        if len(self.ui.search) < CODE_MAX:
            self.ui.search += key
        self._search()

    def delete_key(self) -> None:
        self.ui.search = self.ui.search[:-1]
        self._search()

    def next_keys(self) -> None:
        self.ui.search_keys = (self.ui.search_keys + 1) % len(SEARCH_PAGES)

    def _search(self) -> None:
        """On the member search, the members matching what is typed so far."""
        ui = self.ui
        ui.staff_message = ""
        if ui.overlay is not Overlay.MEMBER_SEARCH:
            return
        ui.search_results = list(self.ask(self.data.search, ui.search, default=[]) or []) if ui.search else []
