"""Members on the kiosk: the code search pad, the prescribed program, the staff Members page (hands-free,
accept, override within the limits), the suggestion refreshed after the pain score; and the
composition root's parts for members (StoreData's indexed history, cue-mode belt commands)."""

from __future__ import annotations

import time

import pygame
import pytest
from conftest import process_until
from test_ui_support import make_kiosk, program, tap, views

from app.core.effects import CloseSession, ScoreSession, SetBelt, StopBelt
from app.core.events import ProgramChosen, StartTapped, StopTapped
from app.core.member import Member
from app.core.record import replace
from app.core.view import Screen
from app.ui import draw
from app.ui.data import DoseData, MemberInfo, StaticData, SuggestionData
from app.ui.intents import STAFF_ONLY
from app.ui.scenes import Intent, IntentKind, Overlay

VIEWS = views()
ALEX, SAM = Member(1, "Alex"), Member(2, "Sam", "kmh")


def suggestion(**changes) -> SuggestionData:
    base = dict(action="raise", what="speed",
                reasons=(("progress_raise", {"thing": "speed", "old": "1.0 mph", "new": "1.1 mph"}, ""),),
                current=DoseData(1.0, 5, 0), next=DoseData(1.1, 5, 0), units="mph", max_speed=1.2, max_minutes=6,
                max_incline=1)
    base.update(changes)
    return SuggestionData(**base)


def kiosk_with(**data):
    rx = program()
    static = StaticData([program()], [ALEX, SAM], codes={1: "A1", 2: "S7"}, prescribed={1: rx},
                        suggestions={1: suggestion()}, **data)
    kiosk, posted = make_kiosk(data=static)
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    return kiosk, posted, static


def words(kiosk) -> str:
    draw._TILES.clear()
    kiosk.fonts.trace = []
    kiosk.render(pygame.Surface((800, 480)))
    out = " ".join(kiosk.fonts.trace)
    kiosk.fonts.trace = None
    return out


def test_search_by_code_narrows_the_tiles_and_picks_the_member():
    kiosk, posted, _ = kiosk_with()
    tap(kiosk, "member", 1.0)
    tap(kiosk, "search", 2.0)
    assert "Tap the letters and digits of your code" in words(kiosk)
    assert not kiosk.page().target("code_back").enabled  # nothing typed yet: nothing to delete
    tap(kiosk, "code_page", 3.0)                          # digits -> A-J
    assert kiosk.page().target("code:A") and not kiosk.page().target("code:1")
    tap(kiosk, "code_page", 4.0)                          # -> K-T
    tap(kiosk, "code_page", 5.0)                          # -> U-Z
    tap(kiosk, "code_page", 6.0)                          # -> back to digits
    tap(kiosk, "code:7", 7.0)
    assert [m.id for m in kiosk.ui.search_results] == []
    assert "No member with this code" in words(kiosk)
    tap(kiosk, "code_back", 8.0)
    for _ in range(2):
        tap(kiosk, "code_page", 9.0 + _)
    tap(kiosk, "code:S", 12.0)
    assert [m.id for m in kiosk.ui.search_results] == [2]
    tap(kiosk, "found:2", 13.0)
    assert kiosk.ui.member == SAM and kiosk.ui.overlay is None


def test_a_member_gets_their_prescribed_program_first_and_it_carries_the_member():
    kiosk, posted, _ = kiosk_with()
    tap(kiosk, "member", 1.0)
    tap(kiosk, "member:1", 2.0)
    assert kiosk.ui.member_program == program()
    cards = [t for t in kiosk.page().targets if t.intent.kind is IntentKind.CHOOSE_PROGRAM]
    assert cards[0].name == "program:ui-test"
    assert "Prescribed for Alex" in words(kiosk)
    tap(kiosk, "program:ui-test", 3.0)
    assert posted == [ProgramChosen(program(), ALEX)]


def test_summary_goes_on_to_the_suggestion_for_a_member_and_home_for_a_guest():
    kiosk, posted, _ = kiosk_with()
    kiosk.update(VIEWS[Screen.SUMMARY], 1.0)
    assert kiosk.page().target("done").intent == Intent(IntentKind.HOME)  # a guest: no suggestion
    kiosk.ui.member = ALEX
    kiosk.on_effect(ScoreSession("after", 2, 1.0))
    assert kiosk.ui.suggestion is not None
    assert "Next ›" in words(kiosk)
    tap(kiosk, "done", 2.0)
    assert kiosk.scene().name == "next_time"
    said = words(kiosk)
    assert "Raising speed from 1.0 mph to 1.1 mph: the last session went well" in said
    assert "Step up: 1.1 mph · 5 min · incline 0 %" in said
    tap(kiosk, "done", 3.0)
    assert posted[-1].__class__.__name__ == "HomeTapped"


def test_the_suggestion_is_asked_again_when_the_pain_after_score_is_stored():
    asked = []

    class Data(StaticData):
        def suggestion(self, member):
            asked.append(member.id)
            return suggestion()

    kiosk, _ = make_kiosk(data=Data([program()], [ALEX]))
    kiosk.update(VIEWS[Screen.SUMMARY], 0.0)
    kiosk.ui.member = ALEX
    kiosk.on_effect(CloseSession("completed", 1.0, 60.0, 2))
    kiosk.on_effect(ScoreSession("before", 3, 1.0))       # not the one the rules wait for
    kiosk.on_effect(ScoreSession("after", 4, 2.0))
    assert asked == [1, 1]


def test_staff_members_page_is_behind_the_pin():
    kiosk, _, _ = kiosk_with()
    kiosk.act(Intent(IntentKind.OPEN, Overlay.STAFF_MEMBERS))
    assert kiosk.scene().name == "pin"
    kiosk.act(Intent(IntentKind.HANDS_FREE, None))  # ignored while locked
    assert kiosk.ui.staff_infos == []


@pytest.mark.parametrize("kind", sorted(STAFF_ONLY, key=lambda k: k.name))
def test_staff_only_intents_do_nothing_while_the_pin_is_locked(kind, caplog):
    kiosk, posted, static = kiosk_with()
    info = MemberInfo(ALEX, "A1")
    # Everything a staff intent would act on is there: only the lock stands in the way.
    kiosk.ui.search, kiosk.ui.staff_member, kiosk.ui.staff_dose = "B2", info, DoseData(1.1, 5, 0)
    before, suggested = replace(kiosk.ui), dict(static.suggestions)
    arg = {IntentKind.STAFF_MEMBER: info, IntentKind.HANDS_FREE: info, IntentKind.RX_STEP: ("speed", 0.1)}.get(kind)
    kiosk.act(Intent(kind, arg))
    assert kiosk.ui == before and posted == [] and not kiosk.quit_requested
    assert static.member_list == [ALEX, SAM] and static.hands_free == {} and static.suggestions == suggested
    assert f"refused {kind.name}: staff only" in caplog.text


def test_staff_toggles_hands_free_and_sees_the_console_hint():
    kiosk, _, static = kiosk_with()
    kiosk.staff_unlocked = True
    kiosk.act(Intent(IntentKind.OPEN, Overlay.STAFF_MEMBERS))
    said = words(kiosk)
    assert "Alex · A1" in said and "Hands-free: off" in said
    assert "backstep members add" in said
    tap(kiosk, "hands_free:1", 1.0)
    assert static.hands_free[1] is True
    assert "Hands-free: on" in words(kiosk)
    assert kiosk.ui.staff_infos[0].hands_free_allowed


def test_staff_overrides_within_the_limits_and_accepts():
    kiosk, _, static = kiosk_with()
    kiosk.staff_unlocked = True
    kiosk.act(Intent(IntentKind.OPEN, Overlay.STAFF_MEMBERS))
    tap(kiosk, "staff_member:1", 1.0)
    assert kiosk.scene().name == "staff_member"
    assert "Raising speed from 1.0 mph to 1.1 mph" in words(kiosk)
    assert not kiosk.page().target("rx_save").enabled       # nothing changed yet
    tap(kiosk, "rx:speed:+", 2.0)
    assert kiosk.ui.staff_dose.speed == pytest.approx(1.2)
    assert not kiosk.page().target("rx:speed:+").enabled    # the therapist's limit is 1.2 mph
    assert not kiosk.page().target("rx:incline:-").enabled  # incline cannot go below 0
    tap(kiosk, "rx:minutes:+", 3.0)
    assert not kiosk.page().target("rx:minutes:+").enabled  # limit 6 minutes
    tap(kiosk, "rx_save", 4.0)
    assert static.suggestions[1].status == "overridden"
    assert static.suggestions[1].final == DoseData(1.2, 6.0, 0)
    assert "Saved" in words(kiosk)
    assert not kiosk.page().target("rx_accept").enabled     # decided: applies until the next session


def test_a_store_error_is_one_line_on_the_page():
    class Broken(StaticData):
        def override(self, member, by, dose):
            raise ValueError("prescription: 1.2 mph is above the member's speed limit (1.1 mph)\nmore")

    static = Broken([program()], [ALEX], suggestions={1: suggestion()})
    kiosk, _ = make_kiosk(data=static)
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    kiosk.staff_unlocked = True
    kiosk.act(Intent(IntentKind.OPEN, Overlay.STAFF_MEMBERS))
    tap(kiosk, "staff_member:1", 1.0)
    tap(kiosk, "rx:speed:+", 2.0)
    tap(kiosk, "rx_save", 3.0)
    assert kiosk.ui.staff_message == "prescription: 1.2 mph is above the member's speed limit (1.1 mph)"
    assert kiosk.ui.staff_message in words(kiosk)


# --- the composition root ------------------------------------------------------------------------


def test_store_data_history_reads_kept_stats_not_samples(tmp_path, monkeypatch):
    from test_history import run_member_session

    from app.kiosk.data import StoreData
    from app.shell.members import Members
    from app.shell.store import Store

    store = Store(tmp_path / "b.db")
    try:
        members = Members(store)
        kim = members.add("Kim", code="K1", goal=2)
        run_member_session(store, members, kim.id, "", pain_before=1, pain_after=2)
        data = StoreData([], store)
        monkeypatch.setattr(store, "samples", lambda *a, **k: (_ for _ in ()).throw(AssertionError("sample scan")))
        history = data.history(data.members()[0])  # no sample scan (how fast: benchmarks/bench_history.py)
        assert history.name == "Kim" and history.goal_per_week == 2
        (only,) = history.sessions
        assert (only.pain_before, only.pain_after) == (1, 2)
        assert only.top_speed == pytest.approx(0.5, abs=0.01)
        assert history.weeks[-1].sessions == 1
        everyone = data.history(None)
        assert everyone.name == "" and len(everyone.sessions) == 1
        # The suggestion after it, as the UI sees it, with the reasons' catalogue keys.
        s = data.suggestion(data.members()[0])
        assert (s.action, s.reasons[0][0]) == ("raise", "progress_raise")
        assert s.next.speed == pytest.approx(0.6) and s.status == "pending"
    finally:
        store.close()


def test_cue_mode_tells_the_rail_sensors_when_the_belt_is_commanded(monkeypatch):

    from app.kiosk.rig import Rig
    from app.config import Config

    class Clock:
        t = 100.0

        def __call__(self):
            return self.t

    config = Config()
    config = replace(config, treadmill=replace(config.treadmill, mode="cue"),
                     gpio=replace(config.gpio, belt_pulse_pin=None))
    clock = Clock()
    rig = Rig(config, None, sim=True, clock=clock)
    try:
        calls = []
        rig.sensors.rails.note_belt_running = lambda running, now=None: calls.append(running)
        station = rig.station
        rig.sim.clip_lanyard()
        rig.sim.hold_rails()
        assert rig.sensors.wait_settled()
        assert process_until(station, lambda: station.state.lanyard_clipped and station.state.rails_held)
        station.post(ProgramChosen(program()))
        station.process()
        station.post(StartTapped())
        station.process()
        clock.t += 5
        station.process()
        assert calls and calls[-1] is True
        station.post(StopTapped())
        station.process()
        assert calls[-1] is False
    finally:
        rig.close()


def test_belt_listener_maps_effects():
    from app.kiosk.rig import belt_commands_to_rails

    seen = []
    listener = belt_commands_to_rails(type("Rails", (), {"note_belt_running": lambda self, r: seen.append(r)})())
    listener(SetBelt(1.2, 0.0, "backward"))
    listener(SetBelt(0.0, 0.0, "backward"))
    listener(StopBelt("pause"))
    assert seen == [True, False, False]


def test_chart_pngs_render_on_another_thread_while_the_kiosk_draws():
    """The kiosk's USB export draws the chart PNGs on its own thread; the screen keeps drawing."""
    import io
    import threading

    from app.kiosk.demo import demo_data
    from app.ui.charts import render_history_png

    data = demo_data([], time.time()).sessions
    pngs, errors = [], []

    def export_thread():
        try:
            for _ in range(3):
                pngs.append(render_history_png(data, "Alex"))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    worker = threading.Thread(target=export_thread)
    kiosk, _, _ = kiosk_with()
    kiosk.ui.history_data = data
    kiosk.ui.overlay = Overlay.HISTORY
    worker.start()
    while worker.is_alive():
        for chart in ("sessions", "pain", "speed"):
            kiosk.ui.chart = chart
            kiosk.render(pygame.Surface((1280, 800)))
    worker.join()
    assert not errors and len(pngs) == 3
    for png in pngs:
        assert pygame.image.load(io.BytesIO(png), "chart.png").get_size() == (1600, 1200)


def test_staff_creates_a_member_on_the_pad_and_a_clash_is_one_line(tmp_path):
    from app.kiosk.data import StoreData
    from app.shell.members import Members
    from app.shell.store import Store

    store = Store(tmp_path / "b.db")
    try:
        Members(store).add("Kim", code="K1")
        kiosk, _ = make_kiosk(data=StoreData([program()], store))
        kiosk.update(VIEWS[Screen.HOME], 0.0)
        kiosk.staff_unlocked = True
        kiosk.act(Intent(IntentKind.OPEN, Overlay.STAFF_MEMBERS))
        tap(kiosk, "staff_add", 1.0)
        assert kiosk.scene().name == "staff_add"
        assert not kiosk.page().target("add_create").enabled  # nothing typed
        tap(kiosk, "code_page", 2.0)
        tap(kiosk, "code_page", 3.0)                          # K-T
        tap(kiosk, "code:K", 4.0)
        for _ in range(2):
            tap(kiosk, "code_page", 5.0 + _)                  # U-Z, then the digits again
        tap(kiosk, "code:1", 9.0)
        tap(kiosk, "add_create", 10.0)
        assert kiosk.scene().name == "staff_add"              # K1 is Kim's: stays, says why
        assert kiosk.ui.staff_message.startswith("code: 'K1' is already used")
        assert kiosk.ui.staff_message in words(kiosk)
        tap(kiosk, "code:7", 11.0)
        tap(kiosk, "add_units", 12.0)
        tap(kiosk, "add_create", 13.0)
        assert kiosk.scene().name == "staff_members"
        record = Members(store).find("K17")
        assert (record.name, record.units, record.hands_free_allowed) == ("K17", "kmh", False)
        assert "Added K17: hands-free is off until you turn it on" in words(kiosk)
        assert any(i.member.name == "K17" for i in kiosk.ui.staff_infos)
    finally:
        store.close()


def test_after_a_session_the_next_person_starts_as_a_guest():
    kiosk, _, _ = kiosk_with()
    tap(kiosk, "member", 1.0)
    tap(kiosk, "member:1", 2.0)
    kiosk.update(VIEWS[Screen.PREFLIGHT], 3.0)
    kiosk.update(VIEWS[Screen.HOME], 4.0)      # back from the checklist: still Alex
    assert kiosk.ui.member == ALEX
    kiosk.update(VIEWS[Screen.SUMMARY], 5.0)
    kiosk.update(VIEWS[Screen.HOME], 6.0)      # the session is over
    assert kiosk.ui.member is None and kiosk.ui.member_program is None
    assert "Walker: Guest" in words(kiosk)


def test_history_list_tab_shows_recent_sessions_with_pain_and_hands_free():
    from app.kiosk.demo import demo_data

    kiosk, _, _ = kiosk_with()
    kiosk.ui.history_data = demo_data([], time.time()).sessions
    kiosk.ui.overlay = Overlay.HISTORY
    tap(kiosk, "chart:list", 1.0)
    said = words(kiosk)
    assert "pain 1→1 · 50 % hands-free" in said and "e-stop · pain 1→3" in said
    assert "+4" in said  # what does not fit is counted, never silently dropped
