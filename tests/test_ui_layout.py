"""Scene layout and pixels, headless: every screen, at the smallest and the largest panel."""

from __future__ import annotations

import pygame
import pytest
from test_ui_support import SIZES, make_kiosk, views

from app.core.view import ACTIVE_SCREENS, SAFETY_SCREENS, PauseReason, Screen
from app.ui import theme
from app.ui.data import ExportStatus, SessionRecord, history_from_records
from app.ui.scenes import OVERLAY_SCENES, SCREEN_SCENES, IntentKind, Overlay

VIEWS = views()
OVERLAYS_ON = {Overlay.HISTORY: Screen.HOME, Overlay.PAIN_BEFORE: Screen.PREFLIGHT, Overlay.NEXT_TIME: Screen.SUMMARY}


def scenes_at(size):
    """(label, kiosk) for every core screen and every UI-only page, at *size*."""
    for screen, view in VIEWS.items():
        kiosk, _ = make_kiosk(size)
        kiosk.update(view, 0.0)
        yield screen.value, kiosk
    for name in OVERLAY_SCENES:
        kiosk, _ = make_kiosk(size)
        kiosk.update(VIEWS[OVERLAYS_ON.get(name, Screen.HOME)], 0.0)
        kiosk.ui.overlay = name
        kiosk.staff_unlocked = True
        assert kiosk.scene() is OVERLAY_SCENES[name]
        yield name.value, kiosk


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_target_is_on_screen_big_enough_and_apart(size):
    screen_rect = pygame.Rect((0, 0), size)
    minimum = round(theme.TOUCH * min(size[0] / 800, size[1] / 480)) - 2
    for label, kiosk in scenes_at(size):
        page = kiosk.page()
        assert page.targets, label
        for target in page.targets:
            assert screen_rect.contains(target.rect), f"{label}: {target.name} {target.rect} off screen"
            assert target.rect.width >= minimum and target.rect.height >= minimum, \
                f"{label}: {target.name} {target.rect.size} is smaller than {minimum} px"
        for i, a in enumerate(page.targets):
            for b in page.targets[i + 1:]:
                assert not a.rect.colliderect(b.rect), f"{label}: {a.name} overlaps {b.name}"
        for name, rect in page.rects.items():
            assert screen_rect.contains(rect), f"{label}: {name} {rect} off screen"


def test_targets_are_at_least_90_px_on_the_7_inch_panel():
    for label, kiosk in scenes_at((800, 480)):
        for target in kiosk.page().targets:
            assert min(target.rect.size) >= 90, f"{label}: {target.name} {target.rect.size}"


@pytest.mark.parametrize("screen", sorted(ACTIVE_SCREENS, key=lambda s: s.value), ids=lambda s: s.value)
def test_pause_and_stop_on_every_active_screen(screen):
    kiosk, _ = make_kiosk()
    kiosk.update(VIEWS[screen], 0.0)
    names = {t.name for t in kiosk.page().targets if t.enabled}
    assert {"pause", "stop"} <= names


def test_running_has_a_pain_button_and_every_paused_screen_can_end_the_session():
    kiosk, _ = make_kiosk()
    kiosk.update(VIEWS[Screen.RUNNING], 0.0)
    assert kiosk.page().target("pain").intent.kind is IntentKind.PAIN
    for screen in (Screen.PAUSED_RAILS, Screen.PAUSED_LINK, Screen.PAUSED_USER, Screen.TURNAROUND):
        kiosk.update(VIEWS[screen], 0.0)
        assert kiosk.page().target("stop").intent.kind is IntentKind.STOP, screen


def test_start_is_enabled_only_when_the_view_allows_it():
    from test_ui_support import Driver, program

    from app.core.events import LanyardClipped, ProgramChosen, RailsHeld

    kiosk, _ = make_kiosk()
    d = Driver().send(ProgramChosen(program()))
    kiosk.update(d.view(), 0.0)
    assert kiosk.page().target("start").enabled is False
    d.send(LanyardClipped())
    kiosk.update(d.view(), 0.0)
    assert kiosk.page().target("start").enabled is False
    d.send(RailsHeld())
    kiosk.update(d.view(), 0.0)
    assert kiosk.page().target("start").enabled is True


def test_estop_confirm_needs_the_lanyard_clipped():
    from app.core.record import replace

    kiosk, _ = make_kiosk()
    kiosk.update(VIEWS[Screen.ESTOP], 0.0)
    assert kiosk.page().target("confirm").enabled is False
    kiosk.update(replace(VIEWS[Screen.ESTOP], lanyard_clipped=True), 0.0)
    assert kiosk.page().target("confirm").enabled is True


def render(screen: Screen, size=(800, 480), **ui):
    kiosk, _ = make_kiosk(size)
    kiosk.update(VIEWS[screen], 0.0)
    for key, value in ui.items():
        setattr(kiosk.ui, key, value)
    surface = pygame.Surface(size)
    kiosk.fonts.trace = []
    kiosk.render(surface)
    return surface, kiosk.fonts.trace


def share_of(surface, colour) -> float:
    w, h = surface.get_size()
    hits = total = 0
    for x in range(0, w, 8):
        for y in range(0, h, 8):
            total += 1
            hits += surface.get_at((x, y))[:3] == colour
    return hits / total


@pytest.mark.parametrize("size", [(800, 480), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_estop_screen_is_mostly_red_and_says_what_to_do(size):
    surface, words = render(Screen.ESTOP, size)
    assert share_of(surface, theme.RED) > 0.6
    assert "EMERGENCY STOP" in words
    assert any("Clip the lanyard" in w for w in words)


@pytest.mark.parametrize("size", [(800, 480), (1920, 1080)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_hold_the_rails_is_full_screen_with_its_words(size):
    surface, words = render(Screen.PAUSED_RAILS, size)
    assert "HOLD THE RAILS" in words
    assert share_of(surface, theme.YELLOW) > 0.5
    assert any("rails" in w.lower() for w in words if w != "HOLD THE RAILS")


def test_running_shows_direction_speed_incline_times_next_and_actual_speed():
    _, words = render(Screen.RUNNING)
    text = " | ".join(words)
    assert "BACKWARD" in words
    assert "0.5 mph" in words
    assert "Incline 0 %" in words
    assert "Belt: 0.5 mph" in words
    assert "Toe first, roll to the heel" in words
    assert "Next: forward 1.5 mph, incline 2 %" in words
    assert "0:40" in words and "Session 1:40 left" in text


def test_the_ten_second_warning_is_a_band_with_words():
    from test_ui_support import running

    kiosk, _ = make_kiosk()
    kiosk.update(running().wait(52).view(), 0.0)
    surface = pygame.Surface((800, 480))
    kiosk.fonts.trace = []
    kiosk.render(surface)
    assert any(w.startswith("Change in 8 s") for w in kiosk.fonts.trace)
    assert share_of(surface, theme.AMBER) > 0.02


def test_states_are_never_colour_alone():
    """Every status chip carries a word; a disabled button keeps its label."""
    _, words = render(Screen.PAUSED_LINK)
    assert "lost" in words and "held" in words and "clipped" in words
    assert "Resume" in words  # disabled, still labelled


def test_summary_shows_time_distance_pauses_chart_and_pain_scale():
    from app.ui.data import Sample

    samples = [Sample(t, 0.5, 0.0) for t in range(0, 60, 5)]
    surface, words = render(Screen.SUMMARY, samples=samples)
    assert any(w.startswith("Time ") for w in words)
    assert any(w.startswith("Pauses ") for w in words)
    assert {str(n) for n in range(11)} <= set(words)
    assert "speed (mph)" in words


def test_history_and_export_pages_render_their_data():
    import time

    now = time.time()
    history = [SessionRecord(now - 86400, "Beginner flat", 240, "completed", 0.5, "mph")]
    data = history_from_records(history, "", now)
    _, words = render(Screen.HOME, overlay=Overlay.HISTORY, history_data=data)
    assert "1 session · 4 min · top 0.5 mph" in words
    assert "Sessions per week (last 8 weeks)" in words
    _, words = render(Screen.HOME, overlay=Overlay.HISTORY, history_data=data, chart="minutes")
    assert "Minutes walked per week (last 8 weeks)" in words
    for status, expected in [(ExportStatus("detected", "STICK"), "USB stick found: STICK"),
                             (ExportStatus("exporting", progress=0.5), "Exporting… 50 %"),
                             (ExportStatus("done", sessions=3), "Done. It is safe to remove the stick."),
                             (ExportStatus("error", error="readonly"), "Export failed")]:
        kiosk, _ = make_kiosk()
        kiosk.export = type("E", (), {"status": lambda self, s=status: s})()
        kiosk.staff_unlocked = True
        kiosk.update(VIEWS[Screen.HOME], 0.0)
        kiosk.ui.overlay = Overlay.EXPORT
        kiosk.fonts.trace = []
        kiosk.render(pygame.Surface((800, 480)))
        assert expected in " ".join(kiosk.fonts.trace), (status, kiosk.fonts.trace)


@pytest.mark.slow
def test_every_screen_renders_at_every_size():
    for size in SIZES:
        for label, kiosk in scenes_at(size):
            surface = pygame.Surface(size)
            kiosk.fonts.trace = []
            kiosk.render(surface)
            # Something was written and drawn: words on the screen, and not one flat colour.
            assert kiosk.fonts.trace, label
            assert len({tuple(surface.get_at((x, y))) for x in range(0, size[0], 40) for y in range(0, size[1], 40)}) > 1, label


def test_every_core_screen_has_a_scene_and_safety_screens_use_their_own():
    assert set(SCREEN_SCENES) == set(Screen)
    for screen in SAFETY_SCREENS:
        kiosk, _ = make_kiosk()
        kiosk.update(VIEWS[Screen.HOME], 0.0)
        kiosk.ui.overlay = Overlay.STAFF
        kiosk.staff_unlocked = True
        kiosk.update(VIEWS[screen], 1.0)
        assert kiosk.scene() is SCREEN_SCENES[screen]
        assert kiosk.ui.overlay is None


def test_a_pause_for_a_suspected_sensor_fault_says_so():
    from app.core.record import replace

    kiosk, _ = make_kiosk()
    kiosk.update(replace(VIEWS[Screen.PAUSED_USER], pause_reason=PauseReason.SENSOR), 0.0)
    kiosk.fonts.trace = []
    kiosk.render(pygame.Surface((800, 480)))
    assert "CHECK THE RAIL SENSOR" in kiosk.fonts.trace
    assert kiosk.page().target("stop") is not None
