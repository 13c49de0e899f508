"""Effects: what the shell must do, named as imperatives. The only output of the safety core.

The core never touches hardware, sound or the database; it returns these and the main loop carries
them out in order. A stop is always listed before anything else in the same step
(:class:`StepEffects` sees to that).
"""

from __future__ import annotations

from typing import Any

from .member import Member
from .program import Program
from .record import Record, field


class Effect(Record):
    pass


class StopBelt(Effect):
    """Tell the treadmill to stop the belt now (or, in cue mode, tell the person to)."""

    reason: str


class SetBelt(Effect):
    """Run the belt at this target. Already within the caps; the link caps it again anyway."""

    speed_kmh: float
    incline_pct: float
    direction: str


class PlaySound(Effect):
    """One of the cue sounds in assets/sounds: start, phase, warning, pause, estop, refused, resume, done."""

    name: str


class Say(Effect):
    """A spoken or on-screen message, by catalogue key; the UI looks up the words."""

    key: str
    params: dict[str, Any] = field(default_factory=dict, compare=False)


class RecordEvent(Effect):
    """Store this event with its time (docs/safety.md, rule 8). ``at`` is on the core's clock."""

    kind: str
    at: float
    detail: dict[str, Any] = field(default_factory=dict, compare=False)


class OpenSession(Effect):
    program: Program
    member: Member | None
    at: float


class CloseSession(Effect):
    status: str  # completed | stopped | emergency_stop
    at: float
    active_seconds: float
    phases_completed: int
    reason: str = ""


class ScoreSession(Effect):
    """Store a pain (before/after) or effort score for the current or last session."""

    when: str
    score: int | None
    at: float


class StepEffects:
    """The effects of one step, in order: the only way the core emits effects, and the one place
    that enforces the two rules on its output (docs/safety.md, rule 1).

    - A stop is the first effect of its step, and it supersedes every belt command emitted before
      it in that step: an event whose time lies past a deadline the loop had not ticked yet (a
      phase end) first starts the next phase and then stops, and that SetBelt must not reach the
      treadmill after the stop. One stop per step; it carries the latest reason.
    - No belt command leaves a step that does not end in a mode where the belt may move. Reaching
      that is a bug elsewhere in the core, so it is blocked with a stop and recorded as a fault.
    """

    def __init__(self) -> None:
        self._stop: StopBelt | None = None
        self._rest: list[Effect] = []

    def add(self, *effects: Effect) -> None:
        for effect in effects:
            if isinstance(effect, StopBelt):
                self.stop(effect.reason)
            else:
                self._rest.append(effect)

    def stop(self, reason: str) -> None:
        self._stop = StopBelt(reason)
        self._rest = [e for e in self._rest if not isinstance(e, SetBelt)]

    def finish(self, belt_may_move: bool, now: float) -> tuple[Effect, ...]:
        """The step's effects, for a step that ends where the belt may (or may not) move."""
        if not belt_may_move and any(isinstance(e, SetBelt) and e.speed_kmh > 0 for e in self._rest):
            self.stop("blocked: belt command outside running")
            self._rest.append(RecordEvent("fault", now, {"error": "belt command outside running was blocked"}))
        return ((self._stop,) if self._stop is not None else ()) + tuple(self._rest)
