"""The pieces every scene is made of: intents, targets, pages, the frame a scene reads, and the
layout helpers (columns, grids, paging, the bottom bar) that keep targets touch-sized at any size."""

from __future__ import annotations

import math
import time

import pygame

from app.core.member import Member
from app.core.program import Program
from app.core.record import Record, field
from app.core.view import Link, Screen, View

from .. import draw, theme
from ..audio import VOLUME_DEFAULT
from ..data import DoseData, ExportStatus, HistoryData, HubStatus, MemberInfo, Sample, SessionRecord, SuggestionData
from ..intents import Intent, IntentKind, Overlay
from ..pin import NewPin, PinPad
from ..text import t
from ..theme import Fonts, Metrics


class Target(Record):
    name: str
    rect: pygame.Rect
    intent: Intent
    enabled: bool = True

class Page(Record, frozen=False):
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

class UiState(Record, frozen=False):
    """What only the kiosk knows: navigation, the chosen member, typed PIN, chosen scores, data."""

    overlay: Overlay | None = None
    member: Member | None = None
    page: int = 0
    pin: PinPad = field(default_factory=lambda: PinPad(""))
    pin_then: Overlay | None = Overlay.STAFF      # the page a right PIN opens; None: leave the kiosk
    pain_after: int | None = None
    pain_before: int | None = None
    toast: str = ""
    toast_until: float = 0.0
    sound_on: bool = True
    speech_on: bool = True
    volume: int = VOLUME_DEFAULT                 # percent, chimes and speech (app.ui.audio.Volume)
    programs: list[Program] = field(default_factory=list)
    programs_note: str = ""                      # "2 program files left out: ..." (staff page)
    database_note: str = ""                      # the store's notices, one a line (Sensors page)
    members: list[Member] = field(default_factory=list)
    history: list[SessionRecord] = field(default_factory=list)
    history_data: HistoryData | None = None
    chart: str = "sessions"                      # the history chart shown
    member_program: Program | None = None        # the chosen member's prescribed program
    suggestion: SuggestionData | None = None     # for ui.member's next session
    search: str = ""                             # the member code typed so far
    search_keys: int = 0                         # which page of keys the search pad shows
    search_results: list[Member] = field(default_factory=list)
    staff_infos: list[MemberInfo] = field(default_factory=list)
    staff_member: MemberInfo | None = None
    staff_suggestion: SuggestionData | None = None
    staff_dose: DoseData | None = None
    staff_message: str = ""
    add_units: str = "mph"                       # units of a member created on the kiosk
    samples: list[Sample] = field(default_factory=list)
    export: ExportStatus = field(default_factory=ExportStatus)
    config_source: str = ""
    service: tuple[str, tuple[str, ...], str] | None = None  # (title, messages, hint)
    new_pin: NewPin | None = None                # staff must choose a PIN before anything else
    hub: HubStatus | None = None                 # the clinic hub's sync, read when staff open Sensors

class Frame(Record, frozen=False):
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
        page.add("page_prev", cells[len(shown)], Intent(IntentKind.PAGE, -1))
    if more:
        page.add("page_next", cells[len(shown) + prev], Intent(IntentKind.PAGE, 1))

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
    draw.shapes.rect(surface, fill, rect, border_radius=m.u(6))
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
    def paint_targets(self, surface, f: Frame, page: Page, styles: dict[str, dict] | None = None,
                      targets: list[Target] | None = None):
        """Every target of *page* (or only *targets*) as a button, styled by its name in *styles*."""
        styles = styles or {}
        for target in page.targets if targets is None else targets:
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
    if with_link and v.link is not Link.NONE:
        chips.append((t("link_label"), t("link_up") if v.link is Link.UP else t("link_down"), v.link is Link.UP))
    width = min(m.u(210), (rect.width - m.gap * 3) // 3)
    for i, (label, word, ok) in enumerate(chips):
        chip = pygame.Rect(rect.x + i * (width + m.gap), rect.y, width, rect.height)
        draw.status_chip(surface, f.fonts, m, chip, label, word, ok)
