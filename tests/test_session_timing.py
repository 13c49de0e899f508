"""Session timing (app.core.session): phase boundaries, repeats, position, format_clock."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.core import session
from app.core.program import load_program

try:
    from tests.strategies import programs
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from strategies import programs


def load(phases, units="mph"):
    program, problems = load_program({"id": "t", "name": "T", "units": units, "phases": phases}, "t.toml",
                                      check_rules=False)  # timing of short phases, not practice
    assert program is not None, [str(p) for p in problems]
    return program


def walk(seconds=None, minutes=None, **more):
    phase = {"direction": "backward", "speed": 0.5, "rails": "required", **more}
    if seconds is not None:
        phase["seconds"] = seconds
    if minutes is not None:
        phase["minutes"] = minutes
    return phase


LADDER = load([walk(60, name="Warm-up"), walk(minutes=2, name="Walk"), walk(30, name="Cool-down")])


def test_phase_ends_are_cumulative_and_minutes_become_seconds():
    assert session.phase_ends(LADDER) == (60.0, 180.0, 210.0)
    assert LADDER.total_seconds == 210.0
    assert [session.phase_start(LADDER, i) for i in range(3)] == [0.0, 60.0, 180.0]


@pytest.mark.parametrize(
    "active, index, into, left, session_left",
    [
        (0.0, 0, 0.0, 60.0, 210.0),
        (-5.0, 0, 0.0, 60.0, 210.0),        # before the start counts as the start
        (59.5, 0, 59.5, 0.5, 150.5),
        (60.0, 1, 0.0, 120.0, 150.0),       # a phase ends exactly at its boundary
        (100.0, 1, 40.0, 80.0, 110.0),
        (180.0, 2, 0.0, 30.0, 30.0),
        (209.0, 2, 29.0, 1.0, 1.0),
    ],
)
def test_position_inside_the_program(active, index, into, left, session_left):
    pos = session.position(LADDER, active)
    assert not pos.done
    assert pos.index == index
    assert pos.phases_completed == index
    assert pos.into_phase == pytest.approx(into)
    assert pos.phase_left == pytest.approx(left)
    assert pos.session_left == pytest.approx(session_left)


@pytest.mark.parametrize("active", [210.0, 210.0 - 1e-12, 500.0, 1e9])
def test_position_at_and_after_the_end_is_done(active):
    pos = session.position(LADDER, active)
    assert pos.done
    assert pos.index == 3 == pos.phases_completed
    assert pos.phase_left == 0 and pos.session_left == 0


def test_repeat_blocks_unroll_with_round_labels_and_times():
    program = load([
        walk(30, name="Warm-up"),
        {"repeat": 3, "name": "Intervals", "steps": [walk(20, speed=1.0), walk(10, name="Easy")]},
        walk(30, name="Cool-down"),
    ])
    names = [(p.name, p.round_label) for p in program.phases]
    assert names == [("Warm-up", ""),
                     ("Intervals", "1 of 3"), ("Easy", "1 of 3"),
                     ("Intervals", "2 of 3"), ("Easy", "2 of 3"),
                     ("Intervals", "3 of 3"), ("Easy", "3 of 3"),
                     ("Cool-down", "")]
    assert program.total_seconds == 30 + 3 * 30 + 30
    assert session.phase_ends(program) == (30, 50, 60, 80, 90, 110, 120, 150)
    # 75 s of program time: second round, first step, 5 s left of it.
    pos = session.position(program, 75.0)
    assert (pos.index, pos.into_phase, pos.phase_left, pos.session_left) == (3, 15.0, 5.0, 75.0)
    assert program.phases[pos.index].round_label == "2 of 3"


def test_phase_lookup_out_of_range_is_none():
    assert session.phase(LADDER, 0).name == "Warm-up"
    assert session.phase(LADDER, 3) is None
    assert session.phase(LADDER, -1) is None


@pytest.mark.parametrize(
    "seconds, shown",
    [
        (0, "0:00"),
        (-3, "0:00"),
        (5, "0:05"),
        (59, "0:59"),
        (60, "1:00"),
        (80, "1:20"),
        (79.5, "1:20"),      # rounds up: a countdown never shows a second too few
        (79.01, "1:20"),
        (65, "1:05"),
        (599, "9:59"),
        (3599, "59:59"),
        (3600, "1:00:00"),
        (3725, "1:02:05"),
        (7200, "2:00:00"),
    ],
)
def test_format_clock(seconds, shown):
    assert session.format_clock(seconds) == shown


def parse_clock(text: str) -> int:
    total = 0
    for part in text.split(":"):
        total = total * 60 + int(part)
    return total


@settings(max_examples=200, deadline=None)
@given(whole=st.integers(0, 3 * 3600), fraction=st.floats(0.01, 0.99))
def test_format_clock_round_trips_and_rounds_up(whole, fraction):
    assert parse_clock(session.format_clock(whole)) == whole
    assert parse_clock(session.format_clock(whole + fraction)) == whole + 1
    minutes_and_seconds = session.format_clock(whole).split(":")
    assert all(len(part) == 2 for part in minutes_and_seconds[1:])


@settings(max_examples=150, deadline=None)
@given(program=programs(), data=st.data())
def test_position_is_consistent_everywhere_in_a_program(program, data):
    total = program.total_seconds
    ends = session.phase_ends(program)
    assert len(ends) == len(program.phases)
    assert ends[-1] == pytest.approx(total)
    assert all(a < b for a, b in zip(ends, ends[1:])), "every phase lasts more than zero seconds"
    times = sorted(data.draw(st.lists(st.floats(0, total * 1.2), min_size=1, max_size=20)))
    previous = None
    for active in times:
        pos = session.position(program, active)
        if pos.done:
            assert active >= total - 1e-6
            assert pos.index == len(program.phases)
        else:
            phase = program.phases[pos.index]
            assert 0 <= pos.into_phase < phase.seconds + 1e-9
            assert pos.into_phase + pos.phase_left == pytest.approx(phase.seconds)
            assert pos.session_left == pytest.approx(total - active)
            assert session.phase_start(program, pos.index) <= active + 1e-9 < ends[pos.index] + 1e-9
        if previous is not None:
            assert pos.index >= previous.index, "position never moves backwards as time goes on"
            assert pos.session_left <= previous.session_left + 1e-9
        previous = pos
