"""The station's GPIO sensors on gpiozero device classes: safety lanyard, rail grip, belt pulses.

Every sensor is a small class built on gpiozero's :class:`~gpiozero.DigitalInputDevice`, so the pin
factory is swappable: lgpio on a Pi 5, gpiozero's own :class:`~gpiozero.pins.mock.MockFactory` in the
tests and in the simulated station. Pins and polarity are plain constructor arguments; this module
never reads the app's config (``hardware`` is a leaf library, docs/architecture.md).

Wiring (docs/safety.md, rule 6, fail-safe): every input uses the Pi's internal pull-up and a switch to
ground. With ``active_when="closed"`` the switch is closed in the *safe-to-go* condition (key in,
hand on the rail), so a broken wire or an unplugged connector reads as an open switch: "pulled",
"released". ``active_when="open"`` exists for switches that cannot be wired that way; it is not
fail-safe, and ``backstep doctor`` says so.

Timing (docs/safety.md, rule 2): the way to "stopped" is never delayed. "Pulled" and "released" are
reported from inside the pin's edge callback, on the first edge. Only the way back ("clipped",
"held") is debounced: it is reported once the input has stayed in the safe-to-go condition for
``rearm_debounce_s``. gpiozero's ``bounce_time`` is not used for this, because it would swallow edges
in both directions, including the first edge of a pull.

Callbacks run on gpiozero's threads (or this module's re-arm thread) and must only hand off, for
example put an event on a queue (docs/architecture.md, one thread owns state). They are called with this
module's lock held, which keeps their order true: a "clipped" can never overtake a later "pulled".
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import deque
from functools import partial
from importlib import import_module
from typing import Callable, Sequence

from gpiozero import DigitalInputDevice
from gpiozero.threads import GPIOThread

__all__ = [
    "BeltPulseSensor",
    "NoGpio",
    "RailGrip",
    "SafetyLanyard",
    "make_pin_factory",
]

#: gpiozero's own order of preference for real pin factories (gpiozero.devices, 2.0).
REAL_PIN_FACTORIES = ("lgpio", "rpigpio", "pigpio", "native")
#: gpiozero's own pin factories, as its ``gpiozero_pin_factories`` entry points name them. Loaded
#: directly: scanning every installed package's entry points costs tens of ms of each start on a
#: Pi. Other names (a plug-in factory) are still looked up among the entry points.
BUILTIN_PIN_FACTORIES = {
    "lgpio": "gpiozero.pins.lgpio:LGPIOFactory",
    "rpigpio": "gpiozero.pins.rpigpio:RPiGPIOFactory",
    "pigpio": "gpiozero.pins.pigpio:PiGPIOFactory",
    "native": "gpiozero.pins.native:NativeFactory",
    "mock": "gpiozero.pins.mock:MockFactory",
}

Callback = Callable[[], None]


class NoGpio(Exception):
    """No real GPIO pin factory can be loaded here (not a Pi, or its GPIO library is missing)."""


def make_pin_factory(name: str = ""):
    """Return a gpiozero pin factory by *name* (``"lgpio"``, ``"mock"``, ...).

    An empty name picks the first real factory that loads, honouring ``$GPIOZERO_PIN_FACTORY`` as
    gpiozero does. Unlike gpiozero's default this never falls back silently: off a Pi it raises
    :class:`NoGpio` with the reasons, so a station never runs its safety inputs on mock pins by
    accident.
    """
    name = name or os.environ.get("GPIOZERO_PIN_FACTORY", "")
    names = (name,) if name else REAL_PIN_FACTORIES
    reasons = []
    for candidate in names:
        try:
            return _pin_factory_class(candidate.lower())()
        except Exception as exc:  # noqa: BLE001 - each factory fails in its own way off a Pi
            reasons.append(f"{candidate}: {exc}")
    raise NoGpio("; ".join(reasons))


def _pin_factory_class(name: str):
    """The pin factory class called *name*: gpiozero's own directly, a plug-in's through its entry
    point. Raises LookupError naming the known ones; ImportError etc. when it cannot load here."""
    builtin = BUILTIN_PIN_FACTORIES.get(name)
    if builtin is not None:
        module, _, attribute = builtin.partition(":")
        return getattr(import_module(module), attribute)
    from importlib.metadata import entry_points

    found = {ep.name.lower(): ep for ep in entry_points(group="gpiozero_pin_factories")}
    entry = found.get(name)
    if entry is None:
        raise LookupError(f"unknown pin factory (known: {', '.join(sorted(found.keys() | BUILTIN_PIN_FACTORIES.keys()))})")
    return entry.load()


class _StopEvent(threading.Event):
    """A GPIOThread's ``stopping`` event that also wakes a thread asleep on *condition*.

    At interpreter exit gpiozero sets ``stopping`` on every GPIOThread and joins it (10 s, then
    ZombieThread); a thread waiting on a condition would otherwise never notice.
    """

    def __init__(self, condition: threading.Condition):
        super().__init__()
        self._condition = condition

    def set(self) -> None:
        super().set()
        with self._condition:
            self._condition.notify_all()


class _Rearm:
    """Calls *fire* once, *delay_s* after the last :meth:`arm`, unless cancelled first.

    One long-lived gpiozero :class:`~gpiozero.threads.GPIOThread` per sensor rather than a
    :class:`threading.Timer` per edge: a chattering contact would otherwise start a thread per edge.
    gpiozero's hold machinery (``hold_time``) was not used because it only times the *active* state
    and polls; here the safe-to-go state may be either level and a rail pair is combined first.
    """

    def __init__(self, fire: Callback, name: str):
        self._fire = fire
        self._cond = threading.Condition()
        self._due: float | None = None
        self._thread = GPIOThread(self._run, name=name)
        self._thread.stopping = _StopEvent(self._cond)
        self._thread.start()

    @property
    def pending(self) -> bool:
        return self._due is not None

    def arm(self, delay_s: float) -> None:
        with self._cond:
            self._due = time.monotonic() + delay_s
            self._cond.notify()

    def cancel(self) -> None:
        with self._cond:
            self._due = None
            self._cond.notify()

    def close(self) -> None:
        if self._thread is not threading.current_thread():
            self._thread.stop(2)
        else:
            self._thread.stopping.set()

    def _run(self) -> None:
        while not self._thread.stopping.is_set():
            with self._cond:
                if self._thread.stopping.is_set():
                    return
                if self._due is None:
                    self._cond.wait()
                    continue
                left = self._due - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                self._due = None
            self._fire()


class _SafetyInput:
    """One or more switches combined into one safe-to-go condition, with asymmetric debounce.

    Subclasses say what the combined condition is (:meth:`_combined`) and what to call on each
    side. The combined condition is re-read from the pins at every edge and when the re-arm timer
    fires, so a missed edge can never leave a stale "safe" behind.
    """

    def __init__(self, pins: Sequence[int | str], *, active_when: str, rearm_debounce_s: float,
                 pin_factory, name: str):
        if active_when not in ("closed", "open"):
            raise ValueError(f"active_when must be 'closed' or 'open', not {active_when!r}")
        if rearm_debounce_s < 0:
            raise ValueError("rearm_debounce_s must be 0 or more")
        self.active_when = active_when
        self.rearm_debounce_s = float(rearm_debounce_s)
        self._lock = threading.RLock()
        self._reported = False        # what the callbacks last said: True = clipped / held
        self._generation = 0          # bumped whenever the combined condition changes
        self._devices: list[DigitalInputDevice] = []
        self._rearm = _Rearm(self._rearm_due, name=f"backstep-{name}-rearm")
        try:
            for index, pin in enumerate(pins):
                # pull_up=True: the internal pull-up, a switch to ground; bounce_time=None on
                # purpose (see the module docstring).
                device = DigitalInputDevice(pin, pull_up=True, bounce_time=None, pin_factory=pin_factory)
                self._devices.append(device)
                device.when_activated = partial(self._edge, index)
                device.when_deactivated = partial(self._edge, index)
        except Exception:
            self.close()
            raise
        with self._lock:
            self._last_combined = self._combined()
            if self._last_combined:
                # The first reading is not trusted more than any other way back to "safe".
                self._start_rearm()

    # -- reading ---------------------------------------------------------------------------------
    def _safe(self, index: int) -> bool:
        """Rail or key *index* reads safe-to-go: switch closed (or open, for inverted wiring)."""
        active = self._devices[index].is_active  # with a pull-up, active = pulled low = closed
        return active if self.active_when == "closed" else not active

    def _combined(self) -> bool:
        raise NotImplementedError

    @property
    def pins(self) -> tuple[str, ...]:
        """The pins as gpiozero names them, e.g. ``("GPIO27", "GPIO22")``."""
        return tuple(str(d.pin) for d in self._devices)

    @property
    def settling(self) -> bool:
        """True while the input reads safe-to-go but has not been reported so yet (the re-arm
        debounce is running)."""
        with self._lock:
            return self._last_combined and not self._reported and not self._closed

    # -- edges -----------------------------------------------------------------------------------
    def _edge(self, index: int) -> None:
        with self._lock:
            self._note_edge(index)
            combined = self._combined()
            if combined != self._last_combined:
                self._last_combined = combined
                self._generation += 1
            if not combined:
                # The way to "stopped": at once, on the first edge, no debounce.
                self._rearm.cancel()
                if self._reported:
                    self._reported = False
                    self._report_unsafe()
            elif not self._reported and not self._rearm.pending:
                # Back to safe-to-go: start (or restart, after a bounce) the re-arm debounce.
                self._start_rearm()

    def _note_edge(self, index: int) -> None:
        """Hook for fault detection (rails); runs under the lock."""

    def _start_rearm(self) -> None:
        self._armed_generation = self._generation
        self._armed_at = time.monotonic()
        if self.rearm_debounce_s == 0:
            self._rearm_due()
        else:
            self._rearm.arm(self.rearm_debounce_s)

    def _rearm_due(self) -> None:
        with self._lock:
            if self._closed or self._reported or self._generation != self._armed_generation:
                return
            if time.monotonic() - self._armed_at < self.rearm_debounce_s:
                return  # a stale firing from before a bounce; the newer arm fires later
            if not self._combined():
                return
            self._reported = True
            self._report_safe()

    def announce(self) -> None:
        """Report "pulled" / "released" once if that is what the input reads, so a listener that
        starts now (believing nothing) is in sync.

        A safe reading needs no announcement: it is always reported through the callbacks, when
        the debounce that started with the first reading ends (at once with no debounce).
        """
        with self._lock:
            if not self._reported and not self._rearm.pending:
                self._report_unsafe()

    def _report_safe(self) -> None:
        raise NotImplementedError

    def _report_unsafe(self) -> None:
        raise NotImplementedError

    # -- life cycle ------------------------------------------------------------------------------
    _closed = False
    _armed_generation = -1
    _armed_at = 0.0

    def close(self) -> None:
        """Release the pins and stop the re-arm thread. Safe to call twice."""
        with self._lock:
            self._closed = True
        self._rearm.close()
        for device in self._devices:
            device.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SafetyLanyard(_SafetyInput):
    """The treadmill's safety key (lanyard), read through its own switch.

    :param pin: GPIO pin (BCM number or gpiozero pin name).
    :param active_when: ``"closed"`` (fail-safe): the switch is closed while the key is in.
    :param rearm_debounce_s: seconds the key must stay in before "clipped" is reported.
    :param on_pulled: called on the first edge that reads "pulled" (no debounce).
    :param on_clipped: called once the key has been in for *rearm_debounce_s* seconds.
    :param pin_factory: a gpiozero pin factory; ``None`` lets gpiozero choose.

    Until the first "clipped" is reported the lanyard counts as pulled: unknown reads unsafe.
    """

    def __init__(self, pin: int | str, *, active_when: str = "closed", rearm_debounce_s: float = 0.3,
                 pin_factory=None, on_pulled: Callback | None = None, on_clipped: Callback | None = None):
        self.on_pulled = on_pulled
        self.on_clipped = on_clipped
        super().__init__((pin,), active_when=active_when, rearm_debounce_s=rearm_debounce_s,
                         pin_factory=pin_factory, name="lanyard")

    def _combined(self) -> bool:
        return self._safe(0)

    @property
    def clipped(self) -> bool:
        """What was last reported: ``True`` once "clipped" has been reported, until a pull."""
        return self._reported

    @property
    def reads_clipped(self) -> bool:
        """The raw, undebounced reading of the pin right now."""
        return self._combined()

    def _report_safe(self) -> None:
        if self.on_clipped:
            self.on_clipped()

    def _report_unsafe(self) -> None:
        if self.on_pulled:
            self.on_pulled()


#: Twenty minutes: a person re-grips or lets go of a rail many times in that long; a sensor that
#: shows no edge at all through that much belt time is more likely stuck (docs/safety.md, rule 6).
DEFAULT_STUCK_AFTER_S = 20 * 60.0
#: A hand on a capacitive or micro-switch grip makes a few edges a second at most; ten in one second
#: is contact bounce from a loose wire or a failing switch (docs/safety.md, rule 6: it "chatters").
DEFAULT_CHATTER_EDGES = 10
CHATTER_WINDOW_S = 1.0


class RailGrip(_SafetyInput):
    """Grip sensors on one or two handrails.

    :param pins: one GPIO pin per rail.
    :param held_means: ``"both"`` (every rail gripped) or ``"either"`` (at least one).
    :param active_when: ``"closed"`` (fail-safe): the switch is closed while the rail is gripped.
    :param rearm_debounce_s: seconds the rails must stay held before "held" is reported.
    :param stuck_after_s: seconds of running belt with no edge at all on a rail before that rail is
        reported as a suspected stuck sensor.
    :param chatter_edges: more edges than this on one rail within one second is reported as chatter.
    :param on_held: called once the rails have been held for *rearm_debounce_s* seconds.
    :param on_released: called on the first edge that makes the rails read released (no debounce).
    :param on_fault: called with a one-line message when a rail sensor looks faulty.
    :param clock: monotonic seconds, for the fault timers (tests pass their own).

    A chattering sensor never reaches "held": each bounce that reads released restarts the debounce.
    """

    def __init__(self, pins: Sequence[int | str], *, held_means: str = "both", active_when: str = "closed",
                 rearm_debounce_s: float = 0.3, stuck_after_s: float = DEFAULT_STUCK_AFTER_S,
                 chatter_edges: int = DEFAULT_CHATTER_EDGES, pin_factory=None,
                 on_held: Callback | None = None, on_released: Callback | None = None,
                 on_fault: Callable[[str], None] | None = None, clock: Callable[[], float] = time.monotonic):
        if held_means not in ("both", "either"):
            raise ValueError(f"held_means must be 'both' or 'either', not {held_means!r}")
        if not pins:
            raise ValueError("RailGrip needs at least one pin")
        self.held_means = held_means
        self.stuck_after_s = float(stuck_after_s)
        self.chatter_edges = int(chatter_edges)
        self.on_held = on_held
        self.on_released = on_released
        self.on_fault = on_fault
        self._clock = clock
        now = clock()
        self._last_edge = [now] * len(pins)
        self._recent = [deque() for _ in pins]
        self._chatter_reported = [False] * len(pins)
        self._stuck_reported = [False] * len(pins)
        self._belt_since: float | None = None
        super().__init__(tuple(pins), active_when=active_when, rearm_debounce_s=rearm_debounce_s,
                         pin_factory=pin_factory, name="rails")

    def _combined(self) -> bool:
        readings = [self._safe(i) for i in range(len(self._devices))]
        return all(readings) if self.held_means == "both" else any(readings)

    @property
    def held(self) -> bool:
        """What was last reported: ``True`` once "held" has been reported, until a release."""
        return self._reported

    @property
    def reads_held(self) -> tuple[bool, ...]:
        """The raw, undebounced reading of each rail right now."""
        return tuple(self._safe(i) for i in range(len(self._devices)))

    def _report_safe(self) -> None:
        if self.on_held:
            self.on_held()

    def _report_unsafe(self) -> None:
        if self.on_released:
            self.on_released()

    # -- fault detection -------------------------------------------------------------------------
    def _fault(self, message: str) -> None:
        if self.on_fault:
            self.on_fault(message)

    def _note_edge(self, index: int) -> None:
        now = self._clock()
        self._last_edge[index] = now
        self._stuck_reported[index] = False
        recent = self._recent[index]
        if not recent or now - recent[-1] > CHATTER_WINDOW_S:
            self._chatter_reported[index] = False  # quiet for a second: a new burst may be reported
        recent.append(now)
        while recent and now - recent[0] > CHATTER_WINDOW_S:
            recent.popleft()
        if len(recent) > self.chatter_edges and not self._chatter_reported[index]:
            self._chatter_reported[index] = True
            self._fault(f"rail sensor on {self._devices[index].pin} chatters ({len(recent)} changes in "
                        f"{CHATTER_WINDOW_S:g} s): suspected loose wire or failing switch; check its wiring")

    def note_belt_running(self, running: bool, now: float | None = None) -> None:
        """Tell the grip whether the belt is moving; call it whenever that is known (each report).

        A rail whose reading has not changed once while the belt ran for *stuck_after_s* seconds is
        reported through *on_fault* (once, until that rail changes again).
        """
        with self._lock:
            now = self._clock() if now is None else now
            if not running:
                self._belt_since = None
                return
            if self._belt_since is None:
                self._belt_since = now
            for index in range(len(self._devices)):
                quiet_from = max(self._last_edge[index], self._belt_since)
                if now - quiet_from >= self.stuck_after_s and not self._stuck_reported[index]:
                    self._stuck_reported[index] = True
                    reads = "held" if self._safe(index) else "released"
                    self._fault(f"rail sensor on {self._devices[index].pin} has read {reads} for "
                                f"{(now - quiet_from) / 60:.0f} min of running belt without a change: "
                                "suspected stuck sensor; check it")


class BeltPulseSensor:
    """Belt speed from a reed or hall switch on a roller (manual or unlinked treadmills).

    :param pin: GPIO pin; the switch closes to ground once per magnet pass.
    :param roller_circumference_mm: the roller's circumference, millimetres.
    :param pulses_per_revolution: magnets on the roller.
    :param on_speed: called with the belt speed in km/h after each pulse, and with ``0.0`` once no
        pulse came for *timeout_s* seconds.
    :param timeout_s: seconds without a pulse after which the belt counts as stopped.
    :param samples: the speed is the median of this many last pulse intervals (one missed or
        doubled pulse does not make the number jump).
    :param max_speed_kmh: pulses closer together than this speed allows are contact bounce and
        ignored (a reed switch bounces for about a millisecond).
    :param clock: monotonic seconds (tests pass their own to set the pulse timing).
    """

    def __init__(self, pin: int | str, *, roller_circumference_mm: float, pulses_per_revolution: int = 1,
                 on_speed: Callable[[float], None] | None = None, timeout_s: float = 2.0, samples: int = 5,
                 max_speed_kmh: float = 30.0, pin_factory=None, clock: Callable[[], float] = time.monotonic):
        if roller_circumference_mm <= 0 or pulses_per_revolution < 1:
            raise ValueError("roller_circumference_mm must be above 0 and pulses_per_revolution at least 1")
        self.metres_per_pulse = roller_circumference_mm / 1000.0 / pulses_per_revolution
        self.on_speed = on_speed
        self.timeout_s = float(timeout_s)
        self._min_interval_s = self.metres_per_pulse / (max_speed_kmh / 3.6)
        self._clock = clock
        self._lock = threading.Lock()
        self._last_pulse: float | None = None
        self._intervals: deque[float] = deque(maxlen=max(1, samples))
        self._speed = 0.0
        self.pulses = 0
        self._stopped = _Rearm(self._timed_out, name="backstep-belt-timeout")
        try:
            self._device = DigitalInputDevice(pin, pull_up=True, bounce_time=None, pin_factory=pin_factory)
            self._device.when_activated = self._pulse
        except Exception:
            self._stopped.close()
            raise

    @property
    def speed_kmh(self) -> float:
        """The last computed belt speed, km/h (0 when stopped or unknown)."""
        return self._speed

    @property
    def pin(self) -> str:
        return str(self._device.pin)

    def _pulse(self) -> None:
        with self._lock:
            now = self._clock()
            last, self._last_pulse = self._last_pulse, now
            if last is not None:
                interval = now - last
                if interval < self._min_interval_s:
                    self._last_pulse = last  # bounce: keep timing from the real pulse
                    return
                self._intervals.append(interval)
            self.pulses += 1
            self._stopped.arm(self.timeout_s)
            if not self._intervals:
                return  # one pulse gives no speed yet
            self._speed = self.metres_per_pulse / statistics.median(self._intervals) * 3.6
            if self.on_speed:
                self.on_speed(self._speed)

    def _timed_out(self) -> None:
        with self._lock:
            self._last_pulse = None
            self._intervals.clear()
            was_moving, self._speed = self._speed > 0, 0.0
            if was_moving and self.on_speed:
                self.on_speed(0.0)

    def close(self) -> None:
        self._stopped.close()
        self._device.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
