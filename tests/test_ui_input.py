"""Touch and mouse: one tap per press, on release, never twice."""

from __future__ import annotations

import pygame
from test_ui_support import click, make_kiosk, running, tap, views

from app.core.events import PauseTapped, StartTapped, StopTapped
from app.core.view import Screen
from app.ui.pointer import Pointer, Press, Release, Taps

SIZE = (800, 480)


def finger(kind, pos, finger_id=0):
    return pygame.event.Event(kind, x=pos[0] / SIZE[0], y=pos[1] / SIZE[1], finger_id=finger_id, touch_id=1,
                              dx=0, dy=0, pressure=1.0)


def mouse(kind, pos, touch=False):
    return pygame.event.Event(kind, pos=pos, button=1, touch=touch)


def running_kiosk():
    kiosk, posted = make_kiosk(SIZE)
    kiosk.update(running().view(), 0.0)
    return kiosk, posted


def press_and_release(kiosk, events, t0=10.0):
    for i, event in enumerate(events):
        kiosk.handle(event, t0 + i * 0.01)


def test_a_touch_and_its_synthetic_mouse_echo_make_one_tap():
    kiosk, posted = running_kiosk()
    pos = kiosk.page().target("pause").rect.center
    press_and_release(kiosk, [finger(pygame.FINGERDOWN, pos), mouse(pygame.MOUSEBUTTONDOWN, pos, touch=True),
                              finger(pygame.FINGERUP, pos), mouse(pygame.MOUSEBUTTONUP, pos, touch=True)])
    assert posted == [PauseTapped()]


def test_an_unmarked_mouse_echo_right_after_a_touch_is_ignored_too():
    kiosk, posted = running_kiosk()
    pos = kiosk.page().target("stop").rect.center
    press_and_release(kiosk, [finger(pygame.FINGERDOWN, pos), finger(pygame.FINGERUP, pos),
                              mouse(pygame.MOUSEBUTTONDOWN, pos), mouse(pygame.MOUSEBUTTONUP, pos)])
    assert posted == [StopTapped()]


def test_a_plain_mouse_click_taps():
    kiosk, posted = running_kiosk()
    click(kiosk, kiosk.page().target("pause").rect.center, 5.0)
    assert posted == [PauseTapped()]


def test_a_long_press_acts_once_on_release_and_not_on_press():
    kiosk, posted = running_kiosk()
    pos = kiosk.page().target("pause").rect.center
    kiosk.handle(finger(pygame.FINGERDOWN, pos), 1.0)
    assert posted == []
    assert kiosk.taps.pressed == "pause"  # drawn pressed while held
    kiosk.handle(finger(pygame.FINGERUP, pos), 4.0)  # held three seconds
    assert posted == [PauseTapped()]


def test_sliding_off_the_button_cancels_the_tap():
    kiosk, posted = running_kiosk()
    pause = kiosk.page().target("pause").rect
    kiosk.handle(finger(pygame.FINGERDOWN, pause.center), 1.0)
    kiosk.handle(finger(pygame.FINGERUP, (pause.centerx, 20)), 1.2)
    assert posted == []


def test_a_bounce_is_not_a_second_tap_but_a_later_tap_is():
    kiosk, posted = running_kiosk()
    pos = kiosk.page().target("pause").rect.center
    click(kiosk, pos, 1.0, hold=0.03)
    click(kiosk, pos, 1.06, hold=0.03)   # the finger bounced on the glass
    assert posted == [PauseTapped()]
    click(kiosk, pos, 2.0)
    assert posted == [PauseTapped(), PauseTapped()]


def test_a_second_finger_is_ignored_while_the_first_is_down():
    pointer = Pointer(SIZE)
    assert isinstance(pointer.feed(finger(pygame.FINGERDOWN, (100, 100), 0), 0.0), Press)
    assert pointer.feed(finger(pygame.FINGERDOWN, (500, 300), 1), 0.01) is None
    assert pointer.feed(finger(pygame.FINGERUP, (500, 300), 1), 0.02) is None
    assert isinstance(pointer.feed(finger(pygame.FINGERUP, (100, 100), 0), 0.03), Release)


def test_right_clicks_and_stray_releases_do_nothing():
    pointer = Pointer(SIZE)
    assert pointer.feed(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(5, 5), button=3, touch=False), 0) is None
    assert pointer.feed(mouse(pygame.MOUSEBUTTONUP, (5, 5)), 0) is None


def test_a_press_on_one_screen_never_taps_the_next():
    """A finger down on Start when the e-stop screen appears must not confirm anything on it."""
    kiosk, posted = running_kiosk()
    stop = kiosk.page().target("stop").rect
    kiosk.handle(mouse(pygame.MOUSEBUTTONDOWN, stop.center), 1.0)
    kiosk.update(views()[Screen.PAUSED_USER], 1.1)  # the screen changed under the finger
    kiosk.handle(mouse(pygame.MOUSEBUTTONUP, stop.center), 1.2)
    assert posted == []


def test_disabled_targets_do_not_tap():
    kiosk, posted = make_kiosk(SIZE)
    kiosk.update(views()[Screen.PREFLIGHT], 0.0)
    assert kiosk.page().target("start").enabled is False
    tap(kiosk, "start", 1.0)
    assert posted == []


def test_start_tap_posts_start():
    from app.core.record import replace

    kiosk, posted = make_kiosk(SIZE)
    kiosk.update(replace(views()[Screen.PREFLIGHT], start_enabled=True), 0.0)
    tap(kiosk, "start", 1.0)
    assert posted == [StartTapped()]


def test_taps_debounce_per_target():
    taps = Taps(debounce_s=0.2)
    taps.press("a")
    assert taps.release("a", 1.0) == "a"
    taps.press("b")
    assert taps.release("b", 1.05) == "b"  # another button at once is a real tap
