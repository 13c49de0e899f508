"""The kiosk process: the display, the program library, the session store, the station rig,
the Export screen's controller and the main loop, started in that order and closed in reverse."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path

from ..errors import UserError

log = logging.getLogger("backstep.kiosk")

# pygame prints a banner on import; the kiosk's output goes to the journal.
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


def display_hint(error) -> str:
    """One line for a display that will not open: what SDL said and what to try."""
    driver = os.environ.get("SDL_VIDEODRIVER", "")
    return (f"cannot open the display ({error}; SDL_VIDEODRIVER={driver or '(not set)'}); on the station "
            "check that the screen is connected and /dev/dri exists and that the user is in the video and "
            "render groups; on a desktop run with --windowed; with no screen at all use SDL_VIDEODRIVER=dummy")


def open_display(size: tuple[int, int] | None, fullscreen: bool):
    """Open the window (or the whole screen). The video driver is SDL's or the environment's."""
    import pygame

    try:
        pygame.display.init()  # fails here when SDL has no such video driver or no device for it
    except pygame.error as exc:
        raise UserError(display_hint(exc)) from None
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
        raise UserError(display_hint(exc)) from None
    pygame.display.set_caption("Backstep")
    pygame.mouse.set_visible(not fullscreen)
    return screen


def notifier():
    """systemd's notify socket (a silent no-op outside systemd), or None if it cannot be used."""
    from ..shell.systemd import Notifier

    try:
        return Notifier.from_environment()
    except Exception as exc:  # noqa: BLE001 - systemd trouble must never stop the kiosk
        log.warning("systemd notify unavailable: %s", exc)
        return None


def after_ready(waker, kiosk, rig, data, export=None):
    """What the kiosk's start leaves until the first frame is up (READY=1): the prewarm of the
    safety lines' speech and the safety screens (in steps on the loop), then the session stats and the member store, whose modules
    and sqlite-utils are imported on a worker thread first, then the USB stick watcher, and last
    the database's full check (docs/architecture.md, "Start-up")."""
    from ..shell.db_check import LateCheck
    from .after_ready import AfterReady

    def import_store_modules() -> None:
        # Off the loop's thread: the imports, and sqlite-utils' scan of the installed packages for
        # its plug-ins, which it would otherwise do when the loop first makes a Database.
        from sqlite_utils.plugins import ensure_plugins_loaded

        from ..shell import history, members  # noqa: F401

        ensure_plugins_loaded()

    def import_pin_hashing() -> None:
        # app.ui.pin leaves these until a PIN is checked (OpenSSL's load is ~3 ms); done here, so
        # the first PIN typed does not pay for it on the loop's thread.
        import hashlib  # noqa: F401
        import hmac  # noqa: F401

    def import_usb() -> None:
        from ..shell import usb  # noqa: F401

    def open_members() -> None:
        data.open()
        kiosk.refresh_data()

    work = AfterReady(waker.wake)
    work.add("safety speech and screens prewarm", finish=kiosk.prewarm_steps)
    work.add("session stats", prepare=import_store_modules, finish=rig.keep_stats)
    work.add("member store", finish=open_members)
    work.add("staff PIN hashing", prepare=import_pin_hashing)
    if export is not None:
        work.add("USB stick watcher", prepare=import_usb, finish=export.watch)
    store = data.store
    if store is not None and not store.full_check:
        # Last: it reads the whole file (seconds on a Pi with years of history) and nothing waits
        # for it. What it finds goes into the store's notices on the loop's thread.
        check = LateCheck(store.path)
        work.add("database full check", prepare=check.run, finish=lambda: check.report(store.notices))
    return work


class KioskApp:
    """The kiosk process: library, store, station rig, display and the loop.

    :param startup: the start-up record (:func:`app.shell.resilience.begin_startup`): the config,
        a service screen when the config is broken, safe mode after failed starts.
    :param db_path: the session database.
    :param size: the window size, or ``None`` for the display's own (fullscreen) or 1280x800.
    :param fullscreen: fill the screen (the appliance) or open a window (development).
    :param program: a program id or file whose checklist opens at start.
    :param sim: build the simulated station (keyboard: L lanyard, R rails, C cable).
    :param sim_control: with *sim*, the path of a sim-control socket.
    """

    def __init__(self, startup, db_path: str | os.PathLike, *, size: tuple[int, int] | None = None,
                 fullscreen: bool = True, program: str | None = None, sim: bool = False,
                 sim_control: str | None = None):
        self.startup = startup
        self.config = startup.config
        self.db_path = Path(db_path)
        self.size = size
        self.fullscreen = fullscreen
        self.program = program
        self.sim = sim
        self.sim_control = sim_control

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
        from ..shell.store import Store, StoreError

        try:
            # The full check reads every page: it waits until after READY=1 (after_ready above).
            store = Store(self.db_path, station_id=self.config.station.id, full_check=False)
        except StoreError as exc:
            # A station that cannot store still runs safely; the staff screen and log say why.
            log.error("sessions will not be saved: %s", exc)
            print(f"backstep: sessions will not be saved: {exc}", file=sys.stderr)
            return None
        for notice in store.notices:  # also on the staff Sensors page (StoreData.database_note)
            log.warning("%s", notice)
        return store

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
        from ..core.events import ProgramChosen
        from ..shell.staff_pin import kiosk_pin
        from ..ui.audio import Sounds, Volume
        from ..ui.kiosk import Kiosk
        from ..ui.speech import Speaker
        from .data import StoreData
        from .mainloop import Waker, loop, wake_on_signals
        from .rig import Rig
        from .usb_export import UsbExport

        config = self.config
        library = self._library()
        service = self.startup.service
        # A service screen starts nothing: the station is not configured to run safely.
        program = library.resolve(self.program) if self.program and service is None else None
        store = self._store()
        stop_asked: list[bool] = []
        ended_cleanly = False
        waker = Waker()

        def script_ended() -> None:  # `end` on the sim-control socket
            stop_asked.append(True)
            waker.wake()

        try:
            rig = Rig(config, store, sim=self.sim, sim_control=self.sim_control, on_end=script_ended,
                      keep_stats=False)
        except BaseException:
            if store is not None:
                store.close()
            raise
        station = rig.station
        notify = notifier()
        try:
            export = UsbExport(config, self.db_path, waker.wake, watch=False)
            rig.extras.append(export)
            # Kept beside the database: the one place the kiosk may write (the config is root's).
            volume = Volume(config.kiosk.volume, saved=Path(self.db_path).parent / "volume.json")
            # An installed station never runs with the factory PIN (docs/config.md, "The staff PIN").
            pin_hash, save_pin = kiosk_pin(config, Path(self.db_path), simulated=bool(rig.sim))
            data = StoreData(library.programs, store, config.safety.caps, library, lazy=True,
                             hub=bool(config.hub.dsn or config.hub.dsn_file))
            kiosk = Kiosk(screen.get_size(), station.post, data=data,
                          export=export, pin_hash=pin_hash, save_pin=save_pin,
                          fullscreen=self.fullscreen, export_requires_pin=config.export.require_pin,
                          sounds=Sounds(assets / "sounds", enabled=config.kiosk.sound, volume=volume),
                          speaker=Speaker(enabled=config.kiosk.speech, volume=volume), fonts=fonts,
                          config_source=config.source, banner=self.startup.banner,
                          service=(service.title, tuple(service.messages), service.hint) if service else None)
            station.add_listener(kiosk.on_effect)
            station.wakeup = waker.wake
            signal.signal(signal.SIGTERM, lambda *_: stop_asked.append(True))
            wake_on_signals(waker)
            if program is not None:
                station.post(ProgramChosen(program))
            if rig.sim:
                print("backstep: simulated station: L = lanyard, R = rails, C = treadmill cable; "
                      "Escape asks for the staff PIN (default 0000)", file=sys.stderr)
            loop(station, kiosk, screen, notify, stop_asked, rig, waker=waker, startup=self.startup,
                 after_ready=after_ready(waker, kiosk, rig, data, export))
            ended_cleanly = True
        finally:
            if notify is not None and stop_asked:
                notify.stopping("stopping: belt told to stop")
            try:
                if ended_cleanly:
                    station.shutdown()   # systemd, `end` or staff: the session ends as stopped
                else:
                    # An error ended the loop: the belt is told to stop and the session is kept as
                    # interrupted, so its record says the kiosk failed rather than shut down.
                    station.interrupt(station.clock(), "the kiosk stopped on an error (see the journal)")
            finally:
                rig.close()
                if store is not None:
                    store.close()
        return 0
