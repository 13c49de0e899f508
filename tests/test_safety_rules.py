"""One or more plain example tests per safety rule of docs/safety.md (rules 1-8).

Each test drives the real ``step`` function with a short, readable story and checks what the
station does (mode, effects, recorded events), never the internals it uses to get there.
"""

from __future__ import annotations


import pytest

from app.core import record
from app.core.caps import FIRST_PHASE_SPEED_KMH, Caps
from app.core.effects import CloseSession, OpenSession, RecordEvent, Say, SetBelt, StopBelt
from app.core.events import (
    ConfirmTapped,
    HomeTapped,
    LanyardClipped,
    LanyardPulled,
    LinkLost,
    LinkRestored,
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
from app.core.member import Member
from app.core.program import load_program
from app.core.safety import Link, Mode, PauseReason, SafetyConfig, initial_state, next_deadline, step
from app.core.units import KMH_PER_MPH

CFG = SafetyConfig(rails_grace_s=1.0, rails_hold_s=2.0, resume_countdown_s=3.0, start_countdown_s=3.0,
                   turnaround_s=5.0, cooldown_s=15.0)


def make_program(*phases, **top):
    """A program built by the real loader; phases are dicts with defaults filled in."""
    full = []
    for phase in phases:
        if "repeat" in phase:
            full.append(phase)
            continue
        entry = {"direction": "backward", "seconds": 60, "speed": 0.5, "rails": "required"}
        entry.update(phase)
        full.append(entry)
    data = {"id": "test", "name": "Test", "units": "mph", "phases": full}
    data.update(top)
    # check_rules=False: these programs test the core at its edges (a first phase above 1.0 mph that
    # the core must clamp, 5-second phases), which the loader's practice rules would refuse.
    program, problems = load_program(data, "test.toml", check_rules=False)
    assert program is not None, [str(p) for p in problems]
    return program


class Station:
    """Drives the core like the main loop does, and keeps every effect with the step it came from."""

    def __init__(self, cfg=CFG, link=Link.NONE, caps=None):
        self.cfg = cfg
        self.state = initial_state(link=link, caps=caps)
        self.now = 0.0
        self.steps: list[tuple[float, object, tuple]] = []

    def send(self, event, at=None):
        if at is not None:
            assert at >= self.now
            self.now = at
        self.state, effects = step(self.state, event, self.now, self.cfg)
        self.steps.append((self.now, event, effects))
        return effects

    def tick(self, at):
        return self.send(Tick(), at)

    @property
    def mode(self):
        return self.state.mode

    @property
    def effects(self):
        return [e for _, _, effects in self.steps for e in effects]

    def records(self, kind=None):
        return [e for e in self.effects if isinstance(e, RecordEvent) and (kind is None or e.kind == kind)]

    def belts(self):
        return [e for e in self.effects if isinstance(e, SetBelt)]

    def let_go(self, at):
        """Hands off the rails at *at*, in a rails-required phase: paused once the grace is over."""
        self.send(RailsReleased(), at)
        self.tick(at + self.cfg.rails_grace_s)
        assert self.mode is Mode.PAUSED and self.state.pause_reason is PauseReason.RAILS

    def ready(self, program, member=None, at=0.0):
        self.send(LanyardClipped(), at)
        self.send(RailsHeld())
        self.send(ProgramChosen(program, member))
        assert self.mode is Mode.READY

    def start(self, program, member=None, at=0.0):
        """Through the interlock and the start countdown: RUNNING at ``at + start_countdown_s``."""
        self.ready(program, member, at)
        self.send(StartTapped())
        assert self.mode is Mode.COUNTDOWN
        self.tick(at + self.cfg.start_countdown_s)
        assert self.mode is Mode.RUNNING
        return at + self.cfg.start_countdown_s


def first_is_stop(effects):
    return bool(effects) and isinstance(effects[0], StopBelt)


def no_faults(station):
    assert station.mode is not Mode.FAULT
    assert station.records("fault") == []


# --- rule 4: the start interlock --------------------------------------------------------------


@pytest.mark.parametrize(
    "setup, reasons",
    [
        ([RailsHeld()], ["lanyard not clipped"]),
        ([LanyardClipped()], ["rails not held"]),
        ([], ["lanyard not clipped", "rails not held"]),
        ([LanyardClipped(), RailsHeld(), LinkLost()], ["treadmill link lost"]),
        ([LanyardClipped(), RailsHeld(), LanyardPulled()], ["lanyard not clipped"]),
        ([LanyardClipped(), RailsHeld(), RailsReleased()], ["rails not held"]),
    ],
)
def test_start_refused_without_interlock_is_recorded_with_reasons(setup, reasons):
    station = Station(link=Link.UP)
    program = make_program({})
    for event in setup:
        station.send(event, 0.0)
    station.send(ProgramChosen(program), 1.0)
    effects = station.send(StartTapped(), 2.0)
    assert station.mode is Mode.READY
    refused = [e for e in effects if isinstance(e, RecordEvent) and e.kind == "start_refused"]
    assert len(refused) == 1
    assert refused[0].at == 2.0
    assert sorted(refused[0].detail["reasons"]) == sorted(reasons)
    assert not any(isinstance(e, (SetBelt, OpenSession)) for e in effects)
    # Nothing happens by itself later either.
    station.tick(100.0)
    assert station.mode is Mode.READY
    assert station.belts() == []


def test_start_accepted_counts_down_then_runs_first_phase():
    station = Station()
    program = make_program({"speed": 0.8, "incline": 0})
    station.ready(program, at=10.0)
    effects = station.send(StartTapped())
    assert station.mode is Mode.COUNTDOWN
    assert [e.kind for e in effects if isinstance(e, RecordEvent)] == ["start_accepted"]
    assert not any(isinstance(e, SetBelt) for e in effects)
    assert next_deadline(station.state, CFG) == pytest.approx(13.0)
    station.tick(12.9)
    assert station.mode is Mode.COUNTDOWN
    effects = station.tick(13.0)
    assert station.mode is Mode.RUNNING
    opens = [e for e in effects if isinstance(e, OpenSession)]
    assert len(opens) == 1 and opens[0].at == 13.0
    belts = [e for e in effects if isinstance(e, SetBelt)]
    assert belts == [SetBelt(pytest.approx(0.8 * KMH_PER_MPH), 0.0, "backward")]


@pytest.mark.parametrize("event", [RailsReleased(), LanyardPulled(), LinkLost(), PauseTapped(), StopTapped(),
                                   PainTapped()])
def test_countdown_is_cancelled_with_a_stop_and_never_starts(event):
    station = Station(link=Link.UP)
    station.ready(make_program({}))
    station.send(StartTapped())
    effects = station.send(event, 1.0)
    assert first_is_stop(effects)
    assert station.mode in (Mode.READY, Mode.ESTOP)
    station.tick(60.0)
    assert station.belts() == []
    assert not any(isinstance(e, OpenSession) for e in station.effects)


def test_first_phase_never_above_one_mph_unless_advanced():
    program = make_program({"speed": 2.5, "seconds": 30}, {"speed": 2.5, "seconds": 30})
    station = Station()
    station.start(program)
    first = station.belts()[-1]
    assert first.speed_kmh == pytest.approx(FIRST_PHASE_SPEED_KMH)
    assert station.records("speed_capped"), "a capped command is recorded"
    station.tick(3.0 + 30.0)
    # The second phase is not the first: it gets the speed the program asks for.
    assert station.belts()[-1].speed_kmh == pytest.approx(2.5 * KMH_PER_MPH)


def test_first_phase_cap_survives_a_pause_and_resume():
    program = make_program({"speed": 2.5, "seconds": 60})
    station = Station()
    station.start(program)
    station.send(PauseTapped(), 10.0)
    station.send(ResumeTapped(), 11.0)
    station.tick(14.0)
    assert station.mode is Mode.RUNNING
    assert all(b.speed_kmh <= FIRST_PHASE_SPEED_KMH + 1e-9 for b in station.belts())


def test_advanced_program_starts_at_its_own_speed():
    program = make_program({"speed": 2.5}, advanced=True)
    station = Station()
    station.start(program)
    assert station.belts()[-1].speed_kmh == pytest.approx(2.5 * KMH_PER_MPH)


# --- rule 3: rails released too early ---------------------------------------------------------


def test_rails_release_pauses_after_exactly_the_grace_time():
    station = Station()
    t0 = station.start(make_program({"seconds": 120}))
    effects = station.send(RailsReleased(), t0 + 10.0)
    assert station.mode is Mode.RUNNING, "the grace time runs first"
    assert not any(isinstance(e, StopBelt) for e in effects)
    assert next_deadline(station.state, CFG) == pytest.approx(t0 + 11.0)
    station.tick(t0 + 10.9)
    assert station.mode is Mode.RUNNING
    effects = station.tick(t0 + 11.0)
    assert station.mode is Mode.PAUSED
    assert station.state.pause_reason is PauseReason.RAILS
    assert first_is_stop(effects)
    assert Say("hold_the_rails") in effects
    pauses = station.records("pause")
    assert [(p.at, p.detail["reason"]) for p in pauses] == [(t0 + 11.0, "rails released")]


def test_rails_pause_time_is_release_plus_grace_even_when_the_tick_comes_late():
    station = Station()
    t0 = station.start(make_program({"seconds": 600}))
    station.send(RailsReleased(), t0 + 20.0)
    effects = station.tick(t0 + 47.5)  # the loop was late by 26.5 s
    assert first_is_stop(effects)
    assert [p.at for p in station.records("pause")] == [t0 + 21.0]
    # Active time stopped at the pause, not at the late tick.
    assert station.state.active_seconds(t0 + 47.5) == pytest.approx(21.0)


def test_regrip_within_grace_cancels_the_pause():
    station = Station()
    t0 = station.start(make_program({"seconds": 120}))
    station.send(RailsReleased(), t0 + 10.0)
    station.send(RailsHeld(), t0 + 10.6)
    station.tick(t0 + 30.0)
    assert station.mode is Mode.RUNNING
    assert station.records("pause") == []
    assert [r.kind for r in station.records() if r.kind.startswith("rails")] == ["rails_released", "rails_held"]
    # A fresh release gets a fresh grace, measured from the new release.
    station.send(RailsReleased(), t0 + 40.0)
    station.tick(t0 + 40.99)
    assert station.mode is Mode.RUNNING
    station.tick(t0 + 41.0)
    assert station.mode is Mode.PAUSED


def test_optional_phase_never_pauses_for_rails():
    station = Station()
    t0 = station.start(make_program({"seconds": 300, "rails": "optional"}))
    station.send(RailsReleased(), t0 + 5.0)
    station.tick(t0 + 100.0)
    station.tick(t0 + 299.0)
    assert station.mode is Mode.RUNNING
    assert station.records("pause") == []
    released = station.records("rails_released")
    assert released and released[0].detail["early"] is False


def test_hands_off_in_optional_phase_pauses_as_a_required_phase_begins():
    # Part of the interlock at every belt command: the required phase does not begin hands-free.
    program = make_program({"seconds": 60, "rails": "optional"}, {"seconds": 60, "rails": "required"})
    station = Station()
    t0 = station.start(program)
    station.send(RailsReleased(), t0 + 5.0)
    station.tick(t0 + 59.9)
    assert station.mode is Mode.RUNNING
    station.tick(t0 + 90.0)
    assert [p.at for p in station.records("pause")] == [t0 + 60.0]


def test_hands_off_resume_in_optional_phase_then_required_phase_pauses_at_the_right_time():
    """Regression: a resume with hands off in an optional phase armed the grace timer there, so the
    next rails-required phase "paused" at a time before it began and active time went backwards."""
    program = make_program({"seconds": 60, "rails": "optional"}, {"seconds": 60, "rails": "required"})
    station = Station()
    t0 = station.start(program)                    # running from t0
    station.send(PauseTapped(), t0 + 10.0)
    station.send(RailsReleased(), t0 + 11.0)
    station.send(ResumeTapped(), t0 + 12.0)        # optional phase: hands-free resume is fine
    station.tick(t0 + 15.0)
    assert station.mode is Mode.RUNNING
    station.tick(t0 + 200.0)                       # one late tick crosses the phase boundary
    boundary = t0 + 15.0 + 50.0                    # 10 s run before the pause, 50 s left after it
    started = [r.at for r in station.records("phase_started") if r.detail["index"] == 1]
    assert started == [pytest.approx(boundary)]
    assert [p.at for p in station.records("pause")] == [t0 + 10.0, pytest.approx(boundary)]
    assert station.state.active_seconds(t0 + 200.0) == pytest.approx(60.0)
    no_faults(station)


def test_member_without_hands_free_counts_every_phase_as_required():
    program = make_program({"seconds": 300, "rails": "optional"})
    station = Station()
    t0 = station.start(program, Member(1, "Ann", hands_free_allowed=False))
    station.send(RailsReleased(), t0 + 5.0)
    station.tick(t0 + 7.0)
    assert station.mode is Mode.PAUSED
    assert [p.at for p in station.records("pause")] == [t0 + 6.0]


def test_member_with_hands_free_follows_the_phase():
    program = make_program({"seconds": 300, "rails": "optional"})
    station = Station()
    t0 = station.start(program, Member(1, "Ann", hands_free_allowed=True))
    station.send(RailsReleased(), t0 + 5.0)
    station.tick(t0 + 100.0)
    assert station.mode is Mode.RUNNING


def test_hold_to_resume_then_countdown_then_running():
    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    station.let_go(t0 + 10.0)
    assert station.mode is Mode.PAUSED
    station.send(ResumeTapped(), t0 + 12.0)  # a tap does not resume a rails pause
    assert station.mode is Mode.PAUSED
    station.send(RailsHeld(), t0 + 20.0)
    station.tick(t0 + 21.9)
    assert station.mode is Mode.PAUSED, "the rails must be held rails_hold_s first"
    station.tick(t0 + 22.0)
    assert station.mode is Mode.RESUMING
    assert [r.at for r in station.records("resume_countdown")] == [t0 + 22.0]
    assert station.belts()[-1:] == station.belts()[:1], "no new belt command during the countdown"
    effects = station.tick(t0 + 25.0)
    assert station.mode is Mode.RUNNING
    assert any(isinstance(e, SetBelt) and e.speed_kmh > 0 for e in effects)
    assert [r.at for r in station.records("resume")] == [t0 + 25.0]
    # Paused time is not program time.
    assert station.state.active_seconds(t0 + 25.0) == pytest.approx(11.0)


def test_letting_go_while_holding_restarts_the_hold_time():
    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    station.let_go(t0 + 10.0)
    station.send(RailsHeld(), t0 + 20.0)
    station.send(RailsReleased(), t0 + 21.0)
    station.send(RailsHeld(), t0 + 21.5)
    station.tick(t0 + 23.0)
    assert station.mode is Mode.PAUSED
    station.tick(t0 + 23.5)
    assert station.mode is Mode.RESUMING


def test_releasing_during_the_resume_countdown_pauses_again():
    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    station.let_go(t0 + 10.0)
    station.send(RailsHeld(), t0 + 12.0)
    station.tick(t0 + 14.0)
    assert station.mode is Mode.RESUMING
    effects = station.send(RailsReleased(), t0 + 15.0)
    assert station.mode is Mode.PAUSED
    assert station.state.pause_reason is PauseReason.RAILS
    assert first_is_stop(effects)
    station.tick(t0 + 100.0)
    assert station.mode is Mode.PAUSED, "no resume without holding again"
    # The same pause goes on: one pause, its resume countdown cancelled.
    assert len(station.records("pause")) == 1 and len(station.records("resume_cancelled")) == 1


# --- rule 2: the lanyard e-stop -------------------------------------------------------------


@pytest.mark.parametrize("when", ["countdown", "running", "paused", "resuming", "cooldown"])
def test_lanyard_pull_stops_at_once_on_the_first_event(when):
    program = make_program({"seconds": 60, "rails": "optional"})
    station = Station()
    if when == "countdown":
        station.ready(program)
        station.send(StartTapped())
    else:
        t0 = station.start(program)
        if when == "paused":
            station.send(PauseTapped(), t0 + 5)
        elif when == "resuming":
            station.send(PauseTapped(), t0 + 5)
            station.send(ResumeTapped(), t0 + 6)
        elif when == "cooldown":
            station.tick(t0 + 60.0)
            assert station.mode is Mode.COOLDOWN
    at = station.now + 0.25
    effects = station.send(LanyardPulled(), at)
    assert station.mode is Mode.ESTOP
    assert first_is_stop(effects)
    assert [r.at for r in station.records("emergency_stop")] == [at]
    no_faults(station)


def test_estop_latches_until_clipped_and_confirmed():
    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    effects = station.send(LanyardPulled(), t0 + 30.0)
    closes = [e for e in effects if isinstance(e, CloseSession)]
    assert [(c.status, c.at) for c in closes] == [("emergency_stop", t0 + 30.0)]
    # Time passing, rails, resume and start do nothing.
    for event in (Tick(), RailsHeld(), ResumeTapped(), StartTapped(), PauseTapped()):
        station.send(event, station.now + 10.0)
        assert station.mode is Mode.ESTOP
    # Confirm without the clip is refused and recorded.
    station.send(ConfirmTapped(), station.now + 1.0)
    assert station.mode is Mode.ESTOP
    refused = station.records("confirm_refused")
    assert [r.at for r in refused] == [station.now]
    # Clip alone does not clear it either.
    station.send(LanyardClipped(), station.now + 1.0)
    station.tick(station.now + 60.0)
    assert station.mode is Mode.ESTOP
    station.send(ConfirmTapped(), station.now + 1.0)
    assert station.mode is Mode.SUMMARY
    assert [r.at for r in station.records("estop_cleared")] == [station.now]
    assert all(b.speed_kmh > 0 for b in station.belts()) and len(station.belts()) == 1


def test_estop_in_countdown_needs_clip_confirm_and_a_new_start():
    station = Station()
    program = make_program({})
    station.ready(program)
    station.send(StartTapped())
    station.send(LanyardPulled(), 1.0)
    station.send(LanyardClipped(), 2.0)
    station.send(ConfirmTapped(), 3.0)
    assert station.mode is Mode.READY
    station.tick(30.0)
    assert station.belts() == []
    station.send(StartTapped(), 31.0)
    station.tick(34.0)
    assert station.mode is Mode.RUNNING


def test_lanyard_pull_while_ready_refuses_start_until_clipped():
    station = Station()
    station.ready(make_program({}))
    effects = station.send(LanyardPulled(), 1.0)
    assert first_is_stop(effects)
    assert [r.at for r in station.records("lanyard_pulled")] == [1.0]
    station.send(StartTapped(), 2.0)
    assert station.mode is Mode.READY
    assert station.records("start_refused")[0].detail["reasons"] == ["lanyard not clipped"]


def test_late_lanyard_event_after_a_phase_boundary_is_a_clean_estop():
    """Regression: an event whose time lies past a phase boundary that no tick had reached yet
    first starts the next phase (a SetBelt), then stops. The stop must supersede that SetBelt; it
    used to be caught only by the last-line guard, which logged a "fault" for a normal e-stop."""
    program = make_program({"seconds": 60}, {"seconds": 60, "speed": 0.6})
    station = Station()
    t0 = station.start(program)
    effects = station.send(LanyardPulled(), t0 + 70.0)
    assert station.mode is Mode.ESTOP
    assert first_is_stop(effects)
    assert not any(isinstance(e, SetBelt) for e in effects)
    assert [r.at for r in station.records("phase_started")] == [t0, t0 + 60.0]
    no_faults(station)


@pytest.mark.parametrize("event", [PauseTapped(), StopTapped(), PainTapped(), LinkLost()])
def test_late_stop_events_after_a_phase_boundary_are_clean(event):
    program = make_program({"seconds": 60}, {"seconds": 60, "speed": 0.6})
    station = Station(link=Link.UP)
    t0 = station.start(program)
    effects = station.send(event, t0 + 65.0)
    assert station.mode in (Mode.PAUSED, Mode.COOLDOWN)
    assert first_is_stop(effects)
    assert not any(isinstance(e, SetBelt) for e in effects)
    no_faults(station)


# --- rule 5: treadmill link lost -------------------------------------------------------------


def test_link_lost_pauses_and_never_resumes_by_itself():
    station = Station(link=Link.UP)
    t0 = station.start(make_program({"seconds": 300}))
    effects = station.send(LinkLost("no answer"), t0 + 10.0)
    assert station.mode is Mode.PAUSED
    assert station.state.pause_reason is PauseReason.LINK
    assert first_is_stop(effects)
    assert [(r.kind, r.at) for r in station.records() if r.kind in ("link_lost", "pause")] == [
        ("link_lost", t0 + 10.0), ("pause", t0 + 10.0)]
    # Holding the rails, time, and a resume tap while the link is down do nothing.
    station.send(RailsReleased(), t0 + 11.0)
    station.send(RailsHeld(), t0 + 12.0)
    station.tick(t0 + 100.0)
    station.send(ResumeTapped(), t0 + 101.0)
    assert station.mode is Mode.PAUSED
    assert station.records("resume_refused")[0].detail["reasons"] == ["treadmill link lost"]
    # The link coming back does not resume either.
    station.send(LinkRestored(), t0 + 110.0)
    station.tick(t0 + 500.0)
    assert station.mode is Mode.PAUSED
    assert [r.at for r in station.records("link_restored")] == [t0 + 110.0]
    # Only a person does.
    station.send(ResumeTapped(), t0 + 501.0)
    assert station.mode is Mode.RESUMING
    station.tick(t0 + 504.0)
    assert station.mode is Mode.RUNNING
    assert [r.at for r in station.records("resume")] == [t0 + 504.0]


def test_link_lost_during_a_rails_pause_becomes_a_link_pause():
    station = Station(link=Link.UP)
    t0 = station.start(make_program({"seconds": 300}))
    station.send(RailsReleased(), t0 + 1.0)
    station.tick(t0 + 2.0)
    station.send(LinkLost(), t0 + 3.0)
    station.send(RailsHeld(), t0 + 4.0)
    station.tick(t0 + 100.0)
    assert station.mode is Mode.PAUSED
    assert station.state.pause_reason is PauseReason.LINK


def test_link_lost_while_idle_is_recorded_and_blocks_the_start():
    station = Station(link=Link.UP)
    station.send(LinkLost(), 1.0)
    station.ready(make_program({}), at=2.0)
    station.send(StartTapped(), 3.0)
    assert station.mode is Mode.READY
    assert [r.at for r in station.records("link_lost")] == [1.0]
    station.send(LinkRestored(), 4.0)
    station.send(StartTapped(), 5.0)
    assert station.mode is Mode.COUNTDOWN


# --- rule 7: caps on every speed command ------------------------------------------------------


def test_program_above_the_station_caps_is_capped_on_every_setbelt():
    # The loader would refuse this program under the default caps, so it is built for a generous
    # station and then run on a strict one: what a stale program file on a new config looks like.
    generous = Caps(backward_speed_kmh=20, forward_speed_kmh=20, backward_incline_pct=20, forward_incline_pct=20)
    data = {"id": "fast", "name": "Fast", "units": "kmh", "advanced": True, "phases": [
        {"direction": "backward", "seconds": 30, "speed": 9.0, "incline": 14, "rails": "required"},
        {"direction": "forward", "seconds": 30, "speed": 12.0, "incline": 18, "rails": "required"},
    ]}
    program, problems = load_program(data, "fast.toml", caps=generous, check_rules=False)
    assert program is not None, problems
    strict = Caps(backward_speed_kmh=3.0, forward_speed_kmh=5.0, backward_incline_pct=4.0, forward_incline_pct=6.0)
    cfg = record.replace(CFG, caps=strict)
    station = Station(cfg=cfg)
    t0 = station.start(program)
    station.tick(t0 + 30.0)                # turnaround pause
    station.tick(t0 + 40.0)                # rails held all along: resumes after the turnaround
    assert station.mode is Mode.RUNNING
    belts = station.belts()
    assert [(b.direction, b.speed_kmh, b.incline_pct) for b in belts] == [
        ("backward", 3.0, 4.0), ("forward", 5.0, 6.0)]
    capped = station.records("speed_capped")
    assert [c.detail["sent_speed_kmh"] for c in capped] == [3.0, 5.0]


def test_member_caps_tighten_the_station_caps():
    program = make_program({"speed": 0.5, "seconds": 10}, {"speed": 3.0, "incline": 0, "seconds": 10},
                           {"speed": 3.0, "incline": 5, "seconds": 10})
    member = Member(7, "Bo", caps=Caps(backward_speed_kmh=2.0, forward_speed_kmh=2.0,
                                      backward_incline_pct=1.0, forward_incline_pct=1.0))
    station = Station()
    t0 = station.start(program, member)
    station.tick(t0 + 10.0)
    station.tick(t0 + 20.0)
    speeds = [(round(b.speed_kmh, 6), b.incline_pct) for b in station.belts()]
    assert speeds == [(round(0.5 * KMH_PER_MPH, 6), 0.0), (2.0, 0.0), (2.0, 1.0)]


def test_member_caps_never_loosen_the_station_caps():
    program = make_program({"speed": 4.0, "incline": 8, "seconds": 10},
                           {"speed": 5.0, "incline": 12, "seconds": 10, "direction": "forward"}, advanced=True)
    member = Member(7, "Bo", caps=Caps(backward_speed_kmh=99, forward_speed_kmh=99,
                                      backward_incline_pct=99, forward_incline_pct=99))
    strict = Caps(backward_speed_kmh=5.0, forward_speed_kmh=6.0, backward_incline_pct=3.0, forward_incline_pct=4.0)
    station = Station(cfg=record.replace(CFG, caps=strict))
    t0 = station.start(program, member)
    station.tick(t0 + 10.0)       # turnaround
    station.tick(t0 + 20.0)       # rails held all along: running forward
    belts = [(b.direction, b.speed_kmh, b.incline_pct) for b in station.belts()]
    assert belts == [("backward", 5.0, 3.0), ("forward", 6.0, 4.0)]


def test_program_caps_tighten_the_station_caps():
    program = make_program({"speed": 0.5, "seconds": 10}, {"speed": 2.0, "seconds": 10},
                           caps={"backward_speed": 2.5})
    # The file's speeds are within its own caps; tighten further via a second station cap check.
    assert program.caps.backward_speed_kmh == pytest.approx(2.5 * KMH_PER_MPH)
    cfg = record.replace(CFG, caps=Caps(backward_speed_kmh=3.0))
    station = Station(cfg=cfg)
    t0 = station.start(program)
    station.tick(t0 + 10.0)
    assert station.belts()[-1].speed_kmh == pytest.approx(3.0)


# --- user pause, resume, stop, pain --------------------------------------------------------


def test_user_pause_and_resume():
    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    effects = station.send(PauseTapped(), t0 + 30.0)
    assert station.mode is Mode.PAUSED and station.state.pause_reason is PauseReason.USER
    assert first_is_stop(effects)
    assert [(p.at, p.detail["reason"]) for p in station.records("pause")] == [(t0 + 30.0, "user")]
    station.tick(t0 + 400.0)
    assert station.mode is Mode.PAUSED, "a user pause waits for the user"
    station.send(ResumeTapped(), t0 + 400.0)
    assert station.mode is Mode.RESUMING
    station.tick(t0 + 403.0)
    assert station.mode is Mode.RUNNING
    assert station.state.active_seconds(t0 + 403.0) == pytest.approx(30.0)


def test_resume_refused_with_rails_off_in_required_phase():
    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    station.send(PauseTapped(), t0 + 1.0)
    station.send(RailsReleased(), t0 + 2.0)
    station.send(ResumeTapped(), t0 + 3.0)
    assert station.mode is Mode.PAUSED
    assert station.records("resume_refused")[0].detail["reasons"] == ["rails not held"]


def test_user_pause_during_resume_countdown_pauses_again():
    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    station.send(PauseTapped(), t0 + 1.0)
    station.send(ResumeTapped(), t0 + 2.0)
    effects = station.send(PauseTapped(), t0 + 3.0)
    assert station.mode is Mode.PAUSED
    assert first_is_stop(effects)
    station.tick(t0 + 10.0)
    assert station.mode is Mode.PAUSED


@pytest.mark.parametrize("pause_first", [False, True])
def test_stop_ends_the_session_through_cooldown(pause_first):
    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    if pause_first:
        station.send(PauseTapped(), t0 + 20.0)
    effects = station.send(StopTapped(), t0 + 40.0)
    assert station.mode is Mode.COOLDOWN
    assert first_is_stop(effects)
    closes = [e for e in effects if isinstance(e, CloseSession)]
    assert len(closes) == 1
    assert closes[0].status == "stopped" and closes[0].at == t0 + 40.0
    assert closes[0].active_seconds == pytest.approx(20.0 if pause_first else 40.0)
    assert [r.at for r in station.records("stop")] == [t0 + 40.0]
    station.tick(t0 + 40.0 + CFG.cooldown_s)
    assert station.mode is Mode.SUMMARY
    assert station.state.outcome == "stopped"


def test_pain_tap_stops_and_records_the_score():
    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    effects = station.send(PainTapped(score=8), t0 + 50.0)
    assert station.mode is Mode.COOLDOWN
    assert first_is_stop(effects)
    pain = station.records("pain")
    assert [(p.at, p.detail["score"]) for p in pain] == [(t0 + 50.0, 8)]
    closes = [e for e in effects if isinstance(e, CloseSession)]
    assert [(c.status, c.reason) for c in closes] == [("stopped", "pain")]


def test_belt_still_moving_while_paused_repeats_the_stop():
    station = Station(link=Link.UP)
    t0 = station.start(make_program({"seconds": 300}))
    station.send(PauseTapped(), t0 + 1.0)
    effects = station.send(TreadmillReported(speed_kmh=1.2), t0 + 3.0)
    assert first_is_stop(effects)
    effects = station.send(TreadmillReported(speed_kmh=0.0), t0 + 4.0)
    assert not any(isinstance(e, StopBelt) for e in effects)


# --- turnaround, completion ----------------------------------------------------------------


def test_change_of_direction_stops_the_belt_and_waits_for_the_turnaround():
    program = make_program({"seconds": 30, "direction": "forward", "speed": 1.0},
                           {"seconds": 30, "direction": "backward", "speed": 0.5})
    station = Station()
    t0 = station.start(program)
    effects = station.tick(t0 + 30.0)
    assert station.mode is Mode.PAUSED and station.state.pause_reason is PauseReason.TURN
    assert first_is_stop(effects)
    assert not any(isinstance(e, SetBelt) for e in effects)
    assert [r.at for r in station.records("turnaround")] == [t0 + 30.0]
    assert station.records("pause") == [], "a planned turnaround is not a pause"
    # Rails held all along: the turnaround time, then the resume countdown, then the new direction.
    station.tick(t0 + 34.9)
    assert station.mode is Mode.PAUSED
    station.tick(t0 + 35.0)
    assert station.mode is Mode.RESUMING
    station.tick(t0 + 38.0)
    assert station.mode is Mode.RUNNING
    assert station.belts()[-1].direction == "backward"


def test_completed_program_goes_to_cooldown_then_summary():
    program = make_program({"seconds": 20}, {"seconds": 40, "speed": 0.7})
    station = Station()
    t0 = station.start(program)
    effects = station.tick(t0 + 60.0)
    assert station.mode is Mode.COOLDOWN
    assert first_is_stop(effects)
    closes = [e for e in effects if isinstance(e, CloseSession)]
    assert [(c.status, c.at, c.phases_completed) for c in closes] == [("completed", t0 + 60.0, 2)]
    assert closes[0].active_seconds == pytest.approx(60.0)
    assert [r.at for r in station.records("completed")] == [t0 + 60.0]
    station.tick(t0 + 60.0 + CFG.cooldown_s - 0.1)
    assert station.mode is Mode.COOLDOWN
    station.tick(t0 + 60.0 + CFG.cooldown_s)
    assert station.mode is Mode.SUMMARY
    station.send(HomeTapped(), station.now + 1)
    assert station.mode is Mode.IDLE


def test_cooldown_ends_early_once_the_belt_has_stopped():
    station = Station(link=Link.UP)
    t0 = station.start(make_program({"seconds": 20}))
    station.tick(t0 + 20.0)
    station.send(TreadmillReported(speed_kmh=0.0), t0 + 21.0)
    assert station.mode is Mode.COOLDOWN, "not before cooldown_min_s"
    station.send(TreadmillReported(speed_kmh=0.0), t0 + 20.0 + CFG.cooldown_min_s)
    assert station.mode is Mode.SUMMARY


def test_repeat_block_runs_every_round():
    program = make_program({"seconds": 10},
                           {"repeat": 3, "steps": [
                               {"direction": "backward", "seconds": 10, "speed": 0.8, "rails": "required"},
                               {"direction": "backward", "seconds": 5, "speed": 0.6, "rails": "required"}]})
    station = Station()
    t0 = station.start(program)
    station.tick(t0 + 1000.0)
    assert station.mode is Mode.SUMMARY
    started = station.records("phase_started")
    assert [r.at - t0 for r in started] == [0, 10, 20, 25, 35, 40, 50]
    assert [r.detail["round"] for r in started[1:]] == ["1 of 3", "1 of 3", "2 of 3", "2 of 3", "3 of 3", "3 of 3"]


# --- rule 8: every safety event is recorded with its time ----------------------------------


def test_every_safety_event_is_recorded_with_its_time():
    station = Station(link=Link.UP)
    program = make_program({"seconds": 600})
    station.ready(program)
    station.send(LanyardPulled(), 0.5)
    station.send(StartTapped(), 1.0)                 # refused
    station.send(LanyardClipped(), 1.5)
    station.send(StartTapped(), 2.0)                 # accepted
    station.tick(5.0)                                # running
    station.send(RailsReleased(), 10.0)
    station.tick(12.0)                               # paused at 11.0
    station.send(RailsHeld(), 13.0)
    station.tick(18.0)                               # countdown at 15, resume at 18
    station.send(LinkLost(), 20.0)
    station.send(LinkRestored(), 21.0)
    station.send(ResumeTapped(), 22.0)
    station.tick(25.0)
    station.send(LanyardPulled(), 30.0)
    station.send(ConfirmTapped(), 31.0)
    station.send(LanyardClipped(), 32.0)
    station.send(ConfirmTapped(), 33.0)
    got = [(r.kind, r.at) for r in station.records()
           if r.kind not in ("phase_started", "session_started")]
    assert got == [
        ("lanyard_pulled", 0.5), ("start_refused", 1.0), ("start_accepted", 2.0),
        ("rails_released", 10.0), ("pause", 11.0), ("resume_countdown", 15.0), ("resume", 18.0),
        ("link_lost", 20.0), ("pause", 20.0), ("link_restored", 21.0), ("resume", 25.0),
        ("emergency_stop", 30.0), ("confirm_refused", 31.0), ("lanyard_clipped", 32.0),
        ("estop_cleared", 33.0),
    ]
    no_faults(station)


# --- rule 1: fail toward "belt stopped" ----------------------------------------------------


def test_internal_error_ends_in_fault_with_a_stop_and_a_closed_session():
    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    broken = record.replace(station.state, program="not a program")
    state, effects = step(broken, Tick(), t0 + 5.0, CFG)
    assert state.mode is Mode.FAULT
    assert first_is_stop(effects)
    assert [e.status for e in effects if isinstance(e, CloseSession)] == ["stopped"]
    assert any(isinstance(e, RecordEvent) and e.kind == "fault" for e in effects)
    # A fault is cleared like an e-stop: lanyard clipped and a confirm.
    state, _ = step(state, ConfirmTapped(), t0 + 6.0, CFG)
    assert state.mode is not Mode.FAULT


@pytest.mark.parametrize("garbage", [None, 42, "running", object()])
def test_step_never_raises_on_a_garbage_state(garbage):
    state, effects = step(garbage, Tick(), 1.0, CFG)
    assert state.mode is Mode.FAULT
    assert first_is_stop(effects)


def test_step_never_raises_on_a_state_with_a_garbage_mode():
    broken = record.replace(initial_state(), mode=[])
    state, effects = step(broken, Tick(), 1.0, CFG)
    assert state.mode is Mode.FAULT
    assert first_is_stop(effects)


@pytest.mark.parametrize("event", [None, 3, "LanyardPulled", TreadmillReported(speed_kmh="fast")])
def test_step_never_raises_on_garbage_events(event):
    station = Station(link=Link.UP)
    t0 = station.start(make_program({"seconds": 300}))
    state, effects = step(station.state, event, t0 + 1.0, CFG)
    assert state.mode in (Mode.RUNNING, Mode.FAULT)
    if state.mode is Mode.FAULT:
        assert first_is_stop(effects)


def test_choosing_a_program_after_a_session_starts_from_zero():
    """Regression: active time and pauses of the last session leaked into the next pre-flight."""
    station = Station()
    program = make_program({"seconds": 100})
    t0 = station.start(program)
    station.send(PauseTapped(), t0 + 50.0)
    station.send(StopTapped(), t0 + 60.0)
    station.tick(t0 + 100.0)
    assert station.mode is Mode.SUMMARY
    station.send(ProgramChosen(program), t0 + 101.0)
    assert station.mode is Mode.READY
    assert station.state.active_seconds(t0 + 101.0) == 0.0
    assert station.state.pauses == 0


# --- rail sensor faults (docs/safety.md, rule 1: when in doubt, stopped) -------------------------------


def test_sensor_fault_pauses_a_running_belt_and_needs_a_tap_to_resume():
    from app.core.events import SensorFault

    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    effects = station.send(SensorFault("left rail stuck"), t0 + 10.0)
    assert station.mode is Mode.PAUSED and station.state.pause_reason is PauseReason.SENSOR
    assert first_is_stop(effects)
    assert [r.at for r in station.records("sensor_fault")] == [t0 + 10.0]
    station.tick(t0 + 100.0)
    assert station.mode is Mode.PAUSED
    station.send(ResumeTapped(), t0 + 101.0)
    assert station.mode is Mode.RESUMING


def test_sensor_fault_during_a_rails_pause_stops_the_rails_from_resuming_it():
    """Regression: a rails pause resumes by itself once the rail sensor reads "held" long enough;
    after that very sensor was reported faulty, its "held" must not restart the belt."""
    from app.core.events import SensorFault

    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    station.let_go(t0 + 10.0)
    effects = station.send(SensorFault("right rail chattering"), t0 + 12.0)
    assert first_is_stop(effects)
    assert station.state.pause_reason is PauseReason.SENSOR
    station.send(RailsHeld(), t0 + 13.0)
    station.tick(t0 + 60.0)
    assert station.mode is Mode.PAUSED, "a faulty sensor's 'held' does not resume the belt"
    assert len(station.belts()) == 1
    station.send(ResumeTapped(), t0 + 61.0)
    station.tick(t0 + 64.0)
    assert station.mode is Mode.RUNNING


# --- ties at a deadline: the safe outcome wins (docs/safety.md, rules 2-5) ---------------------


def test_rails_released_exactly_as_the_start_countdown_ends_cancels_the_start():
    """Regression: at the exact end of the countdown the belt used to start with the hands off and
    pause only after the grace time; a millisecond earlier the start was cancelled."""
    station = Station()
    station.ready(make_program({"seconds": 60}))
    station.send(StartTapped(), 0.0)
    end = next_deadline(station.state, CFG)
    effects = station.send(RailsReleased(), end)
    assert station.mode is Mode.READY
    assert first_is_stop(effects)
    assert [r.detail["reason"] for r in station.records("start_cancelled")] == ["rails released"]
    assert station.belts() == []
    assert not any(isinstance(e, OpenSession) for e in station.effects)


def test_rails_released_exactly_as_the_resume_countdown_ends_keeps_the_belt_stopped():
    station = Station()
    t0 = station.start(make_program({"seconds": 300, "speed": 2.5}, advanced=True))
    station.send(PauseTapped(), t0 + 10.0)
    station.send(ResumeTapped(), t0 + 11.0)
    end = next_deadline(station.state, CFG)
    effects = station.send(RailsReleased(), end)
    assert station.mode is Mode.PAUSED and station.state.pause_reason is PauseReason.RAILS
    assert first_is_stop(effects)
    assert not any(isinstance(e, SetBelt) for e in effects)
    assert len(station.belts()) == 1, "only the start moved the belt"


@pytest.mark.parametrize("resume", [False, True])
def test_lanyard_pulled_exactly_as_a_countdown_ends_never_moves_the_belt(resume):
    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    if resume:
        station.send(PauseTapped(), t0 + 10.0)
        station.send(ResumeTapped(), t0 + 11.0)
    else:
        station = Station()
        station.ready(make_program({"seconds": 300}))
        station.send(StartTapped(), 0.0)
    before = len(station.belts())
    effects = station.send(LanyardPulled(), next_deadline(station.state, CFG))
    assert station.mode is Mode.ESTOP
    assert first_is_stop(effects)
    assert not any(isinstance(e, SetBelt) for e in effects)
    assert len(station.belts()) == before
    no_faults(station)


@pytest.mark.parametrize("event", [LinkLost(), PauseTapped(), SensorFault("left rail stuck")])
def test_a_stop_event_exactly_at_the_resume_countdown_end_wins(event):
    station = Station(link=Link.UP)
    t0 = station.start(make_program({"seconds": 300}))
    station.send(PauseTapped(), t0 + 10.0)
    station.send(ResumeTapped(), t0 + 11.0)
    effects = station.send(event, next_deadline(station.state, CFG))
    assert station.mode is Mode.PAUSED
    assert not any(isinstance(e, SetBelt) for e in effects)
    assert len(station.belts()) == 1


def test_a_required_phase_never_begins_with_the_hands_off():
    """The interlock is checked whenever the belt is told to move, phase changes included: hands off
    at the start of a rails-required phase pause the belt there instead of speeding it up."""
    program = make_program({"seconds": 60, "rails": "optional"}, {"seconds": 60, "speed": 0.9})
    station = Station()
    t0 = station.start(program)
    station.send(RailsReleased(), t0 + 5.0)
    effects = station.tick(t0 + 60.0)
    assert station.mode is Mode.PAUSED and station.state.pause_reason is PauseReason.RAILS
    assert first_is_stop(effects)
    assert not any(isinstance(e, SetBelt) for e in effects)
    assert Say("hold_the_rails") in effects
    assert [(p.at, p.detail["phase"]) for p in station.records("pause")] == [(t0 + 60.0, 1)]
    # Holding the rails resumes into the new phase at its own speed.
    station.send(RailsHeld(), t0 + 61.0)
    station.tick(t0 + 66.0)
    assert station.mode is Mode.RUNNING
    assert station.belts()[-1].speed_kmh == pytest.approx(0.9 * KMH_PER_MPH)


# --- one pause per pause: a reason change is recorded as such -------------------------------------


def test_a_rails_pause_that_loses_the_link_is_one_pause_whose_reason_changed():
    station = Station(link=Link.UP)
    t0 = station.start(make_program({"seconds": 300}))
    station.let_go(t0 + 10.0)
    station.send(RailsHeld(), t0 + 12.5)     # the hold-to-resume runs until t0 + 14.5 ...
    effects = station.send(LinkLost(), t0 + 13.0)  # ... but the link is lost first
    assert first_is_stop(effects)
    assert station.state.pause_reason is PauseReason.LINK
    assert [(p.at, p.detail["reason"]) for p in station.records("pause")] == [(t0 + 11.0, "rails released")]
    changed = station.records("pause_reason_changed")
    assert [(c.at, c.detail["was"], c.detail["reason"]) for c in changed] == [
        (t0 + 13.0, "rails released", "link lost")]
    assert station.state.pauses == 1
    station.send(LinkRestored(), t0 + 20.0)
    station.send(ResumeTapped(), t0 + 21.0)
    station.tick(t0 + 24.0)
    assert station.mode is Mode.RUNNING
    assert [r.at for r in station.records("resume")] == [t0 + 24.0]


def test_a_release_during_the_resume_countdown_continues_the_same_pause():
    station = Station()
    t0 = station.start(make_program({"seconds": 300}))
    station.send(PauseTapped(), t0 + 10.0)
    station.send(ResumeTapped(), t0 + 11.0)
    effects = station.send(RailsReleased(), t0 + 12.0)
    assert first_is_stop(effects)
    assert station.mode is Mode.PAUSED and station.state.pause_reason is PauseReason.RAILS
    assert len(station.records("pause")) == 1 and station.state.pauses == 1
    cancelled = station.records("resume_cancelled")
    assert [(c.at, c.detail["was"], c.detail["reason"]) for c in cancelled] == [(t0 + 12.0, "user", "rails released")]
    # Still an early release for the statistics (hands off in a rails-required phase).
    assert [r.detail["early"] for r in station.records("rails_released")] == [True]


# --- the core reads in one sitting ---------------------------------------------------------------


def test_every_event_has_a_handler_named_after_it():
    """A newcomer finds the handler of ``FooTapped`` as ``on_foo_tapped`` in app/core/safety.py."""
    import re

    from app.core import events, safety

    kinds = [c for c in vars(events).values() if isinstance(c, type) and issubclass(c, events.Event)
             and c is not events.Event]
    assert set(safety.HANDLERS) == set(kinds)
    for kind, handler in safety.HANDLERS.items():
        assert handler.__name__ == "on_" + re.sub(r"(?<!^)(?=[A-Z])", "_", kind.__name__).lower()
        assert getattr(safety, handler.__name__) is handler
