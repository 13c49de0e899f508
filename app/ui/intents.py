"""What a tap asks for, as a type: an :class:`IntentKind` member and its argument.

Scenes build intents; the kiosk carries them out through one handler per kind. Both sides name
the kind by its enum member, so a misspelt kind fails where it is written (an ``AttributeError`` at
layout time) instead of a tap that silently does nothing, and ``tests/test_ui_kiosk.py`` checks
that every kind has exactly one handler.
"""

from __future__ import annotations

import enum
from typing import Any

from app.core.record import Record


class IntentKind(enum.Enum):
    # Taps the core decides on: each posts one core event (app.core.events).
    START = "start"
    PAUSE = "pause"
    RESUME = "resume"
    STOP = "stop"
    CONFIRM = "confirm"
    PAIN = "pain"
    HOME = "home"
    CHOOSE_PROGRAM = "choose_program"   # arg: the Program
    PAIN_BEFORE = "pain_before"         # arg: the 0-10 score
    PAIN_AFTER = "pain_after"           # arg: the 0-10 score
    # Moving between the UI-only pages (never over a screen on which the belt may move).
    OPEN = "open"                       # arg: the Overlay to show
    OPEN_PIN = "open_pin"               # arg: the Overlay to show once the PIN is right
    CLOSE = "close"
    PAGE = "page"                       # arg: +1 / -1
    CHART = "chart"                     # arg: the history chart's name
    MEMBER = "member"                   # arg: the Member walking, or None for a guest
    TOGGLE = "toggle"                   # arg: "sound" | "speech"
    VOLUME = "volume"                   # arg: the step in percent (+10 / -10)
    EXIT = "exit"
    # The code pad (member search and a new member's code).
    CODE_KEY = "code_key"               # arg: the character
    CODE_BACK = "code_back"
    CODE_PAGE = "code_page"
    # The staff desk (only while the staff PIN is unlocked).
    ADD_UNITS = "add_units"
    ADD_CREATE = "add_create"
    STAFF_MEMBER = "staff_member"       # arg: the MemberInfo
    HANDS_FREE = "hands_free"           # arg: the MemberInfo
    RX_STEP = "rx_step"                 # arg: (dose field, step)
    RX_ACCEPT = "rx_accept"
    RX_SAVE = "rx_save"
    # The staff PIN pad, and the pad that chooses a new PIN on an installed station's first start.
    PIN_DIGIT = "pin_digit"             # arg: the digit
    PIN_CLEAR = "pin_clear"
    PIN_OK = "pin_ok"
    NEW_PIN_DIGIT = "new_pin_digit"     # arg: the digit
    NEW_PIN_CLEAR = "new_pin_clear"
    NEW_PIN_OK = "new_pin_ok"
    # The USB export page.
    EXPORT_START = "export_start"
    EXPORT_DISMISS = "export_dismiss"


class Overlay(enum.Enum):
    """A UI-only page, shown over the core's screen only where the belt cannot move. The value is
    its scene's ``name`` (app.ui.scenes.OVERLAY_SCENES has one scene per member)."""

    MEMBERS = "members"
    MEMBER_SEARCH = "member_search"
    HISTORY = "history"
    NEXT_TIME = "next_time"
    PAIN_BEFORE = "pain_before"
    EXPORT = "export"
    PIN = "pin"
    SET_PIN = "set_pin"
    SERVICE = "service"
    STAFF = "staff"
    SENSORS = "sensors"
    PROGRAMS = "programs"
    SETTINGS = "settings"
    STAFF_MEMBERS = "staff_members"
    STAFF_MEMBER = "staff_member"
    STAFF_ADD = "staff_add"


#: Kinds whose ``arg`` is the page to open.
OPENING = frozenset({IntentKind.OPEN, IntentKind.OPEN_PIN})

#: Kinds that only staff may use: refused (and logged) while the PIN is locked.
STAFF_ONLY = frozenset({IntentKind.ADD_UNITS, IntentKind.ADD_CREATE, IntentKind.STAFF_MEMBER,
                        IntentKind.HANDS_FREE, IntentKind.RX_STEP, IntentKind.RX_ACCEPT, IntentKind.RX_SAVE,
                        IntentKind.VOLUME, IntentKind.EXIT})


class Intent(Record):
    """What a tap asks for: ``kind`` names it, ``arg`` carries the choice (a program, a score)."""

    kind: IntentKind
    arg: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.kind, IntentKind):
            raise TypeError(f"Intent kind {self.kind!r} is not an IntentKind: use a member of "
                            f"app.ui.intents.IntentKind (add one, with its handler in the kiosk, for a new kind)")
        if self.kind in OPENING and not isinstance(self.arg, Overlay):
            raise TypeError(f"Intent {self.kind.name} {self.arg!r}: the page must be an Overlay member")
