"""After a session: the summary with its chart and pain scale, and the history."""

from __future__ import annotations

import pygame

from app.core.session import format_clock
from app.core.units import unit_label

from .. import draw, theme
from ..charts import TABS, draw_chart, session_rows, summary_line
from ..data import HistoryData
from ..text import reason_words, t
from .base import Frame, Intent, IntentKind, Overlay, Page, Scene, bottom_bar, columns, fmt, titled_page
from .choose import pain_styles


class Summary(Scene):
    name = "summary"

    def layout(self, f: Frame) -> Page:
        m = f.m
        page = Page()
        screen = m.screen.inflate(-2 * m.pad, -2 * m.pad)
        page.rects["title"] = pygame.Rect(screen.x, screen.y, screen.width, m.u(50))
        body = pygame.Rect(screen.x, page.rects["title"].bottom + m.gap, screen.width,
                           screen.bottom - page.rects["title"].bottom - m.gap)
        # Right: the 0-10 pain scale in a 4 x 3 block whose last cell is Done, so every target keeps
        # its touch size even on the 800x480 panel. Left: the numbers, the chart and History.
        label_h = m.u(32)
        cell_w = m.touch
        cell_h = max(m.touch, min(m.u(110), (body.height - label_h - 3 * m.gap) // 3))
        right_w = 4 * cell_w + 3 * m.gap
        right = pygame.Rect(body.right - right_w, body.y, right_w, body.height)
        page.rects["pain_label"] = pygame.Rect(right.x, right.y, right.width, label_h)
        top = page.rects["pain_label"].bottom + m.gap
        for slot in range(12):
            r, c = divmod(slot, 4)
            rect = pygame.Rect(right.x + c * (cell_w + m.gap), top + r * (cell_h + m.gap), cell_w, cell_h)
            if slot < 11:
                page.add(f"pain_after:{slot}", rect, Intent(IntentKind.PAIN_AFTER, slot))
            elif f.ui.member is not None and f.ui.suggestion is not None:
                page.add("done", rect, Intent(IntentKind.OPEN, Overlay.NEXT_TIME))
            else:
                page.add("done", rect, Intent(IntentKind.HOME))
        left = pygame.Rect(body.x, body.y, right.x - body.x - m.u(16), body.height)
        page.rects["stats"] = pygame.Rect(left.x, left.y, left.width, m.u(114))
        history = pygame.Rect(left.x, left.bottom - m.touch, min(left.width, m.u(240)), m.touch)
        page.add("history", history, Intent(IntentKind.OPEN, Overlay.HISTORY))
        page.rects["chart"] = pygame.Rect(left.x, page.rects["stats"].bottom + m.gap, left.width,
                                          history.y - page.rects["stats"].bottom - 2 * m.gap)
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, fonts, v = f.m, f.fonts, f.view
        outcome = t(f"outcome_{v.outcome}") if v.outcome else t("summary_title")
        self.title(surface, f, outcome, page.rects["title"], px=36)
        stats = page.rects["stats"]
        distance = (t("summary_distance", distance=format_distance(v.distance_m, v.units)) if v.distance_m is not None
                    else t("summary_distance_none"))
        lines = [t("summary_time", clock=format_clock(v.active_s)), distance,
                 f"{t('summary_pauses', count=v.pauses)} · {t('summary_steps', done=v.phases_completed, total=v.phases_total)}"]
        line_h = stats.height // len(lines)
        for i, words in enumerate(lines):
            draw.text(surface, fonts, words, pygame.Rect(stats.x, stats.y + i * line_h, stats.width, line_h), m.u(30),
                      theme.WHITE, bold=i == 0, align="left")
        self.chart(surface, f, page.rects["chart"])
        label = t("summary_pain") if f.ui.pain_after is None else t("summary_pain_saved", score=f.ui.pain_after)
        draw.text(surface, fonts, label, page.rects["pain_label"], m.u(24), theme.WHITE, align="left")
        self.paint_targets(surface, f, page, pain_styles(f, f.ui.pain_after, {
            "done": {"label": t("next_show") if page.target("done").intent.kind is IntentKind.OPEN
                     else t("summary_done"),
                     "fill": theme.GREEN, "colour": theme.BLACK, "px": m.u(30)},
            "history": {"label": t("home_history"), "px": m.u(30)}}))

    def chart(self, surface, f: Frame, rect: pygame.Rect):
        m, v, samples = f.m, f.view, f.ui.samples
        title = pygame.Rect(rect.x, rect.y, rect.width, m.u(26))
        draw.text(surface, f.fonts, t("summary_chart", unit=v.unit_label), title, m.u(18), theme.GREY, align="left")
        plot = pygame.Rect(rect.x, title.bottom, rect.width, rect.height - title.height - m.u(24))
        if len(samples) < 2:
            draw.shapes.rect(surface, theme.PANEL, plot, border_radius=m.u(6))
            draw.text(surface, f.fonts, t("summary_no_samples"), plot, m.u(20), theme.GREY)
            return
        x_max = max(s.t for s in samples) or 1.0
        y_max = max(max(s.speed for s in samples), max(s.incline for s in samples), 1.0) * 1.15
        draw.line_chart(surface, f.fonts, m, plot, [
            ([(s.t, s.speed) for s in samples], theme.CYAN, False),
            ([(s.t, s.incline) for s in samples], theme.YELLOW, True)], x_max, y_max,
            x_label=format_clock(x_max), y_label=f"{y_max:.1f}")
        legend = pygame.Rect(rect.x, plot.bottom, rect.width, m.u(24))
        half = columns(legend, 2, m.gap)
        draw.shapes.line(surface, theme.CYAN, (half[0].x, half[0].centery), (half[0].x + m.u(30), half[0].centery), m.u(4))
        draw.text(surface, f.fonts, f"{t('legend_speed')} ({v.unit_label})", half[0].move(m.u(36), 0), m.u(18),
                  theme.WHITE, align="left")
        for x in range(half[1].x, half[1].x + m.u(30), m.u(10)):
            draw.shapes.line(surface, theme.YELLOW, (x, half[1].centery), (x + m.u(5), half[1].centery), m.u(4))
        draw.text(surface, f.fonts, f"{t('legend_incline')} (%)", half[1].move(m.u(36), 0), m.u(18), theme.WHITE,
                  align="left")


def format_distance(metres: float | None, units: str) -> str:
    if metres is None:
        return "–"
    if units == "mph":
        return f"{metres / 1609.344:.2f} mi"
    return f"{metres / 1000:.2f} km"


class History(Scene):
    """A member's (or everyone's) history: a summary line, one large chart, and a tab per chart."""

    name = "history"

    def layout(self, f: Frame) -> Page:
        m = f.m
        page = Page()
        page.rects["title"] = pygame.Rect(m.pad, m.pad, m.screen.width - 2 * m.pad, m.u(46))
        bar = bottom_bar(m)
        cells = columns(bar, 1 + len(TABS), m.gap)
        page.add("back", cells[0], Intent(IntentKind.CLOSE))
        for (name, _), cell in zip(TABS, cells[1:]):
            page.add(f"chart:{name}", cell, Intent(IntentKind.CHART, name))
        page.rects["summary"] = pygame.Rect(m.pad, page.rects["title"].bottom, page.rects["title"].width, m.u(32))
        page.rects["chart"] = pygame.Rect(m.pad, page.rects["summary"].bottom + m.gap, page.rects["title"].width,
                                          bar.y - page.rects["summary"].bottom - 2 * m.gap)
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, fonts, ui = f.m, f.fonts, f.ui
        name = ui.member.name if ui.member else t("history_everyone")
        self.title(surface, f, t("history_title", name=name), page.rects["title"], px=36)
        data = ui.history_data or HistoryData(name="")
        if data.sessions:
            draw.text(surface, fonts, summary_line(data), page.rects["summary"], m.u(24), theme.YELLOW, bold=True,
                      align="left")
        else:
            draw.text(surface, fonts, t("history_empty"), page.rects["summary"], m.u(24), theme.GREY, align="left")
        if ui.chart == "list":
            box = page.rects["chart"]
            draw.shapes.rect(surface, theme.PANEL, box, border_radius=m.u(6))
            inner = box.inflate(-m.u(16), -m.u(12))
            if data.sessions:
                draw.rows(surface, fonts, m, inner, session_rows(data), m.u(22))
            else:
                draw.text(surface, fonts, t("history_empty"), inner, m.u(28), theme.GREY)
        else:
            draw_chart(surface, fonts, m, page.rects["chart"], data, ui.chart, px=17)
        styles = {"back": {"label": t("back"), "px": m.u(24)}}
        for chart, key in TABS:
            styles[f"chart:{chart}"] = {"label": t(key), "px": m.u(20), "selected": ui.chart == chart}
        self.paint_targets(surface, f, page, styles)


class NextTime(Scene):
    """After a member's session: the suggestion for the next one, with its reasons in words."""

    name = "next_time"

    def layout(self, f: Frame) -> Page:
        m = f.m
        page, body = titled_page(m, Intent(IntentKind.CLOSE))
        bar = bottom_bar(m)
        page.add("done", pygame.Rect(bar.right - bar.width // 3, bar.y, bar.width // 3, bar.height),
                 Intent(IntentKind.HOME))
        page.rects["plan"] = pygame.Rect(body.x, body.y, body.width, m.u(44))
        page.rects["now"] = pygame.Rect(body.x, page.rects["plan"].bottom, body.width, m.u(30))
        page.rects["reasons"] = pygame.Rect(body.x, page.rects["now"].bottom + m.gap, body.width,
                                            body.bottom - page.rects["now"].bottom - m.gap - m.u(30))
        page.rects["note"] = pygame.Rect(body.x, body.bottom - m.u(28), body.width, m.u(28))
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, fonts, ui = f.m, f.fonts, f.ui
        name = ui.member.name if ui.member else ""
        self.title(surface, f, t("next_title", name=name), page.rects["title"], px=36)
        s = ui.suggestion
        if s is None:
            draw.text(surface, fonts, t("next_none"), page.rects["plan"], m.u(32), theme.GREY, align="left")
        else:
            unit = unit_label(s.units)
            dose = s.final or s.next
            draw.text(surface, fonts, f"{t('action_' + s.action)}: " + t("next_plan", speed=fmt(dose.speed), unit=unit,
                                                                        minutes=f"{dose.minutes:g}",
                                                                        incline=f"{dose.incline:g}"),
                      page.rects["plan"], m.u(34), theme.YELLOW, bold=True, align="left")
            draw.text(surface, fonts, t("next_now", speed=fmt(s.current.speed), unit=unit,
                                        minutes=f"{s.current.minutes:g}", incline=f"{s.current.incline:g}"),
                      page.rects["now"], m.u(22), theme.GREY, align="left")
            box = page.rects["reasons"]
            y = box.y
            for reason in map(reason_words, s.reasons):
                if box.bottom - y < m.u(24):
                    break
                y = draw.paragraph(surface, fonts, reason, pygame.Rect(box.x, y, box.width, box.bottom - y), m.u(30),
                                   theme.WHITE) + m.u(8)
        draw.text(surface, fonts, t("next_therapist"), page.rects["note"], m.u(20), theme.GREY, align="left")
        self.paint_targets(surface, f, page, {
            "back": {"label": t("back")},
            "done": {"label": t("summary_done"), "fill": theme.GREEN, "colour": theme.BLACK}})
