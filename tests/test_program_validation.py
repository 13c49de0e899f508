"""Program validation (app.core.program): every error category of docs/programs.md, the lint
warnings from docs/practice.md, and the shape of every message (one line: file, line, field)."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.caps import Caps
from app.core.program import (
    MAX_FILE_BYTES,
    MAX_PHASES,
    MAX_PROGRAM_SECONDS,
    MIN_FIRST_PHASE_SECONDS,
    MIN_PHASE_SECONDS,
    load_program,
    parse_program_text,
)
from app.core.units import KMH_PER_MPH

try:
    from tests.strategies import program_dicts, rough_program_dicts
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from strategies import program_dicts, rough_program_dicts

SOURCE = "programs/knee.toml"

HEADER = """\
id = "knee"
name = "Knee rehab"
units = "mph"
"""

PHASE = """\
[[phases]]
name = "Warm-up"
direction = "backward"
seconds = 120
speed = 0.5
incline = 0
rails = "required"
"""


def check(text: str, caps: Caps | None = None):
    program, problems = parse_program_text(textwrap.dedent(text), SOURCE, caps=caps)
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    for problem in problems:
        assert_one_line(problem)
    if errors:
        assert program is None, "a program with errors is never usable"
    return program, errors, warnings


def assert_one_line(problem) -> None:
    text = str(problem)
    assert len(text.splitlines()) == 1, repr(text)
    assert text.startswith(problem.source)
    if problem.line:
        assert text.startswith(f"{problem.source}:{problem.line}: ")
    if f"{problem.field}{problem.message}".isprintable():
        assert f": {problem.severity}: {problem.field}: " in text
    assert "Traceback" not in text


def only(problems):
    assert len(problems) == 1, [str(p) for p in problems]
    return problems[0]


def test_a_good_file_loads_without_problems():
    program, errors, warnings = check(HEADER + PHASE)
    assert errors == [] and warnings == []
    assert program.id == "knee" and program.units == "mph"
    phase = program.phases[0]
    assert (phase.name, phase.direction, phase.seconds, phase.rails) == ("Warm-up", "backward", 120, "required")
    assert phase.speed_kmh == pytest.approx(0.5 * KMH_PER_MPH)


# --- TOML syntax --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, line",
    [
        (HEADER + "[[phases]]\ndirection = backward\n", 5),     # unquoted string
        (HEADER + "[[phases]\n", 4),                           # bracket
        ('id = "knee"\nname "Knee"\n', 2),                     # missing '='
        ('id = "knee"\nid = "again"\n', 2),                    # duplicate key
    ],
)
def test_toml_syntax_error_names_the_line(text, line):
    program, errors, _ = check(text)
    problem = only(errors)
    assert problem.field == "TOML"
    assert problem.line == line
    assert str(problem).startswith(f"{SOURCE}:{line}: error: TOML: ")


def test_toml_error_at_end_of_document_still_one_line():
    _, errors, _ = check('id = "knee"\nname = [1,\n')
    problem = only(errors)
    assert problem.field == "TOML"


# --- unknown and missing fields ----------------------------------------------------------


def test_unknown_top_level_field_names_line_and_what_is_allowed():
    _, errors, _ = check(HEADER + 'colour = "red"\n' + PHASE)
    problem = only(errors)
    assert (problem.field, problem.line) == ("colour", 4)
    assert "unknown field" in problem.message and "description" in problem.message


def test_unknown_phase_field_names_the_phase():
    _, errors, _ = check(HEADER + PHASE + 'sped = 0.5\n')
    problem = only(errors)
    assert problem.field == "phases[1].sped"
    assert problem.line == 11
    assert "speed" in problem.message


@pytest.mark.parametrize("missing", ["id", "name", "units"])
def test_missing_top_level_field(missing):
    text = "\n".join(line for line in HEADER.splitlines() if not line.startswith(missing)) + "\n" + PHASE
    _, errors, _ = check(text)
    problem = only(errors)
    assert problem.field == missing
    assert "missing" in problem.message


def test_missing_phases():
    _, errors, _ = check(HEADER)
    assert only(errors).field == "phases"


@pytest.mark.parametrize("missing", ["direction", "speed", "rails", "seconds"])
def test_missing_phase_field_points_at_the_phase_table(missing):
    text = HEADER + "\n".join(line for line in PHASE.splitlines() if not line.startswith(missing)) + "\n"
    _, errors, _ = check(text)
    problem = only(errors)
    assert problem.field == f"phases[1].{missing}"
    assert problem.line == 4, "the [[phases]] header of the phase that lacks it"
    assert "missing" in problem.message


def test_every_problem_is_reported_at_once():
    text = """\
    id = "Bad Id!"
    units = "furlongs"
    [[phases]]
    direction = "sideways"
    seconds = 0
    speed = "fast"
    rails = "maybe"
    [[phases]]
    direction = "backward"
    minutes = 500
    speed = 9
    incline = -1
    rails = "required"
    """
    _, errors, _ = check(text)
    fields = sorted(p.field for p in errors)
    assert fields == sorted([
        "id", "name", "units",
        "phases[1].direction", "phases[1].seconds", "phases[1].speed", "phases[1].rails",
        "phases[2].minutes", "phases[2].speed", "phases[2].incline",
    ])
    lines = {p.field: p.line for p in errors}
    assert lines["phases[1].rails"] == 7 and lines["phases[2].incline"] == 12


# --- wrong types and values -------------------------------------------------------------


@pytest.mark.parametrize(
    "line, field, words",
    [
        ("speed = \"fast\"", "phases[1].speed", "number"),
        ("speed = true", "phases[1].speed", "number"),
        ("seconds = \"2 min\"", "phases[1].seconds", "number"),
        ("incline = [1]", "phases[1].incline", "number"),
        ("name = 5", "phases[1].name", "text"),
        ("cue = 3", "phases[1].cue", "text"),
        ("direction = \"sideways\"", "phases[1].direction", "\"backward\" or \"forward\""),
        ("direction = 1", "phases[1].direction", "\"backward\" or \"forward\""),
        ("rails = \"sometimes\"", "phases[1].rails", "\"required\" or \"optional\""),
        ("rails = false", "phases[1].rails", "\"required\" or \"optional\""),
    ],
)
def test_wrong_phase_value(line, field, words):
    key = line.split(" ")[0]
    phase = "\n".join(l for l in PHASE.splitlines() if not l.startswith(key + " ")) + "\n" + line + "\n"
    _, errors, _ = check(HEADER + phase)
    problem = only(errors)
    assert problem.field == field
    assert problem.line == len((HEADER + phase).splitlines()), "the line of the bad value"
    assert words in problem.message


@pytest.mark.parametrize(
    "line, field",
    [
        ('id = 5', "id"), ('id = "Knee Rehab"', "id"), ('id = ""', "id"),
        ('name = ""', "name"), ('units = "mps"', "units"), ('units = 1', "units"),
        ('advanced = "yes"', "advanced"), ('description = 3', "description"),
    ],
)
def test_wrong_top_level_value(line, field):
    header = "\n".join(l for l in HEADER.splitlines() if not l.startswith(line.split(" ")[0] + " "))
    _, errors, _ = check(header + "\n" + line + "\n" + PHASE)
    problem = only(errors)
    assert problem.field == field
    assert problem.line == len(header.splitlines()) + 1


def test_phases_must_be_tables():
    _, errors, _ = check(HEADER + "phases = [1, 2]\n")
    assert {p.field for p in errors} == {"phases[1]", "phases[2]"}
    _, errors, _ = check(HEADER + "phases = []\n")
    assert only(errors).field == "phases"


# --- caps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "speed_line, field_words",
    [
        ("speed = 0", "at least 0.1"),
        ("speed = -0.5", "at least 0.1"),
        ("speed = 1e-9", "at least 0.1"),
        ("speed = 4.6", "at most 4.5 mph"),   # default backward cap 4.5 mph
    ],
)
def test_speed_outside_the_caps(speed_line, field_words):
    phase = PHASE.replace("speed = 0.5", speed_line)
    _, errors, _ = check(HEADER + phase)
    problem = only(errors)
    assert problem.field == "phases[1].speed" and problem.line == 8
    assert field_words in problem.message


def cap_errors(errors):
    """Errors about the caps only (a fast first phase also breaks the start rule: not tested here)."""
    return [p for p in errors if "cap" in p.message]


def test_forward_and_backward_caps_differ():
    forward = PHASE.replace('"backward"', '"forward"').replace("speed = 0.5", "speed = 5.5")
    _, errors, _ = check(HEADER + forward)
    assert cap_errors(errors) == []
    backward = PHASE.replace("speed = 0.5", "speed = 5.5")
    _, errors, _ = check(HEADER + backward)
    assert only(errors).field == "phases[1].speed"


def test_speed_cap_in_kmh_files():
    header = HEADER.replace('"mph"', '"kmh"')
    _, errors, _ = check(header + PHASE.replace("speed = 0.5", "speed = 7.0"))
    assert cap_errors(errors) == []
    _, errors, _ = check(header + PHASE.replace("speed = 0.5", "speed = 7.5"))
    assert "km/h" in only(errors).message


@pytest.mark.parametrize("incline, ok", [(0, True), (10, True), (10.5, False), (-1, False)])
def test_incline_outside_the_caps(incline, ok):
    _, errors, _ = check(HEADER + PHASE.replace("incline = 0", f"incline = {incline}"))
    if ok:
        assert cap_errors(errors) == []
    else:
        problem = only(errors)
        assert problem.field == "phases[1].incline" and problem.line == 9


def test_station_caps_from_the_config_apply():
    strict = Caps(backward_speed_kmh=0.5 * KMH_PER_MPH - 0.01)
    _, errors, _ = check(HEADER + PHASE, caps=strict)
    assert only(errors).field == "phases[1].speed"


def test_program_caps_tighten_and_are_checked():
    caps = '[caps]\nbackward_speed = 0.4\n'
    _, errors, _ = check(HEADER + PHASE + caps)
    assert only(errors).field == "phases[1].speed"
    _, errors, _ = check(HEADER + PHASE + '[caps]\nbackward_speed = 0\nlimit = 3\n')
    assert sorted(p.field for p in errors) == ["caps.backward_speed", "caps.limit"]


# --- durations --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "duration, ok",
    [("seconds = 0", False), ("seconds = -10", False), ("seconds = 1", False), ("seconds = 9.9", False),
     ("seconds = 10", True), ("seconds = 7080", True), ("seconds = 7201", False), ("minutes = 0", False),
     ("minutes = 118", True), ("minutes = 121", False), ("minutes = 0.5", True), ("seconds = 1e-9", False),
     ("minutes = 1e-300", False), ("seconds = 0.001", False)],
)
def test_phase_duration_at_least_ten_seconds_and_at_most_two_hours(duration, ok):
    """Finding 1: ``seconds = 1e-9`` and ``minutes = 1e-300`` were accepted ("OK, 0 min")."""
    second = PHASE.replace("seconds = 120", duration).replace('"Warm-up"', '"Walk"')
    _, errors, _ = check(HEADER + PHASE + second)
    if ok:
        assert errors == []
    else:
        problem = only(errors)
        assert problem.field == f"phases[2].{duration.split(' ')[0]}"
        assert problem.line == 14
        assert "at least 10 seconds" in problem.message and "2 hours" in problem.message


def test_seconds_and_minutes_together():
    _, errors, _ = check(HEADER + PHASE + "minutes = 2\n")
    assert only(errors).field == "phases[1].minutes"


def step(table="[[phases.steps]]", seconds=60, speed=0.8, rails="required", extra=""):
    """A step table of a repeat block, as a therapist writes it."""
    return (f'{table}\n{extra}direction = "backward"\nseconds = {seconds}\nspeed = {speed}\n'
            f'rails = "{rails}"\n')


def test_whole_program_at_most_two_hours():
    _, errors, _ = check(HEADER + PHASE + "[[phases]]\nrepeat = 3\n" + step(seconds=50 * 60, speed=0.5))
    problem = only(errors)
    assert problem.field == "phases"
    assert "152 minutes" in problem.message and "120" in problem.message


# --- repeat blocks ---------------------------------------------------------------------


def test_repeat_block_loads_and_unrolls():
    block = ('[[phases]]\nname = "Intervals"\nrepeat = 2\n' + step()
             + step(seconds=30, speed=0.5, rails="optional", extra='name = "Rest"\n'))
    program, errors, _ = check(HEADER + PHASE + block)
    assert errors == []
    assert [p.name for p in program.phases] == ["Warm-up", "Intervals", "Rest", "Intervals", "Rest"]
    assert program.total_seconds == 120 + 2 * 90


def test_nested_repeat_is_refused_with_a_hint():
    _, errors, _ = check(HEADER + "[[phases]]\nrepeat = 2\n" + step(extra="repeat = 3\n"))
    problem = only(errors)
    assert problem.field == "phases[1].steps[1].repeat"
    assert problem.line == 7
    assert "nested" in problem.message


def test_nested_steps_table_is_refused():
    _, errors, _ = check(HEADER + "[[phases]]\nrepeat = 2\n" + step() + step("[[phases.steps.steps]]"))
    assert "nested" in only(errors).message


@pytest.mark.parametrize("repeat", ["0", "51", '"3"', "2.5", "true"])
def test_repeat_count_must_be_a_whole_number_in_range(repeat):
    _, errors, _ = check(HEADER + f"[[phases]]\nrepeat = {repeat}\n" + step())
    problem = only(errors)
    assert problem.field == "phases[1].repeat" and problem.line == 5


def test_repeat_block_needs_steps_and_no_phase_fields():
    _, errors, _ = check(HEADER + "[[phases]]\nrepeat = 2\nspeed = 0.5\n")
    assert sorted(p.field for p in errors) == ["phases[1].speed", "phases[1].steps"]


# --- start, step and turn rules (docs/practice.md, docs/programs.md) --------------------------


def phase(name, speed, incline=0, direction="backward", seconds=60):
    return (f'[[phases]]\nname = "{name}"\ndirection = "{direction}"\nseconds = {seconds}\n'
            f'speed = {speed}\nincline = {incline}\nrails = "required"\n')


ADVANCED = HEADER + "advanced = true\n"


@pytest.mark.parametrize("header", [HEADER, ADVANCED])
def test_first_phase_not_flat_is_an_error_even_when_advanced(header):
    program, errors, _ = check(header + phase("Hill", 0.5, incline=2))
    problem = only(errors)
    assert problem.field == "phases[1].incline" and problem.line == len(header.splitlines()) + 6
    assert "flat" in problem.message


def test_first_phase_above_one_mph_is_an_error_unless_advanced():
    _, errors, _ = check(HEADER + phase("Fast", 1.5))
    problem = only(errors)
    assert problem.field == "phases[1].speed" and problem.line == 8
    assert "1.0 mph" in problem.message and "advanced = true" in problem.message
    program, errors, warnings = check(ADVANCED + phase("Fast", 1.5))
    assert errors == [] and program is not None
    assert "advanced" in only(warnings).message


def test_even_an_advanced_program_starts_at_two_mph_at_most():
    _, errors, _ = check(ADVANCED + phase("Fast", 2.1))
    assert "2.0 mph" in only(errors).message
    _, errors, _ = check(ADVANCED + phase("Fast", 2.0))
    assert errors == []


@pytest.mark.parametrize("header", [HEADER, ADVANCED])
def test_first_phase_lasts_at_least_a_minute(header):
    _, errors, _ = check(header + phase("Step on", 0.5, seconds=59) + phase("Walk", 0.5))
    problem = only(errors)
    assert problem.field == "phases[1].seconds" and "at least 60 seconds" in problem.message
    _, errors, _ = check(header + phase("Step on", 0.5, seconds=60) + phase("Walk", 0.5))
    assert errors == []


def test_finding_a_millisecond_of_slow_walking_then_full_speed_is_refused():
    """Finding 1: 0.001 s at 0.5 mph, then 4.5 mph backward, passed with only a warning."""
    text = HEADER + phase("Slow", 0.5, seconds=0.001) + phase("Fast", 4.5, seconds=600)
    program, errors, _ = check(text)
    assert program is None
    assert any(p.field == "phases[1].seconds" for p in errors)
    # With a long enough first phase the jump itself is refused, and the speed too.
    text = HEADER + phase("Slow", 0.5) + phase("Fast", 4.5, seconds=600)
    program, errors, _ = check(text)
    assert program is None
    assert {p.field for p in errors} == {"phases[2].speed"}
    assert any("step of 4 mph" in p.message for p in errors)
    assert any("3.5 mph" in p.message for p in errors)


def test_finding_many_tiny_alternating_phases_are_refused():
    """Finding 1: a hundred belt commands alternating 0.8 and 4.8 km/h within 0.1 s."""
    header = HEADER.replace('"mph"', '"kmh"')
    text = header + phase("Start", 0.8) + "".join(
        phase(f"P{i}", 4.8 if i % 2 else 0.8, seconds=0.001) for i in range(100))
    program, errors, _ = check(text)
    assert program is None
    assert len(errors) == 100 and all("at least 10 seconds" in p.message for p in errors)


@pytest.mark.parametrize("header, before, after, ok", [
    (HEADER, 0.5, 1.0, True), (HEADER, 0.5, 1.1, False), (HEADER, 1.0, 0.5, True),
    (ADVANCED, 0.5, 2.5, True), (ADVANCED, 0.5, 2.6, False),
])
def test_speed_step_between_phases(header, before, after, ok):
    program, errors, _ = check(header + phase("Walk", before) + phase("Faster", after))
    if ok:
        assert errors == [] and program is not None
    else:
        problem = only(errors)
        assert problem.field == "phases[2].speed" and problem.line == len(header.splitlines()) + 12
        assert "step of" in problem.message


def test_speed_step_in_kmh_files_is_half_a_mph():
    header = HEADER.replace('"mph"', '"kmh"')
    _, errors, _ = check(header + phase("Walk", 1.6) + phase("Faster", 2.4))
    assert errors == []
    _, errors, _ = check(header + phase("Walk", 1.6) + phase("Faster", 2.5))
    assert "0.8 km/h" in only(errors).message


def test_the_step_into_the_next_round_of_a_repeat_counts():
    """Rules apply to the phases as they run: the last step of a round is followed by the first."""
    block = ('[[phases]]\nrepeat = 2\n' + step(speed=1.5) + step(speed=0.5))
    _, errors, _ = check(HEADER + phase("Walk", 1.0) + block)
    problem = only(errors)
    assert problem.field == "phases[2].steps[1].speed" and problem.line == 16
    assert "0.5 mph to 1.5 mph" in problem.message


@pytest.mark.parametrize("header, before_turn, after_turn, ok", [
    (HEADER, 1.0, 1.0, True), (HEADER, 1.1, 1.0, False), (HEADER, 1.0, 1.1, False),
    (ADVANCED, 2.0, 2.0, True), (ADVANCED, 2.1, 1.0, False),
])
def test_slow_down_before_a_turn_and_start_slow_backward_after_it(header, before_turn, after_turn, ok):
    text = (header + phase("Warm-up", 1.0, direction="forward") + phase("Forward", before_turn, direction="forward")
            + phase("Backward", after_turn))
    _, errors, _ = check(text)
    if ok:
        assert errors == []
    else:
        problem = only(errors)
        assert "turn" in problem.message
        assert problem.field == ("phases[2].speed" if before_turn > after_turn else "phases[3].speed")


def test_a_forward_phase_after_a_turn_may_be_faster():
    """Forward walking is the familiar direction (the built-in forward/backward intervals do this)."""
    text = HEADER + phase("Back", 0.6) + phase("Forward", 2.0, direction="forward")
    _, errors, _ = check(text)
    assert errors == []


@pytest.mark.parametrize("header", [HEADER, ADVANCED])
def test_raising_speed_and_incline_at_once_is_an_error(header):
    text = header + phase("Walk", 0.5) + phase("Climb", 0.8, incline=2) + phase("Faster", 1.0, incline=2)
    _, errors, _ = check(text)
    problem = only(errors)
    assert problem.field == "phases[2].incline"
    assert problem.line == len(header.splitlines()) + 13
    assert "speed and incline" in problem.message


def test_raising_one_at_a_time_passes():
    text = HEADER + phase("Walk", 0.5) + phase("Faster", 0.8) + phase("Climb", 0.8, incline=2) + phase("Down", 0.5, 0)
    _, errors, warnings = check(text)
    assert errors == [] and warnings == []


def test_incline_rises_two_percent_at_most_unless_advanced():
    text = phase("Walk", 0.5) + phase("Climb", 0.5, incline=3)
    _, errors, _ = check(HEADER + text)
    assert "2 %" in only(errors).message
    _, errors, _ = check(ADVANCED + text)
    assert errors == []


def test_backward_above_three_and_a_half_mph_is_an_error_unless_advanced():
    ladder = [phase("Walk", 0.5)] + [phase(f"Up {v}", v) for v in (1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0)]
    text = "".join(ladder) + phase("Run", 5.0, direction="forward")
    _, errors, _ = check(HEADER + text.replace('"Run"', '"Run"'))
    problem = only([p for p in errors if "3.5 mph" in p.message])
    assert problem.field == "phases[8].speed"
    _, errors, warnings = check(ADVANCED + text)
    assert [p for p in errors if "turn" not in p.message] == []
    assert "3.5 mph" in only([w for w in warnings if "3.5" in w.message]).message


def test_advanced_jog_intervals_warn_once_not_once_per_round():
    block = '[[phases]]\nrepeat = 5\n' + step(speed=3.8) + step(speed=2.0)
    program, errors, warnings = check(ADVANCED + phase("Walk", 1.0, seconds=120) + phase("Brisk", 2.0) + block)
    assert errors == [] and program is not None
    assert len(warnings) == 1 and "3.5 mph" in warnings[0].message


def test_lint_in_kmh_files_uses_kmh():
    header = HEADER.replace('"mph"', '"kmh"')
    _, errors, _ = check(header + phase("Fast", 2.0))
    assert "1.6 km/h" in only(errors).message


@pytest.mark.parametrize("path", sorted((Path(__file__).parent.parent / "assets" / "programs").glob("*.toml")),
                         ids=lambda p: p.stem)
def test_every_built_in_program_passes_the_rules(path):
    program, errors, warnings = check(path.read_text(encoding="utf-8"))
    assert errors == [] and program is not None
    assert all("3.5 mph" in w.message for w in warnings), "only the jogging program's intended warning"


# --- phase count, file size and absurd numbers (findings 2 and 3) ---------------------------


def test_too_many_phases_is_refused_before_repeats_are_unrolled():
    block = "[[phases]]\nrepeat = 50\n" + step(seconds=10, speed=0.5) * 300
    start = time.monotonic()
    program, errors, _ = check(HEADER + PHASE + block)
    assert time.monotonic() - start < 2.0
    problem = only(errors)
    assert problem.field == "phases" and "15,001 phases" in problem.message and str(MAX_PHASES) in problem.message


def test_the_phase_limit_itself_is_allowed():
    block = f"[[phases]]\nrepeat = {MAX_PHASES - 1}\n".replace(str(MAX_PHASES - 1), "1") + step(seconds=10, speed=0.5) * (MAX_PHASES - 1)
    _, errors, _ = check(HEADER + PHASE + block)
    assert errors == []
    _, errors, _ = check(HEADER + PHASE + block + step(seconds=10, speed=0.5))
    assert f"{MAX_PHASES + 1} phases" in only(errors).message


def test_a_file_above_the_size_bound_is_one_problem():
    text = HEADER + PHASE + "# " + "x" * MAX_FILE_BYTES + "\n"
    program, errors, _ = check(text)
    problem = only(errors)
    assert problem.field == "file" and f"{MAX_FILE_BYTES:,} bytes" in problem.message


BIG = "9" * 401


@pytest.mark.parametrize("key, value", [
    ("speed", BIG), ("speed", "-" + BIG), ("seconds", BIG), ("incline", BIG), ("speed", "nan"), ("speed", "inf"),
    ("seconds", "-inf"), ("incline", "nan"), ("speed", "1e308"), ("seconds", "1e400"),
])
def test_absurd_numbers_are_one_line_errors(key, value):
    """Finding 2: a 401-digit integer gave an OverflowError traceback; nan and inf."""
    text = HEADER + PHASE.replace(f"\n{key} = ", f"\n{key} = {value}\n# was: ") if f"\n{key} = " in PHASE else HEADER + PHASE
    program, errors, _ = check(text)
    problem = only(errors)
    assert problem.field == f"phases[1].{key}"
    assert problem.line == {"seconds": 7, "speed": 8, "incline": 9}[key]
    assert len(str(problem)) < 250 and BIG not in str(problem)


def test_absurd_numbers_in_caps_and_repeat():
    _, errors, _ = check(HEADER + PHASE + f"[caps]\nbackward_speed = {BIG}\n")
    assert only(errors).field == "caps.backward_speed"
    _, errors, _ = check(HEADER + f"[[phases]]\nrepeat = {BIG}\n" + step())
    assert only(errors).field == "phases[1].repeat"


def test_arrays_nested_hundreds_deep_are_one_problem():
    """Finding 2: arrays nested 500 deep gave a RecursionError traceback."""
    for depth in (500, 5000):
        text = HEADER + PHASE.replace("incline = 0", "incline = " + "[" * depth + "]" * depth)
        program, errors, _ = check(text)
        assert program is None
        problem = only(errors)
        assert "nested" in problem.message or problem.field == "phases[1].incline"


def test_a_long_key_or_value_is_echoed_short():
    text = HEADER + PHASE.replace('"backward"', '"' + "b" * 30_000 + '"') + "k" * 30_000 + " = 1\n"
    _, errors, _ = check(text)
    assert len(errors) == 2
    for problem in errors:
        assert len(str(problem)) < 300


# --- message shape ----------------------------------------------------------------------


def test_messages_with_newlines_in_the_file_stay_one_line():
    """Regression: a quoted key or value holding a newline escape turned one problem into two
    output lines (and could fake a second, innocent-looking line)."""
    text = HEADER + '"bad\\nkey" = 1\n' + PHASE.replace('"backward"', '"back\\nward"')
    _, errors, _ = check(text)
    assert len(errors) == 2
    for problem in errors:
        assert len(str(problem).splitlines()) == 1


def test_missing_field_without_a_line_still_names_file_and_field():
    _, errors, _ = check(PHASE)
    for problem in errors:
        text = str(problem)
        assert text.startswith(f"{SOURCE}: error: " if problem.line is None else f"{SOURCE}:")
        assert problem.field in text


TOML_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(), st.text(max_size=8)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.one_of(TOML_VALUES, program_dicts()), mutate=st.dictionaries(
    st.sampled_from(["id", "name", "units", "phases", "advanced", "caps", "x"]), TOML_VALUES, max_size=3))
def test_loader_never_raises_and_every_message_is_one_line(data, mutate):
    if isinstance(data, dict):
        data = {**data, **mutate}
    program, problems = load_program(data, SOURCE)
    for problem in problems:
        assert_one_line(problem)
    if program is None:
        assert any(p.severity == "error" for p in problems)
    else:
        assert not any(p.severity == "error" for p in problems)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=200))
def test_parser_never_raises_on_any_text(text):
    program, problems = parse_program_text(HEADER + text, SOURCE)
    for problem in problems:
        assert_one_line(problem)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=program_dicts())
def test_every_generated_valid_program_loads(data):
    program, problems = load_program(data, SOURCE)
    assert program is not None, [str(p) for p in problems]
    assert not any(p.severity == "error" for p in problems)
    rounds = sum(entry.get("repeat", 1) * len(entry.get("steps", [entry])) for entry in data["phases"])
    assert len(program.phases) == rounds


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=rough_program_dicts())
def test_every_accepted_program_obeys_the_start_and_step_rules(data):
    """Whatever the loader accepts obeys the rules of docs/programs.md, checked here on the phases
    as they run (repeats unrolled), from the rule values, not from the loader's own code."""
    program, problems = load_program(data, SOURCE)
    if program is None:
        assert any(p.severity == "error" for p in problems)
        return
    eps = 1e-6
    advanced = program.advanced
    mph = KMH_PER_MPH
    phases = program.phases
    assert 1 <= len(phases) <= MAX_PHASES
    assert MIN_FIRST_PHASE_SECONDS <= program.total_seconds <= MAX_PROGRAM_SECONDS
    first = phases[0]
    assert first.seconds >= MIN_FIRST_PHASE_SECONDS and first.incline_pct == 0
    assert first.speed_kmh <= (2.0 if advanced else 1.0) * mph + eps
    for phase in phases:
        assert phase.seconds >= MIN_PHASE_SECONDS
        if not advanced and phase.direction == "backward":
            assert phase.speed_kmh <= 3.5 * mph + eps
    for before, after in zip(phases, phases[1:]):
        if before.direction == after.direction:
            assert after.speed_kmh - before.speed_kmh <= (2.0 if advanced else 0.5) * mph + eps
        else:
            assert before.speed_kmh <= (2.0 if advanced else 1.0) * mph + eps
            if after.direction == "backward":
                assert after.speed_kmh <= (2.0 if advanced else 1.0) * mph + eps
            continue  # a turn: the belt stops and starts again; the step rules do not apply
        assert not (after.speed_kmh > before.speed_kmh + eps and after.incline_pct > before.incline_pct + eps)
        if not advanced:
            assert after.incline_pct - before.incline_pct <= 2 + eps
