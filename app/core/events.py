"""Events: things that happened, named in the past tense. The only input to the safety core.

Hardware callbacks, the serial reader, the touchscreen and simulation scripts all turn what they
see into one of these and put it on the main loop's queue (docs/architecture.md: one thread owns
the state). Each event has one handler in :mod:`app.core.safety`, named after it: ``on_lanyard_pulled``
for :class:`LanyardPulled`, and so on (``HANDLERS`` there lists them all).
"""

from __future__ import annotations

from .member import Member
from .program import Program
from .record import Record


class Event(Record):
    """Base class; every event is immutable."""


# Sensors ---------------------------------------------------------------------------------------
class LanyardPulled(Event):
    """The safety key left its socket, or its wire broke (fail-safe wiring reads the same)."""


class LanyardClipped(Event):
    """The safety key is back in its socket (debounced by the hardware layer)."""


class RailsReleased(Event):
    """The hands left the rails, or a rail sensor wire broke."""


class RailsHeld(Event):
    """The rails are held again, as the config defines "held" (both or either rail)."""


class SensorFault(Event):
    """A rail sensor looks broken: stuck for a long time while the belt runs, or chattering."""

    message: str = ""


# Treadmill link -------------------------------------------------------------------------------
class LinkLost(Event):
    """The treadmill stopped answering, sent garbage for too long, or the cable was pulled."""

    reason: str = "no answer"


class LinkRestored(Event):
    """The treadmill answers again. Never resumes a session by itself (docs/safety.md, rule 5)."""


class TreadmillReported(Event):
    """What the treadmill (or belt sensor) says the belt is doing. ``None`` means unknown."""

    speed_kmh: float | None = None
    incline_pct: float | None = None
    distance_m: float | None = None


# People on the touchscreen ------------------------------------------------------------------
class ProgramChosen(Event):
    program: Program
    member: Member | None = None


class HomeTapped(Event):
    """Back to the home screen from the checklist or the summary."""


class StartTapped(Event):
    pass


class PauseTapped(Event):
    pass


class ResumeTapped(Event):
    pass


class StopTapped(Event):
    pass


class ConfirmTapped(Event):
    """"I am safe, clear the emergency stop" (only accepted with the lanyard clipped)."""


class PainTapped(Event):
    """Sharp pain during a session: stop at once (docs/practice.md) and record the moment."""

    score: int | None = None


class PainScored(Event):
    """A 0-10 pain (or effort) score given before or after a session. ``None`` = skipped."""

    when: str = "after"  # "before" | "after" | "effort"
    score: int | None = None


class Tick(Event):
    """Time passed. The loop sends one at :func:`app.core.safety.next_deadline` or sooner."""



#: ``tap WORD`` (simulation scripts, sim-control, the kiosk's keys) -> the touchscreen event.
TAP_EVENTS: dict[str, type[Event]] = {
    "start": StartTapped,
    "pause": PauseTapped,
    "resume": ResumeTapped,
    "stop": StopTapped,
    "confirm": ConfirmTapped,
    "pain": PainTapped,
}
