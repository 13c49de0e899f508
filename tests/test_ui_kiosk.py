"""The kiosk controller: intents to core events, navigation, the staff PIN, leaving the kiosk,
sounds and speech, and when frames are drawn."""

from __future__ import annotations

import gc
import weakref

import pygame
import pytest
from test_ui_support import make_kiosk, program, running, tap, views

from app.core import record
from app.core.effects import PlaySound, Say
from app.core.events import TAP_EVENTS, HomeTapped, PainScored, PainTapped, ProgramChosen
from app.core.member import Member
from app.core.view import Screen
from app.ui.audio import Sounds
from app.ui.speech import Speaker
from app.ui.data import STATION_DATA_METHODS, StaticData
from app.ui.intents import Intent, IntentKind, Overlay
from app.ui.kiosk import HANDLERS
from app.ui.pin import DEFAULT_PIN, LOCKOUT_S, MAX_TRIES, PinPad, check_pin, hash_pin
from app.ui.scenes import OVERLAY_SCENES
from app.ui.text import t

VIEWS = views()


def key(k, mod=0):
    return pygame.event.Event(pygame.KEYDOWN, key=k, mod=mod, unicode="", scancode=0)


def type_pin(kiosk, pin, now=10.0):
    for i, digit in enumerate(pin):
        tap(kiosk, f"pin:{digit}", now + i)
    tap(kiosk, "pin_ok", now + len(pin) + 1)


# --- PIN ----------------------------------------------------------------------------------------


def test_pin_hash_roundtrip_and_factory_default():
    stored = hash_pin("4321", iterations=1000)
    assert stored.startswith("pbkdf2_sha256$1000$")
    assert "4321" not in stored
    assert check_pin("4321", stored)
    assert not check_pin("1234", stored)
    assert check_pin(DEFAULT_PIN, "")
    assert not check_pin("1111", "")
    assert not check_pin("0000", "garbage")
    assert not check_pin("0000", "md5$1$00$00")


def test_pin_pad_locks_after_too_many_wrong_tries():
    pad = PinPad(hash_pin("2468", iterations=1000))
    for i in range(MAX_TRIES):
        pad.digits = "1111"
        assert not pad.submit(100.0 + i)
    assert pad.locked(100.0 + MAX_TRIES)
    pad.digits = "2468"
    assert not pad.submit(101.0 + MAX_TRIES)  # right PIN, but locked
    pad.digits = "2468"
    assert pad.submit(100.0 + MAX_TRIES + LOCKOUT_S + 1)


def test_staff_screen_needs_the_pin():
    kiosk, _ = make_kiosk(pin_hash=hash_pin("2468", iterations=1000))
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    tap(kiosk, "staff", 1.0)
    assert kiosk.scene().name == "pin"
    type_pin(kiosk, "0000")
    assert kiosk.scene().name == "pin" and kiosk.ui.pin.message == "pin_wrong"
    type_pin(kiosk, "2468", now=50.0)
    assert kiosk.scene().name == "staff" and kiosk.staff_unlocked
    tap(kiosk, "lock", 80.0)
    assert kiosk.scene().name == "home" and not kiosk.staff_unlocked


# --- leaving the kiosk --------------------------------------------------------------------------


@pytest.mark.parametrize("event", [pygame.event.Event(pygame.QUIT), key(pygame.K_ESCAPE),
                                   key(pygame.K_F4, pygame.KMOD_ALT)], ids=["quit", "escape", "alt-f4"])
def test_a_member_cannot_leave_the_fullscreen_kiosk(event):
    kiosk, _ = make_kiosk(fullscreen=True)
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    kiosk.handle(event, 1.0)
    assert not kiosk.quit_requested
    assert kiosk.scene().name == "home"


def test_staff_can_exit_to_the_desktop_with_the_pin():
    kiosk, _ = make_kiosk(fullscreen=True)
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    tap(kiosk, "staff", 1.0)
    type_pin(kiosk, "0000")
    tap(kiosk, "exit", 30.0)
    assert kiosk.quit_requested


def test_escape_in_a_window_asks_for_the_pin_then_exits():
    kiosk, _ = make_kiosk(fullscreen=False)
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    kiosk.handle(key(pygame.K_ESCAPE), 1.0)
    assert kiosk.scene().name == "pin" and not kiosk.quit_requested
    type_pin(kiosk, "0000")
    assert kiosk.quit_requested


def test_escape_never_leaves_a_running_session():
    kiosk, _ = make_kiosk(fullscreen=False)
    kiosk.update(VIEWS[Screen.RUNNING], 0.0)
    kiosk.handle(key(pygame.K_ESCAPE), 1.0)
    assert kiosk.scene().name == "running" and not kiosk.quit_requested


# --- intents ------------------------------------------------------------------------------------


def test_choosing_a_member_then_a_program_posts_both():
    alex = Member(7, "Alex")
    kiosk, posted = make_kiosk(data=StaticData([program()], [alex]))
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    tap(kiosk, "member", 1.0)
    tap(kiosk, "member:7", 2.0)
    tap(kiosk, "program:ui-test", 3.0)
    assert posted == [ProgramChosen(program(), alex)]


def test_pain_button_and_pain_scores():
    kiosk, posted = make_kiosk()
    kiosk.update(VIEWS[Screen.RUNNING], 0.0)
    tap(kiosk, "pain", 1.0)
    kiosk.update(VIEWS[Screen.PREFLIGHT], 2.0)
    tap(kiosk, "pain_before", 3.0)
    tap(kiosk, "pain_before:4", 4.0)
    kiosk.update(VIEWS[Screen.SUMMARY], 5.0)
    tap(kiosk, "pain_after:2", 6.0)
    tap(kiosk, "done", 7.0)
    assert posted == [PainTapped(), PainScored("before", 4), PainScored("after", 2), HomeTapped()]
    assert kiosk.ui.pain_after == 2


def test_export_page_is_behind_the_pin_and_drives_the_controller():
    calls = []

    class Export:
        def status(self):
            from app.ui.data import ExportStatus
            return ExportStatus("detected", "STICK")

        def start(self):
            calls.append("start")

        def dismiss(self):
            calls.append("dismiss")

    kiosk, _ = make_kiosk(export=Export())
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    tap(kiosk, "stick", 1.0)
    assert kiosk.scene().name == "pin"
    type_pin(kiosk, "0000")
    assert kiosk.scene().name == "export"
    tap(kiosk, "export_start", 30.0)
    assert calls == ["start"]


def test_ui_pages_vanish_when_the_core_changes_screen():
    kiosk, _ = make_kiosk()
    kiosk.update(VIEWS[Screen.SUMMARY], 0.0)
    tap(kiosk, "history", 1.0)
    assert kiosk.scene().name == "history"
    kiosk.update(VIEWS[Screen.ESTOP], 2.0)
    assert kiosk.scene().name == "estop"


def test_summary_chart_samples_are_recorded_while_running():
    kiosk, _ = make_kiosk()
    d = running()
    kiosk.update(VIEWS[Screen.COUNTDOWN], 0.0)
    for _ in range(10):
        d.wait(1.0)
        kiosk.update(d.view(), d.t)
    assert len(kiosk.ui.samples) >= 9
    assert all(s.speed == 0.5 for s in kiosk.ui.samples)


# --- sound, speech, messages ----------------------------------------------------------------


def test_no_audio_device_means_silence_not_a_crash(monkeypatch, caplog):
    def no_device(*args, **kwargs):
        raise pygame.error("No available audio device")

    monkeypatch.setattr(pygame.mixer, "get_init", lambda: False)
    monkeypatch.setattr(pygame.mixer, "init", no_device)
    sounds = Sounds()
    assert not sounds.available
    sounds.play("estop")  # nothing happens, nothing raises
    assert "without sound" in caplog.text


def test_sound_cues_load_from_assets():
    sounds = Sounds()
    if not sounds.available:
        pytest.skip("no audio device, even a dummy one")
    from app.ui.audio import CUES
    assert set(sounds._cues) == set(CUES)


def test_say_effects_show_a_banner_and_speak_without_blocking():
    spoken = []

    class FakeSpeaker(Speaker):
        def say(self, words, urgent=False):
            spoken.append(words)

    kiosk, _ = make_kiosk(speaker=FakeSpeaker(enabled=True, program="/bin/true"))
    kiosk.update(VIEWS[Screen.PREFLIGHT], 0.0)
    kiosk.on_effect(Say("start_refused", {"reasons": ["lanyard not clipped", "rails not held"]}))
    kiosk.on_effect(PlaySound("refused"))
    kiosk.update(VIEWS[Screen.PREFLIGHT], 0.1)  # the loop's update after the step: words follow the chime
    assert spoken == ["Cannot start: clip the lanyard, hold the rails"]
    surface = pygame.Surface((800, 480))
    kiosk.fonts.trace = []
    kiosk.render(surface)
    assert spoken[0] in kiosk.fonts.trace
    kiosk.update(VIEWS[Screen.PREFLIGHT], 10.0)  # the banner times out
    assert kiosk.needs_frame()


def test_speaker_without_espeak_is_quiet():
    speaker = Speaker(enabled=True, program=None)
    speaker.program = None
    speaker.say("Hold the rails")  # no process, no error


# --- frames -------------------------------------------------------------------------------------


def test_home_screen_draws_once_and_then_sleeps():
    kiosk, _ = make_kiosk()
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    assert kiosk.needs_frame()
    kiosk.render(pygame.Surface((800, 480)))
    kiosk.update(VIEWS[Screen.HOME], 60.0)
    assert not kiosk.needs_frame()
    assert kiosk.next_redraw() is None  # nothing changes by itself: the loop may sleep


def test_running_screen_redraws_when_the_seconds_tick():
    kiosk, _ = make_kiosk()
    d = running()
    kiosk.update(d.view(), d.t)
    kiosk.render(pygame.Surface((800, 480)))
    due = kiosk.next_redraw()
    assert d.t < due <= d.t + 1.01
    d.wait(0.3)
    kiosk.update(d.view(), d.t)
    d.wait(due - d.t)
    kiosk.update(d.view(), d.t)
    assert kiosk.needs_frame()


def test_a_safety_state_needs_a_frame_at_once():
    kiosk, _ = make_kiosk()
    kiosk.update(VIEWS[Screen.RUNNING], 0.0)
    kiosk.render(pygame.Surface((800, 480)))
    kiosk.update(VIEWS[Screen.ESTOP], 0.01)
    assert kiosk.needs_frame()


# --- start-up states (docs/architecture.md, start-up): service screen, safe-mode banner ---------


def test_a_service_screen_replaces_home_and_starts_nothing():
    service = ("Configuration error", ("config.toml: [kiosk] colour: unknown option",), "Staff: fix config.toml")
    kiosk, posted = make_kiosk(service=service)
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    assert kiosk.scene().name == "service"
    names = {t.name for t in kiosk.page().targets}
    assert names == {"staff"}
    kiosk.fonts.trace = []
    kiosk.render(pygame.Surface((800, 480)))
    assert "Configuration error" in kiosk.fonts.trace
    assert "config.toml: [kiosk] colour: unknown option" in kiosk.fonts.trace
    tap(kiosk, "staff", 1.0)
    assert kiosk.scene().name == "pin" and posted == []


def test_the_safe_mode_banner_sits_above_every_screen_and_taps_still_land():
    kiosk, posted = make_kiosk(banner="Safe mode: the treadmill is not commanded")
    kiosk.update(VIEWS[Screen.RUNNING], 0.0)
    surface = pygame.Surface((800, 480))
    kiosk.fonts.trace = []
    kiosk.render(surface)
    assert "Safe mode: the treadmill is not commanded" in kiosk.fonts.trace
    assert surface.get_at((400, 5))[:3] == (255, 150, 0)
    page = kiosk.page()
    assert all(t.rect.bottom <= 480 - kiosk.banner_h for t in page.targets)
    pause = page.target("pause").rect
    from test_ui_support import click
    click(kiosk, (pause.centerx, pause.centery + kiosk.banner_h), 5.0)
    from app.core.events import PauseTapped
    assert posted == [PauseTapped()]


def test_prewarm_paints_the_safety_screens_without_changing_anything():
    kiosk, posted = make_kiosk()
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    kiosk.render(pygame.Surface((800, 480)))
    kiosk.fonts.trace = []
    kiosk.prewarm()
    assert "EMERGENCY STOP" in kiosk.fonts.trace and "HOLD THE RAILS" in kiosk.fonts.trace
    assert kiosk.view.screen is Screen.HOME and not kiosk.needs_frame() and posted == []


def test_the_safety_lines_are_rendered_ahead_by_the_prewarm_not_before_ready():
    """The kiosk opens the speech output at start and leaves the rendering of its safety lines to
    the prewarm it runs after READY=1 (espeak-ng beside the start-up made READY later)."""
    warmed = []

    class RecordingSpeaker(Speaker):
        def warm(self, lines):
            warmed.append(list(lines))

    kiosk, _ = make_kiosk(speaker=RecordingSpeaker(enabled=True, program="/bin/true"))
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    kiosk.render(pygame.Surface((800, 480)))
    assert warmed == []
    kiosk.prewarm()
    assert warmed == [[t("speak_estop"), t("hold_the_rails"), t("link_lost"), t("speak_paused")]]


def test_a_drawing_bug_shows_the_state_in_words_instead_of_crashing(monkeypatch, caplog):
    from app.ui.scenes import SCREEN_SCENES

    def broken(*args, **kwargs):
        raise ZeroDivisionError("bug")

    kiosk, _ = make_kiosk()
    kiosk.update(VIEWS[Screen.ESTOP], 0.0)
    monkeypatch.setattr(SCREEN_SCENES[Screen.ESTOP], "draw", broken)
    surface = pygame.Surface((800, 480))
    kiosk.fonts.trace = []
    kiosk.render(surface)
    assert "emergency stop: lanyard pulled" in kiosk.fonts.trace
    assert "drawing the estop screen failed" in caplog.text


# --- typed intents: one handler per kind, refusals that show --------------------------------------


def test_every_intent_kind_has_exactly_one_handler():
    assert set(HANDLERS) == set(IntentKind)


def test_a_kind_without_a_handler_stops_the_kiosk_from_starting(monkeypatch):
    monkeypatch.delitem(HANDLERS, IntentKind.EXIT)
    with pytest.raises(TypeError, match=r"no handler for \['EXIT'\]: add one to app.ui.kiosk.HANDLERS"):
        make_kiosk()


def test_every_tap_word_of_the_core_is_an_intent_posting_the_same_event():
    kiosk, posted = make_kiosk()
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    for word, event in TAP_EVENTS.items():
        kiosk.act(Intent(IntentKind(word)))
        assert posted[-1] == event(), word


def test_an_intent_kind_must_be_an_intent_kind_not_its_spelling():
    with pytest.raises(TypeError, match="'open' is not an IntentKind"):
        Intent("open", Overlay.HISTORY)


@pytest.mark.parametrize("kind", [IntentKind.OPEN, IntentKind.OPEN_PIN])
def test_a_page_to_open_must_be_an_overlay_not_its_name(kind):
    with pytest.raises(TypeError, match=f"Intent {kind.name} 'history': the page must be an Overlay member"):
        Intent(kind, "history")


def test_every_overlay_has_its_scene():
    assert set(OVERLAY_SCENES) == set(Overlay)
    assert all(scene.name == overlay.value for overlay, scene in OVERLAY_SCENES.items())


@pytest.mark.parametrize("bogus", ["open", ("open", "history"), None, IntentKind.OPEN])
def test_an_unknown_intent_is_refused_on_screen_and_in_the_log(bogus, caplog):
    kiosk, posted = make_kiosk()
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    before = record.replace(kiosk.ui)
    kiosk.act(bogus)
    assert posted == [] and kiosk.scene().name == "home"
    assert f"refused {bogus!r}" in caplog.text
    assert kiosk.ui.toast == t("intent_refused") and kiosk.needs_frame()
    kiosk.fonts.trace = []
    kiosk.render(pygame.Surface((800, 480)))
    assert t("intent_refused") in kiosk.fonts.trace
    assert record.replace(kiosk.ui, toast=before.toast, toast_until=before.toast_until) == before


def test_kiosk_data_must_have_every_station_data_method():
    class ProgramsOnly:
        def programs(self):
            return []

        def members(self):
            return []

        def history(self, member):
            return []

    with pytest.raises(TypeError, match="Kiosk data ProgramsOnly lacks search, program_for, suggestion"):
        make_kiosk(data=ProgramsOnly())
    assert set(STATION_DATA_METHODS) == {"programs", "members", "history", "search", "program_for", "suggestion",
                                         "member_infos", "set_hands_free", "accept", "override", "add_member", "hub_status",
                                         "programs_note", "database_note"}


def test_a_dropped_kiosk_is_freed_at_once_not_by_the_cycle_collector():
    # A kiosk holding closures over itself lingers with its font and tile caches until a full
    # collection (the UI benchmark's memory grew by a third when the intent table did that).
    kiosk, _ = make_kiosk()
    kiosk.update(VIEWS[Screen.HOME], 0.0)
    kiosk.act(Intent(IntentKind.OPEN, Overlay.HISTORY))
    kiosk.render(pygame.Surface((800, 480)))
    freed = weakref.ref(kiosk)
    gc.disable()
    try:
        del kiosk
        assert freed() is None
    finally:
        gc.enable()
