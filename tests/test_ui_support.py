"""Helpers for the kiosk tests: a view of every core screen, made by driving the real safety core.

Kept as a test module (with a self-check of its own) so the other ``test_ui_*`` files can import it.
"""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

from app.core.record import replace  # noqa: E402

import pygame  # noqa: E402

from app.core import safety  # noqa: E402
from app.core.events import (  # noqa: E402
    LanyardClipped,
    LanyardPulled,
    LinkLost,
    PauseTapped,
    ProgramChosen,
    RailsHeld,
    RailsReleased,
    StartTapped,
    StopTapped,
    Tick,
    TreadmillReported,
)
from app.core.program import parse_program_text  # noqa: E402
from app.core.view import Screen, build_view  # noqa: E402

PROGRAM_TEXT = """
id = "ui-test"
name = "UI test intervals"
units = "mph"
audience = "Anyone"

[[phases]]
name = "Warm-up"
direction = "backward"
seconds = 60
speed = 0.5
rails = "required"
cue = "Toe first, roll to the heel"

[[phases]]
name = "Forward walk"
direction = "forward"
seconds = 60
speed = 1.5
incline = 2
rails = "required"
cue = "Look ahead"
"""

SIZES = [(800, 480), (1024, 600), (1024, 768), (1280, 800), (1366, 768), (1920, 1080)]


def program():
    prog, problems = parse_program_text(PROGRAM_TEXT, "ui-test.toml")
    assert prog is not None, problems
    return prog


class Driver:
    """The core, stepped by hand."""

    def __init__(self, link=safety.Link.UP):
        self.cfg = safety.SafetyConfig()
        self.state = safety.initial_state(link=link)
        self.t = 100.0

    def send(self, event, dt: float = 0.0):
        self.t += dt
        self.state, _ = safety.step(self.state, event, self.t, self.cfg)
        return self

    def wait(self, dt: float):
        return self.send(Tick(), dt)

    def view(self):
        return build_view(self.state, self.t, self.cfg)


def running(link=safety.Link.UP) -> Driver:
    d = Driver(link)
    d.send(ProgramChosen(program())).send(LanyardClipped()).send(RailsHeld()).send(StartTapped())
    d.wait(3.5)
    assert d.view().screen is Screen.RUNNING
    return d


def views() -> dict[Screen, object]:
    """One view for every Screen value."""
    out = {Screen.HOME: Driver().view()}
    d = Driver().send(ProgramChosen(program()))
    out[Screen.PREFLIGHT] = d.view()
    d.send(LanyardClipped()).send(RailsHeld()).send(StartTapped()).wait(1)
    out[Screen.COUNTDOWN] = d.view()
    d = running().send(TreadmillReported(speed_kmh=0.75, incline_pct=0.0, distance_m=12.0)).wait(20)
    out[Screen.RUNNING] = d.view()
    d = running().send(RailsReleased()).wait(1.5)
    out[Screen.PAUSED_RAILS] = d.view()
    d.send(RailsHeld()).wait(2.5)
    out[Screen.RESUMING] = d.view()
    out[Screen.PAUSED_USER] = running().send(PauseTapped()).view()
    out[Screen.PAUSED_LINK] = running().send(LinkLost()).view()
    out[Screen.TURNAROUND] = running().wait(61).view()
    out[Screen.ESTOP] = running().send(LanyardPulled()).view()
    d = running().wait(10).send(StopTapped())
    out[Screen.COOLDOWN] = d.view()
    out[Screen.SUMMARY] = d.wait(20).view()
    fault = running()
    fault.state = replace(fault.state, mode=safety.Mode.FAULT, fault="RuntimeError: test")
    out[Screen.FAULT] = fault.view()
    for screen, view in out.items():
        assert view.screen is screen, (screen, view.screen)
    return out


def make_kiosk(size=(800, 480), **kwargs):
    from app.ui.data import StaticData
    from app.ui.kiosk import Kiosk

    pygame.font.init()
    posted = []
    kwargs.setdefault("data", StaticData([program()]))
    kiosk = Kiosk(size, posted.append, fullscreen=kwargs.pop("fullscreen", False), **kwargs)
    return kiosk, posted


def click(kiosk, pos, now: float, hold: float = 0.05):
    kiosk.handle(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1, touch=False), now)
    kiosk.handle(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=pos, button=1, touch=False), now + hold)


def tap(kiosk, name: str, now: float):
    target = kiosk.page().target(name)
    assert target is not None, f"no {name} on {kiosk.scene().name}: {[t.name for t in kiosk.page().targets]}"
    click(kiosk, target.rect.center, now)


def test_views_cover_every_screen():
    assert set(views()) == set(Screen)
