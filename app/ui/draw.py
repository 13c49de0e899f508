"""Drawing helpers: text placed in a rect, buttons, status icons, bars, rings and charts.

All of them only paint on the surface they are given; none keeps state between frames except the
font and widget caches. Icons are drawn with shapes (not font glyphs) so they look the same at
every size.
"""

from __future__ import annotations

import math

import pygame

from . import theme
from .canvas import shapes
from .theme import Fonts, Metrics, SurfaceCache

#: The widget cache's limit in pixel bytes. A screen's widgets cover at most its area once (8.3 MB
#: at 1920x1080 in 32-bit pixels), so 12 MB holds the widgets of the screen shown and the usual next
#: one; a count limit let big cards grow it to 15 MB and the kiosk past its 100 MB memory goal
#: (docs/architecture.md, "Budgets").
TILE_CACHE_BYTES = 12 * 1024 * 1024
#: Painted widgets (buttons, chips, cards) by everything that decides their look, as (image,
#: corners) pairs (:func:`tile`). A frame is then mostly blits: a button repainted from shapes and
#: text costs 10-50x more than blitting it.
_TILES = SurfaceCache(TILE_CACHE_BYTES)
#: Never drawn by any widget: the see-through corners of a rounded tile.
_CORNER_KEY = (255, 0, 254)
#: Corner radii in units: a tile's see-through corners reach no further (a program card is drawn
#: on a button, so its see-through corners are the button's).
BUTTON_RADIUS = 12
CHIP_RADIUS = 8


def tile(surface, rect: pygame.Rect, key: tuple, paint, *, corner: int) -> None:
    """Blit the widget *key* at *rect*, painting it once with ``paint(tile_surface, local_rect)``.

    *paint* must cover every pixel of the rect except in the four *corner* x *corner* squares at
    its corners (a rounded rect of radius *corner* or less); only those squares are see-through.
    The rest is blitted as a plain copy: a colour key on the whole widget made SDL compress it
    (RLE) on its first blit and again for every new destination, and the prewarm paints on a
    scratch surface, so the first e-stop frame paid that once per widget after all."""
    key = (rect.size, corner, *key)
    pieces = _TILES.get(key)
    if pieces is None:
        pieces = _TILES.put(key, _painted(rect.size, corner, paint))
    image, corners = pieces
    if corners is None:
        surface.blit(image, rect.topleft, (0, 0, *rect.size))
    else:
        surface.blits(_placed(rect, image, corners), doreturn=False)


def _painted(size: tuple[int, int], corner: int, paint) -> tuple:
    """(image, corners): the widget without a colour key, and its four corner squares side by
    side in a 2*corner square with the key. corners is None when the image is blitted whole: it
    has no see-through corners, or (keyed) the squares would meet on a widget that small."""
    width, height = size
    # An odd number of pixels a row (a spare column when the width is even, never blitted): SDL
    # copies rows whose pitch is a multiple of 8 bytes with MMX, or of 16 with cache-bypassing SSE
    # stores, 2 to 6 times slower than memcpy for a widget on an x86 machine (a Pi has neither).
    image = pygame.Surface((width | 1, height))
    image.fill(_CORNER_KEY)
    # Painted with the key set, as widgets always were: text blended onto a keyed surface goes
    # through SDL's blender, which rounds a shade differently from pygame's own.
    image.set_colorkey(_CORNER_KEY, pygame.RLEACCEL)
    paint(image, pygame.Rect((0, 0), size))
    if corner > 0 and 2 * corner >= min(width, height):
        return _keyed(image), None
    image.set_colorkey(None)
    if corner <= 0:
        return image, None
    c = corner
    corners = pygame.Surface((2 * c, 2 * c))
    for x, y in ((0, 0), (c, 0), (0, c), (c, c)):
        corners.blit(image, (x, y), (width - c if x else 0, height - c if y else 0, c, c))
    return image, _keyed(corners)


def _keyed(surface: pygame.Surface) -> pygame.Surface:
    surface.set_colorkey(_CORNER_KEY)  # no RLEACCEL: see tile(); these are small
    return surface


def _placed(rect: pygame.Rect, image: pygame.Surface, corners: pygame.Surface) -> list[tuple]:
    """The blits that put a tile at *rect*: see-through corners from *corners*, the rest copied."""
    x, y, width, height = rect
    c = corners.get_width() // 2
    right, bottom, middle = x + width - c, y + height - c, width - 2 * c
    return [(corners, (x, y), (0, 0, c, c)), (image, (x + c, y), (c, 0, middle, c)),
            (corners, (right, y), (c, 0, c, c)),
            (image, (x, y + c), (0, c, width, height - 2 * c)),
            (corners, (x, bottom), (0, c, c, c)), (image, (x + c, bottom), (c, height - c, middle, c)),
            (corners, (right, bottom), (c, c, c, c))]


def text(surface, fonts: Fonts, words: str, rect: pygame.Rect, px: int, colour=theme.WHITE, *, bold=False,
         align="center", valign="center") -> pygame.Rect:
    """Draw one line of *words* inside *rect*, shrunk to fit its width. Returns where it went."""
    if not words:
        return pygame.Rect(rect.x, rect.y, 0, 0)
    size = fonts.fit(words, min(px, max(8, rect.height)), rect.width, bold)
    image = fonts.render(words, size, colour, bold)
    box = image.get_rect()
    if align == "left":
        box.left = rect.left
    elif align == "right":
        box.right = rect.right
    else:
        box.centerx = rect.centerx
    if valign == "top":
        box.top = rect.top
    elif valign == "bottom":
        box.bottom = rect.bottom
    else:
        box.centery = rect.centery
    surface.blit(image, box)
    return box


def paragraph(surface, fonts: Fonts, words: str, rect: pygame.Rect, px: int, colour=theme.WHITE, *,
              bold=False, align="left") -> int:
    """Wrapped text from the top of *rect*; returns the y below the last line drawn."""
    lines = fonts.wrap(words, px, rect.width, bold)
    line_h = fonts.font(px, bold).get_linesize()
    # Too many lines for the box: shrink until they fit, rather than spill off the screen.
    while len(lines) * line_h > rect.height and px > 10:
        px -= 2
        lines = fonts.wrap(words, px, rect.width, bold)
        line_h = fonts.font(px, bold).get_linesize()
    y = rect.top
    for line in lines:
        text(surface, fonts, line, pygame.Rect(rect.x, y, rect.width, line_h), px, colour, bold=bold, align=align)
        y += line_h
    return y


def rows(surface, fonts: Fonts, m: Metrics, rect: pygame.Rect, lines: list[str], px: int, colour=theme.WHITE):
    """A list, one line per row, all at the one size at which the widest fits; rows shrink (down to
    two thirds) before any are left out, and a last "+N" row says how many did not fit."""
    if not lines:
        return
    px = min(fonts.fit(line, px, rect.width) for line in lines)
    row_h = fonts.font(px).get_linesize() + m.u(4)
    if row_h * len(lines) > rect.height:
        px = max(int(px * 2 / 3), min(px, int(px * rect.height / (row_h * len(lines)))))
        row_h = fonts.font(px).get_linesize() + m.u(4)
    fit = max(1, rect.height // row_h)
    shown = lines if len(lines) <= fit else lines[:fit - 1] + [f"+{len(lines) - fit + 1}"]
    for i, line in enumerate(shown):
        text(surface, fonts, line, pygame.Rect(rect.x, rect.y + i * row_h, rect.width, row_h), px, colour, align="left")


def button(surface, fonts: Fonts, m: Metrics, rect: pygame.Rect, label: str, *, fill=theme.BUTTON,
           colour=theme.WHITE, enabled=True, pressed=False, selected=False, px: int | None = None):
    """A rounded button. Disabled buttons are dimmed *and* hatched, so the state is not colour alone."""
    px = px or m.u(30)
    key = ("button", id(fonts), m.scale, label, fill, colour, enabled, pressed, selected, px)
    tile(surface, rect, key, lambda image, local: paint_button(image, fonts, m, local, label, fill, colour, enabled,
                                                               pressed, selected, px), corner=m.u(BUTTON_RADIUS))


def paint_button(surface, fonts, m, rect, label, fill, colour, enabled, pressed, selected, px):
    """:func:`button`'s look painted in place, uncached (for a widget drawn on a button)."""
    radius = m.u(BUTTON_RADIUS)
    if not enabled:
        fill, colour = theme.BUTTON_DISABLED, theme.GREY
    elif pressed:
        fill = theme.BUTTON_PRESSED
    shapes.rect(surface, fill, rect, border_radius=radius)
    if not enabled:
        step = m.u(14)
        clip = surface.get_clip()
        surface.set_clip(rect.inflate(-radius, -radius).clip(clip) if clip else rect)
        for x in range(rect.left - rect.height, rect.right, step):
            shapes.line(surface, theme.PANEL, (x, rect.bottom), (x + rect.height, rect.top), max(1, m.u(2)))
        surface.set_clip(clip)
    border = theme.YELLOW if selected else (theme.WHITE if enabled else theme.PANEL_LIGHT)
    shapes.rect(surface, border, rect, width=max(2, m.u(3 if selected else 2)), border_radius=radius)
    inner = rect.inflate(-m.u(16), -m.u(8))
    text(surface, fonts, label, inner, px, colour, bold=True)


def tick(surface, rect: pygame.Rect, colour, width: int):
    pts = [(rect.left + rect.width * 0.15, rect.top + rect.height * 0.55),
           (rect.left + rect.width * 0.42, rect.top + rect.height * 0.8),
           (rect.left + rect.width * 0.88, rect.top + rect.height * 0.22)]
    shapes.lines(surface, colour, False, pts, width)


def cross(surface, rect: pygame.Rect, colour, width: int):
    a = rect.inflate(-rect.width * 0.3, -rect.height * 0.3)
    shapes.line(surface, colour, a.topleft, a.bottomright, width)
    shapes.line(surface, colour, a.bottomleft, a.topright, width)


def warning(surface, rect: pygame.Rect, colour, ink=theme.BLACK):
    """A warning triangle with an exclamation mark."""
    pts = [(rect.centerx, rect.top), (rect.right, rect.bottom), (rect.left, rect.bottom)]
    shapes.polygon(surface, colour, pts)
    w = max(2, rect.width // 10)
    shapes.line(surface, ink, (rect.centerx, rect.top + rect.height * 0.35),
                     (rect.centerx, rect.top + rect.height * 0.7), w)
    shapes.circle(surface, ink, (rect.centerx, rect.top + rect.height * 0.84), w * 0.7)


def eye(surface, rect: pygame.Rect, colour, width: int):
    """"Look and check": a reminder the person confirms by looking, not a live sensor."""
    box = rect.inflate(-rect.width * 0.1, -rect.height * 0.4)
    shapes.ellipse(surface, colour, box, width)
    shapes.circle(surface, colour, box.center, box.height * 0.28)


def state_icon(surface, m: Metrics, rect: pygame.Rect, ok: bool | None):
    """Green disc with a tick (ok), red disc with a cross (not ok), grey eye (None: look and check)."""
    r = min(rect.width, rect.height) // 2
    centre = rect.center
    width = max(3, m.u(5))
    inner = pygame.Rect(0, 0, r * 2, r * 2)
    inner.center = centre
    if ok is None:
        shapes.circle(surface, theme.PANEL_LIGHT, centre, r)
        eye(surface, inner.inflate(-r * 0.5, -r * 0.5), theme.WHITE, max(2, width // 2))
    elif ok:
        shapes.circle(surface, theme.GREEN, centre, r)
        tick(surface, inner.inflate(-r * 0.6, -r * 0.6), theme.BLACK, width)
    else:
        shapes.circle(surface, theme.RED_BRIGHT, centre, r)
        cross(surface, inner.inflate(-r * 0.4, -r * 0.4), theme.BLACK, width)


def status_chip(surface, fonts: Fonts, m: Metrics, rect: pygame.Rect, label: str, state_word: str, ok: bool | None):
    """Icon + label + state word, e.g. [tick] Rails / held: the shape and the word carry the state."""
    tile(surface, rect, ("chip", id(fonts), m.scale, label, state_word, ok),
         lambda image, local: _paint_chip(image, fonts, m, local, label, state_word, ok), corner=m.u(CHIP_RADIUS))


def _paint_chip(surface, fonts, m, rect, label, state_word, ok):
    shapes.rect(surface, theme.PANEL, rect, border_radius=m.u(CHIP_RADIUS))
    # An outline, so the chip stands out on a panel-coloured screen too.
    shapes.rect(surface, theme.PANEL_LIGHT, rect, width=max(1, m.u(2)), border_radius=m.u(CHIP_RADIUS))
    icon = pygame.Rect(rect.x + m.u(4), rect.y, rect.height, rect.height).inflate(-m.u(10), -m.u(10))
    state_icon(surface, m, icon, ok)
    words = pygame.Rect(icon.right + m.u(8), rect.y + m.u(2), rect.right - icon.right - m.u(12), rect.height - m.u(4))
    colour = theme.WHITE if ok is not False else theme.RED_BRIGHT
    if rect.height >= m.u(44):
        top = pygame.Rect(words.x, words.y, words.width, round(words.height * 0.42))
        bottom = pygame.Rect(words.x, top.bottom, words.width, words.height - top.height)
        text(surface, fonts, label, top, m.u(16), theme.GREY, align="left")
        text(surface, fonts, state_word, bottom, m.u(24), colour, bold=True, align="left")
    else:
        text(surface, fonts, f"{label} {state_word}", words, m.u(22), colour, bold=ok is False, align="left")


def bar(surface, m: Metrics, rect: pygame.Rect, fraction: float, colour=theme.WHITE, back=theme.PANEL_LIGHT):
    fraction = min(1.0, max(0.0, fraction))
    radius = rect.height // 2
    shapes.rect(surface, back, rect, border_radius=radius)
    if fraction > 0:
        filled = pygame.Rect(rect.x, rect.y, max(rect.height, round(rect.width * fraction)), rect.height)
        shapes.rect(surface, colour, filled, border_radius=radius)


def ring(surface, m: Metrics, centre, radius: int, fraction: float, colour=theme.WHITE, width: int | None = None):
    """A progress ring that fills clockwise from twelve o'clock."""
    width = width or m.u(14)
    box = pygame.Rect(0, 0, radius * 2, radius * 2)
    box.center = centre
    shapes.circle(surface, theme.PANEL_LIGHT, centre, radius, width)
    fraction = min(1.0, max(0.0, fraction))
    if fraction >= 0.999:
        shapes.circle(surface, colour, centre, radius, width)
    elif fraction > 0:
        # pygame arcs run counter-clockwise from three o'clock; draw as a polyline for even width.
        steps = max(8, int(90 * fraction))
        pts = []
        for i in range(steps + 1):
            a = math.pi / 2 - 2 * math.pi * fraction * i / steps
            pts.append((centre[0] + (radius - width / 2) * math.cos(a), centre[1] - (radius - width / 2) * math.sin(a)))
        shapes.lines(surface, colour, False, pts, width)


def line_chart(surface, fonts: Fonts, m: Metrics, rect: pygame.Rect, series, x_max: float, y_max: float,
               x_label: str = "", y_label: str = ""):
    """Lines over a shared time axis. *series* is ``[(points, colour, dashed), ...]``; each point is
    ``(x, y)``. Dashed lines tell series apart without relying on colour. The labels name the
    axes' far ends (e.g. the session length and the top of the scale)."""
    shapes.rect(surface, theme.PANEL, rect, border_radius=m.u(6))
    plot = rect.inflate(-m.u(16), -m.u(16))
    if y_label:
        label = text(surface, fonts, y_label, pygame.Rect(plot.x, plot.y, plot.width // 3, m.u(18)), m.u(15),
                     theme.GREY, align="left", valign="top")
        plot = pygame.Rect(plot.x, label.bottom + m.u(2), plot.width, plot.bottom - label.bottom - m.u(2))
    if x_label:
        label_h = m.u(18)
        plot = pygame.Rect(plot.x, plot.y, plot.width, plot.height - label_h)
        text(surface, fonts, x_label, pygame.Rect(plot.x, plot.bottom + 1, plot.width, label_h), m.u(15), theme.GREY,
             align="right")
    shapes.line(surface, theme.GREY, plot.bottomleft, plot.bottomright, 1)
    shapes.line(surface, theme.GREY, plot.bottomleft, plot.topleft, 1)
    if x_max <= 0 or y_max <= 0:
        return
    for points, colour, dashed in series:
        if len(points) < 2:
            continue
        xy = [(plot.left + plot.width * min(1.0, x / x_max), plot.bottom - plot.height * min(1.0, y / y_max))
              for x, y in points]
        if dashed:
            for i in range(0, len(xy) - 1, 2):
                shapes.line(surface, colour, xy[i], xy[i + 1], max(2, m.u(3)))
        else:
            shapes.lines(surface, colour, False, xy, max(2, m.u(4)))


def splash(surface, fonts: Fonts) -> None:
    """The first frame, while the station starts: the name and "starting", nothing to touch."""
    from .text import t

    m = Metrics(surface.get_size())
    surface.fill(theme.BLACK)
    box = m.screen.inflate(-2 * m.pad, -2 * m.pad)
    top = pygame.Rect(box.x, box.centery - m.u(90), box.width, m.u(110))
    text(surface, fonts, t("splash_title"), top, m.u(96), theme.WHITE, bold=True)
    text(surface, fonts, t("splash_starting"), pygame.Rect(box.x, top.bottom, box.width, m.u(50)), m.u(34), theme.GREY)
