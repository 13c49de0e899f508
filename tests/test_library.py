"""The built-in program library (assets/programs) and app.shell.library.

The built-ins are what a new station offers on day one, so each one is held to PROTOCOLS.md here:
who it is for, cues on every phase, rails and speeds that follow practice.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.config import parse_config
from app.core.caps import FIRST_PHASE_SPEED_KMH
from app.core.program import Program
from app.core.units import KMH_PER_MPH
from app.errors import UserError
from app.shell.library import builtin_programs_dir, home_order, load_library, load_program_file

FIXTURES = Path(__file__).parent / "fixtures" / "programs"
BUILTIN_FILES = sorted(builtin_programs_dir().glob("*.toml"))
REQUIRED_IDS = {
    "beginner-flat", "knee-extension-rehab", "speed-ladder", "incline-ladder",
    "forward-backward-intervals", "knee-oa-10", "backward-jog-intervals", "steady-10",
}
#: The only built-ins allowed a warning from `programs check`, and the warning each expects.
INTENDED_WARNINGS = {"backward-jog-intervals": "above 3.5 mph"}


@pytest.fixture(autouse=True)
def no_user_programs(tmp_path, monkeypatch):
    """Keep a developer's own ~/.config/backstep/programs out of these tests."""
    monkeypatch.setenv("BACKSTEP_PROGRAMS", str(tmp_path / "no-user-programs"))


@pytest.fixture(scope="module")
def builtins() -> dict[str, Program]:
    library = load_library(include_user_dir=False)
    assert library.problems == ()
    return {p.id: p for p in library.programs}


def test_the_library_has_every_required_program(builtins):
    assert len(builtins) >= 8
    assert REQUIRED_IDS <= set(builtins)


@pytest.mark.parametrize("path", BUILTIN_FILES, ids=lambda p: p.stem)
def test_each_builtin_passes_check_with_only_intended_warnings(path):
    program, problems = load_program_file(path)
    assert program is not None, [str(p) for p in problems]
    assert [p for p in problems if p.severity == "error"] == []
    expected = INTENDED_WARNINGS.get(program.id)
    warnings = [p.message for p in problems if p.severity == "warning"]
    if expected is None:
        assert warnings == []
    else:
        assert warnings and all(expected in w for w in warnings)
        # An intended warning is explained to whoever edits the file next.
        comments = "\n".join(line for line in path.read_text().splitlines() if line.startswith("#"))
        assert "warning" in comments.lower()


@pytest.mark.parametrize("path", BUILTIN_FILES, ids=lambda p: p.stem)
def test_each_builtin_says_who_it_is_for_and_cues_every_phase(path):
    program, _ = load_program_file(path)
    assert program.id == path.stem  # the file name finds the program
    assert len(program.description) >= 80, "the description says who it is for and what it does"
    assert program.description.lower().startswith("for ")
    assert 0 < len(program.audience) <= 50, "the audience line fits on a program card"
    for phase in program.phases:
        assert phase.cue, f"{phase.name} has no cue"
    # Every phase is named in the file (the loader would otherwise name it after its direction).
    for entry in program.snapshot["phases"]:
        for written in entry.get("steps", [entry]):
            assert written.get("name"), f"a phase in {path.name} has no name"


@pytest.mark.parametrize("path", BUILTIN_FILES, ids=lambda p: p.stem)
def test_each_builtin_follows_practice(path):
    program, _ = load_program_file(path)
    first = program.phases[0]
    # PROTOCOLS.md safety set-up 3: start at the slowest speed, incline zero.
    assert first.incline_pct == 0
    assert first.speed_kmh <= FIRST_PHASE_SPEED_KMH + 1e-9
    # Rails: held at first; let go only once mastered, so optional only in advanced programs.
    if not program.advanced:
        assert all(p.rails == "required" for p in program.phases)
    # Never raise speed and incline at the same time.
    for before, after in zip(program.phases, program.phases[1:]):
        assert not (after.speed_kmh > before.speed_kmh and after.incline_pct > before.incline_pct)
    # A built-in stays under the default caps with room to spare (4.5 mph backward).
    assert all(p.speed_kmh <= 4.5 * KMH_PER_MPH for p in program.phases if p.direction == "backward")


def test_builtins_match_the_patterns_in_protocols(builtins):
    mph = lambda kmh: kmh / KMH_PER_MPH  # noqa: E731

    beginner = builtins["beginner-flat"]
    assert {round(mph(p.speed_kmh), 2) for p in beginner.phases} == {0.5}
    assert all(p.incline_pct == 0 for p in beginner.phases)
    assert 2 * 60 <= beginner.total_seconds <= 5 * 60

    rehab = builtins["knee-extension-rehab"]
    assert 2 * 60 <= rehab.total_seconds <= 5 * 60
    assert any("knee" in p.cue.lower() and "straight" in p.cue.lower() for p in rehab.phases)

    ladder = builtins["speed-ladder"]
    steps = [round(mph(b.speed_kmh) - mph(a.speed_kmh), 2) for a, b in zip(ladder.phases, ladder.phases[1:])]
    rises = [s for s in steps if s > 0]
    assert len(rises) >= 3 and all(0.1 <= s <= 0.2 for s in rises)

    incline = builtins["incline-ladder"]
    levels = [p.incline_pct for p in incline.phases]
    top = levels.index(max(levels))
    assert levels[0] == 0 and max(levels) > 0
    assert levels[: top + 1] == sorted(levels[: top + 1]) and levels[top:] == sorted(levels[top:], reverse=True)
    assert all(p.seconds == 60 for p in incline.phases if p.incline_pct > 0)

    intervals = builtins["forward-backward-intervals"]
    assert any(p.round_label for p in intervals.phases), "written with repeat = N"
    for before, after in zip(intervals.phases, intervals.phases[1:]):
        if before.direction != after.direction:
            assert before.speed_kmh <= 1.0 * KMH_PER_MPH + 1e-9, "slow down before turning around"

    assert builtins["knee-oa-10"].total_seconds == 10 * 60  # Alghadir et al. 2019

    jog = builtins["backward-jog-intervals"]
    assert jog.advanced and any(mph(p.speed_kmh) > 3.5 for p in jog.phases)

    assert 5 * 60 <= builtins["steady-10"].total_seconds <= 10 * 60
    assert any(p.units == "kmh" for p in builtins.values()) and any(p.units == "mph" for p in builtins.values())


def test_home_screen_order_puts_the_beginner_first_and_advanced_last(builtins):
    library = load_library(include_user_dir=False)
    assert library.programs[0].id == "beginner-flat"
    advanced = [p.advanced for p in library.programs]
    assert advanced == sorted(advanced), "every advanced program comes after the ordinary ones"
    assert list(library.programs) == sorted(library.programs, key=home_order)


def test_a_broken_extra_file_never_stops_the_others(tmp_path):
    extra = tmp_path / "clinic"
    extra.mkdir()
    shutil.copy(FIXTURES / "wrong-type.toml", extra)
    shutil.copy(FIXTURES / "syntax-error.toml", extra)
    (extra / "latin1.toml").write_bytes('id = "caf\u00e9"\n'.encode("latin-1"))
    (extra / "own.toml").write_text(
        'id = "clinic-own"\nname = "Clinic own"\nunits = "mph"\naudience = "Our patients"\n'
        '[[phases]]\ndirection = "backward"\nminutes = 3\nspeed = 0.6\nrails = "required"\ncue = "Toes first"\n'
    )
    library = load_library(extra_dirs=[extra], include_user_dir=False)
    assert library.get("clinic-own") is not None
    assert REQUIRED_IDS <= set(library.ids)
    assert sorted(Path(s).name for s in library.broken) == ["latin1.toml", "syntax-error.toml", "wrong-type.toml"]
    wrong = library.problems_for(str(extra / "wrong-type.toml"))
    assert [(p.line, p.field) for p in wrong] == [(10, "phases[1].speed")]
    latin = library.problems_for(str(extra / "latin1.toml"))
    assert "UTF-8" in latin[0].message


def test_a_duplicate_id_keeps_the_builtin_and_names_the_copy(tmp_path):
    extra = tmp_path / "clinic"
    extra.mkdir()
    (extra / "my-beginner.toml").write_text(
        (builtin_programs_dir() / "beginner-flat.toml").read_text().replace("speed = 0.5", "speed = 0.6")
    )
    library = load_library(extra_dirs=[extra], include_user_dir=False)
    assert library.get("beginner-flat").source.endswith("assets/programs/beginner-flat.toml")
    [problem] = library.problems
    assert problem.field == "id" and "already used" in problem.message
    assert library.duplicates == (str(extra / "my-beginner.toml"),)


def test_the_user_folder_is_read_and_a_missing_one_is_quiet(tmp_path, monkeypatch):
    folder = tmp_path / "programs"
    monkeypatch.setenv("BACKSTEP_PROGRAMS", str(folder))
    assert load_library().problems == ()  # not there yet: nothing to say
    folder.mkdir()
    shutil.copy(FIXTURES / "warnings-only.toml", folder)
    library = load_library()
    assert library.get("warnings-only") is not None
    assert folder in library.folders
    assert {p.source for p in library.warnings} >= {str(folder / "warnings-only.toml")}


def test_an_extra_folder_asked_for_by_name_must_exist(tmp_path):
    library = load_library(extra_dirs=[tmp_path / "nowhere"], include_user_dir=False)
    assert library.get("beginner-flat") is not None
    [problem] = library.problems
    assert "not found" in problem.message and "nowhere" in problem.source


def test_the_station_caps_validate_every_program():
    # A station whose treadmill tops out lower: the jogging program no longer fits and is left out.
    config = parse_config("[safety]\nunits = \"mph\"\nbackward_speed = 3.0\n")
    library = load_library(config, include_user_dir=False)
    assert library.get("backward-jog-intervals") is None
    assert library.get("beginner-flat") is not None
    jog = [p for p in library.problems if p.source.endswith("backward-jog-intervals.toml")]
    assert jog and all("cap" in p.message for p in jog)


def test_resolve_by_id_and_by_path():
    library = load_library(include_user_dir=False)
    assert library.resolve("steady-10").id == "steady-10"
    path = builtin_programs_dir() / "knee-oa-10.toml"
    assert library.resolve(str(path)).id == "knee-oa-10"


def test_resolve_an_unknown_id_names_it_and_the_ids_there_are():
    library = load_library(include_user_dir=False)
    with pytest.raises(UserError) as caught:
        library.resolve("beginer-flat")
    message = str(caught.value)
    assert "'beginer-flat'" in message and "beginner-flat" in message and "steady-10" in message
    assert "\n" not in message


def test_resolve_a_broken_or_missing_file_names_the_file_and_the_problem(tmp_path):
    library = load_library(include_user_dir=False)
    with pytest.raises(UserError) as caught:
        library.resolve(str(FIXTURES / "bad-direction.toml"))
    message = str(caught.value)
    assert "bad-direction.toml:8" in message and "sideways" in message and "bad-direction.toml:11" in message
    with pytest.raises(UserError, match=r"missing\.toml: error: file: not found"):
        library.resolve(str(tmp_path / "missing.toml"))


def test_resolve_an_id_whose_file_is_broken_explains_why(tmp_path):
    extra = tmp_path / "clinic"
    extra.mkdir()
    shutil.copy(FIXTURES / "zero-duration.toml", extra)
    library = load_library(extra_dirs=[extra], include_user_dir=False)
    with pytest.raises(UserError, match=r"zero-duration\.toml:9: error: phases\[1\]\.seconds"):
        library.resolve("zero-duration")


def test_load_program_file_turns_every_unreadable_file_into_one_problem(tmp_path):
    program, [problem] = load_program_file(tmp_path)
    assert program is None and "folder" in problem.message
    bom = tmp_path / "bom.toml"
    bom.write_bytes(b"\xef\xbb\xbf" + (builtin_programs_dir() / "steady-10.toml").read_bytes())
    program, problems = load_program_file(bom)
    assert program is not None and problems == []


def test_resolve_a_file_by_path_uses_the_station_caps():
    config = parse_config("[safety]\nunits = \"mph\"\nbackward_speed = 3.0\n")
    library = load_library(config, include_user_dir=False)
    with pytest.raises(UserError, match="at most 3.0 mph"):
        library.resolve(str(builtin_programs_dir() / "backward-jog-intervals.toml"))
