"""The rendered-text and widget caches are bounded by the bytes of their pixels, least recently
used out first: a flood of distinct strings or widgets never holds more than the budget."""

from __future__ import annotations

import pygame
from hypothesis import given, settings
from hypothesis import strategies as st

from app.ui import draw, theme


def cached_bytes(cache) -> int:
    return sum(theme.surface_bytes(surface) for surface in cache._items.values())  # noqa: SLF001


def test_the_text_cache_stays_inside_its_byte_budget_under_a_flood_of_distinct_strings():
    fonts = theme.Fonts()
    biggest = 0
    for i in range(120):
        surface = fonts.render(f"EMERGENCY STOP {i}", 160, theme.WHITE, bold=True)
        biggest = max(biggest, theme.surface_bytes(surface))
        assert cached_bytes(fonts._rendered) <= theme.TEXT_CACHE_BYTES  # noqa: SLF001
    assert 120 * biggest > theme.TEXT_CACHE_BYTES, "the flood must be bigger than the budget"
    last = fonts.render("EMERGENCY STOP 119", 160, theme.WHITE, bold=True)
    assert fonts.render("EMERGENCY STOP 119", 160, theme.WHITE, bold=True) is last, "the newest stays cached"


@settings(max_examples=40, deadline=None)
@given(sizes=st.lists(st.tuples(st.integers(1, 300), st.integers(1, 300)), min_size=1, max_size=60),
       budget=st.integers(1, 400_000))
def test_a_surface_cache_never_holds_more_bytes_than_its_budget(sizes, budget):
    cache = theme.SurfaceCache(budget)
    for i, size in enumerate(sizes):
        surface = cache.put(i % 7, pygame.Surface(size))
        assert cached_bytes(cache) == cache.bytes <= budget
        if theme.surface_bytes(surface) <= budget:
            assert cache.get(i % 7) is surface, "the newest entry that fits is kept"


def test_the_widget_cache_stays_inside_its_byte_budget(monkeypatch):
    monkeypatch.setattr(draw, "_TILES", theme.SurfaceCache(draw.TILE_CACHE_BYTES))
    screen = pygame.Surface((1920, 1080))
    for i in range(80):
        draw.tile(screen, pygame.Rect(0, 0, 900, 500), ("flood", i), lambda image, local: image.fill(theme.PANEL),
                  corner=0)
        assert cached_bytes(draw._TILES) <= draw.TILE_CACHE_BYTES  # noqa: SLF001
    assert 80 * 900 * 500 * screen.get_bytesize() > draw.TILE_CACHE_BYTES


def test_font_sizes_are_opened_from_one_read_of_the_file_not_a_file_each(tmp_path):
    import os

    fonts = theme.Fonts()
    before = len(os.listdir("/proc/self/fd"))
    for px in range(20, 40):
        fonts.font(px), fonts.font(px, bold=True)
    assert len(os.listdir("/proc/self/fd")) <= before, "a file left open per font size"
    by_path = pygame.font.Font(str(theme.default_fonts_dir() / "DejaVuSans-Bold.ttf"), 33)
    assert (pygame.image.tobytes(fonts.font(33, bold=True).render("Stop 12:05", True, theme.WHITE), "RGBA")
            == pygame.image.tobytes(by_path.render("Stop 12:05", True, theme.WHITE), "RGBA")), "the same face"
    missing = theme.Fonts(tmp_path)  # no font files there: pygame's own font, still readable
    assert missing.render("Stop", 30, theme.WHITE).get_width() > 0
