"""A CSAFE treadmill in software, speaking the same frames as a real one on a real serial device.

Like OctoPrint's virtual printer, it is plugged in at the serial level: the station's link opens a
pseudo-terminal (or any pyserial URL) and runs its real protocol code against it. The belt
accelerates as a motor does, the incline moves slowly, distance adds up, and faults can be drilled:
a pulled cable, garbage on the line, corrupted answers, commands rejected.

Installers can run one by hand and point ``backstep treadmill probe`` at it::

    python -m hardware.treadmill.simulator --pty [--units mph]      # prints the pty path
    python -m hardware.treadmill.simulator --tcp 2323               # socket://127.0.0.1:2323
"""

from __future__ import annotations

import argparse
import errno
import os
import random
import select
import socket
import sys
import threading
import time
import tty
from dataclasses import dataclass
from typing import Callable

from . import protocol as p
from .protocol import Cmd, FrameStatus, State, Status, Unit

#: Belt acceleration. Sources: treadmill controllers ramp the motor over a few seconds; commercial
#: machines take about 10-20 s from standstill to 16 km/h, i.e. roughly 1 km/h per second.
DEFAULT_ACCEL_KMH_PER_S = 1.0
#: Braking after a stop is a little quicker than speeding up (the console's stop key, not the
#: safety key's emergency stop, which cuts the motor).
DEFAULT_DECEL_KMH_PER_S = 2.0
#: Elevation motors move about half a percent of grade per second.
DEFAULT_INCLINE_PCT_PER_S = 0.5
#: A typical home/club treadmill tops out at 12 mph (19.3 km/h) and 15 % grade.
DEFAULT_MAX_SPEED_KMH = 12 * 1.609344
DEFAULT_MAX_INCLINE_PCT = 15.0

#: Which state commands the simulated machine accepts in which state (CSAFE state diagram). A state
#: command that is not listed is rejected, as a strict machine would.
_TRANSITIONS: dict[int, tuple[frozenset[State], State | None]] = {
    Cmd.GO_IDLE: (frozenset({State.READY, State.FINISHED, State.HAVE_ID, State.IDLE}), State.IDLE),
    Cmd.GO_HAVE_ID: (frozenset({State.IDLE, State.HAVE_ID}), State.HAVE_ID),
    Cmd.BAD_ID: (frozenset({State.HAVE_ID}), State.IDLE),
    Cmd.GO_IN_USE: (frozenset({State.HAVE_ID, State.PAUSE, State.IN_USE}), State.IN_USE),
    Cmd.GO_FINISHED: (frozenset({State.IN_USE, State.PAUSE, State.MANUAL, State.FINISHED}), State.FINISHED),
    Cmd.GO_READY: (frozenset({State.FINISHED, State.IDLE, State.HAVE_ID, State.ERROR, State.READY}), State.READY),
    Cmd.RESET: (frozenset(State), State.READY),
}

_UNITS = {
    # speed unit, distance unit, grade unit the machine answers in
    "kmh": (Unit.TENTH_KMH, Unit.METRE, Unit.TENTH_PERCENT_GRADE),
    "mph": (Unit.TENTH_MPH, Unit.HUNDREDTH_MILE, Unit.TENTH_PERCENT_GRADE),
}


class PtyMaster:
    """The treadmill's end of a pseudo-terminal: ``read``/``write`` on the master descriptor.

    Only the simulator uses this (it is the far end of the cable); the station's link opens the
    slave path with pyserial like any serial port.
    """

    def __init__(self, fd: int):
        self.fd = fd

    def read(self, size: int = 1, timeout: float = 0.01) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            return os.read(self.fd, size)
        except OSError as exc:
            if exc.errno == errno.EIO:  # no one has the slave open right now
                time.sleep(timeout)
                return b""
            raise

    def write(self, data: bytes) -> int:
        view = memoryview(data)
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        return len(data)

    def close(self) -> None:
        try:
            os.close(self.fd)
        except OSError:
            pass


class SocketEnd(PtyMaster):
    """The treadmill's end of a TCP connection (for ``socket://`` URLs); notes when the peer left."""

    closed = False

    def read(self, size: int = 1, timeout: float = 0.01) -> bytes:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return b""
        try:
            data = os.read(self.fd, size)
        except OSError:
            data = b""
        if not data:
            self.closed = True
        return data


def open_pty_pair() -> tuple[int, int, str]:
    """Make a pseudo-terminal in raw mode: ``(master_fd, slave_fd, slave_path)``.

    The slave is put in raw mode at once: with the default line discipline it would echo the
    treadmill's answers back to the treadmill. Keep *slave_fd* open while the port should exist,
    so that the master does not read EIO between two openings of the link.
    """
    master_fd, slave_fd = os.openpty()
    tty.setraw(slave_fd)
    return master_fd, slave_fd, os.ttyname(slave_fd)


@dataclass(frozen=True)
class Received:
    """One frame the simulator accepted: when (monotonic seconds) and its commands."""

    at: float
    commands: tuple[p.Command, ...]


class TreadmillSimulator:
    """A CSAFE treadmill on *port* (anything with ``read(size)`` and ``write(data)``).

    :param units: ``"kmh"`` or ``"mph"``: the units it answers in (it accepts any in commands).
    :param max_speed_kmh: its own top speed; faster targets are clamped, as consoles do.
    :param accel_kmh_per_s: belt acceleration towards a higher target, km/h per second.
    :param incline_pct_per_s: how fast the deck tilts, percent grade per second.
    :param state: the CSAFE state it powers up in.
    :param unsupported: command ids it does not know (frames holding them are rejected), to drill
        a treadmill without, say, GetGrade.
    :param clock: monotonic seconds for the belt's physics and the times of received frames; a
        test that also gives the link this clock moves both on together instead of sleeping.
    """

    def __init__(self, port=None, *, units: str = "kmh", max_speed_kmh: float = DEFAULT_MAX_SPEED_KMH,
                 max_incline_pct: float = DEFAULT_MAX_INCLINE_PCT,
                 accel_kmh_per_s: float = DEFAULT_ACCEL_KMH_PER_S,
                 decel_kmh_per_s: float = DEFAULT_DECEL_KMH_PER_S,
                 incline_pct_per_s: float = DEFAULT_INCLINE_PCT_PER_S,
                 state: State = State.READY, seed: int = 0, unsupported: tuple[int, ...] = (),
                 clock: Callable[[], float] = time.monotonic):
        if units not in _UNITS:
            raise ValueError(f"units must be one of {', '.join(_UNITS)}")
        self.port = port
        self.clock = clock
        self.speed_unit, self.distance_unit, self.grade_unit = _UNITS[units]
        self.max_speed_kmh = max_speed_kmh
        self.max_incline_pct = max_incline_pct
        self.accel = accel_kmh_per_s
        self.decel = decel_kmh_per_s
        self.incline_rate = incline_pct_per_s
        self._lock = threading.RLock()
        self._state = state
        self._speed = 0.0
        self._incline = 0.0
        self._distance = 0.0
        self._target_speed = 0.0
        self._target_incline = 0.0
        self._toggle = False
        self._pulled = False
        self._rejecting = False
        self._corrupting = False
        self._random = random.Random(seed)
        self._reader = p.FrameReader()
        self._thread: threading.Thread | None = None
        self._running = threading.Event()
        self._last_tick: float | None = None
        self.unsupported = frozenset(unsupported)
        self.received: list[Received] = []
        self.bad_frames = 0

    # What the machine is doing -----------------------------------------------------------------

    @property
    def state(self) -> State:
        with self._lock:
            return self._state

    @property
    def speed_kmh(self) -> float:
        with self._lock:
            return self._speed

    @property
    def incline_pct(self) -> float:
        with self._lock:
            return self._incline

    @property
    def distance_m(self) -> float:
        with self._lock:
            return self._distance

    @property
    def target_speed_kmh(self) -> float:
        with self._lock:
            return self._target_speed

    def commanded_speeds(self, since: float = float("-inf")) -> list[float]:
        """Every SetSpeed it accepted after *since* (monotonic seconds), in km/h."""
        with self._lock:
            return [p.decode_speed(c.data) for r in self.received if r.at >= since
                    for c in r.commands if c.id == Cmd.SET_SPEED]

    def commanded_grades(self, since: float = float("-inf")) -> list[float]:
        with self._lock:
            return [p.decode_grade(c.data) for r in self.received if r.at >= since
                    for c in r.commands if c.id == Cmd.SET_GRADE]

    # Faults and console buttons ----------------------------------------------------------------

    def pull_cable(self) -> None:
        """Stop hearing and answering, as an unplugged cable. The belt carries on as it was."""
        with self._lock:
            self._pulled = True

    def plug_cable(self) -> None:
        with self._lock:
            self._pulled = False
            self._reader.reset()

    def inject_garbage(self, n: int = 32) -> bytes:
        """Write *n* bytes of line noise now (flags included, so half-frames and bad checksums too)."""
        noise = bytes(self._random.choice((0xF1, 0xF2, 0xF3, self._random.randrange(256))) for _ in range(n))
        self.port.write(noise)
        return noise

    def reject_commands(self, rejecting: bool = True) -> None:
        """Answer every frame with status "previous frame rejected" and carry nothing out."""
        with self._lock:
            self._rejecting = rejecting

    def corrupt_answers(self, corrupting: bool = True) -> None:
        """Answer with a wrong checksum, as a noisy line would deliver them."""
        with self._lock:
            self._corrupting = corrupting

    def press_stop(self) -> None:
        """The console's stop key (or the safety key): the belt stops and the workout ends."""
        with self._lock:
            self._target_speed = 0.0
            if self._state in (State.IN_USE, State.PAUSE, State.MANUAL):
                self._state = State.FINISHED

    # Physics ------------------------------------------------------------------------------------

    def tick(self, dt: float) -> None:
        """Advance the belt by *dt* seconds."""
        with self._lock:
            running = self._state == State.IN_USE
            target = self._target_speed if running else 0.0
            rate = self.accel if target > self._speed else self.decel
            before = self._speed
            self._speed = _approach(self._speed, target, rate * dt)
            incline_target = self._target_incline if running or self._incline > self._target_incline else self._incline
            self._incline = _approach(self._incline, incline_target, self.incline_rate * dt)
            # Trapezoid: exact while the belt accelerates evenly.
            self._distance += (before + self._speed) / 2 / 3.6 * dt

    def _advance_clock(self) -> None:
        now = self.clock()
        if self._last_tick is not None:
            self.tick(now - self._last_tick)
        self._last_tick = now

    # Frames --------------------------------------------------------------------------------------

    def handle(self, contents: bytes) -> bytes:
        """Carry out one frame's commands; return the answer's contents."""
        with self._lock:
            try:
                commands = p.decode_commands(contents)
            except p.ProtocolError:
                return p.encode_answer(self._status(FrameStatus.BAD))
            if self._rejecting or not all(self._allowed(c) for c in commands):
                return p.encode_answer(self._status(FrameStatus.REJECTED))
            self.received.append(Received(self.clock(), tuple(commands)))
            self._toggle = not self._toggle
            records = [r for r in (self._carry_out(c) for c in commands) if r is not None]
            return p.encode_answer(self._status(FrameStatus.OK), records)

    def _status(self, previous: FrameStatus) -> Status:
        return Status(self._toggle, previous, self._state)

    def _allowed(self, command: p.Command) -> bool:
        if command.id in self.unsupported:
            return False
        if command.id in _TRANSITIONS:
            return self._state in _TRANSITIONS[command.id][0]
        if command.id in (Cmd.SET_SPEED, Cmd.SET_GRADE):
            if self._state in (State.ERROR, State.OFFLINE):
                return False
            try:
                (p.decode_speed if command.id == Cmd.SET_SPEED else p.decode_grade)(command.data)
            except p.ProtocolError:
                return False
            return True
        return command.id in (Cmd.GET_STATUS, Cmd.GET_SPEED, Cmd.GET_GRADE, Cmd.GET_HORIZONTAL,
                              Cmd.GET_VERSION)

    def _carry_out(self, command: p.Command) -> p.Command | None:
        cid = command.id
        if cid in _TRANSITIONS:
            self._state = _TRANSITIONS[cid][1]
            if self._state != State.IN_USE and cid != Cmd.GO_HAVE_ID:
                self._target_speed = 0.0
            if cid == Cmd.RESET:
                self._distance = 0.0
            return None
        if cid == Cmd.SET_SPEED:
            self._target_speed = min(max(p.decode_speed(command.data), 0.0), self.max_speed_kmh)
            return None
        if cid == Cmd.SET_GRADE:
            self._target_incline = min(max(p.decode_grade(command.data), 0.0), self.max_incline_pct)
            return None
        if cid == Cmd.GET_SPEED:
            return p.Command(cid, p.encode_speed(self._speed, self.speed_unit))
        if cid == Cmd.GET_GRADE:
            return p.Command(cid, p.encode_grade(self._incline, self.grade_unit))
        if cid == Cmd.GET_HORIZONTAL:
            return p.Command(cid, p.encode_distance(min(self._distance, 65535 * p.DISTANCE_M[self.distance_unit]),
                                                    self.distance_unit))
        if cid == Cmd.GET_VERSION:
            # manufacturer 0xFF (none), class id, model, hardware 1.0, software 1.0
            return p.Command(cid, bytes((0xFF, 0x01, 0x01, 0x01, 0x00, 0x01, 0x00)))
        return None  # GetStatus: the status byte is the answer

    def serve_once(self, timeout: float = 0.01) -> None:
        """Read what the port has, answer every good frame, advance the belt."""
        if isinstance(self.port, PtyMaster):
            data = self.port.read(256, timeout)
        else:  # a pyserial port: block for the first byte only, then take what is there
            data = self.port.read(self.port.in_waiting or 1)
        self._advance_clock()
        with self._lock:
            pulled, corrupting = self._pulled, self._corrupting
        if pulled or not data:
            return
        for result in self._reader.feed(data):
            if isinstance(result, p.ProtocolError):
                self.bad_frames += 1     # a real slave stays silent on a broken frame
                continue
            answer = p.encode_frame(self.handle(result.contents))
            if corrupting:
                answer = answer[:-2] + bytes((answer[-2] ^ 0x55,)) + answer[-1:]
            with self._lock:
                if self._pulled:
                    return
            self.port.write(answer)

    # Thread ----------------------------------------------------------------------------------------

    def start(self) -> "TreadmillSimulator":
        self._running.set()
        self._thread = threading.Thread(target=self._serve, name="treadmill-simulator", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        while self._running.is_set():
            try:
                self.serve_once()
            except OSError:
                if not self._running.is_set():
                    return
                time.sleep(0.01)

    def stop_serving(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None


def _approach(value: float, target: float, step: float) -> float:
    if value < target:
        return min(value + step, target)
    return max(value - step, target)


class SimulatedTreadmillPort:
    """A simulated treadmill on a fresh pseudo-terminal, served from a thread.

    ``with SimulatedTreadmillPort(units="mph") as sim_port:`` gives :attr:`path` for the link to
    open and :attr:`simulator` to drive and inspect. Keyword arguments go to
    :class:`TreadmillSimulator`.
    """

    def __init__(self, **simulator_kwargs):
        self._kwargs = simulator_kwargs
        self.path: str = ""
        self.simulator: TreadmillSimulator | None = None
        self._master: PtyMaster | None = None
        self._slave_fd: int | None = None

    def __enter__(self) -> "SimulatedTreadmillPort":
        master_fd, self._slave_fd, self.path = open_pty_pair()
        self._master = PtyMaster(master_fd)
        self.simulator = TreadmillSimulator(self._master, **self._kwargs).start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self.simulator is not None:
            self.simulator.stop_serving()
        if self._master is not None:
            self._master.close()
            self._master = None
        if self._slave_fd is not None:
            try:
                os.close(self._slave_fd)
            except OSError:
                pass
            self._slave_fd = None


class SimulatedTreadmillServer:
    """A simulated treadmill on a TCP port: the link opens ``socket://127.0.0.1:PORT``.

    One connection at a time, like one cable; the treadmill (its belt, state, distance) carries
    on between connections. Keyword arguments go to :class:`TreadmillSimulator`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, **simulator_kwargs):
        self.host, self.port = host, port
        self.simulator = TreadmillSimulator(None, **simulator_kwargs)
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._running = threading.Event()

    @property
    def url(self) -> str:
        return f"socket://{self.host}:{self.port}"

    def __enter__(self) -> "SimulatedTreadmillServer":
        self._listener = socket.create_server((self.host, self.port))
        self.port = self._listener.getsockname()[1]
        self._running.set()
        self._thread = threading.Thread(target=self._serve, name="treadmill-simulator-tcp", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _serve(self) -> None:
        while self._running.is_set():
            ready, _, _ = select.select([self._listener], [], [], 0.05)
            if not ready:
                continue
            connection, _ = self._listener.accept()
            with connection:
                end = SocketEnd(connection.fileno())
                self.simulator.port = end
                while self._running.is_set() and not end.closed:
                    try:
                        self.simulator.serve_once()
                    except OSError:
                        break
                self.simulator.port = None

    def close(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m hardware.treadmill.simulator",
        description="A simulated CSAFE treadmill on a pseudo-terminal, for trying the station's link.")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--pty", action="store_true", help="serve on a new pseudo-terminal (the default)")
    where.add_argument("--tcp", type=int, metavar="PORT", help="serve on 127.0.0.1:PORT instead (socket://)")
    parser.add_argument("--units", choices=sorted(_UNITS), default="kmh", help="units the treadmill answers in")
    parser.add_argument("--max-speed-kmh", type=float, default=DEFAULT_MAX_SPEED_KMH)
    args = parser.parse_args(argv)
    options = dict(units=args.units, max_speed_kmh=args.max_speed_kmh)
    served = SimulatedTreadmillServer(port=args.tcp, **options) if args.tcp is not None else SimulatedTreadmillPort(**options)
    with served as port:
        where = port.url if args.tcp is not None else port.path
        print(where, flush=True)
        print(f"simulated CSAFE treadmill ({args.units}) on {where}; Ctrl-C to stop", file=sys.stderr, flush=True)
        try:
            while True:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
