"""The kiosk: picks the scene for the current view, turns taps into intents and intents into core
events or navigation, plays the core's sounds, and paints frames.

It owns no safety state. The core's :class:`~app.core.view.View` decides the screen; UI-only pages
(history, export, staff) are only ever shown where the belt cannot move, and vanish the moment the
core changes screen, so nothing can cover a safety state.

A tap arrives as an :class:`~app.ui.intents.Intent`; :data:`HANDLERS` holds one handler per
:class:`~app.ui.intents.IntentKind` (checked complete at import). What the staff pages do with
member data lives in :class:`~app.ui.staff_desk.StaffDesk`; the data itself comes through the
typed :class:`~app.ui.data.StationData` protocol.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Callable

import pygame

from app.core.effects import CloseSession, Effect, PlaySound, Say, ScoreSession, SetBelt, StopBelt
from app.core.events import (
    ConfirmTapped,
    Event,
    HomeTapped,
    PainScored,
    PainTapped,
    PauseTapped,
    ProgramChosen,
    ResumeTapped,
    StartTapped,
    StopTapped,
)
from app.core.record import replace
from app.core.units import from_kmh
from app.core.view import Link, Screen, View

from . import draw, theme
from .announce import Announcer
from .audio import Sounds, Volume
from .canvas import Painter, Recording
from .data import (
    STATION_DATA_METHODS,
    ExportController,
    HistoryData,
    NoExport,
    Sample,
    StaticData,
    StationData,
    history_from_records,
)
from .intents import STAFF_ONLY, Intent, IntentKind, Overlay
from .pin import NewPin, PinPad, hash_pin
from .pointer import Pointer, Press, Release, Taps
from .scenes import OVERLAY_SCENES, SCREEN_SCENES, Frame, Page, Scene, UiState
from .speech import Speaker
from .staff_desk import StaffDesk
from .text import say_text, t
from .theme import Fonts, Metrics

log = logging.getLogger(__name__)

#: Intents that are simply a core event (the touchscreen's taps, as ``tap WORD`` names them).
CORE_INTENTS: dict[IntentKind, type[Event]] = {
    IntentKind.START: StartTapped,
    IntentKind.PAUSE: PauseTapped,
    IntentKind.RESUME: ResumeTapped,
    IntentKind.STOP: StopTapped,
    IntentKind.CONFIRM: ConfirmTapped,
    IntentKind.PAIN: PainTapped,
    IntentKind.HOME: HomeTapped,
}
#: Where each UI-only page may appear: never over a screen on which the belt may move.
OVERLAY_ALLOWED: dict[Overlay, frozenset[Screen]] = {
    Overlay.HISTORY: frozenset({Screen.HOME, Screen.SUMMARY}),
    Overlay.NEXT_TIME: frozenset({Screen.SUMMARY}),
    Overlay.PAIN_BEFORE: frozenset({Screen.PREFLIGHT}),
}
HOME_ONLY = frozenset({Screen.HOME})
STAFF_PAGES = frozenset({Overlay.STAFF, Overlay.SENSORS, Overlay.PROGRAMS, Overlay.SETTINGS, Overlay.STAFF_MEMBERS,
                         Overlay.STAFF_MEMBER, Overlay.STAFF_ADD})
#: Escape (with the PIN) may leave only from screens where nobody is on a moving belt.
EXIT_SCREENS = frozenset({Screen.HOME, Screen.PREFLIGHT, Screen.SUMMARY, Screen.FAULT})
TOAST_S = 4.0
#: Where the "Set a staff PIN" screen stands in for the core's screen: before anything can start.
SET_PIN_SCREENS = frozenset({Screen.HOME, Screen.PREFLIGHT})
#: Full-screen states that already say in large type what a spoken line would say: a banner there
#: would only cover their own words or the hold bar.
NO_TOAST_SCREENS = frozenset({Screen.PAUSED_RAILS, Screen.PAUSED_LINK, Screen.TURNAROUND, Screen.ESTOP,
                              Screen.FAULT, Screen.COOLDOWN})


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
        missing = [name for name in STATION_DATA_METHODS if not callable(getattr(self.data, name, None))]
        if missing:
            raise TypeError(f"Kiosk data {type(self.data).__name__} lacks {', '.join(missing)}: implement "
                            f"every method of app.ui.data.StationData (raise an error saying why one cannot work)")
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
        self.desk = StaffDesk(self.ui, self.data)
        check_handlers(HANDLERS)
        self.ui.sound_on = bool(sounds and sounds.enabled)
        self.ui.speech_on = bool(speaker and speaker.enabled)
        self.volume = volume or (sounds.volume if sounds else speaker.volume if speaker else Volume())
        for output in (sounds, speaker):
            if output is not None:
                output.volume = self.volume
        self.ui.volume = self.volume.percent
        self.announcer = Announcer()
        if speaker is not None:
            speaker.open()  # its safety lines are rendered by prewarm_steps, after READY=1
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
            self.ui.programs_note = self.data.programs_note()
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

    def refresh_suggestion(self) -> None:
        """The chosen member's suggestion for next time (recomputed by the store: after the session
        closed and again once the pain-after score is stored)."""
        member = self.ui.member
        self.ui.suggestion = self.desk.ask(self.data.suggestion, member) if member is not None else None
        self._dirty = True

    def _choose_member(self, member) -> None:
        ui = self.ui
        ui.member = member
        ui.member_program = self.desk.ask(self.data.program_for, member) if member is not None else None
        ui.suggestion = None
        ui.overlay = None
        ui.page = 0

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
                self.ui.member_program = self.desk.ask(self.data.program_for, self.ui.member)
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
            return OVERLAY_SCENES[Overlay.SET_PIN]
        if overlay and view.screen in OVERLAY_ALLOWED.get(overlay, HOME_ONLY):
            return OVERLAY_SCENES[overlay]
        if self.ui.service is not None and view.screen is Screen.HOME:
            return OVERLAY_SCENES[Overlay.SERVICE]
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
            self._open_pin(None)

    def _open_pin(self, then: Overlay | None) -> None:
        """The PIN pad; a right PIN opens *then* (``None``: leaves the kiosk)."""
        self.ui.pin_then = then
        self.ui.pin.clear()
        self.ui.pin.message = ""
        self.ui.overlay = Overlay.PIN
        self._dirty = True

    def act(self, intent: Intent) -> None:
        """Carry out one intent: post a core event or move between UI pages. Anything that is not
        an :class:`Intent` with a handler is refused where people see it (a banner) and logged,
        never dropped without a word; a staff-only kind while the PIN is locked does nothing."""
        self._dirty = True
        handler = HANDLERS.get(intent.kind) if isinstance(intent, Intent) else None
        if handler is None:
            log.error("refused %r: not an Intent with a handler in app.ui.kiosk.HANDLERS", intent)
            self.ui.toast = t("intent_refused")
            self.ui.toast_until = self.now + TOAST_S
            return
        if intent.kind in STAFF_ONLY and not self.staff_unlocked:
            log.warning("refused %s: staff only, and the staff PIN is locked", intent.kind.name)
            return
        handler(self, intent.arg)

    def _pain_before(self, score: int) -> None:
        self.ui.pain_before = score
        self.ui.overlay = None
        self.post(PainScored("before", score))

    def _pain_after(self, score: int) -> None:
        self.ui.pain_after = score
        self.post(PainScored("after", score))

    def _close(self) -> None:
        self.ui.overlay = None
        self.ui.page = 0
        self.staff_unlocked = False

    def _toggle(self, what: str) -> None:
        ui = self.ui
        if what == "sound":
            ui.sound_on = not ui.sound_on
            if self.sounds:
                self.sounds.enabled = ui.sound_on
        elif what == "speech":
            ui.speech_on = not ui.speech_on
            if self.speaker:
                self.speaker.enabled = ui.speech_on
                self.speaker.stop()

    def _volume(self, step: int) -> None:
        ui = self.ui
        ui.volume = self.volume.step(step)
        # The level is heard, not read: said (or chimed) at the new volume.
        if self.speaker and self.speaker.enabled and self.speaker.available:
            self.speaker.stop()
            self.speaker.say(t("speak_volume", percent=ui.volume), urgent=True)
        elif self.sounds:
            self.sounds.play("phase")

    def _add_member(self) -> None:
        added = self.desk.add_member()
        if added is not None:
            self._open(Overlay.STAFF_MEMBERS)
            self.ui.staff_message = t("add_done", name=added.name)

    def _pin_ok(self) -> None:
        ui = self.ui
        if ui.pin.submit(self.now):
            self.staff_unlocked = True
            if ui.pin_then is None:
                self.quit_requested = True
            else:
                ui.overlay = ui.pin_then

    def _new_pin_digit(self, digit: str) -> None:
        if self.ui.new_pin is not None:
            self.ui.new_pin.press(digit)

    def _new_pin_clear(self) -> None:
        if self.ui.new_pin is not None:
            self.ui.new_pin.clear()

    def _new_pin_ok(self) -> None:
        entry = self.ui.new_pin
        if entry is None:
            return
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

    def _open(self, name: Overlay) -> None:
        ui = self.ui
        if name in STAFF_PAGES and not self.staff_unlocked:
            self._open_pin(name)
            return
        if name is Overlay.EXPORT and self.export_requires_pin and not self.staff_unlocked:
            self._open_pin(Overlay.EXPORT)
            return
        if name is Overlay.HISTORY:
            self._refresh_history()
        elif name in (Overlay.MEMBER_SEARCH, Overlay.STAFF_ADD):
            self.desk.start_typing()
        elif name is Overlay.STAFF_MEMBERS:
            self.desk.open_members()
        elif name is Overlay.SENSORS:
            ui.hub = self.data.hub_status()
            ui.database_note = self.data.database_note()
        elif name is Overlay.NEXT_TIME and ui.suggestion is None:
            self.refresh_suggestion()
        ui.overlay = name
        ui.page = 0

    def _call_export(self, call: Callable[[], None]) -> None:
        try:
            call()
            self.ui.export = self.export.status()
        except Exception as exc:  # noqa: BLE001 - the exporter reports errors through status()
            log.warning("export %s failed: %s", getattr(call, "__name__", call), exc)

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
        if isinstance(effect, (SetBelt, StopBelt)) and self.view is not None and self.view.link is Link.NONE:
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
        if self.ui.overlay is Overlay.EXPORT and self.ui.export.state == "exporting":
            due.append(now + 0.25)
        if self.ui.overlay is Overlay.PIN and self.ui.pin.locked(now):
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
        """Have the safety lines rendered on the speech thread, so the first emergency stop is
        spoken without waiting for espeak-ng, and paint the safety screens once, off screen, so the
        first real frame of an e-stop or a rails pause is only blits: its big words and buttons are
        already rasterised. Changes nothing but the speech, font and widget caches."""
        for _ in self.prewarm_steps():
            pass

    def prewarm_steps(self):
        """:meth:`prewarm` one step at a time (a generator): the main loop runs a step per pass,
        so a stop never waits for the whole of it. The kiosk runs it after READY=1: espeak-ng
        rendering beside the start-up took it ~2 ms longer (a process of its own on the cores)."""
        if self.speaker is not None:
            self.speaker.warm([t("speak_estop"), t("hold_the_rails"), t("link_lost"), t("speak_paused")])
            yield
        if self.view is None:
            return
        scratch = pygame.Surface(self.metrics.size)
        for screen in (Screen.ESTOP, Screen.PAUSED_RAILS, Screen.PAUSED_LINK, Screen.TURNAROUND, Screen.FAULT):
            for clipped, held in ((False, True), (True, True), (True, False)):
                view = replace(self.view, screen=screen, lanyard_clipped=clipped, rails_held=held,
                               link=Link.DOWN if screen is Screen.PAUSED_LINK else self.view.link)
                scene = SCREEN_SCENES[screen]
                frame = Frame(view, self.metrics, self.fonts, self.ui, now=self.now)
                scratch.fill(scene.background)
                scene.draw(scratch, frame, scene.layout(frame))
                yield

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


def _posts(event: type[Event]) -> Callable[[Kiosk, Any], None]:
    return lambda kiosk, _: kiosk.post(event())


#: What each intent kind does: ``handler(kiosk, intent.arg)``. A module-level table, not bound
#: methods on the instance: a kiosk that held closures over itself would only be freed by the
#: cycle collector, with its font and tile caches.
HANDLERS: dict[IntentKind, Callable[[Kiosk, Any], None]] = {
    **{kind: _posts(event) for kind, event in CORE_INTENTS.items()},
    IntentKind.CHOOSE_PROGRAM: lambda k, program: k.post(ProgramChosen(program, k.ui.member)),
    IntentKind.PAIN_BEFORE: Kiosk._pain_before,
    IntentKind.PAIN_AFTER: Kiosk._pain_after,
    IntentKind.OPEN: Kiosk._open,
    IntentKind.OPEN_PIN: Kiosk._open_pin,
    IntentKind.CLOSE: lambda k, _: k._close(),
    IntentKind.PAGE: lambda k, step: setattr(k.ui, "page", k.ui.page + step),
    IntentKind.MEMBER: Kiosk._choose_member,
    IntentKind.CHART: lambda k, chart: setattr(k.ui, "chart", chart),
    IntentKind.TOGGLE: Kiosk._toggle,
    IntentKind.VOLUME: Kiosk._volume,
    IntentKind.EXIT: lambda k, _: setattr(k, "quit_requested", True),
    IntentKind.CODE_KEY: lambda k, key: k.desk.type_key(key),
    IntentKind.CODE_BACK: lambda k, _: k.desk.delete_key(),
    IntentKind.CODE_PAGE: lambda k, _: k.desk.next_keys(),
    IntentKind.ADD_UNITS: lambda k, _: k.desk.toggle_units(),
    IntentKind.ADD_CREATE: lambda k, _: k._add_member(),
    IntentKind.STAFF_MEMBER: lambda k, info: k.desk.open_member(info),
    IntentKind.HANDS_FREE: lambda k, info: k.desk.toggle_hands_free(info),
    IntentKind.RX_STEP: lambda k, thing_step: k.desk.step_dose(*thing_step),
    IntentKind.RX_ACCEPT: lambda k, _: k.desk.accept(),
    IntentKind.RX_SAVE: lambda k, _: k.desk.override(),
    IntentKind.PIN_DIGIT: lambda k, digit: k.ui.pin.press(digit),
    IntentKind.PIN_CLEAR: lambda k, _: k.ui.pin.clear(),
    IntentKind.PIN_OK: lambda k, _: k._pin_ok(),
    IntentKind.NEW_PIN_DIGIT: Kiosk._new_pin_digit,
    IntentKind.NEW_PIN_CLEAR: lambda k, _: k._new_pin_clear(),
    IntentKind.NEW_PIN_OK: lambda k, _: k._new_pin_ok(),
    IntentKind.EXPORT_START: lambda k, _: k._call_export(k.export.start),
    IntentKind.EXPORT_DISMISS: lambda k, _: k._call_export(k.export.dismiss),
}


def check_handlers(handlers: dict[IntentKind, Callable]) -> None:
    """Every intent kind has its handler: a new kind without one stops the kiosk from starting,
    instead of becoming a button that does nothing."""
    unhandled = set(IntentKind) - set(handlers)
    if unhandled:
        raise TypeError(f"no handler for {sorted(k.name for k in unhandled)}: add one to app.ui.kiosk.HANDLERS")


check_handlers(HANDLERS)
