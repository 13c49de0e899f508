"""While the belt may move: the start/resume countdown and the running screen. Pause and Stop are
always in the bottom bar: stopping the belt is one tap away (docs/safety.md, rule 1: the station fails
toward a stopped belt)."""

from __future__ import annotations

import math

import pygame

from app.core.session import format_clock
from app.core.view import Link, Screen

from .. import draw, theme
from ..text import t
from ..theme import Metrics
from .base import Frame, Intent, IntentKind, Page, Scene, band, bottom_bar, columns, direction_word, fmt, status_strip


class Countdown(Scene):
    """Start and resume countdowns: the belt is still; Pause and Stop are there all the same."""

    name = "countdown"

    def layout(self, f: Frame) -> Page:
        m = f.m
        page = Page()
        bar = action_bar(page, m, (IntentKind.PAUSE, IntentKind.STOP))
        page.rects["status"] = pygame.Rect(m.pad, m.pad, bar.width, m.u(52))
        page.rects["title"] = pygame.Rect(m.pad, page.rects["status"].bottom + m.gap, bar.width, m.u(50))
        number_h = bar.y - page.rects["title"].bottom - m.u(60)
        page.rects["number"] = pygame.Rect(m.pad, page.rects["title"].bottom, bar.width, number_h)
        page.rects["hint"] = pygame.Rect(m.pad, page.rects["number"].bottom, bar.width, m.u(50))
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, v = f.m, f.view
        status_strip(surface, f, page.rects["status"])
        resuming = v.screen is Screen.RESUMING
        draw.text(surface, f.fonts, t("resuming_title" if resuming else "countdown_title"), page.rects["title"],
                  m.u(40), theme.WHITE, bold=True)
        number = page.rects["number"]
        radius = number.height // 2 - m.u(4)
        # The view gives whole seconds left; the ring shows them against the usual 3-second count.
        draw.ring(surface, m, number.center, radius, (v.countdown or 0) / max(3, v.countdown or 0), theme.YELLOW)
        draw.text(surface, f.fonts, str(v.countdown or ""), number.inflate(-radius, -radius // 2), m.u(150),
                  theme.YELLOW, bold=True)
        if resuming:
            hint = t("resuming_hint")
        elif v.phase:
            hint = t("countdown_hint", direction=t("direction_" + v.phase.direction), speed=fmt(v.phase.speed),
                     unit=v.unit_label)
        else:
            hint = ""
        draw.text(surface, f.fonts, hint, page.rects["hint"], m.u(30), theme.WHITE)
        self.paint_targets(surface, f, page, running_styles(m))


def action_bar(page: Page, m: Metrics, kinds: tuple[IntentKind, ...]) -> pygame.Rect:
    """Equal buttons along the bottom, each a core intent, named after it (pause, pain, stop)."""
    bar = bottom_bar(m)
    for kind, cell in zip(kinds, columns(bar, len(kinds), m.gap)):
        page.add(kind.value, cell, Intent(kind))
    return bar


def running_styles(m: Metrics) -> dict:
    return {
        "pause": {"label": t("pause"), "px": m.u(40)},
        "pain": {"label": t("pain"), "fill": theme.AMBER, "colour": theme.BLACK, "px": m.u(40)},
        "stop": {"label": t("stop"), "fill": theme.RED, "px": m.u(40)},
    }


class Running(Scene):
    name = "running"

    def layout(self, f: Frame) -> Page:
        m = f.m
        page = Page()
        bar = action_bar(page, m, (IntentKind.PAUSE, IntentKind.PAIN, IntentKind.STOP))
        width = bar.width
        page.rects["status"] = pygame.Rect(m.pad, m.pad, width, m.u(50))
        page.rects["progress"] = pygame.Rect(m.pad, bar.y - m.gap - m.u(14), width, m.u(14))
        line_h = m.u(38)
        page.rects["next"] = pygame.Rect(m.pad, page.rects["progress"].y - m.gap - line_h, width, line_h)
        page.rects["cue"] = pygame.Rect(m.pad, page.rects["next"].y - line_h, width, line_h)
        main = pygame.Rect(m.pad, page.rects["status"].bottom + m.gap, width, page.rects["cue"].y - page.rects["status"].bottom - 2 * m.gap)
        left_w = round(main.width * 0.6)
        page.rects["instruction"] = pygame.Rect(main.x, main.y, left_w, main.height)
        page.rects["phase"] = pygame.Rect(main.x + left_w + m.gap, main.y, main.width - left_w - m.gap, main.height)
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, fonts, v = f.m, f.fonts, f.view
        status = page.rects["status"]
        status_strip(surface, f, pygame.Rect(status.x, status.y, round(status.width * 0.72), status.height))
        draw.text(surface, fonts, t("session_left", clock=format_clock(v.session_left_s)),
                  pygame.Rect(status.x + round(status.width * 0.72), status.y, round(status.width * 0.28), status.height),
                  m.u(26), theme.WHITE, align="right")
        phase = v.phase
        if phase:
            box = page.rects["instruction"]
            rows = [0.33, 0.42, 0.25]
            y = box.y
            rects = []
            for share in rows:
                rects.append(pygame.Rect(box.x, y, box.width, round(box.height * share)))
                y += round(box.height * share)
            colour = theme.CYAN if phase.direction == "backward" else theme.YELLOW
            draw.text(surface, fonts, direction_word(phase.direction), rects[0], m.u(76), colour, bold=True, align="left")
            draw.text(surface, fonts, t("speed_value", speed=fmt(phase.speed), unit=v.unit_label), rects[1],
                      m.u(92), theme.WHITE, bold=True, align="left")
            incline_r, actual_r = columns(rects[2], 2, m.gap)
            draw.text(surface, fonts, t("incline_value", incline=f"{phase.incline_pct:g}"), incline_r, m.u(38),
                      theme.WHITE, align="left")
            if v.actual_speed is not None:
                # What the belt really does, beside the target: a link that lags shows here first.
                draw.text(surface, fonts, t("actual_value", speed=fmt(v.actual_speed), unit=v.unit_label), actual_r,
                          m.u(30), theme.GREY, align="left")
            elif v.link is Link.NONE:
                # Cue mode: no link sets the belt, so the big numbers are what the person must set.
                draw.text(surface, fonts, t("cue_set_here"), actual_r, m.u(30), theme.YELLOW, bold=True, align="left")
            self.phase_ring(surface, f, page.rects["phase"])
            cue_words = phase.cue or ""
            draw.text(surface, fonts, cue_words, page.rects["cue"], m.u(28), theme.WHITE, align="left")
        self.next_line(surface, f, page.rects["next"])
        draw.bar(surface, m, page.rects["progress"], v.progress, theme.WHITE)
        self.paint_targets(surface, f, page, running_styles(m))

    def phase_ring(self, surface, f: Frame, box: pygame.Rect):
        m, v = f.m, f.view
        name_h = m.u(34)
        name = v.phase.name + (f" · {t('round', label=v.phase.round_label)}" if v.phase.round_label else "")
        draw.text(surface, f.fonts, name, pygame.Rect(box.x, box.y, box.width, name_h), m.u(26), theme.WHITE, bold=True)
        area = pygame.Rect(box.x, box.y + name_h, box.width, box.height - name_h)
        radius = min(area.width, area.height) // 2 - m.u(2)
        colour = theme.AMBER if v.warning else theme.WHITE
        draw.ring(surface, m, area.center, radius, v.phase_progress, colour, width=m.u(12))
        inner = pygame.Rect(0, 0, round(radius * 1.4), round(radius * 0.7))
        inner.center = area.center
        inner.y -= radius // 8
        draw.text(surface, f.fonts, format_clock(v.phase_left_s), inner, m.u(60), colour, bold=True)
        label = pygame.Rect(area.centerx - radius, inner.bottom, radius * 2, m.u(22))
        draw.text(surface, f.fonts, t("phase_left"), label.inflate(-radius // 2, 0), m.u(18), theme.GREY)

    def next_line(self, surface, f: Frame, rect: pygame.Rect):
        m, v = f.m, f.view
        nxt = v.next_phase
        words = t("next_last") if nxt is None else t(
            "next_preview", direction=t("direction_" + nxt.direction), speed=fmt(nxt.speed), unit=v.unit_label,
            incline=f"{nxt.incline_pct:g}")
        if v.rails_grace:
            # Hands off in a rails-required phase: the pause comes within the grace time.
            band(surface, f, rect, theme.YELLOW, t("rails_title"), 30)
        elif v.warning:
            # The 10-second warning: a filled band with a triangle, not just a colour change.
            band(surface, f, rect, theme.AMBER, words, 26,
                 lead=t("warning_change", seconds=max(1, math.ceil(v.phase_left_s))))
        else:
            draw.text(surface, f.fonts, words, rect, m.u(24), theme.GREY, align="left")
