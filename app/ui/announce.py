"""What the station says aloud, and when.

A person walking backward faces away from the screen (and, walking forward, looks at the
treadmill's console), so everything they must act on is spoken as well as shown: the core's
messages (hold the rails, link lost, turn around, ...), the emergency stop, a pause, the start and
resume countdowns, a turn coming up (with the warning chime before the phase ends), and at every
new phase the direction and speed, then the phase's technique cue.

The kiosk hands every effect of a step to :meth:`Announcer.hear`, then the view after the step to
:meth:`Announcer.lines`: so the words come after the step's chime, and a countdown is said from
the view the person sees. Safety lines are ``urgent`` (they cut off whatever is being said, see
:class:`app.ui.speech.Speaker`); technique cues are not.
"""

from __future__ import annotations

import math

from app.core.effects import Effect, PlaySound, RecordEvent, Say, SetBelt
from app.core.record import Record
from app.core.units import from_kmh
from app.core.view import Link, Screen, View

from .text import say_text, t

#: Core messages that are safety cues: said at once, cutting off whatever is being said.
URGENT_SAYS = frozenset({"hold_the_rails", "turn_around", "link_lost", "pain_stop", "sensor_fault", "cooldown",
                         "clip_lanyard_first"})
#: Countdown screens and the words that open them.
COUNTDOWNS = {Screen.COUNTDOWN: "speak_start_in", Screen.RESUMING: "speak_resume_in"}


class Line(Record):
    words: str
    urgent: bool = False


class Announcer:
    def __init__(self):
        self._heard: list[Line] = []
        self._belt_set = False
        self._warned = False
        self._counting: tuple[Screen, int] | None = None
        self._cued_phase: int | None = None

    def add(self, words: str, urgent: bool = False) -> None:
        """A line the kiosk worked out itself (cue mode's "set the treadmill to ...")."""
        self._heard.append(Line(words, urgent))

    def hear(self, effect: Effect, view: View | None) -> None:
        """One effect of the step; *view* is the view from before the step (units, link)."""
        if isinstance(effect, Say):
            self.add(say_text(effect.key, effect.params), urgent=effect.key in URGENT_SAYS)
        elif isinstance(effect, RecordEvent):
            if effect.kind == "emergency_stop":
                self.add(t("speak_estop"), urgent=True)
            elif effect.kind == "fault":
                cue_mode = view is not None and view.link is Link.NONE
                self.add(f"{t('speak_fault')}. {t('fault_what_cue' if cue_mode else 'fault_what')}", urgent=True)
            elif effect.kind == "pause" and effect.detail.get("reason") == "user":
                self.add(t("speak_paused"), urgent=True)
        elif isinstance(effect, PlaySound) and effect.name == "warning":
            self._warned = True  # said from the view after the step: the seconds left, the next phase
        elif isinstance(effect, SetBelt) and view is not None:
            self._belt_set = True
            if view.link is not Link.NONE:  # cue mode says "set the treadmill to ..." instead (the kiosk)
                key = "speak_belt_incline" if effect.incline_pct > 0 else "speak_belt"
                self.add(t(key, direction=t(f"direction_{effect.direction}"),
                           speed=f"{from_kmh(effect.speed_kmh, view.units):.1f}", unit=view.unit_label,
                           incline=f"{effect.incline_pct:g}"), urgent=True)

    def lines(self, view: View) -> list[Line]:
        """Everything to say now, in order, given the view after the step."""
        out, self._heard = self._heard, []
        if self._warned:
            self._warned = False
            phase, upcoming = view.phase, view.next_phase
            if view.screen is Screen.RUNNING and phase and upcoming and upcoming.direction != phase.direction:
                out.append(Line(t("speak_turn_soon", seconds=math.ceil(view.phase_left_s),
                                  direction=t(f"direction_{upcoming.direction}")), urgent=True))
        countdown = COUNTDOWNS.get(view.screen)
        if countdown and view.countdown is not None and view.countdown > 0:
            if self._counting is None or self._counting[0] is not view.screen:
                if view.screen is Screen.COUNTDOWN:
                    self._cued_phase = None  # a new session: each phase's cue is said again
                out.append(Line(t(countdown, seconds=view.countdown), urgent=True))
            elif view.countdown < self._counting[1]:
                out.append(Line(str(view.countdown), urgent=True))
            self._counting = (view.screen, view.countdown)
        elif countdown is None:
            self._counting = None
        if self._belt_set:
            self._belt_set = False
            phase = view.phase
            if phase is not None and phase.cue and view.screen is Screen.RUNNING and phase.index != self._cued_phase:
                self._cued_phase = phase.index
                out.append(Line(phase.cue))
        return out
