"""Frames repainted incrementally (only what changed) must be exactly the frames a full repaint
gives, at the smallest and the largest panel."""

from __future__ import annotations

import pygame
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ui_support import Driver, make_kiosk, program, running

from app.ui.intents import Overlay
from app.core.events import (
    ConfirmTapped,
    HomeTapped,
    LanyardClipped,
    LanyardPulled,
    LinkLost,
    LinkRestored,
    PauseTapped,
    ProgramChosen,
    RailsHeld,
    RailsReleased,
    ResumeTapped,
    StartTapped,
    StopTapped,
    Tick,
    TreadmillReported,
)
from app.core.view import Screen
from app.ui import theme
from app.ui.canvas import Painter, Recording
from app.ui.scenes import SCREEN_SCENES, Scene

RENDER_SIZES = [(800, 480), (1920, 1080)]

EVENTS = [
    lambda: ProgramChosen(program()), LanyardClipped, RailsHeld, StartTapped, RailsReleased, LanyardPulled,
    PauseTapped, ResumeTapped, StopTapped, HomeTapped, ConfirmTapped, LinkLost, LinkRestored,
    lambda: TreadmillReported(speed_kmh=0.8, incline_pct=1.0, distance_m=40.0),
]

steps = st.lists(st.one_of(
    st.tuples(st.just("event"), st.sampled_from(range(len(EVENTS))), st.floats(0, 5)),
    st.tuples(st.just("tick"), st.floats(0, 70), st.none()),
    st.tuples(st.just("toast"), st.sampled_from(["Set the belt to 1.2 km/h", "Speed up", ""]), st.floats(0, 6)),
    st.tuples(st.just("press"), st.integers(0, 30), st.none()),
    st.tuples(st.just("overlay"), st.sampled_from([None, Overlay.HISTORY, Overlay.PIN, Overlay.MEMBERS]), st.none()),
), min_size=1, max_size=14)


def pixels(surface: pygame.Surface) -> bytes:
    return pygame.image.tobytes(surface, "RGB")


def walk(size, banner: str, sequence, started: bool):
    """Render every step of *sequence* on one screen, as the loop does (from home, or from a
    running session when *started*). Yields (step, screen, full) after each frame, *full* being
    the same frame painted whole and directly, with no recording."""
    kiosk, _ = make_kiosk(size, banner=banner)
    driver = running() if started else Driver()
    screen = pygame.Surface(size)
    screen.fill((1, 2, 3))  # whatever was there before the first frame must not survive it
    full = pygame.Surface(size)
    for step, (kind, a, b) in enumerate(sequence):
        if kind == "event":
            driver.send(EVENTS[a](), b)
        elif kind == "tick":
            driver.wait(a)
        elif kind == "toast":
            kiosk.ui.toast, kiosk.ui.toast_until = a, driver.t + b
        elif kind == "press":
            targets = kiosk.page().targets if kiosk.view is not None else []
            kiosk.taps.press(targets[a % len(targets)].name if targets else None)
        elif kind == "overlay":
            kiosk.ui.overlay = a
        kiosk.update(driver.view(), driver.t)
        kiosk.render(screen)
        full.fill((200, 0, 200))
        kiosk._paint(full)  # noqa: SLF001 - the reference: every call painted, nothing recorded
        yield step, screen, full


@pytest.mark.parametrize("size", RENDER_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=steps, banner=st.sampled_from(["", "Safe mode: the config file has an error"]),
       started=st.booleans())
def test_incremental_frames_equal_a_full_repaint(size, sequence, banner, started):
    for step, screen, full in walk(size, banner, sequence, started):
        assert pixels(screen) == pixels(full), f"step {step}: {sequence[step]}"


def test_a_surface_never_drawn_on_is_painted_whole():
    kiosk, _ = make_kiosk((800, 480))
    kiosk.update(Driver().view(), 100.0)
    for _ in range(2):
        surface = pygame.Surface((800, 480))
        surface.fill((200, 0, 200))
        assert kiosk.render(surface) == [surface.get_rect()]
        assert surface.get_at((0, 0))[:3] == theme.BLACK


@pytest.mark.parametrize("size", RENDER_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_a_frame_repaints_only_what_changed(size):
    kiosk, _ = make_kiosk(size)
    driver = Driver().send(ProgramChosen(program())).send(LanyardClipped()).send(RailsHeld()).send(StartTapped())
    driver.wait(3.5)
    screen = pygame.Surface(size)
    kiosk.update(driver.view(), driver.t)
    assert kiosk.render(screen) == [screen.get_rect()]
    assert kiosk.render(screen) == [], "nothing changed: nothing is painted"
    driver.wait(1.0)  # the clocks tick over
    kiosk.update(driver.view(), driver.t)
    rects = kiosk.render(screen)
    assert rects and sum(r.width * r.height for r in rects) < size[0] * size[1] / 2
    untouched = next((x, y) for y in range(0, size[1], 7) for x in range(0, size[0], 7)
                     if not any(r.collidepoint(x, y) for r in rects))
    screen.set_at(untouched, (1, 2, 3))  # a mark a repaint of that pixel would wipe out
    driver.wait(1.0)
    kiosk.update(driver.view(), driver.t)
    kiosk.render(screen)
    assert screen.get_at(untouched)[:3] == (1, 2, 3)


def test_a_drawing_the_canvas_cannot_record_is_painted_directly(monkeypatch):
    class Raw(Scene):
        name = "raw"

        def draw(self, surface, f, page):  # pygame.draw straight on the surface, not draw.shapes
            pygame.draw.circle(surface, theme.YELLOW, (100, 100), 40)

    monkeypatch.setitem(SCREEN_SCENES, Screen.HOME, Raw())
    kiosk, _ = make_kiosk((800, 480))
    kiosk.update(Driver().view(), 100.0)
    screen = pygame.Surface((800, 480))
    assert kiosk.render(screen) == [screen.get_rect()]
    assert screen.get_at((100, 100))[:3] == theme.YELLOW
    assert screen.get_at((300, 300))[:3] == theme.BLACK


def test_shapes_record_every_pixel_they_paint():
    size = (300, 200)
    calls = [("rect", ((9, 9, 9), pygame.Rect(10, 10, 50, 30)), {"width": 3, "border_radius": 6}),
             ("line", ((9, 9, 9), (5.5, 7.2), (120.7, 90.1), 9), {}),
             ("lines", ((9, 9, 9), False, [(200, 20), (280, 150), (220.5, 190)], 12), {}),
             ("polygon", ((9, 9, 9), [(20, 150), (60, 120), (90, 190)]), {}),
             ("circle", ((9, 9, 9), (150.5, 100.5), 33.3), {"width": 4}),
             ("ellipse", ((9, 9, 9), (100, 10, 80, 40)), {})]
    for name, args, kwargs in calls:
        recording = Recording(size)
        recording.canvas().shape(name, args, kwargs)
        (op,) = recording.ops
        surface = pygame.Surface(size)
        painted = getattr(pygame.draw, name)(surface, *args, **kwargs)
        assert op.bounds.contains(painted), (name, op.bounds, painted)


def test_painter_repaints_the_old_place_of_something_that_moved():
    size = (200, 100)
    screen = pygame.Surface(size)
    painter = Painter()
    for x in (10, 120):
        recording = Recording(size)
        canvas = recording.canvas()
        canvas.fill(theme.BLACK)
        canvas.fill(theme.WHITE, pygame.Rect(x, 10, 30, 30))
        painter.paint(screen, recording)
    assert screen.get_at((20, 20))[:3] == theme.BLACK
    assert screen.get_at((130, 20))[:3] == theme.WHITE


def test_a_new_background_repaints_the_whole_screen_whatever_else_is_alike():
    size = (200, 100)
    screen = pygame.Surface(size)
    painter = Painter()
    for background, squares in ((theme.BLACK, 3), (theme.RED, 2)):
        recording = Recording(size)
        canvas = recording.canvas()
        canvas.fill(background)
        for i in range(squares):
            canvas.fill(theme.WHITE, pygame.Rect(10 + 40 * i, 10, 30, 30))
        rects = painter.paint(screen, recording)
    assert rects == [screen.get_rect()]
    assert screen.get_at((190, 90))[:3] == theme.RED and screen.get_at((20, 20))[:3] == theme.WHITE
    assert screen.get_at((100, 20))[:3] == theme.RED, "the third square of the last frame is gone"
