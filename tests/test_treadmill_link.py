"""TreadmillLink against the CSAFE simulator on real pseudo-terminals (pyserial opens the pty)."""

from __future__ import annotations

import errno
import os
import queue
import threading
import time

import pytest
import serial
from hypothesis import given, settings, strategies as st

from hardware.treadmill import protocol as p
from hardware.treadmill.link import LinkError, TreadmillLink, answer_fits, explain_open_error, probe, set_once
from hardware.treadmill.protocol import Cmd, State, Unit
from hardware.treadmill.simulator import (PtyMaster, SimulatedTreadmillPort, SimulatedTreadmillServer,
                                          TreadmillSimulator, open_pty_pair)

from conftest import ManualClock, wait_for

MPH = 1.609344


class Events:
    """What the link's callbacks hand off, on queues, as the app does (stamped with *clock*)."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.reports: queue.Queue = queue.Queue()
        self.lost: queue.Queue = queue.Queue()
        self.restored: queue.Queue = queue.Queue()
        self.threads: set[str] = set()

    def kwargs(self):
        return dict(on_report=self._report, on_lost=self._lost, on_restored=self._restored)

    def _report(self, speed, incline, distance):
        self.threads.add(threading.current_thread().name)
        self.reports.put((self.clock(), speed, incline, distance))

    def _lost(self, reason):
        self.lost.put((self.clock(), reason))

    def _restored(self):
        self.restored.put(self.clock())

    def next_reports(self, count=3, timeout=10.0):
        """Wait for *count* more polls to be answered (instead of sleeping "long enough"); the
        newest is then what :meth:`latest_report` returns."""
        latest = None
        while not self.reports.empty():
            self.reports.get_nowait()
        for _ in range(count):
            latest = self.reports.get(timeout=timeout)
        self.reports.put(latest)

    def latest_report(self, timeout=2.0):
        item = self.reports.get(timeout=timeout)
        while not self.reports.empty():
            item = self.reports.get_nowait()
        return item


@pytest.fixture
def treadmill(request):
    kwargs = getattr(request, "param", {})
    kwargs = {"accel_kmh_per_s": 10.0, "incline_pct_per_s": 5.0, **kwargs}
    with SimulatedTreadmillPort(**kwargs) as port:
        yield port


def make_link(port, events=None, **kwargs):
    options = dict(max_speed_kmh=8.0, max_incline_pct=10.0, poll_interval_s=0.1, ramp_kmh_per_s=20.0)
    options.update(kwargs)
    link = TreadmillLink(port.path, **options, **(events.kwargs() if events else {}))
    return link.start()


def link_rounds(link, count=3):
    """Have the link's thread go round *count* more times (poll and check), and wait for it."""
    for _ in range(count):
        before = link.cycles
        link.wake()
        assert wait_for(lambda: link.cycles > before), "the link's thread stopped going round"


@pytest.fixture
def clocked():
    """A treadmill and a link that share a clock the test moves on: time-dependent behaviour
    (ramp, distance, silence) is checked on the clock, with no sleeping through it."""
    clock = ManualClock()
    events = Events(clock)
    with SimulatedTreadmillPort(accel_kmh_per_s=10.0, incline_pct_per_s=5.0, clock=clock) as port:
        links = []

        def make(**kwargs):
            options = dict(max_speed_kmh=8.0, max_incline_pct=10.0, poll_interval_s=0.1,
                           ramp_kmh_per_s=20.0, response_timeout_s=0.05, clock=clock)
            options.update(kwargs)
            link = TreadmillLink(port.path, **options, **events.kwargs()).start()
            clock.listeners.append(link.wake)
            links.append(link)
            assert wait_for(lambda: link.connected)
            return link

        yield clock, port.simulator, events, make
        for link in links:
            link.close()


def run_clock(clock, link, seconds, step=0.1):
    """Move the shared clock on by *seconds*, one link round per *step*."""
    for _ in range(round(seconds / step)):
        before = link.cycles
        clock.advance(step)
        assert wait_for(lambda: link.cycles > before), "the link's thread stopped going round"
    link_rounds(link, 1)


@pytest.fixture
def running_link(treadmill):
    events = Events()
    link = make_link(treadmill, events)
    assert wait_for(lambda: link.connected)
    yield treadmill, link, events
    link.close()


# Polling and units --------------------------------------------------------------------------------

@pytest.mark.parametrize("treadmill", [{"units": "mph"}, {"units": "kmh"}], indirect=True)
def test_reports_come_from_the_link_thread_in_any_unit(treadmill):
    events = Events()
    link = make_link(treadmill, events)
    try:
        assert wait_for(lambda: link.connected)
        link.set_target(3.0 * MPH, 2.0)
        sim = treadmill.simulator
        step = p.SPEED_KMH[sim.speed_unit]       # sent speeds are rounded down to the unit's step
        assert wait_for(lambda: sim.speed_kmh > 3.0 * MPH - step and sim.incline_pct >= 2.0 - 1e-6)
        events.next_reports(3)
        _, speed, incline, distance = events.latest_report()
        assert abs(speed - sim.speed_kmh) <= step + 1e-9
        assert incline == pytest.approx(2.0, abs=0.1)
        assert distance is not None and distance >= 0
        assert events.threads == {"treadmill-link"}
        # The link sends speeds in the unit the treadmill answers in.
        sent_units = {c.data[2] for r in sim.received for c in r.commands if c.id == Cmd.SET_SPEED}
        assert sent_units == {sim.speed_unit}
        assert link.last_report.state == State.IN_USE
    finally:
        link.close()


def test_distance_accumulates(clocked):
    clock, sim, events, make = clocked
    link = make()
    link.set_target(7.2, 0)                           # 2 m/s
    run_clock(clock, link, 1.5)                       # the ramp and the belt reach 7.2 km/h
    assert sim.speed_kmh == pytest.approx(7.2)
    start = events.latest_report()[3]
    run_clock(clock, link, 5.0)
    # 10 m in 5 s on the treadmill's counter, which counts whole metres in km/h mode.
    assert events.latest_report()[3] - start == pytest.approx(10.0, abs=1.01)


@pytest.mark.parametrize("treadmill", [{"unsupported": (Cmd.GET_GRADE,)}], indirect=True)
def test_a_treadmill_without_getgrade_still_reports_speed(treadmill):
    events = Events()
    link = make_link(treadmill, events)
    try:
        assert wait_for(lambda: link.connected)
        link.set_target(2.0, 0)
        assert wait_for(lambda: treadmill.simulator.speed_kmh >= 2.0 - 1e-6)
        events.next_reports(3)
        _, speed, incline, distance = events.latest_report()
        assert speed == pytest.approx(2.0) and incline is None and distance is not None
        assert events.lost.empty()
    finally:
        link.close()


@pytest.mark.parametrize("treadmill", [{"unsupported": (Cmd.SET_GRADE,)}], indirect=True)
def test_a_treadmill_without_an_incline_motor_still_runs(treadmill):
    link = make_link(treadmill)
    try:
        assert wait_for(lambda: link.connected)
        link.set_target(2.0, 3.0)
        assert wait_for(lambda: treadmill.simulator.target_speed_kmh == pytest.approx(2.0))
        assert wait_for(lambda: link.problem is not None and "SetGrade" in link.problem)
        assert link.connected
    finally:
        link.close()


# Caps and ramp --------------------------------------------------------------------------------------

def test_targets_are_clamped_to_the_links_caps(treadmill):
    link = make_link(treadmill, max_speed_kmh=4.0, max_incline_pct=3.0)
    try:
        assert wait_for(lambda: link.connected)
        assert link.set_target(10.0, 12.0) == (4.0, 3.0)
        assert link.set_target(float("nan"), -5.0) == (0.0, 0.0)
        assert link.set_target(10.0, 12.0) == (4.0, 3.0)
        sim = treadmill.simulator
        assert wait_for(lambda: sim.target_speed_kmh == pytest.approx(4.0))
        link_rounds(link, 3)
        assert max(sim.commanded_speeds()) <= 4.0
        assert max(sim.commanded_grades()) <= 3.0
    finally:
        link.close()


@settings(max_examples=200, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(allow_nan=True, allow_infinity=True),
       st.floats(0.1, 30), st.floats(0, 30))
def test_no_target_ever_leaves_the_caps(speed, incline, max_speed, max_incline):
    link = TreadmillLink("loop://", max_speed_kmh=max_speed, max_incline_pct=max_incline)
    clamped_speed, clamped_incline = link.set_target(speed, incline)
    assert 0.0 <= clamped_speed <= max_speed
    assert 0.0 <= clamped_incline <= max_incline
    for unit in p.SPEED_KMH:                    # and after conversion to any unit it is sent in
        # (within float noise: 0.3 km/h must go out as 3 x 0.1, not 2, though 3 * 0.1 > 0.3)
        assert p.decode_speed(p.encode_speed(clamped_speed, unit)) <= max_speed + 1e-9


def test_speed_is_ramped_not_jumped(clocked):
    clock, sim, _, make = clocked
    link = make(ramp_kmh_per_s=2.0, poll_interval_s=0.1)
    started = clock()
    link.set_target(3.0, 0)
    reached = None
    for _ in range(40):
        run_clock(clock, link, 0.1)
        if sim.target_speed_kmh >= 3.0 - 1e-6:
            reached = clock()
            break
    assert reached is not None, "the ramp never got to 3 km/h"
    speeds = sim.commanded_speeds()
    assert reached - started >= 1.4              # 3 km/h at 2 km/h per s is 1.5 s
    assert len(speeds) >= 5
    assert speeds == sorted(speeds)
    steps = [b - a for a, b in zip([0.0] + speeds, speeds)]
    assert max(steps) <= 2.0 * 0.2 + 1e-9        # a round of 0.1 s never sends more than its share


# Stop --------------------------------------------------------------------------------------------------

def test_stop_jumps_the_ramp_and_is_written_at_once(running_link):
    treadmill, link, _ = running_link
    sim = treadmill.simulator
    link.ramp_kmh_per_s = 1.0
    link.set_target(6.0, 0)
    assert wait_for(lambda: sim.target_speed_kmh > 0.5)
    called = time.monotonic()
    link.stop("test")
    assert wait_for(lambda: sim.target_speed_kmh == 0.0 and sim.state == State.FINISHED)
    stop_frame, finish_frame = [r for r in sim.received if r.at >= called][:2]
    # SetSpeed 0 alone first, so a machine that refuses GoFinished still takes the speed.
    assert [c.id for c in stop_frame.commands] == [Cmd.SET_SPEED]
    assert p.decode_speed(stop_frame.commands[0].data) == 0.0
    assert [c.id for c in finish_frame.commands] == [Cmd.GO_FINISHED]
    link_rounds(link, 4)
    assert all(s == 0.0 for s in sim.commanded_speeds(since=called))
    assert link.target is None


def test_close_stops_the_belt_first(treadmill):
    link = make_link(treadmill)
    assert wait_for(lambda: link.connected)
    link.set_target(4.0, 0)
    sim = treadmill.simulator
    assert wait_for(lambda: sim.target_speed_kmh == pytest.approx(4.0))
    link.close()
    assert wait_for(lambda: sim.target_speed_kmh == 0.0 and sim.state == State.FINISHED)
    assert not link.connected or link._thread is None


def test_a_belt_that_keeps_moving_after_stop_is_stopped_again(running_link):
    treadmill, link, _ = running_link
    sim = treadmill.simulator
    link.set_target(4.0, 0)
    assert wait_for(lambda: sim.speed_kmh > 1.0)
    sim.reject_commands(True)          # the stop frame is refused...
    link.stop()
    link_rounds(link, 3)
    assert sim.target_speed_kmh > 0
    sim.reject_commands(False)         # ...so the link sends it again until the belt stops
    assert wait_for(lambda: sim.target_speed_kmh == 0.0)


def test_once_stopped_the_link_leaves_a_console_user_alone(running_link):
    treadmill, link, _ = running_link
    sim = treadmill.simulator
    link.set_target(3.0, 0)
    assert wait_for(lambda: sim.speed_kmh > 2.0)
    link.stop()
    assert wait_for(lambda: sim.speed_kmh == 0.0)
    link_rounds(link, 3)
    # Someone starts the belt on the console while the station is at rest.
    since = time.monotonic()
    for command in (Cmd.GO_IDLE, Cmd.GO_HAVE_ID, Cmd.GO_IN_USE):
        sim.handle(bytes((command,)))
    sim.handle(p.encode_commands([p.set_speed(2.0)]))
    link_rounds(link, 5)
    assert sim.state == State.IN_USE and sim.target_speed_kmh == pytest.approx(2.0)
    assert sim.commanded_speeds(since=since) == [2.0]      # only the console's own command


def test_stop_key_on_the_console_is_never_overridden(running_link):
    """docs/safety.md, rule 1: the treadmill's own stop/safety key stops the belt; the link must not
    walk the state machine back up and restart it."""
    treadmill, link, events = running_link
    sim = treadmill.simulator
    link.set_target(3.0, 0)
    assert wait_for(lambda: sim.speed_kmh > 2.0)
    pressed = time.monotonic()
    sim.press_stop()
    _, reason = events.lost.get(timeout=1)
    assert "by itself" in reason and "Finished" in reason
    events.restored.get(timeout=1)
    link_rounds(link, 6)
    assert sim.state == State.FINISHED and sim.target_speed_kmh == 0.0
    assert all(s == 0.0 for s in sim.commanded_speeds(since=pressed))
    assert link.target is None and link.connected
    # A person resumes on the screen: only then does the belt run again.
    link.set_target(2.0, 0)
    assert wait_for(lambda: sim.state == State.IN_USE and sim.target_speed_kmh == pytest.approx(2.0))


# Lost and restored -------------------------------------------------------------------------------------

def test_pulled_cable_is_lost_within_3_s_then_restored_without_resuming(clocked):
    clock, sim, events, make = clocked
    link = make(poll_interval_s=0.5, silence_timeout_s=2.5, ramp_kmh_per_s=5.0)
    link.set_target(3.0, 1.0)
    run_clock(clock, link, 1.0)
    assert sim.speed_kmh == pytest.approx(3.0)
    pulled = clock()
    sim.pull_cable()
    while events.lost.empty():
        assert clock() - pulled < 10.0, "a pulled cable was never noticed"
        run_clock(clock, link, 0.25, step=0.25)
    lost_at, reason = events.lost.get_nowait()
    assert lost_at - pulled < 3.0                 # docs/safety.md, rule 5: noticed within seconds
    assert "no answer" in reason
    assert not link.connected and link.target is None
    # The belt is still running on the treadmill while the cable is out.
    assert sim.target_speed_kmh == pytest.approx(3.0)
    plugged = clock()
    sim.plug_cable()
    run_clock(clock, link, 0.5)
    events.restored.get(timeout=3)
    assert link.connected
    run_clock(clock, link, 1.0)
    # After the restore the link only polled and stopped the belt: no target by itself.
    assert all(speed == 0.0 for speed in sim.commanded_speeds(since=plugged))
    assert sim.target_speed_kmh == 0.0
    assert link.target is None
    assert events.lost.empty()


@pytest.fixture
def quick_link(treadmill):
    """A connected link that calls a link lost after 0.6 s without a good answer."""
    events = Events()
    link = make_link(treadmill, events, silence_timeout_s=0.6)
    assert wait_for(lambda: link.connected)
    yield treadmill.simulator, link, events
    link.close()


def test_set_target_while_lost_is_not_kept(quick_link):
    sim, link, events = quick_link
    sim.pull_cable()
    events.lost.get(timeout=2)
    link.set_target(3.0, 0)
    assert link.target is None
    sim.plug_cable()
    events.restored.get(timeout=2)
    link_rounds(link, 4)
    assert all(s == 0.0 for s in sim.commanded_speeds())


def test_a_target_given_before_the_first_answer_waits_for_it(treadmill):
    link = TreadmillLink(treadmill.path, max_speed_kmh=8, max_incline_pct=10, poll_interval_s=0.1,
                         ramp_kmh_per_s=20.0).open()
    try:
        assert link.set_target(2.0, 0) == (2.0, 0.0)   # not connected yet: a start, not a resume
        link.start()
        assert wait_for(lambda: treadmill.simulator.target_speed_kmh == pytest.approx(2.0))
    finally:
        link.close()


def test_garbage_on_the_line_is_rejected_and_the_link_survives(running_link):
    treadmill, link, events = running_link
    sim = treadmill.simulator
    link.set_target(2.0, 0)
    for _ in range(10):
        sim.inject_garbage(40)
        link_rounds(link, 1)                     # noise between the link's rounds, not one burst
    assert wait_for(lambda: sim.speed_kmh >= 2.0 - 1e-6)
    events.next_reports(3)
    assert events.lost.empty()
    assert link.connected
    _, speed, _, _ = events.latest_report()
    assert speed == pytest.approx(2.0, abs=0.11)


def test_a_frame_of_noise_that_looks_valid_is_not_paired_with_a_question():
    poll = tuple(p.Command(c) for c in (Cmd.GET_STATUS, Cmd.GET_SPEED))
    status_only = p.decode_answer(bytes((0x85,)))          # "F1 85 85 F2": plausible noise
    assert not answer_fits(poll, status_only)
    assert answer_fits((p.set_speed(2.0),), status_only)
    stray = p.decode_answer(bytes((0x85, Cmd.GET_GRADE, 3, 5, 0, Unit.TENTH_PERCENT_GRADE)))
    assert not answer_fits(poll, stray)                     # a record for something not asked
    echo = p.decode_answer(bytes((0x85, Cmd.SET_SPEED, 0)))  # some machines echo set commands
    assert answer_fits((p.set_speed(2.0),), echo)


def test_only_garbled_answers_mean_lost_then_restored(quick_link):
    sim, link, events = quick_link
    sim.corrupt_answers(True)
    _, reason = events.lost.get(timeout=2)
    assert "garbled" in reason
    sim.corrupt_answers(False)
    events.restored.get(timeout=2)
    assert link.connected


def test_rejected_commands_mean_lost_and_no_target_survives(quick_link):
    sim, link, events = quick_link
    link.set_target(2.0, 0)
    assert wait_for(lambda: sim.target_speed_kmh > 0)
    sim.reject_commands(True)
    _, reason = events.lost.get(timeout=2)
    assert "rejects" in reason
    assert link.target is None
    since = time.monotonic()
    sim.reject_commands(False)
    events.restored.get(timeout=2)
    link_rounds(link, 3)
    assert all(s == 0.0 for s in sim.commanded_speeds(since=since))


def test_unplugged_adapter_is_reopened_with_backoff(tmp_path):
    """/dev/treadmill is a udev symlink; when the adapter comes back, the link opens it again."""
    events = Events()
    alias = tmp_path / "treadmill"
    first = SimulatedTreadmillPort().__enter__()
    alias.symlink_to(first.path)
    link = TreadmillLink(str(alias), max_speed_kmh=8, max_incline_pct=10, poll_interval_s=0.1,
                         silence_timeout_s=0.6, **events.kwargs()).start()
    second = None
    try:
        assert wait_for(lambda: link.connected)
        first.close()                         # the adapter is pulled: the device goes away
        _, reason = events.lost.get(timeout=2)
        assert reason
        second = SimulatedTreadmillPort().__enter__()
        alias.unlink()
        alias.symlink_to(second.path)         # ...and comes back under the same name
        events.restored.get(timeout=6)
        assert link.connected and link.target is None
    finally:
        link.close()
        first.close()
        if second is not None:
            second.close()


# Opening the port ---------------------------------------------------------------------------------------

def test_missing_port_is_a_clear_error(tmp_path):
    with pytest.raises(LinkError) as info:
        TreadmillLink(str(tmp_path / "ttyUSB9"), max_speed_kmh=5, max_incline_pct=5).open()
    assert info.value.kind == "missing"
    assert "no such serial port" in str(info.value)


def test_port_in_use_is_a_clear_error(treadmill):
    holder = serial.serial_for_url(treadmill.path, exclusive=True)
    try:
        with pytest.raises(LinkError) as info:
            TreadmillLink(treadmill.path, max_speed_kmh=5, max_incline_pct=5).open()
        assert info.value.kind == "busy" and "in use" in str(info.value)
    finally:
        holder.close()


def test_permission_denied_names_the_dialout_group():
    # pyserial's own exception, as serialposix raises it for EACCES (the tests run as root,
    # who is never denied, so the real open cannot be made to fail here).
    exc = serial.SerialException(errno.EACCES, "could not open port /dev/ttyUSB0: [Errno 13] Permission denied")
    error = explain_open_error("/dev/ttyUSB0", exc)
    assert error.kind == "permission"
    assert "dialout" in str(error) and "usermod -aG dialout" in str(error)


def test_loop_url_opens_and_its_echo_is_not_trusted():
    link = TreadmillLink("loop://", max_speed_kmh=5, max_incline_pct=5).open()
    link.close()
    with pytest.raises(LinkError) as info:
        probe("loop://", timeout=0.5)         # our own request echoed back is no answer
    assert info.value.kind in ("garbled", "silent")


def test_socket_url_reaches_a_treadmill_over_tcp():
    with SimulatedTreadmillServer(units="mph", accel_kmh_per_s=10.0) as server:
        events = Events()
        link = TreadmillLink(server.url, max_speed_kmh=8, max_incline_pct=10, poll_interval_s=0.1,
                             ramp_kmh_per_s=20.0, **events.kwargs()).start()
        try:
            assert wait_for(lambda: link.connected)
            link.set_target(3.0, 0)
            assert wait_for(lambda: server.simulator.speed_kmh > 2.8)   # 18 x 0.1 mph = 2.897 km/h
            link.stop()
            assert wait_for(lambda: server.simulator.target_speed_kmh == 0.0)
        finally:
            link.close()
        assert probe(server.url, timeout=1)["state"] == "Finished"


# Synchronous helpers ------------------------------------------------------------------------------------

def test_probe_and_set_once(treadmill):
    sim = treadmill.simulator
    result = probe(treadmill.path, timeout=1)
    assert result["state"] == "Ready" and result["speed_kmh"] == 0.0
    set_once(treadmill.path, 3.0, 1.5, max_speed_kmh=5, max_incline_pct=5, timeout=1)
    assert sim.state == State.IN_USE
    assert sim.target_speed_kmh == pytest.approx(3.0)
    with pytest.raises(LinkError) as info:
        set_once(treadmill.path, 6.0, 0, max_speed_kmh=5, max_incline_pct=5, timeout=1)
    assert info.value.kind == "cap"
    assert sim.target_speed_kmh == pytest.approx(3.0)
    set_once(treadmill.path, 0.0, 0, max_speed_kmh=5, max_incline_pct=5, timeout=1)
    assert sim.state == State.FINISHED and sim.target_speed_kmh == 0.0


def test_probe_of_a_silent_treadmill(treadmill):
    treadmill.simulator.pull_cable()
    with pytest.raises(LinkError) as info:
        probe(treadmill.path, timeout=0.5)
    assert info.value.kind == "silent" and "did not answer" in str(info.value)


# The simulator itself --------------------------------------------------------------------------------------

def test_simulator_follows_the_csafe_state_machine():
    sim = TreadmillSimulator(None)
    status = lambda contents: p.decode_answer(contents).status  # noqa: E731
    assert status(sim.handle(bytes((Cmd.GO_IN_USE,)))).previous == p.FrameStatus.REJECTED
    for command, state in ((Cmd.GO_IDLE, State.IDLE), (Cmd.GO_HAVE_ID, State.HAVE_ID),
                           (Cmd.GO_IN_USE, State.IN_USE), (Cmd.GO_FINISHED, State.FINISHED)):
        answer = status(sim.handle(bytes((command,))))
        assert (answer.previous, answer.state) == (p.FrameStatus.OK, state)


def test_simulator_belt_accelerates_and_clamps_to_its_own_max():
    sim = TreadmillSimulator(None, max_speed_kmh=10.0, accel_kmh_per_s=1.0)
    for command in (Cmd.GO_IDLE, Cmd.GO_HAVE_ID, Cmd.GO_IN_USE):
        sim.handle(bytes((command,)))
    sim.handle(p.encode_commands([p.set_speed(15.0)]))
    assert sim.target_speed_kmh == 10.0
    sim.tick(2.0)
    assert sim.speed_kmh == pytest.approx(2.0)
    assert sim.distance_m == pytest.approx(2.0 * 1.0 / 3.6)   # 2 s at an average of 1 km/h
    sim.tick(1.0)
    assert sim.distance_m == pytest.approx((2.0 + 2.5) / 3.6)


def test_pty_pair_is_raw():
    master, slave, path = open_pty_pair()
    try:
        port = serial.serial_for_url(path, timeout=0.2)
        PtyMaster(master).write(b"\xF1\x80\x80\xF2")
        assert port.read(4) == b"\xF1\x80\x80\xF2"
        assert PtyMaster(master).read(16, timeout=0.1) == b""   # nothing echoed back
        port.close()
    finally:
        os.close(master)
        os.close(slave)
