"""``backstep run``: the kiosk. Composition root: builds the station, the devices and the UI.

The loop sleeps in ``pygame.event.wait`` until something happens: a touch, a sensor event (the
station's ``wakeup`` posts a pygame event from the sensor thread), the next core timer, the next
second ticking over on screen, or the systemd watchdog. Nothing polls, so the home screen costs
next to no CPU and a safety state is drawn in the first frame after its event.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time

from ..errors import UserError

log = logging.getLogger("backstep.kiosk")

# pygame prints a banner on import; the kiosk's output goes to the journal.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

#: Longest sleep with nothing due: keeps the loop alive for signals and a late-attached watchdog.
IDLE_WAIT_S = 5.0
#: How often SDL's event queue is looked at while asleep: a touch is handled within this time
#: (well under the ~100 ms at which a button starts to feel slow). Sensor events never wait for it.
INPUT_POLL_S = 0.04
#: The same after IDLE_AFTER_S without a touch: the first touch after a quiet spell may take up to
#: 100 ms (about where a tap starts to feel slow), and the idle station wakes less than half as
#: often; those wake-ups are nearly all of its CPU use.
IDLE_POLL_S = 0.1
#: On calm screens (home, checklist, summary, staff pages) after IDLE_AFTER_S without a touch. Every
#: wake-up costs CPU on a Pi; the kiosk spends most of the day on the home screen. A first touch
#: there waits at most this long (SDL keeps it queued); Stop and Pause never do (IDLE_POLL_S).
CALM_POLL_S = 0.25
#: How often the USB watcher looks at the mount table when the kernel has not woken it.
USB_FALLBACK_POLL_S = 15.0
IDLE_AFTER_S = 5.0


def register(subparsers) -> None:
    p = subparsers.add_parser("run", help="run the kiosk (fullscreen touchscreen station)",
                              description="Run the station's touchscreen kiosk. Fullscreen at the display's own size "
                                          "unless --windowed. --sim builds a simulated station driven by the keyboard: "
                                          "L lanyard, R rails, C treadmill cable.")
    p.add_argument("--sim", action="store_true", help="simulated sensors and treadmill (no Pi needed)")
    p.add_argument("--windowed", action="store_true", help="a window instead of fullscreen (development)")
    p.add_argument("--program", metavar="ID|FILE", help="open this program's checklist at start")
    p.add_argument("--sim-control", metavar="PATH", help="with --sim: a Unix socket taking script commands "
                                                         "('rails released', 'tap start')")
    p.add_argument("--size", metavar="WxH", help="window size, e.g. 800x480 (default: the display's size)")
    p.add_argument("--db", metavar="FILE", help="session database (default: $BACKSTEP_DB or the usual place)")
    p.set_defaults(func=run_command)


def parse_size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    try:
        w, h = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise UserError(f"--size {text!r}: use WIDTHxHEIGHT, e.g. 800x480") from None
    if not (320 <= w <= 7680 and 240 <= h <= 4320):
        raise UserError(f"--size {text}: use a size between 320x240 and 7680x4320")
    return w, h


# --- data for the UI ---------------------------------------------------------------------------


class StoreData:
    """The program library and the session store, as the UI's :class:`app.ui.data.StationData`."""

    def __init__(self, programs, store=None, caps=None, library=None):
        self._programs = list(programs)
        self._library = library
        self.store = store
        self._members = None
        if store is not None:
            try:
                from ..shell.members import Members

                self._members = Members(store, caps)
            except Exception as exc:  # noqa: BLE001 - no member list: everyone walks as a guest
                log.warning("members unavailable: %s", exc)

    def programs(self):
        return self._programs

    def programs_note(self) -> str:
        """The library's one line about program files left out (the staff Programs page)."""
        return self._library.skipped_note() if self._library is not None else ""

    def members(self):
        return self._members.core_members() if self._members is not None else []

    def history(self, member):
        """The member's (or everyone's) history for the screen: one indexed query over the kept
        per-session stats (``app.shell.history``), never a scan of samples."""
        from ..ui.data import HistoryData

        if self.store is None:
            return HistoryData(name=member.name if member else "")
        from ..shell.history import History

        units, goal = (member.units if member else "mph"), None
        if member is not None and self._members is not None:
            try:
                record = self._members.get(member.id)
                units, goal = record.units, record.goal_per_week
            except Exception as exc:  # noqa: BLE001 - a guest-like member still gets a history
                log.warning("member %s: %s", member.id, exc)
        history = History(self.store).member_history(member.id if member else None, units=units, goal_per_week=goal)
        return history_data(history, member.name if member else "")

    # --- members (app.ui.data.MemberData) -------------------------------------------------------

    def _need_members(self):
        if self._members is None:
            raise UserError("no member store on this station (sessions are not being saved)")
        return self._members

    def search(self, text):
        return [m.core() for m in self._need_members().search(text)]

    def program_for(self, member):
        return self._need_members().program_for(member.id, self._library)

    def suggestion(self, member):
        members = self._need_members()
        return suggestion_data(members, members.suggestion(member.id))

    def member_infos(self):
        from ..ui.data import MemberInfo

        return [MemberInfo(r.core(), r.code, r.hands_free_allowed, r.program_id, r.goal_per_week)
                for r in self._need_members().list()]

    def set_hands_free(self, member, allowed):
        self._need_members().update(member.id, hands_free=bool(allowed))

    def accept(self, member, by):
        members = self._need_members()
        return suggestion_data(members, members.accept(member.id, by))

    def add_member(self, name, code, units):
        return self._need_members().add(name, code=code, units=units).core()

    def override(self, member, by, dose):
        members = self._need_members()
        return suggestion_data(members, members.override(member.id, by, speed=dose.speed, minutes=dose.minutes,
                                                         incline=dose.incline))


def history_data(history, name: str):
    """``app.shell.history.MemberHistory`` as the UI's plain :class:`app.ui.data.HistoryData`
    (speeds in the history's units)."""
    from datetime import date as _date_cls
    from datetime import datetime as _dt

    from ..core.units import from_kmh
    from ..ui.data import HistoryData, HistorySession, HistoryWeek

    units = history.units or "mph"

    def monday(iso: str) -> float:
        day = _date_cls.fromisoformat(iso)
        return _dt(day.year, day.month, day.day).timestamp()

    sessions = tuple(HistorySession(
        started_at=p.started_wall, program=p.program_name, active_seconds=p.active_seconds, status=p.status,
        top_speed=round(from_kmh(p.top_backward_speed_kmh or 0.0, units), 2), pain_before=p.pain_before,
        pain_after=p.pain_after, hands_free_share=p.hands_free_share, early_releases=p.early_releases)
        for p in history.sessions)
    weeks = tuple(HistoryWeek(monday(w.week_start), w.sessions, w.minutes, w.goal) for w in history.weeks)
    return HistoryData(name=name, units=units, goal_per_week=history.goal_per_week, sessions=sessions, weeks=weeks)


def suggestion_data(members, stored):
    """``app.shell.members.StoredSuggestion`` as the UI's :class:`app.ui.data.SuggestionData`, with
    the ceilings the staff page's +/- buttons may reach (the therapist's limits and the caps)."""
    if stored is None:
        return None
    from ..core.units import from_kmh
    from ..ui.data import DoseData, SuggestionData

    record = members.get(stored.member_id)
    units = record.units
    caps = members.station_caps.tightened(record.caps)

    def dose(d):
        return None if d is None else DoseData(round(from_kmh(d.speed_kmh, units), 1), d.minutes, d.incline_pct)

    limits = record.limits
    # Hand-set values may go past the default targets up to the therapist's limits and the caps;
    # with no limit set, the caps (speed, incline) or the station's maximum minutes.
    top_speed = limits.max_speed_kmh if limits.max_speed_kmh is not None else caps.backward_speed_kmh
    top_speed = min(top_speed, caps.backward_speed_kmh)
    top_incline = limits.max_incline_pct if limits.max_incline_pct is not None else caps.backward_incline_pct
    top_incline = min(top_incline, caps.backward_incline_pct, record.cap_incline_pct
                      if record.cap_incline_pct is not None else caps.backward_incline_pct)
    from ..shell.members import MAX_MINUTES

    top_minutes = limits.max_minutes if limits.max_minutes is not None else MAX_MINUTES
    return SuggestionData(
        action=stored.action, what=stored.what, reasons=tuple((r.get("key", ""), dict(r.get("params") or {}), r.get("text", ""))
                                                           for r in stored.reasons),
        current=dose(stored.current), next=dose(stored.next), units=units, status=stored.status,
        decided_by=stored.decided_by, final=dose(stored.final),
        max_speed=int(from_kmh(top_speed, units) * 10 + 1e-6) / 10, max_minutes=float(top_minutes),
        max_incline=float(top_incline))


def export_controller(config, db_path, wake):
    """The Export screen's controller: the export issue's own (``app.shell.export.KioskExport``) when
    it exists, else :class:`UsbExport` over its stick watcher and export job, else none."""
    try:
        from ..shell.export import KioskExport  # noqa: F401 - preferred when the export issue ships one
    except ImportError:
        pass
    else:
        return KioskExport(config, db_path, wake)
    try:
        return UsbExport(config, db_path, wake)
    except ImportError as exc:
        log.warning("USB export unavailable: %s", exc)
        from ..ui.data import NoExport

        return NoExport()


class UsbExport:
    """:class:`app.ui.data.ExportController` on the station's USB handling: a thread watches the mount
    table for sticks (``app.shell.usb``), :meth:`start` runs an ``ExportJob`` on its own thread, then
    unmounts the stick so the screen can say it is safe to remove."""

    def __init__(self, config, db_path, wake=None, *, mountinfo: str | None = None, unmount=None):
        from ..shell.export import ExportJob
        from ..shell.usb import StickInserted, StickRemoved, StickWatcher
        from ..shell.usb import unmount as real_unmount
        from ..ui.data import ExportStatus

        self._job_cls, self._unmount = ExportJob, unmount or real_unmount
        self._inserted, self._removed = StickInserted, StickRemoved
        self._blank = ExportStatus
        self.config = config
        self.db_path = db_path
        self.wake = wake or (lambda: None)
        self.watcher = (StickWatcher(config.export.mount_dir, mountinfo) if mountinfo
                        else StickWatcher(config.export.mount_dir))
        self._lock = threading.Lock()
        self._status = ExportStatus()
        self._stick = None
        self._stop = threading.Event()
        threading.Thread(target=self._watch, name="backstep-usb-watch", daemon=True).start()

    def _set(self, **changes) -> None:
        from dataclasses import replace

        with self._lock:
            self._status = replace(self._status, **changes)
        self.wake()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                # The kernel wakes this at once on any mount change (POLLPRI on mountinfo); the
                # timeout is only a fallback, kept long because every wake-up costs an idle Pi CPU.
                # A mount table that is a plain file (tests, some containers) never signals POLLPRI.
                live = str(self.watcher.mountinfo).startswith("/proc/")
                changes = self.watcher.wait(USB_FALLBACK_POLL_S if live else 2.0)
            except OSError as exc:
                log.warning("USB watch: %s", exc)
                self._stop.wait(5.0)
                continue
            for change in changes:
                if isinstance(change, self._inserted):
                    self._stick = change.stick
                    if self._status.state in ("no_stick", "done", "error"):
                        self._set(state="detected", stick=change.stick.name, progress=0.0, error="", detail="")
                elif isinstance(change, self._removed) and self._stick is not None \
                        and change.stick.path == self._stick.path:
                    self._stick = None
                    if self._status.state == "exporting":
                        self._set(state="error", error="removed", detail="")
                    elif self._status.state != "done":
                        self._set(state="no_stick", stick="")

    def status(self):
        with self._lock:
            return self._status

    def start(self) -> None:
        stick = self._stick
        if stick is None or self._status.state != "detected":
            return
        self._set(state="exporting", progress=0.0, sessions=0)
        threading.Thread(target=self._run, args=(stick,), name="backstep-export", daemon=True).start()

    def _run(self, stick) -> None:
        from .export import chart_png

        job = self._job_cls(self.db_path, stick.path, self.config, charts=chart_png)
        result = job.run(on_progress=lambda done, total: self._set(progress=done / total if total else 0.0))
        if not result.ok:
            self._set(state="error", error=export_error_kind(result.message), detail=result.message)
            return
        unmounted = self._unmount(stick.path)
        if unmounted.ok:
            self._set(state="done", progress=1.0, sessions=result.sessions)
        else:
            self._set(state="error", error="other", detail=unmounted.message)

    def dismiss(self) -> None:
        if self._status.state in ("done", "error"):
            self._set(state="detected" if self._stick is not None else "no_stick", error="", detail="", progress=0.0)

    def close(self) -> None:
        self._stop.set()


def export_error_kind(message: str) -> str:
    """The plain-words error for an exporter's one-line message (app.ui.data.EXPORT_ERRORS)."""
    text = message.lower()
    if "no space" in text or "full" in text:
        return "full"
    if "read-only" in text or "write-protect" in text or "readonly" in text:
        return "readonly"
    if "removed" in text or "no such device" in text or "not mounted" in text:
        return "removed"
    return "other"


def notifier():
    try:
        from ..shell.systemd import Notifier
    except ImportError:
        return None
    try:
        return Notifier.from_environment()
    except Exception as exc:  # noqa: BLE001 - systemd trouble must never stop the kiosk
        log.warning("systemd notify unavailable: %s", exc)
        return None


# --- the station -------------------------------------------------------------------------------


class Rig:
    """Everything outside the UI: station, sensors, treadmill link, simulation. Closed in reverse."""

    def __init__(self, config, args, store=None, clock=time.monotonic, on_end=None):
        from ..shell.loop import Station

        self.config = config
        self.sim = None
        self.sensors = None
        self.link = None
        self.server = None
        self.cable_pulled = False  # the simulated treadmill cable, toggled by the C key
        self.extras: list = []     # more things to close with the station (the USB watcher)
        sim_wanted = bool(getattr(args, "sim", False))
        if getattr(args, "sim_control", None) and not sim_wanted:
            raise UserError("--sim-control needs --sim (it drives the simulated station)")
        treadmill = None
        if sim_wanted:
            from ..shell.devices import simulated_station

            self.sim = simulated_station(config)
        self.station = Station(config, store, clock=clock, link=None)
        post = self.station.post
        try:
            from ..shell.devices import attach_sensors, attach_treadmill

            factory = self.sim.pin_factory if self.sim else None
            self.sensors = attach_sensors(config, post, factory)
            if self.sim:
                self.sim.resync()
            port = self.sim.treadmill_port if self.sim else None
            if config.treadmill.mode == "csafe":
                self.link = attach_treadmill(config, post, port=port, sensors=self.sensors)
                treadmill = self.link
        except Exception as exc:
            self.close()
            raise UserError(f"cannot start the station hardware: {exc}") from None
        if treadmill is not None:
            self.station.attach_treadmill(treadmill)
        elif self.sensors is not None and self.sensors.belt is None:
            # Cue mode with no belt sensor: nothing reports the belt, so the rails' stuck-sensor
            # check learns from what the station commands (the person sets the speed by hand).
            self.station.add_listener(belt_commands_to_rails(self.sensors.rails))
        if store is not None:
            from ..shell.history import attach_stats

            # Keep each closed session's stats (hands-free share, early releases, top speed) at
            # once, so the history screen and the suggestion after the session can use them.
            attach_stats(self.station, store)
        sim_control = getattr(args, "sim_control", None)
        if sim_control:
            from ..shell.simcontrol import SimControlServer

            try:
                self.server = SimControlServer(sim_control, self.sim, post, on_end=on_end,
                                               status=lambda: self.station.view().status_line,
                                               settled=self.sensors.wait_settled).start()
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        for part in (*self.extras, self.server, self.link, self.sensors, self.sim):
            closer = getattr(part, "close", None)
            if closer is not None:
                try:
                    closer()
                except Exception as exc:  # noqa: BLE001
                    log.warning("closing %s: %s", type(part).__name__, exc)


def belt_commands_to_rails(rails):
    """A station listener for cue mode: ``SetBelt`` (speed above zero) tells the rail sensors the
    belt is running, ``StopBelt`` that it is not (their stuck-sensor check needs to know)."""
    from ..core.effects import SetBelt, StopBelt

    def on_effect(effect) -> None:
        if isinstance(effect, SetBelt):
            rails.note_belt_running(effect.speed_kmh > 0)
        elif isinstance(effect, StopBelt):
            rails.note_belt_running(False)

    return on_effect


def sim_key(rig: Rig, key) -> bool:
    """Keyboard drive of the simulated person: L lanyard, R rails, C cable. True when used."""
    import pygame

    sim = rig.sim
    if sim is None:
        return False
    try:
        if key == pygame.K_l:
            sim.pull_lanyard() if sim.lanyard_clipped else sim.clip_lanyard()
        elif key == pygame.K_r:
            sim.release_rails() if all(sim.rails_held) else sim.hold_rails()
        elif key == pygame.K_c and sim.treadmill is not None:
            sim.plug_cable() if rig.cable_pulled else sim.pull_cable()
            rig.cable_pulled = not rig.cable_pulled
        else:
            return False
    except Exception as exc:  # noqa: BLE001 - a sim hiccup is a message, not a crash
        log.warning("simulation: %s", exc)
    return True


def open_display(size, fullscreen: bool):
    """Open the window (or the whole screen). The video driver is SDL's or the environment's."""
    import pygame

    pygame.display.init()
    pygame.font.init()
    flags = 0
    if fullscreen:
        flags |= pygame.FULLSCREEN
        if size is None:
            size = (0, 0)  # the display's native size
    elif size is None:
        size = (1280, 800)
    try:
        screen = pygame.display.set_mode(size, flags)
    except pygame.error as exc:
        raise UserError(f"cannot open the display ({exc}); set SDL_VIDEODRIVER or run with --windowed") from None
    pygame.display.set_caption("Backstep")
    pygame.mouse.set_visible(not fullscreen)
    return screen


def run_command(args) -> int:
    from ..shell.systemd import setup_logging

    setup_logging("backstep")  # the journal under systemd (with fields), else stderr
    size = parse_size(getattr(args, "size", None))
    startup = begin(args)
    config = startup.config
    fullscreen = config.kiosk.fullscreen and not args.windowed
    return KioskApp(config, args, size, fullscreen, startup).run()


class PlainStart:
    """The start-up record when app.shell.resilience is not there: the config as loaded, no service
    screen, no safe mode."""

    service = None
    banner = ""

    def __init__(self, config):
        self.config = config

    def status_line(self, view_status: str) -> str:
        return view_status

    def ready(self) -> None:
        pass


def begin(args):
    """Load the config through the station's start-up guard (issue 6: a broken config gives a service
    screen, two failed starts give safe mode) when it is installed."""
    try:
        from ..shell.resilience import begin_startup
    except ImportError:
        from ..config import load_config

        return PlainStart(load_config(getattr(args, "config", None)))
    return begin_startup(getattr(args, "config", None), getattr(args, "db", None))


class KioskApp:
    """The kiosk process: library, store, station rig, display and the loop."""

    def __init__(self, config, args, size, fullscreen, startup=None):
        self.config = config
        self.args = args
        self.size = size
        self.fullscreen = fullscreen
        self.startup = startup or PlainStart(config)

    def _library(self):
        from ..core.program import Problem
        from ..shell.library import Library, load_library

        try:
            library = load_library(self.config)
        except Exception as exc:  # noqa: BLE001 - no program file may stop the kiosk from starting
            log.error("program library could not be read: %s", exc)
            library = Library(problems=(Problem("programs", None, "library", f"could not be read ({exc})"),))
        for problem in library.problems:
            log.warning("program library: %s", problem)
        return library

    def _store(self):
        from .common import open_store

        try:
            return open_store(self.args, self.config, quiet=True)
        except UserError as exc:
            # A station that cannot store still runs safely; the staff screen and log say why.
            log.error("sessions will not be saved: %s", exc)
            print(f"backstep: sessions will not be saved: {exc}", file=sys.stderr)
            return None

    def run(self) -> int:
        import pygame

        from ..paths import assets_dir
        from ..ui.draw import splash
        from ..ui.theme import Fonts

        assets = assets_dir()
        fonts = Fonts(assets / "fonts")
        screen = open_display(self.size, self.fullscreen)
        try:
            # Something on the glass at once: the rest of start-up (database, sensors, treadmill
            # link) takes seconds on a Pi, and a black screen looks broken.
            splash(screen, fonts)
            pygame.display.flip()
            return self._run(screen, fonts, assets)
        finally:
            pygame.quit()

    def _run(self, screen, fonts, assets) -> int:
        from ..ui.audio import Sounds, Speaker
        from ..ui.kiosk import Kiosk
        from .common import db_path_from

        library = self._library()
        service = self.startup.service
        # A service screen starts nothing: the station is not configured to run safely.
        program = library.resolve(self.args.program) if self.args.program and service is None else None
        store = self._store()
        stop_asked: list[bool] = []
        waker = Waker()

        def script_ended() -> None:  # `end` on the sim-control socket
            stop_asked.append(True)
            waker.wake()

        try:
            rig = Rig(self.config, self.args, store, on_end=script_ended)
        except BaseException:
            if store is not None:
                store.close()
            raise
        station = rig.station
        notify = notifier()
        try:
            export = export_controller(self.config, db_path_from(self.args, self.config), waker.wake)
            rig.extras.append(export)
            kiosk = Kiosk(screen.get_size(), station.post, data=StoreData(library.programs, store, self.config.safety.caps, library),
                          export=export, pin_hash=self.config.kiosk.staff_pin_hash,
                          fullscreen=self.fullscreen, export_requires_pin=self.config.export.require_pin,
                          sounds=Sounds(assets / "sounds", enabled=self.config.kiosk.sound),
                          speaker=Speaker(enabled=self.config.kiosk.speech), fonts=fonts,
                          config_source=self.config.source, banner=self.startup.banner,
                          service=(service.title, tuple(service.messages), service.hint) if service else None)
            station.add_listener(kiosk.on_effect)
            station.wakeup = waker.wake
            signal.signal(signal.SIGTERM, lambda *_: stop_asked.append(True))
            wake_on_signals(waker)
            if program is not None:
                from ..core.events import ProgramChosen

                station.post(ProgramChosen(program))
            if rig.sim:
                print("backstep: simulated station: L = lanyard, R = rails, C = treadmill cable; "
                      "Escape asks for the staff PIN (default 0000)", file=sys.stderr)
            loop(station, kiosk, screen, notify, stop_asked, rig, waker=waker, startup=self.startup)
        finally:
            if notify is not None and stop_asked:
                notify.stopping("stopping: belt told to stop")
            try:
                station.shutdown()
            finally:
                rig.close()
                if store is not None:
                    store.close()
        return 0


def wake_on_signals(waker: "Waker") -> None:
    """Make SIGTERM wake the loop at once. Python runs signal handlers only between bytecodes; the
    C-level handler writes to a wakeup pipe right away, and this thread sets the loop's waker."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

    def relay() -> None:
        while True:
            try:
                if not os.read(read_fd, 64):
                    return
            except OSError:
                return
            waker.wake()

    threading.Thread(target=relay, name="backstep-signal-wake", daemon=True).start()


class Waker:
    """What the loop sleeps on. Sensor threads (through ``Station.wakeup``) and signals set it, so a
    safety event ends the sleep at once."""

    def __init__(self):
        self._event = threading.Event()

    def wake(self) -> None:
        self._event.set()

    def wait(self, timeout: float) -> bool:
        woken = self._event.wait(timeout)
        if woken:
            # Clear only after a wake: clearing after a timeout could swallow a wake that landed
            # between the timeout and the clear, and the loop would then sleep through it. A wake
            # merged into this one is still seen: posters queue their event before waking.
            self._event.clear()
        return woken


def sleep_until_something(waker: Waker, timeout: float, poll_s: float = INPUT_POLL_S) -> list:
    """Sleep up to *timeout* s; return early with the SDL events, or when the waker is set.

    pygame's ``event.wait`` is a 1 kHz polling loop inside (pygame re-implements SDL's wait), which
    alone costs several % of a core. Instead the loop sleeps on the waker and looks at SDL's queue
    every INPUT_POLL_S: touches are seen within that time, sensor events at once.
    """
    import pygame

    end = time.monotonic() + timeout
    while True:
        events = pygame.event.get()
        if events:
            return events
        left = end - time.monotonic()
        if left <= 0:
            return []
        if waker.wait(min(left, poll_s)):
            return pygame.event.get()


def loop(station, kiosk, screen, notify, stop_asked, rig=None, *, max_frames: int | None = None,
         on_frame=None, waker: Waker | None = None, startup=None) -> int:
    """Run until the kiosk asks to quit (staff exit) or SIGTERM. Returns the number of frames drawn."""
    import pygame

    from ..core.view import ACTIVE_SCREENS, SAFETY_SCREENS

    pygame.event.set_blocked([pygame.MOUSEMOTION, pygame.FINGERMOTION])  # motion wakes for nothing
    if waker is None:
        waker = Waker()
        station.wakeup = waker.wake
    startup = startup or PlainStart(None)
    frames = 0
    last_input = time.monotonic()
    ready_sent = False
    last_status = None
    last_screen = None
    watchdog_s = notify.watchdog_interval_s if notify is not None else 0.0
    while not kiosk.quit_requested and not stop_asked:
        station.process()
        now = station.clock()
        view = station.view(now)
        kiosk.update(view, now)
        if kiosk.needs_frame():
            kiosk.render(screen)
            pygame.display.flip()
            frames += 1
            if on_frame is not None:
                on_frame(frames)
            if not ready_sent:
                ready_sent = True
                if notify is not None:
                    notify.ready(startup.status_line(view.status_line))
                startup.ready()  # this start got going: reset the failed-start count
                kiosk.prewarm()  # after READY: the e-stop screen's first frame is then only blits
        status = startup.status_line(view.status_line)
        if notify is not None:
            notify.watchdog()
            if status != last_status:
                notify.status(status)
        if view.screen is not last_screen:
            # One journal line per state change, with fields to filter on (journalctl STATE=estop).
            session_id = station.session_id or station.last_session_id
            log.info("%s", status, extra={"STATE": view.screen.value, "SESSION_ID": session_id or ""})
            last_screen = view.screen
        last_status = status
        if max_frames is not None and frames >= max_frames:
            break
        if time.monotonic() - last_input < IDLE_AFTER_S:
            poll_s = INPUT_POLL_S
        elif view.screen in ACTIVE_SCREENS or view.screen in SAFETY_SCREENS:
            poll_s = IDLE_POLL_S
        else:
            poll_s = CALM_POLL_S
        events = sleep_until_something(waker, _wait_s(station, kiosk, now, watchdog_s), poll_s)
        if events:
            last_input = time.monotonic()
        for event in events:
            if event.type == pygame.KEYDOWN and rig is not None and sim_key(rig, event.key):
                continue
            kiosk.handle(event, station.clock())
    return frames


def _wait_s(station, kiosk, now: float, watchdog_s: float) -> float:
    due = [d for d in (station.next_deadline(), kiosk.next_redraw()) if d is not None]
    wait = min(due) - now if due else IDLE_WAIT_S
    if watchdog_s > 0:
        wait = min(wait, watchdog_s)
    return min(IDLE_WAIT_S, max(0.001, wait))
