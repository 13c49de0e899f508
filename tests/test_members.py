"""Members (app.shell.members), their prescriptions as programs (app.core.prescription) and
``backstep members`` as staff and therapists use it."""

from __future__ import annotations

import json
import sqlite3

import pytest

from app.cli import main
from app.core.caps import Caps
from app.core.member import Member
from app.core.prescription import WARMUP_SECONDS, prescription_program
from app.core.progression import Dose
from app.core.units import KMH_PER_MPH
from app.shell.members import START_DOSE, MemberError, Members
from app.shell.store import Store


def mph(v: float) -> float:
    return v * KMH_PER_MPH


@pytest.fixture
def members(tmp_path):
    store = Store(tmp_path / "m.db")
    yield Members(store)
    store.close()


def cli(capsys, db, *argv) -> tuple[int, str, str]:
    code = main(["members", *argv, "--db", str(db)])
    out = capsys.readouterr()
    return code, out.out, out.err


# --- the store ---------------------------------------------------------------------------------


def test_a_new_member_starts_on_the_beginner_dose_rails_required(members):
    m = members.add("Anna")
    assert (m.units, m.hands_free_allowed, m.dose) == ("mph", False, START_DOSE)
    assert START_DOSE == Dose(mph(0.5), 5.0, 0.0, "required")
    assert members.get_core_member(m.id) == Member(id=m.id, name="Anna", units="mph", caps=None, hands_free_allowed=False)


def test_core_member_carries_caps_in_kmh_and_hands_free(members):
    m = members.add("Carl", units="kmh", max_speed=3.0, max_incline=2, hands_free=True, speed=1.2)
    core = members.get_core_member(m.id)
    assert core.units == "kmh" and core.hands_free_allowed
    assert core.caps.backward_speed_kmh == pytest.approx(3.0)
    assert core.caps.backward_incline_pct == 2 and core.caps.forward_incline_pct == 2
    assert core.caps.forward_speed_kmh == Caps().forward_speed_kmh


def test_find_by_id_or_code_and_search(members):
    a = members.add("Anna Berg", code="K7")
    b = members.add("Bert", code="B2")
    assert members.find("k7").id == a.id and members.find(str(b.id)).id == b.id
    assert [m.name for m in members.search("k")] == ["Anna Berg"]
    assert [m.name for m in members.search("er")] == ["Anna Berg", "Bert"]
    assert [m.name for m in members.search("%")] == []
    with pytest.raises(MemberError, match="no member with id or code 'zz'"):
        members.find("zz")


@pytest.mark.parametrize("fields, message", [
    ({"code": "K 7"}, "code: 'K 7' is not allowed"),
    ({"units": "knots"}, "units: 'knots' is not a unit"),
    ({"max_speed": 9.0}, "backward speed cap: 9.0 mph is outside the station's caps"),
    ({"speed": -1}, "speed: -1 must be a speed above 0"),
    ({"speed": "fast"}, "speed: 'fast' is not a number"),
    ({"minutes": 500}, "prescribed minutes: 500 is not allowed"),
    ({"incline": 40}, "prescribed incline: 40 % is outside the station's caps"),
    ({"goal": 0}, "goal: 0 is not allowed"),
    ({"rails": "sometimes"}, "rails: 'sometimes' is not allowed"),
    ({"program": "Not An Id"}, "program: 'Not An Id' is not a program id"),
    ({"speed": 1.2, "limit_speed": 1.0}, "prescription: 1.2 mph is above the member's speed limit (1.0 mph)"),
    ({"speed": 1.2, "max_speed": 1.0}, "prescription: 1.2 mph is above the member's backward speed cap (1.0 mph)"),
])
def test_bad_member_fields_are_one_line_errors(members, fields, message):
    with pytest.raises(MemberError) as caught:
        members.add("X", **fields)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


def test_codes_are_unique_whatever_the_case(members):
    members.add("A", code="K7")
    with pytest.raises(MemberError, match="already used by member 1"):
        members.add("B", code="k7")


def test_update_changes_only_what_is_given_and_clear_unsets(members):
    m = members.add("Anna", code="A", goal=3, limit_speed=1.5)
    m2 = members.update(m.id, hands_free=True, speed=0.7)
    assert m2.hands_free_allowed and m2.rx_speed_kmh == pytest.approx(mph(0.7)) and m2.goal_per_week == 3
    m3 = members.update(m.id, clear=["goal", "limit_speed", "code"])
    assert (m3.goal_per_week, m3.limit_speed_kmh, m3.code) == (None, None, None)
    with pytest.raises(MemberError, match="cannot clear 'name'"):
        members.update(m.id, clear=["name"])


def test_the_members_tables_are_their_own_migration_set_and_plain(tmp_path):
    path = tmp_path / "m.db"
    store = Store(path)
    Members(store).add("Anna")
    Members(store)  # applying twice is harmless
    store.close()
    conn = sqlite3.connect(path)
    sets = {r[0] for r in conn.execute("select distinct migration_set from _sqlite_migrations")}
    assert {"backstep", "backstep-members", "backstep-history"} <= sets
    assert conn.execute("select name from members").fetchall() == [("Anna",)]
    indexes = {r[1] for r in conn.execute("select * from sqlite_master where type = 'index'")}
    assert any("suggestions" in i and "member_id" in i for i in indexes)
    conn.close()


# --- suggestions: accept and override ------------------------------------------------------------


def test_accept_keeps_who_and_when_and_a_decision_is_final(members):
    m = members.add("Anna")
    s = members.accept(m.id, by="PT Jones")
    assert (s.status, s.decided_by) == ("accepted", "PT Jones") and s.decided_at
    with pytest.raises(MemberError, match="already accepted by PT Jones"):
        members.accept(m.id, by="PT Smith")
    with pytest.raises(MemberError, match="say who decides"):
        members.override(members.add("B").id, by=" ", speed=0.6)


def test_override_sets_the_prescription_within_the_therapists_limits(members):
    m = members.add("Anna", limit_speed=1.0, limit_minutes=8)
    s = members.override(m.id, by="PT Jones", speed=0.7, minutes=6)
    assert s.status == "overridden" and s.final.speed_kmh == pytest.approx(mph(0.7))
    assert members.get(m.id).dose == Dose(pytest.approx(mph(0.7)), 6.0, 0.0, "required")
    other = members.add("Bert", limit_speed=1.0)
    with pytest.raises(MemberError, match="above the member's speed limit"):
        members.override(other.id, by="PT Jones", speed=1.4)
    assert members.suggestion(other.id).status == "pending"  # a refused override decides nothing


# --- prescriptions become programs ------------------------------------------------------------------


@pytest.mark.parametrize("dose", [
    Dose(mph(0.5), 2), Dose(mph(0.8), 5), Dose(mph(1.0), 10, 1), Dose(mph(1.5), 8, 2, "optional"),
    Dose(mph(2.0), 20, 0), Dose(2.4, 6, 3),
])
def test_a_prescription_is_a_valid_program_without_lint_warnings(dose):
    program, problems = prescription_program(dose, member_id=3, member_name="Anna", units="mph")
    assert program is not None and problems == [], [str(p) for p in problems]
    warmup, *rest = program.phases
    main_phase = rest[-1]
    assert warmup.incline_pct == 0 and warmup.speed_kmh <= mph(1.0) + 1e-6 and warmup.rails == "required"
    assert warmup.seconds == WARMUP_SECONDS and warmup.cue
    assert main_phase.speed_kmh == pytest.approx(dose.speed_kmh, abs=0.01)
    assert (main_phase.seconds, main_phase.incline_pct, main_phase.rails) == (dose.minutes * 60, dose.incline_pct, dose.rails)
    assert all(p.direction == "backward" for p in program.phases)
    # Up to speed in steps of 0.5 mph at most, flat; then up the incline 2 % at a time; never both
    # raised in one step (the loader's rules, docs/programs.md, hold them: problems == [] above).
    ramp = program.phases[1:-1]
    assert all(p.name in ("Up to speed", "Up the incline") and p.rails == "required" for p in ramp)
    if dose.incline_pct > 0 and dose.speed_kmh > mph(1.0):
        flat = [p for p in program.phases if p.incline_pct == 0]
        assert flat[-1].speed_kmh == pytest.approx(dose.speed_kmh, abs=0.01)
    assert program.snapshot["id"] == "rx-member-3"


def test_a_prescription_beyond_the_caps_is_refused_with_the_problem(members):
    program, problems = prescription_program(Dose(mph(2.0), 5), member_id=1, member_name="A", units="mph",
                                             caps=Caps(backward_speed_kmh=mph(1.5)))
    assert program is None and any("outside the backward cap" in str(p) for p in problems)
    m = members.add("Anna", speed=1.2)
    assert members.prescription_program(m.id).phases[-1].speed_kmh == pytest.approx(mph(1.2), abs=0.01)
    tight = Members(members.db, station_caps=Caps(backward_speed_kmh=mph(1.0)))
    with pytest.raises(MemberError, match="prescription cannot run"):
        tight.prescription_program(m.id)


def test_program_for_prefers_a_prescribed_library_program(members):
    from app.shell.library import load_library

    library = load_library(include_user_dir=False)
    m = members.add("Anna", program="beginner-flat")
    assert members.program_for(m.id, library).id == "beginner-flat"
    assert members.program_for(members.add("Bert").id, library).id.startswith("rx-member-")


# --- the command ----------------------------------------------------------------------------------


def test_cli_add_list_show_set(tmp_path, capsys):
    db = tmp_path / "cli.db"
    code, out, _ = cli(capsys, db, "add", "Anna K", "--code", "K7", "--goal", "3", "--max-speed", "1.5", "--json")
    assert code == 0
    anna = json.loads(out)
    assert anna["code"] == "K7" and anna["caps"]["backward_speed"] == 1.5 and anna["prescription"]["speed"] == 0.5
    assert cli(capsys, db, "add", "Carl", "--units", "kmh", "--speed", "1.2")[0] == 0
    code, out, _ = cli(capsys, db, "list", "--json")      # one JSON array, as sqlite-utils prints rows
    assert [m["name"] for m in json.loads(out)] == ["Anna K", "Carl"]
    code, out, _ = cli(capsys, db, "list", "--nl")        # newline-delimited: one object per line
    assert code == 0 and [json.loads(line)["name"] for line in out.splitlines()] == ["Anna K", "Carl"]
    code, out, _ = cli(capsys, db, "set", "k7", "--hands-free", "--speed", "0.7")
    assert code == 0 and "hands-free allowed" in out and "0.7 mph" in out
    code, out, _ = cli(capsys, db, "show", "K7")
    assert code == 0 and "Starting dose: no sessions yet" in out and "0 of 3 this week" in out
    code, out, _ = cli(capsys, db, "show", "K7", "--json")
    shown = json.loads(out)
    assert shown["member"]["hands_free_allowed"] is True and shown["suggestion"]["action"] == "start"


def test_cli_suggestion_accept_and_override(tmp_path, capsys):
    db = tmp_path / "cli.db"
    cli(capsys, db, "add", "Anna", "--limit-speed", "1.0")
    code, out, _ = cli(capsys, db, "suggestion", "1", "--override", "speed=0.8,minutes=6", "--by", "PT Jones", "--json")
    assert code == 0
    decided = json.loads(out)
    assert decided["status"] == "overridden" and decided["final"]["speed"] == 0.8 and decided["decided_by"] == "PT Jones"
    code, out, _ = cli(capsys, db, "show", "1", "--json")
    assert json.loads(out)["member"]["prescription"] == {"speed": 0.8, "minutes": 6.0, "incline": 0.0, "rails": "required"}


@pytest.mark.parametrize("argv, message", [
    (["show", "99"], "no member with id 99"),
    (["add", "Bo", "--code", "K7"], "code: 'K7' is already used by member 1"),
    (["set", "K7"], "nothing to change"),
    (["set", "K7", "--speed", "9"], "prescribed speed: 9.0 mph is outside the station's caps"),
    (["suggestion", "K7", "--accept", "--by", " "], "say who decides: add --by NAME"),
    (["suggestion", "K7", "--override", "pace=3", "--by", "X"], "--override: 'pace=3' is not understood"),
    (["suggestion", "K7", "--override", "speed=2.0", "--by", "X"], "prescription: 2.0 mph is above the member's speed limit"),
    (["set", "K7", "--clear", "units"], "cannot clear 'units'"),
])
def test_cli_errors_are_one_line(tmp_path, capsys, argv, message):
    db = tmp_path / "cli.db"
    cli(capsys, db, "add", "Anna", "--code", "K7", "--limit-speed", "1.0")
    code, out, err = cli(capsys, db, *argv)
    assert code == 1 and out == ""
    assert err.startswith(f"backstep: {message}") and err.count("\n") == 1, err


def test_cli_accept_names_the_login_user_without_by(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOGNAME", "ptjones")
    monkeypatch.setenv("USER", "ptjones")
    db = tmp_path / "cli.db"
    cli(capsys, db, "add", "Anna")
    code, out, _ = cli(capsys, db, "suggestion", "1", "--accept", "--json")
    assert code == 0 and json.loads(out)["decided_by"] == "ptjones"


def test_cli_list_on_an_empty_station_says_how_to_add(tmp_path, capsys):
    code, out, _ = cli(capsys, tmp_path / "cli.db", "list")
    assert code == 0 and out == "no members yet; add one with 'backstep members add NAME'\n"


def test_cli_a_database_error_is_one_line(tmp_path, capsys, monkeypatch):
    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(Members, "list", locked)
    code, out, err = cli(capsys, tmp_path / "cli.db", "list")
    assert code == 1 and err == ("backstep: the database could not be used (database is locked); try again, "
                                 "or check --db and its permissions\n")


def test_cli_history_prints_weeks_and_sessions(tmp_path, capsys):
    db = tmp_path / "cli.db"
    cli(capsys, db, "add", "Anna", "--goal", "2")
    code, out, _ = cli(capsys, db, "history", "1", "--weeks", "3", "--json")
    data = json.loads(out)
    assert code == 0 and len(data["weeks"]) == 3 and data["sessions"] == [] and data["goal_per_week"] == 2
    code, out, _ = cli(capsys, db, "history", "1")
    assert code == 0 and "sessions/goal" in out
