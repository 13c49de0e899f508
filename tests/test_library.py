"""The built-in program library (assets/programs) and app.shell.library.

The built-ins are what a new station offers on day one, so each one is held to docs/practice.md here:
who it is for, cues on every phase, rails and speeds that follow practice.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from app.config import parse_config
from app.core.caps import FIRST_PHASE_SPEED_KMH
from app.core.program import MAX_FILE_BYTES, Program
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
    # docs/practice.md safety set-up 3: start at the slowest speed, incline zero.
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


# --- hostile files in the station's folder (findings 2 and 3) ---------------------------------


HOSTILE = {
    "huge-int.toml": (builtin_programs_dir() / "beginner-flat.toml").read_text().replace("speed = 0.5", "speed = " + "9" * 401, 1),
    "nan.toml": (builtin_programs_dir() / "beginner-flat.toml").read_text().replace("speed = 0.5", "speed = nan", 1),
    "inf.toml": (builtin_programs_dir() / "beginner-flat.toml").read_text().replace("minutes = 1\n", "minutes = inf\n", 1),
    "nested.toml": 'id = "nested"\nname = "N"\nunits = "mph"\nx = ' + "[" * 500 + "]" * 500 + "\n",
    "tiny.toml": (builtin_programs_dir() / "beginner-flat.toml").read_text().replace("minutes = 1\n", "minutes = 1e-300\n", 1),
}


def hostile_folder(tmp_path) -> Path:
    folder = tmp_path / "clinic"
    folder.mkdir()
    for name, text in HOSTILE.items():
        (folder / name).write_text(text.replace('id = "beginner-flat"', f'id = "{Path(name).stem}"'))
    (folder / "big.toml").write_text("# " + "x" * (MAX_FILE_BYTES + 10) + "\n")
    os.mkfifo(folder / "fifo.toml")
    (folder / "dir.toml").mkdir()
    return folder


def test_bad_files_are_left_out_with_a_visible_note_and_the_rest_load(tmp_path):
    folder = hostile_folder(tmp_path)
    start = time.monotonic()
    library = load_library(extra_dirs=[folder], include_user_dir=False)
    assert time.monotonic() - start < 5, "a FIFO or a huge file must not hang the library"
    assert set(REQUIRED_IDS) <= set(library.ids)
    assert not set(library.ids) & {Path(n).stem for n in HOSTILE}
    skipped = dict(library.skipped)
    assert set(map(lambda s: Path(s).name, skipped)) == set(HOSTILE) | {"big.toml", "fifo.toml", "dir.toml"}
    for source, reason in library.skipped:
        assert len(reason.splitlines()) == 1 and len(reason) < 300, reason
        assert reason.startswith(Path(source).name)
    assert "huge-int.toml line 16: phases[1].speed: a 401-digit number is far too large" in skipped[str(folder / "huge-int.toml")]
    assert "regular file" in skipped[str(folder / "fifo.toml")]
    note = library.skipped_note()
    assert note.startswith("8 program files left out: ") and len(note.splitlines()) == 1
    assert load_library(include_user_dir=False).skipped_note() == ""


def test_one_file_that_makes_the_checker_fail_is_left_out_not_raised(tmp_path, monkeypatch):
    import app.shell.library as library_module

    folder = tmp_path / "clinic"
    folder.mkdir()
    (folder / "boom.toml").write_text("id = 'boom'\n")
    real = library_module.load_program_file

    def explode(path, caps=None):
        if Path(path).name == "boom.toml":
            raise RecursionError("maximum recursion depth exceeded")
        return real(path, caps)

    monkeypatch.setattr(library_module, "load_program_file", explode)
    library = load_library(extra_dirs=[folder], include_user_dir=False)
    assert set(REQUIRED_IDS) <= set(library.ids)
    assert "boom.toml" in library.skipped_note() and "RecursionError" in library.skipped_note()


def test_the_kiosk_starts_with_a_bad_file_in_the_programs_folder(tmp_path, monkeypatch):
    """`backstep run` loads the library in KioskApp._library: a bad file must not raise out of it."""
    from types import SimpleNamespace

    from app.kiosk.app import KioskApp
    from app.kiosk.data import StoreData

    monkeypatch.setenv("BACKSTEP_PROGRAMS", str(hostile_folder(tmp_path)))
    app = KioskApp(SimpleNamespace(config=parse_config("")), tmp_path / "station.db", size=(800, 480), fullscreen=False)
    library = app._library()
    assert set(REQUIRED_IDS) <= set(library.ids)
    assert StoreData(library.programs, library=library).programs_note().startswith("8 program files left out")

    import app.shell.library as library_module

    monkeypatch.setattr(library_module, "load_library", lambda *a, **k: 1 / 0)
    library = app._library()
    assert library.programs == () and library.problems


def test_load_program_file_refuses_a_fifo_and_a_huge_file_quickly(tmp_path):
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    start = time.monotonic()
    program, [problem] = load_program_file(fifo)
    assert program is None and "not a regular file" in problem.message
    big = tmp_path / "big.toml"
    big.write_bytes(b"#" * (450 * 1024 * 1024 // 1000))
    program, [problem] = load_program_file(big)
    assert program is None and f"{MAX_FILE_BYTES:,} bytes" in problem.message
    assert time.monotonic() - start < 2


def test_doctor_names_the_files_left_out(tmp_path, monkeypatch):
    from app.shell.doctor import asset_checks

    monkeypatch.setenv("BACKSTEP_PROGRAMS", str(hostile_folder(tmp_path)))
    lines = [check.line() for check in asset_checks(parse_config("")) if check.check == "programs"]
    assert any("programs: 8 program files left out: " in line for line in lines)
    assert any("huge-int.toml:16" in line and "backstep programs check" in line for line in lines)


def test_the_staff_programs_page_shows_the_files_left_out(tmp_path, monkeypatch):
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    import pygame
    from test_ui_support import make_kiosk, views

    from app.core.view import Screen
    from app.ui.data import StaticData
    from app.ui.intents import Overlay

    class Data(StaticData):
        def programs_note(self):
            return "2 program files left out: x.toml line 3: phases[1].speed: ...; y.toml: file: ..."

    library = load_library(include_user_dir=False)
    kiosk, _ = make_kiosk((800, 480), data=Data(list(library.programs)))
    kiosk.refresh_data()
    assert kiosk.ui.programs_note.startswith("2 program files left out")
    kiosk.update(views()[Screen.HOME], 0.0)
    kiosk.ui.overlay = Overlay.PROGRAMS
    kiosk.staff_unlocked = True
    surface = pygame.Surface((800, 480))
    kiosk.render(surface)  # draws the note under the list, without raising
    plain, _ = make_kiosk((800, 480), data=StaticData(list(library.programs)))
    plain.refresh_data()
    assert plain.ui.programs_note == ""
