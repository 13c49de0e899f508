"""What the screen must show, derived from the safety state at a moment. Pure.

The kiosk draws a :class:`View`; it never reads :class:`~app.core.state.State` directly, so every
safety state has exactly one screen and the screen can never disagree with the core. The same view
gives the systemd STATUS line (docs/architecture.md, systemd).

What the screen compares is typed: ``View.link`` is a :class:`Link` and ``View.pause_reason`` a
:class:`PauseReason` (both re-exported here for the UI), so a scene tests ``view.link is Link.NONE``,
never a spelling of it.
"""

from __future__ import annotations

import enum
import math

from . import session
from .record import Record, replace
from .state import COUNTING_DOWN, Link, Mode, PauseReason, SafetyConfig, State
from .units import from_kmh, unit_label


class Screen(enum.Enum):
    HOME = "home"
    PREFLIGHT = "preflight"
    COUNTDOWN = "countdown"
    RUNNING = "running"
    PAUSED_RAILS = "paused_rails"
    PAUSED_LINK = "paused_link"
    PAUSED_USER = "paused_user"
    TURNAROUND = "turnaround"
    RESUMING = "resuming"
    ESTOP = "estop"
    COOLDOWN = "cooldown"
    SUMMARY = "summary"
    FAULT = "fault"


#: Screens on which the belt is, or may soon be, moving: Pause and Stop must be on them, one tap
#: from a stopped belt (docs/safety.md, rule 1: the station fails toward "belt stopped").
ACTIVE_SCREENS = frozenset({Screen.COUNTDOWN, Screen.RUNNING, Screen.RESUMING})
#: Full-screen safety states: nothing else may cover them.
SAFETY_SCREENS = frozenset({Screen.PAUSED_RAILS, Screen.PAUSED_LINK, Screen.ESTOP, Screen.FAULT})


class Check(Record):
    key: str          # catalogue key: check_lanyard, check_rails, check_link, check_facing, check_speed
    ok: bool
    live: bool = True  # False: a reminder the person confirms by looking (facing away, slowest speed)


class PhaseInfo(Record):
    index: int
    name: str
    direction: str
    speed: float        # in the view's units
    incline_pct: float
    rails: str
    cue: str
    seconds: float
    round_label: str


class View(Record):
    screen: Screen
    units: str
    unit_label: str
    program_id: str | None
    program_name: str | None
    member_name: str | None
    lanyard_clipped: bool
    rails_held: bool
    link: Link
    checks: tuple[Check, ...] = ()
    start_enabled: bool = False
    countdown: int | None = None      # whole seconds left in a start/resume countdown
    phase: PhaseInfo | None = None
    next_phase: PhaseInfo | None = None
    phase_left_s: float = 0.0
    session_left_s: float = 0.0
    session_total_s: float = 0.0
    active_s: float = 0.0
    progress: float = 0.0              # 0..1 of the whole program
    phase_progress: float = 0.0        # 0..1 of the current phase
    warning: bool = False              # within the last seconds before a phase change
    rails_required: bool = True
    rails_grace: bool = False          # hands off in a required phase, grace running
    actual_speed: float | None = None  # what the link or belt sensor reports, in the view's units
    actual_incline: float | None = None
    distance_m: float | None = None
    hold_progress: float = 0.0         # 0..1 of the hold-the-rails time before a resume countdown
    pause_reason: PauseReason | None = None   # why the core paused, if it did
    outcome: str | None = None
    outcome_reason: str = ""
    phases_completed: int = 0
    phases_total: int = 0
    pauses: int = 0
    fault: str = ""
    status_line: str = ""

    def __post_init__(self) -> None:
        # The typed boundary: a string here would compare unequal to every member and pick the
        # wrong words on a safety screen without any error.
        if not isinstance(self.link, Link):
            raise TypeError(f"View.link {self.link!r}: use a Link member (Link.NONE, Link.UP, Link.DOWN)")
        if self.pause_reason is not None and not isinstance(self.pause_reason, PauseReason):
            raise TypeError(f"View.pause_reason {self.pause_reason!r}: use a PauseReason member or None")


def _phase_info(state: State, index: int, units: str) -> PhaseInfo | None:
    phase = session.phase(state.program, index) if state.program else None
    if phase is None:
        return None
    return PhaseInfo(index, phase.name, phase.direction, round(from_kmh(phase.speed_kmh, units), 1),
                     phase.incline_pct, phase.rails, phase.cue, phase.seconds, phase.round_label)


def _screen(state: State) -> Screen:
    mode = state.mode
    if mode is Mode.PAUSED:
        return {
            PauseReason.RAILS: Screen.PAUSED_RAILS,
            PauseReason.LINK: Screen.PAUSED_LINK,
            PauseReason.TURN: Screen.TURNAROUND,
        }.get(state.pause_reason, Screen.PAUSED_USER)
    return {
        Mode.IDLE: Screen.HOME,
        Mode.READY: Screen.PREFLIGHT,
        Mode.COUNTDOWN: Screen.COUNTDOWN,
        Mode.RUNNING: Screen.RUNNING,
        Mode.RESUMING: Screen.RESUMING,
        Mode.ESTOP: Screen.ESTOP,
        Mode.COOLDOWN: Screen.COOLDOWN,
        Mode.SUMMARY: Screen.SUMMARY,
        Mode.FAULT: Screen.FAULT,
    }[mode]


def build_view(state: State, now: float, cfg: SafetyConfig) -> View:
    """Everything the screen shows at *now*. Never raises: a state too broken to draw (what sent
    the core to FAULT may still be in it) gets the fault screen instead of crashing the kiosk."""
    try:
        return _build_view(state, now, cfg)
    except Exception as exc:  # noqa: BLE001 - docs/safety.md, rule 1: fail toward the stopped, fault screen
        fault = getattr(state, "fault", "") or f"cannot show the state: {type(exc).__name__}"
        return _with_status(View(screen=Screen.FAULT, units="mph", unit_label=unit_label("mph"), program_id=None,
                                 program_name=None, member_name=None,
                                 lanyard_clipped=getattr(state, "lanyard_clipped", False) is True,
                                 rails_held=getattr(state, "rails_held", False) is True,
                                 link=_link_or_down(getattr(state, "link", None)), fault=str(fault)))


def _link_or_down(link) -> Link:
    """The state's link, or DOWN when the state is too broken to say (the safe reading)."""
    return link if isinstance(link, Link) else Link.DOWN


def _build_view(state: State, now: float, cfg: SafetyConfig) -> View:
    program = state.program
    units = (state.member.units if state.member else None) or (program.units if program else "mph")
    screen = _screen(state)
    active = state.active_seconds(now)
    total = program.total_seconds if program else 0.0
    pos = session.position(program, active) if program else None
    index = state.phase_index
    phase = _phase_info(state, index, units)
    next_phase = _phase_info(state, index + 1, units)
    phase_left = 0.0
    phase_progress = 0.0
    if program and index < len(program.phases):
        end = session.phase_ends(program)[index]
        phase_left = max(0.0, end - active)
        seconds = program.phases[index].seconds
        phase_progress = min(1.0, max(0.0, 1 - phase_left / seconds)) if seconds else 1.0
    countdown = None
    if state.countdown_until is not None and state.mode in COUNTING_DOWN:
        countdown = max(1, math.ceil(state.countdown_until - now - 1e-9))
    hold = 0.0
    if state.mode is Mode.PAUSED and state.rails_held_since is not None and cfg.rails_hold_s > 0:
        hold = min(1.0, max(0.0, (now - state.rails_held_since) / cfg.rails_hold_s))
        if state.pause_reason is PauseReason.TURN and state.paused_at is not None and cfg.turnaround_s > 0:
            # A turnaround also waits out turnaround_s: the bar fills by the later of the two.
            hold = min(hold, max(0.0, (now - state.paused_at) / cfg.turnaround_s))
    checks = (
        Check("check_lanyard", state.lanyard_clipped),
        Check("check_rails", state.rails_held),
        Check("check_link", state.link is not Link.DOWN, live=state.link is not Link.NONE),
        Check("check_facing", True, live=False),
        Check("check_speed", True, live=False),
    )
    actual = None if state.belt_speed_kmh is None else round(from_kmh(state.belt_speed_kmh, units), 1)
    view = View(
        screen=screen,
        units=units,
        unit_label=unit_label(units),
        program_id=program.id if program else None,
        program_name=program.name if program else None,
        member_name=state.member.name if state.member else None,
        lanyard_clipped=state.lanyard_clipped,
        rails_held=state.rails_held,
        link=state.link,
        checks=checks,
        start_enabled=state.mode is Mode.READY and all(c.ok for c in checks),
        countdown=countdown,
        phase=phase,
        next_phase=next_phase,
        phase_left_s=phase_left,
        session_left_s=pos.session_left if pos else 0.0,
        session_total_s=total,
        active_s=active,
        progress=min(1.0, active / total) if total else 0.0,
        phase_progress=phase_progress,
        warning=state.mode is Mode.RUNNING and next_phase is not None and 0 < phase_left <= cfg.phase_warning_s,
        rails_required=state.rails_required,
        rails_grace=state.mode is Mode.RUNNING and state.rails_released_at is not None and state.rails_required,
        actual_speed=actual,
        actual_incline=state.belt_incline_pct,
        distance_m=state.distance_m,
        hold_progress=hold,
        pause_reason=state.pause_reason,
        outcome=state.outcome,
        outcome_reason=state.outcome_reason,
        phases_completed=state.ended_phases_completed if state.outcome else min(index, len(program.phases) if program else 0),
        phases_total=len(program.phases) if program else 0,
        pauses=state.pauses,
        fault=state.fault,
    )
    return _with_status(view)


def _with_status(view: View) -> View:
    # One line, always: a name typed with a line break must not split systemd's STATUS= or the log.
    return replace(view, status_line=" ".join(status_line(view).split()))


def status_line(view: View) -> str:
    """The short systemd STATUS= line (docs/architecture.md, systemd): ``running: Warm-up 1:20 left``."""
    screen = view.screen
    if screen is Screen.RUNNING and view.phase:
        return f"running: {view.phase.name} {session.format_clock(view.phase_left_s)} left"
    if screen is Screen.PAUSED_RAILS:
        return "paused: rails released"
    if screen is Screen.PAUSED_LINK:
        return "paused: treadmill link lost"
    if screen is Screen.PAUSED_USER:
        return "paused: sensor fault" if view.pause_reason is PauseReason.SENSOR else "paused: by the user"
    if screen is Screen.TURNAROUND:
        return "paused: turn around"
    if screen is Screen.ESTOP:
        return "emergency stop: lanyard pulled"
    if screen is Screen.FAULT:
        return f"fault: {view.fault}"[:120]
    if screen is Screen.COUNTDOWN:
        return f"starting: {view.program_name}"
    if screen is Screen.RESUMING:
        return "resuming"
    if screen is Screen.PREFLIGHT:
        return f"ready: {view.program_name}"
    if screen is Screen.COOLDOWN:
        return f"cooling down: {view.outcome}"
    if screen is Screen.SUMMARY:
        return f"finished: {view.outcome}"
    return "idle: home screen"
