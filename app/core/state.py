"""The safety core's types: modes and their named groups, pause reasons, timers, the safety
configuration and the station state. Data only; :mod:`app.core.safety` moves the state along.

Every time in :class:`State` is an absolute time on the caller's monotonic clock, stored when it
happens (never worked back out of another time).
"""

from __future__ import annotations

import enum

from . import session
from .caps import Caps
from .member import Member
from .program import Phase, Program
from .record import Record, field


class Mode(enum.Enum):
    IDLE = "idle"              # home screen: nothing chosen
    READY = "ready"            # program chosen: pre-flight checklist
    COUNTDOWN = "countdown"    # start accepted; belt still; counting down
    RUNNING = "running"        # the only mode in which the belt may move
    PAUSED = "paused"          # belt stopped; see pause_reason
    RESUMING = "resuming"      # countdown before running again; belt still
    ESTOP = "estop"            # lanyard pulled: latched until clipped and confirmed
    COOLDOWN = "cooldown"      # session over: keep walking backward until the belt stops
    SUMMARY = "summary"        # the session's results
    FAULT = "fault"            # internal error: belt stopped, staff needed


# Named groups of modes, as OctoPrint names groups of printer states. Code asks "is the mode in
# this group", never lists modes inline, so each rule reads as what it means.

#: The belt may be told to move only here (docs/safety.md, rule 1).
BELT_MAY_MOVE = frozenset({Mode.RUNNING})
#: A session is open and not yet over: running, or stopped in a pause that may resume.
SESSION_MODES = frozenset({Mode.RUNNING, Mode.PAUSED, Mode.RESUMING})
#: Modes in which the belt has been told to stop.
STOPPED_MODES = frozenset({Mode.PAUSED, Mode.ESTOP, Mode.COOLDOWN, Mode.FAULT})
#: A countdown runs before the belt moves: the start's, or a resume's.
COUNTING_DOWN = frozenset({Mode.COUNTDOWN, Mode.RESUMING})
#: A pause is open: stopped, or counting down to resume (the belt has not moved since it began).
PAUSED = frozenset({Mode.PAUSED, Mode.RESUMING})
#: Running or about to run again: a pause tap, a sensor fault or a lost link pauses these.
PAUSABLE = frozenset({Mode.RUNNING, Mode.RESUMING})
#: A start was accepted and its session or cooldown is not over: a lanyard pull is an e-stop here.
STARTED = frozenset({Mode.COUNTDOWN, Mode.RUNNING, Mode.PAUSED, Mode.RESUMING, Mode.COOLDOWN})
#: Latched stops: left only by a confirm with the lanyard clipped (docs/safety.md, rules 1-2).
LATCHED = frozenset({Mode.ESTOP, Mode.FAULT})
#: The belt must be still here: a report of it moving repeats the stop (a stop may have been lost).
MUST_BE_STILL = frozenset({Mode.PAUSED, Mode.ESTOP, Mode.FAULT})
#: A program may be chosen (no session running).
CHOOSING = frozenset({Mode.IDLE, Mode.READY, Mode.SUMMARY})
#: The home button is shown: the checklist and the summary.
HOME_REACHABLE = frozenset({Mode.READY, Mode.SUMMARY})
#: After a session: the pain and effort scores for it are taken here.
AFTER_SESSION = frozenset({Mode.COOLDOWN, Mode.SUMMARY, Mode.ESTOP})


class PauseReason(enum.Enum):
    USER = "user"
    RAILS = "rails released"
    LINK = "link lost"
    TURN = "turn around"
    SENSOR = "sensor fault"


#: Pauses that end by holding the rails (then a countdown), not by a resume tap (rule 3).
RESUMED_BY_HOLDING = frozenset({PauseReason.RAILS, PauseReason.TURN})


class Link(enum.Enum):
    NONE = "none"   # cue mode: no treadmill link configured; the person sets the speed
    UP = "up"
    DOWN = "down"


class Timer(enum.Enum):
    """What a deadline in the state is for; :func:`app.core.safety.next_deadline` finds the next."""

    COUNTDOWN = "countdown"    # a start or resume countdown ends: the belt may move
    GRACE = "grace"            # hands off too long in a rails-required phase: pause (rule 3)
    WARNING = "warning"        # a phase change is near: sound a warning
    PHASE_END = "phase_end"    # the phase is over: the next one, or the end of the program
    HELD = "held"              # rails held long enough (and the turnaround waited out): count down
    COOLDOWN = "cooldown"      # the cooldown is over: the summary


class SafetyConfig(Record):
    """Timing and caps for the safety rules. Loaded from the [safety] section of the config
    (docs/config.md gives each option's range)."""

    caps: Caps = field(default_factory=Caps)
    #: docs/safety.md, rule 3: short enough that a stumble is caught within about two steps (a
    #: backward step takes ~1 s at 0.5-1.0 mph), long enough that re-gripping one hand does not
    #: pause the program.
    rails_grace_s: float = 1.0
    #: docs/safety.md, rule 3: the rails are held this long before the resume countdown starts.
    rails_hold_s: float = 2.0
    #: docs/safety.md, rule 3: the visible countdown before the belt moves again.
    resume_countdown_s: float = 3.0
    #: docs/safety.md, rule 4: the countdown between an accepted start and the first belt command.
    start_countdown_s: float = 3.0
    #: docs/practice.md, "slow down before the person turns around": the station stops the belt for
    #: every change of direction and waits at least this long before the resume countdown.
    turnaround_s: float = 5.0
    #: docs/programs.md: a warning sound this long before a phase change.
    phase_warning_s: float = 10.0
    #: docs/practice.md, safety set-up step 6: keep walking backward until the belt has stopped.
    cooldown_s: float = 15.0
    #: The cooldown lasts at least this long even when the belt reports stopped sooner.
    cooldown_min_s: float = 3.0


class State(Record):
    mode: Mode = Mode.IDLE
    program: Program | None = None
    member: Member | None = None
    caps: Caps = field(default_factory=Caps)
    # Sensor facts. Unknown reads as unsafe (docs/safety.md, rule 6): pulled, released.
    lanyard_clipped: bool = False
    rails_held: bool = False
    link: Link = Link.NONE
    # Session.
    session_open: bool = False
    session_started_at: float | None = None
    pause_reason: PauseReason | None = None
    paused_at: float | None = None
    active_before: float = 0.0
    running_since: float | None = None
    phase_index: int = 0
    warned_index: int = -1
    pauses: int = 0
    pain_before: int | None = None
    # Timers (absolute times on the caller's clock). The two rail clocks are set in one place,
    # app.core.safety._settle_rails, from the rail fact and the mode.
    countdown_until: float | None = None
    rails_released_at: float | None = None   # grace: hands off while running in a required phase
    rails_held_since: float | None = None    # hold-to-resume: hands on in a pause that holding ends
    cooldown_since: float | None = None
    cooldown_until: float | None = None
    # What the treadmill or belt sensor reports.
    belt_speed_kmh: float | None = None
    belt_incline_pct: float | None = None
    distance_m: float | None = None
    # The last session's end, for the summary: completed | stopped | emergency_stop.
    outcome: str | None = None
    outcome_reason: str = ""
    ended_active_seconds: float = 0.0
    ended_phases_completed: int = 0
    fault: str = ""

    def active_seconds(self, now: float) -> float:
        """Program time run so far: pauses, countdowns and turnarounds excluded."""
        if self.running_since is None:
            return self.active_before
        return self.active_before + max(0.0, now - self.running_since)

    @property
    def phase(self) -> Phase | None:
        return session.phase(self.program, self.phase_index) if self.program else None

    @property
    def rails_required(self) -> bool:
        """Rails-required now: the phase says so, or the member may not walk hands-free."""
        current = self.phase
        if current is None:
            return True
        if self.member is not None and not self.member.hands_free_allowed:
            return True
        return current.rails_required


def initial_state(link: Link = Link.NONE, caps: Caps | None = None) -> State:
    return State(link=link, caps=caps or Caps())
