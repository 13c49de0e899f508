"""The simulated station drives gpiozero's mock pins; the production adapters turn them into events."""

from __future__ import annotations

import contextlib
import queue
import statistics
import time

import pytest

from app.config import parse_config
from app.core.events import (
    LanyardClipped,
    LanyardPulled,
    LinkLost,
    LinkRestored,
    RailsHeld,
    RailsReleased,
    TreadmillReported,
)
from app.shell.devices import attach_sensors, attach_treadmill, simulated_station
from conftest import wait_for
from hardware.sim import SimError, SimulatedStation

DEBOUNCE = 0.05


def config(extra: str = ""):
    return parse_config(f"[gpio]\nrearm_debounce_s = {DEBOUNCE}\n{extra}")


class Events:
    """A real queue, as the main loop has, with helpers to read what arrived."""

    def __init__(self):
        self.queue: queue.Queue = queue.Queue()

    def post(self, event) -> None:
        self.queue.put(event)

    def drain(self, settle: float = 0.0) -> list:
        if settle:
            time.sleep(settle)
        out = []
        while True:
            try:
                out.append(self.queue.get_nowait())
            except queue.Empty:
                return out

    def next(self, timeout: float = 2.0):
        return self.queue.get(timeout=timeout)


@contextlib.contextmanager
def attached(cfg):
    """A simulated station with the production sensors attached to its pins, posting to a queue."""
    events = Events()
    with simulated_station(cfg, treadmill=False) as sim:
        sensors = attach_sensors(cfg, events.post, pin_factory=sim.pin_factory)
        try:
            yield sim, sensors, events
        finally:
            sensors.close()


@pytest.fixture
def station():
    with attached(config()) as parts:
        yield parts


def test_starting_state_is_posted_once(station):
    sim, sensors, events = station
    assert events.drain() == [LanyardPulled(), RailsReleased()]


def test_person_actions_travel_through_the_pins(station):
    sim, sensors, events = station
    events.drain()
    sim.clip_lanyard()
    assert isinstance(events.next(), LanyardClipped)
    sim.hold_rails()
    assert isinstance(events.next(), RailsHeld)
    assert sensors.lanyard.clipped and sensors.rails.held
    sim.release_rails()
    assert events.drain() == [RailsReleased()], "released on the first edge, already queued"
    sim.pull_lanyard()
    assert events.drain() == [LanyardPulled()]


def test_apply_maps_script_words_to_actions(station):
    sim, sensors, events = station
    events.drain()
    sim.apply("lanyard clipped")
    sim.apply("rails held  # both hands")
    assert {type(events.next()), type(events.next())} == {LanyardClipped, RailsHeld}
    sim.apply("RAILS RELEASED")
    assert events.drain() == [RailsReleased()]


@pytest.mark.parametrize("text", ["tap start", "end", "rails loose", "", "link lost"])
def test_apply_refuses_what_is_not_hardware(station, text):
    sim, _, _ = station
    with pytest.raises(SimError):
        sim.apply(text)  # "link lost" too: this station has no simulated treadmill


def test_apply_takes_parsed_commands():
    script = pytest.importorskip("app.shell.script")
    cfg = config()
    with attached(cfg) as (sim, sensors, events):
        events.drain()
        sim.apply(script.parse_command("lanyard clipped"))
        assert isinstance(events.next(), LanyardClipped)


def test_one_hand_off_with_held_means_either():
    cfg = config('rails_held_means = "either"')
    with attached(cfg) as (sim, sensors, events):
        events.drain()
        sim.hold_rails([0])
        assert isinstance(events.next(), RailsHeld)
        sim.hold_rails([1])
        sim.release_rails([0])
        assert events.drain(settle=DEBOUNCE * 2) == []
        sim.release_rails([1])
        assert events.drain() == [RailsReleased()]


def test_inverted_wiring_is_simulated_too():
    cfg = config('lanyard_active_when = "open"')
    with attached(cfg) as (sim, sensors, events):
        # Attaching set the pull-up: with "open" wiring that reads "key in"; resync puts the
        # person's state (key out) back on the pin.
        sim.resync()
        assert LanyardClipped() not in events.drain(settle=DEBOUNCE * 2)
        assert not sensors.lanyard.clipped
        sim.clip_lanyard()
        assert isinstance(events.next(), LanyardClipped)


def test_pedal_makes_belt_speed_reports():
    cfg = config("belt_pulse_pin = 5\nroller_circumference_mm = 100.0")
    with attached(cfg) as (sim, sensors, events):
        sim.pedal(3.6)  # 1 m/s: ten pulses a second on a 100 mm roller
        reports = []
        deadline = time.monotonic() + 8
        while len(reports) < 8 and time.monotonic() < deadline:
            event = events.next()
            if isinstance(event, TreadmillReported):
                reports.append(event.speed_kmh)
        assert len(reports) == 8
        # The pedal thread's sleeps only ever run late on a busy machine (slower pulses), so judge
        # the median of the settled reports, not one report.
        assert statistics.median(reports[-5:]) == pytest.approx(3.6, rel=0.2)
        sim.pedal(0)


def test_pedal_needs_a_belt_sensor(station):
    sim, _, _ = station
    with pytest.raises(SimError, match="belt_pulse_pin"):
        sim.pedal(2.0)


def test_no_treadmill_means_no_port(station):
    sim, _, _ = station
    assert sim.treadmill_port is None
    with pytest.raises(SimError, match="cue mode"):
        sim.pull_cable()


def test_sim_does_not_import_app():
    import ast
    from pathlib import Path

    import hardware.sim

    tree = ast.parse(Path(hardware.sim.__file__).read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n == "app" or n.startswith("app.")]


# -- the simulated treadmill on a pty, through the real CSAFE link -------------------------------
CSAFE = '[treadmill]\nmode = "csafe"\npoll_interval_s = 0.05\nsilence_timeout_s = 0.5\n'


def next_of(events: Events, kind, timeout: float = 3.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            event = events.queue.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__} within {timeout} s")


def test_cue_mode_has_no_link():
    assert attach_treadmill(config(), Events().post) is None


def test_pulled_cable_is_a_lost_link_and_plugging_it_back_restores_it():
    cfg = config(CSAFE)
    events = Events()
    with simulated_station(cfg) as sim:
        assert sim.treadmill_port and sim.treadmill is not None
        link = attach_treadmill(cfg, events.post, port=sim.treadmill_port)
        try:
            assert next_of(events, TreadmillReported).speed_kmh == 0.0
            sim.apply("link lost")
            lost = next_of(events, LinkLost)
            assert lost.reason
            sim.apply("link restored")
            next_of(events, LinkRestored)
        finally:
            link.close()


def test_treadmill_reports_feed_the_rails_stuck_check():
    cfg = config(CSAFE)
    events = Events()
    faults: list[str] = []
    with simulated_station(cfg) as sim:
        sensors = attach_sensors(cfg, events.post, pin_factory=sim.pin_factory, on_fault=faults.append)
        sensors.rails.stuck_after_s = 0.3  # twenty minutes in the station; a blink here
        link = attach_treadmill(cfg, events.post, port=sim.treadmill_port, sensors=sensors)
        try:
            next_of(events, TreadmillReported)
            time.sleep(0.5)  # past stuck_after_s on the rails' real clock: nothing may be reported
            assert faults == [], "a standing belt does not count"
            link.set_target(3.0, 0.0)
            wait_for(lambda: len(faults) >= 2)
            assert len(faults) == 2 and all("stuck" in f for f in faults)
        finally:
            link.close()
            sensors.close()


def test_without_debounce_a_safe_start_is_posted_exactly_once():
    cfg = parse_config("[gpio]\nrearm_debounce_s = 0\n")
    with attached(cfg) as (sim, sensors, events):
        events.drain()
        sim.clip_lanyard()
        sim.hold_rails()
        assert events.drain() == [LanyardClipped(), RailsHeld()]
        assert sensors.wait_settled(0.1)


def test_wait_settled_waits_out_the_rearm(station):
    sim, sensors, events = station
    events.drain()
    sim.clip_lanyard()
    assert sensors.settling
    assert sensors.wait_settled(1.0)
    assert events.drain() == [LanyardClipped()]


def test_a_safe_first_reading_is_posted_once_not_announced_again():
    # Inverted wiring: the bare pull-up reads "key in", so the first reading is already safe.
    cfg = parse_config('[gpio]\nrearm_debounce_s = 0\nlanyard_active_when = "open"\n')
    with attached(cfg) as (sim, sensors, events):
        assert events.drain() == [LanyardClipped(), RailsReleased()]
