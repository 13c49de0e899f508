"""Widgets are cached as tiles (app.ui.draw.tile) and blitted in pieces: only their corner squares
through a colour key, the rest as a plain copy. A tile must put down exactly the pixels of the
widget painted and blitted whole through its colour key, on any background: a widget whose
see-through corners reach past the squares it declares shows the key colour here."""

from __future__ import annotations

import pygame
import pytest
from test_ui_support import make_kiosk, program, views

from app.core.member import Member
from app.core.view import Screen
from app.ui import draw, theme
from app.ui.theme import Fonts, Metrics

SIZES = [(800, 480), (1920, 1080)]


def keyed_whole(surface, rect, key, paint, *, corner):
    """The reference: the widget painted on the key colour and blitted whole through the key."""
    image = pygame.Surface(rect.size)
    image.fill(draw._CORNER_KEY)  # noqa: SLF001
    image.set_colorkey(draw._CORNER_KEY, pygame.RLEACCEL)  # noqa: SLF001
    paint(image, pygame.Rect((0, 0), rect.size))
    surface.blit(image, rect.topleft)


def background(size) -> pygame.Surface:
    """Narrow stripes of changing colours: any pixel a widget should leave alone shows."""
    surface = pygame.Surface(size)
    for x in range(0, size[0], 3):
        surface.fill(((x * 7) % 256, (x * 13) % 256, (x * 29) % 256), pygame.Rect(x, 0, 3, size[1]))
    return surface


def both_ways(monkeypatch, size, paint_all) -> tuple[bytes, bytes]:
    """*paint_all(surface)* with tiles, then with every widget blitted whole: the pixels of each."""
    shots = []
    for reference in (False, True):
        monkeypatch.setattr(draw, "_TILES", theme.SurfaceCache(draw.TILE_CACHE_BYTES))
        if reference:
            monkeypatch.setattr(draw, "tile", keyed_whole)
        surface = background(size)
        paint_all(surface)
        paint_all(surface)  # and again, from the cache
        shots.append(pygame.image.tobytes(surface, "RGB"))
    return shots[0], shots[1]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_buttons_and_chips_from_the_cache_are_the_widgets_blitted_whole(monkeypatch, size):
    fonts, m = Fonts(), Metrics(size)
    # Wide, touch-sized, and too small for two corners side by side (blitted whole, keyed).
    rects = [pygame.Rect(m.u(3), m.u(5), m.u(300), m.touch), pygame.Rect(m.u(320), m.u(5), m.touch, m.touch),
             pygame.Rect(m.u(420), m.u(5), m.u(60), m.u(20)), pygame.Rect(m.u(500), m.u(5), m.u(15), m.u(40))]
    styles = [{}, {"enabled": False}, {"pressed": True}, {"selected": True},
              {"fill": theme.GREEN, "colour": theme.BLACK, "px": m.u(40)}]

    def paint_all(surface):
        for row, style in enumerate(styles):
            for rect in rects:
                draw.button(surface, fonts, m, rect.move(0, row * (m.touch + m.u(4))), "Start", **style)
        for i, ok in enumerate((True, False, None)):
            for j, height in enumerate((m.u(56), m.u(36))):
                chip = pygame.Rect(m.u(600) if size[0] > 1000 else m.u(560), m.u(5) + (i * 2 + j) * m.u(60),
                                   m.u(200), height)
                draw.status_chip(surface, fonts, m, chip, "Rails", "held", ok)

    tiled, whole = both_ways(monkeypatch, size, paint_all)
    assert tiled == whole


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_every_screen_with_tiles_is_the_screen_with_widgets_blitted_whole(monkeypatch, size):
    kiosk, _ = make_kiosk(size)
    for screen, view in views().items():
        kiosk.ui.member = kiosk.ui.member_program = None
        kiosk.taps.cancel()
        kiosk.update(view, 100.0)
        tiled, whole = both_ways(monkeypatch, size, kiosk._paint)  # noqa: SLF001
        assert tiled == whole, screen
        if screen is Screen.HOME:
            # A member's prescribed program (a yellow card) and a finger on a card (pressed).
            kiosk.ui.member, kiosk.ui.member_program = Member(1, "Alex", "mph"), program()
            kiosk.taps.press(f"program:{program().id}")
            tiled, whole = both_ways(monkeypatch, size, kiosk._paint)  # noqa: SLF001
            assert tiled == whole, "home, a member's card pressed"
