"""A member's history as small, honest charts: for the history screen and the exported PNG.

Every chart has a title that names what is drawn and its unit, a y axis that starts at zero with
labelled ticks, and labelled x ends (dates). Pain is always drawn on its full 0-10 scale and the
hands-free share on 0-100 %, so a change never looks bigger than it is. Two series in one chart
differ by shape as well as colour (never colour alone).
"""

from __future__ import annotations

import math
import struct
import time
import zlib

import pygame

from app.core.units import unit_label

from . import draw, theme
from .data import HistoryData
from .text import t
from .theme import FONT_LOCK, Fonts, Metrics

#: The charts a person can pick on the history screen, in order: (name, catalogue key of the tab).
CHARTS = (("sessions", "chart_tab_sessions"), ("minutes", "chart_tab_minutes"), ("speed", "chart_tab_speed"),
          ("pain", "chart_tab_pain"), ("hands_free", "chart_tab_hands_free"))
#: The history screen's tabs: the charts, then the list of recent sessions.
TABS = (*CHARTS, ("list", "chart_tab_list"))
#: How much fits on a 7" panel and still reads: the last weeks and sessions (the export shows more).
SCREEN_WEEKS = 12
SCREEN_SESSIONS = 30


def _date(wall: float, with_year: bool = False) -> str:
    return time.strftime("%d %b %Y" if with_year else "%d %b", time.localtime(wall))


def nice_top(value: float, minimum: float = 1.0, *, integer: bool = False) -> tuple[float, list[float]]:
    """A round top for a zero-based axis at or above *value*, and its ticks (0 included).

    *integer*: an axis of counts (sessions), whose ticks are whole numbers: no "0.62 sessions"."""
    value = max(value, minimum)
    exponent = math.floor(math.log10(value))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * 10 ** exponent / 4
        top = step * math.ceil(value / step - 1e-9)
        if top / step <= 5:
            break
    if step >= 1 or integer:
        step = max(1.0, round(step))
        top = step * math.ceil(value / step - 1e-9)
    ticks = [round(i * step, 6) for i in range(int(round(top / step)) + 1)]
    return top, ticks


def _tick_text(value: float) -> str:
    return f"{round(value, 2):g}"


class Axes:
    """A chart's frame: title, y ticks from zero, x end labels; maps data to pixels."""

    def __init__(self, surface, fonts: Fonts, m: Metrics, rect: pygame.Rect, title: str, y_top: float,
                 y_ticks: list[float], x_labels: tuple[str, str], x_title: str = "", px: int = 16):
        self.surface, self.fonts, self.m = surface, fonts, m
        pygame.draw.rect(surface, theme.PANEL, rect, border_radius=m.u(6))
        inner = rect.inflate(-m.u(12), -m.u(8))
        title_h = m.u(px + 8)
        draw.text(surface, fonts, title, pygame.Rect(inner.x, inner.y, inner.width, title_h), m.u(px + 2),
                  theme.WHITE, bold=True, align="left")
        label_h = m.u(px + 4)
        tick_w = max(fonts.font(m.u(px)).size(_tick_text(v))[0] for v in y_ticks) + m.u(6)
        self.plot = pygame.Rect(inner.x + tick_w, inner.y + title_h + m.u(6), inner.width - tick_w - m.u(4),
                                inner.height - title_h - m.u(6) - label_h * (2 if x_title else 1))
        self.y_top = y_top
        plot = self.plot
        # Every tick gets a grid line; labels skip ticks when they would crowd each other.
        spacing = plot.height / max(1, len(y_ticks) - 1)
        need = max(1, math.ceil(label_h * 1.1 / max(1.0, spacing)))
        intervals = max(1, len(y_ticks) - 1)
        # A stride that divides the intervals, so zero and the top are both labelled.
        every = next(k for k in range(need, intervals + 1) if intervals % k == 0) if need <= intervals else intervals
        for i, value in enumerate(y_ticks):
            y = self.y(value)
            if value > 0:
                pygame.draw.line(surface, theme.PANEL_LIGHT, (plot.left, y), (plot.right, y), 1)
            if i % every:
                continue
            draw.text(surface, fonts, _tick_text(value), pygame.Rect(inner.x, y - label_h // 2, tick_w - m.u(4), label_h),
                      m.u(px), theme.GREY, align="right")
        pygame.draw.line(surface, theme.GREY, plot.bottomleft, plot.bottomright, max(1, m.u(2)))
        pygame.draw.line(surface, theme.GREY, plot.bottomleft, plot.topleft, max(1, m.u(2)))
        first, last = x_labels
        below = pygame.Rect(plot.x, plot.bottom + m.u(2), plot.width, label_h)
        draw.text(surface, fonts, first, below, m.u(px), theme.GREY, align="left")
        if last and last != first:
            draw.text(surface, fonts, last, below, m.u(px), theme.GREY, align="right")
        if x_title:
            draw.text(surface, fonts, x_title, below.move(0, label_h), m.u(px), theme.GREY)

    def y(self, value: float) -> int:
        return round(self.plot.bottom - self.plot.height * min(1.0, max(0.0, value / self.y_top)))

    def slot(self, i: int, n: int) -> tuple[float, float]:
        """Left x and width of slot *i* of *n* equal slots along the x axis."""
        width = self.plot.width / max(1, n)
        return self.plot.x + width * i, width

    def x(self, i: int, n: int) -> int:
        left, width = self.slot(i, n)
        return round(left + width / 2)


def _empty(surface, fonts, m, rect, title: str, px: int) -> None:
    pygame.draw.rect(surface, theme.PANEL, rect, border_radius=m.u(6))
    inner = rect.inflate(-m.u(12), -m.u(8))
    draw.text(surface, fonts, title, pygame.Rect(inner.x, inner.y, inner.width, m.u(px + 8)), m.u(px + 2),
              theme.WHITE, bold=True, align="left")
    draw.text(surface, fonts, t("history_empty"), inner, m.u(px + 8), theme.GREY)


def _weeks(data: HistoryData, limit: int | None):
    weeks = list(data.weeks)
    return weeks[-limit:] if limit else weeks


def _sessions(data: HistoryData, limit: int | None):
    sessions = sorted(data.sessions, key=lambda s: s.started_at)
    return sessions[-limit:] if limit else sessions


def _x_week_labels(weeks) -> tuple[str, str]:
    return (t("chart_week_of", date=_date(weeks[0].week_start)), t("chart_week_of", date=_date(weeks[-1].week_start)))


def _x_session_labels(sessions) -> tuple[str, str]:
    return _date(sessions[0].started_at), _date(sessions[-1].started_at)


def sessions_axis(weeks, goal: int | None) -> tuple[float, list[float]]:
    """The count axis of the sessions chart: room above the tallest bar and the goal, whole ticks."""
    return nice_top(max([w.sessions for w in weeks] + [goal or 0]) * 1.15, 3, integer=True)


def sessions_chart(surface, fonts, m, rect, data: HistoryData, limit: int | None = SCREEN_WEEKS, px: int = 16):
    """Sessions per week as bars, the goal as a dashed line with its number."""
    weeks = _weeks(data, limit)
    title = t("chart_sessions_title", weeks=len(weeks))
    if not weeks:
        return _empty(surface, fonts, m, rect, title, px)
    goal = data.goal_per_week
    top, ticks = sessions_axis(weeks, goal)
    ax = Axes(surface, fonts, m, rect, title, top, ticks, _x_week_labels(weeks), px=px)
    for i, week in enumerate(weeks):
        left, width = ax.slot(i, len(weeks))
        if week.sessions:
            bar = pygame.Rect(round(left + width * 0.15), ax.y(week.sessions), max(2, round(width * 0.7)),
                              ax.plot.bottom - ax.y(week.sessions))
            met = bool(goal) and week.sessions >= goal
            pygame.draw.rect(surface, theme.GREEN if met else theme.BLUE, bar)
            if width >= m.u(18):
                draw.text(surface, fonts, str(week.sessions), pygame.Rect(bar.x - m.u(8), bar.y - m.u(px + 4),
                                                                          bar.width + m.u(16), m.u(px + 4)),
                          m.u(px), theme.WHITE)
    if goal:
        y = ax.y(goal)
        for x in range(ax.plot.left, ax.plot.right, m.u(14)):
            pygame.draw.line(surface, theme.YELLOW, (x, y), (min(x + m.u(8), ax.plot.right), y), max(2, m.u(3)))
        draw.text(surface, fonts, t("chart_goal", goal=goal), pygame.Rect(ax.plot.x + m.u(4), y - m.u(px + 6),
                                                                          ax.plot.width - m.u(8), m.u(px + 4)),
                  m.u(px), theme.YELLOW, bold=True, align="right")


def minutes_chart(surface, fonts, m, rect, data: HistoryData, limit: int | None = SCREEN_WEEKS, px: int = 16):
    weeks = _weeks(data, limit)
    title = t("chart_minutes_title", weeks=len(weeks))
    if not weeks:
        return _empty(surface, fonts, m, rect, title, px)
    top, ticks = nice_top(max(w.minutes for w in weeks) * 1.15, 5)
    ax = Axes(surface, fonts, m, rect, title, top, ticks, _x_week_labels(weeks), px=px)
    for i, week in enumerate(weeks):
        left, width = ax.slot(i, len(weeks))
        if week.minutes > 0:
            bar = pygame.Rect(round(left + width * 0.15), ax.y(week.minutes), max(2, round(width * 0.7)),
                              max(1, ax.plot.bottom - ax.y(week.minutes)))
            pygame.draw.rect(surface, theme.BLUE, bar)
            if width >= m.u(22):
                draw.text(surface, fonts, str(round(week.minutes)), pygame.Rect(bar.x - m.u(8), bar.y - m.u(px + 4),
                                                                                bar.width + m.u(16), m.u(px + 4)),
                          m.u(px), theme.WHITE)


def _line(surface, m, points, colour, marker: str) -> None:
    if len(points) >= 2:
        pygame.draw.lines(surface, colour, False, points, max(2, m.u(3)))
    r = max(3, m.u(5))
    for x, y in points:
        if marker == "circle":
            pygame.draw.circle(surface, theme.PANEL, (x, y), r)
            pygame.draw.circle(surface, colour, (x, y), r, max(2, m.u(2)))
        else:
            pygame.draw.rect(surface, colour, pygame.Rect(x - r, y - r, 2 * r, 2 * r))


def speed_chart(surface, fonts, m, rect, data: HistoryData, limit: int | None = SCREEN_SESSIONS, px: int = 16):
    sessions = _sessions(data, limit)
    unit = unit_label(data.units)
    title = t("chart_speed_title", unit=unit, count=len(sessions))
    if not sessions:
        return _empty(surface, fonts, m, rect, title, px)
    top, ticks = nice_top(max(s.top_speed for s in sessions) * 1.1, 1)
    ax = Axes(surface, fonts, m, rect, title, top, ticks, _x_session_labels(sessions), t("chart_x_sessions"), px=px)
    n = len(sessions)
    _line(surface, m, [(ax.x(i, n), ax.y(s.top_speed)) for i, s in enumerate(sessions)], theme.CYAN, "square")


def pain_chart(surface, fonts, m, rect, data: HistoryData, limit: int | None = SCREEN_SESSIONS, px: int = 16):
    """Pain before (hollow circles) and after (filled squares) each session, on the full 0-10 scale."""
    sessions = _sessions(data, limit)
    title = t("chart_pain_title", count=len(sessions))
    if not sessions:
        return _empty(surface, fonts, m, rect, title, px)
    ax = Axes(surface, fonts, m, rect, title, 10, [0, 2, 4, 6, 8, 10], _x_session_labels(sessions),
              t("chart_x_sessions"), px=px)
    n = len(sessions)
    before = [(ax.x(i, n) - m.u(3), ax.y(s.pain_before)) for i, s in enumerate(sessions) if s.pain_before is not None]
    after = [(ax.x(i, n) + m.u(3), ax.y(s.pain_after)) for i, s in enumerate(sessions) if s.pain_after is not None]
    _line(surface, m, before, theme.GREY, "circle")
    _line(surface, m, after, theme.RED_BRIGHT, "square")
    legend(surface, fonts, m, ax.plot, [(t("legend_pain_before"), theme.GREY, "circle"),
                                        (t("legend_pain_after"), theme.RED_BRIGHT, "square")], px)


def hands_free_chart(surface, fonts, m, rect, data: HistoryData, limit: int | None = SCREEN_SESSIONS, px: int = 16):
    """The share of walking time with the hands off the rails, per session, on 0-100 %."""
    sessions = _sessions(data, limit)
    title = t("chart_hands_free_title", count=len(sessions))
    if not sessions:
        return _empty(surface, fonts, m, rect, title, px)
    ax = Axes(surface, fonts, m, rect, title, 100, [0, 25, 50, 75, 100], _x_session_labels(sessions),
              t("chart_x_sessions"), px=px)
    n = len(sessions)
    for i, s in enumerate(sessions):
        left, width = ax.slot(i, n)
        if s.hands_free_share is None:
            continue
        value = 100 * s.hands_free_share
        bar = pygame.Rect(round(left + width * 0.2), ax.y(value), max(2, round(width * 0.6)),
                          max(1, ax.plot.bottom - ax.y(value)))
        pygame.draw.rect(surface, theme.GREEN, bar)


def legend(surface, fonts, m, plot: pygame.Rect, items, px: int) -> None:
    """Marker + words, top right inside the plot."""
    h = m.u(px + 6)
    widths = [fonts.font(m.u(px)).size(words)[0] + m.u(28) for words, _, _ in items]
    x = plot.right - sum(widths) - m.u(8)
    y = plot.y + m.u(2)
    box = pygame.Rect(x - m.u(4), y, sum(widths) + m.u(8), h)
    pygame.draw.rect(surface, theme.PANEL, box)
    for (words, colour, marker), width in zip(items, widths):
        r = max(3, m.u(5))
        centre = (x + m.u(8), y + h // 2)
        if marker == "circle":
            pygame.draw.circle(surface, colour, centre, r, max(2, m.u(2)))
        else:
            pygame.draw.rect(surface, colour, pygame.Rect(centre[0] - r, centre[1] - r, 2 * r, 2 * r))
        draw.text(surface, fonts, words, pygame.Rect(x + m.u(20), y, width - m.u(20), h), m.u(px), theme.WHITE,
                  align="left")
        x += width


DRAWERS = {"sessions": sessions_chart, "minutes": minutes_chart, "speed": speed_chart, "pain": pain_chart,
           "hands_free": hands_free_chart}


def draw_chart(surface, fonts, m, rect, data: HistoryData, which: str, *, full: bool = False, px: int = 16) -> None:
    """One chart by name; *full* draws every week and session (the export), else the recent ones."""
    drawer = DRAWERS.get(which, sessions_chart)
    if full:
        drawer(surface, fonts, m, rect, data, None, px)
    else:
        drawer(surface, fonts, m, rect, data, px=px)


def session_rows(data: HistoryData) -> list[str]:
    """The sessions, newest first, one line each: date, program, minutes, how it ended, pain, hands-free."""
    rows = []
    for s in sorted(data.sessions, key=lambda s: s.started_at, reverse=True):
        pain = (t("row_pain", before="–" if s.pain_before is None else s.pain_before,
                  after="–" if s.pain_after is None else s.pain_after))
        free = "" if s.hands_free_share is None else t("row_hands_free", percent=round(100 * s.hands_free_share))
        rows.append(" · ".join(x for x in (
            t("history_row", date=_date(s.started_at), program=s.program, minutes=max(0, round(s.active_seconds / 60)),
              status=t(f"status_{s.status}")), pain, free) if x))
    return rows


def summary_line(data: HistoryData) -> str:
    """"12 sessions · 85 min · top 1.4 mph · last pain 2 -> 3"."""
    sessions = data.sessions
    minutes = round(sum(s.active_seconds for s in sessions) / 60)
    top = max((s.top_speed for s in sessions), default=0.0)
    return t("history_summary", sessions=len(sessions), minutes=minutes, speed=f"{top:.1f}", unit=unit_label(data.units))


def render_history_png(data: HistoryData, title: str, size: tuple[int, int] = (1600, 1200),
                       fonts: Fonts | None = None) -> bytes:
    """Every history chart on one page, as PNG bytes (the therapist's export). Headless: needs only
    pygame's font module, never a display."""
    if fonts is not None:
        return _render_png(data, title, size, fonts)
    with FONT_LOCK:
        if not pygame.font.get_init():
            pygame.font.init()
    own = Fonts(cache_size=64)
    try:
        return _render_png(data, title, size, own)
    finally:
        # Close this page's faces under the lock too: FreeType wants face creation and removal
        # serialised across threads (the kiosk keeps drawing on its own thread meanwhile).
        with FONT_LOCK:
            own.close()


def _render_png(data: HistoryData, title: str, size: tuple[int, int], fonts: Fonts) -> bytes:
    m = Metrics(size)
    surface = pygame.Surface(size)
    surface.fill(theme.BLACK)
    pad, gap = m.pad, m.gap
    head = pygame.Rect(pad, pad, size[0] - 2 * pad, m.u(40))
    draw.text(surface, fonts, t("export_chart_title", name=title), head, m.u(30), theme.WHITE, bold=True, align="left")
    sessions = sorted(data.sessions, key=lambda s: s.started_at)
    span = (t("export_chart_span", first=_date(sessions[0].started_at, True), last=_date(sessions[-1].started_at, True))
            if sessions else t("history_empty"))
    sub = pygame.Rect(pad, head.bottom, head.width, m.u(28))
    draw.text(surface, fonts, f"{summary_line(data)} · {span}", sub, m.u(18), theme.GREY, align="left")
    body = pygame.Rect(pad, sub.bottom + gap, head.width, size[1] - sub.bottom - gap - pad)
    cell_w = (body.width - gap) // 2
    cell_h = (body.height - 2 * gap) // 3
    cells = [pygame.Rect(body.x + c * (cell_w + gap), body.y + r * (cell_h + gap), cell_w, cell_h)
             for r in range(3) for c in range(2)]
    for (name, _), cell in zip(CHARTS, cells):
        draw_chart(surface, fonts, m, cell, data, name, full=True, px=11)
    note = cells[5].inflate(-m.u(12), -m.u(12))
    draw.paragraph(surface, fonts, t("export_chart_note"), note, m.u(14), theme.GREY)
    return png_bytes(surface)


#: zlib level for the chart PNGs: 3 compresses these flat-coloured pages about as well as 6 in a
#: third of the time (pygame.image.save: 85-97 ms a page; this: 24-29 ms).
PNG_LEVEL = 3


def png_bytes(surface, level: int = PNG_LEVEL) -> bytes:
    """*surface* as an 8-bit RGB PNG (no filter, zlib *level*): what any image viewer reads."""
    width, height = surface.get_size()
    pixels = pygame.image.tobytes(surface, "RGB")
    stride = 3 * width
    raw = b"".join(b"\x00" + pixels[y * stride:(y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b"")
