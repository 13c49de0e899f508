"""One scene per screen. A scene lays out named rects and touch targets from a :class:`Frame`
(``layout``), then paints them (``draw``). Neither changes anything: a tap on a target yields the
target's :class:`Intent`, which the kiosk turns into a core event or a UI navigation.

Layout uses the screen's own rect and :class:`~app.ui.theme.Metrics` units, never fixed pixels, so
every scene fits 800x480 to 1920x1080. Touch targets are at least ``m.touch`` high and wide.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import pygame

from app.core.member import Member
from app.core.program import Program
from app.core.session import format_clock
from app.core.units import from_kmh, unit_label
from app.core.view import Screen, View

from . import draw, theme
from .data import ExportStatus, Sample, SessionRecord, minutes_per_week
from .pin import PinPad
from .text import t
from .theme import Fonts, Metrics


@dataclass(frozen=True)
class Intent:
    """What a tap asks for: ``kind`` names it, ``arg`` carries the choice (a program, a score)."""

    kind: str
    arg: Any = None


@dataclass(frozen=True)
class Target:
    name: str
    rect: pygame.Rect
    intent: Intent
    enabled: bool = True


@dataclass
class Page:
    """A scene's layout: named rects (for drawing and tests) and its touch targets."""

    rects: dict[str, pygame.Rect] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)

    def add(self, name: str, rect: pygame.Rect, intent: Intent, enabled: bool = True) -> Target:
        target = Target(name, rect, intent, enabled)
        self.targets.append(target)
        self.rects[name] = rect
        return target

    def target(self, name: str) -> Target | None:
        return next((tg for tg in self.targets if tg.name == name), None)

    def hit(self, pos) -> Target | None:
        for target in reversed(self.targets):
            if target.rect.collidepoint(pos):
                return target
        return None


@dataclass
class UiState:
    """What only the kiosk knows: navigation, the chosen member, typed PIN, chosen scores, data."""

    overlay: str | None = None
    member: Member | None = None
    page: int = 0
    pin: PinPad = field(default_factory=lambda: PinPad(""))
    pin_then: str = "staff"
    pain_after: int | None = None
    pain_before: int | None = None
    toast: str = ""
    toast_until: float = 0.0
    sound_on: bool = True
    speech_on: bool = True
    programs: list[Program] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)
    history: list[SessionRecord] = field(default_factory=list)
    samples: list[Sample] = field(default_factory=list)
    export: ExportStatus = field(default_factory=ExportStatus)
    config_source: str = ""
    service: tuple[str, tuple[str, ...], str] | None = None  # (title, messages, hint)


@dataclass
class Frame:
    """Everything a scene may read for one frame."""

    view: View
    m: Metrics
    fonts: Fonts
    ui: UiState
    now: float = 0.0                       # station clock
    wall: float = field(default_factory=time.time)
    pressed: str | None = None


# --- layout helpers ----------------------------------------------------------------------------


def columns(rect: pygame.Rect, n: int, gap: int) -> list[pygame.Rect]:
    width = (rect.width - gap * (n - 1)) / n
    return [pygame.Rect(round(rect.x + i * (width + gap)), rect.y, round(width), rect.height) for i in range(n)]


def bottom_bar(m: Metrics) -> pygame.Rect:
    """The strip of big buttons along the bottom edge, where a hand reaches first."""
    return pygame.Rect(m.pad, m.screen.bottom - m.pad - m.touch, m.screen.width - 2 * m.pad, m.touch)


def grid(rect: pygame.Rect, count: int, m: Metrics, min_w: int, min_h: int, max_cols: int = 99):
    """Cells for *count* items, as many columns as fit at *min_w*, rows of at least *min_h*."""
    gap = m.gap
    cols = max(1, min(max_cols, count, (rect.width + gap) // (min_w + gap)))
    rows = max(1, math.ceil(count / cols))
    cell_w = (rect.width - gap * (cols - 1)) / cols
    cell_h = max(min_h, min(min_h * 1.6, (rect.height - gap * (rows - 1)) / rows))
    cells = []
    for i in range(count):
        r, c = divmod(i, cols)
        cells.append(pygame.Rect(round(rect.x + c * (cell_w + gap)), round(rect.y + r * (cell_h + gap)),
                                 round(cell_w), round(cell_h)))
    return cells


def slots_per_page(rect: pygame.Rect, m: Metrics, min_w: int, min_h: int) -> int:
    cols = max(1, (rect.width + m.gap) // (min_w + m.gap))
    rows = max(1, (rect.height + m.gap) // (min_h + m.gap))
    return cols * rows


def paged(items: list, page: int, per_page: int):
    """The items on *page*, and whether it needs a "Back" and a "More" slot (each takes one item's
    place). The first page has no Back, the last no More."""
    if len(items) <= per_page:
        return items, False, False
    starts = [0]
    while True:
        room = per_page - (1 if len(starts) > 1 else 0)
        if len(items) - starts[-1] <= room:
            break
        starts.append(starts[-1] + max(1, room - 1))
    page = min(max(0, page), len(starts) - 1)
    end = starts[page + 1] if page + 1 < len(starts) else len(items)
    return items[starts[page]:end], page > 0, page < len(starts) - 1


def add_paged_grid(page: Page, area: pygame.Rect, m: Metrics, items: list, page_no: int, min_w: int, min_h: int,
                   name_of, intent_of) -> None:
    """Lay *items* out as a grid of targets in *area*, with Back/More slots when they overflow."""
    shown, prev, more = paged(items, page_no, slots_per_page(area, m, min_w, min_h))
    cells = grid(area, max(1, len(shown) + prev + more), m, min_w, min_h)
    for cell, item in zip(cells, shown):
        page.add(name_of(item), cell, intent_of(item))
    if prev:
        page.add("page_prev", cells[len(shown)], Intent("page", -1))
    if more:
        page.add("page_next", cells[len(shown) + prev], Intent("page", 1))


def titled_page(m: Metrics, back: Intent | None) -> tuple[Page, pygame.Rect]:
    """A page with a title line, a Back button at the bottom left, and the body between."""
    page = Page()
    page.rects["title"] = pygame.Rect(m.pad, m.pad, m.screen.width - 2 * m.pad, m.u(56))
    bar = bottom_bar(m)
    if back is not None:
        page.add("back", pygame.Rect(bar.x, bar.y, bar.width // 3, bar.height), back)
    body = pygame.Rect(m.pad, page.rects["title"].bottom + m.gap, bar.width, bar.y - page.rects["title"].bottom - 2 * m.gap)
    page.rects["body"] = body
    return page, body


def paging_styles() -> dict:
    return {"back": {"label": t("back")}, "page_prev": {"label": t("page_prev")}, "page_next": {"label": t("page_next")}}


def band(surface, f: Frame, rect: pygame.Rect, fill, words: str, px: int, lead: str = "") -> None:
    """A filled strip with a warning triangle and black words: a warning that is not colour alone.
    *lead* (a countdown that changes every second) is drawn as its own piece before *words*, so
    only the short part is rendered anew each second."""
    m = f.m
    pygame.draw.rect(surface, fill, rect, border_radius=m.u(6))
    icon = pygame.Rect(rect.x + m.u(6), rect.y + m.u(4), rect.height - m.u(8), rect.height - m.u(8))
    draw.warning(surface, icon, theme.BLACK, fill)
    area = pygame.Rect(icon.right + m.u(8), rect.y, rect.right - icon.right - m.u(12), rect.height)
    if lead:
        # One size for both parts, from the longest the lead can be, so the words never shift.
        size = f.fonts.fit(f"{t('warning_change', seconds=88)} · {words}", m.u(px), area.width, bold=True)
        shown = draw.text(surface, f.fonts, f"{lead} · ", area, size, theme.BLACK, bold=True, align="left")
        area = pygame.Rect(shown.right, rect.y, area.right - shown.right, rect.height)
        draw.text(surface, f.fonts, words, area, size, theme.BLACK, bold=True, align="left")
        return
    draw.text(surface, f.fonts, words, area, m.u(px), theme.BLACK, bold=True, align="left")


def direction_word(direction: str) -> str:
    return t("dir_backward") if direction == "backward" else t("dir_forward")


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


# --- the scenes --------------------------------------------------------------------------------


class Scene:
    name = ""
    background = theme.BLACK

    def layout(self, f: Frame) -> Page:
        return Page()

    def draw(self, surface: pygame.Surface, f: Frame, page: Page) -> None:
        pass

    # Shared painting ------------------------------------------------------------------------
    def paint_targets(self, surface, f: Frame, page: Page, styles: dict[str, dict] | None = None):
        styles = styles or {}
        for target in page.targets:
            style = styles.get(target.name, {})
            draw.button(surface, f.fonts, f.m, target.rect, style.get("label", ""),
                        fill=style.get("fill", theme.BUTTON), colour=style.get("colour", theme.WHITE),
                        enabled=target.enabled, pressed=f.pressed == target.name,
                        selected=style.get("selected", False), px=style.get("px"))

    def title(self, surface, f: Frame, words: str, rect: pygame.Rect, colour=theme.WHITE, px=44):
        draw.text(surface, f.fonts, words, rect, f.m.u(px), colour, bold=True, align="left")


def status_strip(surface, f: Frame, rect: pygame.Rect, with_link: bool = True) -> None:
    """Rails, lanyard and link as icon + word chips: the three facts safety depends on."""
    v, m = f.view, f.m
    chips = []
    if v.rails_held:
        chips.append((t("rails_label"), t("rails_held"), True))
    elif not v.rails_required and v.screen is Screen.RUNNING:
        chips.append((t("rails_label"), t("rails_optional"), None))
    else:
        chips.append((t("rails_label"), t("rails_grace") if v.rails_grace else t("rails_released"), False))
    chips.append((t("lanyard_label"), t("lanyard_clipped") if v.lanyard_clipped else t("lanyard_pulled"),
                  v.lanyard_clipped))
    if with_link and v.link != "none":
        chips.append((t("link_label"), t("link_up") if v.link == "up" else t("link_down"), v.link == "up"))
    width = min(m.u(210), (rect.width - m.gap * 3) // 3)
    for i, (label, word, ok) in enumerate(chips):
        chip = pygame.Rect(rect.x + i * (width + m.gap), rect.y, width, rect.height)
        draw.status_chip(surface, f.fonts, m, chip, label, word, ok)


class Home(Scene):
    name = "home"

    def areas(self, m: Metrics):
        top = pygame.Rect(m.pad, m.pad, m.screen.width - 2 * m.pad, m.touch)
        cards = pygame.Rect(m.pad, top.bottom + m.gap * 2, top.width, m.screen.bottom - top.bottom - m.gap * 2 - m.pad)
        return top, cards

    def layout(self, f: Frame) -> Page:
        m, ui = f.m, f.ui
        page = Page()
        top, cards = self.areas(m)
        buttons = pygame.Rect(top.right - min(top.width * 0.66, m.u(560)), top.y, min(top.width * 0.66, m.u(560)), top.height)
        member_r, history_r, staff_r = columns(buttons, 3, m.gap)
        page.rects["title"] = pygame.Rect(top.x, top.y, buttons.x - top.x - m.gap, top.height)
        if ui.export.state in ("detected", "done", "error", "exporting"):
            page.add("stick", page.rects["title"], Intent("open", "export"))
        page.add("member", member_r, Intent("open", "members"))
        page.add("history", history_r, Intent("open", "history"))
        page.add("staff", staff_r, Intent("open_pin", "staff"))
        page.rects["cards"] = cards
        add_paged_grid(page, cards, m, list(ui.programs), ui.page, m.u(240), m.u(160),
                       lambda program: f"program:{program.id}", lambda program: Intent("choose_program", program))
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, fonts, ui = f.m, f.fonts, f.ui
        member = ui.member.name if ui.member else t("home_guest")
        styles = {
            **paging_styles(),
            "member": {"label": t("home_member", name=member), "px": m.u(24)},
            "history": {"label": t("home_history"), "px": m.u(24)},
            "staff": {"label": t("home_staff"), "px": m.u(24), "fill": theme.PANEL},
            "stick": {"label": t("home_stick"), "fill": theme.BLUE, "colour": theme.BLACK, "px": m.u(24)},
        }
        self.paint_targets(surface, f, page, styles)
        if "stick" not in page.rects:
            self.title(surface, f, t("home_title"), page.rects["title"], px=40)
        if not ui.programs:
            draw.paragraph(surface, fonts, t("home_no_programs"), page.rects["cards"], m.u(32), theme.YELLOW)
        for target in page.targets:
            if target.intent.kind == "choose_program":
                self.card(surface, f, target.rect, target.intent.arg, f.pressed == target.name)

    def card(self, surface, f: Frame, rect: pygame.Rect, program: Program, pressed: bool):
        key = ("card", id(f.fonts), f.m.scale, program.id, program.name, program.total_seconds, program.audience,
               program.description, pressed)
        draw.tile(surface, rect, key, lambda image, local: self._paint_card(image, f, local, program, pressed))

    def _paint_card(self, surface, f: Frame, rect: pygame.Rect, program: Program, pressed: bool):
        m, fonts = f.m, f.fonts
        pygame.draw.rect(surface, theme.BUTTON_PRESSED if pressed else theme.PANEL, rect, border_radius=m.u(14))
        pygame.draw.rect(surface, theme.WHITE, rect, width=m.u(2), border_radius=m.u(14))
        inner = rect.inflate(-m.u(20), -m.u(14))
        minutes = max(1, round(program.total_seconds / 60))
        name_h = round(inner.height * 0.42)
        draw.paragraph(surface, fonts, program.name, pygame.Rect(inner.x, inner.y, inner.width, name_h), m.u(28),
                       theme.WHITE, bold=True)
        draw.text(surface, fonts, t("card_minutes", minutes=minutes),
                  pygame.Rect(inner.x, inner.y + name_h, inner.width, round(inner.height * 0.26)), m.u(34),
                  theme.YELLOW, bold=True, align="left")
        who = program.audience or (program.description.split(".")[0] if program.description else t("card_for_everyone"))
        draw.paragraph(surface, fonts, who, pygame.Rect(inner.x, inner.y + round(inner.height * 0.68), inner.width,
                                                         round(inner.height * 0.32)), m.u(18), theme.GREY)


class Members(Scene):
    name = "members"

    def layout(self, f: Frame) -> Page:
        page, body = titled_page(f.m, Intent("close"))
        add_paged_grid(page, body, f.m, [None, *f.ui.members], f.ui.page, f.m.u(240), f.m.touch,
                       lambda member: f"member:{member.id if member else 'guest'}",
                       lambda member: Intent("member", member))
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        styles = paging_styles()
        for target in page.targets:
            if target.intent.kind == "member":
                member = target.intent.arg
                current = f.ui.member
                styles[target.name] = {"label": member.name if member else t("home_guest"),
                                       "selected": (member.id if member else None) == (current.id if current else None)}
        self.title(surface, f, t("member_title"), page.rects["title"])
        self.paint_targets(surface, f, page, styles)


class Preflight(Scene):
    name = "preflight"

    def layout(self, f: Frame) -> Page:
        m, v = f.m, f.view
        page = Page()
        page.rects["title"] = pygame.Rect(m.pad, m.pad, m.screen.width - 2 * m.pad, m.u(48))
        page.rects["plan"] = pygame.Rect(m.pad, page.rects["title"].bottom, page.rects["title"].width, m.u(32))
        bar = bottom_bar(m)
        back, pain, start = columns(bar, 3, m.gap)
        page.add("back", back, Intent("home"))
        page.add("pain_before", pain, Intent("open", "pain_before"))
        page.add("start", start, Intent("start"), enabled=v.start_enabled)
        checks = pygame.Rect(m.pad, page.rects["plan"].bottom + m.gap, bar.width, bar.y - page.rects["plan"].bottom - 2 * m.gap)
        n = max(1, len(v.checks))
        row_h = min(m.u(64), checks.height // n)
        for i, check in enumerate(v.checks):
            page.rects[check.key] = pygame.Rect(checks.x, checks.y + i * row_h, checks.width, row_h - m.u(4))
        page.rects["checks"] = checks
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, fonts, v = f.m, f.fonts, f.view
        self.title(surface, f, v.program_name or t("preflight_title"), page.rects["title"], px=40)
        if v.phase:
            plan = t("preflight_plan", minutes=max(1, round(v.session_total_s / 60)), phases=v.phases_total,
                     speed=fmt(v.phase.speed), unit=v.unit_label, direction=t("direction_" + v.phase.direction))
            draw.text(surface, fonts, plan, page.rects["plan"], m.u(24), theme.GREY, align="left")
        for check in v.checks:
            row = page.rects[check.key]
            pygame.draw.rect(surface, theme.PANEL, row, border_radius=m.u(8))
            icon = pygame.Rect(row.x + m.u(6), row.y, row.height, row.height).inflate(-m.u(8), -m.u(8))
            ok = None if not check.live else check.ok
            draw.state_icon(surface, m, icon, ok)
            word = t("check_look") if ok is None else (t("check_ok") if ok else t("check_missing"))
            state_r = pygame.Rect(row.right - m.u(130), row.y, m.u(120), row.height)
            draw.text(surface, fonts, word, state_r, m.u(26), theme.RED_BRIGHT if ok is False else theme.WHITE,
                      bold=True, align="right")
            label = pygame.Rect(icon.right + m.u(12), row.y, state_r.x - icon.right - m.u(16), row.height)
            draw.text(surface, fonts, t(check.key), label, m.u(28), theme.WHITE, align="left")
        score = f.ui.pain_before
        self.paint_targets(surface, f, page, {
            "back": {"label": t("back")},
            "pain_before": {"label": t("pain_before_none") if score is None else t("pain_before", score=score),
                            "px": m.u(30)},
            "start": {"label": t("start"), "fill": theme.GREEN, "colour": theme.BLACK, "px": m.u(40)},
        })


class PainBefore(Scene):
    name = "pain_before"

    def layout(self, f: Frame) -> Page:
        page, body = titled_page(f.m, Intent("close"))
        pain_scale(page, body, f.m, "pain_before")
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        self.title(surface, f, t("pain_before_title"), page.rects["title"], px=36)
        self.paint_targets(surface, f, page, pain_styles(f, f.ui.pain_before, {"back": {"label": t("back")}}))


def pain_scale(page: Page, area: pygame.Rect, m: Metrics, kind: str) -> None:
    """0..10 as eleven big buttons, in as few rows as the width allows."""
    fit = max(1, min(11, (area.width + m.gap) // (m.touch + m.gap)))
    rows = math.ceil(11 / fit)
    cols = math.ceil(11 / rows)  # balanced rows: 6 + 5 reads better than 7 + 4
    cell_w = (area.width - m.gap * (cols - 1)) // cols
    cell_h = max(m.touch, min(m.u(120), (area.height - m.gap * (rows - 1)) // rows))
    for score in range(11):
        r, c = divmod(score, cols)
        rect = pygame.Rect(area.x + c * (cell_w + m.gap), area.y + r * (cell_h + m.gap), cell_w, cell_h)
        page.add(f"{kind}:{score}", rect, Intent(kind, score))


def pain_styles(f: Frame, chosen: int | None, extra: dict) -> dict:
    styles = dict(extra)
    for score in range(11):
        # Greener to redder along the scale, with the number always on the button.
        mix = score / 10
        fill = (round(40 + 180 * mix), round(150 - 110 * mix), 60)
        for kind in ("pain_before", "pain_after"):
            styles[f"{kind}:{score}"] = {"label": str(score), "fill": fill, "selected": chosen == score,
                                         "px": f.m.u(36)}
    return styles


class Countdown(Scene):
    """Start and resume countdowns: the belt is still; Pause and Stop are there all the same."""

    name = "countdown"

    def layout(self, f: Frame) -> Page:
        m = f.m
        page = Page()
        bar = action_bar(page, m, ("pause", "stop"))
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


def action_bar(page: Page, m: Metrics, names: tuple[str, ...]) -> pygame.Rect:
    """Equal buttons along the bottom, each a core intent of the same name (pause, pain, stop)."""
    bar = bottom_bar(m)
    for name, cell in zip(names, columns(bar, len(names), m.gap)):
        page.add(name, cell, Intent(name))
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
        bar = action_bar(page, m, ("pause", "pain", "stop"))
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


class FullScreenNotice(Scene):
    """The pattern of every stopped state: one colour field, a huge title with an icon, what
    happened, what to do, the live sensor facts, and the one or two buttons that apply."""

    background = theme.BLACK
    ink = theme.WHITE
    title_key = ""

    def buttons(self, f: Frame) -> list[tuple[str, Intent, bool]]:
        return [("stop", Intent("stop"), True)]

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
        return [(t("rails_hint"), 30, False)]

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
        return [(t("turn_hint", direction=direction), 32, False)]

    def extra(self, surface, f, page):
        hold_bar(surface, f, page, self.ink)


class LinkLost(FullScreenNotice):
    name = "paused_link"
    background = theme.AMBER
    ink = theme.BLACK
    title_key = "link_title"

    def buttons(self, f):
        return [("stop", Intent("stop"), True), ("resume", Intent("resume"), f.view.link != "down")]

    def lines(self, f):
        todo = t("link_back") if f.view.link != "down" else t("link_todo")
        return [(t("link_hint"), 30, False), (todo, 30, True)]


class PausedUser(FullScreenNotice):
    """Paused by a tap, or by the core for a suspected sensor fault (the same screen, other words)."""

    name = "paused_user"
    background = theme.PANEL
    ink = theme.WHITE
    title_key = "paused_title"

    def buttons(self, f):
        return [("stop", Intent("stop"), True), ("resume", Intent("resume"), True)]

    def lines(self, f):
        if f.view.pause_reason == "sensor fault":
            return [(t("sensor_title"), 40, True), (t("sensor_hint"), 26, False)]
        return [(t("paused_hint"), 32, False)]


class EStop(FullScreenNotice):
    name = "estop"
    background = theme.RED
    ink = theme.WHITE
    title_key = "estop_title"

    def buttons(self, f):
        return [("confirm", Intent("confirm"), f.view.lanyard_clipped)]

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
        return [("confirm", Intent("confirm"), f.view.lanyard_clipped)]

    def lines(self, f):
        return [(t("fault_what"), 32, True), (t("fault_detail", detail=f.view.fault), 22, False)]

    def styles(self, f):
        label = t("fault_confirm") if f.view.lanyard_clipped else t("estop_clip_first")
        return {"confirm": {"label": label, "fill": theme.WHITE, "colour": theme.BLACK, "px": f.m.u(32)}}


class Cooldown(FullScreenNotice):
    name = "cooldown"
    background = theme.BLACK
    ink = theme.WHITE
    title_key = "cooldown_title"

    def buttons(self, f):
        return [("belt_stopped", Intent("stop"), True)]

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
                page.add(f"pain_after:{slot}", rect, Intent("pain_after", slot))
            else:
                page.add("done", rect, Intent("home"))
        left = pygame.Rect(body.x, body.y, right.x - body.x - m.u(16), body.height)
        page.rects["stats"] = pygame.Rect(left.x, left.y, left.width, m.u(114))
        history = pygame.Rect(left.x, left.bottom - m.touch, min(left.width, m.u(240)), m.touch)
        page.add("history", history, Intent("open", "history"))
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
            "done": {"label": t("summary_done"), "fill": theme.GREEN, "colour": theme.BLACK, "px": m.u(30)},
            "history": {"label": t("home_history"), "px": m.u(30)}}))

    def chart(self, surface, f: Frame, rect: pygame.Rect):
        m, v, samples = f.m, f.view, f.ui.samples
        title = pygame.Rect(rect.x, rect.y, rect.width, m.u(26))
        draw.text(surface, f.fonts, t("summary_chart", unit=v.unit_label), title, m.u(18), theme.GREY, align="left")
        plot = pygame.Rect(rect.x, title.bottom, rect.width, rect.height - title.height - m.u(24))
        if len(samples) < 2:
            pygame.draw.rect(surface, theme.PANEL, plot, border_radius=m.u(6))
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
        pygame.draw.line(surface, theme.CYAN, (half[0].x, half[0].centery), (half[0].x + m.u(30), half[0].centery), m.u(4))
        draw.text(surface, f.fonts, f"{t('legend_speed')} ({v.unit_label})", half[0].move(m.u(36), 0), m.u(18),
                  theme.WHITE, align="left")
        for x in range(half[1].x, half[1].x + m.u(30), m.u(10)):
            pygame.draw.line(surface, theme.YELLOW, (x, half[1].centery), (x + m.u(5), half[1].centery), m.u(4))
        draw.text(surface, f.fonts, f"{t('legend_incline')} (%)", half[1].move(m.u(36), 0), m.u(18), theme.WHITE,
                  align="left")


def format_distance(metres: float | None, units: str) -> str:
    if metres is None:
        return "–"
    if units == "mph":
        return f"{metres / 1609.344:.2f} mi"
    return f"{metres / 1000:.2f} km"


class History(Scene):
    name = "history"

    def layout(self, f: Frame) -> Page:
        m = f.m
        page, body = titled_page(m, Intent("close"))
        list_w = round(body.width * 0.52)
        page.rects["list"] = pygame.Rect(body.x, body.y, list_w, body.height)
        right = pygame.Rect(body.x + list_w + m.u(16), body.y, body.width - list_w - m.u(16), body.height)
        page.rects["top_speed"] = pygame.Rect(right.x, right.y, right.width, m.u(40))
        page.rects["chart"] = pygame.Rect(right.x, page.rects["top_speed"].bottom + m.gap, right.width,
                                          right.bottom - page.rects["top_speed"].bottom - m.gap)
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, fonts, ui = f.m, f.fonts, f.ui
        name = ui.member.name if ui.member else t("history_everyone")
        self.title(surface, f, t("history_title", name=name), page.rects["title"], px=36)
        sessions = sorted(ui.history, key=lambda r: r.started_at, reverse=True)
        box = page.rects["list"]
        if not sessions:
            draw.text(surface, fonts, t("history_empty"), box, m.u(28), theme.GREY)
        draw.rows(surface, fonts, m, box, [
            t("history_row", date=time.strftime("%d %b", time.localtime(record.started_at)), program=record.program,
              minutes=max(0, round(record.active_seconds / 60)), status=t(f"status_{record.status}"))
            for record in sessions], m.u(22))
        top = max((r.top_speed for r in sessions), default=0.0)
        units = sessions[0].units if sessions else "mph"
        draw.text(surface, fonts, t("history_top_speed", speed=fmt(top), unit=unit_label(units)), page.rects["top_speed"],
                  m.u(28), theme.YELLOW, bold=True, align="left")
        chart = page.rects["chart"]
        title = pygame.Rect(chart.x, chart.y, chart.width, m.u(26))
        draw.text(surface, fonts, t("history_week_chart"), title, m.u(20), theme.GREY, align="left")
        weeks = minutes_per_week(sessions, f.wall)
        labels = [f"-{len(weeks) - 1 - i}" if i < len(weeks) - 1 else "now" for i in range(len(weeks))]
        draw.bar_chart(surface, fonts, m, pygame.Rect(chart.x, title.bottom, chart.width, chart.height - title.height),
                       weeks, labels)
        self.paint_targets(surface, f, page, {"back": {"label": t("back")}})


class Export(Scene):
    name = "export"

    def layout(self, f: Frame) -> Page:
        m = f.m
        page = Page()
        bar = bottom_bar(m)
        back, _, action = columns(bar, 3, m.gap)
        page.add("back", back, Intent("close"), enabled=f.ui.export.state != "exporting")
        state = f.ui.export.state
        if state == "detected":
            page.add("export_start", pygame.Rect(action.x - bar.width // 6, action.y, action.width + bar.width // 6,
                                                 action.height), Intent("export_start"))
        elif state in ("done", "error"):
            page.add("export_ok", action, Intent("export_dismiss"))
        page.rects["title"] = pygame.Rect(m.pad, m.pad, bar.width, m.u(50))
        page.rects["body"] = pygame.Rect(m.pad, page.rects["title"].bottom + m.u(20), bar.width,
                                         bar.y - page.rects["title"].bottom - m.u(40))
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, fonts, status = f.m, f.fonts, f.ui.export
        self.title(surface, f, t("export_title"), page.rects["title"], px=36)
        body = page.rects["body"]
        state = status.state
        big = pygame.Rect(body.x, body.y, body.width, m.u(60))
        if state == "no_stick":
            draw.paragraph(surface, fonts, t("export_no_stick"), body, m.u(34), theme.WHITE)
        elif state == "detected":
            draw.text(surface, fonts, t("export_detected", name=status.stick or "USB"), big, m.u(36), theme.WHITE,
                      bold=True, align="left")
        elif state == "exporting":
            draw.text(surface, fonts, t("export_running", percent=round(status.progress * 100)), big, m.u(40),
                      theme.WHITE, bold=True, align="left")
            draw.bar(surface, m, pygame.Rect(body.x, big.bottom + m.u(20), body.width, m.u(40)), status.progress,
                     theme.CYAN)
        elif state == "done":
            icon = pygame.Rect(body.x, body.y, m.u(70), m.u(70))
            draw.state_icon(surface, m, icon, True)
            draw.paragraph(surface, fonts, t("export_done"), pygame.Rect(icon.right + m.u(16), body.y,
                                                                         body.width - icon.width - m.u(16), m.u(120)),
                           m.u(38), theme.WHITE, bold=True)
            draw.text(surface, fonts, t("export_done_count", count=status.sessions),
                      pygame.Rect(body.x, body.y + m.u(130), body.width, m.u(40)), m.u(28), theme.GREY, align="left")
        else:
            icon = pygame.Rect(body.x, body.y, m.u(70), m.u(70))
            draw.state_icon(surface, m, icon, False)
            draw.text(surface, fonts, t("export_error"), pygame.Rect(icon.right + m.u(16), body.y, body.width, m.u(70)),
                      m.u(40), theme.RED_BRIGHT, bold=True, align="left")
            key = f"export_error_{status.error}" if status.error else "export_error_other"
            y = draw.paragraph(surface, fonts, t(key), pygame.Rect(body.x, icon.bottom + m.u(16), body.width, m.u(100)),
                               m.u(32), theme.WHITE)
            if status.detail:
                draw.paragraph(surface, fonts, status.detail, pygame.Rect(body.x, y + m.u(8), body.width, m.u(60)),
                               m.u(20), theme.GREY)
        self.paint_targets(surface, f, page, {
            "back": {"label": t("back")},
            "export_start": {"label": t("export_start"), "fill": theme.GREEN, "colour": theme.BLACK},
            "export_ok": {"label": t("ok")}})


class Pin(Scene):
    name = "pin"

    def layout(self, f: Frame) -> Page:
        m = f.m
        page = Page()
        screen = m.screen.inflate(-2 * m.pad, -2 * m.pad)
        key = min(m.u(120), (screen.height - 3 * m.gap) // 4)
        key = max(key, m.touch)
        pad_w = 3 * round(key * 1.2) + 2 * m.gap
        keypad = pygame.Rect(screen.right - pad_w, screen.y, pad_w, 4 * key + 3 * m.gap)
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "clear", "0", "ok"]
        cell_w = round(key * 1.2)
        for i, k in enumerate(keys):
            r, c = divmod(i, 3)
            rect = pygame.Rect(keypad.x + c * (cell_w + m.gap), keypad.y + r * (key + m.gap), cell_w, key)
            if k == "clear":
                page.add("pin_clear", rect, Intent("pin_clear"))
            elif k == "ok":
                page.add("pin_ok", rect, Intent("pin_ok"))
            else:
                page.add(f"pin:{k}", rect, Intent("pin_digit", k))
        left = pygame.Rect(screen.x, screen.y, keypad.x - screen.x - m.u(20), screen.height)
        page.rects["title"] = pygame.Rect(left.x, left.y, left.width, m.u(60))
        page.rects["dots"] = pygame.Rect(left.x, page.rects["title"].bottom + m.u(20), left.width, m.u(60))
        page.rects["message"] = pygame.Rect(left.x, page.rects["dots"].bottom + m.u(10), left.width, m.u(40))
        page.add("pin_cancel", pygame.Rect(left.x, left.bottom - m.touch, left.width, m.touch), Intent("close"))
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, pin = f.m, f.ui.pin
        self.title(surface, f, t("pin_title"), page.rects["title"])
        dots = page.rects["dots"]
        r = m.u(14)
        for i in range(max(4, len(pin.digits))):
            centre = (dots.x + r + i * r * 3, dots.centery)
            if i < len(pin.digits):
                pygame.draw.circle(surface, theme.WHITE, centre, r)
            else:
                pygame.draw.circle(surface, theme.GREY, centre, r, max(2, m.u(3)))
        message = ""
        if pin.locked(f.now):
            message = t("pin_locked", seconds=math.ceil(pin.locked_until - f.now))
        elif pin.message:
            message = t(pin.message)
        draw.text(surface, f.fonts, message, page.rects["message"], m.u(28), theme.RED_BRIGHT, bold=True, align="left")
        styles = {f"pin:{d}": {"label": d, "px": m.u(44)} for d in "0123456789"}
        styles["pin_clear"] = {"label": t("pin_clear"), "px": m.u(26)}
        styles["pin_ok"] = {"label": t("ok"), "fill": theme.GREEN, "colour": theme.BLACK, "px": m.u(36)}
        styles["pin_cancel"] = {"label": t("pin_cancel")}
        self.paint_targets(surface, f, page, styles)


class Staff(Scene):
    name = "staff"
    ITEMS = (("sensors", "staff_sensors"), ("programs", "staff_programs"), ("export", "staff_export"),
             ("settings", "staff_settings"), ("exit", "staff_exit"), ("lock", "staff_lock"))

    def layout(self, f: Frame) -> Page:
        m = f.m
        page, _ = titled_page(m, None)
        area = pygame.Rect(m.pad, page.rects["title"].bottom + m.gap, page.rects["title"].width,
                           m.screen.bottom - page.rects["title"].bottom - m.gap - m.pad)
        cells = grid(area, len(self.ITEMS), m, m.u(240), m.touch, max_cols=3)
        for (name, _), cell in zip(self.ITEMS, cells):
            intent = {"exit": Intent("exit"), "lock": Intent("close")}.get(name, Intent("open", name))
            page.add(name, cell, intent)
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        self.title(surface, f, t("staff_title"), page.rects["title"])
        styles = {name: {"label": t(key)} for name, key in self.ITEMS}
        styles["exit"]["fill"] = theme.RED
        self.paint_targets(surface, f, page, styles)


class StaffPage(Scene):
    """A staff sub-page: a title, a body drawn by :meth:`body`, a Back button."""

    title_key = ""

    def layout(self, f: Frame) -> Page:
        page, _ = titled_page(f.m, Intent("open", "staff"))
        self.more(page, f)
        return page

    def more(self, page: Page, f: Frame) -> None:
        pass

    def draw(self, surface, f: Frame, page: Page) -> None:
        self.title(surface, f, t(self.title_key), page.rects["title"])
        self.body(surface, f, page)
        self.paint_targets(surface, f, page, {**{"back": {"label": t("back")}}, **self.styles(f)})

    def body(self, surface, f: Frame, page: Page) -> None:
        pass

    def styles(self, f: Frame) -> dict:
        return {}


class Sensors(StaffPage):
    name = "sensors"
    title_key = "sensors_title"

    def body(self, surface, f, page):
        m, v = f.m, f.view
        body = page.rects["body"]
        rows = [
            (t("lanyard_label"), t("lanyard_clipped") if v.lanyard_clipped else t("lanyard_pulled"), v.lanyard_clipped),
            (t("rails_label"), t("rails_held") if v.rails_held else t("rails_released"), v.rails_held),
            (t("link_label"), t(f"link_{v.link}"), None if v.link == "none" else v.link == "up"),
            (t("sensor_belt"), t("sensor_unknown") if v.actual_speed is None else f"{fmt(v.actual_speed)} {v.unit_label}",
             None),
        ]
        row_h = min(m.u(70), body.height // len(rows))
        for i, (label, word, ok) in enumerate(rows):
            draw.status_chip(surface, f.fonts, m, pygame.Rect(body.x, body.y + i * row_h, body.width, row_h - m.u(8)),
                             label + ":", word, ok)


class Programs(StaffPage):
    name = "programs"
    title_key = "programs_title"

    def body(self, surface, f, page):
        m = f.m
        body = page.rects["body"]
        draw.rows(surface, f.fonts, m, body, [
            t("program_row", name=program.name, minutes=max(1, round(program.total_seconds / 60)),
              phases=len(program.phases), id=program.id) for program in f.ui.programs], m.u(24))


class Settings(StaffPage):
    name = "settings"
    title_key = "settings_title"

    def more(self, page, f):
        m = f.m
        body = page.rects["body"]
        sound, speech = columns(pygame.Rect(body.x, body.y, body.width, m.touch), 2, m.gap)
        page.add("sound", sound, Intent("toggle", "sound"))
        page.add("speech", speech, Intent("toggle", "speech"))

    def body(self, surface, f, page):
        m = f.m
        body = page.rects["body"]
        y = body.y + m.touch + m.u(20)
        for words in (t("setting_screen", width=m.size[0], height=m.size[1]),
                      t("setting_config", source=f.ui.config_source or "(defaults)")):
            draw.text(surface, f.fonts, words, pygame.Rect(body.x, y, body.width, m.u(36)), m.u(24), theme.GREY,
                      align="left")
            y += m.u(40)

    def styles(self, f):
        on, off = t("setting_on"), t("setting_off")
        return {"sound": {"label": t("setting_sound", state=on if f.ui.sound_on else off), "selected": f.ui.sound_on},
                "speech": {"label": t("setting_speech", state=on if f.ui.speech_on else off),
                           "selected": f.ui.speech_on}}


class Service(Scene):
    """The station cannot run (a broken config): what is wrong and who fixes it, in place of home.
    The words come from the station's own check (app.shell.resilience), already in plain words."""

    name = "service"

    def layout(self, f: Frame) -> Page:
        page, body = titled_page(f.m, None)
        bar = bottom_bar(f.m)
        page.add("staff", pygame.Rect(bar.right - bar.width // 3, bar.y, bar.width // 3, bar.height),
                 Intent("open_pin", "staff"))
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m = f.m
        title, messages, hint = f.ui.service or (t("fault_title"), (), "")
        title_r = page.rects["title"]
        icon = pygame.Rect(title_r.x, title_r.y, title_r.height, title_r.height).inflate(-m.u(8), -m.u(8))
        draw.warning(surface, icon, theme.YELLOW, theme.BLACK)
        self.title(surface, f, title, pygame.Rect(icon.right + m.u(12), title_r.y, title_r.right - icon.right - m.u(12),
                                                  title_r.height), theme.YELLOW)
        body = page.rects["body"]
        hint_h = m.u(70) if hint else 0
        y, bottom = body.y, body.bottom - hint_h
        for message in messages:  # wrapped, so a long path stays readable; the rest in the log
            if bottom - y < m.u(24):
                break
            y = draw.paragraph(surface, f.fonts, message, pygame.Rect(body.x, y, body.width, bottom - y), m.u(24),
                               theme.WHITE) + m.u(6)
        if hint:
            draw.paragraph(surface, f.fonts, hint, pygame.Rect(body.x, body.bottom - hint_h, body.width, hint_h),
                           m.u(22), theme.GREY)
        self.paint_targets(surface, f, page, {"staff": {"label": t("home_staff")}})


#: The scene for every core screen. RESUMING shares the countdown's scene.
SCREEN_SCENES: dict[Screen, Scene] = {
    Screen.HOME: Home(),
    Screen.PREFLIGHT: Preflight(),
    Screen.COUNTDOWN: Countdown(),
    Screen.RESUMING: Countdown(),
    Screen.RUNNING: Running(),
    Screen.PAUSED_RAILS: HoldRails(),
    Screen.PAUSED_LINK: LinkLost(),
    Screen.PAUSED_USER: PausedUser(),
    Screen.TURNAROUND: Turnaround(),
    Screen.ESTOP: EStop(),
    Screen.COOLDOWN: Cooldown(),
    Screen.SUMMARY: Summary(),
    Screen.FAULT: Fault(),
}
#: UI-only scenes, reached from home (and the summary, for history).
OVERLAY_SCENES: dict[str, Scene] = {s.name: s for s in (
    Members(), History(), Export(), Pin(), Staff(), Sensors(), Programs(), Settings(), PainBefore(), Service())}
