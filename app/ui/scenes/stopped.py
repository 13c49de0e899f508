"""Every stopped state as one pattern: a colour field, a huge title with an icon, what happened,
what to do, the live sensor facts, and only the buttons that apply."""

from __future__ import annotations

import pygame

from app.core.view import Link, PauseReason

from .. import draw, theme
from ..text import t
from .base import Frame, Intent, IntentKind, Page, Scene, bottom_bar, columns, fmt, status_strip



def cue_or(f, key: str) -> str:
    """*key*, or its cue-mode words when no treadmill link can stop the belt (the person must)."""
    return f"{key}_cue" if f.view.link is Link.NONE else key

class FullScreenNotice(Scene):
    """The pattern of every stopped state: one colour field, a huge title with an icon, what
    happened, what to do, the live sensor facts, and the one or two buttons that apply."""

    background = theme.BLACK
    ink = theme.WHITE
    title_key = ""

    def buttons(self, f: Frame) -> list[tuple[str, Intent, bool]]:
        return [("stop", Intent(IntentKind.STOP), True)]

    def layout(self, f: Frame) -> Page:
        m = f.m
        page = Page()
        bar = bottom_bar(m)
        buttons = self.buttons(f)
        cells = columns(bar, len(buttons), m.gap) if len(buttons) > 1 else [
            pygame.Rect(bar.right - round(bar.width * 0.5), bar.y, round(bar.width * 0.5), bar.height)]
        for (name, intent, enabled), cell in zip(buttons, cells):
            page.add(name, cell, intent, enabled)
        page.rects["title"] = pygame.Rect(m.pad, m.pad, bar.width, m.u(96))
        page.rects["status"] = pygame.Rect(m.pad, bar.y - m.gap - m.u(50), bar.width, m.u(50))
        page.rects["body"] = pygame.Rect(m.pad + m.u(10), page.rects["title"].bottom + m.gap, bar.width - m.u(20),
                                         page.rects["status"].y - page.rects["title"].bottom - 2 * m.gap)
        return page

    def lines(self, f: Frame) -> list[tuple[str, int, bool]]:
        return []

    def styles(self, f: Frame) -> dict:
        m = f.m
        return {"stop": {"label": t("end_session"), "fill": theme.RED, "px": m.u(34)},
                "resume": {"label": t("resume"), "fill": theme.GREEN, "colour": theme.BLACK, "px": m.u(40)}}

    def draw(self, surface, f: Frame, page: Page) -> None:
        m = f.m
        title = page.rects["title"]
        icon = pygame.Rect(title.x, title.y + m.u(8), title.height - m.u(16), title.height - m.u(16))
        draw.warning(surface, icon, self.ink, self.background)
        draw.text(surface, f.fonts, t(self.title_key), pygame.Rect(icon.right + m.u(16), title.y, title.right - icon.right - m.u(16),
                                                                 title.height), m.u(72), self.ink, bold=True, align="left")
        y = page.rects["body"].y
        body = page.rects["body"]
        for words, px, bold in self.lines(f):
            y = draw.paragraph(surface, f.fonts, words, pygame.Rect(body.x, y, body.width, body.bottom - y), m.u(px),
                               self.ink, bold=bold) + m.u(4)
        self.extra(surface, f, page)
        status_strip(surface, f, page.rects["status"])
        self.paint_targets(surface, f, page, self.styles(f))

    def extra(self, surface, f: Frame, page: Page) -> None:
        pass


class HoldRails(FullScreenNotice):
    name = "paused_rails"
    background = theme.YELLOW
    ink = theme.BLACK
    title_key = "rails_title"

    def lines(self, f):
        return [(t(cue_or(f, "rails_hint")), 30, False)]

    def extra(self, surface, f: Frame, page: Page) -> None:
        hold_bar(surface, f, page, self.ink)


def hold_bar(surface, f: Frame, page: Page, ink) -> None:
    """Holding the rails counts up to the resume countdown; the bar shows how far."""
    m, v = f.m, f.view
    body = page.rects["body"]
    bar_r = pygame.Rect(body.x, body.bottom - m.u(34), body.width, m.u(30))
    label_r = pygame.Rect(body.x, bar_r.y - m.u(46), body.width, m.u(42))
    if v.rails_held:
        words = t("rails_hold", percent=round(v.hold_progress * 100))
    else:
        words = t("rails_take")
    draw.text(surface, f.fonts, words, label_r, m.u(34), ink, bold=True, align="left")
    draw.bar(surface, m, bar_r, v.hold_progress, ink, back=theme.PANEL_LIGHT)


class Turnaround(FullScreenNotice):
    name = "turnaround"
    background = theme.BLUE
    ink = theme.BLACK
    title_key = "turn_title"

    def lines(self, f):
        direction = t("direction_" + f.view.phase.direction) if f.view.phase else ""
        return [(t(cue_or(f, "turn_hint"), direction=direction), 32, False)]

    def extra(self, surface, f, page):
        hold_bar(surface, f, page, self.ink)


class LinkLost(FullScreenNotice):
    name = "paused_link"
    background = theme.AMBER
    ink = theme.BLACK
    title_key = "link_title"

    def buttons(self, f):
        return [("stop", Intent(IntentKind.STOP), True),
                ("resume", Intent(IntentKind.RESUME), f.view.link is not Link.DOWN)]

    def lines(self, f):
        todo = t("link_back") if f.view.link is not Link.DOWN else t("link_todo")
        return [(t("link_hint"), 30, False), (todo, 30, True)]


class PausedUser(FullScreenNotice):
    """Paused by a tap, or by the core for a suspected sensor fault (the same screen, other words)."""

    name = "paused_user"
    background = theme.PANEL
    ink = theme.WHITE
    title_key = "paused_title"

    def buttons(self, f):
        return [("stop", Intent(IntentKind.STOP), True), ("resume", Intent(IntentKind.RESUME), True)]

    def lines(self, f):
        if f.view.pause_reason is PauseReason.SENSOR:
            return [(t("sensor_title"), 40, True), (t("sensor_hint"), 26, False)]
        return [(t(cue_or(f, "paused_hint")), 32, False)]


class EStop(FullScreenNotice):
    name = "estop"
    background = theme.RED
    ink = theme.WHITE
    title_key = "estop_title"

    def buttons(self, f):
        return [("confirm", Intent(IntentKind.CONFIRM), f.view.lanyard_clipped)]

    def lines(self, f):
        return [(t("estop_what"), 30, True), (t("estop_todo_1"), 28, False), (t("estop_todo_2"), 28, False),
                (t("estop_todo_3"), 28, False)]

    def styles(self, f):
        label = t("estop_confirm") if f.view.lanyard_clipped else t("estop_clip_first")
        return {"confirm": {"label": label, "fill": theme.WHITE, "colour": theme.BLACK, "px": f.m.u(32)}}


class Fault(FullScreenNotice):
    name = "fault"
    background = (90, 0, 0)
    ink = theme.WHITE
    title_key = "fault_title"

    def buttons(self, f):
        return [("confirm", Intent(IntentKind.CONFIRM), f.view.lanyard_clipped)]

    def lines(self, f):
        return [(t(cue_or(f, "fault_what")), 32, True), (t("fault_detail", detail=f.view.fault), 22, False)]

    def styles(self, f):
        label = t("fault_confirm") if f.view.lanyard_clipped else t("estop_clip_first")
        return {"confirm": {"label": label, "fill": theme.WHITE, "colour": theme.BLACK, "px": f.m.u(32)}}


class Cooldown(FullScreenNotice):
    name = "cooldown"
    background = theme.BLACK
    ink = theme.WHITE
    title_key = "cooldown_title"

    def buttons(self, f):
        return [("belt_stopped", Intent(IntentKind.STOP), True)]

    def lines(self, f):
        v = f.view
        lines = [(t("cooldown_hint"), 36, True)]
        if v.actual_speed is not None:
            lines.append((t("cooldown_belt", speed=fmt(v.actual_speed), unit=v.unit_label), 34, False))
        if v.outcome:
            lines.append((t(f"outcome_{v.outcome}"), 28, False))
        return lines

    def styles(self, f):
        return {"belt_stopped": {"label": t("cooldown_done"), "px": f.m.u(34)}}
