"""The safety state machine: ``step(state, event, now, cfg) -> (state, effects)``.

This module is the station's second safety layer (DESIGN.md §2). It is a pure function: no clock,
no I/O, no threads. Time comes in as ``now`` (seconds on any monotonic clock: the loop's, or a
simulation script's). Timers (rails grace, hold-to-resume, countdowns, phase ends) are deadlines in
the state; every call first fires the deadlines that fell due before ``now``, at their own time, so
recorded times are exact whatever the loop's tick rate.

Rules, each with its source:

1. Fail toward "belt stopped". Any error inside ``step`` ends in :attr:`Mode.FAULT` with a stop
   (§2.1). A final filter drops any belt command outside :attr:`Mode.RUNNING`.
2. Lanyard pulled: e-stop on the first edge, latched until clipped *and* confirmed (§2.2).
3. Rails released in a rails-required phase: pause after ``rails_grace_s``; resume after the rails
   are held ``rails_hold_s`` and a ``resume_countdown_s`` countdown (§2.3).
4. Start interlock: lanyard clipped, rails held, link not lost; first phase at most 1.0 mph unless
   the program is advanced (§2.4).
5. Link lost: pause; never resume by itself (§2.5).
6. Caps on every speed command (§2.7). 7. Every safety event is recorded with its time (§2.8).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace

from . import session
from .caps import FIRST_PHASE_SPEED_KMH, Caps
from .effects import (
    CloseSession,
    Effect,
    OpenSession,
    PlaySound,
    RecordEvent,
    Say,
    ScoreSession,
    SetBelt,
    StopBelt,
)
from .events import (
    ConfirmTapped,
    Event,
    HomeTapped,
    LanyardClipped,
    LanyardPulled,
    LinkLost,
    LinkRestored,
    PainScored,
    PainTapped,
    PauseTapped,
    ProgramChosen,
    RailsHeld,
    RailsReleased,
    ResumeTapped,
    SensorFault,
    StartTapped,
    StopTapped,
    Tick,
    TreadmillReported,
)
from .member import Member
from .program import Phase, Program


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


#: Named groups of modes, as OctoPrint names groups of printer states.
BELT_MAY_MOVE = frozenset({Mode.RUNNING})
SESSION_MODES = frozenset({Mode.RUNNING, Mode.PAUSED, Mode.RESUMING})
STOPPED_MODES = frozenset({Mode.PAUSED, Mode.ESTOP, Mode.COOLDOWN, Mode.FAULT})


class PauseReason(enum.Enum):
    USER = "user"
    RAILS = "rails released"
    LINK = "link lost"
    TURN = "turn around"
    SENSOR = "sensor fault"


class Link(enum.Enum):
    NONE = "none"   # cue mode: no treadmill link configured; the person sets the speed
    UP = "up"
    DOWN = "down"


@dataclass(frozen=True)
class SafetyConfig:
    """Timing and caps for the safety rules. Loaded from the [safety] section of the config."""

    caps: Caps = field(default_factory=Caps)
    #: Short enough that a stumble is caught within about two steps (a backward step takes ~1 s at
    #: 0.5-1.0 mph), long enough that re-gripping one hand does not pause the program (DESIGN §2.3).
    rails_grace_s: float = 1.0
    #: Rails must be held this long before the resume countdown starts (DESIGN §2.3).
    rails_hold_s: float = 2.0
    resume_countdown_s: float = 3.0
    start_countdown_s: float = 3.0
    #: PROTOCOLS.md: "slow down before the person turns around": the station stops the belt for
    #: every change of direction and waits at least this long before the resume countdown.
    turnaround_s: float = 5.0
    #: Issue 4: warn 10 s before a phase change.
    phase_warning_s: float = 10.0
    #: PROTOCOLS.md safety set-up step 6: keep walking backward until the belt has stopped.
    cooldown_s: float = 15.0
    cooldown_min_s: float = 3.0


@dataclass(frozen=True)
class State:
    mode: Mode = Mode.IDLE
    program: Program | None = None
    member: Member | None = None
    caps: Caps = field(default_factory=Caps)
    # Sensor facts. Unknown reads as unsafe (DESIGN §2.6): pulled, released.
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
    # Timers (absolute times on the caller's clock).
    countdown_until: float | None = None
    rails_released_at: float | None = None
    rails_held_since: float | None = None
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


# ---------------------------------------------------------------------------------------------


def step(state: State, event: Event, now: float, cfg: SafetyConfig) -> tuple[State, tuple[Effect, ...]]:
    """Advance the station by one *event* at time *now*. Never raises."""
    try:
        new, effects = _step(state, event, now, cfg)
        return new, _guard(new, effects, now)
    except Exception as exc:  # noqa: BLE001 - rule 1: any internal error ends in a stopped belt
        return _fault(state, now, f"{type(exc).__name__}: {exc}")


def next_deadline(state: State, cfg: SafetyConfig) -> float | None:
    """The next time at which ``step`` has something to do by itself (send a Tick by then)."""
    try:
        due = _due(state, cfg)
    except Exception:  # noqa: BLE001 - a broken state must not stop the loop from ticking
        return None
    return due[0] if due else None


#: Events that make moving less safe. One that lands exactly on a deadline is handled before the
#: timer due at that instant, so the safe outcome wins the tie (a release at the very end of a
#: countdown cancels it rather than starting the belt with the hands off).
STOP_FIRST_EVENTS = (LanyardPulled, RailsReleased, LinkLost, SensorFault, PauseTapped, StopTapped, PainTapped)


def _step(state: State, event: Event, now: float, cfg: SafetyConfig) -> tuple[State, list[Effect]]:
    effects: list[Effect] = []
    state = _advance(state, now, cfg, effects, include_now=not isinstance(event, STOP_FIRST_EVENTS))
    state = _handle(state, event, now, cfg, effects)
    state = _advance(state, now, cfg, effects)
    return state, effects


def _guard(state: State, effects: list[Effect], now: float) -> tuple[Effect, ...]:
    """Last line: no belt command outside RUNNING, and stops always go first."""
    if state.mode not in BELT_MAY_MOVE and any(isinstance(e, SetBelt) and e.speed_kmh > 0 for e in effects):
        effects = [e for e in effects if not isinstance(e, SetBelt)]
        effects.insert(0, StopBelt("blocked: belt command outside running"))
        effects.append(RecordEvent("fault", now, {"error": "belt command outside running was blocked"}))
    stops = [e for e in effects if isinstance(e, StopBelt)]
    if stops:
        effects = stops[:1] + [e for e in effects if not isinstance(e, StopBelt)]
    return tuple(effects)


def _fault(state: State, now: float, error: str) -> tuple[State, tuple[Effect, ...]]:
    effects: list[Effect] = [StopBelt("internal error"), PlaySound("estop"), RecordEvent("fault", now, {"error": error})]
    # The state itself may be what is broken (not even a State): read it defensively.
    outcome = getattr(state, "outcome", None)
    if getattr(state, "session_open", False) is True:
        active = _safe_active(state, now)
        effects.append(CloseSession("stopped", now, active, getattr(state, "phase_index", 0), reason="internal error"))
        outcome = "stopped"
    try:
        new = replace(state, mode=Mode.FAULT, session_open=False, running_since=None, fault=error, outcome=outcome,
                      countdown_until=None, rails_released_at=None, rails_held_since=None, cooldown_until=None)
    except Exception:  # noqa: BLE001
        new = State(mode=Mode.FAULT, fault=error)
    return new, tuple(effects)


def _safe_active(state: State, now: float) -> float:
    try:
        return state.active_seconds(now)
    except Exception:  # noqa: BLE001
        return 0.0


# --- timers ----------------------------------------------------------------------------------


def _due(state: State, cfg: SafetyConfig) -> tuple[float, str] | None:
    mode = state.mode
    if mode in (Mode.COUNTDOWN, Mode.RESUMING) and state.countdown_until is not None:
        return state.countdown_until, "countdown"
    if mode is Mode.RUNNING and state.program is not None and state.running_since is not None:
        ends = session.phase_ends(state.program)
        if state.phase_index >= len(ends):
            return state.running_since, "phase_end"
        phase_end = state.running_since + (ends[state.phase_index] - state.active_before)
        candidates = [(phase_end, "phase_end")]
        if state.rails_released_at is not None and state.rails_required:
            candidates.append((state.rails_released_at + cfg.rails_grace_s, "grace"))
        phase = state.program.phases[state.phase_index]
        if state.warned_index != state.phase_index and phase.seconds > cfg.phase_warning_s + 1:
            candidates.append((max(phase_end - cfg.phase_warning_s, state.running_since), "warning"))
        return min(candidates, key=lambda c: c[0])
    if (
        mode is Mode.PAUSED
        and state.pause_reason in (PauseReason.RAILS, PauseReason.TURN)
        and state.link is not Link.DOWN
        and state.rails_held_since is not None
    ):
        due = state.rails_held_since + cfg.rails_hold_s
        if state.pause_reason is PauseReason.TURN and state.paused_at is not None:
            due = max(due, state.paused_at + cfg.turnaround_s)
        return due, "held"
    if mode is Mode.COOLDOWN and state.cooldown_until is not None:
        return state.cooldown_until, "cooldown"
    return None


def _advance(state: State, now: float, cfg: SafetyConfig, effects: list[Effect], include_now: bool = True) -> State:
    # Bounded: a pathological state must not spin forever (each firing changes the state).
    # Each phase can fire a few timers (warning, end, turnaround, countdown): scale with its length.
    phases = getattr(state.program, "phases", ())
    limit = 10_000 + 8 * (len(phases) if isinstance(phases, tuple) else 0)
    for _ in range(limit):
        due = _due(state, cfg)
        if due is None or due[0] > now or (due[0] == now and not include_now):
            return state
        state = _fire(state, due[0], due[1], cfg, effects)
    raise RuntimeError("timers did not settle")


def _fire(state: State, t: float, kind: str, cfg: SafetyConfig, effects: list[Effect]) -> State:
    if kind == "countdown":
        problems = _interlock_problems(state, for_start=state.mode is Mode.COUNTDOWN)
        if problems:
            return _refuse_to_move(state, t, problems, cfg, effects)
        if state.mode is Mode.COUNTDOWN:
            return _begin_session(state, t, cfg, effects)
        return _enter_running(state, t, effects, resumed=True)
    if kind == "grace":
        effects.append(Say("hold_the_rails"))
        return _pause(state, t, PauseReason.RAILS, effects)
    if kind == "warning":
        effects.append(PlaySound("warning"))
        return replace(state, warned_index=state.phase_index)
    if kind == "phase_end":
        return _next_phase(state, t, cfg, effects)
    if kind == "held":
        effects.append(RecordEvent("resume_countdown", t, {"reason": state.pause_reason.value}))
        return replace(state, mode=Mode.RESUMING, countdown_until=t + cfg.resume_countdown_s, rails_held_since=None)
    if kind == "cooldown":
        return replace(state, mode=Mode.SUMMARY, cooldown_until=None)
    raise ValueError(f"unknown timer {kind}")


# --- transitions -----------------------------------------------------------------------------


def _stop(effects: list[Effect], reason: str) -> None:
    """Put a stop first. It supersedes any belt command emitted earlier in this step: an event
    whose time lies past a deadline (a phase end the loop had not ticked yet) first starts the
    next phase and then stops, and that SetBelt must not reach the treadmill after the stop."""
    effects[:] = [e for e in effects if not isinstance(e, SetBelt)]
    effects.insert(0, StopBelt(reason))


def _target(state: State, index: int, t: float, effects: list[Effect]) -> SetBelt:
    phase = state.program.phases[index]
    speed = phase.speed_kmh
    if index == 0 and not state.program.advanced:
        speed = min(speed, FIRST_PHASE_SPEED_KMH)
    capped_speed, capped_incline = state.caps.clamp(phase.direction, speed, phase.incline_pct)
    if capped_speed < phase.speed_kmh - 1e-9 or capped_incline < phase.incline_pct - 1e-9:
        effects.append(RecordEvent("speed_capped", t, {
            "phase": index, "asked_speed_kmh": phase.speed_kmh, "sent_speed_kmh": capped_speed,
            "asked_incline_pct": phase.incline_pct, "sent_incline_pct": capped_incline}))
    return SetBelt(capped_speed, capped_incline, phase.direction)


def _phase_detail(state: State, index: int) -> dict:
    phase = state.program.phases[index]
    return {"index": index, "name": phase.name, "direction": phase.direction, "seconds": phase.seconds,
            "speed_kmh": phase.speed_kmh, "incline_pct": phase.incline_pct, "rails": phase.rails,
            "round": phase.round_label}


def _begin_session(state: State, t: float, cfg: SafetyConfig, effects: list[Effect]) -> State:
    effects.append(OpenSession(state.program, state.member, t))
    if state.pain_before is not None:
        effects.append(ScoreSession("before", state.pain_before, t))
    effects.append(RecordEvent("session_started", t, {"program": state.program.id}))
    state = replace(state, session_open=True, session_started_at=t, active_before=0.0, phase_index=0,
                    warned_index=-1, pauses=0, outcome=None, outcome_reason="", pause_reason=None)
    effects.append(RecordEvent("phase_started", t, _phase_detail(state, 0)))
    effects.append(PlaySound("start"))
    return _enter_running(state, t, effects, resumed=False)


def _enter_running(state: State, t: float, effects: list[Effect], resumed: bool) -> State:
    effects.append(_target(state, state.phase_index, t, effects))
    if resumed:
        effects.append(RecordEvent("resume", t, {"after": state.pause_reason.value if state.pause_reason else ""}))
        effects.append(PlaySound("resume"))
    # The grace runs only where the rails are required: a timer armed in an optional phase would
    # fire, at its old time, as soon as a required phase began (before that phase even started).
    return replace(state, mode=Mode.RUNNING, running_since=t, countdown_until=None, pause_reason=None,
                   paused_at=None, rails_held_since=None,
                   rails_released_at=t if not state.rails_held and state.rails_required else None)


def _leave_running(state: State, t: float) -> State:
    return replace(state, active_before=state.active_seconds(t), running_since=None)


def _pause(state: State, t: float, reason: PauseReason, effects: list[Effect]) -> State:
    _stop(effects, reason.value)
    was = state.pause_reason if state.mode in (Mode.PAUSED, Mode.RESUMING) else None
    if was is not None and was is not PauseReason.TURN:
        # One pause per pause: the pause already open (its resume countdown included) goes on
        # with a new reason; it is not a second pause (docs/safety.md, rule 8).
        effects.append(PlaySound("pause"))
        kind = "resume_cancelled" if state.mode is Mode.RESUMING else "pause_reason_changed"
        effects.append(RecordEvent(kind, t, {"reason": reason.value, "was": was.value, "phase": state.phase_index}))
        return replace(state, mode=Mode.PAUSED, pause_reason=reason, countdown_until=None,
                       rails_released_at=None, rails_held_since=t if state.rails_held else None)
    counted = reason is not PauseReason.TURN
    if counted:
        effects.append(PlaySound("pause"))
        effects.append(RecordEvent("pause", t, {"reason": reason.value, "phase": state.phase_index}))
    else:
        effects.append(RecordEvent("turnaround", t, {"phase": state.phase_index}))
    if state.mode is Mode.RUNNING:
        state = _leave_running(state, t)
    return replace(state, mode=Mode.PAUSED, pause_reason=reason, paused_at=t, countdown_until=None,
                   rails_released_at=None, rails_held_since=t if state.rails_held else None,
                   pauses=state.pauses + (1 if counted else 0))


def _next_phase(state: State, t: float, cfg: SafetyConfig, effects: list[Effect]) -> State:
    previous = state.program.phases[state.phase_index] if state.phase_index < len(state.program.phases) else None
    index = state.phase_index + 1
    if index >= len(state.program.phases):
        _stop(effects, "program complete")
        state = replace(_leave_running(state, t), phase_index=len(state.program.phases))
        effects.append(RecordEvent("completed", t, {}))
        effects.append(PlaySound("done"))
        effects.append(Say("cooldown"))
        return _close(state, t, "completed", "", cfg, effects)
    state = replace(state, phase_index=index)
    phase = state.program.phases[index]
    effects.append(RecordEvent("phase_started", t, _phase_detail(state, index)))
    if previous is not None and previous.direction != phase.direction:
        effects.append(Say("turn_around", {"direction": phase.direction}))
        return _pause(state, t, PauseReason.TURN, effects)
    problems = _interlock_problems(state, for_start=False)
    if problems:  # e.g. hands off as a rails-required phase begins: it begins paused
        return _refuse_to_move(state, t, problems, cfg, effects)
    effects.append(PlaySound("phase"))
    effects.append(_target(state, index, t, effects))
    return replace(state, rails_released_at=None)


def _close(state: State, t: float, status: str, reason: str, cfg: SafetyConfig, effects: list[Effect],
           next_mode: Mode = Mode.COOLDOWN) -> State:
    if state.mode is Mode.RUNNING:
        state = _leave_running(state, t)
    completed = min(state.phase_index, len(state.program.phases)) if state.program else 0
    if state.session_open:
        effects.append(CloseSession(status, t, state.active_before, completed, reason))
    return replace(state, mode=next_mode, session_open=False, running_since=None, countdown_until=None,
                   rails_released_at=None, rails_held_since=None, pause_reason=None, paused_at=None,
                   cooldown_until=t + cfg.cooldown_s if next_mode is Mode.COOLDOWN else None,
                   outcome=status, outcome_reason=reason, ended_active_seconds=state.active_before,
                   ended_phases_completed=completed, pain_before=None)


def _estop(state: State, t: float, cfg: SafetyConfig, effects: list[Effect]) -> State:
    _stop(effects, "lanyard pulled")
    effects.append(PlaySound("estop"))
    effects.append(RecordEvent("emergency_stop", t, {"mode": state.mode.value}))
    if state.session_open:
        state = _close(state, t, "emergency_stop", "lanyard pulled", cfg, effects, next_mode=Mode.ESTOP)
    return replace(state, mode=Mode.ESTOP, countdown_until=None, cooldown_until=None, running_since=None,
                   rails_released_at=None, rails_held_since=None)


def _cancel_countdown(state: State, t: float, reason: str, effects: list[Effect]) -> State:
    _stop(effects, reason)
    effects.append(PlaySound("refused"))
    effects.append(RecordEvent("start_cancelled", t, {"reason": reason}))
    return replace(state, mode=Mode.READY, countdown_until=None)


def _refuse_to_move(state: State, t: float, problems: list[str], cfg: SafetyConfig, effects: list[Effect]) -> State:
    """The belt was about to be told to move but the interlock does not hold: stop instead."""
    if state.mode is Mode.COUNTDOWN:
        return _cancel_countdown(state, t, "; ".join(problems), effects)
    if not state.lanyard_clipped:
        return _estop(state, t, cfg, effects)
    if state.link is Link.DOWN:
        effects.append(Say("link_lost"))
        return _pause(state, t, PauseReason.LINK, effects)
    effects.append(Say("hold_the_rails"))
    return _pause(state, t, PauseReason.RAILS, effects)


def _interlock_problems(state: State, for_start: bool) -> list[str]:
    problems = []
    if not state.lanyard_clipped:
        problems.append("lanyard not clipped")
    if (for_start or state.rails_required) and not state.rails_held:
        problems.append("rails not held")
    if state.link is Link.DOWN:
        problems.append("treadmill link lost")
    return problems


# --- events ----------------------------------------------------------------------------------


def _handle(state: State, event: Event, now: float, cfg: SafetyConfig, effects: list[Effect]) -> State:
    mode = state.mode
    if isinstance(event, Tick):
        return state

    if isinstance(event, LanyardPulled):
        was_clipped = state.lanyard_clipped
        state = replace(state, lanyard_clipped=False)
        if mode in SESSION_MODES or mode in (Mode.COUNTDOWN, Mode.COOLDOWN, Mode.RESUMING):
            return _estop(state, now, cfg, effects)
        _stop(effects, "lanyard pulled")
        if mode is not Mode.ESTOP and was_clipped:  # a real edge, not the start-up reading
            effects.append(RecordEvent("lanyard_pulled", now, {"mode": mode.value}))
        return state

    if isinstance(event, LanyardClipped):
        if mode is Mode.ESTOP and not state.lanyard_clipped:
            effects.append(RecordEvent("lanyard_clipped", now, {}))
        return replace(state, lanyard_clipped=True)

    if isinstance(event, RailsReleased):
        was_held = state.rails_held
        state = replace(state, rails_held=False)
        if mode is Mode.RUNNING and was_held:
            early = state.rails_required
            effects.append(RecordEvent("rails_released", now, {"early": early, "phase": state.phase_index}))
            return replace(state, rails_released_at=now if early else None)
        if mode is Mode.COUNTDOWN:
            return _cancel_countdown(state, now, "rails released", effects)
        if mode is Mode.RESUMING and state.rails_required:
            if was_held:  # an early release all the same: the rail statistics count it
                effects.append(RecordEvent("rails_released", now, {"early": True, "phase": state.phase_index}))
            effects.append(Say("hold_the_rails"))
            return _pause(state, now, PauseReason.RAILS, effects)
        if mode is Mode.PAUSED:
            return replace(state, rails_held_since=None)
        return state

    if isinstance(event, RailsHeld):
        was_held = state.rails_held
        state = replace(state, rails_held=True)
        if was_held:
            return state
        if mode is Mode.RUNNING:
            effects.append(RecordEvent("rails_held", now, {"phase": state.phase_index}))
            return replace(state, rails_released_at=None)
        if mode is Mode.PAUSED:
            return replace(state, rails_held_since=now)
        return state

    if isinstance(event, SensorFault):
        # When in doubt, stop the belt and say why (a stuck rail sensor cannot see a release).
        effects.append(RecordEvent("sensor_fault", now, {"message": event.message, "mode": mode.value}))
        effects.append(Say("sensor_fault", {"message": event.message}))
        # A rails or turnaround pause would resume on that same sensor's "held": make it a sensor
        # pause, which only a person's resume tap ends.
        if mode in (Mode.RUNNING, Mode.RESUMING) or (
                mode is Mode.PAUSED and state.pause_reason in (PauseReason.RAILS, PauseReason.TURN)):
            return _pause(state, now, PauseReason.SENSOR, effects)
        if mode is Mode.COUNTDOWN:
            return _cancel_countdown(state, now, "sensor fault", effects)
        return state

    if isinstance(event, LinkLost):
        if state.link is Link.DOWN:
            return state
        state = replace(state, link=Link.DOWN)
        effects.append(RecordEvent("link_lost", now, {"reason": event.reason, "mode": mode.value}))
        if mode is Mode.COUNTDOWN:
            return _cancel_countdown(state, now, "treadmill link lost", effects)
        if mode in (Mode.RUNNING, Mode.RESUMING) or (mode is Mode.PAUSED and state.pause_reason is not PauseReason.LINK):
            effects.append(Say("link_lost"))
            return _pause(state, now, PauseReason.LINK, effects)
        if mode in STOPPED_MODES:
            _stop(effects, "treadmill link lost")
        return state

    if isinstance(event, LinkRestored):
        if state.link is not Link.DOWN:
            return state
        effects.append(RecordEvent("link_restored", now, {}))
        if mode is Mode.PAUSED:
            effects.append(Say("link_restored"))
        return replace(state, link=Link.UP)

    if isinstance(event, TreadmillReported):
        state = replace(state, belt_speed_kmh=event.speed_kmh, belt_incline_pct=event.incline_pct,
                        distance_m=event.distance_m if event.distance_m is not None else state.distance_m)
        if mode in (Mode.PAUSED, Mode.ESTOP, Mode.FAULT) and (event.speed_kmh or 0) > 0.3:
            _stop(effects, "belt still moving")  # repeat: a stop may have been missed
        if (mode is Mode.COOLDOWN and event.speed_kmh is not None and event.speed_kmh < 0.05
                and state.cooldown_until is not None
                and now >= state.cooldown_until - cfg.cooldown_s + cfg.cooldown_min_s):
            return replace(state, mode=Mode.SUMMARY, cooldown_until=None)
        return state

    if isinstance(event, ProgramChosen):
        if mode in (Mode.IDLE, Mode.READY, Mode.SUMMARY):
            caps = cfg.caps.tightened(event.program.caps)
            if event.member is not None:
                caps = caps.tightened(event.member.caps)
            # A new pre-flight starts from zero: the last session's time and pauses stay only in its summary.
            return replace(state, mode=Mode.READY, program=event.program, member=event.member, caps=caps,
                           phase_index=0, outcome=None, outcome_reason="", pain_before=None, distance_m=None,
                           active_before=0.0, running_since=None, pauses=0)
        return state

    if isinstance(event, HomeTapped):
        if mode in (Mode.READY, Mode.SUMMARY):
            return replace(state, mode=Mode.IDLE, program=None, member=None, caps=cfg.caps, outcome=None)
        return state

    if isinstance(event, StartTapped):
        if mode is not Mode.READY or state.program is None:
            return state
        problems = _interlock_problems(state, for_start=True)
        if problems:
            effects.append(RecordEvent("start_refused", now, {"reasons": problems}))
            effects.append(PlaySound("refused"))
            effects.append(Say("start_refused", {"reasons": problems}))
            return state
        effects.append(RecordEvent("start_accepted", now, {"program": state.program.id}))
        return replace(state, mode=Mode.COUNTDOWN, countdown_until=now + cfg.start_countdown_s)

    if isinstance(event, PauseTapped):
        if mode in (Mode.RUNNING, Mode.RESUMING):
            return _pause(state, now, PauseReason.USER, effects)
        if mode is Mode.COUNTDOWN:
            return _cancel_countdown(state, now, "paused", effects)
        return state

    if isinstance(event, ResumeTapped):
        if mode is not Mode.PAUSED:
            return state
        if state.pause_reason in (PauseReason.RAILS, PauseReason.TURN):
            effects.append(Say("hold_the_rails"))  # these resume by holding the rails
            return state
        problems = _interlock_problems(state, for_start=False)
        if problems:
            effects.append(RecordEvent("resume_refused", now, {"reasons": problems}))
            effects.append(PlaySound("refused"))
            effects.append(Say("resume_refused", {"reasons": problems}))
            return state
        return replace(state, mode=Mode.RESUMING, countdown_until=now + cfg.resume_countdown_s)

    if isinstance(event, StopTapped):
        if mode is Mode.COUNTDOWN:
            return _cancel_countdown(state, now, "stopped", effects)
        if mode in SESSION_MODES:
            _stop(effects, "stopped")
            effects.append(RecordEvent("stop", now, {"phase": state.phase_index}))
            effects.append(Say("cooldown"))
            return _close(state, now, "stopped", "stop tapped", cfg, effects)
        if mode is Mode.COOLDOWN:
            return replace(state, mode=Mode.SUMMARY, cooldown_until=None)
        return state

    if isinstance(event, PainTapped):
        if mode is Mode.COUNTDOWN:
            return _cancel_countdown(state, now, "pain", effects)
        if mode in SESSION_MODES:
            _stop(effects, "pain")
            effects.append(RecordEvent("pain", now, {"score": event.score, "phase": state.phase_index}))
            effects.append(Say("pain_stop"))
            return _close(state, now, "stopped", "pain", cfg, effects)
        return state

    if isinstance(event, PainScored):
        score = event.score if event.score is None or 0 <= event.score <= 10 else None
        if event.when == "before" and mode is Mode.READY:
            return replace(state, pain_before=score)
        if event.when in ("after", "effort") and mode in (Mode.COOLDOWN, Mode.SUMMARY, Mode.ESTOP):
            effects.append(ScoreSession(event.when, score, now))
        return state

    if isinstance(event, ConfirmTapped):
        if mode not in (Mode.ESTOP, Mode.FAULT):
            return state
        if not state.lanyard_clipped:
            effects.append(RecordEvent("confirm_refused", now, {"reason": "lanyard not clipped"}))
            effects.append(PlaySound("refused"))
            effects.append(Say("clip_lanyard_first"))
            return state
        effects.append(RecordEvent("estop_cleared" if mode is Mode.ESTOP else "fault_cleared", now, {}))
        if state.outcome is not None:
            return replace(state, mode=Mode.SUMMARY, fault="")
        return replace(state, mode=Mode.READY if state.program else Mode.IDLE, fault="")

    return state
