"""The station's devices, built from the config, speaking :mod:`app.core.events`.

This is where ``[gpio]`` and ``[treadmill]`` become :mod:`hardware` objects, and where their
callbacks become events. The callbacks run on gpiozero's and the serial reader's threads; each one
only calls *post* (the main loop's thread-safe queue put, docs/architecture.md).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Callable

from app.core.events import (
    Event,
    LanyardClipped,
    LanyardPulled,
    LinkLost,
    LinkRestored,
    RailsHeld,
    RailsReleased,
    SensorFault,
    TreadmillReported,
)
from app.core.record import Record
from hardware.gpio import BeltPulseSensor, RailGrip, SafetyLanyard, make_pin_factory

if TYPE_CHECKING:
    from hardware.sim import SimulatedStation

log = logging.getLogger(__name__)

Post = Callable[[Event], None]

#: Above this the belt counts as running for the rail sensors' stuck-sensor check; below it a
#: belt sensor's last slow pulses or a treadmill's coasting do not count. km/h.
BELT_RUNNING_KMH = 0.3


class Sensors(Record, frozen=False):
    """The attached GPIO sensors. ``belt`` is ``None`` without a belt-pulse pin."""

    lanyard: SafetyLanyard
    rails: RailGrip
    belt: BeltPulseSensor | None
    pin_factory: object

    def note_belt_speed(self, speed_kmh: float | None) -> None:
        """Feed what the treadmill reports to the rails' stuck-sensor check (any thread)."""
        self.rails.note_belt_running(speed_kmh is not None and speed_kmh > BELT_RUNNING_KMH)

    @property
    def settling(self) -> bool:
        """True while a re-arm ("clipped", "held") is waiting out its debounce."""
        return self.lanyard.settling or self.rails.settling

    def wait_settled(self, timeout_s: float = 2.0) -> bool:
        """Wait until no re-arm debounce is running (a simulation's script clock outruns the
        debounce's wall clock). Returns False if one still runs after *timeout_s* seconds."""
        deadline = time.monotonic() + timeout_s
        while self.settling:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return True

    def close(self) -> None:
        for device in (self.belt, self.rails, self.lanyard):
            if device is not None:
                device.close()


def attach_sensors(config, post: Post, pin_factory=None, *,
                   on_fault: Callable[[str], None] | None = None) -> Sensors:
    """Build the lanyard, rail and belt sensors from ``config.gpio`` and connect them to *post*.

    :param config: an :class:`app.config.Config`.
    :param post: called with each event; must only hand off (queue put).
    :param pin_factory: a gpiozero pin factory (the simulated station's MockFactory); ``None``
        uses ``config.gpio.pin_factory``, or the Pi's own. Off a Pi that raises
        :class:`hardware.gpio.NoGpio` rather than falling back to mock pins.
    :param on_fault: also called with the one-line message when a rail sensor looks stuck or
        chatters; the message is always logged and posted as a ``SensorFault`` event.

    Posts the starting state once: ``LanyardPulled`` / ``RailsReleased`` at once when that is what
    the pins read, or ``LanyardClipped`` / ``RailsHeld`` when the re-arm debounce ends.
    """
    gpio = config.gpio
    if pin_factory is None:
        pin_factory = make_pin_factory(gpio.pin_factory)
    def fault(message: str) -> None:
        # A suspected fault reaches the core (which pauses a running belt and records it, rule 8).
        log.warning("suspected sensor fault: %s", message)
        post(SensorFault(message))
        if on_fault is not None:
            on_fault(message)

    opened: list = []
    try:
        lanyard = SafetyLanyard(
            gpio.lanyard_pin, active_when=gpio.lanyard_active_when, rearm_debounce_s=gpio.rearm_debounce_s,
            pin_factory=pin_factory,
            on_pulled=lambda: post(LanyardPulled()), on_clipped=lambda: post(LanyardClipped()))
        opened.append(lanyard)
        rails = RailGrip(
            gpio.rail_pins, held_means=gpio.rails_held_means, active_when=gpio.rail_active_when,
            rearm_debounce_s=gpio.rearm_debounce_s, pin_factory=pin_factory,
            on_held=lambda: post(RailsHeld()), on_released=lambda: post(RailsReleased()), on_fault=fault)
        opened.append(rails)
        belt = None
        if gpio.belt_pulse_pin is not None:
            def on_speed(kmh: float) -> None:
                post(TreadmillReported(speed_kmh=kmh))
                rails.note_belt_running(kmh > BELT_RUNNING_KMH)

            belt = BeltPulseSensor(
                gpio.belt_pulse_pin, roller_circumference_mm=gpio.roller_circumference_mm,
                pulses_per_revolution=gpio.pulses_per_revolution, on_speed=on_speed, pin_factory=pin_factory)
    except Exception:
        for device in reversed(opened):
            device.close()
        raise
    lanyard.announce()
    rails.announce()
    return Sensors(lanyard=lanyard, rails=rails, belt=belt, pin_factory=pin_factory)


def simulated_station(config, *, treadmill: bool | None = None) -> SimulatedStation:
    """A :class:`hardware.sim.SimulatedStation` wired as ``config.gpio`` says.

    :param treadmill: run the CSAFE treadmill simulator; default: when ``treadmill.mode`` is csafe.
    """
    # Only here: the simulation and gpiozero's mock pins are 1-2 ms of a real station's start.
    from hardware.sim import SimulatedStation

    gpio = config.gpio
    return SimulatedStation(
        lanyard_pin=gpio.lanyard_pin, rail_pins=gpio.rail_pins, belt_pulse_pin=gpio.belt_pulse_pin,
        lanyard_active_when=gpio.lanyard_active_when, rail_active_when=gpio.rail_active_when,
        roller_circumference_mm=gpio.roller_circumference_mm, pulses_per_revolution=gpio.pulses_per_revolution,
        treadmill=(config.treadmill.mode == "csafe") if treadmill is None else treadmill)


def attach_treadmill(config, post: Post, *, port: str | None = None, sensors: Sensors | None = None):
    """Open the CSAFE link from ``config.treadmill`` and connect its callbacks to *post*.

    Returns the started :class:`hardware.treadmill.link.TreadmillLink`, or ``None`` in cue mode
    (no link). Opening raises :class:`hardware.treadmill.link.LinkError` with a one-line reason
    (missing port, ``dialout`` permission, port busy). Reports become ``TreadmillReported``, a silent or
    unplugged link ``LinkLost(reason)``, its return ``LinkRestored``. With *sensors*, reports also
    feed the rails' stuck-sensor check. *port* overrides ``treadmill.port`` (the simulated
    treadmill's pseudo-terminal).
    """
    section = config.treadmill
    if section.mode != "csafe":
        return None
    from hardware.treadmill.link import TreadmillLink  # only stations with a link need pyserial

    caps = config.safety.caps

    def on_report(speed_kmh: float | None, incline_pct: float | None, distance_m: float | None) -> None:
        post(TreadmillReported(speed_kmh=speed_kmh, incline_pct=incline_pct, distance_m=distance_m))
        if sensors is not None:
            sensors.note_belt_speed(speed_kmh)

    link = TreadmillLink(
        port or section.port, baudrate=section.baudrate,
        # The link's own limit is the larger direction cap; the core applies the cap of the
        # phase's direction before any target reaches the link (docs/safety.md, rule 7).
        max_speed_kmh=max(caps.backward_speed_kmh, caps.forward_speed_kmh),
        max_incline_pct=max(caps.backward_incline_pct, caps.forward_incline_pct),
        poll_interval_s=section.poll_interval_s, silence_timeout_s=section.silence_timeout_s,
        ramp_kmh_per_s=section.ramp_kmh_per_s,
        on_report=on_report,
        on_lost=lambda reason: post(LinkLost(reason=reason)),
        on_restored=lambda: post(LinkRestored()))
    # A missing adapter at boot is a lost link (the core refuses to start a session and says so),
    # not a kiosk that cannot start: the link keeps looking for the port with back-off.
    link.start(wait_for_port=True)
    return link
