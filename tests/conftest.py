"""Helpers every test file shares: waiting for another thread, and a clock moved by hand.

Tests import them as ``from conftest import wait_for, ManualClock`` (pytest puts this folder on
``sys.path``). There is one ``wait_for`` in the suite, so a slow CI machine is allowed for in one
place, and no test sleeps to let time pass: time-dependent code takes a clock, and the test moves a
:class:`ManualClock` on instead.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

#: How long a test waits for another thread before it fails. Generous: a loaded 2-core CI machine
#: can take a second or two for what takes milliseconds here; a correct test never waits this long.
DEFAULT_WAIT_S = 10.0


def wait_for(predicate: Callable[[], object], timeout: float = DEFAULT_WAIT_S, interval: float = 0.005) -> bool:
    """Wait until *predicate()* is true, or *timeout* real seconds pass; return its last value as a bool.

    For waiting on another thread or process (a link, a kiosk subprocess, a socket server). Time the
    code under test measures must come from an injected clock instead.
    """
    deadline = time.monotonic() + timeout
    ready = threading.Event()
    while not predicate():
        if time.monotonic() >= deadline:
            return bool(predicate())
        ready.wait(interval)
    return True


def process_until(station, until: Callable[[], object], timeout: float = DEFAULT_WAIT_S,
                  interval: float = 0.005) -> bool:
    """Let *station* (an ``app.shell.station.Station``) handle what arrived, again and again, until
    *until()* is true or *timeout* real seconds pass: for events another thread posts (a sensor's
    re-arm debounce, the treadmill link). Returns whether it came true."""
    def handled() -> object:
        station.process()
        return until()

    return wait_for(handled, timeout, interval)


class ManualClock:
    """Monotonic seconds that move only when a test says so (``clock.advance(0.5)``).

    Code that takes a ``clock`` callable (the treadmill link and its simulator, the rail-grip
    sensor, the belt-pulse sensor) is given this object. *listeners* are called after each advance,
    so a thread that waits on its clock (e.g. ``TreadmillLink.wake``) looks again at once.
    """

    def __init__(self, start: float = 1000.0):
        self._now = float(start)
        self._lock = threading.Lock()
        self.listeners: list[Callable[[], None]] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError("a monotonic clock never goes back")
        with self._lock:
            self._now += seconds
            now = self._now
        for listener in self.listeners:
            listener()
        return now
