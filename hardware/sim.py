"""The simulated station: gpiozero MockFactory pins and a simulated treadmill, driven by a person.

Like OctoPrint's virtual printer, the simulation is plugged in at the lowest level: the person-level
actions here *drive the pins* (``drive_low`` / ``drive_high`` on gpiozero's own mock pins) and pull
the treadmill's serial cable, so the production adapters in :mod:`hardware.gpio` and the CSAFE link
run unchanged above them (docs/architecture.md, hardware). Nothing here imports ``app``.

Order of use: build the station, attach the sensors to :attr:`SimulatedStation.pin_factory`, then
act. Attaching a gpiozero device sets the pin's pull-up, which puts the input back to "switch open";
:meth:`SimulatedStation.resync` drives the pins to the person's current state again.
"""

from __future__ import annotations

import threading
from typing import Sequence

from gpiozero.pins.mock import MockFactory
from gpiozero.threads import GPIOThread

__all__ = ["SimError", "SimulatedStation"]


class SimError(ValueError):
    """A simulation command the simulated station cannot carry out; the message says why."""


class SimulatedStation:
    """A station with no Pi attached.

    :param lanyard_pin: BCM pin of the lanyard switch.
    :param rail_pins: BCM pins of the rail grip switches.
    :param belt_pulse_pin: BCM pin of the belt-pulse switch, or ``None`` (no belt sensor).
    :param lanyard_active_when: ``"closed"`` or ``"open"``, as configured for the real station.
    :param rail_active_when: ``"closed"`` or ``"open"``.
    :param roller_circumference_mm: roller circumference, millimetres (for :meth:`pedal`).
    :param pulses_per_revolution: magnets on the roller.
    :param treadmill: ``True`` to run the CSAFE treadmill simulator
        (:class:`hardware.treadmill.simulator.TreadmillSimulator`, as :attr:`treadmill`) on a
        pseudo-terminal whose path is :attr:`treadmill_port`; ``False`` for a station in cue mode.
    :param pin_factory: a :class:`~gpiozero.pins.mock.MockFactory` to use (default: a new one).

    The person starts off the treadmill: lanyard not clipped, hands off the rails.
    """

    def __init__(self, *, lanyard_pin: int = 17, rail_pins: Sequence[int] = (27, 22),
                 belt_pulse_pin: int | None = None, lanyard_active_when: str = "closed",
                 rail_active_when: str = "closed", roller_circumference_mm: float = 150.0,
                 pulses_per_revolution: int = 1, treadmill: bool = False, pin_factory: MockFactory | None = None):
        self.pin_factory = pin_factory if pin_factory is not None else MockFactory()
        self.lanyard_pin = lanyard_pin
        self.rail_pins = tuple(rail_pins)
        self.belt_pulse_pin = belt_pulse_pin
        self._lanyard_closed_means_clipped = lanyard_active_when == "closed"
        self._rail_closed_means_held = rail_active_when == "closed"
        self._metres_per_pulse = roller_circumference_mm / 1000.0 / max(1, pulses_per_revolution)
        self._lock = threading.RLock()
        # The person's state: what the switches should read once the devices are attached.
        self.lanyard_clipped = False
        self.rails_held: list[bool] = [False] * len(self.rail_pins)
        self.pedal_kmh = 0.0
        self._pedal_thread: GPIOThread | None = None
        self.treadmill = None
        self._treadmill_pty = None
        if treadmill:
            self.treadmill = self._start_treadmill()

    # -- pins ------------------------------------------------------------------------------------
    def _pin(self, number: int):
        return self.pin_factory.pin(number)

    def _switch(self, number: int, closed: bool) -> None:
        """Close (pull to ground) or open (leave to the pull-up) the switch on *number*."""
        pin = self._pin(number)
        if pin.function != "input":
            raise SimError(f"GPIO{number} is not an input; attach the sensors before acting")
        if closed:
            pin.drive_low()
        else:
            pin.drive_high()

    # -- what a person does ----------------------------------------------------------------------
    def clip_lanyard(self) -> None:
        """Put the safety key in."""
        with self._lock:
            self.lanyard_clipped = True
            self._switch(self.lanyard_pin, self._lanyard_closed_means_clipped)

    def pull_lanyard(self) -> None:
        """Pull the safety key out (or the wire breaks: with fail-safe wiring it reads the same)."""
        with self._lock:
            self.lanyard_clipped = False
            self._switch(self.lanyard_pin, not self._lanyard_closed_means_clipped)

    def hold_rails(self, which: Sequence[int] | None = None) -> None:
        """Grip the rails: all of them, or the ones at the indexes in *which* (0 = first pin)."""
        self._set_rails(True, which)

    def release_rails(self, which: Sequence[int] | None = None) -> None:
        """Let go of the rails: all of them, or the ones at the indexes in *which*."""
        self._set_rails(False, which)

    def _set_rails(self, held: bool, which: Sequence[int] | None) -> None:
        indexes = range(len(self.rail_pins)) if which is None else which
        with self._lock:
            for index in indexes:
                self.rails_held[index] = held
                self._switch(self.rail_pins[index], held == self._rail_closed_means_held)

    def resync(self) -> None:
        """Drive every pin to the person's current state (after attaching the sensors)."""
        with self._lock:
            self._switch(self.lanyard_pin, self.lanyard_clipped == self._lanyard_closed_means_clipped)
            for index, pin in enumerate(self.rail_pins):
                self._switch(pin, self.rails_held[index] == self._rail_closed_means_held)

    def pedal(self, kmh: float) -> None:
        """Walk the belt of a manual treadmill at *kmh* (km/h): pulses on the belt-pulse pin.

        ``pedal(0)`` stops. Needs ``belt_pulse_pin``.
        """
        if self.belt_pulse_pin is None:
            raise SimError("this station has no belt-pulse sensor; set gpio.belt_pulse_pin to simulate one")
        if kmh < 0:
            raise SimError("the belt speed must be 0 or more km/h")
        with self._lock:
            self.pedal_kmh = float(kmh)
            if kmh > 0 and self._pedal_thread is None:
                self._pedal_thread = GPIOThread(self._pulses, name="backstep-sim-belt")
                self._pedal_thread.start()
            elif kmh == 0 and self._pedal_thread is not None:
                thread, self._pedal_thread = self._pedal_thread, None
                thread.stop()

    def _pulses(self) -> None:
        thread = threading.current_thread()
        while not thread.stopping.is_set():
            kmh = self.pedal_kmh
            if kmh <= 0:
                break
            self._switch(self.belt_pulse_pin, True)   # the magnet passes: the reed switch closes
            self._switch(self.belt_pulse_pin, False)
            thread.stopping.wait(self._metres_per_pulse / (kmh / 3.6))

    # -- the treadmill ---------------------------------------------------------------------------
    def _start_treadmill(self):
        from hardware.treadmill.simulator import SimulatedTreadmillPort  # not every station has one

        self._treadmill_pty = SimulatedTreadmillPort().__enter__()
        return self._treadmill_pty.simulator

    @property
    def treadmill_port(self) -> str | None:
        """The pseudo-terminal the simulated treadmill answers on, or ``None`` (cue mode)."""
        return self._treadmill_pty.path if self._treadmill_pty is not None else None

    def _need_treadmill(self):
        if self.treadmill is None:
            raise SimError("no simulated treadmill: this station runs in cue mode (treadmill.mode = \"cue\")")
        return self.treadmill

    def pull_cable(self) -> None:
        """Unplug the treadmill's serial cable: the simulator stops answering."""
        self._need_treadmill().pull_cable()

    def plug_cable(self) -> None:
        """Plug the serial cable back in."""
        self._need_treadmill().plug_cable()

    # -- simulation commands ---------------------------------------------------------------------
    def apply(self, command) -> None:
        """Carry out a hardware command of a simulation script (docs/commands.md, Simulation scripts).

        *command* is text (``"rails released"``) or any object with ``what`` and ``arg``
        attributes. Only ``lanyard``, ``rails`` and ``link`` act on hardware; anything else raises
        :class:`SimError`.
        """
        if isinstance(command, str):
            words = command.split("#", 1)[0].lower().split()
            what, arg = (words + ["", ""])[:2] if words else ("", "")
        else:
            what, arg = command.what, command.arg
        action = _ACTIONS.get((what, arg))
        if action is None:
            known = ", ".join(f"{w} {a}" for w, a in _ACTIONS)
            text = f"{what} {arg}".strip() or "(nothing)"
            raise SimError(f"'{text}' is not a hardware command; use one of: {known}")
        action(self)

    def close(self) -> None:
        """Stop the belt pulses and the simulated treadmill."""
        if self._pedal_thread is not None:
            thread, self._pedal_thread = self._pedal_thread, None
            thread.stop()
        if self._treadmill_pty is not None:
            self._treadmill_pty.close()
            self._treadmill_pty = self.treadmill = None

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_ACTIONS = {
    ("lanyard", "clipped"): SimulatedStation.clip_lanyard,
    ("lanyard", "pulled"): SimulatedStation.pull_lanyard,
    ("rails", "held"): SimulatedStation.hold_rails,
    ("rails", "released"): SimulatedStation.release_rails,
    ("link", "lost"): SimulatedStation.pull_cable,
    ("link", "restored"): SimulatedStation.plug_cable,
}
