"""Before a session: choosing a program and a walker, the pre-flight checklist, the pain score."""

from __future__ import annotations

import math

import pygame

from app.core.program import Program

from .. import draw, theme
from ..text import t
from ..theme import Metrics
from .base import (Frame, Intent, IntentKind, Overlay, Page, Scene, add_paged_grid, bottom_bar, columns, fmt,
                   paging_styles, titled_page)


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
            page.add("stick", page.rects["title"], Intent(IntentKind.OPEN, Overlay.EXPORT))
        page.add("member", member_r, Intent(IntentKind.OPEN, Overlay.MEMBERS))
        page.add("history", history_r, Intent(IntentKind.OPEN, Overlay.HISTORY))
        page.add("staff", staff_r, Intent(IntentKind.OPEN_PIN, Overlay.STAFF))
        page.rects["cards"] = cards
        add_paged_grid(page, cards, m, home_programs(ui), ui.page, m.u(240), m.u(160),
                       lambda program: f"program:{program.id}",
                       lambda program: Intent(IntentKind.CHOOSE_PROGRAM, program))
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
        # A program's target is its card (below), whose tile holds the button beneath it too.
        self.paint_targets(surface, f, page, styles,
                           [tg for tg in page.targets if tg.intent.kind is not IntentKind.CHOOSE_PROGRAM])
        if "stick" not in page.rects:
            self.title(surface, f, t("home_title"), page.rects["title"], px=40)
        if not page.rects["cards"] or not any(tg.intent.kind is IntentKind.CHOOSE_PROGRAM for tg in page.targets):
            draw.paragraph(surface, fonts, t("home_no_programs"), page.rects["cards"], m.u(32), theme.YELLOW)
        for target in page.targets:
            if target.intent.kind is IntentKind.CHOOSE_PROGRAM:
                program = target.intent.arg
                prescribed = (t("home_prescribed", name=ui.member.name)
                              if ui.member is not None and ui.member_program is not None
                              and program.id == ui.member_program.id else "")
                self.card(surface, f, target.rect, program, f.pressed == target.name, prescribed, target.enabled)

    def card(self, surface, f: Frame, rect: pygame.Rect, program: Program, pressed: bool, prescribed: str = "",
             enabled: bool = True):
        key = ("card", id(f.fonts), f.m.scale, program.id, program.name, program.total_seconds, program.audience,
               program.description, pressed, prescribed, enabled)
        # The button (painted first) shows only in the card's corners, the card's radius being the
        # larger: those corners are the tile's see-through ones.
        draw.tile(surface, rect, key, lambda image, local: self._paint_card(image, f, local, program, pressed,
                                                                            prescribed, enabled),
                  corner=f.m.u(draw.BUTTON_RADIUS))

    def _paint_card(self, surface, f: Frame, rect: pygame.Rect, program: Program, pressed: bool, prescribed: str,
                    enabled: bool):
        m, fonts = f.m, f.fonts
        # The target's own button, as paint_targets draws every other target: blank, under the card.
        draw.paint_button(surface, fonts, m, rect, "", theme.BUTTON, theme.WHITE, enabled, pressed, False, m.u(30))
        pygame.draw.rect(surface, theme.BUTTON_PRESSED if pressed else theme.PANEL, rect, border_radius=m.u(14))
        pygame.draw.rect(surface, theme.YELLOW if prescribed else theme.WHITE, rect,
                         width=m.u(4) if prescribed else m.u(2), border_radius=m.u(14))
        inner = rect.inflate(-m.u(20), -m.u(14))
        minutes = max(1, round(program.total_seconds / 60))
        name_h = round(inner.height * 0.42)
        draw.paragraph(surface, fonts, program.name, pygame.Rect(inner.x, inner.y, inner.width, name_h), m.u(28),
                       theme.WHITE, bold=True)
        draw.text(surface, fonts, t("card_minutes", minutes=minutes),
                  pygame.Rect(inner.x, inner.y + name_h, inner.width, round(inner.height * 0.26)), m.u(34),
                  theme.YELLOW, bold=True, align="left")
        who = prescribed or program.audience or (program.description.split(".")[0] if program.description
                                                 else t("card_for_everyone"))
        draw.paragraph(surface, fonts, who, pygame.Rect(inner.x, inner.y + round(inner.height * 0.68), inner.width,
                                                         round(inner.height * 0.32)), m.u(18),
                       theme.YELLOW if prescribed else theme.GREY, bold=bool(prescribed))


def home_programs(ui) -> list[Program]:
    """The library's programs; a chosen member's prescribed program first."""
    programs = list(ui.programs)
    mine = ui.member_program if ui.member is not None else None
    if mine is None:
        return programs
    return [mine, *[p for p in programs if p.id != mine.id]]


class Members(Scene):
    name = "members"

    def layout(self, f: Frame) -> Page:
        page, body = titled_page(f.m, Intent(IntentKind.CLOSE))
        bar = bottom_bar(f.m)
        page.add("search", pygame.Rect(bar.right - bar.width // 3, bar.y, bar.width // 3, bar.height),
                 Intent(IntentKind.OPEN, Overlay.MEMBER_SEARCH))
        add_paged_grid(page, body, f.m, [None, *f.ui.members], f.ui.page, f.m.u(240), f.m.touch,
                       lambda member: f"member:{member.id if member else 'guest'}",
                       lambda member: Intent(IntentKind.MEMBER, member))
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        styles = paging_styles()
        for target in page.targets:
            if target.intent.kind is IntentKind.MEMBER:
                member = target.intent.arg
                current = f.ui.member
                styles[target.name] = {"label": member.name if member else t("home_guest"),
                                       "selected": (member.id if member else None) == (current.id if current else None)}
        styles["search"] = {"label": t("member_search")}
        self.title(surface, f, t("member_title"), page.rects["title"])
        self.paint_targets(surface, f, page, styles)


#: The search pad's pages: 12 keys each; "<" deletes, ">" shows the next page.
SEARCH_PAGES = ("1234567890<>", "ABCDEFGHIJ<>", "KLMNOPQRST<>", "UVWXYZ-<>")
SEARCH_PAGE_LABELS = ("123", "A-J", "K-T", "U-Z")


def code_pad(page: Page, body: pygame.Rect, m: Metrics, ui) -> pygame.Rect:
    """The 12-key pad for codes and pseudonyms at the right of *body*: digits, then letters a page
    at a time; typing goes to ``ui.search``. Returns the pad's rect."""
    key = max(m.touch, min(m.u(110), (body.height - 2 * m.gap) // 3))
    pad_w = 4 * key + 3 * m.gap
    pad = pygame.Rect(body.right - pad_w, body.y, pad_w, 3 * key + 2 * m.gap)
    keys = SEARCH_PAGES[ui.search_keys % len(SEARCH_PAGES)]
    slots = list(keys[:-2]) + [""] * (10 - len(keys[:-2])) + ["<", ">"]
    for i, ch in enumerate(slots):
        if not ch:
            continue
        r, c = divmod(i, 4)
        rect = pygame.Rect(pad.x + c * (key + m.gap), pad.y + r * (key + m.gap), key, key)
        if ch == "<":
            page.add("code_back", rect, Intent(IntentKind.CODE_BACK), enabled=bool(ui.search))
        elif ch == ">":
            page.add("code_page", rect, Intent(IntentKind.CODE_PAGE))
        else:
            page.add(f"code:{ch}", rect, Intent(IntentKind.CODE_KEY, ch))
    return pad


def code_pad_styles(page: Page, m: Metrics, ui) -> dict:
    next_label = SEARCH_PAGE_LABELS[(ui.search_keys + 1) % len(SEARCH_PAGES)]
    styles = {"back": {"label": t("back")}, "code_back": {"label": t("search_back"), "px": m.u(40)},
              "code_page": {"label": t("search_page", label=next_label), "px": m.u(24)}}
    for target in page.targets:
        if target.intent.kind is IntentKind.CODE_KEY:
            styles[target.name] = {"label": target.intent.arg, "px": m.u(40)}
    return styles


class MemberSearch(Scene):
    """Find a member by their short code: a 12-key pad (digits, then letters a page at a time) and
    the matching members as large tiles."""

    name = "member_search"

    def layout(self, f: Frame) -> Page:
        m, ui = f.m, f.ui
        page, body = titled_page(m, Intent(IntentKind.OPEN, Overlay.MEMBERS))
        pad = code_pad(page, body, m, ui)
        left = pygame.Rect(body.x, body.y, pad.x - body.x - m.u(16), body.height)
        page.rects["typed"] = pygame.Rect(left.x, left.y, left.width, m.u(44))
        results = pygame.Rect(left.x, page.rects["typed"].bottom + m.gap, left.width,
                              left.bottom - page.rects["typed"].bottom - m.gap)
        page.rects["results"] = results
        fit = max(1, (results.height + m.gap) // (m.touch + m.gap))
        if ui.search:
            for i, member in enumerate(ui.search_results[:fit]):
                page.add(f"found:{member.id}", pygame.Rect(results.x, results.y + i * (m.touch + m.gap), results.width,
                                                           m.touch), Intent(IntentKind.MEMBER, member))
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, ui = f.m, f.ui
        self.title(surface, f, t("search_title"), page.rects["title"])
        typed = page.rects["typed"]
        if ui.search:
            draw.text(surface, f.fonts, t("search_typed", code=ui.search), typed, m.u(34), theme.YELLOW, bold=True,
                      align="left")
            if not ui.search_results:
                draw.paragraph(surface, f.fonts, t("search_none"), page.rects["results"], m.u(26), theme.GREY)
        else:
            draw.paragraph(surface, f.fonts, t("search_empty"), page.rects["results"], m.u(26), theme.GREY)
        styles = code_pad_styles(page, m, ui)
        for target in page.targets:
            if target.intent.kind is IntentKind.MEMBER:
                styles[target.name] = {"label": target.intent.arg.name, "px": m.u(32)}
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
        page.add("back", back, Intent(IntentKind.HOME))
        page.add("pain_before", pain, Intent(IntentKind.OPEN, Overlay.PAIN_BEFORE))
        page.add("start", start, Intent(IntentKind.START), enabled=v.start_enabled)
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
            draw.shapes.rect(surface, theme.PANEL, row, border_radius=m.u(8))
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
        page, body = titled_page(f.m, Intent(IntentKind.CLOSE))
        pain_scale(page, body, f.m, IntentKind.PAIN_BEFORE)
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        self.title(surface, f, t("pain_before_title"), page.rects["title"], px=36)
        self.paint_targets(surface, f, page, pain_styles(f, f.ui.pain_before, {"back": {"label": t("back")}}))


def pain_scale(page: Page, area: pygame.Rect, m: Metrics, kind: IntentKind) -> None:
    """0..10 as eleven big buttons, in as few rows as the width allows."""
    fit = max(1, min(11, (area.width + m.gap) // (m.touch + m.gap)))
    rows = math.ceil(11 / fit)
    cols = math.ceil(11 / rows)  # balanced rows: 6 + 5 reads better than 7 + 4
    cell_w = (area.width - m.gap * (cols - 1)) // cols
    cell_h = max(m.touch, min(m.u(120), (area.height - m.gap * (rows - 1)) // rows))
    for score in range(11):
        r, c = divmod(score, cols)
        rect = pygame.Rect(area.x + c * (cell_w + m.gap), area.y + r * (cell_h + m.gap), cell_w, cell_h)
        page.add(f"{kind.value}:{score}", rect, Intent(kind, score))


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
