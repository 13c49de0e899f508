"""Members, progression and history, tested as a user would: a member walks three sessions in the simulated
station, picking themselves and answering the pain scales on the kiosk; the suggestion page after
each session gives the rules' reasons in words; staff accept on the Members page; the history
screen shows it; and the USB export carries it (sessions.csv, a chart PNG per member).

The sessions run through :func:`app.shell.simulate.run_script` (real core, store, GPIO adapters on
MockFactory pins). The kiosk is the real :class:`app.ui.kiosk.Kiosk` on the composition root's
:class:`app.kiosk.data.StoreData`, rendered headless; its taps post into the running station,
and it listens to the station's effects as in ``backstep run``.
"""

from __future__ import annotations

import csv
import json

import pygame
import pytest
from test_ui_support import make_kiosk, tap

from app.kiosk.charts import chart_png
from app.kiosk.data import StoreData
from app.config import Config, ExportSection, StationSection
from app.core.safety import Mode
from app.core.view import Screen
from app.shell import simulate
from app.shell.export import ExportJob
from app.shell.history import attach_stats
from app.shell.members import Members
from app.shell.script import parse_script
from app.shell.store import Store
from app.ui import draw
from app.ui.scenes import Intent, IntentKind, Overlay

# Countdown 3 s: the session starts at 4; the prescription is 60 s warm-up + 5 min main = 364 s.
START = "0 lanyard clipped\n0 rails held\n1 tap start\n"
AFTER = "450 rails released   # off the treadmill, at the summary screen\n455 end\n"


class Journey:
    def __init__(self, tmp_path):
        self.db_path = tmp_path / "backstep.db"
        self.store = Store(self.db_path)
        self.members = Members(self.store)
        self.kiosk, _ = make_kiosk(data=StoreData([], self.store))
        self.station = None
        self.kiosk.post = self.post
        self.taps = 0.0

    def post(self, event) -> None:
        self.station.post(event, at=self.station.clock())
        self.station.process(self.station.clock())

    def show(self) -> None:
        self.kiosk.update(self.station.view(), self.station.clock())

    def tap(self, name: str) -> None:
        self.taps += 10.0
        tap(self.kiosk, name, self.taps)

    def words(self) -> str:
        draw._TILES.clear()  # painted widgets are cached: paint them anew so every word is traced
        self.kiosk.fonts.trace = []
        self.kiosk.render(pygame.Surface((800, 480)))
        words = " ".join(self.kiosk.fonts.trace)
        self.kiosk.fonts.trace = None
        return words

    def session(self, member_id: int, middle: str, *, pain_before: int, pain_after: int):
        """Pick the member by their code, start their prescribed program, walk, score pain."""
        record = self.members.get(member_id)
        program = self.members.program_for(member_id)
        done = {"chosen": False, "scored": False}

        def on_station(station) -> None:
            self.station = station
            attach_stats(station, self.store)          # as Rig does, before the kiosk listens
            station.add_listener(self.kiosk.on_effect)

        def settle(station, command) -> None:
            simulate._settle_sensors(station, command)
            self.show()
            if not done["chosen"] and station.state.mode is Mode.READY:
                # The script opened a checklist; the person goes back home and picks themselves.
                self.tap("back")
                self.show()
                assert self.kiosk.scene().name == "home"
                self.tap("member")
                self.tap("search")
                for ch in record.code:
                    for _ in range(4):  # the pad shows digits, then letters a page at a time
                        if self.kiosk.page().target(f"code:{ch}") is not None:
                            break
                        self.tap("code_page")
                    self.tap(f"code:{ch}")
                self.tap(f"found:{member_id}")
                assert self.kiosk.ui.member.id == member_id
                # Their prescribed program comes first, marked as theirs.
                assert f"Prescribed for {record.name}" in self.words(), self.kiosk.ui.staff_message
                self.tap(f"program:{program.id}")
                self.show()
                assert self.kiosk.scene().name == "preflight"
                self.tap("pain_before")
                self.tap(f"pain_before:{pain_before}")
                done["chosen"] = True
            elif not done["scored"] and station.state.mode in (Mode.COOLDOWN, Mode.SUMMARY):
                if self.kiosk.scene().name == "summary":
                    self.tap(f"pain_after:{pain_after}")
                else:
                    self.kiosk.act(Intent(IntentKind.PAIN_AFTER, pain_after))
                done["scored"] = True

        result = simulate.run_script(program, parse_script(START + middle + AFTER), self.store, Config(),
                                     settle=settle, on_station=on_station, member=self.members.get_core_member(member_id))
        assert done["chosen"] and done["scored"]
        self.show()
        assert self.kiosk.view.screen is Screen.SUMMARY
        return result

    def next_time_words(self) -> str:
        """Done on the summary opens the suggestion page; its words."""
        self.tap("done")
        assert self.kiosk.scene().name == "next_time"
        return self.words()


@pytest.fixture
def journey(tmp_path):
    j = Journey(tmp_path)
    yield j
    j.store.close()


@pytest.mark.slow
def test_three_sessions_suggestions_history_and_export(journey, tmp_path):
    j = journey
    anna = j.members.add("Anna", code="A1", units="mph", goal=3, limit_speed=1.5)

    # Session 1: clean, pain steady 2 -> 2: raise one thing (speed first).
    first = j.session(anna.id, "", pain_before=2, pain_after=2)
    assert first.status == "completed"
    words = j.next_time_words()
    assert "Raising speed from 0.5 mph to 0.6 mph: the last session went well" in words
    assert "Step up: 0.6 mph · 5 min · incline 0 %" in words
    j.tap("done")  # the suggestion page's Done: back home
    j.show()
    assert j.kiosk.scene().name == "home"
    # The therapist accepts it on the staff Members page (behind the PIN).
    j.kiosk.staff_unlocked = True
    j.kiosk.act(Intent(IntentKind.OPEN, Overlay.STAFF_MEMBERS))
    assert "Anna · A1" in j.words()
    j.tap(f"staff_member:{anna.id}")
    assert "Raising speed from 0.5 mph to 0.6 mph" in j.words()
    j.tap("rx_accept")
    assert j.kiosk.ui.staff_suggestion.status == "accepted"
    assert j.members.get(anna.id).rx_speed_kmh == pytest.approx(0.6 * 1.609344)
    j.tap("back")
    assert j.kiosk.scene().name == "staff_members"
    j.kiosk.act(Intent(IntentKind.CLOSE))

    # Session 2: two early releases (one re-gripped in the grace time, one that pauses), pain 2 -> 5.
    second = j.session(anna.id, "100 rails released\n100.5 rails held\n200 rails released\n205 rails held\n",
                       pain_before=2, pain_after=5)
    assert [p["reason"] for p in second.pauses] == ["rails released"]
    words = j.next_time_words()
    assert "Holding time: pain went up by 3 after the last session (2 to 5)" in words
    assert "Holding time: the rails were let go too early 2 time(s) last session" in words
    j.tap("done")

    # Session 3: clean, but pain worse again (3 -> 4): two sessions with worse pain -> step back.
    j.session(anna.id, "", pain_before=3, pain_after=4)
    # The suggestion is computed after the pain-after score arrived (it needs it).
    assert j.kiosk.ui.suggestion.action == "step_back"
    words = j.next_time_words()
    assert "Stepping back speed from 0.6 mph to 0.5 mph: pain was worse after the last 2 sessions" in words

    # The history screen (opened from the summary) shows the three sessions and each chart.
    j.kiosk.ui.overlay = None
    j.tap("history")
    assert j.kiosk.scene().name == "history"
    data = j.kiosk.ui.history_data
    assert [(s.pain_before, s.pain_after) for s in data.sessions] == [(2, 2), (2, 5), (3, 4)]
    assert [s.early_releases for s in data.sessions] == [0, 2, 0]
    assert all(s.hands_free_share is not None for s in data.sessions)
    assert data.sessions[1].top_speed == pytest.approx(0.6, abs=0.01)
    assert data.goal_per_week == 3 and data.weeks[-1].sessions == 3
    words = j.words()
    assert "History: Anna" in words and "3 sessions" in words and "top 0.6 mph" in words
    assert "Sessions per week" in words and "goal 3 a week" in words
    for chart, title in [("minutes", "Minutes walked per week"), ("speed", "Top backward speed (mph), last 3 sessions"),
                         ("pain", "Pain 0-10 before and after, last 3 sessions"),
                         ("hands_free", "Hands-free share of walking time (%), last 3 sessions")]:
        j.tap(f"chart:{chart}")
        assert title in j.words(), chart
        assert j.kiosk.page().rects["chart"].height >= 150

    # The export carries it: pain and hands-free share per session, and Anna's chart PNG.
    stick = tmp_path / "stick"
    stick.mkdir()
    titles = []
    result = ExportJob(j.db_path, stick, Config(station=StationSection(id="backstep-1")), selection="all",
                       charts=lambda history, title: (titles.append(title), chart_png(history, title))[1]).run()
    assert result.ok, result.message
    folder = stick / "Backstep" / "backstep-1"
    with open(folder / "sessions.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["pain_before"], r["pain_after"]) for r in rows] == [("2", "2"), ("2", "5"), ("3", "4")]
    assert all(r["hands_free_percent"] != "" for r in rows)
    png = folder / "charts" / f"member-{anna.id}.png"
    assert titles == ["Anna"]
    image = pygame.image.load(str(png))
    assert image.get_size() == (1600, 1200)
    manifest = json.loads((folder / "manifest.json").read_text())
    listed = {f["path"] for f in manifest["files"]}
    assert f"charts/member-{anna.id}.png" in listed
    assert not list(folder.rglob(".*.partial"))


def test_pseudonymized_export_names_the_chart_by_pseudonym(journey, tmp_path):
    j = journey
    bo = j.members.add("Bo Secret", code="B2", units="kmh")
    j.session(bo.id, "", pain_before=1, pain_after=1)
    stick = tmp_path / "stick"
    stick.mkdir()
    titles = []
    config = Config(station=StationSection(id="backstep-1"), export=ExportSection(pseudonymize_members=True))
    result = ExportJob(j.db_path, stick, config, selection="all",
                       charts=lambda history, title: (titles.append(title), chart_png(history, title))[1]).run()
    assert result.ok, result.message
    charts = list((stick / "Backstep" / "backstep-1" / "charts").iterdir())
    assert len(charts) == 1 and charts[0].name.startswith("M-") and charts[0].suffix == ".png"
    assert titles == [charts[0].stem] and "Bo" not in titles[0]
    pygame.image.load(str(charts[0]))
    manifest = (stick / "Backstep" / "backstep-1" / "manifest.json").read_text()
    assert "Bo Secret" not in manifest and f"charts/{charts[0].name}" in manifest


def test_guest_sees_no_suggestion(journey):
    j = journey
    from test_ui_support import views

    j.kiosk.update(views()[Screen.SUMMARY], 1.0)
    assert j.kiosk.ui.member is None
    assert j.kiosk.page().target("done").intent == Intent(IntentKind.HOME)
    assert "Next time" not in j.words()
