"""The kiosk's main loop: the one thread that owns state (docs/architecture.md).

The loop sleeps until something happens: a touch, a sensor event (the station's ``wakeup`` sets the
:class:`Waker` from the sensor thread), the next core timer, the next second ticking over on
screen, or the systemd watchdog. Nothing polls fast, so the home screen costs next to no CPU and a
safety state is drawn in the first frame after its event. Each pass feeds the station's events to
the core (hardware events ahead of taps), draws, and then handles a bounded number of screen
events, so no flood of touches can hold a stop back.

Start-up work that waits for READY=1 (:class:`app.kiosk.after_ready.AfterReady`) runs one short
step per pass, after the station's events and the frame: a stop never waits behind it.
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
#: How long after READY=1 the loop watches its own passes and logs the longest: the window in which
#: the deferred start-up work runs (the ready benchmark reads the line).
STALL_WATCH_S = 2.0
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
         on_frame=None, waker: Waker | None = None, startup=None, after_ready=None) -> int:
    """Run until the kiosk asks to quit (staff exit) or SIGTERM. Returns the number of frames drawn.

    :param startup: the start-up record (:class:`app.shell.resilience.Startup`): it words the
        status line in safe mode and is told when the first frame is up; ``None`` for neither.
    :param after_ready: work that waits for READY=1 (:class:`app.kiosk.after_ready.AfterReady`),
        started right after it and run one step per pass; ``None``: the kiosk's safety speech and
        screens are prewarmed at once after READY.
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
    stalls = PassWatch()
    while not kiosk.quit_requested and not stop_asked:
        stalls.awake()
        station.process()
        now = station.clock()
        view = station.view(now)
        kiosk.update(view, now)
        if kiosk.needs_frame():
            # Only the rectangles that changed go to the display (docs/architecture.md, Budgets).
            pygame.display.update(kiosk.render(screen))
            frames += 1
            if on_frame is not None:
                on_frame(frames)
            if not ready_sent:
                ready_sent = True
                if notify is not None:
                    notify.ready(status_line(startup, view))
                if startup is not None:
                    startup.ready()  # this start got going: reset the failed-start count
                stalls.watch(STALL_WATCH_S)
                if after_ready is not None:
                    after_ready.start()
                else:
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
        # At most one step of the deferred start-up work per pass: the station's events come first.
        if after_ready is not None:
            after_ready.step()
        if time.monotonic() - last_input < IDLE_AFTER_S:
            poll_s = INPUT_POLL_S
        elif view.screen in ACTIVE_SCREENS or view.screen in SAFETY_SCREENS:
            poll_s = IDLE_POLL_S
        else:
            poll_s = CALM_POLL_S
        if backlog or any(station.inbox.waiting()) or (after_ready is not None and after_ready.has_step()):
            backlog.read(pygame.event.get())  # more to do: no sleep
        else:
            stalls.asleep()
            backlog.read(sleep_until_something(waker, _wait_s(station, kiosk, now, watchdog_s), poll_s))
            stalls.woke()
        events = backlog.take(SCREEN_EVENTS_PER_PASS)
        if events:
            last_input = time.monotonic()
        for event in events:
            if event.type == pygame.KEYDOWN and rig is not None and sim_key(rig, event.key):
                continue
            kiosk.handle(event, station.clock())
    stalls.report()
    return frames


class PassWatch:
    """The loop's longest pass during a window after READY=1, logged once at its end: the longest
    the loop could have kept a stop waiting while the deferred start-up work ran. A pass runs from
    one ``station.process()`` to the next; the time asleep between them is not counted."""

    def __init__(self):
        self.longest_s = 0.0
        self.passes = 0
        self._until: float | None = None
        self._mark = 0.0
        self._busy = 0.0

    def watch(self, seconds: float) -> None:
        self._until = self._mark = time.perf_counter()
        self._until += seconds
        self._busy = 0.0

    def awake(self) -> None:
        """At the top of a pass (the end of the one before)."""
        if self._until is None:
            return
        now = time.perf_counter()
        self._busy += now - self._mark
        self.longest_s = max(self.longest_s, self._busy)
        self.passes += 1
        self._busy, self._mark = 0.0, now
        if now >= self._until:
            self.report()

    def report(self) -> None:
        """Log the longest pass once: at the first pass after the window, or when the loop ends
        (the loop wakes for no window of its own: every wake-up costs an idle station CPU)."""
        if self._until is None:
            return
        watched = STALL_WATCH_S - max(0.0, self._until - time.perf_counter())
        self._until = None
        log.info("first %.1f s after READY=1: longest loop pass %.1f ms (%d passes)",
                 watched, self.longest_s * 1000, self.passes)

    def asleep(self) -> None:
        if self._until is not None:
            self._busy += time.perf_counter() - self._mark

    def woke(self) -> None:
        self._mark = time.perf_counter()


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
