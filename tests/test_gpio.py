"""The GPIO sensors, driven through gpiozero's own MockFactory pins (drive_low / drive_high).

With the internal pull-up and a switch to ground, ``drive_low`` is "switch closed" and
``drive_high`` is "switch open", which is also what a broken wire reads.
"""

from __future__ import annotations

import time

import pytest
from gpiozero.pins.mock import MockFactory

from conftest import ManualClock, wait_for
from hardware.gpio import BeltPulseSensor, NoGpio, RailGrip, SafetyLanyard, make_pin_factory

# The re-arm debounce runs on a real timer thread (hardware.gpio's _Rearm), not on an injected clock:
# the tests that check it let real time pass (a few multiples of this), and nothing else here sleeps.
DEBOUNCE = 0.08


@pytest.fixture
def factory():
    f = MockFactory()
    yield f
    f.reset()


class Recorder:
    def __init__(self):
        self.calls: list[tuple[str, float]] = []

    def __call__(self, name):
        return lambda *args: self.calls.append((name if not args else f"{name}:{args[0]}", time.monotonic()))

    @property
    def names(self):
        return [name for name, _ in self.calls]


def lanyard(factory, rec, **kwargs):
    kwargs.setdefault("rearm_debounce_s", DEBOUNCE)
    return SafetyLanyard(17, pin_factory=factory, on_pulled=rec("pulled"), on_clipped=rec("clipped"), **kwargs)


# -- safety lanyard ------------------------------------------------------------------------------
def test_lanyard_starts_pulled_when_nothing_closes_the_switch(factory):
    rec = Recorder()
    with lanyard(factory, rec) as key:
        time.sleep(DEBOUNCE * 2)
        assert not key.clipped
        assert not key.reads_clipped
        assert rec.names == []


def test_lanyard_clipped_only_after_the_debounce(factory):
    rec = Recorder()
    with lanyard(factory, rec) as key:
        pin = factory.pin(17)
        closed_at = time.monotonic()
        pin.drive_low()
        assert not key.clipped, "re-arming must wait for the debounce"
        assert wait_for(lambda: key.clipped)
        assert rec.names == ["clipped"]
        assert rec.calls[0][1] - closed_at >= DEBOUNCE


def test_lanyard_pull_is_reported_on_the_first_edge_without_delay(factory):
    rec = Recorder()
    with lanyard(factory, rec, rearm_debounce_s=0.5) as key:
        pin = factory.pin(17)
        pin.drive_low()
        assert wait_for(lambda: key.clipped)
        pin.drive_high()
        # Reported from inside the edge callback: already there when drive_high returns.
        assert rec.names == ["clipped", "pulled"]
        assert not key.clipped


def test_lanyard_bounce_on_the_way_back_restarts_the_debounce(factory):
    rec = Recorder()
    with lanyard(factory, rec) as key:
        pin = factory.pin(17)
        for _ in range(4):  # a key wiggled in its socket
            pin.drive_low()
            time.sleep(DEBOUNCE / 3)
            pin.drive_high()
        assert rec.names == [], "a contact that never stays closed must not re-arm, nor report pulls it never left"
        settled_at = time.monotonic()
        pin.drive_low()
        assert wait_for(lambda: key.clipped)
        assert rec.calls[-1][1] - settled_at >= DEBOUNCE
        assert rec.names == ["clipped"]


def test_lanyard_pull_during_the_debounce_cancels_the_rearm(factory):
    rec = Recorder()
    with lanyard(factory, rec) as key:
        pin = factory.pin(17)
        pin.drive_low()
        time.sleep(DEBOUNCE / 2)
        pin.drive_high()
        time.sleep(DEBOUNCE * 2)
        assert not key.clipped
        assert rec.names == []


def test_lanyard_broken_wire_reads_pulled(factory):
    """Fail-safe wiring: an open circuit leaves only the pull-up, which reads "pulled"."""
    rec = Recorder()
    with lanyard(factory, rec) as key:
        pin = factory.pin(17)
        pin.drive_low()
        assert wait_for(lambda: key.clipped)
        pin.drive_high()  # the wire breaks: nothing pulls the input low any more
        assert not key.clipped and rec.names[-1] == "pulled"


def test_lanyard_inverted_polarity_reads_the_other_level(factory):
    rec = Recorder()
    with lanyard(factory, rec, active_when="open") as key:
        # An open switch (high with the pull-up) is "key in" for this wiring.
        assert wait_for(lambda: key.clipped)
        factory.pin(17).drive_low()
        assert rec.names == ["clipped", "pulled"]


def test_lanyard_without_debounce_reports_at_once(factory):
    rec = Recorder()
    with lanyard(factory, rec, rearm_debounce_s=0) as key:
        factory.pin(17).drive_low()
        assert key.clipped and rec.names == ["clipped"]


def test_lanyard_rejects_unknown_polarity(factory):
    with pytest.raises(ValueError, match="active_when"):
        SafetyLanyard(17, active_when="sometimes", pin_factory=factory)


def test_lanyard_close_releases_the_pin(factory):
    key = SafetyLanyard(17, pin_factory=factory)
    key.close()
    key.close()
    SafetyLanyard(17, pin_factory=factory).close()  # the pin can be claimed again


# -- rail grip -----------------------------------------------------------------------------------
def rails(factory, rec, **kwargs):
    kwargs.setdefault("rearm_debounce_s", DEBOUNCE)
    return RailGrip((27, 22), pin_factory=factory, on_held=rec("held"), on_released=rec("released"),
                    on_fault=rec("fault"), **kwargs)


def test_rails_both_need_both_hands(factory):
    rec = Recorder()
    with rails(factory, rec, held_means="both") as grip:
        left, right = factory.pin(27), factory.pin(22)
        left.drive_low()
        time.sleep(DEBOUNCE * 2)
        assert not grip.held and rec.names == []
        right.drive_low()
        assert not grip.held
        assert wait_for(lambda: grip.held)
        right.drive_high()  # one hand off: released at once
        assert rec.names == ["held", "released"]
        assert grip.reads_held == (True, False)


def test_rails_either_needs_one_hand(factory):
    rec = Recorder()
    with rails(factory, rec, held_means="either") as grip:
        left, right = factory.pin(27), factory.pin(22)
        right.drive_low()
        assert wait_for(lambda: grip.held)
        left.drive_low()
        right.drive_high()  # hand over hand: still held, nothing reported
        time.sleep(DEBOUNCE * 2)
        assert grip.held and rec.names == ["held"]
        left.drive_high()
        assert rec.names == ["held", "released"] and not grip.held


def test_rails_broken_wire_reads_released(factory):
    rec = Recorder()
    with rails(factory, rec, held_means="either") as grip:
        factory.pin(27).drive_low()
        assert wait_for(lambda: grip.held)
        factory.pin(27).drive_high()  # the wire breaks
        assert not grip.held and rec.names[-1] == "released"


def test_single_rail(factory):
    rec = Recorder()
    with RailGrip((5,), pin_factory=factory, rearm_debounce_s=0, on_held=rec("held"),
                  on_released=rec("released")) as grip:
        factory.pin(5).drive_low()
        factory.pin(5).drive_high()
        assert rec.names == ["held", "released"] and not grip.held


def test_rails_stuck_sensor_is_reported_after_long_running_belt(factory):
    rec = Recorder()
    now = [1000.0]
    with rails(factory, rec, stuck_after_s=600, clock=lambda: now[0]) as grip:
        factory.pin(27).drive_low()
        factory.pin(22).drive_low()
        assert wait_for(lambda: grip.held)
        grip.note_belt_running(True)          # the belt starts at t=1000
        now[0] += 599
        grip.note_belt_running(True)
        assert not [n for n in rec.names if n.startswith("fault")]
        now[0] += 2
        grip.note_belt_running(True)
        faults = [n for n in rec.names if n.startswith("fault")]
        assert len(faults) == 2 and "GPIO27" in faults[0] and "GPIO22" in faults[1]
        assert "stuck" in faults[0] and "held" in faults[0]
        now[0] += 60
        grip.note_belt_running(True)
        assert len([n for n in rec.names if n.startswith("fault")]) == 2, "reported once, not every call"


def test_rails_stuck_clock_counts_only_running_belt_and_resets_on_an_edge(factory):
    rec = Recorder()
    now = [0.0]
    with rails(factory, rec, stuck_after_s=100, clock=lambda: now[0]) as grip:
        now[0] = 500.0                        # a long idle time does not count
        grip.note_belt_running(True)
        now[0] = 590.0
        grip.note_belt_running(True)
        factory.pin(27).drive_low()           # a hand on the left rail
        now[0] = 620.0
        grip.note_belt_running(True)
        faults = [n for n in rec.names if n.startswith("fault")]
        assert len(faults) == 1 and "GPIO22" in faults[0]
        grip.note_belt_running(False)         # the belt stopped: the clock starts again
        now[0] = 700.0
        grip.note_belt_running(True)
        now[0] = 780.0
        grip.note_belt_running(True)
        assert len([n for n in rec.names if n.startswith("fault")]) == 1


def test_rails_chatter_is_reported_once_and_never_reads_held(factory):
    rec = Recorder()
    with rails(factory, rec, held_means="either", chatter_edges=6) as grip:
        pin = factory.pin(27)
        for _ in range(8):
            pin.drive_low()
            pin.drive_high()
        time.sleep(DEBOUNCE * 2)
        faults = [n for n in rec.names if n.startswith("fault")]
        assert len(faults) == 1 and "chatters" in faults[0] and "GPIO27" in faults[0]
        assert not grip.held and "held" not in rec.names


def test_rails_a_few_regrips_are_not_chatter(factory):
    rec = Recorder()
    with rails(factory, rec, held_means="either") as grip:
        pin = factory.pin(27)
        for _ in range(3):
            pin.drive_low()
            pin.drive_high()
        assert not any(n.startswith("fault") for n in rec.names)
        assert not grip.held


def test_rails_reject_bad_arguments(factory):
    with pytest.raises(ValueError, match="held_means"):
        RailGrip((27,), held_means="most", pin_factory=factory)
    with pytest.raises(ValueError, match="at least one pin"):
        RailGrip((), pin_factory=factory)


# -- belt pulses ---------------------------------------------------------------------------------
def pulse(pin):
    pin.drive_low()   # the magnet closes the reed switch
    pin.drive_high()


def test_belt_speed_from_pulse_intervals(factory):
    speeds = []
    now = [0.0]
    circumference_mm, kmh = 150.0, 3.0
    interval = circumference_mm / 1000 / (kmh / 3.6)
    with BeltPulseSensor(6, roller_circumference_mm=circumference_mm, pulses_per_revolution=1,
                         on_speed=speeds.append, pin_factory=factory, clock=lambda: now[0]) as belt:
        pin = factory.pin(6)
        pulse(pin)
        assert speeds == [], "one pulse gives no speed"
        for _ in range(6):
            now[0] += interval
            pulse(pin)
        assert speeds[-1] == pytest.approx(kmh)
        assert belt.speed_kmh == pytest.approx(kmh)


def test_belt_speed_counts_magnets_and_shrugs_off_one_missed_pulse(factory):
    speeds = []
    now = [0.0]
    with BeltPulseSensor(6, roller_circumference_mm=200, pulses_per_revolution=2, samples=5,
                         on_speed=speeds.append, pin_factory=factory, clock=lambda: now[0]):
        pin = factory.pin(6)
        interval = 0.1 / (4.0 / 3.6)  # 100 mm per pulse at 4 km/h
        pulse(pin)
        for gap in (1, 1, 2, 1, 1):   # one pulse missed
            now[0] += interval * gap
            pulse(pin)
        assert speeds[-1] == pytest.approx(4.0)


def test_belt_ignores_contact_bounce(factory):
    speeds = []
    now = [0.0]
    with BeltPulseSensor(6, roller_circumference_mm=150, on_speed=speeds.append, pin_factory=factory,
                         clock=lambda: now[0]) as belt:
        pin = factory.pin(6)
        interval = 0.15 / (2.0 / 3.6)
        pulse(pin)
        for _ in range(4):
            now[0] += 0.001
            pulse(pin)                # a bounce 1 ms after the real pulse
            now[0] += interval - 0.001
            pulse(pin)
        assert belt.speed_kmh == pytest.approx(2.0)
        assert belt.pulses == 5


def test_belt_reads_zero_after_the_timeout(factory):
    speeds = []
    clock = ManualClock()  # the pulse intervals; the timeout itself is a real timer thread
    with BeltPulseSensor(6, roller_circumference_mm=150, on_speed=speeds.append, timeout_s=0.1,
                         pin_factory=factory, clock=clock) as belt:
        pin = factory.pin(6)
        for _ in range(3):
            pulse(pin)
            clock.advance(0.02)
        assert belt.speed_kmh > 0
        assert wait_for(lambda: speeds and speeds[-1] == 0.0)
        assert belt.speed_kmh == 0.0


def test_belt_rejects_a_roller_without_size(factory):
    with pytest.raises(ValueError):
        BeltPulseSensor(6, roller_circumference_mm=0, pin_factory=factory)


# -- pin factories -------------------------------------------------------------------------------
def test_make_pin_factory_by_name():
    assert isinstance(make_pin_factory("mock"), MockFactory)


def test_make_pin_factory_unknown_name_says_which_exist():
    with pytest.raises(NoGpio, match="known: .*mock"):
        make_pin_factory("abacus")


def test_a_program_that_forgets_close_still_exits_promptly():
    """gpiozero stops its threads at exit; the re-arm thread must notice (no ZombieThread wait)."""
    import subprocess
    import sys

    code = ("from gpiozero.pins.mock import MockFactory\n"
            "from hardware.gpio import SafetyLanyard, RailGrip\n"
            "f = MockFactory()\n"
            "key = SafetyLanyard(17, pin_factory=f)\n"
            "grip = RailGrip((27, 22), pin_factory=f)\n")
    # How promptly: benchmarks/bench_timing.py prints the seconds; the timeout is only a hang guard.
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                            cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert result.returncode == 0, result.stderr
    assert "ZombieThread" not in result.stderr


def test_gpiozeros_own_pin_factories_load_without_scanning_entry_points(monkeypatch):
    """Scanning every installed package's entry points costs tens of ms of a Pi's start."""
    import importlib.metadata

    def no_scan(*args, **kwargs):
        raise AssertionError("entry points scanned for a built-in pin factory")

    import hardware.gpio

    monkeypatch.setattr(importlib.metadata, "entry_points", no_scan)
    monkeypatch.setattr(hardware.gpio, "entry_points", no_scan, raising=False)  # a name bound at import
    assert isinstance(make_pin_factory("mock"), MockFactory)
    assert isinstance(make_pin_factory("Mock"), MockFactory)


def test_every_builtin_pin_factory_is_gpiozeros_own_entry_point():
    from importlib.metadata import entry_points

    from hardware.gpio import BUILTIN_PIN_FACTORIES

    declared = {ep.name: ep.value for ep in entry_points(group="gpiozero_pin_factories")}
    assert {name: declared.get(name) for name in BUILTIN_PIN_FACTORIES} == BUILTIN_PIN_FACTORIES
