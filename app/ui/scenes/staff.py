"""Behind the staff PIN (and the USB stick): export, the keypad, the staff menu and its pages, and
the service screen shown when the station cannot run."""

from __future__ import annotations

import math

import pygame

from .. import draw, theme
from ..text import t
from .base import Frame, Intent, Page, Scene, bottom_bar, columns, fmt, grid, titled_page


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
