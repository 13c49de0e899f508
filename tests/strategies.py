"""Hypothesis strategies for the pure core: valid programs (with repeat blocks), members, and
random event sequences with non-decreasing times (including Ticks and big time gaps).

Programs are generated as the dicts a therapist's TOML file parses to and then built by the real
loader, so every generated program is one :func:`app.core.program.load_program` accepts.
"""

from __future__ import annotations

from hypothesis import strategies as st

from app.core.caps import Caps
from app.core.events import (
    ConfirmTapped,
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
from app.core.member import Member
from app.core import program as rules
from app.core.program import MAX_PROGRAM_SECONDS, load_program
from app.core.units import from_kmh

# Speeds a program may ask for, in its own units, per direction: (0, cap] of the default caps.
_SPEED_CAP_KMH = {"backward": Caps().backward_speed_kmh, "forward": Caps().forward_speed_kmh}
_INCLINE_CAP = {"backward": Caps().backward_incline_pct, "forward": Caps().forward_incline_pct}


@st.composite
def phase_dicts(draw, units: str, max_seconds: int = 120, directions=("backward", "forward")) -> dict:
    """One ``[[phases]]`` (or ``[[phases.steps]]``) table, valid under the default caps."""
    direction = draw(st.sampled_from(directions))
    cap = from_kmh(_SPEED_CAP_KMH[direction], units)
    # Whole tenths, as a therapist writes them; never 0, never above the cap.
    speed = draw(st.integers(1, int(cap * 10))) / 10
    phase = {
        "direction": direction,
        "speed": speed,
        "rails": draw(st.sampled_from(["required", "optional"])),
    }
    if draw(st.booleans()):
        phase["seconds"] = draw(st.integers(rules.MIN_PHASE_SECONDS, max(max_seconds, rules.MIN_PHASE_SECONDS)))
    else:
        phase["minutes"] = draw(st.sampled_from([0.5, 1, 1.5, 2]))
    if draw(st.booleans()):
        phase["incline"] = draw(st.integers(0, int(_INCLINE_CAP[direction])))
    if draw(st.booleans()):
        phase["name"] = draw(st.sampled_from(["Warm-up", "Walk", "Climb", "Jog", "Cool-down"]))
    if draw(st.booleans()):
        phase["cue"] = "Toe first, roll to the heel"
    return phase


@st.composite
def program_dicts(draw, max_entries: int = 4, directions=("backward", "forward"), obey_rules: bool = True) -> dict:
    """A parsed program file: plain phases and ``repeat`` blocks with ``steps``. With *obey_rules*
    False the start, step and turn rules are not applied (see :func:`programs`)."""
    units = draw(st.sampled_from(["mph", "kmh"]))
    entries = []
    for _ in range(draw(st.integers(1, max_entries))):
        if draw(st.integers(0, 3)) == 0:
            steps = draw(st.lists(phase_dicts(units, directions=directions), min_size=1, max_size=3))
            block = {"repeat": draw(st.integers(1, 4)), "steps": steps}
            if draw(st.booleans()):
                block["name"] = "Intervals"
            entries.append(block)
        else:
            entries.append(draw(phase_dicts(units, directions=directions)))
    data = {"id": "gen-program", "name": "Generated", "units": units, "phases": entries}
    if draw(st.booleans()):
        data["advanced"] = draw(st.booleans())
    if draw(st.integers(0, 3)) == 0:
        # Program caps only tighten; pick them at or above every speed in the file so it stays valid.
        data["caps"] = {"backward_speed": draw(st.sampled_from([2.0, 3.0, 4.0])),
                        "forward_incline": draw(st.sampled_from([5, 8]))}
        _fit_under_caps(data)
    if obey_rules:
        obey_start_and_step_rules(data)
    return data


def obey_start_and_step_rules(data: dict) -> None:
    """Lower speeds and inclines of a generated program (and lengthen its first phase) until it
    obeys the start, step and turn rules of :mod:`app.core.program` (docs/programs.md).

    Works on the phases in the order they run, repeats unrolled (a repeated step is one dict seen
    several times). Every fix only lowers a value, so the loop ends; the program keeps its shape.
    """
    units = data["units"]
    advanced = data.get("advanced") is True

    def limit(kmh: float) -> float:
        # Whole tenths at or below the limit, in the file's units.
        return int(from_kmh(kmh, units) * 10 + 1e-6) / 10

    start = limit(rules.ADVANCED_START_SPEED_KMH if advanced else rules.START_SPEED_KMH)
    turn = limit(rules.ADVANCED_TURN_SPEED_KMH if advanced else rules.TURN_SPEED_KMH)
    step = limit(rules.ADVANCED_MAX_SPEED_STEP_KMH if advanced else rules.MAX_SPEED_STEP_KMH)
    jog = limit(rules.LINT_BACKWARD_SPEED_KMH)
    order = []
    for entry in data["phases"]:
        steps = entry.get("steps", [entry])
        order += steps * entry.get("repeat", 1)
    first = order[0]
    first["incline"] = 0
    first["speed"] = min(first["speed"], start)
    first.pop("minutes", None)
    first["seconds"] = max(first.get("seconds", 0), rules.MIN_FIRST_PHASE_SECONDS)
    changed = True
    while changed:
        changed = False
        for phase in order:
            if not advanced and phase["direction"] == "backward" and phase["speed"] > jog:
                phase["speed"], changed = jog, True
        for before, after in zip(order, order[1:]):
            if before["direction"] != after["direction"]:
                # A turn: slow before it; a backward phase after it starts slow, as the first does.
                if before["speed"] > turn:
                    before["speed"], changed = turn, True
                if after["direction"] == "backward" and after["speed"] > turn:
                    after["speed"], changed = turn, True
                continue
            if after["speed"] > round(before["speed"] + step, 1):
                after["speed"], changed = round(before["speed"] + step, 1), True
            incline = after.get("incline", 0)
            wanted = incline
            if incline > before.get("incline", 0) and after["speed"] > before["speed"]:
                wanted = before.get("incline", 0)  # never raise speed and incline together
            elif not advanced:
                wanted = min(incline, before.get("incline", 0) + int(rules.MAX_INCLINE_STEP_PCT))
            if wanted < incline:
                after["incline"], changed = wanted, True


def _fit_under_caps(data: dict) -> None:
    caps = data["caps"]

    def fix(phase: dict) -> None:
        if phase["direction"] == "backward":
            phase["speed"] = min(phase["speed"], caps["backward_speed"])
        else:
            phase["incline"] = min(phase.get("incline", 0), caps["forward_incline"])

    for entry in data["phases"]:
        for phase in entry.get("steps", [entry]):
            fix(phase)


@st.composite
def rough_phase_dicts(draw, units: str) -> dict:
    """A phase as a careless or hostile file may write it: any speed up to the cap, any length
    from a nanosecond, any incline. Mostly refused by the loader; see :func:`rough_program_dicts`."""
    direction = draw(st.sampled_from(["backward", "backward", "forward"]))
    cap = from_kmh(_SPEED_CAP_KMH[direction], units)
    phase = {
        "direction": direction,
        "speed": draw(st.one_of(st.integers(1, int(cap * 10)).map(lambda v: v / 10),
                                st.floats(0.0, cap, allow_nan=False))),
        "rails": draw(st.sampled_from(["required", "optional"])),
        draw(st.sampled_from(["seconds", "minutes"])): draw(st.one_of(
            st.sampled_from([1e-9, 0.001, 0.5, 9, 10, 30, 59, 60, 61, 120]), st.floats(0.0, 300.0, allow_nan=False))),
    }
    if draw(st.booleans()):
        phase["incline"] = draw(st.integers(0, int(_INCLINE_CAP[direction])))
    return phase


@st.composite
def rough_program_dicts(draw, max_entries: int = 6) -> dict:
    """Program dicts nobody checked: for properties of the form "whatever the loader accepts
    obeys rule X". Half of them start from a valid program and change one or two phases."""
    if draw(st.booleans()):
        data = draw(program_dicts())
        order = [phase for entry in data["phases"] for phase in entry.get("steps", [entry])]
        for _ in range(draw(st.integers(1, 2))):
            target = draw(st.sampled_from(order))
            rough = draw(rough_phase_dicts(data["units"]))
            # One field at a time (speed, length, incline or direction) keeps many programs valid.
            key = draw(st.sampled_from(sorted(rough)))
            if key in ("seconds", "minutes"):
                target.pop("seconds", None)
                target.pop("minutes", None)
            target[key] = rough[key]
        if draw(st.booleans()):
            data["advanced"] = draw(st.booleans())
        return data
    units = draw(st.sampled_from(["mph", "kmh"]))
    entries = []
    for _ in range(draw(st.integers(1, max_entries))):
        if draw(st.integers(0, 3)) == 0:
            entries.append({"repeat": draw(st.integers(1, 5)),
                            "steps": draw(st.lists(rough_phase_dicts(units), min_size=1, max_size=3))})
        else:
            entries.append(draw(rough_phase_dicts(units)))
    return {"id": "rough", "name": "Rough", "units": units, "phases": entries, "advanced": draw(st.booleans())}


@st.composite
def programs(draw, max_entries: int = 4, directions=("backward", "forward")):
    """A :class:`~app.core.program.Program` the loader accepts (at most two hours long).

    One in four skips the loader's start, step and turn rules (``check_rules=False``): the safety
    core must hold its own rules (a slow first phase, the caps) for any program it is handed, as a
    second line behind the file checks (docs/safety.md, rule 4)."""
    unchecked = draw(st.integers(0, 3)) == 0
    data = draw(program_dicts(max_entries, directions, obey_rules=not unchecked))
    program, problems = load_program(data, "generated.toml", check_rules=not unchecked)
    assert program is not None, [str(p) for p in problems]
    assert program.total_seconds <= MAX_PROGRAM_SECONDS
    return program


@st.composite
def members(draw, hands_free=st.booleans()):
    """``None`` (a guest) or a member, maybe with tighter caps, maybe allowed to go hands-free."""
    if draw(st.booleans()):
        return None
    caps = None
    if draw(st.booleans()):
        # Some tighter than the station's, some looser (which must change nothing).
        caps = Caps(backward_speed_kmh=draw(st.sampled_from([1.0, 2.0, 3.5, 99.0])),
                    forward_speed_kmh=draw(st.sampled_from([3.0, 5.0, 99.0])),
                    backward_incline_pct=draw(st.sampled_from([0.0, 2.0, 6.0, 99.0])),
                    forward_incline_pct=draw(st.sampled_from([0.0, 5.0, 99.0])))
    return Member(id=draw(st.integers(1, 99)), name="Pat", units=draw(st.sampled_from(["mph", "kmh"])),
                  caps=caps, hands_free_allowed=draw(hands_free))


#: Gaps between events: simultaneous, sub-second, a few seconds, and (more rarely, or most runs
#: would just finish the program) big gaps that cross several deadlines in one step.
_GAP_KINDS = (0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 4)


@st.composite
def time_gaps(draw) -> float:
    kind = _GAP_KINDS[draw(st.integers(0, len(_GAP_KINDS) - 1))]
    if kind == 0:
        return 0.0
    upper = (1.5, 12.0, 400.0, 8000.0)[kind - 1]
    return draw(st.floats(0.0, upper, allow_nan=False))


_simple_events = st.sampled_from([
    Tick(), Tick(), Tick(),
    LanyardPulled(), LanyardClipped(), LanyardClipped(),
    RailsReleased(), RailsHeld(), RailsReleased(), RailsHeld(),
    LinkLost(), LinkRestored(),
    StartTapped(), StartTapped(), PauseTapped(), ResumeTapped(), ResumeTapped(), StopTapped(),
    ConfirmTapped(), ConfirmTapped(), PainTapped(score=7), HomeTapped(),
    PainScored("before", 2), PainScored("after", 3), PainScored("effort", 5),
    SensorFault("left rail stuck"),
])

treadmill_reports = st.builds(
    TreadmillReported,
    speed_kmh=st.one_of(st.none(), st.floats(0.0, 8.0, allow_nan=False)),
    incline_pct=st.one_of(st.none(), st.floats(0.0, 12.0, allow_nan=False)),
    distance_m=st.one_of(st.none(), st.floats(0.0, 5000.0, allow_nan=False)),
)


def events_for(program, member=None):
    """Single events, weighted towards the ones that move a session along."""
    return st.one_of(
        _simple_events,
        _simple_events,
        treadmill_reports,
        st.just(ProgramChosen(program, member)),
    )


#: A narrower mix for the rails rules: hands on and off, pauses and resumes, time passing. Some
#: items are short stories (a tuple of events) a person really acts out, e.g. pause, let go,
#: resume hands-free, which random single events reach too rarely.
rails_events = st.sampled_from([
    Tick(), Tick(), RailsReleased(), RailsHeld(), PauseTapped(), ResumeTapped(),
    (PauseTapped(), RailsReleased(), ResumeTapped()),
    (RailsReleased(), PauseTapped(), ResumeTapped()),
    (PauseTapped(), RailsHeld(), ResumeTapped()),
    (RailsReleased(), Tick(), RailsHeld()),
])

#: A mix for the latches: lanyard pull / clip / confirm, link lost / restored, resume and start.
latch_events = st.sampled_from([
    Tick(), Tick(), LinkLost(), LinkRestored(), ResumeTapped(), LanyardPulled(), LanyardClipped(),
    ConfirmTapped(), StartTapped(), RailsHeld(), RailsReleased(),
    (LinkLost(), LinkRestored(), ResumeTapped()),
    (LinkLost(), ResumeTapped(), LinkRestored(), Tick()),
    (LanyardPulled(), ConfirmTapped(), LanyardClipped(), ConfirmTapped(), StartTapped()),
    (LanyardPulled(), LanyardClipped(), StartTapped()),
])


@st.composite
def scenarios(draw, max_events: int = 40, focus=None, programs=programs(), members=members()):
    """``(program, member, [(now, event), ...])`` with non-decreasing times.

    Most sequences begin with the normal start (lanyard clipped, rails held, program chosen, start
    tapped) so the interesting states are reached; the rest start cold. *focus* replaces the
    event mix (e.g. :data:`rails_events`); focused scenarios always start normally.
    """
    program = draw(programs)
    member = draw(members)
    events = []
    if focus is not None or draw(st.integers(0, 4)) > 0:
        events += [LanyardClipped(), RailsHeld(), ProgramChosen(program, member), StartTapped()]
    if focus is not None:
        # Sessions end; let them start again so the focus events keep meeting a running belt.
        restart = st.sampled_from([ProgramChosen(program, member), StartTapped()])
        mix = st.one_of(*([focus] * 6), restart)
    else:
        mix = events_for(program, member)
    # Long enough to get past the start countdown and into the program most of the time.
    for item in draw(st.lists(mix, min_size=max_events // 3, max_size=max_events)):
        events += item if isinstance(item, tuple) else [item]
    now = draw(st.floats(0.0, 1e6, allow_nan=False))
    timed = []
    for event in events:
        now += draw(time_gaps())
        timed.append((now, event))
    return program, member, timed
