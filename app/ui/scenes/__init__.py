"""One scene per screen. A scene lays out named rects and touch targets from a :class:`Frame`
(``layout``), then paints them (``draw``). Neither changes anything: a tap on a target yields the
target's :class:`Intent`, which the kiosk turns into a core event or a UI navigation.

Layout uses the screen's own rect and :class:`~app.ui.theme.Metrics` units, never fixed pixels, so
every scene fits 800x480 to 1920x1080. Touch targets are at least ``m.touch`` high and wide.
"""

from __future__ import annotations

from app.core.view import Screen

from .after import History, NextTime, Summary
from .base import Frame, Intent, IntentKind, Overlay, Page, Scene, Target, UiState
from .choose import Home, MemberSearch, Members, PainBefore, Preflight
from .session import Countdown, Running
from .staff import (
    Export,
    Pin,
    Programs,
    Sensors,
    Service,
    SetPin,
    Settings,
    Staff,
    StaffAdd,
    StaffMember,
    StaffMembers,
)
from .stopped import Cooldown, EStop, Fault, HoldRails, LinkLost, PausedUser, Turnaround

__all__ = ["Frame", "Intent", "IntentKind", "Overlay", "Page", "Scene", "Target", "UiState", "SCREEN_SCENES",
           "OVERLAY_SCENES"]

#: The scene for every core screen. RESUMING shares the countdown's scene.
SCREEN_SCENES: dict[Screen, Scene] = {
    Screen.HOME: Home(),
    Screen.PREFLIGHT: Preflight(),
    Screen.COUNTDOWN: Countdown(),
    Screen.RESUMING: Countdown(),
    Screen.RUNNING: Running(),
    Screen.PAUSED_RAILS: HoldRails(),
    Screen.PAUSED_LINK: LinkLost(),
    Screen.PAUSED_USER: PausedUser(),
    Screen.TURNAROUND: Turnaround(),
    Screen.ESTOP: EStop(),
    Screen.COOLDOWN: Cooldown(),
    Screen.SUMMARY: Summary(),
    Screen.FAULT: Fault(),
}
#: UI-only scenes, reached from home (and the summary, for history): one per Overlay, by its name.
OVERLAY_SCENES: dict[Overlay, Scene] = {Overlay(s.name): s for s in (
    Members(), MemberSearch(), History(), NextTime(), Export(), Pin(), Staff(), Sensors(), Programs(), Settings(),
    PainBefore(), Service(), StaffMembers(), StaffMember(), StaffAdd(), SetPin())}
