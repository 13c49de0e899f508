"""Property tests: the invariants of docs/safety.md under random valid programs and random event
sequences (non-decreasing times, Ticks and big time gaps), events placed exactly on the core's own
deadlines (ties), plus garbage in for "never raises". At the end, a mutation check: each of a list
of deliberate bugs in the core must make one of these properties fail.

The checker below follows a run step by step and keeps only what it sees from the outside
(events in, effects and mode out), so it does not trust the core's own bookkeeping.
"""

from __future__ import annotations

import math
import os
import warnings

import pytest

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import HypothesisWarning
from hypothesis import strategies as st

from app.core import record, safety
from app.core.caps import FIRST_PHASE_SPEED_KMH, Caps
from app.core.effects import CloseSession, OpenSession, RecordEvent, SetBelt, StepEffects, StopBelt
from app.core.events import (
    ConfirmTapped,
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
from app.core.safety import Link, Mode, PauseReason, SafetyConfig, State, initial_state, next_deadline, step

try:
    from tests.strategies import latch_events, members, programs, rails_events, scenarios
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from strategies import latch_events, members, programs, rails_events, scenarios

#: A thorough run multiplies every example count: BACKSTEP_SAFETY_SCALE=10 pytest tests/test_safety_*.py
SCALE = float(os.environ.get("BACKSTEP_SAFETY_SCALE", "1"))


def examples(n: int) -> int:
    return max(1, round(n * SCALE))


SETTINGS = settings(max_examples=examples(180), deadline=None, suppress_health_check=[HealthCheck.too_slow])
EPS = 1e-6

STOPPED = {Mode.PAUSED, Mode.ESTOP, Mode.COOLDOWN, Mode.FAULT}
#: Records that mean "the belt was just told to stop" (an entry into a stopped state).
STOP_RECORDS = {"pause", "turnaround", "emergency_stop", "completed", "stop", "pain", "start_cancelled",
                "pause_reason_changed", "resume_cancelled"}
#: Records that start a pause or give the open one a new reason; their detail names the reason.
PAUSE_RECORDS = {"pause", "pause_reason_changed", "resume_cancelled"}

CONFIGS = st.sampled_from([
    SafetyConfig(),
    SafetyConfig(rails_grace_s=0.0, rails_hold_s=0.0, resume_countdown_s=0.0, start_countdown_s=0.0,
                 turnaround_s=0.0, cooldown_s=0.0, cooldown_min_s=0.0),
    SafetyConfig(caps=Caps(backward_speed_kmh=2.0, forward_speed_kmh=3.0, backward_incline_pct=2.0,
                           forward_incline_pct=3.0), rails_grace_s=2.5, rails_hold_s=0.5),
])


def expected_target(state_caps: Caps, program, index: int) -> tuple[float, float, str]:
    """What the belt must be told for phase *index*, from the outside rules (caps, first phase)."""
    phase = program.phases[index]
    speed = phase.speed_kmh
    if index == 0 and not program.advanced:
        speed = min(speed, FIRST_PHASE_SPEED_KMH)
    speed = min(speed, state_caps.speed_for(phase.direction))
    incline = min(phase.incline_pct, state_caps.incline_for(phase.direction))
    return speed, incline, phase.direction


class Checker:
    """Feeds a scenario to ``step`` and asserts every invariant after every step."""

    def __init__(self, cfg: SafetyConfig, program, member, link: Link):
        self.cfg = cfg
        self.program = program
        self.member = member
        self.state = initial_state(link=link, caps=cfg.caps)
        self.last_record_at = -math.inf
        self.session_open = False
        self.session_active = 0.0
        # Lanyard latch: after a pull, a clip and (for an e-stop) a confirm and a new start are owed.
        self.lanyard_owed: set[str] = set()
        # Link pause: after a link-lost pause, a LinkRestored and then a ResumeTapped are owed.
        self.link_owed: list[str] = []
        # The strictest of station, program and member caps, computed here (not by Caps.tightened).
        limits = [c for c in (cfg.caps, program.caps, member.caps if member else None) if c is not None]
        self.allowed_caps = Caps(*(min(getattr(c, f.name) for c in limits) for f in record.fields(Caps)))
        self.records: list[tuple[str, float]] = []
        self.belt_direction: str | None = None  # of the last SetBelt since the last StopBelt
        self.all_at_now = False
        self.pause_open = False  # a "pause" was recorded and neither resumed nor ended with the session
        self.hands_on = False    # from the rail events fed so far (unknown reads as off)
        self.let_go_at: float | None = None   # time of the last real release (held -> released)
        self.moving_since = -math.inf          # the belt's last start, resume or new phase

    def feed(self, now: float, event) -> None:
        before = self.state
        self._now = now
        self._before_event(before, event)
        # Nothing due before *now*: everything this step does happens at *now* (a tie, or no timer).
        due = next_deadline(before, self.cfg)
        self.all_at_now = due is None or due >= now
        after, effects = step(before, event, now, self.cfg)
        assert isinstance(after, State)
        assert isinstance(effects, tuple)
        self.state = after
        self._check(before, after, event, effects, now)
        deadline = next_deadline(after, self.cfg)
        if after.mode in (Mode.COUNTDOWN, Mode.RESUMING, Mode.RUNNING, Mode.COOLDOWN):
            assert deadline is not None, "a timed mode always tells the loop when to tick next"
        assert deadline is None or deadline > now - EPS or after.mode is Mode.FAULT, (
            "every deadline due by now has been fired")

    # -- bookkeeping of what the person did -------------------------------------------------
    def _before_event(self, before: State, event) -> None:
        if isinstance(event, RailsReleased) and self.hands_on:
            self.let_go_at = self._now
        if isinstance(event, (RailsHeld, RailsReleased)):
            self.hands_on = isinstance(event, RailsHeld)
        if isinstance(event, LanyardClipped):
            self.lanyard_owed.discard("clip")
        elif isinstance(event, ConfirmTapped) and "clip" not in self.lanyard_owed:
            self.lanyard_owed.discard("confirm")
        elif (isinstance(event, StartTapped) and before.mode is Mode.READY
              and not ({"clip", "confirm"} & self.lanyard_owed)):
            self.lanyard_owed.discard("start")
        elif isinstance(event, LinkRestored) and self.link_owed[:1] == ["restore"]:
            self.link_owed.pop(0)
        elif isinstance(event, ResumeTapped) and self.link_owed == ["resume"]:
            self.link_owed.pop(0)

    def _check(self, before: State, after: State, event, effects, now: float) -> None:
        belts = [e for e in effects if isinstance(e, SetBelt)]
        moving = [b for b in belts if b.speed_kmh > 0]
        records = [e for e in effects if isinstance(e, RecordEvent)]
        kinds = {r.kind for r in records}

        # Valid inputs never reach the internal guard or FAULT: that would hide a logic bug.
        assert after.mode is not Mode.FAULT, after.fault
        assert "fault" not in kinds, [r.detail for r in records if r.kind == "fault"]

        # No speed above zero unless the resulting mode is RUNNING, with the lanyard clipped.
        if moving:
            assert after.mode is Mode.RUNNING
            assert after.lanyard_clipped
            assert after.link is not Link.DOWN

        # The interlock holds at the moment the belt is told to move: lanyard clipped, rails held
        # where the phase requires them, link not lost. The facts after the step were the facts
        # then when the whole step happens at *now* (an event exactly on a deadline), or when its
        # event changes no sensor or link fact (the last SetBelt is then for the final phase).
        facts_constant = not isinstance(event, (RailsReleased, RailsHeld, LanyardPulled, LanyardClipped,
                                                LinkLost, LinkRestored))
        if moving and (self.all_at_now or facts_constant):
            assert after.lanyard_clipped, "belt told to move with the lanyard pulled"
            assert after.rails_held or not after.rails_required, "belt told to move with the hands off"
            assert after.link is not Link.DOWN
        # A resume never goes faster than the phase asks or the caps allow.
        if belts and any(r.kind == "resume" for r in records):
            phase = after.program.phases[after.phase_index]
            assert belts[-1].speed_kmh <= phase.speed_kmh + EPS
            assert belts[-1].speed_kmh <= self.allowed_caps.speed_for(phase.direction) + EPS

        # Every entry into a stopped state, and any way out of RUNNING, stops first in that step.
        entered_stopped = after.mode in STOPPED and (after.mode is not before.mode
                                                     or after.pause_reason is not before.pause_reason)
        left_running = before.mode is Mode.RUNNING and after.mode is not Mode.RUNNING
        if entered_stopped or left_running or (kinds & STOP_RECORDS) or isinstance(event, LanyardPulled):
            assert effects and isinstance(effects[0], StopBelt), (before.mode, after.mode, effects)
        assert sum(isinstance(e, StopBelt) for e in effects) <= 1
        if any(isinstance(e, StopBelt) for e in effects):
            assert isinstance(effects[0], StopBelt)
        # A stop is never followed by an older belt command: what the shell does last is the truth.
        if belts:
            last = belts[-1]
            assert after.mode is Mode.RUNNING
            assert (last.speed_kmh, last.incline_pct, last.direction) == expected_target(
                after.caps, after.program, after.phase_index)

        # A change of walking direction always has the belt stopped in between (turnaround).
        for e in effects:
            if isinstance(e, StopBelt):
                self.belt_direction = None
            elif isinstance(e, SetBelt):
                assert self.belt_direction in (None, e.direction), "direction changed without a stop"
                self.belt_direction = e.direction

        # Caps: every SetBelt within the config's, the program's and the member's caps; every
        # SetBelt is the capped target of some phase (so the first phase never above 1.0 mph).
        if belts:
            targets = {expected_target(after.caps, self.program, i) for i in range(len(self.program.phases))}
        for b in belts:
            assert 0 <= b.speed_kmh <= self.allowed_caps.speed_for(b.direction) + EPS
            assert 0 <= b.incline_pct <= self.allowed_caps.incline_for(b.direction) + EPS
            assert b.speed_kmh <= self.cfg.caps.speed_for(b.direction) + EPS
            assert b.incline_pct <= self.cfg.caps.incline_for(b.direction) + EPS
            assert (b.speed_kmh, b.incline_pct, b.direction) in targets
        if belts and after.phase_index == 0 and not self.program.advanced:
            assert belts[-1].speed_kmh <= FIRST_PHASE_SPEED_KMH + EPS

        # The lanyard latch: an e-stop is left only by a confirm with the lanyard clipped.
        if before.mode is Mode.ESTOP and after.mode not in (Mode.ESTOP, Mode.FAULT):
            assert isinstance(event, ConfirmTapped) and before.lanyard_clipped and after.lanyard_clipped
            assert any(r.kind == "estop_cleared" for r in records)
        if isinstance(event, ConfirmTapped) and before.mode is Mode.ESTOP and not before.lanyard_clipped:
            assert after.mode is Mode.ESTOP and "confirm_refused" in kinds
        if isinstance(event, LanyardPulled):
            self.lanyard_owed = {"clip", "start"}
            if after.mode is Mode.ESTOP:
                self.lanyard_owed.add("confirm")
        if moving:
            assert not self.lanyard_owed, f"belt moved while {self.lanyard_owed} still owed after a lanyard pull"

        # Recorded times: non-decreasing, never in the future.
        for e in effects:
            at = getattr(e, "at", None)
            if at is None:
                continue
            assert at <= now + EPS, (e, now)
            assert at >= self.last_record_at - EPS, (e, self.last_record_at)
            self.last_record_at = max(self.last_record_at, at)

        # Sessions: opened at most once before closed; every close matches an open.
        for e in effects:
            if isinstance(e, OpenSession):
                assert not self.session_open, "session opened twice"
                self.session_open = True
                self.session_active = 0.0
            elif isinstance(e, CloseSession):
                assert self.session_open, "close without open"
                self.session_open = False
                assert e.active_seconds >= self.session_active - EPS
                assert e.active_seconds <= self.program.total_seconds + EPS
                assert 0 <= e.phases_completed <= len(self.program.phases)
                if e.status == "completed":
                    assert e.active_seconds >= self.program.total_seconds - EPS
                    assert e.phases_completed == len(self.program.phases)
        assert after.session_open == self.session_open

        # Active time: within the program, never decreasing while a session runs.
        if self.session_open:
            active = after.active_seconds(now)
            assert active <= self.program.total_seconds + EPS
            assert active >= self.session_active - EPS
            self.session_active = active

        self.records += [(r.kind, r.at) for r in records]

        # One pause per pause: while one is open (resume countdown included), a new reason is
        # recorded as a change of the open pause, never as a second pause.
        for e in effects:
            kind = e.kind if isinstance(e, RecordEvent) else None
            if kind == "pause":
                assert not self.pause_open, "a second pause recorded while one is open"
                self.pause_open = True
            elif kind in ("pause_reason_changed", "resume_cancelled"):
                assert self.pause_open, f"{kind} without an open pause"
            elif kind == "resume" or isinstance(e, CloseSession):
                self.pause_open = False

        # Rails: a rails pause only where the rails are required, and never late.
        for r in records:
            if r.kind in PAUSE_RECORDS and r.detail["reason"] == PauseReason.RAILS.value:
                phase = self.program.phases[r.detail["phase"]]
                assert phase.rails_required or (self.member is not None and not self.member.hands_free_allowed)
        if after.mode is Mode.RUNNING and after.rails_required and not after.rails_held:
            assert after.rails_released_at is not None
            assert now < after.rails_released_at + self.cfg.rails_grace_s, "the grace time has run out"
        # Hands off while running a rails-required phase only in the grace after letting go during
        # that run: never a start, resume or new phase begun with the hands already off. So a
        # rails pause comes exactly a grace time after letting go, at once when letting go during a
        # resume countdown, or just as a phase begins.
        for r in records:
            if r.kind in ("session_started", "phase_started", "resume"):
                self.moving_since = r.at
            elif r.kind == "pause" and r.detail["reason"] == PauseReason.RAILS.value:
                after_grace = self.let_go_at is not None and math.isclose(
                    r.at, self.let_go_at + self.cfg.rails_grace_s, rel_tol=1e-12, abs_tol=1e-9)
                assert after_grace or r.at in (self.let_go_at, self.moving_since), (
                    r.at, self.let_go_at, self.moving_since)
        if after.mode is Mode.RUNNING and after.rails_required and not self.hands_on:
            assert self.let_go_at is not None and self.let_go_at >= self.moving_since, (
                "a rails-required run began with the hands off")

        # The link-lost pause never ends without a LinkRestored (and then a person's resume).
        if any(r.kind in PAUSE_RECORDS and r.detail["reason"] == PauseReason.LINK.value for r in records):
            self.link_owed = ["restore", "resume"]
        if any(isinstance(e, CloseSession) for e in effects):
            self.link_owed = []
        if self.link_owed:
            assert after.mode in (Mode.PAUSED, Mode.ESTOP, Mode.COOLDOWN, Mode.SUMMARY), after.mode
            if after.mode is Mode.PAUSED:
                assert after.pause_reason is PauseReason.LINK


def run(cfg, program, member, timed, link=Link.UP):
    checker = Checker(cfg, program, member, link)
    for now, event in timed:
        checker.feed(now, event)
    return checker


@SETTINGS
@given(cfg=CONFIGS, scenario=scenarios(), link=st.sampled_from([Link.UP, Link.NONE]))
def test_invariants_hold_for_random_sessions(cfg, scenario, link):
    program, member, timed = scenario
    run(cfg, program, member, timed, link)


@SETTINGS
@given(cfg=CONFIGS, scenario=scenarios(max_events=30, focus=latch_events), link=st.sampled_from([Link.UP, Link.NONE]))
def test_invariants_hold_for_lanyard_and_link_stories(cfg, scenario, link):
    """The same invariants on the latches: lanyard pulls, clips and confirms, link loss and
    restore, resume taps, restarts."""
    program, member, timed = scenario
    run(cfg, program, member, timed, link)


@SETTINGS
@given(cfg=CONFIGS, scenario=scenarios(max_events=30, focus=rails_events,
                                       programs=programs(directions=("backward",)),
                                       members=members(hands_free=st.just(True))))
def test_invariants_hold_for_rails_and_pause_stories(cfg, scenario):
    """The same invariants on a narrower mix (rails on/off, pause, resume, time; one direction, so
    no turnarounds; members allowed hands-free, so optional phases stay optional), which reaches
    the grace, hold-to-resume and resume countdown interplay between phases far more often."""
    program, member, timed = scenario
    run(cfg, program, member, timed)


@settings(max_examples=examples(100), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cfg=CONFIGS, scenario=scenarios(max_events=25), gaps=st.lists(st.floats(0, 50), min_size=1, max_size=5))
def test_ticking_more_often_changes_no_recorded_time(cfg, scenario, gaps):
    """Deadlines fire at their own time: extra Ticks in between change neither the records nor the
    final mode. (The loop may tick at any rate without changing what is stored.)"""
    program, member, timed = scenario
    sparse = run(cfg, program, member, timed)
    dense_events = []
    for i, (now, event) in enumerate(timed):
        prev = timed[i - 1][0] if i else now
        extra = prev
        for gap in gaps:
            extra += gap
            if extra < now:
                dense_events.append((extra, Tick()))
        dense_events.append((now, event))
    dense = run(cfg, program, member, dense_events)
    assert dense.state.mode is sparse.state.mode
    assert dense.state.phase_index == sparse.state.phase_index
    assert math.isclose(dense.state.active_before, sparse.state.active_before, abs_tol=1e-6)
    assert [k for k, _ in dense.records] == [k for k, _ in sparse.records]
    for (_, a), (_, b) in zip(dense.records, sparse.records):
        assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-6)


@SETTINGS
@given(cfg=CONFIGS, program=programs(), member=members(), gap=st.floats(0, 4 * 3600))
def test_one_late_tick_lands_exactly_where_the_clock_says(cfg, program, member, gap):
    """Hands on the rails, nothing else happening: one tick after any gap finds the program where
    the clock puts it, and a completed program is recorded at exactly its planned end."""
    checker = Checker(cfg, program, member, Link.UP)
    for event in (LanyardClipped(), RailsHeld(), ProgramChosen(program, member), StartTapped()):
        checker.feed(0.0, event)
    checker.feed(gap, Tick())
    turns = sum(a.direction != b.direction for a, b in zip(program.phases, program.phases[1:]))
    per_turn = max(cfg.rails_hold_s, cfg.turnaround_s) + cfg.resume_countdown_s
    end = cfg.start_countdown_s + program.total_seconds + turns * per_turn
    completed = [at for kind, at in checker.records if kind == "completed"]
    assert [kind for kind, _ in checker.records].count("pause") == 0
    if gap >= end + 1e-6 * end + EPS:
        assert completed == [pytest.approx(end)]
        assert checker.state.mode in (Mode.COOLDOWN, Mode.SUMMARY)
        assert checker.state.ended_active_seconds == pytest.approx(program.total_seconds)
    elif gap < end - 1e-6 * end - EPS:
        assert completed == []
        assert checker.state.mode in (Mode.COUNTDOWN, Mode.RUNNING, Mode.PAUSED, Mode.RESUMING)
        assert checker.session_open == (gap >= cfg.start_countdown_s)


#: Events worth placing exactly on a deadline: the ones that make moving unsafe, and the rest.
TIE_EVENTS = st.sampled_from([
    RailsReleased(), RailsReleased(), LanyardPulled(), LinkLost(), PauseTapped(), StopTapped(), PainTapped(),
    SensorFault("left rail stuck"), RailsHeld(), LanyardClipped(), LinkRestored(), ResumeTapped(),
    ResumeTapped(), StartTapped(), ConfirmTapped(), Tick(),
])


@SETTINGS
@given(cfg=CONFIGS, program=programs(), member=members(), link=st.sampled_from([Link.UP, Link.NONE]),
       data=st.data())
def test_events_exactly_on_deadlines_never_move_the_belt_unsafely(cfg, program, member, link, data):
    """Ties: events placed exactly on the core's own deadlines (countdown ends, grace ends, phase
    ends, hold-to-resume ends), picked with next_deadline(). The safe outcome wins every tie: no
    SetBelt above zero with the lanyard pulled, the hands off where the phase needs them, or the
    link lost; a resume never above the phase's speed or the caps (Checker)."""
    checker = Checker(cfg, program, member, link)
    now = 0.0
    for event in (LanyardClipped(), RailsHeld(), ProgramChosen(program, member), StartTapped()):
        checker.feed(now, event)
    for _ in range(data.draw(st.integers(5, 40), label="steps")):
        deadline = next_deadline(checker.state, cfg)
        if deadline is not None and data.draw(st.integers(0, 4), label="on a deadline") > 0:
            now = max(now, deadline)
        else:
            now += data.draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 10.0]), label="gap")
        event = data.draw(st.one_of(TIE_EVENTS, st.just(ProgramChosen(program, member))), label="event")
        checker.feed(now, event)


GARBAGE = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.floats(), st.lists(st.integers(), max_size=2))


@st.composite
def garbage_states(draw):
    base = initial_state()
    if draw(st.integers(0, 5)) == 0:
        return draw(GARBAGE)
    program = draw(st.one_of(programs(), GARBAGE))
    changes = {
        "mode": draw(st.one_of(st.sampled_from(list(Mode)), GARBAGE)),
        "program": program,
        "phase_index": draw(st.one_of(st.integers(-3, 200), GARBAGE)),
        "running_since": draw(st.one_of(st.floats(), GARBAGE)),
        "countdown_until": draw(st.one_of(st.floats(), st.none())),
        "rails_released_at": draw(st.one_of(st.floats(), GARBAGE)),
        "rails_held_since": draw(st.one_of(st.floats(), GARBAGE)),
        "pause_reason": draw(st.one_of(st.sampled_from(list(PauseReason)), GARBAGE)),
        "link": draw(st.one_of(st.sampled_from(list(Link)), GARBAGE)),
        "session_open": draw(st.one_of(st.booleans(), GARBAGE)),
        "caps": draw(st.one_of(st.just(Caps()), GARBAGE)),
        "active_before": draw(st.one_of(st.floats(), GARBAGE)),
        "cooldown_until": draw(st.one_of(st.floats(), GARBAGE)),
        "cooldown_since": draw(st.one_of(st.floats(), GARBAGE)),
        "paused_at": draw(st.one_of(st.floats(), GARBAGE)),
        "member": draw(st.one_of(members(), GARBAGE)),
    }
    keep = draw(st.sets(st.sampled_from(sorted(changes))))
    return record.replace(base, **{k: v for k, v in changes.items() if k in keep})


garbage_events = st.one_of(
    GARBAGE,
    st.builds(TreadmillReported, speed_kmh=GARBAGE, incline_pct=GARBAGE, distance_m=GARBAGE),
    st.builds(PainScored, when=GARBAGE, score=GARBAGE),
    st.builds(ProgramChosen, program=GARBAGE, member=GARBAGE),
    st.builds(LinkLost, reason=GARBAGE),
    st.sampled_from([Tick(), LanyardPulled(), StartTapped(), ResumeTapped(), ConfirmTapped(), LinkRestored()]),
)


@settings(max_examples=examples(250), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(state=garbage_states(), event=garbage_events, now=st.one_of(st.floats(), GARBAGE), cfg=CONFIGS)
def test_step_never_raises_on_garbage(state, event, now, cfg):
    new, effects = step(state, event, now, cfg)
    assert isinstance(new, State)
    assert isinstance(effects, tuple)
    if new.mode is Mode.FAULT and getattr(state, "mode", None) is not Mode.FAULT:
        assert effects and isinstance(effects[0], StopBelt), "entering a fault always stops the belt first"
    # Nothing that moves the belt outside RUNNING, whatever came in.
    assert not any(isinstance(e, SetBelt) and e.speed_kmh > 0 for e in effects) or new.mode is Mode.RUNNING
    next_deadline(new, cfg)
    next_deadline(state, cfg)


# --- the mutation check: each deliberate bug below must make some property above fail ------------

#: Deterministic, no example database (a mutant's failures must not be replayed against the real
#: core), no shrinking (finding one failure is all a mutation check needs).
MUTATION_SETTINGS = settings(max_examples=300, deadline=None, database=None, derandomize=True,
                             phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))

#: The properties above, re-run under MUTATION_SETTINGS, cheapest finders first.
PROBES = (
    (test_events_exactly_on_deadlines_never_move_the_belt_unsafely,
     dict(cfg=CONFIGS, program=programs(), member=members(), link=st.sampled_from([Link.UP, Link.NONE]),
          data=st.data())),
    (test_invariants_hold_for_rails_and_pause_stories,
     dict(cfg=CONFIGS, scenario=scenarios(max_events=30, focus=rails_events,
                                          programs=programs(directions=("backward",)),
                                          members=members(hands_free=st.just(True))))),
    (test_invariants_hold_for_random_sessions,
     dict(cfg=CONFIGS, scenario=scenarios(), link=st.sampled_from([Link.UP, Link.NONE]))),
    (test_invariants_hold_for_lanyard_and_link_stories,
     dict(cfg=CONFIGS, scenario=scenarios(max_events=30, focus=latch_events),
          link=st.sampled_from([Link.UP, Link.NONE]))),
)


def _after_handler(monkeypatch, event_type, change):
    """Mutate the handler of *event_type*: *change* rewrites the state it returns."""
    original = safety.HANDLERS[event_type]
    monkeypatch.setitem(safety.HANDLERS, event_type,
                        lambda state, event, now, cfg, fx: change(original(state, event, now, cfg, fx), now, cfg))


def _pause_without_stop(monkeypatch):
    original = safety._pause

    def mutant(state, t, reason, fx):
        fx.stop = lambda reason: None  # this step's collector forgets stops
        return original(state, t, reason, fx)

    monkeypatch.setattr(safety, "_pause", mutant)


def _late_grace(monkeypatch):
    original = safety._due

    def mutant(state, cfg):
        due = original(state, cfg)
        return (due[0] + 0.5, due[1]) if due and due[1] is safety.Timer.GRACE else due

    monkeypatch.setattr(safety, "_due", mutant)


def _confirm_without_clip(monkeypatch):
    original = safety.HANDLERS[ConfirmTapped]
    monkeypatch.setitem(safety.HANDLERS, ConfirmTapped,
                        lambda state, event, now, cfg, fx: original(record.replace(state, lanyard_clipped=True),
                                                                     event, now, cfg, fx))


MUTATIONS = {
    "first phase above 1 mph": lambda mp: mp.setattr(safety, "FIRST_PHASE_SPEED_KMH", 50.0),
    "link restored resumes by itself": lambda mp: _after_handler(mp, LinkRestored, lambda s, now, cfg: (
        record.replace(s, mode=Mode.RESUMING, countdown_until=now + cfg.resume_countdown_s)
        if s.mode is Mode.PAUSED and s.pause_reason is PauseReason.LINK else s)),
    "confirm without the lanyard clipped": _confirm_without_clip,
    "pause without a stop": _pause_without_stop,
    "caps loosened by a member": lambda mp: mp.setattr(Caps, "tightened", lambda self, other: other or self),
    "grace runs late": _late_grace,
    "clip alone clears the e-stop": lambda mp: _after_handler(mp, LanyardClipped, lambda s, now, cfg: (
        record.replace(s, mode=Mode.SUMMARY if s.outcome else Mode.READY) if s.mode is Mode.ESTOP else s)),
    "optional phases pause": lambda mp: mp.setattr(State, "rails_required", property(lambda self: True)),
    "active time runs during pauses": lambda mp: mp.setattr(
        safety, "_leave_running", lambda state, t: record.replace(state, active_before=state.active_seconds(t))),
    "no turnaround": lambda mp: mp.setattr(safety, "_turns", lambda previous, phase: False),
    "a timer wins a tie": lambda mp: mp.setattr(safety, "STOP_FIRST_EVENTS", ()),
    "no interlock when the belt is told to move": lambda mp: mp.setattr(safety, "_move_problems", lambda s: []),
    "a second pause for a new reason": lambda mp: mp.setattr(safety, "_open_pause", lambda s: None),
    "stop not first": lambda mp: mp.setattr(StepEffects, "finish", lambda self, may_move, now: tuple(
        self._rest) + ((self._stop,) if self._stop else ())),
}


def _caught() -> str | None:
    """The name of the first property that fails, or None."""
    for test, strategies in PROBES:
        probe = MUTATION_SETTINGS(given(**strategies)(test.hypothesis.inner_test))
        try:
            with warnings.catch_warnings():  # a mutant's falsifying example may be long to print
                warnings.simplefilter("ignore", HypothesisWarning)
                probe()
        except (AssertionError, BaseExceptionGroup):  # a property failed: the mutation is caught
            return test.__name__
    return None


@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_the_properties_catch_a_mutated_core(monkeypatch, mutation):
    """The properties are worth what they catch: each deliberate bug in the core must fail one."""
    MUTATIONS[mutation](monkeypatch)
    assert _caught() is not None, f"no property caught the mutation {mutation!r}"
