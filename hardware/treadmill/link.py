"""The station's CSAFE link to a treadmill, over pyserial.

:class:`TreadmillLink` owns a thread that polls the treadmill (status, speed, grade, distance),
ramps the speed towards the target it was given, notices a silent, garbled or unplugged link within
``silence_timeout_s`` and reopens the port with back-off. Safety (docs/safety.md):

* every target goes through the caps given at construction -- a second clamp under the app's own;
* :meth:`TreadmillLink.stop` writes the stop frame from the calling thread at once, jumping any ramp;
* after a loss the target is forgotten: a restored link only polls (and stops a moving belt); the
  belt runs again only when someone calls :meth:`TreadmillLink.set_target` again;
* a treadmill that leaves InUse by itself (its stop, pause or safety key) is never walked back up:
  the target is dropped and the link reports ``on_lost(reason)`` then ``on_restored()``, so the
  core pauses and waits for a person.

Callbacks run on the link's thread and must only hand the data off (put it on a queue).

:func:`probe` and :func:`set_once` are synchronous helpers for the installer's commands.
"""

from __future__ import annotations

import collections
import errno
import logging
import math
import termios
import threading
import time
from dataclasses import dataclass
from typing import Callable

import serial

from . import protocol as p
from .protocol import Cmd, FrameStatus, State, Unit

log = logging.getLogger(__name__)

#: The poll: one frame, four questions.
POLL = (Cmd.GET_STATUS, Cmd.GET_SPEED, Cmd.GET_GRADE, Cmd.GET_HORIZONTAL)
#: How long to wait for one answer. At 9600 baud a 20-byte answer takes about 21 ms on the wire;
#: CSAFE slaves answer well within 100 ms, so 0.3 s means "no answer", not "slow answer".
RESPONSE_TIMEOUT_S = 0.3
#: Reopening a lost port: first wait, doubling up to the longest wait (Klipper-like patience,
#: but an unplugged USB adapter that comes back is found again within a few seconds).
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 5.0
#: States in which the belt may be moving, so the stop frame also ends the workout.
MOVING_STATES = frozenset({State.IN_USE, State.PAUSE, State.MANUAL})

_DIALOUT_HINT = "add the user to the dialout group: sudo usermod -aG dialout $USER (then log in again)"


class LinkError(Exception):
    """A problem with the port or the treadmill, in one line a person can act on.

    :attr:`kind` is one of ``missing``, ``permission``, ``busy``, ``url``, ``silent``,
    ``garbled``, ``rejected``, ``cap``, ``state``, ``io``.
    """

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class TreadmillReport:
    """What the treadmill said in one poll. ``None`` where it did not say.

    :param state: CSAFE state.
    :param speed_kmh: belt speed, km/h.
    :param incline_pct: grade, percent.
    :param distance_m: distance on the treadmill's counter, metres.
    :param at: the link's clock (monotonic seconds) when the answer arrived.
    :param speed_unit: the CSAFE unit the treadmill used for speed (what we send speeds in).
    """

    state: State
    speed_kmh: float | None
    incline_pct: float | None
    distance_m: float | None
    at: float
    speed_unit: Unit | None = None
    grade_unit: Unit | None = None
    distance_unit: Unit | None = None

    def as_dict(self) -> dict:
        return {
            "state": self.state.label,
            "speed_kmh": _rounded(self.speed_kmh, 3),
            "incline_pct": _rounded(self.incline_pct, 2),
            "distance_m": _rounded(self.distance_m, 1),
            "units": {
                "speed": p.unit_name(self.speed_unit) if self.speed_unit is not None else None,
                "incline": p.unit_name(self.grade_unit) if self.grade_unit is not None else None,
                "distance": p.unit_name(self.distance_unit) if self.distance_unit is not None else None,
            },
        }


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


# Opening the port -----------------------------------------------------------------------------------

def open_port(url: str, *, baudrate: int = 9600, timeout: float = 0.02) -> serial.SerialBase:
    """Open *url* 8N1 with an exclusive lock; raise :class:`LinkError` with a one-line reason."""
    try:
        return serial.serial_for_url(url, baudrate=baudrate, bytesize=serial.EIGHTBITS,
                                     parity=serial.PARITY_NONE, stopbits=serial.STOPBITS_ONE,
                                     timeout=timeout, write_timeout=1.0, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise explain_open_error(url, exc) from None


def explain_open_error(url: str, exc: BaseException) -> LinkError:
    """Turn pyserial's exception into what to do about it."""
    code = getattr(exc, "errno", None)
    text = str(exc)
    if isinstance(exc, ValueError):
        return LinkError(f"{url}: not a serial port or pyserial URL ({text}); use e.g. /dev/ttyUSB0 or socket://HOST:PORT", "url")
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO) or "No such file" in text:
        return LinkError(f"{url}: no such serial port; check the USB serial adapter is plugged in "
                         f"(ls /dev/serial/by-id/) and the port name", "missing")
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text:
        return LinkError(f"{url}: permission denied; {_DIALOUT_HINT}", "permission")
    if code in (errno.EBUSY, errno.EAGAIN, errno.EWOULDBLOCK) or "exclusively lock" in text:
        return LinkError(f"{url}: the port is in use by another program (is the Backstep station "
                         f"running?); stop it and try again", "busy")
    return LinkError(f"{url}: cannot open the port: {text}", "io")


# The wire: frames out, answers back in order --------------------------------------------------------

class CsafeWire:
    """Frames out, answers in. Any thread may :meth:`send`; one thread reads (:meth:`wait`).

    A CSAFE slave answers frames in the order it got them and its answers carry no request id, so
    answers are matched to requests first in, first out. When an answer does not come in time the
    input is flushed and the count starts afresh, so that a late answer is never taken for the
    answer to a later question.
    """

    def __init__(self, port: serial.SerialBase, response_timeout: float = RESPONSE_TIMEOUT_S):
        self.port = port
        #: Real seconds: how long the wire itself waits for bytes. (The link's decisions run on its
        #: own injectable clock; this timeout is the serial line's, so it stays on the real one.)
        self.response_timeout = response_timeout
        self.reader = p.FrameReader()
        self._lock = threading.Lock()
        self._outstanding: collections.deque[tuple[int, tuple[p.Command, ...]]] = collections.deque()
        self._sent = 0
        self.bad_frames = 0
        self.rejected = 0
        #: The units the treadmill answers in; we send in the same ones.
        self.speed_unit: Unit = Unit.TENTH_KMH
        self.grade_unit: Unit = Unit.TENTH_PERCENT_GRADE
        #: What a poll asks; commands the treadmill rejects on their own are dropped (see poll()).
        self.poll_commands: list[int] = list(POLL)
        #: False once the treadmill has refused SetGrade while taking SetSpeed (no incline motor).
        self.grade_settable = True

    def send(self, commands) -> int:
        """Write one frame now; return its sequence number for :meth:`wait`."""
        commands = tuple(c if isinstance(c, p.Command) else p.Command(c) for c in commands)
        frame = p.encode_frame(p.encode_commands(list(commands)))
        with self._lock:
            self._sent += 1
            self._outstanding.append((self._sent, commands))
            try:
                self.port.write(frame)
            except BaseException:
                self._outstanding.pop()
                raise
            return self._sent

    def wait(self, seq: int, timeout: float | None = None,
             on_answer: Callable[[tuple[p.Command, ...], p.Answer], None] | None = None) -> p.Answer | None:
        """Read answers until the one for *seq*; earlier ones go to *on_answer*. ``None`` on timeout."""
        deadline = time.monotonic() + (self.response_timeout if timeout is None else timeout)
        while True:
            # Read what is there, or block (up to the port timeout) for the first byte only, so an
            # answer is handled the moment it is complete rather than when a read size fills up.
            for result in self.reader.feed(self.port.read(self.port.in_waiting or 1)):
                answer = self._accept(result)
                if answer is None:
                    continue
                with self._lock:
                    if not self._outstanding:
                        continue  # an answer nobody waits for any more
                    number, commands = self._outstanding.popleft()
                if not answer_fits(commands, answer):
                    # Line noise that happened to look like a frame, or answers out of step:
                    # start afresh rather than pair every later answer with the wrong question.
                    self.bad_frames += 1
                    self._resync()
                    return None
                if on_answer is not None:
                    on_answer(commands, answer)
                if number >= seq:
                    return answer
            if time.monotonic() >= deadline:
                self._resync()
                return None

    def exchange(self, commands, timeout: float | None = None) -> p.Answer | None:
        return self.wait(self.send(commands), timeout)

    def _accept(self, result) -> p.Answer | None:
        if isinstance(result, p.ProtocolError):
            self.bad_frames += 1
            log.debug("dropped a broken frame: %s", result)
            return None
        try:
            answer = p.decode_answer(result.contents)
            self._learn_units(answer)
        except p.ProtocolError as exc:
            self.bad_frames += 1
            log.debug("dropped a broken answer: %s", exc)
            return None
        if answer.status.previous != FrameStatus.OK:
            self.rejected += 1
        return answer

    def _learn_units(self, answer: p.Answer) -> None:
        speed = answer.get(Cmd.GET_SPEED)
        grade = answer.get(Cmd.GET_GRADE)
        if speed is not None:
            self.speed_unit = p.speed_unit_of(speed)
        if grade is not None:
            self.grade_unit = p.grade_unit_of(grade)

    def _resync(self) -> None:
        with self._lock:
            self._outstanding.clear()
        self.reader.reset()
        try:
            self.port.reset_input_buffer()
        except (serial.SerialException, OSError, AttributeError):
            pass

    def stop_frames(self, state: State | None) -> list[list[p.Command]]:
        """SetSpeed 0 in the treadmill's own unit; then GoFinished when the belt may be moving."""
        return p.stop_frames(self.speed_unit, may_be_moving=state is None or state in MOVING_STATES)

    def send_stop(self, state: State | None) -> list[int]:
        """Write the stop frames now, back to back; return their sequence numbers."""
        return [self.send(frame) for frame in self.stop_frames(state)]

    def poll(self, timeout: float | None = None) -> p.Answer | None:
        """Ask for status, speed, grade and distance.

        A treadmill that rejects the whole poll because it lacks GetGrade or GetHorizontal is
        asked for each of them alone; those it rejects are left out of later polls (their values
        are then reported as unknown).
        """
        answer = self.exchange(self.poll_commands, timeout)
        if answer is None or answer.status.previous != FrameStatus.REJECTED or len(self.poll_commands) <= 2:
            return answer
        base = self.exchange(POLL[:2], timeout)
        if base is None or base.status.previous != FrameStatus.OK:
            return answer                      # it rejects everything: not a missing command
        for command in self.poll_commands[2:]:
            single = self.exchange([command], timeout)
            if single is not None and single.status.previous == FrameStatus.REJECTED:
                log.info("the treadmill does not take %s; its value is reported as unknown", Cmd(command).name)
                self.poll_commands.remove(command)
        return self.exchange(self.poll_commands, timeout)


def answer_fits(commands: tuple[p.Command, ...], answer: p.Answer) -> bool:
    """Could *answer* be the answer to *commands*? Records only for what was asked, and an
    accepted question for data brings some data."""
    asked = {c.id for c in commands} | {Cmd.GET_STATUS}
    if not set(answer.records) <= asked:
        return False
    wanted_data = any(c.id in (Cmd.GET_SPEED, Cmd.GET_GRADE, Cmd.GET_HORIZONTAL) for c in commands)
    return not (wanted_data and answer.status.previous == FrameStatus.OK and not answer.records)


def report_from(answer: p.Answer, wire: CsafeWire, at: float) -> TreadmillReport | None:
    """A report from a poll's answer (received at *at*), or ``None`` when the treadmill did not take the poll."""
    if answer.status.previous != FrameStatus.OK:
        return None
    speed, grade, distance = (answer.get(c) for c in (Cmd.GET_SPEED, Cmd.GET_GRADE, Cmd.GET_HORIZONTAL))
    return TreadmillReport(
        state=answer.status.state,
        speed_kmh=p.decode_speed(speed) if speed is not None else None,
        incline_pct=p.decode_grade(grade) if grade is not None else None,
        distance_m=p.decode_distance(distance) if distance is not None else None,
        at=at,
        speed_unit=p.speed_unit_of(speed) if speed is not None else None,
        grade_unit=p.grade_unit_of(grade) if grade is not None else None,
        distance_unit=Unit(distance[2]) if distance is not None else None,
    )


def _clamp(value: float, cap: float) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 0.0
    if not math.isfinite(value):
        return 0.0
    return min(max(value, 0.0), cap)


def _approach(value: float, target: float, step: float) -> float:
    return min(value + step, target) if value < target else max(value - step, target)


# The link ---------------------------------------------------------------------------------------------

class TreadmillLink:
    """A CSAFE treadmill on a serial port (or pyserial URL: ``loop://``, ``socket://host:port``).

    :param url: the port, e.g. ``/dev/treadmill`` (the udev rule's name) or ``/dev/ttyUSB0``.
    :param baudrate: CSAFE's is 9600.
    :param max_speed_kmh: hard cap for every speed sent, km/h (the app's caps apply first).
    :param max_incline_pct: hard cap for every grade sent, percent.
    :param poll_interval_s: seconds between polls.
    :param silence_timeout_s: a link with no good answer for this long is lost (docs/safety.md, rule 5: noticed within a few seconds).
    :param ramp_kmh_per_s: how fast the speed sent moves towards the target, km/h per second.
    :param on_report: ``(speed_kmh, incline_pct, distance_m)`` after each good poll.
    :param on_lost: ``(reason)`` once when the link goes quiet, garbled or away.
    :param on_restored: ``()`` when it answers again after a loss.
    :param clock: monotonic seconds for every timing decision (polls, ramp, silence). Tests pass a
        clock they move on by hand, as Klipper's reactor hands its time to every module, so that
        "lost within 3 s" is checked on the clock instead of by sleeping through it.
    """

    def __init__(self, url: str, *, baudrate: int = 9600, max_speed_kmh: float, max_incline_pct: float,
                 poll_interval_s: float = 0.5, silence_timeout_s: float = 2.5, ramp_kmh_per_s: float = 1.0,
                 on_report: Callable[[float | None, float | None, float | None], None] | None = None,
                 on_lost: Callable[[str], None] | None = None,
                 on_restored: Callable[[], None] | None = None,
                 response_timeout_s: float = RESPONSE_TIMEOUT_S,
                 clock: Callable[[], float] = time.monotonic):
        if max_speed_kmh <= 0 or not math.isfinite(max_speed_kmh):
            raise ValueError("max_speed_kmh must be a positive number")
        self.url = url
        self.baudrate = baudrate
        self.max_speed_kmh = float(max_speed_kmh)
        self.max_incline_pct = max(float(max_incline_pct), 0.0)
        self.poll_interval_s = poll_interval_s
        self.silence_timeout_s = silence_timeout_s
        self.ramp_kmh_per_s = ramp_kmh_per_s
        self.response_timeout_s = min(response_timeout_s, poll_interval_s)
        self.on_report = on_report
        self.on_lost = on_lost
        self.on_restored = on_restored
        self._clock = clock

        self._wire: CsafeWire | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._connected = False
        self._lost_reported = False
        self._last_good = self._clock()
        self._last_report: TreadmillReport | None = None
        self._target: tuple[float, float] | None = None
        self._commanded: float | None = None       # the ramped speed last sent, km/h
        self._sent_setpoint: tuple[bytes, bytes] | None = None
        self._hold_stopped = False
        self._reached_in_use = False               # the belt got to InUse for the current target
        self._last_ramp = self._clock()
        self._backoff = BACKOFF_FIRST_S
        self._problem: str | None = None
        #: Rounds of the link's thread so far (poll, silence check, wait): a test that moved the
        #: clock on waits for the next round instead of sleeping.
        self.cycles = 0

    # Public API ------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def problem(self) -> str | None:
        """The last thing that kept the belt from doing what it was told (for the UI and doctor)."""
        wire = self._wire
        if wire is not None and not wire.grade_settable:
            return "the treadmill does not take SetGrade; set the incline on its console"
        return self._problem

    @property
    def last_report(self) -> TreadmillReport | None:
        return self._last_report

    @property
    def target(self) -> tuple[float, float] | None:
        """The clamped (speed km/h, incline %) the link is ramping to, or ``None`` when stopped."""
        return self._target

    def open(self) -> "TreadmillLink":
        """Open the port. Raises :class:`LinkError` (missing, permission/dialout, busy...)."""
        self._wire = CsafeWire(open_port(self.url, baudrate=self.baudrate), self.response_timeout_s)
        return self

    def start(self, wait_for_port: bool = False) -> "TreadmillLink":
        """Start polling on a thread (opens the port first if :meth:`open` was not called).

        :param wait_for_port: a port that is missing, busy or failing now is reported through
            ``on_lost`` and retried with back-off, instead of raising: a USB serial adapter can
            appear after the kiosk starts. Permission problems still raise (an install fault).
        """
        if self._wire is None:
            try:
                self.open()
            except LinkError as exc:
                if not wait_for_port or exc.kind == "permission":
                    raise
                self._lose(str(exc))
        self._last_good = self._clock()
        self._closing.clear()
        self._thread = threading.Thread(target=self._run, name="treadmill-link", daemon=True)
        self._thread.start()
        return self

    def wake(self) -> None:
        """Poll now and look at the clock again (after a test moved its clock on)."""
        self._wake.set()

    def set_target(self, speed_kmh: float, incline_pct: float = 0.0) -> tuple[float, float]:
        """Run the belt towards *speed_kmh* at *incline_pct*, clamped to the caps; ramped.

        Returns the clamped target. A lost link keeps no target: the belt must never start by
        itself when the cable comes back. (Before the very first answer the target waits: that is
        a start, not a resume; if the treadmill never answers, the loss clears it.)
        """
        speed = _clamp(speed_kmh, self.max_speed_kmh)
        incline = _clamp(incline_pct, self.max_incline_pct)
        with self._lock:
            if self._lost_reported:
                self._problem = "the treadmill link is lost; the target was not kept"
                return speed, incline
            if self._target is None:
                report = self._last_report
                self._commanded = report.speed_kmh if report and report.speed_kmh is not None else 0.0
                self._last_ramp = self._clock()
                self._reached_in_use = False
            self._target = (speed, incline)
            self._hold_stopped = False
        self._wake.set()
        return speed, incline

    def stop(self, reason: str = "") -> None:
        """Stop the belt now: SetSpeed 0 (+ GoFinished) goes on the wire from this thread.

        Jumps any ramp and forgets the target. Safe to call from any thread, connected or not; if
        the port cannot be written, the stop is sent again as soon as the link is back.
        """
        with self._lock:
            self._target = None
            self._commanded = 0.0
            self._sent_setpoint = None
            self._hold_stopped = True
        wire = self._wire
        if wire is not None:
            report = self._last_report
            try:
                wire.send_stop(report.state if report else None)
            except (serial.SerialException, OSError) as exc:
                log.warning("could not send the stop frame (%s); will send it when the link is back", exc)
        if reason:
            log.info("belt stop: %s", reason)
        self._wake.set()

    def close(self) -> None:
        """Stop the belt, then stop the thread and close the port."""
        self.stop("link closing")
        self._closing.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        self._thread = None
        wire, self._wire = self._wire, None
        if wire is not None:
            # A port whose adapter was pulled raises termios.error (not an OSError) from flush and
            # close; closing must still finish, so the kiosk can exit cleanly.
            try:
                wire.port.flush()
            except (serial.SerialException, OSError, termios.error):
                pass
            try:
                wire.port.close()
            except (serial.SerialException, OSError, termios.error):
                pass

    # The thread ----------------------------------------------------------------------------------

    def _run(self) -> None:
        next_poll = self._clock()
        while not self._closing.is_set():
            now = self._clock()
            if self._wire is None:
                self._reopen()
                next_poll = self._clock()
                continue
            try:
                if now >= next_poll:
                    next_poll = now + self.poll_interval_s
                    self._cycle()
            except (serial.SerialException, OSError) as exc:
                self._port_failed(exc)
                continue
            self._check_silence()
            self.cycles += 1
            deadline = min(next_poll, self._last_good + self.silence_timeout_s)
            self._wake.wait(max(0.0, min(deadline - self._clock(), self.poll_interval_s)))
            if self._wake.is_set():
                self._wake.clear()
                next_poll = min(next_poll, self._clock())

    def _cycle(self) -> None:
        """One round: stop a belt we hold stopped, move towards the target, then poll."""
        wire = self._wire
        report = self._last_report
        if self._hold_stopped and report is not None and (
                (report.speed_kmh or 0.0) > 0.0 or report.state in MOVING_STATES):
            for seq in wire.send_stop(report.state):
                wire.wait(seq)
        with self._lock:
            target = self._target
        if target is not None and self._connected:
            self._drive(wire, target)
        self._poll(wire)

    def _drive(self, wire: CsafeWire, target: tuple[float, float]) -> None:
        speed_target, incline = target
        state = self._last_report.state if self._last_report else None
        # Walk the CSAFE state machine up to InUse, one accepted step at a time.
        for _ in range(4):
            if state == State.IN_USE or speed_target <= 0.0:
                break
            step = p.NEXT_TOWARDS_IN_USE.get(state)
            if step is None:
                self._problem = f"the treadmill is in state {state.label if state is not None else 'unknown'} and cannot be started from here"
                return
            answer = wire.exchange([step])
            if answer is None or answer.status.previous != FrameStatus.OK:
                self._problem = f"the treadmill refused {Cmd(step).name} in state {state.label}"
                return
            state = answer.status.state
        now = self._clock()
        with self._lock:
            if self._target != target:
                return  # stop() or a new target arrived meanwhile
            commanded = _approach(self._commanded or 0.0, speed_target,
                                  self.ramp_kmh_per_s * max(0.0, now - self._last_ramp))
            self._last_ramp = now
            self._commanded = commanded
        speed_data = p.encode_speed(min(commanded, self.max_speed_kmh), wire.speed_unit)
        grade_data = p.encode_grade(min(incline, self.max_incline_pct), wire.grade_unit)
        sent_speed, sent_grade = self._sent_setpoint or (None, None)
        ok = True
        if speed_data != sent_speed:
            ok = self._send_setting(wire, target, Cmd.SET_SPEED, speed_data)
        if ok and grade_data != sent_grade and wire.grade_settable:
            self._send_setting(wire, target, Cmd.SET_GRADE, grade_data)

    def _send_setting(self, wire: CsafeWire, target: tuple[float, float], command: int, data: bytes) -> bool:
        """Send SetSpeed or SetGrade alone, so that a machine without one still takes the other."""
        answer = wire.exchange([p.Command(command, data)])
        accepted = answer is not None and answer.status.previous == FrameStatus.OK
        with self._lock:
            if accepted and self._target == target:
                speed, grade = self._sent_setpoint or (None, None)
                self._sent_setpoint = (data, grade) if command == Cmd.SET_SPEED else (speed, data)
                self._problem = None
            elif answer is not None and not accepted:
                if command == Cmd.SET_GRADE and self._sent_setpoint and self._sent_setpoint[0] is not None:
                    # It just took a speed, so it is not rejecting everything: it has no SetGrade.
                    wire.grade_settable = False
                else:
                    self._problem = f"the treadmill rejected {Cmd(command).name}"
        return accepted

    def _poll(self, wire: CsafeWire) -> None:
        answer = wire.poll()
        if answer is None:
            return
        try:
            report = report_from(answer, wire, self._clock())
        except p.ProtocolError as exc:
            wire.bad_frames += 1
            log.debug("poll answer not trusted: %s", exc)
            return
        if report is None:
            return
        self._last_report = report
        self._last_good = report.at
        with self._lock:
            departed = self._target is not None and self._reached_in_use and report.state != State.IN_USE
            if departed:
                # Its stop key, pause key or safety key took it out of InUse. docs/safety.md, rule 1:
                # the station never starts the belt again on its own, so the target is dropped
                # (walking the state machine back up would restart a belt someone just stopped).
                self._target = None
                self._commanded = 0.0
                self._sent_setpoint = None
                self._hold_stopped = True
                self._reached_in_use = False
            elif self._target is not None and report.state == State.IN_USE:
                self._reached_in_use = True
        if self._hold_stopped and (report.speed_kmh == 0.0 or
                                   (report.speed_kmh is None and report.state not in MOVING_STATES)):
            # Stopped, as told. From here on the link leaves the belt alone: a person who later
            # starts it on the console is not stopped again and again by a station at rest.
            with self._lock:
                self._hold_stopped = False
        wire.bad_frames = wire.rejected = 0
        self._backoff = BACKOFF_FIRST_S
        if not self._connected:
            with self._lock:
                self._connected = True
                restored, self._lost_reported = self._lost_reported, False
            if restored:
                log.info("treadmill link restored on %s", self.url)
                if self.on_restored is not None:
                    self.on_restored()
        if self.on_report is not None:
            self.on_report(report.speed_kmh, report.incline_pct, report.distance_m)
        if departed:
            # Told as a loss and an immediate return: the core pauses, stops, and waits for a
            # person to resume on the screen -- exactly what a stop at the console calls for.
            reason = f"the treadmill went to {report.state.label} by itself (stop, pause or safety key on its console)"
            log.warning("%s", reason)
            if self.on_lost is not None:
                self.on_lost(reason)
            if self.on_restored is not None:
                self.on_restored()

    def _check_silence(self) -> None:
        silent_for = self._clock() - self._last_good
        if silent_for < self.silence_timeout_s or self._lost_reported:
            return
        wire = self._wire
        if wire is not None and wire.bad_frames:
            reason = f"the treadmill sends garbled frames ({wire.bad_frames} broken in {silent_for:.1f} s)"
        elif wire is not None and wire.rejected:
            reason = f"the treadmill rejects the station's commands ({wire.rejected} in {silent_for:.1f} s)"
        else:
            reason = f"no answer from the treadmill for {silent_for:.1f} s (cable unplugged or treadmill off?)"
        self._lose(reason)

    def _lose(self, reason: str) -> None:
        with self._lock:
            self._connected = False
            self._target = None              # docs/safety.md, rule 5: never resume by itself
            self._commanded = 0.0
            self._sent_setpoint = None
            self._hold_stopped = True        # the first thing a returning treadmill hears is "stop"
            first = not self._lost_reported
            self._lost_reported = True       # under the lock: set_target() must see it with the target gone
        if first:
            log.warning("treadmill link lost on %s: %s", self.url, reason)
            if self.on_lost is not None:
                self.on_lost(reason)

    def _port_failed(self, exc: BaseException) -> None:
        wire, self._wire = self._wire, None
        if wire is not None:
            try:
                wire.port.close()
            except (serial.SerialException, OSError):
                pass
        self._lose(f"serial port error on {self.url}: {exc}")

    def _reopen(self) -> None:
        if self._closing.wait(self._backoff):
            return
        try:
            self._wire = CsafeWire(open_port(self.url, baudrate=self.baudrate), self.response_timeout_s)
            log.info("reopened %s", self.url)
        except LinkError as exc:
            log.debug("still cannot open %s: %s", self.url, exc)
            self._backoff = min(self._backoff * 2, BACKOFF_MAX_S)


# Installer helpers ---------------------------------------------------------------------------------

def _first_report(wire: CsafeWire, url: str, timeout: float) -> TreadmillReport:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        answer = wire.poll(timeout=min(RESPONSE_TIMEOUT_S * 2, remaining))
        if answer is not None:
            try:
                report = report_from(answer, wire, time.monotonic())
            except p.ProtocolError:
                wire.bad_frames += 1
                report = None
            if report is not None:
                return report
    if wire.bad_frames:
        raise LinkError(f"{url}: the treadmill's answers are garbled ({wire.bad_frames} broken frames in "
                        f"{timeout:g} s); check the baud rate (CSAFE uses 9600) and the cable", "garbled")
    if wire.rejected:
        raise LinkError(f"{url}: the treadmill rejected the status request; it may not speak CSAFE's "
                        f"GetSpeed/GetGrade/GetHorizontal", "rejected")
    raise LinkError(f"{url}: the treadmill did not answer within {timeout:g} s; check that it is on, that "
                    f"the cable is in its CSAFE port, and that it speaks CSAFE at 9600 baud", "silent")


def probe(url: str, timeout: float = 3.0, *, baudrate: int = 9600) -> dict:
    """Ask the treadmill once for state, speed, incline and distance. Raises :class:`LinkError`."""
    port = open_port(url, baudrate=baudrate)
    try:
        report = _first_report(CsafeWire(port), url, timeout)
    finally:
        port.close()
    return {"port": url, **report.as_dict()}


def set_once(url: str, speed_kmh: float, incline_pct: float = 0.0, *, max_speed_kmh: float,
             max_incline_pct: float, timeout: float = 3.0, baudrate: int = 9600) -> dict:
    """Set the treadmill running at *speed_kmh* / *incline_pct* (0 km/h stops it); return a probe.

    A value above the caps is refused, not clamped: an installer typed it. The treadmill's own
    acceleration does the ramping.
    """
    for value, cap, what, unit in ((speed_kmh, max_speed_kmh, "speed", "km/h"),
                                    (incline_pct, max_incline_pct, "incline", "%")):
        if not math.isfinite(value) or value < 0:
            raise LinkError(f"{what} {value} is not allowed; give a number of 0 or more", "cap")
        if value > cap + 1e-9:
            raise LinkError(f"{what} {value:g} {unit} is above the cap of {cap:g} {unit}", "cap")
    port = open_port(url, baudrate=baudrate)
    try:
        wire = CsafeWire(port)
        report = _first_report(wire, url, timeout)
        if speed_kmh <= 0:
            answers = [wire.wait(seq) for seq in wire.send_stop(report.state)]
            if answers[0] is None:
                raise LinkError(f"{url}: the treadmill did not answer the stop command; stop it on its console", "silent")
        else:
            state = report.state
            for _ in range(4):
                if state == State.IN_USE:
                    break
                step = p.NEXT_TOWARDS_IN_USE.get(state)
                if step is None:
                    raise LinkError(f"{url}: the treadmill is in state {state.label}; put it in its ready "
                                    f"state (finish or reset the workout on its console) and try again", "state")
                answer = wire.exchange([step])
                if answer is None or answer.status.previous != FrameStatus.OK:
                    raise LinkError(f"{url}: the treadmill refused {Cmd(step).name} in state {state.label}", "rejected")
                state = answer.status.state
            settings = [(p.set_speed(speed_kmh, wire.speed_unit), f"speed {speed_kmh:.2f} km/h")]
            if incline_pct > 0 or report.incline_pct:
                settings.append((p.set_grade(incline_pct, wire.grade_unit), f"incline {incline_pct:g} %"))
            for command, what in settings:
                answer = wire.exchange([command])
                if answer is None:
                    raise LinkError(f"{url}: the treadmill did not answer the command for {what}", "silent")
                if answer.status.previous != FrameStatus.OK:
                    raise LinkError(f"{url}: the treadmill rejected {what}", "rejected")
        result = _first_report(wire, url, timeout)
    finally:
        port.close()
    return {"port": url, **result.as_dict()}
