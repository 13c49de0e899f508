"""Cue mode (no treadmill link): the station cannot drive the belt, so it tells the person to."""

from __future__ import annotations

import pygame
from test_ui_support import make_kiosk, running

from app.core import safety
from app.core.effects import SetBelt, StopBelt
from app.core.events import RailsReleased
from app.core.view import Screen
from app.ui.speech import Speaker


class Recorder(Speaker):
    def __init__(self):
        super().__init__(enabled=True, program="/bin/true")
        self.spoken = []

    def say(self, words, urgent=False):
        self.spoken.append(words)


def rendered_words(kiosk) -> list[str]:
    surface = pygame.Surface((800, 480))
    kiosk.fonts.trace = []
    kiosk.render(surface)
    return kiosk.fonts.trace


def test_running_in_cue_mode_says_to_set_the_treadmill():
    speaker = Recorder()
    kiosk, _ = make_kiosk(speaker=speaker)
    driver = running(link=safety.Link.NONE)
    kiosk.update(driver.view(), driver.t)
    kiosk.on_effect(SetBelt(speed_kmh=1.609344, incline_pct=0.0, direction="backward"))
    kiosk.update(driver.view(), driver.t)  # the loop's update after the step: words follow the chimes
    assert speaker.spoken[0] == "Set the treadmill to 1.0 mph, incline 0 percent"
    assert "Set the treadmill to this" in rendered_words(kiosk)
    kiosk.on_effect(StopBelt("rails released"))
    kiosk.update(driver.view(), driver.t)
    assert speaker.spoken[-1] == "Press stop on the treadmill now"


def test_a_stop_with_no_belt_set_going_says_nothing():
    speaker = Recorder()
    kiosk, _ = make_kiosk(speaker=speaker)
    driver = running(link=safety.Link.NONE)
    kiosk.update(driver.view(), driver.t)
    kiosk.on_effect(StopBelt("lanyard pulled"))
    assert speaker.spoken == []


def test_the_hold_the_rails_screen_says_who_stops_the_belt():
    cue = running(link=safety.Link.NONE).send(RailsReleased()).wait(1.5)
    linked = running(link=safety.Link.UP).send(RailsReleased()).wait(1.5)
    assert cue.view().screen is linked.view().screen is Screen.PAUSED_RAILS
    kiosk, _ = make_kiosk()
    kiosk.update(cue.view(), cue.t)
    cue_words = " ".join(rendered_words(kiosk))
    kiosk.update(linked.view(), linked.t + 1)
    linked_words = " ".join(rendered_words(kiosk))
    assert "Press STOP on the treadmill" in cue_words and "told to stop" not in cue_words
    assert "told to stop" in linked_words and "Press STOP" not in linked_words
