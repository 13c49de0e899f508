"""The kiosk's main loop: the one thread that owns state (docs/architecture.md).

The loop sleeps until something happens: a touch, a sensor event (the station's ``wakeup`` sets the
:class:`Waker` from the sensor thread), the next core timer, the next second ticking over on
screen, or the systemd watchdog. Nothing polls fast, so the home screen costs next to no CPU and a
safety state is drawn in the first frame after its event. Each pass feeds the station's events to
the core (hardware events ahead of taps), draws, and then handles a bounded number of screen
events, so no flood of touches can hold a stop back.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import deque

import pygame

from ..core.view import ACTIVE_SCREENS, SAFETY_SCREENS
from .rig import Rig, sim_key

log = logging.getLogger("backstep.kiosk")

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
IDLE_AFTER_S = 5.0
#: Screen events handled per loop pass at most: the station's hardware events are fed to the core
#: between passes, so thousands of queued touches cannot hold a stop back (docs/safety.md, rule 2).
SCREEN_EVENTS_PER_PASS = 32
#: Screen events read but not yet handled, at most. More than this is a flood (a stuck or hostile
#: touch panel): the surplus touches are dropped and counted; keys and window events are kept.
SCREEN_BACKLOG = 256


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


def sleep_until_something(waker: Waker, timeout: float, poll_s: float = INPUT_POLL_S) -> list:
    """Sleep up to *timeout* s; return early with the SDL events, or when the waker is set.

    pygame's ``event.wait`` is a 1 kHz polling loop inside (pygame re-implements SDL's wait), which
    alone costs several % of a core. Instead the loop sleeps on the waker and looks at SDL's queue
    every INPUT_POLL_S: touches are seen within that time, sensor events at once.
    """
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


def loop(station, kiosk, screen, notify, stop_asked, rig: Rig | None = None, *, max_frames: int | None = None,
         on_frame=None, waker: Waker | None = None, startup=None) -> int:
    """Run until the kiosk asks to quit (staff exit) or SIGTERM. Returns the number of frames drawn.

    :param startup: the start-up record (:class:`app.shell.resilience.Startup`): it words the
        status line in safe mode and is told when the first frame is up; ``None`` for neither.
    """
    pygame.event.set_blocked([pygame.MOUSEMOTION, pygame.FINGERMOTION])  # motion wakes for nothing
    if waker is None:
        waker = Waker()
        station.wakeup = waker.wake
    frames = 0
    last_input = time.monotonic()
    ready_sent = False
    last_status = None
    last_screen = None
    watchdog_s = notify.watchdog_interval_s if notify is not None else 0.0
    backlog = ScreenBacklog()
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
                    notify.ready(status_line(startup, view))
                if startup is not None:
                    startup.ready()  # this start got going: reset the failed-start count
                kiosk.prewarm()  # after READY: the e-stop screen's first frame is then only blits
        status = status_line(startup, view)
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
        if backlog or any(station.inbox.waiting()):
            backlog.read(pygame.event.get())  # more to do: no sleep
        else:
            backlog.read(sleep_until_something(waker, _wait_s(station, kiosk, now, watchdog_s), poll_s))
        events = backlog.take(SCREEN_EVENTS_PER_PASS)
        if events:
            last_input = time.monotonic()
        for event in events:
            if event.type == pygame.KEYDOWN and rig is not None and sim_key(rig, event.key):
                continue
            kiosk.handle(event, station.clock())
    return frames


class ScreenBacklog:
    """Screen events read from SDL and not yet handled: at most SCREEN_BACKLOG, handled a pass's
    worth at a time. Surplus touches are dropped (and logged); other events are always kept."""

    def __init__(self, limit: int = SCREEN_BACKLOG):
        self.limit = limit
        self.dropped = 0
        self._events: deque = deque()

    def __bool__(self) -> bool:
        return bool(self._events)

    def read(self, events: list) -> None:
        room = self.limit - len(self._events)
        if len(events) <= room:
            self._events.extend(events)
            return
        touches = {pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP, pygame.FINGERDOWN, pygame.FINGERUP,
                   pygame.MOUSEWHEEL}
        before = self.dropped
        for event in events:
            if room > 0 or event.type not in touches:
                self._events.append(event)
                room -= 1
            else:
                self.dropped += 1
        log.warning("touch flood: %d screen events dropped (%d in all)", self.dropped - before, self.dropped)

    def take(self, most: int) -> list:
        return [self._events.popleft() for _ in range(min(most, len(self._events)))]


def status_line(startup, view) -> str:
    return startup.status_line(view.status_line) if startup is not None else view.status_line


def _wait_s(station, kiosk, now: float, watchdog_s: float) -> float:
    due = [d for d in (station.next_deadline(), kiosk.next_redraw()) if d is not None]
    wait = min(due) - now if due else IDLE_WAIT_S
    if watchdog_s > 0:
        wait = min(wait, watchdog_s)
    return min(IDLE_WAIT_S, max(0.001, wait))
