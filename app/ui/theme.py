"""Colours, sizes and fonts. One high-contrast theme, scaled to any screen from 800x480 up.

Every size is given in *units*: one unit is one pixel on the 7" 800x480 panel and grows with the
screen, so a layout written once fits 1280x800 and 1920x1080 too. A touch target is at least
:data:`TOUCH` units (15 mm on the 7" panel, about 90 px: easy to hit while walking on the belt).
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

import pygame

from ..paths import asset_path

#: Touch targets of at least 15 mm, for a person walking on the belt. A 7" 800x480 panel has ~5.9 px/mm, so 15 mm ~ 90 px.
TOUCH = 92
#: The panel the units are defined on.
BASE_SIZE = (800, 480)

# High contrast on black. States are never told by colour alone: every state has a word and a shape.
BLACK = (0, 0, 0)
PANEL = (28, 30, 36)
PANEL_LIGHT = (52, 56, 66)
WHITE = (255, 255, 255)
GREY = (170, 174, 182)
YELLOW = (255, 214, 0)       # attention: hold the rails, warnings
AMBER = (255, 150, 0)
RED = (200, 16, 16)          # emergency stop background: white text on it is 5.9:1
RED_BRIGHT = (255, 70, 60)
GREEN = (40, 200, 90)
BLUE = (70, 160, 255)        # backward
CYAN = (0, 210, 230)
BUTTON = (60, 64, 76)
BUTTON_PRESSED = (120, 126, 140)
BUTTON_DISABLED = (40, 42, 48)


#: Held while a font face is opened (see :meth:`Fonts.font`).
FONT_LOCK = threading.Lock()

#: Text made only of these is composed from cached glyphs (see :meth:`Fonts._compose`).
CLOCK_CHARS = frozenset("0123456789:")

#: The rendered-text cache's limit in pixel bytes. One 1920x1080 screen in 32-bit pixels is 8.3 MB
#: and its words cover far less than all of it, so 24 MB keeps the text of the screen shown, of the
#: safety screens the prewarm paints, and of the last few clocks; a count limit let big text grow
#: the cache to 40 MB and the kiosk past its 100 MB memory goal (docs/architecture.md, "Budgets").
TEXT_CACHE_BYTES = 24 * 1024 * 1024


def surface_bytes(surface) -> int:
    """The pixel memory a surface holds: width x height x bytes per pixel (of a tuple of surfaces
    kept together, e.g. a widget and its corners: their sum; None counts nothing)."""
    if surface is None:
        return 0
    if isinstance(surface, tuple):
        return sum(surface_bytes(part) for part in surface)
    width, height = surface.get_size()
    return width * height * surface.get_bytesize()


class SurfaceCache:
    """Surfaces (or tuples of them, kept together) by key, least recently used dropped first,
    holding at most *max_bytes* of pixels (:func:`surface_bytes`) and at most *max_entries*
    entries. A surface bigger than the whole budget is handed back uncached: caching it would
    only evict everything else."""

    def __init__(self, max_bytes: int, max_entries: int | None = None):
        self.max_bytes = int(max_bytes)
        self.max_entries = max_entries
        self.bytes = 0
        self._items: OrderedDict = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key) -> bool:
        return key in self._items

    def get(self, key):
        """The surface stored under *key* (now the most recently used), or None."""
        surface = self._items.get(key)
        if surface is not None:
            self._items.move_to_end(key)
        return surface

    def put(self, key, surface: pygame.Surface) -> pygame.Surface:
        """Store *surface* under *key*, evicting the least recently used to stay in budget."""
        size = surface_bytes(surface)
        old = self._items.pop(key, None)
        if old is not None:
            self.bytes -= surface_bytes(old)
        if size > self.max_bytes:
            return surface
        self._items[key] = surface
        self.bytes += size
        while self.bytes > self.max_bytes or (self.max_entries is not None and len(self._items) > self.max_entries):
            _, evicted = self._items.popitem(last=False)
            self.bytes -= surface_bytes(evicted)
        return surface

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


def default_fonts_dir() -> Path:
    """The bundled fonts (``assets/fonts``, installed as ``app/assets/fonts``; see app.paths)."""
    return asset_path("fonts")


class Metrics:
    """Sizes for a screen of *size* pixels: ``m.u(10)`` is 10 units in pixels."""

    def __init__(self, size: tuple[int, int]):
        self.size = (int(size[0]), int(size[1]))
        self.scale = min(self.size[0] / BASE_SIZE[0], self.size[1] / BASE_SIZE[1])
        self.screen = pygame.Rect((0, 0), self.size)

    def u(self, units: float) -> int:
        return max(1, round(units * self.scale))

    @property
    def touch(self) -> int:
        return self.u(TOUCH)

    @property
    def pad(self) -> int:
        return self.u(10)

    @property
    def gap(self) -> int:
        return self.u(8)


class Fonts:
    """The bundled DejaVu Sans (Bitstream Vera licence, assets/fonts/LICENSE-DejaVu.txt) at any
    pixel size, and a cache of rendered text: a frame is mostly blits of cached surfaces."""

    def __init__(self, fonts_dir: Path | None = None, cache_size: int = 512, cache_bytes: int = TEXT_CACHE_BYTES):
        """:param cache_size: at most this many rendered strings are kept (and 4x as many fits).
        :param cache_bytes: at most this many bytes of rendered pixels are kept."""
        fonts_dir = Path(fonts_dir) if fonts_dir else default_fonts_dir()
        self._paths = {False: fonts_dir / "DejaVuSans.ttf", True: fonts_dir / "DejaVuSans-Bold.ttf"}
        if not pygame.font.get_init():
            pygame.font.init()
        self._fonts: dict[tuple[int, bool], pygame.font.Font] = {}
        self._faces: dict[bool, bytes | None] = {}
        self._rendered = SurfaceCache(cache_bytes, cache_size)
        self._fits: dict = {}
        self._cache_size = cache_size
        #: Set to a list to record every string rendered (the tests read what a screen says).
        self.trace: list[str] | None = None

    def font(self, px: int, bold: bool = False) -> pygame.font.Font:
        px = max(6, int(px))
        key = (px, bold)
        font = self._fonts.get(key)
        if font is None:
            # FreeType needs face creation serialised across threads (the USB export draws its
            # chart PNGs on its own thread while the kiosk draws on the main one).
            with FONT_LOCK:
                data = self._face(bold)
                # Each size reads the face from memory: opened by path, every size kept a file of
                # its own open and read its tables and glyphs through stdio, about a third slower
                # to open and measure with (the first frame opens a dozen sizes before READY=1).
                font = pygame.font.Font(io.BytesIO(data) if data is not None else None, px)
            self._fonts[key] = font
        return font

    def _face(self, bold: bool) -> bytes | None:
        """The font file's bytes, read once (None when it is missing: a missing bundled file
        still gives readable text, pygame's default font, not a crash)."""
        if bold not in self._faces:
            path = self._paths[bold]
            self._faces[bold] = path.read_bytes() if path.exists() else None
        return self._faces[bold]

    def render(self, text: str, px: int, colour, bold: bool = False) -> pygame.Surface:
        if self.trace is not None:
            self.trace.append(text)
        key = (text, int(px), tuple(colour), bold)
        surface = self._rendered.get(key)
        if surface is None:
            if 1 < len(text) <= 10 and all(c in CLOCK_CHARS for c in text):
                surface = self._compose(text, int(px), colour, bold)
            else:
                surface = self.font(px, bold).render(text, True, colour)
            self._rendered.put(key, surface)
        return surface

    def _compose(self, text: str, px: int, colour, bold: bool) -> pygame.Surface:
        """A clock like "12:05" from cached glyphs. Clocks change every second and rasterising big
        digits is most of a frame's cost; DejaVu's digits all have one width and no kerning, so
        the result matches a whole-string render (and the digits do not jitter as they change)."""
        font = self.font(px, bold)
        glyphs = [self.render(c, px, colour, bold) for c in text]
        advances = [font.size(c)[0] for c in text]
        image = pygame.Surface((sum(advances), max(g.get_height() for g in glyphs)), pygame.SRCALPHA)
        x = 0
        for glyph, advance in zip(glyphs, advances):
            image.blit(glyph, (x, 0), special_flags=pygame.BLEND_RGBA_MAX)
            x += advance
        return image

    def close(self) -> None:
        """Drop the opened faces and rendered text (call with :data:`FONT_LOCK` held)."""
        self._fonts.clear()
        self._rendered.clear()

    def fit(self, text: str, px: int, max_width: int, bold: bool = False, min_px: int = 10) -> int:
        """The largest size up to *px* at which *text* fits in *max_width* pixels.

        Text width grows in proportion to the size, so one measurement gives the answer; a 3 %
        margin covers hinting. Loading a font at every size on the way down would cost far more
        than a frame (and fill the font cache with sizes never drawn)."""
        key = (text, int(px), int(max_width), bold)
        size = self._fits.get(key)
        if size is None:
            size = int(px)
            width = self.font(size, bold).size(text)[0]
            if width > max_width > 0:
                size = max(min_px, int(size * max_width / width * 0.97))
            if len(self._fits) > 4 * self._cache_size:
                self._fits.clear()
            self._fits[key] = size
        return size

    def wrap(self, text: str, px: int, max_width: int, bold: bool = False) -> list[str]:
        """Break *text* into lines no wider than *max_width* at size *px* (remembered)."""
        key = ("wrap", text, int(px), int(max_width), bold)
        lines = self._fits.get(key)
        if lines is None:
            lines = self._wrap(text, px, max_width, bold)
            if len(self._fits) > 4 * self._cache_size:
                self._fits.clear()
            self._fits[key] = lines
        return list(lines)

    def _wrap(self, text: str, px: int, max_width: int, bold: bool) -> tuple[str, ...]:
        font = self.font(px, bold)
        lines: list[str] = []
        for paragraph in text.split("\n"):
            line = ""
            for word in paragraph.split(" "):
                trial = f"{line} {word}" if line else word
                if font.size(trial)[0] <= max_width or not line:
                    line = trial
                else:
                    lines.append(line)
                    line = word
            lines.append(line)
        return tuple(lines)
