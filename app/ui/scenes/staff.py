"""Behind the staff PIN (and the USB stick): export, the keypad, the staff menu and its pages, and
the service screen shown when the station cannot run."""

from __future__ import annotations

import math

import pygame

from app.core.units import unit_label
from app.core.view import Link

from .. import draw, theme
from ..audio import VOLUME_STEP, VOLUME_TOUCH_MIN
from ..text import reason_words, t
from .base import Frame, Intent, IntentKind, Overlay, Page, Scene, bottom_bar, columns, fmt, grid, titled_page
from .choose import code_pad, code_pad_styles


class Export(Scene):
    name = "export"

    def layout(self, f: Frame) -> Page:
        m = f.m
        page = Page()
        bar = bottom_bar(m)
        back, _, action = columns(bar, 3, m.gap)
        page.add("back", back, Intent(IntentKind.CLOSE), enabled=f.ui.export.state != "exporting")
        state = f.ui.export.state
        if state == "detected":
            page.add("export_start", pygame.Rect(action.x - bar.width // 6, action.y, action.width + bar.width // 6,
                                                 action.height), Intent(IntentKind.EXPORT_START))
        elif state in ("done", "error"):
            page.add("export_ok", action, Intent(IntentKind.EXPORT_DISMISS))
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
    """The staff PIN keypad."""

    name = "pin"
    #: What the keys ask for: a digit, clear, OK.
    keys = (IntentKind.PIN_DIGIT, IntentKind.PIN_CLEAR, IntentKind.PIN_OK)
    can_cancel = True

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
        digit, clear, ok = self.keys
        for i, k in enumerate(keys):
            r, c = divmod(i, 3)
            rect = pygame.Rect(keypad.x + c * (cell_w + m.gap), keypad.y + r * (key + m.gap), cell_w, key)
            if k == "clear":
                page.add("pin_clear", rect, Intent(clear))
            elif k == "ok":
                page.add("pin_ok", rect, Intent(ok))
            else:
                page.add(f"pin:{k}", rect, Intent(digit, k))
        left = pygame.Rect(screen.x, screen.y, keypad.x - screen.x - m.u(20), screen.height)
        page.rects["title"] = pygame.Rect(left.x, left.y, left.width, m.u(60))
        page.rects["dots"] = pygame.Rect(left.x, page.rects["title"].bottom + m.u(20), left.width, m.u(60))
        page.rects["message"] = pygame.Rect(left.x, page.rects["dots"].bottom + m.u(10), left.width, m.u(40))
        if self.can_cancel:
            page.add("pin_cancel", pygame.Rect(left.x, left.bottom - m.touch, left.width, m.touch),
                     Intent(IntentKind.CLOSE))
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, pin = f.m, f.ui.pin
        self.title(surface, f, t("pin_title"), page.rects["title"])
        self.draw_entry(surface, f, page, pin.digits)
        message = ""
        if pin.locked(f.now):
            message = t("pin_locked", seconds=math.ceil(pin.locked_until - f.now))
        elif pin.message:
            message = t(pin.message)
        draw.text(surface, f.fonts, message, page.rects["message"], m.u(28), theme.RED_BRIGHT, bold=True, align="left")
        self.paint_keys(surface, f, page)

    def draw_entry(self, surface, f: Frame, page: Page, digits: str) -> None:
        m = f.m
        dots = page.rects["dots"]
        r = m.u(14)
        for i in range(max(4, len(digits))):
            centre = (dots.x + r + i * r * 3, dots.centery)
            if i < len(digits):
                draw.shapes.circle(surface, theme.WHITE, centre, r)
            else:
                draw.shapes.circle(surface, theme.GREY, centre, r, max(2, m.u(3)))

    def paint_keys(self, surface, f: Frame, page: Page) -> None:
        m = f.m
        styles = {f"pin:{d}": {"label": d, "px": m.u(44)} for d in "0123456789"}
        styles["pin_clear"] = {"label": t("pin_clear"), "px": m.u(26)}
        styles["pin_ok"] = {"label": t("ok"), "fill": theme.GREEN, "colour": theme.BLACK, "px": m.u(36)}
        styles["pin_cancel"] = {"label": t("pin_cancel")}
        self.paint_targets(surface, f, page, styles)


class SetPin(Pin):
    """An installed station's first start: staff choose the PIN before the home screen appears.
    No way around it (no cancel), and nothing can start until it is done (docs/config.md)."""

    name = "set_pin"
    keys = (IntentKind.NEW_PIN_DIGIT, IntentKind.NEW_PIN_CLEAR, IntentKind.NEW_PIN_OK)
    can_cancel = False

    def layout(self, f: Frame) -> Page:
        page = super().layout(f)
        dots = page.rects["dots"]
        # The instructions take the message line and more: the dots move below them.
        page.rects["message"] = pygame.Rect(dots.x, dots.y, dots.width, f.m.u(130))
        page.rects["dots"] = pygame.Rect(dots.x, page.rects["message"].bottom + f.m.u(10), dots.width, dots.height)
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, entry = f.m, f.ui.new_pin
        self.title(surface, f, t("set_pin_title"), page.rects["title"])
        self.draw_entry(surface, f, page, entry.digits if entry else "")
        warn = entry is not None and entry.message in ("set_pin_length", "set_pin_factory", "set_pin_differ",
                                                       "set_pin_failed")
        draw.paragraph(surface, f.fonts, t(entry.message) if entry else "", page.rects["message"], m.u(28),
                       theme.RED_BRIGHT if warn else theme.WHITE, bold=warn)
        self.paint_keys(surface, f, page)


class Staff(Scene):
    name = "staff"
    ITEMS = (("members", "staff_members"), ("sensors", "staff_sensors"), ("programs", "staff_programs"),
             ("export", "staff_export"), ("settings", "staff_settings"), ("exit", "staff_exit"), ("lock", "staff_lock"))
    #: What each item does (its target keeps the item's name).
    INTENTS = {"members": Intent(IntentKind.OPEN, Overlay.STAFF_MEMBERS),
               "sensors": Intent(IntentKind.OPEN, Overlay.SENSORS),
               "programs": Intent(IntentKind.OPEN, Overlay.PROGRAMS),
               "export": Intent(IntentKind.OPEN, Overlay.EXPORT),
               "settings": Intent(IntentKind.OPEN, Overlay.SETTINGS),
               "exit": Intent(IntentKind.EXIT),
               "lock": Intent(IntentKind.CLOSE)}

    def layout(self, f: Frame) -> Page:
        m = f.m
        page, _ = titled_page(m, None)
        area = pygame.Rect(m.pad, page.rects["title"].bottom + m.gap, page.rects["title"].width,
                           m.screen.bottom - page.rects["title"].bottom - m.gap - m.pad)
        cells = grid(area, len(self.ITEMS), m, m.u(240), m.touch, max_cols=3)
        for (name, _), cell in zip(self.ITEMS, cells):
            page.add(name, cell, self.INTENTS[name])
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
        page, _ = titled_page(f.m, Intent(IntentKind.OPEN, Overlay.STAFF))
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
        # The database's notices (moved aside, found damaged, sessions left open), in the shell's words.
        body = note_strip(surface, f, page.rects["body"], f.ui.database_note)
        rows = [
            (t("lanyard_label"), t("lanyard_clipped") if v.lanyard_clipped else t("lanyard_pulled"), v.lanyard_clipped),
            (t("rails_label"), t("rails_held") if v.rails_held else t("rails_released"), v.rails_held),
            (t("link_label"), t(f"link_{v.link.value}"), None if v.link is Link.NONE else v.link is Link.UP),
            (t("sensor_belt"), t("sensor_unknown") if v.actual_speed is None else f"{fmt(v.actual_speed)} {v.unit_label}",
             None),
        ]
        hub = f.ui.hub
        if hub is not None:  # a station of a clinic (docs/hub.md): when its sessions last went up
            when = t("hub_never") if hub.last_success is None else _local_clock(hub.last_success)
            word = t("hub_synced", when=when, waiting=hub.waiting_sessions)
            rows.append((t("hub_label"), word if not hub.last_error else t("hub_failed", when=when),
                         hub.last_error is None and hub.last_success is not None))
        row_h = min(m.u(70), body.height // len(rows))
        for i, (label, word, ok) in enumerate(rows):
            draw.status_chip(surface, f.fonts, m, pygame.Rect(body.x, body.y + i * row_h, body.width, row_h - m.u(8)),
                             label + ":", word, ok)


def note_strip(surface, f: Frame, body: pygame.Rect, note: str) -> pygame.Rect:
    """*note* (the shell's own lines, in English, for staff) in yellow at the foot of *body*;
    returns the part of *body* left above it."""
    if not note:
        return body
    m = f.m
    strip = pygame.Rect(body.x, body.bottom - m.u(64), body.width, m.u(64))
    draw.paragraph(surface, f.fonts, note, strip, m.u(20), theme.YELLOW)
    return pygame.Rect(body.x, body.y, body.width, strip.y - body.y - m.u(8))


def _local_clock(iso_text: str) -> str:
    """HH:MM on the station's own clock (the sync writes UTC), or the text as it came."""
    from datetime import datetime

    try:
        return datetime.fromisoformat(iso_text).astimezone().strftime("%H:%M")
    except ValueError:
        return iso_text


class Programs(StaffPage):
    name = "programs"
    title_key = "programs_title"

    def body(self, surface, f, page):
        m = f.m
        # Files left out of the library: which, and why (one line each).
        body = note_strip(surface, f, page.rects["body"], f.ui.programs_note)
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
        page.add("sound", sound, Intent(IntentKind.TOGGLE, "sound"))
        page.add("speech", speech, Intent(IntentKind.TOGGLE, "speech"))
        # Volume: big - and + either side of the level in words, for chimes and speech alike.
        row = pygame.Rect(body.x, sound.bottom + m.gap, body.width, m.touch)
        step = max(m.touch, row.width // 4)
        page.add("volume_down", pygame.Rect(row.x, row.y, step, row.height), Intent(IntentKind.VOLUME, -VOLUME_STEP),
                 enabled=f.ui.volume > VOLUME_TOUCH_MIN)
        page.add("volume_up", pygame.Rect(row.right - step, row.y, step, row.height), Intent(IntentKind.VOLUME, VOLUME_STEP),
                 enabled=f.ui.volume < 100)
        page.rects["volume"] = pygame.Rect(row.x + step + m.gap, row.y, row.width - 2 * (step + m.gap), row.height)

    def body(self, surface, f, page):
        m = f.m
        body = page.rects["body"]
        draw.text(surface, f.fonts, t("setting_volume", percent=f.ui.volume), page.rects["volume"], m.u(36),
                  theme.WHITE, bold=True)
        y = page.rects["volume"].bottom + m.u(16)
        for words in (t("setting_screen", width=m.size[0], height=m.size[1]),
                      t("setting_config", source=f.ui.config_source or "(defaults)")):
            draw.text(surface, f.fonts, words, pygame.Rect(body.x, y, body.width, m.u(36)), m.u(24), theme.GREY,
                      align="left")
            y += m.u(40)

    def styles(self, f):
        on, off = t("setting_on"), t("setting_off")
        return {"sound": {"label": t("setting_sound", state=on if f.ui.sound_on else off), "selected": f.ui.sound_on},
                "speech": {"label": t("setting_speech", state=on if f.ui.speech_on else off),
                           "selected": f.ui.speech_on},
                "volume_down": {"label": "−", "px": f.m.u(56)}, "volume_up": {"label": "+", "px": f.m.u(56)}}


class StaffMembers(Scene):
    """Staff: every member, with "hands-free allowed" as a big toggle and a button to their next
    session's suggestion. New members are added at a console (the hint says how)."""

    name = "staff_members"

    def layout(self, f: Frame) -> Page:
        m, ui = f.m, f.ui
        page, body = titled_page(m, None)
        page.rects["hint"] = pygame.Rect(body.x, body.y, body.width, m.u(28))
        area = pygame.Rect(body.x, page.rects["hint"].bottom + m.gap, body.width,
                           body.bottom - page.rects["hint"].bottom - m.gap)
        cols = max(1, min(2, (area.width + m.gap) // (m.u(360) + m.gap)))
        rows = max(1, (area.height + m.gap) // (m.touch + m.gap))
        per_page = cols * rows
        infos = list(ui.staff_infos)
        pages = max(1, math.ceil(len(infos) / per_page))
        number = min(max(0, ui.page), pages - 1)
        shown = infos[number * per_page:(number + 1) * per_page]
        cells = columns(pygame.Rect(area.x, area.y, area.width, m.touch), cols, m.u(24))
        for i, info in enumerate(shown):
            r, c = divmod(i, cols)
            cell = cells[c].move(0, r * (m.touch + m.gap))
            name_r = pygame.Rect(cell.x, cell.y, round(cell.width * 0.58), cell.height)
            toggle = pygame.Rect(name_r.right + m.gap, cell.y, cell.right - name_r.right - m.gap, cell.height)
            page.add(f"staff_member:{info.member.id}", name_r, Intent(IntentKind.STAFF_MEMBER, info))
            page.add(f"hands_free:{info.member.id}", toggle, Intent(IntentKind.HANDS_FREE, info))
        bar = bottom_bar(m)
        back, add, prev, more = columns(bar, 4, m.gap)
        page.add("back", back, Intent(IntentKind.OPEN, Overlay.STAFF))
        page.add("staff_add", add, Intent(IntentKind.OPEN, Overlay.STAFF_ADD))
        if number > 0:
            page.add("page_prev", prev, Intent(IntentKind.PAGE, -1))
        if number < pages - 1:
            page.add("page_next", more, Intent(IntentKind.PAGE, 1))
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, ui = f.m, f.ui
        self.title(surface, f, t("members_title"), page.rects["title"])
        draw.text(surface, f.fonts, ui.staff_message or t("members_add_hint"), page.rects["hint"], m.u(20),
                  theme.YELLOW if ui.staff_message else theme.GREY, align="left")
        if not ui.staff_infos:
            body = page.rects["body"]
            draw.text(surface, f.fonts, t("members_none"), pygame.Rect(body.x, body.y + m.u(40), body.width, m.u(50)),
                      m.u(30), theme.WHITE, align="left")
        styles = {"back": {"label": t("back")}, "page_prev": {"label": t("page_prev")},
                  "page_next": {"label": t("page_next")},
                  "staff_add": {"label": t("staff_add"), "fill": theme.GREEN, "colour": theme.BLACK}}
        on, off = t("setting_on"), t("setting_off")
        for target in page.targets:
            info = target.intent.arg
            if target.intent.kind is IntentKind.STAFF_MEMBER:
                styles[target.name] = {"label": info.member.name + (f" · {info.code}" if info.code else ""),
                                       "px": m.u(26)}
            elif target.intent.kind is IntentKind.HANDS_FREE:
                styles[target.name] = {"label": t("member_hands_free", state=on if info.hands_free_allowed else off),
                                       "selected": info.hands_free_allowed, "px": m.u(20),
                                       "fill": theme.GREEN if info.hands_free_allowed else theme.BUTTON,
                                       "colour": theme.BLACK if info.hands_free_allowed else theme.WHITE}
        self.paint_targets(surface, f, page, styles)


class StaffAdd(Scene):
    """Staff: a new member from the touchscreen: a pseudonym or code typed on the pad (it becomes
    both the display name and the search code), and units. Everything else (caps, limits, goal,
    prescription) is set with ``backstep members set`` at a console."""

    name = "staff_add"

    def layout(self, f: Frame) -> Page:
        m, ui = f.m, f.ui
        page, body = titled_page(m, Intent(IntentKind.OPEN, Overlay.STAFF_MEMBERS))
        pad = code_pad(page, body, m, ui)
        left = pygame.Rect(body.x, body.y, pad.x - body.x - m.u(16), body.height)
        page.rects["typed"] = pygame.Rect(left.x, left.y, left.width, m.u(44))
        page.add("add_units", pygame.Rect(left.x, page.rects["typed"].bottom + m.gap, left.width, m.touch),
                 Intent(IntentKind.ADD_UNITS))
        page.rects["hint"] = pygame.Rect(left.x, page.rects["add_units"].bottom + m.gap, left.width,
                                         left.bottom - page.rects["add_units"].bottom - m.gap)
        bar = bottom_bar(m)
        page.add("add_create", pygame.Rect(bar.right - bar.width // 3, bar.y, bar.width // 3, bar.height),
                 Intent(IntentKind.ADD_CREATE), enabled=bool(ui.search))
        return page

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, ui = f.m, f.ui
        self.title(surface, f, t("add_title"), page.rects["title"])
        typed = t("search_typed", code=ui.search) if ui.search else t("add_empty")
        draw.text(surface, f.fonts, typed, page.rects["typed"], m.u(32), theme.YELLOW if ui.search else theme.GREY,
                  bold=bool(ui.search), align="left")
        draw.paragraph(surface, f.fonts, ui.staff_message or t("add_hint"), page.rects["hint"], m.u(20),
                       theme.RED_BRIGHT if ui.staff_message else theme.GREY)
        styles = code_pad_styles(page, m, ui)
        styles["add_units"] = {"label": t("add_units", unit=t(f"units_{ui.add_units}")), "px": m.u(26)}
        styles["add_create"] = {"label": t("add_create"), "fill": theme.GREEN, "colour": theme.BLACK}
        self.paint_targets(surface, f, page, styles)


class StaffMember(Scene):
    """Staff: one member's suggestion for the next session, with its reasons; accept it, or set
    speed, minutes and incline with big -/+ buttons (never past the therapist's limits) and save."""

    name = "staff_member"
    THINGS = (("speed", 0.1), ("minutes", 1.0), ("incline", 1.0))

    def layout(self, f: Frame) -> Page:
        m, ui = f.m, f.ui
        page, body = titled_page(m, Intent(IntentKind.OPEN, Overlay.STAFF_MEMBERS))
        bar = bottom_bar(m)
        _, accept, save = columns(bar, 3, m.gap)
        s, dose = ui.staff_suggestion, ui.staff_dose
        pending = s is not None and s.status == "pending"
        if s is not None:
            page.add("rx_accept", accept, Intent(IntentKind.RX_ACCEPT), enabled=pending)
            page.add("rx_save", save, Intent(IntentKind.RX_SAVE),
                     enabled=pending and dose is not None and dose != s.next)
        page.rects["status"] = pygame.Rect(body.x, body.y, body.width, m.u(30))
        steppers_h = m.u(34) + m.touch
        page.rects["reasons"] = pygame.Rect(body.x, page.rects["status"].bottom, body.width,
                                            body.bottom - steppers_h - m.gap - page.rects["status"].bottom)
        row = pygame.Rect(body.x, body.bottom - steppers_h, body.width, steppers_h)
        if s is not None and dose is not None:
            for (thing, step), cell in zip(self.THINGS, columns(row, 3, m.u(20))):
                page.rects[f"value:{thing}"] = pygame.Rect(cell.x, cell.y, cell.width, m.u(34))
                minus, plus = columns(pygame.Rect(cell.x, cell.bottom - m.touch, cell.width, m.touch), 2, m.gap)
                value = getattr(dose, thing)
                low, high = self.bounds(thing, s)
                page.add(f"rx:{thing}:-", minus, Intent(IntentKind.RX_STEP, (thing, -step)),
                         enabled=pending and value - step >= low - 1e-6)
                page.add(f"rx:{thing}:+", plus, Intent(IntentKind.RX_STEP, (thing, step)),
                         enabled=pending and value + step <= high + 1e-6)
        return page

    @staticmethod
    def bounds(thing: str, s) -> tuple[float, float]:
        return {"speed": (0.1, s.max_speed), "minutes": (1.0, s.max_minutes), "incline": (0.0, s.max_incline)}[thing]

    def draw(self, surface, f: Frame, page: Page) -> None:
        m, ui = f.m, f.ui
        info, s, dose = ui.staff_member, ui.staff_suggestion, ui.staff_dose
        self.title(surface, f, t("rx_title", name=info.member.name if info else ""), page.rects["title"], px=36)
        if s is None:
            draw.text(surface, f.fonts, t("next_none"), page.rects["status"], m.u(26), theme.GREY, align="left")
        else:
            unit = unit_label(s.units)
            status = (t("rx_status_pending") if s.status == "pending"
                      else t(f"rx_status_{s.status}", by=s.decided_by or ""))
            if ui.staff_message:
                status = ui.staff_message
            draw.text(surface, f.fonts, f"{t('action_' + s.action)} · {status}", page.rects["status"], m.u(24),
                      theme.YELLOW, bold=True, align="left")
            box = page.rects["reasons"]
            y = box.y
            for reason in map(reason_words, s.reasons):
                if box.bottom - y < m.u(20):
                    break
                y = draw.paragraph(surface, f.fonts, reason, pygame.Rect(box.x, y, box.width, box.bottom - y), m.u(22),
                                   theme.WHITE) + m.u(4)
            draw.text(surface, f.fonts, t("rx_limit", speed=fmt(s.max_speed), unit=unit, minutes=f"{s.max_minutes:g}",
                                          incline=f"{s.max_incline:g}"),
                      pygame.Rect(box.x, box.bottom - m.u(24), box.width, m.u(24)), m.u(18), theme.GREY, align="left")
            if dose is not None:
                words = {"speed": t("rx_speed", value=fmt(dose.speed), unit=unit),
                         "minutes": t("rx_minutes", value=f"{dose.minutes:g}"),
                         "incline": t("rx_incline", value=f"{dose.incline:g}")}
                for thing, _ in self.THINGS:
                    changed = s.next is not None and abs(getattr(dose, thing) - getattr(s.next, thing)) > 1e-6
                    draw.text(surface, f.fonts, words[thing], page.rects[f"value:{thing}"], m.u(28),
                              theme.YELLOW if changed else theme.WHITE, bold=True)
        styles = {"back": {"label": t("back")},
                  "rx_accept": {"label": t("rx_accept"), "fill": theme.GREEN, "colour": theme.BLACK},
                  "rx_save": {"label": t("rx_save"), "px": m.u(26)}}
        for thing, _ in self.THINGS:
            styles[f"rx:{thing}:-"] = {"label": "−", "px": m.u(44)}
            styles[f"rx:{thing}:+"] = {"label": "+", "px": m.u(44)}
        self.paint_targets(surface, f, page, styles)


class Service(Scene):
    """The station cannot run (a broken config): what is wrong and who fixes it, in place of home.
    The words come from the station's own check (app.shell.resilience), already in plain words."""

    name = "service"

    def layout(self, f: Frame) -> Page:
        page, body = titled_page(f.m, None)
        bar = bottom_bar(f.m)
        page.add("staff", pygame.Rect(bar.right - bar.width // 3, bar.y, bar.width // 3, bar.height),
                 Intent(IntentKind.OPEN_PIN, Overlay.STAFF))
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
