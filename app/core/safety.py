"""The safety state machine: ``step(state, event, now, cfg) -> (state, effects)``.

This module is the station's second safety layer (docs/safety.md). It is a pure function: no
clock, no I/O, no threads. Time comes in as ``now`` (seconds on any monotonic clock: the loop's,
or a simulation script's). Timers (rails grace, hold-to-resume, countdowns, phase ends) are
deadlines in the state; every call first fires the deadlines that fell due before ``now``, at their
own time, so recorded times are exact whatever the loop's tick rate.

Rules, each with its source (docs/safety.md):

1. Fail toward "belt stopped". Any error inside ``step`` ends in :attr:`Mode.FAULT` with a stop
   (rule 1). :class:`~app.core.effects.StepEffects` drops any belt command outside RUNNING.
2. Lanyard pulled: e-stop on the first edge, latched until clipped *and* confirmed (rule 2).
3. Rails released in a rails-required phase: pause after ``rails_grace_s``; resume after the rails
   are held ``rails_hold_s`` and a ``resume_countdown_s`` countdown (rule 3).
4. Interlock: lanyard clipped, rails held (where the phase requires them), link not lost; checked
   at the start tap *and* whenever the belt is told to move; first phase at most 1.0 mph unless
   the program is advanced (rule 4). An event that makes moving less safe, landing exactly on a
   deadline, is handled before that deadline's timer: the safe outcome wins a tie.
5. Link lost: pause; never resume by itself (rule 5).
6. Caps on every speed command (rule 7). 7. Every safety event is recorded with its time (rule 8);
   a pause is recorded once, and a new reason for it as a change of that pause.

Where things are: :func:`step` and :func:`next_deadline` first; then the timers (:func:`_due`
finds the next :class:`Timer`, ``FIRE`` acts on it); then the transitions shared by timers and
events (pause, close, e-stop, ...); then one handler per event. The handler for the event
``FooTapped`` is ``on_foo_tapped``, and ``HANDLERS`` at the end maps each event class to it.
The types (modes and their groups, config, state) are in :mod:`app.core.state`.
"""

from __future__ import annotations

from typing import Callable

from . import session
from .caps import FIRST_PHASE_SPEED_KMH
from .effects import (
    CloseSession,
    Effect,
    OpenSession,
    PlaySound,
    RecordEvent,
    Say,
    ScoreSession,
    SetBelt,
    StepEffects,
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
from .record import replace
from .state import (  # noqa: F401 - re-exported: importers use app.core.safety for these
    AFTER_SESSION,
    BELT_MAY_MOVE,
    CHOOSING,
    COUNTING_DOWN,
    HOME_REACHABLE,
    LATCHED,
    MUST_BE_STILL,
    PAUSABLE,
    PAUSED,
    RESUMED_BY_HOLDING,
    SESSION_MODES,
    STARTED,
    STOPPED_MODES,
    Link,
    Mode,
    PauseReason,
    SafetyConfig,
    State,
    Timer,
    initial_state,
)

#: Events that make moving less safe. One that lands exactly on a deadline is handled before the
#: timer due at that instant, so the safe outcome wins the tie: a release at the very end of a
#: countdown cancels it rather than starting the belt with the hands off (docs/safety.md, rules 2-5).
STOP_FIRST_EVENTS = (LanyardPulled, RailsReleased, LinkLost, SensorFault, PauseTapped, StopTapped, PainTapped)

#: docs/safety.md, rule 1: a belt reported faster than this where it must be still gets the stop
#: again (a stop may have been lost); slower is the treadmill's own run-down or sensor noise.
BELT_MOVING_KMH = 0.3
#: docs/practice.md, safety set-up step 6: the cooldown may end early once the belt reports
#: slower than this (stopped), after ``cooldown_min_s``.
BELT_STOPPED_KMH = 0.05


def step(state: State, event: Event, now: float, cfg: SafetyConfig) -> tuple[State, tuple[Effect, ...]]:
    """Advance the station by one *event* at time *now*. Never raises."""
    fx = StepEffects()
    try:
        new = _step(state, event, now, cfg, fx)
        return new, fx.finish(new.mode in BELT_MAY_MOVE, now)
    except Exception as exc:  # noqa: BLE001 - rule 1: any internal error ends in a stopped belt
        return _fault(state, now, f"{type(exc).__name__}: {exc}")


def next_deadline(state: State, cfg: SafetyConfig) -> float | None:
    """The next time at which ``step`` has something to do by itself (send a Tick by then)."""
    try:
        due = _due(state, cfg)
    except Exception:  # noqa: BLE001 - a broken state must not stop the loop from ticking
        return None
    return due[0] if due else None


def _step(state: State, event: Event, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    # Deadlines before the event first, at their own times; the event; then what fell due by now.
    state = _advance(state, now, cfg, fx, include_now=not isinstance(event, STOP_FIRST_EVENTS))
    handler = HANDLERS.get(type(event))
    if handler is not None:
        state = _settle_rails(handler(state, event, now, cfg, fx), now)
    return _advance(state, now, cfg, fx)


def _fault(state: State, now: float, error: str) -> tuple[State, tuple[Effect, ...]]:
    fx = StepEffects()
    fx.stop("internal error")
    fx.add(PlaySound("estop"), RecordEvent("fault", now, {"error": error}))
    # The state itself may be what is broken (not even a State): read it defensively.
    outcome = getattr(state, "outcome", None)
    if getattr(state, "session_open", False) is True:
        active = _safe_active(state, now)
        fx.add(CloseSession("stopped", now, active, getattr(state, "phase_index", 0), reason="internal error"))
        outcome = "stopped"
    try:
        new = _settle_rails(replace(state, mode=Mode.FAULT, session_open=False, running_since=None, fault=error,
                                    outcome=outcome, countdown_until=None, cooldown_since=None,
                                    cooldown_until=None), now)
    except Exception:  # noqa: BLE001
        new = State(mode=Mode.FAULT, fault=error)
    return new, fx.finish(False, now)


def _safe_active(state: State, now: float) -> float:
    try:
        return state.active_seconds(now)
    except Exception:  # noqa: BLE001
        return 0.0


def _settle_rails(state: State, t: float) -> State:
    """The one place that sets the two rail clocks, from the rail fact and the mode (rule 3).

    Grace: running in a rails-required phase with the hands off, from the release (kept while it
    runs). Hold-to-resume: hands on in a pause that holding ends, from the grip or the start of the
    pause. Anywhere else neither clock runs. Applied after every event and every timer.
    """
    grace = hold = None
    if state.mode is Mode.RUNNING and not state.rails_held and state.rails_required:
        grace = t if state.rails_released_at is None else state.rails_released_at
    if state.mode is Mode.PAUSED and state.rails_held and state.pause_reason in RESUMED_BY_HOLDING:
        hold = t if state.rails_held_since is None else state.rails_held_since
    if grace == state.rails_released_at and hold == state.rails_held_since:
        return state
    return replace(state, rails_released_at=grace, rails_held_since=hold)


# --- timers ----------------------------------------------------------------------------------


def _due(state: State, cfg: SafetyConfig) -> tuple[float, Timer] | None:
    """The next deadline and what it is for; in a tie the one listed first here fires first."""
    mode = state.mode
    if mode in COUNTING_DOWN and state.countdown_until is not None:
        return state.countdown_until, Timer.COUNTDOWN
    if mode is Mode.RUNNING and state.program is not None and state.running_since is not None:
        ends = session.phase_ends(state.program)
        if state.phase_index >= len(ends):
            return state.running_since, Timer.PHASE_END
        phase_end = state.running_since + (ends[state.phase_index] - state.active_before)
        candidates = [(phase_end, Timer.PHASE_END)]
        if state.rails_released_at is not None and state.rails_required:
            candidates.append((state.rails_released_at + cfg.rails_grace_s, Timer.GRACE))
        phase = state.program.phases[state.phase_index]
        # A phase hardly longer than the warning would warn as it begins: it gets none.
        if state.warned_index != state.phase_index and phase.seconds > cfg.phase_warning_s + 1:
            candidates.append((max(phase_end - cfg.phase_warning_s, state.running_since), Timer.WARNING))
        return min(candidates, key=lambda c: c[0])
    if (
        mode is Mode.PAUSED
        and state.pause_reason in RESUMED_BY_HOLDING
        and state.link is not Link.DOWN
        and state.rails_held_since is not None
    ):
        due = state.rails_held_since + cfg.rails_hold_s
        if state.pause_reason is PauseReason.TURN and state.paused_at is not None:
            due = max(due, state.paused_at + cfg.turnaround_s)
        return due, Timer.HELD
    if mode is Mode.COOLDOWN and state.cooldown_until is not None:
        return state.cooldown_until, Timer.COOLDOWN
    return None


def _advance(state: State, now: float, cfg: SafetyConfig, fx: StepEffects, include_now: bool = True) -> State:
    """Fire every deadline up to *now* at its own time (those exactly at *now* only if
    *include_now*: the step's event goes before them when it makes moving less safe)."""
    # Bounded: a pathological state must not spin forever (each firing changes the state).
    # Each phase can fire a few timers (warning, end, turnaround, countdown): scale with its length.
    phases = getattr(state.program, "phases", ())
    limit = 10_000 + 8 * (len(phases) if isinstance(phases, tuple) else 0)
    for _ in range(limit):
        due = _due(state, cfg)
        if due is None or due[0] > now or (due[0] == now and not include_now):
            return state
        t, timer = due
        state = _settle_rails(FIRE[timer](state, t, cfg, fx), t)
    raise RuntimeError("timers did not settle")


def _countdown_ends(state: State, t: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    problems = _move_problems(state)
    if problems:
        return _refuse_to_move(state, t, problems, cfg, fx)
    if state.mode is Mode.COUNTDOWN:
        return _begin_session(state, t, cfg, fx)
    return _enter_running(state, t, fx, resumed=True)


def _grace_ends(state: State, t: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    fx.add(Say("hold_the_rails"))
    return _pause(state, t, PauseReason.RAILS, fx)


def _warn(state: State, t: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    fx.add(PlaySound("warning"))
    return replace(state, warned_index=state.phase_index)


def _held_long_enough(state: State, t: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    fx.add(RecordEvent("resume_countdown", t, {"reason": state.pause_reason.value}))
    return replace(state, mode=Mode.RESUMING, countdown_until=t + cfg.resume_countdown_s)


def _cooldown_ends(state: State, t: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    return replace(state, mode=Mode.SUMMARY, cooldown_since=None, cooldown_until=None)


# --- transitions -----------------------------------------------------------------------------


def _move_problems(state: State) -> list[str]:
    """The interlock at the moment the belt is told to move (a start, a resume, a new phase)."""
    return _interlock_problems(state, for_start=state.mode is Mode.COUNTDOWN)


def _interlock_problems(state: State, for_start: bool) -> list[str]:
    problems = []
    if not state.lanyard_clipped:
        problems.append("lanyard not clipped")
    if (for_start or state.rails_required) and not state.rails_held:
        problems.append("rails not held")
    if state.link is Link.DOWN:
        problems.append("treadmill link lost")
    return problems


def _refuse_to_move(state: State, t: float, problems: list[str], cfg: SafetyConfig, fx: StepEffects) -> State:
    """The belt was about to be told to move but the interlock does not hold: stop instead."""
    if state.mode is Mode.COUNTDOWN:
        return _cancel_countdown(state, t, "; ".join(problems), fx)
    if not state.lanyard_clipped:
        return _estop(state, t, cfg, fx)
    if state.link is Link.DOWN:
        fx.add(Say("link_lost"))
        return _pause(state, t, PauseReason.LINK, fx)
    fx.add(Say("hold_the_rails"))  # e.g. hands off as a rails-required phase begins: it begins paused
    return _pause(state, t, PauseReason.RAILS, fx)


def _target(state: State, index: int, t: float, fx: StepEffects) -> SetBelt:
    phase = state.program.phases[index]
    speed = phase.speed_kmh
    if index == 0 and not state.program.advanced:
        speed = min(speed, FIRST_PHASE_SPEED_KMH)
    capped_speed, capped_incline = state.caps.clamp(phase.direction, speed, phase.incline_pct)
    if capped_speed < phase.speed_kmh - 1e-9 or capped_incline < phase.incline_pct - 1e-9:
        fx.add(RecordEvent("speed_capped", t, {
            "phase": index, "asked_speed_kmh": phase.speed_kmh, "sent_speed_kmh": capped_speed,
            "asked_incline_pct": phase.incline_pct, "sent_incline_pct": capped_incline}))
    return SetBelt(capped_speed, capped_incline, phase.direction)


def _phase_detail(state: State, index: int) -> dict:
    phase = state.program.phases[index]
    return {"index": index, "name": phase.name, "direction": phase.direction, "seconds": phase.seconds,
            "speed_kmh": phase.speed_kmh, "incline_pct": phase.incline_pct, "rails": phase.rails,
            "round": phase.round_label}


def _begin_session(state: State, t: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    fx.add(OpenSession(state.program, state.member, t))
    if state.pain_before is not None:
        fx.add(ScoreSession("before", state.pain_before, t))
    fx.add(RecordEvent("session_started", t, {"program": state.program.id}))
    state = replace(state, session_open=True, session_started_at=t, active_before=0.0, phase_index=0,
                    warned_index=-1, pauses=0, outcome=None, outcome_reason="", pause_reason=None)
    fx.add(RecordEvent("phase_started", t, _phase_detail(state, 0)), PlaySound("start"))
    return _enter_running(state, t, fx, resumed=False)


def _enter_running(state: State, t: float, fx: StepEffects, resumed: bool) -> State:
    fx.add(_target(state, state.phase_index, t, fx))
    if resumed:
        fx.add(RecordEvent("resume", t, {"after": state.pause_reason.value if state.pause_reason else ""}),
               PlaySound("resume"))
    return replace(state, mode=Mode.RUNNING, running_since=t, countdown_until=None, pause_reason=None,
                   paused_at=None)


def _leave_running(state: State, t: float) -> State:
    return replace(state, active_before=state.active_seconds(t), running_since=None)


def _open_pause(state: State) -> PauseReason | None:
    """The reason of the pause already open (its resume countdown included); a turnaround is a
    planned stop, not a pause."""
    if state.mode in PAUSED and state.pause_reason is not PauseReason.TURN:
        return state.pause_reason
    return None


def _pause(state: State, t: float, reason: PauseReason, fx: StepEffects) -> State:
    fx.stop(reason.value)
    was = _open_pause(state)
    if was is not None:
        # One pause per pause: the open one goes on with a new reason (rule 8: recorded as such).
        kind = "resume_cancelled" if state.mode is Mode.RESUMING else "pause_reason_changed"
        fx.add(PlaySound("pause"),
               RecordEvent(kind, t, {"reason": reason.value, "was": was.value, "phase": state.phase_index}))
        return replace(state, mode=Mode.PAUSED, pause_reason=reason, countdown_until=None)
    if reason is PauseReason.TURN:
        fx.add(RecordEvent("turnaround", t, {"phase": state.phase_index}))
    else:
        fx.add(PlaySound("pause"), RecordEvent("pause", t, {"reason": reason.value, "phase": state.phase_index}))
    if state.mode is Mode.RUNNING:
        state = _leave_running(state, t)
    return replace(state, mode=Mode.PAUSED, pause_reason=reason, paused_at=t, countdown_until=None,
                   pauses=state.pauses + (0 if reason is PauseReason.TURN else 1))


def _turns(previous, phase) -> bool:
    """A change of walking direction: the belt stops in between (docs/practice.md)."""
    return previous is not None and previous.direction != phase.direction


def _next_phase(state: State, t: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    phases = state.program.phases
    previous = phases[state.phase_index] if state.phase_index < len(phases) else None
    index = state.phase_index + 1
    if index >= len(phases):
        fx.stop("program complete")
        state = replace(_leave_running(state, t), phase_index=len(phases))
        fx.add(RecordEvent("completed", t, {}), PlaySound("done"), Say("cooldown"))
        return _close(state, t, "completed", "", cfg, fx)
    state = replace(state, phase_index=index)
    phase = phases[index]
    fx.add(RecordEvent("phase_started", t, _phase_detail(state, index)))
    if _turns(previous, phase):
        fx.add(Say("turn_around", {"direction": phase.direction}))
        return _pause(state, t, PauseReason.TURN, fx)
    problems = _move_problems(state)
    if problems:
        return _refuse_to_move(state, t, problems, cfg, fx)
    fx.add(PlaySound("phase"))
    fx.add(_target(state, index, t, fx))
    return state


def _close(state: State, t: float, status: str, reason: str, cfg: SafetyConfig, fx: StepEffects,
           next_mode: Mode = Mode.COOLDOWN) -> State:
    if state.mode is Mode.RUNNING:
        state = _leave_running(state, t)
    completed = min(state.phase_index, len(state.program.phases)) if state.program else 0
    if state.session_open:
        fx.add(CloseSession(status, t, state.active_before, completed, reason))
    cooling = next_mode is Mode.COOLDOWN
    return replace(state, mode=next_mode, session_open=False, running_since=None, countdown_until=None,
                   pause_reason=None, paused_at=None,
                   cooldown_since=t if cooling else None, cooldown_until=t + cfg.cooldown_s if cooling else None,
                   outcome=status, outcome_reason=reason, ended_active_seconds=state.active_before,
                   ended_phases_completed=completed, pain_before=None)


def _estop(state: State, t: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    fx.stop("lanyard pulled")
    fx.add(PlaySound("estop"), RecordEvent("emergency_stop", t, {"mode": state.mode.value}))
    if state.session_open:
        state = _close(state, t, "emergency_stop", "lanyard pulled", cfg, fx, next_mode=Mode.ESTOP)
    return replace(state, mode=Mode.ESTOP, countdown_until=None, cooldown_since=None, cooldown_until=None,
                   running_since=None)


def _cancel_countdown(state: State, t: float, reason: str, fx: StepEffects) -> State:
    fx.stop(reason)
    fx.add(PlaySound("refused"), RecordEvent("start_cancelled", t, {"reason": reason}))
    return replace(state, mode=Mode.READY, countdown_until=None)


# --- events: one handler each, named on_<event in snake_case> ----------------------------------


def on_tick(state: State, event: Tick, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    return state  # time passing is the deadlines' business (_advance)


def on_lanyard_pulled(state: State, event: LanyardPulled, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    was_clipped = state.lanyard_clipped
    state = replace(state, lanyard_clipped=False)
    if state.mode in STARTED:
        return _estop(state, now, cfg, fx)
    fx.stop("lanyard pulled")  # nothing should be moving; say so to the belt anyway (rule 1)
    if state.mode is not Mode.ESTOP and was_clipped:  # a real edge, not the start-up reading
        fx.add(RecordEvent("lanyard_pulled", now, {"mode": state.mode.value}))
    return state


def on_lanyard_clipped(state: State, event: LanyardClipped, now: float, cfg: SafetyConfig,
                       fx: StepEffects) -> State:
    if state.mode is Mode.ESTOP and not state.lanyard_clipped:
        fx.add(RecordEvent("lanyard_clipped", now, {}))
    return replace(state, lanyard_clipped=True)  # the latch stays: only a confirm clears it (rule 2)


def on_rails_released(state: State, event: RailsReleased, now: float, cfg: SafetyConfig,
                      fx: StepEffects) -> State:
    was_held = state.rails_held
    state = replace(state, rails_held=False)  # the grace and hold clocks follow (_settle_rails)
    if state.mode is Mode.RUNNING and was_held:
        fx.add(RecordEvent("rails_released", now, {"early": state.rails_required, "phase": state.phase_index}))
        return state
    if state.mode is Mode.COUNTDOWN:
        return _cancel_countdown(state, now, "rails released", fx)
    if state.mode is Mode.RESUMING and state.rails_required:
        if was_held:  # an early release all the same: the rail statistics count it
            fx.add(RecordEvent("rails_released", now, {"early": True, "phase": state.phase_index}))
        fx.add(Say("hold_the_rails"))
        return _pause(state, now, PauseReason.RAILS, fx)
    return state


def on_rails_held(state: State, event: RailsHeld, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    if not state.rails_held and state.mode is Mode.RUNNING:
        fx.add(RecordEvent("rails_held", now, {"phase": state.phase_index}))
    return replace(state, rails_held=True)  # the grace and hold clocks follow (_settle_rails)


def on_sensor_fault(state: State, event: SensorFault, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    # When in doubt, stop the belt and say why (a stuck rail sensor cannot see a release).
    mode = state.mode
    fx.add(RecordEvent("sensor_fault", now, {"message": event.message, "mode": mode.value}),
           Say("sensor_fault", {"message": event.message}))
    # A rails or turnaround pause would resume on that same sensor's "held": make it a sensor
    # pause, which only a person's resume tap ends.
    if mode in PAUSABLE or (mode is Mode.PAUSED and state.pause_reason in RESUMED_BY_HOLDING):
        return _pause(state, now, PauseReason.SENSOR, fx)
    if mode is Mode.COUNTDOWN:
        return _cancel_countdown(state, now, "sensor fault", fx)
    return state


def on_link_lost(state: State, event: LinkLost, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    if state.link is Link.DOWN:
        return state
    mode = state.mode
    state = replace(state, link=Link.DOWN)
    fx.add(RecordEvent("link_lost", now, {"reason": event.reason, "mode": mode.value}))
    if mode is Mode.COUNTDOWN:
        return _cancel_countdown(state, now, "treadmill link lost", fx)
    if mode in PAUSABLE or (mode is Mode.PAUSED and state.pause_reason is not PauseReason.LINK):
        fx.add(Say("link_lost"))
        return _pause(state, now, PauseReason.LINK, fx)
    if mode in STOPPED_MODES:
        fx.stop("treadmill link lost")
    return state


def on_link_restored(state: State, event: LinkRestored, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    if state.link is not Link.DOWN:
        return state
    fx.add(RecordEvent("link_restored", now, {}))
    if state.mode is Mode.PAUSED:
        fx.add(Say("link_restored"))  # and no more: a person resumes (rule 5)
    return replace(state, link=Link.UP)


def on_treadmill_reported(state: State, event: TreadmillReported, now: float, cfg: SafetyConfig,
                          fx: StepEffects) -> State:
    mode = state.mode
    state = replace(state, belt_speed_kmh=event.speed_kmh, belt_incline_pct=event.incline_pct,
                    distance_m=event.distance_m if event.distance_m is not None else state.distance_m)
    if mode in MUST_BE_STILL and (event.speed_kmh or 0) > BELT_MOVING_KMH:
        fx.stop("belt still moving")
    if (mode is Mode.COOLDOWN and event.speed_kmh is not None and event.speed_kmh < BELT_STOPPED_KMH
            and state.cooldown_since is not None and now >= state.cooldown_since + cfg.cooldown_min_s):
        return replace(state, mode=Mode.SUMMARY, cooldown_since=None, cooldown_until=None)
    return state


def on_program_chosen(state: State, event: ProgramChosen, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    if state.mode not in CHOOSING:
        return state
    caps = cfg.caps.tightened(event.program.caps)
    if event.member is not None:
        caps = caps.tightened(event.member.caps)
    # A new pre-flight starts from zero: the last session's time and pauses stay only in its summary.
    return replace(state, mode=Mode.READY, program=event.program, member=event.member, caps=caps,
                   phase_index=0, outcome=None, outcome_reason="", pain_before=None, distance_m=None,
                   active_before=0.0, running_since=None, pauses=0)


def on_home_tapped(state: State, event: HomeTapped, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    if state.mode not in HOME_REACHABLE:
        return state
    return replace(state, mode=Mode.IDLE, program=None, member=None, caps=cfg.caps, outcome=None)


def on_start_tapped(state: State, event: StartTapped, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    if state.mode is not Mode.READY or state.program is None:
        return state
    problems = _interlock_problems(state, for_start=True)
    if problems:
        fx.add(RecordEvent("start_refused", now, {"reasons": problems}), PlaySound("refused"),
               Say("start_refused", {"reasons": problems}))
        return state
    fx.add(RecordEvent("start_accepted", now, {"program": state.program.id}))
    return replace(state, mode=Mode.COUNTDOWN, countdown_until=now + cfg.start_countdown_s)


def on_pause_tapped(state: State, event: PauseTapped, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    if state.mode in PAUSABLE:
        return _pause(state, now, PauseReason.USER, fx)
    if state.mode is Mode.COUNTDOWN:
        return _cancel_countdown(state, now, "paused", fx)
    return state


def on_resume_tapped(state: State, event: ResumeTapped, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    if state.mode is not Mode.PAUSED:
        return state
    if state.pause_reason in RESUMED_BY_HOLDING:
        fx.add(Say("hold_the_rails"))  # these resume by holding the rails
        return state
    problems = _interlock_problems(state, for_start=False)
    if problems:
        fx.add(RecordEvent("resume_refused", now, {"reasons": problems}), PlaySound("refused"),
               Say("resume_refused", {"reasons": problems}))
        return state
    return replace(state, mode=Mode.RESUMING, countdown_until=now + cfg.resume_countdown_s)


def on_stop_tapped(state: State, event: StopTapped, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    if state.mode is Mode.COUNTDOWN:
        return _cancel_countdown(state, now, "stopped", fx)
    if state.mode in SESSION_MODES:
        fx.stop("stopped")
        fx.add(RecordEvent("stop", now, {"phase": state.phase_index}), Say("cooldown"))
        return _close(state, now, "stopped", "stop tapped", cfg, fx)
    if state.mode is Mode.COOLDOWN:
        return replace(state, mode=Mode.SUMMARY, cooldown_since=None, cooldown_until=None)
    return state


def on_pain_tapped(state: State, event: PainTapped, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    if state.mode is Mode.COUNTDOWN:
        return _cancel_countdown(state, now, "pain", fx)
    if state.mode in SESSION_MODES:
        fx.stop("pain")
        fx.add(RecordEvent("pain", now, {"score": event.score, "phase": state.phase_index}), Say("pain_stop"))
        return _close(state, now, "stopped", "pain", cfg, fx)
    return state


def on_pain_scored(state: State, event: PainScored, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    score = event.score if event.score is None or 0 <= event.score <= 10 else None
    if event.when == "before" and state.mode is Mode.READY:
        return replace(state, pain_before=score)
    if event.when in ("after", "effort") and state.mode in AFTER_SESSION:
        fx.add(ScoreSession(event.when, score, now))
    return state


def on_confirm_tapped(state: State, event: ConfirmTapped, now: float, cfg: SafetyConfig, fx: StepEffects) -> State:
    if state.mode not in LATCHED:
        return state
    if not state.lanyard_clipped:
        fx.add(RecordEvent("confirm_refused", now, {"reason": "lanyard not clipped"}), PlaySound("refused"),
               Say("clip_lanyard_first"))
        return state
    fx.add(RecordEvent("estop_cleared" if state.mode is Mode.ESTOP else "fault_cleared", now, {}))
    if state.outcome is not None:
        return replace(state, mode=Mode.SUMMARY, fault="")
    return replace(state, mode=Mode.READY if state.program else Mode.IDLE, fault="")


Handler = Callable[[State, Event, float, SafetyConfig, StepEffects], State]

#: Every event's handler. An event type missing here changes nothing (garbage in: no effect).
HANDLERS: dict[type[Event], Handler] = {
    Tick: on_tick,
    LanyardPulled: on_lanyard_pulled,
    LanyardClipped: on_lanyard_clipped,
    RailsReleased: on_rails_released,
    RailsHeld: on_rails_held,
    SensorFault: on_sensor_fault,
    LinkLost: on_link_lost,
    LinkRestored: on_link_restored,
    TreadmillReported: on_treadmill_reported,
    ProgramChosen: on_program_chosen,
    HomeTapped: on_home_tapped,
    StartTapped: on_start_tapped,
    PauseTapped: on_pause_tapped,
    ResumeTapped: on_resume_tapped,
    StopTapped: on_stop_tapped,
    PainTapped: on_pain_tapped,
    PainScored: on_pain_scored,
    ConfirmTapped: on_confirm_tapped,
}

#: What each timer does when it is due.
FIRE: dict[Timer, Callable[[State, float, SafetyConfig, StepEffects], State]] = {
    Timer.COUNTDOWN: _countdown_ends,
    Timer.GRACE: _grace_ends,
    Timer.WARNING: _warn,
    Timer.PHASE_END: _next_phase,
    Timer.HELD: _held_long_enough,
    Timer.COOLDOWN: _cooldown_ends,
}
