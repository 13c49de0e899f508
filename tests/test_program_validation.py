"""Program validation (app.core.program): every error category of issue 2 part 2, the lint
warnings from PROTOCOLS.md, and the shape of every message (one line: file, line, field)."""

from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.caps import Caps
from app.core.program import load_program, parse_program_text
from app.core.units import KMH_PER_MPH

try:
    from tests.strategies import program_dicts
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    from strategies import program_dicts

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
        ("speed = 0", "above 0"),
        ("speed = -0.5", "above 0"),
        ("speed = 4.6", "at most 4.5 mph"),   # default backward cap 4.5 mph
    ],
)
def test_speed_outside_the_caps(speed_line, field_words):
    phase = PHASE.replace("speed = 0.5", speed_line)
    _, errors, _ = check(HEADER + phase)
    problem = only(errors)
    assert problem.field == "phases[1].speed" and problem.line == 8
    assert field_words in problem.message


def test_forward_and_backward_caps_differ():
    forward = PHASE.replace('"backward"', '"forward"').replace("speed = 0.5", "speed = 5.5")
    _, errors, _ = check(HEADER + forward)
    assert errors == []
    backward = PHASE.replace("speed = 0.5", "speed = 5.5")
    _, errors, _ = check(HEADER + backward)
    assert only(errors).field == "phases[1].speed"


def test_speed_cap_in_kmh_files():
    header = HEADER.replace('"mph"', '"kmh"')
    _, errors, _ = check(header + PHASE.replace("speed = 0.5", "speed = 7.0"))
    assert errors == []
    _, errors, _ = check(header + PHASE.replace("speed = 0.5", "speed = 7.5"))
    assert "km/h" in only(errors).message


@pytest.mark.parametrize("incline, ok", [(0, True), (10, True), (10.5, False), (-1, False)])
def test_incline_outside_the_caps(incline, ok):
    _, errors, _ = check(HEADER + PHASE.replace("incline = 0", f"incline = {incline}"))
    if ok:
        assert errors == []
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
    [("seconds = 0", False), ("seconds = -10", False), ("seconds = 1", True), ("seconds = 7200", True),
     ("seconds = 7201", False), ("minutes = 0", False), ("minutes = 120", True), ("minutes = 121", False),
     ("minutes = 0.5", True)],
)
def test_phase_duration_above_zero_and_at_most_two_hours(duration, ok):
    _, errors, _ = check(HEADER + PHASE.replace("seconds = 120", duration))
    if ok:
        assert errors == []
    else:
        problem = only(errors)
        assert problem.field == f"phases[1].{duration.split(' ')[0]}"
        assert problem.line == 7
        assert "2 hours" in problem.message


def test_seconds_and_minutes_together():
    _, errors, _ = check(HEADER + PHASE + "minutes = 2\n")
    assert only(errors).field == "phases[1].minutes"


def step(table="[[phases.steps]]", seconds=60, speed=0.8, rails="required", extra=""):
    """A step table of a repeat block, as a therapist writes it."""
    return (f'{table}\n{extra}direction = "backward"\nseconds = {seconds}\nspeed = {speed}\n'
            f'rails = "{rails}"\n')


def test_whole_program_at_most_two_hours():
    _, errors, _ = check(HEADER + "[[phases]]\nrepeat = 3\n" + step(seconds=50 * 60, speed=0.5))
    problem = only(errors)
    assert problem.field == "phases"
    assert "150 minutes" in problem.message and "120" in problem.message


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


# --- lint warnings (PROTOCOLS.md) --------------------------------------------------------


def phase(name, speed, incline=0, direction="backward", seconds=60):
    return (f'[[phases]]\nname = "{name}"\ndirection = "{direction}"\nseconds = {seconds}\n'
            f'speed = {speed}\nincline = {incline}\nrails = "required"\n')


def test_first_phase_not_flat_warns():
    program, errors, warnings = check(HEADER + phase("Hill", 0.5, incline=2))
    assert errors == [] and program is not None, "warnings never block a program"
    problem = only(warnings)
    assert problem.field == "phases[1].incline" and problem.line == 9
    assert "flat" in problem.message


def test_first_phase_above_one_mph_warns_and_says_what_the_station_does():
    _, _, warnings = check(HEADER + phase("Fast", 1.5))
    problem = only(warnings)
    assert problem.field == "phases[1].speed" and problem.line == 8
    assert "1.0 mph" in problem.message and "advanced = true" in problem.message
    _, _, warnings = check(HEADER + "advanced = true\n" + phase("Fast", 1.5))
    assert "advanced = true" not in only(warnings).message


def test_raising_speed_and_incline_at_once_warns_on_that_phase():
    text = HEADER + phase("Walk", 0.5) + phase("Climb", 0.8, incline=2) + phase("Faster", 1.0, incline=2)
    _, errors, warnings = check(text)
    assert errors == []
    problem = only(warnings)
    assert "phase 2" in problem.field and "Climb" in problem.field
    assert problem.line == 11
    assert "speed and incline" in problem.message


def test_raising_one_at_a_time_does_not_warn():
    text = HEADER + phase("Walk", 0.5) + phase("Faster", 0.8) + phase("Climb", 0.8, incline=2) + phase("Down", 0.5, 0)
    _, errors, warnings = check(text)
    assert errors == [] and warnings == []


def test_backward_above_three_and_a_half_mph_warns_forward_does_not():
    text = HEADER + phase("Walk", 0.5) + phase("Jog", 4.0) + phase("Run", 5.0, direction="forward")
    _, errors, warnings = check(text)
    assert errors == []
    problem = only(warnings)
    assert "Jog" in problem.field and "3.5 mph" in problem.message
    assert problem.line == 11


def test_lint_in_kmh_files_uses_kmh():
    header = HEADER.replace('"mph"', '"kmh"')
    _, _, warnings = check(header + phase("Fast", 2.0))
    assert "km/h" in only(warnings).message


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
