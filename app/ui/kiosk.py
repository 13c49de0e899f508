"""The kiosk: picks the scene for the current view, turns taps into intents and intents into core
events or navigation, plays the core's sounds, and paints frames.

It owns no safety state. The core's :class:`~app.core.view.View` decides the screen; UI-only pages
(history, export, staff) are only ever shown where the belt cannot move, and vanish the moment the
core changes screen, so nothing can cover a safety state.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Callable

import pygame

from app.core.effects import CloseSession, Effect, PlaySound, Say, ScoreSession, SetBelt, StopBelt
from app.core.events import (
    Event,
    HomeTapped,
    PainScored,
    ProgramChosen,
    TAP_EVENTS,
)
from app.core.units import from_kmh
from app.core.view import Screen, View

from . import draw, theme
from .announce import Announcer
from .audio import Sounds, Volume
from .canvas import Painter, Recording
from .data import ExportController, HistoryData, NoExport, Sample, StaticData, StationData, history_from_records
from .pin import NewPin, PinPad, hash_pin
from .pointer import Pointer, Press, Release, Taps
from .scenes import OVERLAY_SCENES, SCREEN_SCENES, Frame, Intent, Page, Scene, UiState
from .speech import Speaker
from .text import say_text, t
from .theme import Fonts, Metrics

log = logging.getLogger(__name__)

#: Intents that are simply a core event.
CORE_INTENTS: dict[str, type[Event]] = {**TAP_EVENTS, "home": HomeTapped}
#: Where each UI-only page may appear: never over a screen on which the belt may move.
OVERLAY_ALLOWED: dict[str, frozenset[Screen]] = {
    "history": frozenset({Screen.HOME, Screen.SUMMARY}),
    "next_time": frozenset({Screen.SUMMARY}),
    "pain_before": frozenset({Screen.PREFLIGHT}),
}
HOME_ONLY = frozenset({Screen.HOME})
STAFF_PAGES = frozenset({"staff", "sensors", "programs", "settings", "staff_members", "staff_member", "staff_add"})
#: Escape (with the PIN) may leave only from screens where nobody is on a moving belt.
EXIT_SCREENS = frozenset({Screen.HOME, Screen.PREFLIGHT, Screen.SUMMARY, Screen.FAULT})
TOAST_S = 4.0
#: Where the "Set a staff PIN" screen stands in for the core's screen: before anything can start.
SET_PIN_SCREENS = frozenset({Screen.HOME, Screen.PREFLIGHT})
#: Full-screen states that already say in large type what a spoken line would say: a banner there
#: would only cover their own words or the hold bar.
NO_TOAST_SCREENS = frozenset({Screen.PAUSED_RAILS, Screen.PAUSED_LINK, Screen.TURNAROUND, Screen.ESTOP,
                              Screen.FAULT, Screen.COOLDOWN})


def intent_event(intent: Intent, member=None) -> Event | None:
    """The core event an intent stands for, or None for UI navigation."""
    cls = CORE_INTENTS.get(intent.kind)
    if cls is not None:
        return cls()
    if intent.kind == "choose_program":
        return ProgramChosen(intent.arg, member)
    if intent.kind == "pain_after":
        return PainScored("after", intent.arg)
    if intent.kind == "pain_before":
        return PainScored("before", intent.arg)
    return None


def display_key(view: View) -> tuple:
    """What is visible of *view*: a new frame is drawn only when this changes (or on input)."""
    return (view.screen, view.lanyard_clipped, view.rails_held, view.link, view.countdown, view.start_enabled,
            view.phase.index if view.phase else None, math.ceil(view.phase_left_s - 1e-3),
            math.ceil(view.session_left_s - 1e-3), view.warning, view.rails_grace, round(view.hold_progress, 1),
            view.actual_speed, view.pauses, view.outcome, view.fault, view.program_id,
            None if view.distance_m is None else round(view.distance_m))


class Kiosk:
    def __init__(self, size: tuple[int, int], post: Callable[[Event], None], *, data: StationData | None = None,
                 export: ExportController | None = None, pin_hash: str = "", fullscreen: bool = True,
                 export_requires_pin: bool = True, sounds: Sounds | None = None, speaker: Speaker | None = None,
                 fonts: Fonts | None = None, config_source: str = "", banner: str = "",
                 service: tuple[str, tuple[str, ...], str] | None = None, volume: Volume | None = None,
                 save_pin: Callable[[str], None] | None = None):
        """:param banner: one line shown above every screen (safe mode says why it is on).
        :param volume: the station's volume, for the chimes and speech alike (the Settings page
            changes it); default: the sounds' own.
        :param service: ``(title, messages, hint)``: the station cannot run (a config error); this
            screen replaces home, so no program can be started, and staff reach the PIN from it.
        :param save_pin: stores a new PIN's hash (raises OSError when it cannot). Given with no
            *pin_hash*, staff must choose a PIN before the home screen (an installed station never
            runs with the factory PIN); ``None`` keeps 0000 (the simulated station)."""
        self.post = post
        self.banner = banner
        self.data = data or StaticData()
        self.export = export or NoExport()
        self.fullscreen = fullscreen
        self.export_requires_pin = export_requires_pin
        self.sounds = sounds
        self.speaker = speaker
        self.fonts = fonts or Fonts()
        self.ui = UiState(pin=PinPad(pin_hash), config_source=config_source, service=service)
        self.save_pin = save_pin
        if save_pin is not None and not pin_hash:
            self.ui.new_pin = NewPin()
        self.ui.sound_on = bool(sounds and sounds.enabled)
        self.ui.speech_on = bool(speaker and speaker.enabled)
        self.volume = volume or (sounds.volume if sounds else speaker.volume if speaker else Volume())
        for output in (sounds, speaker):
            if output is not None:
                output.volume = self.volume
        self.ui.volume = self.volume.percent
        self.announcer = Announcer()
        if speaker is not None:  # the safety lines, rendered before anyone needs them
            speaker.warm([t("speak_estop"), t("hold_the_rails"), t("link_lost"), t("speak_paused")])
        self.resize(size)
        self.taps = Taps()
        self.staff_unlocked = False
        self.quit_requested = False
        self.view: View | None = None
        self.now = 0.0
        self._drawn_key: tuple | None = None
        self._drawn_export = None
        self._dirty = True
        self._last_sample_t = -1.0
        self.refresh_data()

    # --- data --------------------------------------------------------------------------------
    def resize(self, size: tuple[int, int]) -> None:
        self.size = (int(size[0]), int(size[1]))
        #: Scenes lay out below the banner, in a screen that much shorter.
        self.banner_h = Metrics(self.size).u(34) if self.banner else 0
        self.metrics = Metrics((self.size[0], self.size[1] - self.banner_h))
        self.pointer = Pointer(self.size) if not hasattr(self, "pointer") else self.pointer
        self.pointer.resize(self.size)
        self._dirty = True
        self._painter = Painter()  # a new size: the next frame is painted whole

    def refresh_data(self) -> None:
        """Re-read programs and members (cheap; done when the home screen comes back)."""
        try:
            self.ui.programs = list(self.data.programs())
            self.ui.members = list(self.data.members())
        except Exception as exc:  # noqa: BLE001 - a broken store must not take the kiosk down
            log.warning("could not read programs/members: %s", exc)

    def _refresh_history(self) -> None:
        import time

        member = self.ui.member
        try:
            data = self.data.history(member)
        except Exception as exc:  # noqa: BLE001
            log.warning("could not read the history: %s", exc)
            data = []
        if not isinstance(data, HistoryData):
            self.ui.history = list(data)
            data = history_from_records(self.ui.history, member.name if member else "", time.time())
        self.ui.history_data = data

    def _member_call(self, method: str, *args, default=None):
        """Call an optional member-store method of the data; a missing one or an error gives
        *default* (errors also land in ``ui.staff_message`` as one line)."""
        call = getattr(self.data, method, None)
        if call is None:
            return default
        try:
            return call(*args)
        except Exception as exc:  # noqa: BLE001 - a store problem is a message, never a crash
            log.warning("%s failed: %s", method, exc)
            self.ui.staff_message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            return default

    def refresh_suggestion(self) -> None:
        """The chosen member's suggestion for next time (recomputed by the store: after the session
        closed and again once the pain-after score is stored)."""
        member = self.ui.member
        self.ui.suggestion = self._member_call("suggestion", member) if member is not None else None
        self._dirty = True

    def _choose_member(self, member) -> None:
        ui = self.ui
        ui.member = member
        ui.member_program = self._member_call("program_for", member) if member is not None else None
        ui.suggestion = None
        ui.overlay = None
        ui.page = 0

    def _refresh_staff_members(self) -> None:
        self.ui.staff_infos = list(self._member_call("member_infos", default=[]) or [])
        if self.ui.staff_member is not None:
            ident = self.ui.staff_member.member.id
            self.ui.staff_member = next((i for i in self.ui.staff_infos if i.member.id == ident), None)

    def _open_staff_member(self, info) -> None:
        ui = self.ui
        ui.staff_member = info
        ui.staff_message = ""
        ui.staff_suggestion = self._member_call("suggestion", info.member)
        s = ui.staff_suggestion
        ui.staff_dose = (s.final or s.next) if s is not None else None
        ui.overlay = "staff_member"

    # --- the view ----------------------------------------------------------------------------
    def update(self, view: View, now: float) -> None:
        """Take the core's latest view. Called by the loop after every ``process``."""
        previous = self.view
        self.view, self.now = view, now
        try:
            self.ui.export = self.export.status()
        except Exception as exc:  # noqa: BLE001
            log.warning("export status failed: %s", exc)
        if previous is None or previous.screen is not view.screen:
            self._screen_changed(previous.screen if previous else None, view.screen)
        self._record_sample(view)
        # Said after the step's chimes, about the view now shown; a step with safety news first
        # cuts off whatever is being said (the newest safety cue wins).
        lines = self.announcer.lines(view)
        if self.speaker and lines:
            if any(line.urgent for line in lines):
                self.speaker.stop()
            for line in lines:
                self.speaker.say(line.words, urgent=line.urgent)

    def _screen_changed(self, old: Screen | None, new: Screen) -> None:
        self.taps.cancel()  # a finger that went down on the old screen must not tap the new one
        self._dirty = True
        if self.ui.overlay and new not in OVERLAY_ALLOWED.get(self.ui.overlay, HOME_ONLY):
            self.ui.overlay = None
            self.staff_unlocked = False
        self.ui.page = 0
        if new is Screen.HOME:
            self.ui.pain_before = None
            if old is Screen.SUMMARY:
                # The walker is done: the next person starts as a guest, never with the last
                # member's caps, prescription or history.
                self.ui.member, self.ui.member_program, self.ui.suggestion = None, None, None
            self.refresh_data()
            if self.ui.member is not None:  # the prescription may have changed after a session
                self.ui.member_program = self._member_call("program_for", self.ui.member)
        if new is Screen.COUNTDOWN and old is not Screen.RESUMING:
            self.ui.samples = []
            self.ui.pain_after = None
            self._last_sample_t = -1.0

    def _record_sample(self, view: View) -> None:
        """1 Hz speed/incline points for the summary chart, in program seconds."""
        if view.screen is not Screen.RUNNING or view.phase is None:
            return
        if view.active_s - self._last_sample_t < 1.0:
            return
        speed = view.actual_speed if view.actual_speed is not None else view.phase.speed
        incline = view.actual_incline if view.actual_incline is not None else view.phase.incline_pct
        self.ui.samples.append(Sample(view.active_s, speed, incline))
        self._last_sample_t = view.active_s

    def scene(self) -> Scene:
        view = self.view
        overlay = self.ui.overlay
        if self.ui.new_pin is not None and view.screen in SET_PIN_SCREENS:
            return OVERLAY_SCENES["set_pin"]
        if overlay and view.screen in OVERLAY_ALLOWED.get(overlay, HOME_ONLY):
            return OVERLAY_SCENES[overlay]
        if self.ui.service is not None and view.screen is Screen.HOME:
            return OVERLAY_SCENES["service"]
        return SCREEN_SCENES[view.screen]

    def frame(self) -> Frame:
        return Frame(self.view, self.metrics, self.fonts, self.ui, now=self.now, pressed=self.taps.pressed)

    def page(self) -> Page:
        return self.scene().layout(self.frame())

    # --- input -------------------------------------------------------------------------------
    def handle(self, event, now: float) -> None:
        """One pygame event from the UI thread."""
        self.now = now
        if event.type == pygame.QUIT:
            self._quit_asked(window_close=True)
            return
        if event.type == pygame.KEYDOWN:
            if event.key == pygame.K_ESCAPE:
                self._quit_asked(window_close=False)
            elif event.key == pygame.K_F4 and event.mod & pygame.KMOD_ALT:
                self._quit_asked(window_close=True)
            return
        if event.type in (pygame.WINDOWSIZECHANGED,):
            self.resize((event.x, event.y))
            return
        if event.type in (pygame.WINDOWEXPOSED, pygame.VIDEOEXPOSE):
            self._dirty = True
            self._painter.forget()  # what the window showed may be gone: paint it whole
            return
        touch = self.pointer.feed(event, now)
        if touch is None or self.view is None:
            return
        target = self.page().hit((touch.pos[0], touch.pos[1] - self.banner_h))
        name = target.name if target is not None and target.enabled else None
        if isinstance(touch, Press):
            self.taps.press(name)
            self._dirty = True
        elif isinstance(touch, Release):
            self._dirty = True
            fired = self.taps.release(name, now)
            if fired is not None:
                self.act(target.intent)

    def _quit_asked(self, window_close: bool) -> None:
        if self.staff_unlocked and self.ui.overlay in STAFF_PAGES:
            self.quit_requested = True
            return
        if not self.fullscreen and window_close:
            self.quit_requested = True  # a developer closing the window
            return
        if self.fullscreen and window_close:
            return  # Alt+F4 / a window manager close: a member cannot leave this way
        if self.view is not None and self.view.screen in EXIT_SCREENS and not self.fullscreen:
            self._open_pin("exit")

    def _open_pin(self, then: str) -> None:
        self.ui.pin_then = then
        self.ui.pin.clear()
        self.ui.pin.message = ""
        self.ui.overlay = "pin"
        self._dirty = True

    def act(self, intent: Intent) -> None:
        """Carry out one intent: post a core event or move between UI pages."""
        self._dirty = True
        ui = self.ui
        event = intent_event(intent, ui.member)
        if intent.kind == "pain_after":
            ui.pain_after = intent.arg
        elif intent.kind == "pain_before":
            ui.pain_before = intent.arg
            ui.overlay = None
        if event is not None:
            self.post(event)
            return
        kind, arg = intent.kind, intent.arg
        if kind == "open":
            self._open(arg)
        elif kind == "open_pin":
            self._open_pin(arg)
        elif kind == "close":
            ui.overlay = None
            ui.page = 0
            self.staff_unlocked = False
        elif kind == "page":
            ui.page += arg
        elif kind == "member":
            self._choose_member(arg)
        elif kind == "chart":
            ui.chart = arg
        elif kind == "code_key":
            if len(ui.search) < 12:
                ui.search += arg
            self._search()
        elif kind == "code_back":
            ui.search = ui.search[:-1]
            self._search()
        elif kind == "code_page":
            ui.search_keys = (ui.search_keys + 1) % 4
        elif kind == "add_units" and self.staff_unlocked:
            ui.add_units = "kmh" if ui.add_units == "mph" else "mph"
        elif kind == "add_create" and self.staff_unlocked and ui.search:
            ui.staff_message = ""
            added = self._member_call("add_member", ui.search, ui.search, ui.add_units)
            if added is not None:
                self._open("staff_members")
                ui.staff_message = t("add_done", name=added.name)
        elif kind == "staff_member" and self.staff_unlocked:
            self._open_staff_member(arg)
        elif kind == "hands_free" and self.staff_unlocked:
            ui.staff_message = ""
            self._member_call("set_hands_free", arg.member, not arg.hands_free_allowed)
            self._refresh_staff_members()
        elif kind == "rx_step" and self.staff_unlocked and ui.staff_dose is not None:
            thing, step = arg
            value = round(getattr(ui.staff_dose, thing) + step, 1)
            ui.staff_dose = replace(ui.staff_dose, **{thing: value})
            ui.staff_message = ""
        elif kind in ("rx_accept", "rx_save") and self.staff_unlocked and ui.staff_member is not None:
            ui.staff_message = ""
            member = ui.staff_member.member
            if kind == "rx_accept":
                decided = self._member_call("accept", member, t("staff_by"))
            else:
                decided = self._member_call("override", member, t("staff_by"), ui.staff_dose)
            if decided is not None:
                ui.staff_suggestion = decided
                ui.staff_dose = decided.final or decided.next
                ui.staff_message = t("rx_saved")
                if ui.member is not None and ui.member.id == member.id:
                    ui.member_program = self._member_call("program_for", member)
        elif kind.startswith("new_pin_") and ui.new_pin is not None:
            self._choose_pin(kind, arg)
        elif kind == "pin_digit":
            ui.pin.press(arg)
        elif kind == "pin_clear":
            ui.pin.clear()
        elif kind == "pin_ok":
            if ui.pin.submit(self.now):
                self.staff_unlocked = True
                if ui.pin_then == "exit":
                    self.quit_requested = True
                else:
                    ui.overlay = ui.pin_then
        elif kind == "export_start":
            self._call_export("start")
        elif kind == "export_dismiss":
            self._call_export("dismiss")
        elif kind == "toggle":
            if arg == "sound":
                ui.sound_on = not ui.sound_on
                if self.sounds:
                    self.sounds.enabled = ui.sound_on
            elif arg == "speech":
                ui.speech_on = not ui.speech_on
                if self.speaker:
                    self.speaker.enabled = ui.speech_on
                    self.speaker.stop()
        elif kind == "volume" and self.staff_unlocked:
            ui.volume = self.volume.step(arg)
            # The level is heard, not read: said (or chimed) at the new volume.
            if self.speaker and self.speaker.enabled and self.speaker.available:
                self.speaker.stop()
                self.speaker.say(t("speak_volume", percent=ui.volume), urgent=True)
            elif self.sounds:
                self.sounds.play("phase")
        elif kind == "exit":
            if self.staff_unlocked:
                self.quit_requested = True

    def _choose_pin(self, kind: str, arg) -> None:
        entry = self.ui.new_pin
        if kind == "new_pin_digit":
            entry.press(arg)
        elif kind == "new_pin_clear":
            entry.clear()
        elif kind == "new_pin_ok":
            pin = entry.submit()
            if pin is None:
                return
            stored = hash_pin(pin)
            try:
                self.save_pin(stored)
            except (OSError, ValueError) as exc:
                log.error("the staff PIN could not be saved: %s", exc)
                entry.first, entry.message = None, "set_pin_failed"
                return
            self.ui.pin = PinPad(stored)
            self.ui.new_pin = None  # the home screen appearing says it worked

    def _open(self, name: str) -> None:
        ui = self.ui
        if name in STAFF_PAGES and not self.staff_unlocked:
            self._open_pin(name)
            return
        if name == "export" and self.export_requires_pin and not self.staff_unlocked:
            self._open_pin("export")
            return
        if name == "history":
            self._refresh_history()
        elif name in ("member_search", "staff_add"):
            ui.search, ui.search_keys, ui.search_results = "", 0, []
            ui.staff_message = ""
        elif name == "staff_members":
            ui.staff_message = ""
            self._refresh_staff_members()
        elif name == "next_time" and ui.suggestion is None:
            self.refresh_suggestion()
        ui.overlay = name
        ui.page = 0

    def _search(self) -> None:
        ui = self.ui
        ui.staff_message = ""
        if ui.overlay != "member_search":
            return
        ui.search_results = list(self._member_call("search", ui.search, default=[]) or []) if ui.search else []

    def _call_export(self, what: str) -> None:
        try:
            getattr(self.export, what)()
            self.ui.export = self.export.status()
        except Exception as exc:  # noqa: BLE001 - the exporter reports errors through status()
            log.warning("export %s failed: %s", what, exc)

    # --- effects from the core -----------------------------------------------------------------
    def on_effect(self, effect: Effect) -> None:
        """Station listener: sounds and spoken/banner messages. Runs on the UI thread."""
        if isinstance(effect, CloseSession) or (isinstance(effect, ScoreSession) and effect.when == "after"):
            # Listeners run after the station stored the effect: the suggestion now sees the
            # closed session and, once given, its pain-after score.
            if self.ui.member is not None:
                self.refresh_suggestion()
            return
        self.announcer.hear(effect, self.view)
        if isinstance(effect, (SetBelt, StopBelt)) and self.view is not None and self.view.link == "none":
            # Cue mode: the station cannot drive the belt, so it tells the person what to do.
            if isinstance(effect, SetBelt):
                self._belt_set = True
                speed = f"{from_kmh(effect.speed_kmh, self.view.units):.1f}"
                words = t("cue_set_speed", speed=speed, unit=self.view.unit_label, incline=f"{effect.incline_pct:g}")
            elif getattr(self, "_belt_set", False):
                self._belt_set = False
                words = t("cue_stop")
            else:
                return  # the belt was never set going: nothing for the person to stop
            self.ui.toast = words
            self.ui.toast_until = self.now + TOAST_S
            self._dirty = True
            self.announcer.add(words, urgent=True)
            return
        if isinstance(effect, PlaySound):
            if self.sounds:
                self.sounds.play(effect.name)
        elif isinstance(effect, Say):
            self.ui.toast = say_text(effect.key, effect.params)
            self.ui.toast_until = self.now + TOAST_S
            self._dirty = True

    # --- drawing -------------------------------------------------------------------------------
    def needs_frame(self) -> bool:
        return (self._dirty or self.view is None or display_key(self.view) != self._drawn_key
                or self._toast_changed() or self.ui.export != self._drawn_export)

    def _toast_changed(self) -> bool:
        showing = bool(self.ui.toast) and self.now < self.ui.toast_until and self.view.screen not in NO_TOAST_SCREENS
        return showing != getattr(self, "_toast_drawn", False)

    def next_redraw(self) -> float | None:
        """Clock time at which the picture changes by itself (a second ticks over, a bar moves)."""
        view, now = self.view, self.now
        if view is None:
            return now
        due: list[float] = []
        if self.ui.toast and now < self.ui.toast_until:
            due.append(self.ui.toast_until)
        screen = view.screen
        if screen is Screen.RUNNING:
            left = view.phase_left_s
            due.append(now + ((left - math.floor(left)) or 1.0) + 0.002)
        elif screen in (Screen.COUNTDOWN, Screen.RESUMING):
            due.append(now + 0.1)
        elif screen in (Screen.PAUSED_RAILS, Screen.TURNAROUND) and view.rails_held:
            due.append(now + 0.1)
        if self.ui.overlay == "export" and self.ui.export.state == "exporting":
            due.append(now + 0.25)
        if self.ui.overlay == "pin" and self.ui.pin.locked(now):
            due.append(now + 1.0)
        return min(due) if due else None

    def render(self, surface: pygame.Surface) -> list[pygame.Rect]:
        """Bring *surface* up to the current view. Changes nothing but the surface.

        Only what changed since the last frame drawn on the same surface is repainted (see
        :mod:`app.ui.canvas`); returns the rects repainted, for ``pygame.display.update(rects)``
        (none when nothing changed; the whole surface for a first frame or a new surface)."""
        if surface.get_size() != self.size:
            self.resize(surface.get_size())
        recording = Recording(self.size)
        try:
            self._paint(recording.canvas(), recording=True)
            rects = self._painter.paint(surface, recording)
        except Exception:  # noqa: BLE001 - a call the canvas cannot record: paint this frame directly
            log.debug("the %s screen was painted whole, not recorded", self.view.screen.value, exc_info=True)
            self._painter.forget()
            self._paint(surface)
            rects = [surface.get_rect()]
        self._drawn_key = display_key(self.view)
        self._drawn_export = self.ui.export
        self._dirty = False
        return rects

    def _paint(self, surface, recording: bool = False) -> None:
        """Paint the whole frame on *surface* (a pygame Surface or a recording Canvas)."""
        if self.banner_h:
            self._draw_banner(surface)
            surface = surface.subsurface(pygame.Rect(0, self.banner_h, self.size[0], self.size[1] - self.banner_h))
        try:
            scene = self.scene()
            frame = self.frame()
            page = scene.layout(frame)
            surface.fill(scene.background)
            scene.draw(surface, frame, page)
            self._draw_toast(surface)
        except Exception:  # noqa: BLE001 - a drawing bug must not take the safety loop down with it
            if recording:
                raise  # painted again directly, where a real bug shows the fallback
            log.exception("drawing the %s screen failed", self.view.screen.value)
            self._draw_fallback(surface)

    def prewarm(self) -> None:
        """Paint the safety screens once, off screen, so the first real frame of an e-stop or a
        rails pause is only blits: its big words and buttons are already rasterised. Changes
        nothing but the font and widget caches."""
        if self.view is None:
            return
        scratch = pygame.Surface(self.metrics.size)
        for screen in (Screen.ESTOP, Screen.PAUSED_RAILS, Screen.PAUSED_LINK, Screen.TURNAROUND, Screen.FAULT):
            for clipped, held in ((False, True), (True, True), (True, False)):
                view = replace(self.view, screen=screen, lanyard_clipped=clipped, rails_held=held,
                               link="down" if screen is Screen.PAUSED_LINK else self.view.link)
                scene = SCREEN_SCENES[screen]
                frame = Frame(view, self.metrics, self.fonts, self.ui, now=self.now)
                scratch.fill(scene.background)
                scene.draw(scratch, frame, scene.layout(frame))

    def _draw_fallback(self, surface) -> None:
        """What is left when a scene cannot draw: the state in words (the systemd status line)."""
        m = self.metrics
        surface.fill(theme.RED if self.view.screen in (Screen.ESTOP, Screen.FAULT) else theme.BLACK)
        draw.text(surface, self.fonts, self.view.status_line, m.screen.inflate(-2 * m.pad, -m.screen.height // 2),
                  m.u(40), theme.WHITE, bold=True)
        draw.text(surface, self.fonts, t("fault_what"), pygame.Rect(m.pad, m.screen.height * 3 // 4 - m.u(20),
                                                                   m.screen.width - 2 * m.pad, m.u(40)),
                  m.u(28), theme.WHITE)

    def _draw_banner(self, surface) -> None:
        m = Metrics(self.size)
        rect = pygame.Rect(0, 0, self.size[0], self.banner_h)
        surface.fill(theme.AMBER, rect)
        icon = pygame.Rect(m.pad, m.u(4), self.banner_h - m.u(8), self.banner_h - m.u(8))
        draw.warning(surface, icon, theme.BLACK, theme.AMBER)
        draw.text(surface, self.fonts, self.banner, pygame.Rect(icon.right + m.u(8), 0, rect.width - icon.right - m.u(16),
                                                               rect.height), m.u(22), theme.BLACK, bold=True, align="left")

    def _draw_toast(self, surface) -> None:
        ui, m = self.ui, self.metrics
        showing = bool(ui.toast) and self.now < ui.toast_until and self.view.screen not in NO_TOAST_SCREENS
        self._toast_drawn = showing
        if not showing:
            return
        # Just above the bottom buttons: never over a safety screen's title, never over a button.
        rect = pygame.Rect(m.pad, m.screen.bottom - m.pad - m.touch - m.gap - m.u(56), m.screen.width - 2 * m.pad, m.u(52))
        draw.shapes.rect(surface, theme.WHITE, rect, border_radius=m.u(10))
        draw.shapes.rect(surface, theme.BLACK, rect, width=m.u(3), border_radius=m.u(10))
        icon = pygame.Rect(rect.x + m.u(10), rect.y + m.u(8), rect.height - m.u(16), rect.height - m.u(16))
        draw.warning(surface, icon, theme.BLACK, theme.WHITE)
        draw.text(surface, self.fonts, ui.toast, pygame.Rect(icon.right + m.u(10), rect.y, rect.right - icon.right - m.u(20),
                                                            rect.height), m.u(28), theme.BLACK, bold=True, align="left")
