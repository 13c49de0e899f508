"""A member walks three sessions in the simulated station, as a person would, and the suggestions
and the history follow (docs/architecture.md). Plus the stats table: kept at close, backfilled.

The sessions run through :func:`app.shell.simulate.run_script` unchanged (real core, store, GPIO
adapters on MockFactory pins). What the script language cannot say yet, the touchscreen's part, is
posted through run_script's ``settle`` hook, which hands us the running :class:`Station` after every
sensor line: choosing the member's program (``ProgramChosen(program, member)``) and the pain scale
before the start, and the pain/effort scale on the summary screen afterwards.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.config import Config
from app.core.events import PainScored, ProgramChosen
from app.core.safety import Mode
from app.core.units import KMH_PER_MPH
from app.shell import simulate
from app.shell.history import History, attach_stats, week_points
from app.shell.members import Members
from app.shell.script import parse_script
from app.shell.store import Store

# Countdown 3 s: the session starts at 4; the prescription is 60 s warm-up + 5 min main = 364 s;
# 15 s cool-down. The summary-screen line comes after that.
START = "0 lanyard clipped\n0 rails held\n1 tap start\n"
AFTER = "450 rails released   # off the treadmill: the summary screen asks for pain and effort\n455 end\n"


def run_member_session(store: Store, members: Members, member_id: int, middle: str, *,
                       pain_before: int | None, pain_after: int | None, effort: int | None = None):
    """One session for a member, driven by a script; the person answers the pain scales."""
    config = Config()
    member = members.get_core_member(member_id)
    program = members.prescription_program(member_id)
    state = {"chosen": False, "scored": False}

    def settle(station, command):
        simulate._settle_sensors(station, command)
        if not state["chosen"] and station.state.mode is Mode.READY:
            # The person picks their tile and answers "pain now?" on the pre-flight screen.
            attach_stats(station, store)
            station.post(ProgramChosen(program, member), at=station.clock())
            station.post(PainScored("before", pain_before), at=station.clock())
            station.process(station.clock())
            state["chosen"] = True
        elif not state["scored"] and station.state.mode in (Mode.COOLDOWN, Mode.SUMMARY):
            station.post(PainScored("after", pain_after), at=station.clock())
            station.post(PainScored("effort", effort), at=station.clock())
            station.process(station.clock())
            state["scored"] = True

    result = simulate.run_script(program, parse_script(START + middle + AFTER), store, config, settle=settle)
    assert state["chosen"] and state["scored"]
    return result


@pytest.fixture
def station_db(tmp_path):
    store = Store(tmp_path / "backstep.db")
    members = Members(store)
    yield store, members
    store.close()


@pytest.mark.slow
def test_three_sessions_suggestions_follow_the_rules_and_history_shows_it(station_db):
    store, members = station_db
    anna = members.add("Anna", code="A1", units="mph", goal=3, limit_speed=1.5)
    assert members.suggestion(anna.id).action == "start"

    # Session 1: clean, pain steady 2 -> 2.
    first = run_member_session(store, members, anna.id, "", pain_before=2, pain_after=2, effort=4)
    assert first.status == "completed"
    row = store.session(first.session_id)
    assert (row["member_id"], row["member_name"], row["pain_before"], row["pain_after"], row["effort"]) == (anna.id, "Anna", 2, 2, 4)
    s1 = members.suggestion(anna.id)
    assert (s1.action, s1.what, s1.session_id) == ("raise", "speed", first.session_id)
    assert s1.reasons[0]["key"] == "progress_raise"
    assert s1.text == "Raising speed from 0.5 mph to 0.6 mph: the last session went well"
    members.accept(anna.id, by="PT Jones")
    assert members.get(anna.id).rx_speed_kmh == pytest.approx(0.6 * KMH_PER_MPH)

    # Session 2 at 0.6 mph: two early releases (one re-gripped in the grace time, one that pauses),
    # and pain up by 3.
    second = run_member_session(store, members, anna.id,
                                "100 rails released\n100.5 rails held\n200 rails released\n205 rails held\n",
                                pain_before=2, pain_after=5, effort=7)
    assert [p["reason"] for p in second.pauses] == ["rails released"]
    assert second.status == "completed"
    s2 = members.suggestion(anna.id)
    assert (s2.action, s2.session_id) == ("hold", second.session_id)
    assert [r["key"] for r in s2.reasons] == ["progress_hold_pain_rise", "progress_hold_early_release"]
    # Speed was raised last time, so time would have been next: that is what is held.
    assert s2.reasons[0]["text"] == "Holding time: pain went up by 3 after the last session (2 to 5)"
    assert s2.reasons[1]["text"] == "Holding time: the rails were let go too early 2 time(s) last session"
    assert members.get(anna.id).rx_speed_kmh == pytest.approx(0.6 * KMH_PER_MPH)  # nothing changes by itself

    # Session 3: clean, but pain worse again (3 -> 4): two sessions with worse pain -> step back.
    third = run_member_session(store, members, anna.id, "", pain_before=3, pain_after=4, effort=5)
    s3 = members.suggestion(anna.id)
    assert (s3.action, s3.what) == ("step_back", "speed")
    assert s3.text == "Stepping back speed from 0.6 mph to 0.5 mph: pain was worse after the last 2 sessions"
    assert s3.next.speed_kmh == pytest.approx(0.5 * KMH_PER_MPH)
    # The earlier pending suggestion was superseded, the accepted one kept with who decided.
    kept = {s.session_id: s for s in members.suggestions(anna.id)}
    assert kept[first.session_id].status == "accepted" and kept[first.session_id].decided_by == "PT Jones"
    assert kept[second.session_id].status == "superseded"

    # History: three sessions this week against a goal of 3, pain before/after, rail dependence.
    history = members.history(anna.id)
    points = history.sessions
    assert [p.session_id for p in points] == [first.session_id, second.session_id, third.session_id]
    assert [(p.pain_before, p.pain_after, p.effort) for p in points] == [(2, 2, 4), (2, 5, 7), (3, 4, 5)]
    assert [p.early_releases for p in points] == [0, 2, 0]
    assert [p.rails_pauses for p in points] == [0, 1, 0]
    assert points[0].rails_held_share == 1.0 and points[2].rails_held_share == 1.0
    assert 0.9 < points[1].rails_held_share < 1.0
    assert points[1].hands_free_share == pytest.approx(1 - points[1].rails_held_share)
    assert [round(p.top_backward_speed_kmh / KMH_PER_MPH, 2) for p in points] == [0.5, 0.6, 0.6]
    assert all(p.minutes == pytest.approx(6.0, abs=0.05) for p in points)
    assert history.summary.sessions == 3 and history.summary.sessions_this_week == 3
    assert history.weeks[-1].sessions == 3 and history.weeks[-1].goal == 3 and history.weeks[-1].goal_met is True
    assert history.summary.top_backward_speed_kmh == pytest.approx(0.6 * KMH_PER_MPH, abs=0.01)
    assert (history.summary.last_pain_before, history.summary.last_pain_after) == (3, 4)


def test_pain_tap_stops_the_session_and_progression_holds(station_db):
    store, members = station_db
    ben = members.add("Ben")
    result = run_member_session(store, members, ben.id, "150 tap pain\n", pain_before=1, pain_after=6)
    assert result.status == "stopped"
    point = members.history(ben.id).sessions[-1]
    assert point.pain_tapped and point.pain_tap_t == pytest.approx(146, abs=0.01)  # session t: starts at 4
    suggestion = members.suggestion(ben.id)
    assert suggestion.action == "hold"
    assert [r["key"] for r in suggestion.reasons] == ["progress_hold_pain_rise", "progress_hold_pain_tap"]


def test_stats_are_kept_at_close_and_backfilled_when_missing(station_db):
    store, members = station_db
    cara = members.add("Cara", hands_free=True, rails="optional")
    result = run_member_session(store, members, cara.id, "120 rails released\n150 rails held\n", pain_before=0, pain_after=0)
    kept = list(store.db.query("select * from session_stats where session_id = ?", [result.session_id]))
    assert len(kept) == 1, "the station hook keeps stats when the session closes"
    # Hands-free allowed and the main phase optional: no early release, no pause, a 30 s stretch.
    assert kept[0]["early_releases"] == 0 and kept[0]["rails_pauses"] == 0
    assert kept[0]["longest_hands_free_s"] == 30
    assert kept[0]["hands_free_share"] == pytest.approx(30 / 360, abs=0.01)

    history = History(store)
    store.db.execute("delete from session_stats")
    store.db.conn.commit()
    assert history.missing_stats(cara.id) == [result.session_id]
    again = history.member_history(cara.id).sessions[-1]
    assert again.longest_hands_free_s == 30 and again.hands_free_share == pytest.approx(kept[0]["hands_free_share"])
    assert history.missing_stats() == []
    # The export reads many at once; an unknown id is simply absent.
    by_session = history.stats_by_session([result.session_id, 999])
    assert list(by_session) == [result.session_id] and by_session[result.session_id]["longest_hands_free_s"] == 30


def test_a_member_without_hands_free_releasing_in_an_optional_phase_is_early(station_db):
    store, members = station_db
    dan = members.add("Dan", rails="optional")  # the prescription says optional; the therapist has not allowed it
    result = run_member_session(store, members, dan.id, "120 rails released\n150 rails held\n", pain_before=0, pain_after=0)
    point = members.history(dan.id).sessions[-1]
    assert [p["reason"] for p in result.pauses] == ["rails released"]
    assert point.early_releases == 1 and point.longest_hands_free_s == 0


def test_week_points_include_empty_weeks_and_the_goal():
    from app.shell.history import SessionPoint

    def at(day: str) -> SessionPoint:
        return SessionPoint(1, f"{day}T10:00:00+00:00", 0.0, "p", "p", "completed", 600, None, None, None)

    today = date(2026, 11, 21)  # a Saturday; its week starts Monday 16th
    weeks = week_points([at("2026-11-02"), at("2026-11-03"), at("2026-11-17")], 2, today)
    assert [(w.week_start, w.sessions, w.minutes, w.goal_met) for w in weeks] == [
        ("2026-11-02", 2, 20.0, True), ("2026-11-09", 0, 0.0, False), ("2026-11-16", 1, 10.0, False)]
    assert len(week_points([], None, today, weeks=4)) == 4
    assert week_points([], None, today)[0].week_start == (today - timedelta(days=today.weekday())).isoformat()


def test_history_for_everyone_and_for_a_member_with_no_sessions(station_db):
    store, members = station_db
    eve = members.add("Eve")
    history = members.history(eve.id)
    assert history.sessions == [] and history.summary.sessions == 0 and history.summary.last_hands_free_share is None
    assert History(store).member_history(None).sessions == []
    assert isinstance(history.as_dict()["weeks"], list)


def test_the_sessions_axis_counts_in_whole_sessions():
    from hypothesis import given, strategies as st

    from app.shell.history import WeekPoint
    from app.ui.charts import sessions_axis

    @given(st.lists(st.integers(0, 40), min_size=1, max_size=60), st.one_of(st.none(), st.integers(1, 14)))
    def check(counts, goal):
        weeks = [WeekPoint("2026-11-02", n, 0.0, goal, None) for n in counts]
        top, ticks = sessions_axis(weeks, goal)
        assert all(float(tick).is_integer() for tick in ticks)
        assert top >= max(counts + [goal or 0]) and ticks[0] == 0 and ticks[-1] == top

    check()
