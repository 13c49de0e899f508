"""An independent CSAFE treadmill ("the treadmill we did not write").

This is a test double for Backstep's CSAFE link.  It was written from public
descriptions of the CSAFE protocol ONLY -- nobody who wrote it read the link
under ``hardware/`` or anything under ``app/``.  Its point is to be a second,
independent reading of the specification, so a misreading in our link shows
up as a disagreement instead of being mirrored.

Spec sources used (facts only; no code was copied)
===================================================

[FW]  FitLinxx / FISA, "Communications Specification for Fitness Equipment
      (CSAFE) -- Protocol Framework" and its command tables (the original
      document was published at http://www.fitlinxx.com/CSAFE/ ).  Read
      through the passages quoted verbatim in public code:
        * section 2.1.2 byte stuffing, quoted in
          github.com/OpenRowingCommunity/csafe-fitness lib/src/frame.dart;
        * the command table descriptions ("Reset Server. Initialize
          variables to Ready State and reset Frame Toggle and Status of
          Previous Frame flag to zero", "go to Idle State, reset variables to
          Idle state", ...) and the Units table, quoted in
          csafe-fitness lib/src/commands.dart, lib/commands.dart and
          lib/src/types/enumtypes.dart;
        * the Previous-Frame-Status and State definitions ("An unrecognized
          command with legal syntax is skipped - not rejected", "Frame had
          bad checksum or overran buffer", the Ready/Idle/HaveID/InUse/
          Pause/Finished/Manual/Offline descriptions), quoted in
          rowbot concept2api PaceMonitorStatus.java.
[C2]  Concept2, "Performance Monitor CSAFE Communication Definition"
      (Concept2 SDK; PM5 revision 0.25 on scribd.com/document/678894507).
      Frame layout, status-byte masks (0x80 toggle, 0x30 previous frame
      status, 0x0F state) and state numbering, as summarised in
      github.com/JaapvanEkris/openrowingmonitor
      app/peripherals/ble/pm5/csafe-service/CsafeCommandsMapping.js.
[C2F] c2forum.com "Pm3 Csafe State Machine" (viewtopic.php?t=105): the SDK
      worked example ``F0 FD 00 87 87 F2`` (CSAFE_GOREADY_CMD, extended frame
      to address 0xFD from 0x00).  Its checksum 0x87 is the XOR of the frame
      contents only -- the two address bytes are NOT in the checksum.
[WP]  en.wikipedia.org/wiki/Communications_Specification_for_Fitness_Equipment
      (9600 8N1 serial; standard vs extended frames; master/slave).
[PY]  Command byte values cross-checked against the pyrow / Py3Row
      ``csafe_dic.py`` tables and openrowingmonitor's mapping.

Framing ([FW] 2.1, [C2])
------------------------
  standard frame : F1  <contents> <checksum>  F2
  extended frame : F0  <dst> <src> <contents> <checksum>  F2
  checksum       : XOR of the frame-contents bytes, starting from 0
                   (addresses excluded -- see [C2F]).
  byte stuffing  : any byte 0xF0..0xF3 between the flags -- contents,
                   addresses AND THE CHECKSUM -- is sent as F3, (byte & 0x03)
                   ([FW] 2.1.2: "ensure that the unique Start and Stop flag
                   bytes never appear in the Frame Contents or in the
                   Checksum").
  contents       : commands.  0x80..0xFF are short commands (one byte, no
                   data); 0x00..0x7F are long commands: cmd, byte-count, data.
  response       : <status byte> then, for every command that returns data,
                   cmd, byte-count, data.  Answered in the same frame kind
                   that was received; an extended answer goes to the
                   request's source address and carries our address as src.
  integers       : "Integer" = 2 bytes, least significant byte first;
                   "Integer plus Unit specifier" = LSB, MSB, unit code.

Status byte ([FW], [C2])
------------------------
  bit 7     frame toggle -- flips with every valid frame received.
  bits 5-4  status of the PREVIOUS frame: 0 ok, 1 rejected, 2 bad
            (checksum/framing; the bad frame itself is not answered), 3 not
            ready.  The response to frame N carries the status of the frame
            received before N; the status of frame N is reported in the
            response to frame N+1.
  bits 3-0  slave state: 0 Error, 1 Ready, 2 Idle, 3 HaveID, 5 InUse,
            6 Pause, 7 Finished, 8 Manual, 9 Offline (4 unused).

Commands implemented (byte value -- source)
--------------------------------------------
  0x80 cmdGetStatus     short, no data           [FW] command table; [PY]
  0x81 cmdReset         short -> Ready, toggle and prev-status zeroed  [FW]
  0x82 cmdGoIdle        short -> Idle, workout variables reset         [FW]
  0x83 cmdGoHaveID      short -> HaveID                                [FW]
  0x85 cmdGoInUse       short -> InUse                                 [FW]
  0x86 cmdGoFinished    short -> Finished                              [FW]
  0x87 cmdGoReady       short -> Ready                                 [FW]; [C2F]
  0x88 cmdBadID         short, HaveID -> Idle                          [FW]
  0x91 cmdGetVersion    5 bytes: mfg, class id, model, version, release [FW]
  0x93 cmdGetUnits      1 byte: 0 metric, 1 English                    [FW]
  0xA0 cmdGetTWork      3 bytes: hours, minutes, seconds               [FW]; [PY]
  0xA1 cmdGetHorizontal 3 bytes: Integer + distance unit               [FW]; [PY]
  0xA5 cmdGetSpeed      3 bytes: Integer + speed unit                  [FW]; [PY]
  0xA8 cmdGetGrade      3 bytes: Integer + grade unit                  [FW]; [PY]
  0x25 cmdSetSpeed      long, 3 bytes: Integer + speed unit            [FW]; [PY]
  0x28 cmdSetGrade      long, 3 bytes: Integer + grade unit            [FW]; [PY]
  NB: 0x34 is cmdSetPower ("Power goal", Integer + unit) in every source
  above, NOT SetSpeed.  This treadmill therefore answers 0x34 as a
  recognised-but-unsupported command (Rejected).

Units used ([FW] Units table, codes as decimal in the table):
  speed    0x10 mph, 0x11 0.1 mph, 0x12 0.01 mph, 0x13 ft/min,
           0x30 km/h, 0x31 0.1 km/h, 0x32 0.01 km/h, 0x33 m/min
  distance 0x01 mile, 0x02 0.1 mile, 0x03 0.01 mile, 0x04 0.001 mile,
           0x05 ft, 0x21 km, 0x22 0.1 km, 0x23 0.01 km, 0x24 m, 0x25 0.1 m
  grade    0x4A percent, 0x4B 0.01 percent, 0x4C 0.1 percent
           (the table lists 75 = 0.01 % before 76 = 0.1 %; that order is
           taken as published)

Choices where the sources are silent or ambiguous (documented, deliberate)
-------------------------------------------------------------------------
* Unknown command bytes (not in the spec's command table) are SKIPPED, not
  rejected, as [FW] says; a long one is skipped using its byte count.
  Commands that ARE in the spec table but that this treadmill does not
  implement (e.g. 0x34 SetPower, 0x29 SetGear, 0x92 GetID) and commands
  illegal in the current state or with an out-of-range value are REJECTED.
  ``unknown_policy="reject"`` makes unknown bytes rejected as well.
  Processing stops at the first rejected command; the commands before it
  keep their effect.
* Every valid frame addressed to us is answered (as if flgAck were on).
  An empty frame (no commands) is answered with the status byte but does
  not flip the toggle or consume the previous-frame status ([FW]: GetStatus,
  "Unlike the Empty Frame ... does update the Status").
* Reset zeroes the toggle before its own answer is built, so the answer to
  Reset carries toggle 0 and previous status ok.
* Extended frames: answered when dst is our address (default 0xFD, the
  Concept2 slave address in [C2F]) or 0xFF (broadcast); frames for other
  addresses are ignored entirely (no answer, no status change).
* State transitions accepted from the master:
    GoIdle   from Ready, Idle, HaveID, InUse, Pause, Finished
    GoHaveID from Idle, HaveID
    GoInUse  from HaveID, InUse, Pause (resume)
    GoFinished from InUse, Pause, Finished
    GoReady  from Ready, Idle, HaveID, InUse, Pause, Finished
    BadID    from HaveID
    Reset    from any state
  SetSpeed/SetGrade are rejected in Error, Manual and Offline (the user, not
  the master, owns the machine there).  The belt only moves in InUse; in
  every other state it ramps down to 0 (the commanded speed is kept in
  Pause so a resume ramps back up).
* Values above the machine limits (``max_speed_kmh``, ``max_grade_pct``) are
  rejected, not clamped, so a unit/scale mistake in a client is visible.
* Version bytes are placeholders of this test double, not a real vendor id.
"""

from __future__ import annotations

import enum
import os
import select
import threading
import time
import tty
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator

import serial

# --------------------------------------------------------------------------
# Protocol constants
# --------------------------------------------------------------------------

EXTENDED_START = 0xF0
STANDARD_START = 0xF1
STOP = 0xF2
STUFF = 0xF3

BROADCAST_ADDRESS = 0xFF
DEFAULT_ADDRESS = 0xFD  # slave address used in the Concept2 worked example

# previous-frame status (bits 5-4 of the status byte)
PREV_OK = 0
PREV_REJECT = 1
PREV_BAD = 2
PREV_NOT_READY = 3


class State(enum.IntEnum):
    """Slave states, numbered as in the status byte's low nibble."""

    ERROR = 0
    READY = 1
    IDLE = 2
    HAVE_ID = 3
    IN_USE = 5
    PAUSE = 6
    FINISHED = 7
    MANUAL = 8
    OFFLINE = 9


# command bytes
CMD_GET_STATUS = 0x80
CMD_RESET = 0x81
CMD_GO_IDLE = 0x82
CMD_GO_HAVE_ID = 0x83
CMD_GO_IN_USE = 0x85
CMD_GO_FINISHED = 0x86
CMD_GO_READY = 0x87
CMD_BAD_ID = 0x88
CMD_GET_VERSION = 0x91
CMD_GET_UNITS = 0x93
CMD_GET_TWORK = 0xA0
CMD_GET_HORIZONTAL = 0xA1
CMD_GET_SPEED = 0xA5
CMD_GET_GRADE = 0xA8
CMD_SET_SPEED = 0x25
CMD_SET_GRADE = 0x28
CMD_SET_POWER = 0x34  # for the record: NOT SetSpeed

# Every command byte that the public CSAFE command tables define ([FW], [PY],
# [C2] public set).  A byte in here that we do not implement is "recognised
# but not permitted" -> Rejected; a byte outside it is unrecognised -> skipped.
SPEC_SHORT_COMMANDS = frozenset(
    [0x80, 0x81, 0x82, 0x83, 0x85, 0x86, 0x87, 0x88]
    + [0x91, 0x92, 0x93, 0x94, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F]
    + list(range(0xA0, 0xAD))
    + [0xB0, 0xB2, 0xB3, 0xB4, 0xB5, 0xB6, 0xBE, 0xBF, 0xC0, 0xC1, 0xC2]
    + [0xE0, 0xE1, 0xE5]
)
SPEC_LONG_COMMANDS = frozenset(
    [0x01, 0x02, 0x04, 0x05, 0x10, 0x11, 0x12, 0x13, 0x1A, 0x1B]
    + [0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x28, 0x29, 0x2B, 0x2C, 0x2D]
    + [0x30, 0x32, 0x33, 0x34, 0x35, 0x36, 0x40, 0x41, 0x42, 0x43, 0x44]
    + [0x60, 0x61, 0x65, 0x70]
)

# unit codes -> factor to km/h, km, percent
SPEED_UNITS_TO_KMH = {
    0x10: 1.609344,
    0x11: 0.1609344,
    0x12: 0.01609344,
    0x13: 0.018288,  # ft/min
    0x30: 1.0,
    0x31: 0.1,
    0x32: 0.01,
    0x33: 0.06,  # m/min
}
DISTANCE_UNITS_TO_KM = {
    0x01: 1.609344,
    0x02: 0.1609344,
    0x03: 0.01609344,
    0x04: 0.001609344,
    0x05: 0.0003048,
    0x21: 1.0,
    0x22: 0.1,
    0x23: 0.01,
    0x24: 0.001,
    0x25: 0.0001,
}
GRADE_UNITS_TO_PCT = {0x4A: 1.0, 0x4B: 0.01, 0x4C: 0.1}

UNITS_PROFILES = {
    # units -> (speed unit code, distance unit code, GetUnits byte)
    "kmh": (0x31, 0x24, 0),
    "mph": (0x11, 0x03, 1),
}

VERSION_BYTES = bytes([0x7B, 0x01, 0x01, 0x01, 0x00])  # placeholders

# --------------------------------------------------------------------------
# Framing helpers (usable by tests to hand-build frames)
# --------------------------------------------------------------------------


def xor_checksum(data: bytes) -> int:
    c = 0
    for b in data:
        c ^= b
    return c


def stuff(data: bytes) -> bytes:
    out = bytearray()
    for b in data:
        if 0xF0 <= b <= 0xF3:
            out += bytes([STUFF, b & 0x03])
        else:
            out.append(b)
    return bytes(out)


def unstuff(data: bytes) -> bytes:
    """Undo byte stuffing; raises ValueError on an invalid escape."""
    out = bytearray()
    it = iter(data)
    for b in it:
        if b == STUFF:
            nxt = next(it, None)
            if nxt is None or nxt > 0x03:
                raise ValueError("bad stuffing escape")
            out.append(0xF0 | nxt)
        else:
            out.append(b)
    return bytes(out)


def build_standard_frame(contents: bytes) -> bytes:
    body = bytes(contents) + bytes([xor_checksum(contents)])
    return bytes([STANDARD_START]) + stuff(body) + bytes([STOP])


def build_extended_frame(dst: int, src: int, contents: bytes) -> bytes:
    body = bytes([dst, src]) + bytes(contents) + bytes([xor_checksum(contents)])
    return bytes([EXTENDED_START]) + stuff(body) + bytes([STOP])


@dataclass
class ReceivedFrame:
    """One valid frame as the treadmill understood it."""

    kind: str  # "standard" | "extended"
    contents: bytes  # unstuffed, without addresses and checksum
    raw: bytes  # exactly as it came off the wire, flags included
    dst: int | None = None
    src: int | None = None
    commands: list[tuple[int, bytes]] = field(default_factory=list)
    status: int = PREV_OK  # what this frame's status turned out to be


class _Reject(Exception):
    pass


# --------------------------------------------------------------------------
# The treadmill
# --------------------------------------------------------------------------


class ReferenceTreadmill:
    """A CSAFE slave treadmill served on a pyserial-like port in a thread."""

    def __init__(
        self,
        port,
        units: str = "kmh",
        *,
        address: int = DEFAULT_ADDRESS,
        accel_kmh_per_s: float = 1.0,
        incline_pct_per_s: float = 1.0,
        max_speed_kmh: float = 20.0,
        max_grade_pct: float = 15.0,
        speed_unit_code: int | None = None,
        distance_unit_code: int | None = None,
        grade_unit_code: int = 0x4C,
        unknown_policy: str = "skip",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if units not in UNITS_PROFILES:
            raise ValueError(f"units must be 'kmh' or 'mph', not {units!r}")
        if unknown_policy not in ("skip", "reject"):
            raise ValueError("unknown_policy must be 'skip' or 'reject'")
        sp, dist, units_byte = UNITS_PROFILES[units]
        self.port = port
        self.units = units
        self.address = address
        self.accel_kmh_per_s = float(accel_kmh_per_s)
        self.incline_pct_per_s = float(incline_pct_per_s)
        self.max_speed_kmh = float(max_speed_kmh)
        self.max_grade_pct = float(max_grade_pct)
        self.speed_unit_code = sp if speed_unit_code is None else speed_unit_code
        self.distance_unit_code = dist if distance_unit_code is None else distance_unit_code
        self.grade_unit_code = grade_unit_code
        self.units_byte = units_byte
        self.unknown_policy = unknown_policy
        # Monotonic seconds for the belt and incline physics; tests pass a ManualClock to move time on.
        self.clock = clock
        for code, table in (
            (self.speed_unit_code, SPEED_UNITS_TO_KMH),
            (self.distance_unit_code, DISTANCE_UNITS_TO_KM),
            (self.grade_unit_code, GRADE_UNITS_TO_PCT),
        ):
            if code not in table:
                raise ValueError(f"unsupported unit code 0x{code:02X}")

        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._rx = bytearray()
        self._in_frame = False
        self._last_tick = self.clock()

        # observable state
        self.frames_received: list[ReceivedFrame] = []
        self.bad_frames: list[bytes] = []
        self.responses_sent: list[bytes] = []
        self.error: BaseException | None = None
        self._reset_all()

    # ---- public, thread-safe views ----------------------------------------
    @property
    def state(self) -> State:
        with self._lock:
            return self._state

    @property
    def commanded_speed_kmh(self) -> float:
        with self._lock:
            return self._commanded_speed_kmh

    @property
    def belt_speed_kmh(self) -> float:
        with self._lock:
            self._tick()
            return self._belt_speed_kmh

    @property
    def grade_pct(self) -> float:
        with self._lock:
            self._tick()
            return self._grade_pct

    @property
    def commanded_grade_pct(self) -> float:
        with self._lock:
            return self._commanded_grade_pct

    @property
    def distance_km(self) -> float:
        with self._lock:
            self._tick()
            return self._distance_km

    @property
    def frame_toggle(self) -> int:
        with self._lock:
            return self._toggle

    # ---- lifecycle ----------------------------------------------------------
    def start(self) -> "ReferenceTreadmill":
        if self._thread is not None:
            raise RuntimeError("already started")
        self._stop.clear()
        self._last_tick = self.clock()
        self._thread = threading.Thread(
            target=self._run, name="reference-treadmill", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        t = self._thread
        if t is not None:
            t.join(timeout)
        self._thread = None

    # ---- user-side events (what a person at the console would do) ---------
    def simulate_user_start(self) -> None:
        """User enters an ID / presses Start: Idle -> HaveID, Ready -> Offline."""
        with self._lock:
            if self._state == State.IDLE:
                self._state = State.HAVE_ID
            elif self._state == State.READY:
                self._state = State.OFFLINE

    def simulate_manual_workout(self) -> None:
        """User picks an unsupervised workout: Idle -> Manual."""
        with self._lock:
            if self._state == State.IDLE:
                self._state = State.MANUAL

    def simulate_pause(self) -> None:
        with self._lock:
            self._tick()
            if self._state == State.IN_USE:
                self._state = State.PAUSE

    def simulate_resume(self) -> None:
        with self._lock:
            self._tick()
            if self._state == State.PAUSE:
                self._state = State.IN_USE

    def simulate_finish(self) -> None:
        with self._lock:
            self._tick()
            if self._state in (State.IN_USE, State.PAUSE):
                self._state = State.FINISHED
                self._commanded_speed_kmh = 0.0

    def simulate_error(self) -> None:
        with self._lock:
            self._tick()
            self._state = State.ERROR
            self._commanded_speed_kmh = 0.0

    # ---- internals: state ---------------------------------------------------
    def _reset_all(self) -> None:
        self._state = State.READY
        self._toggle = 0
        self._prev_status = PREV_OK
        self._reset_workout()

    def _reset_workout(self) -> None:
        self._commanded_speed_kmh = 0.0
        self._belt_speed_kmh = 0.0
        self._commanded_grade_pct = 0.0
        self._grade_pct = 0.0
        self._distance_km = 0.0
        self._work_seconds = 0.0

    def _tick(self) -> None:
        """Advance the belt/incline physics to now (call with lock held)."""
        now = self.clock()
        dt = now - self._last_tick
        self._last_tick = now
        if dt <= 0:
            return
        target = self._commanded_speed_kmh if self._state == State.IN_USE else 0.0
        v0 = self._belt_speed_kmh
        step = self.accel_kmh_per_s * dt
        if v0 < target:
            v1 = min(target, v0 + step)
        else:
            v1 = max(target, v0 - step)
        self._belt_speed_kmh = v1
        self._distance_km += (v0 + v1) / 2.0 * dt / 3600.0
        if self._state == State.IN_USE:
            self._work_seconds += dt
        g0, gt = self._grade_pct, self._commanded_grade_pct
        gstep = self.incline_pct_per_s * dt
        self._grade_pct = min(gt, g0 + gstep) if g0 < gt else max(gt, g0 - gstep)

    # ---- internals: serial loop --------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    chunk = self.port.read(256)
                except (OSError, serial.SerialException):
                    if self._stop.is_set():
                        break
                    raise
                with self._lock:
                    self._tick()
                if chunk:
                    for b in chunk:
                        self._feed(b)
                elif getattr(self.port, "timeout", None) == 0:
                    time.sleep(0.002)  # non-blocking port: do not spin
        except BaseException as exc:  # surfaced to tests via .error
            self.error = exc

    def _feed(self, b: int) -> None:
        if b in (STANDARD_START, EXTENDED_START):
            if self._in_frame and len(self._rx) > 1:
                # a new start flag before the stop flag: framing error
                self._mark_bad(bytes(self._rx))
            self._rx = bytearray([b])
            self._in_frame = True
        elif not self._in_frame:
            return  # noise between frames is ignored
        elif b == STOP:
            self._rx.append(b)
            raw = bytes(self._rx)
            self._rx = bytearray()
            self._in_frame = False
            self._handle_raw(raw)
        else:
            self._rx.append(b)
            if len(self._rx) > 512:  # buffer overrun
                self._mark_bad(bytes(self._rx))
                self._rx = bytearray()
                self._in_frame = False

    def _mark_bad(self, raw: bytes) -> None:
        with self._lock:
            self.bad_frames.append(raw)
            self._prev_status = PREV_BAD

    def _handle_raw(self, raw: bytes) -> None:
        kind = "standard" if raw[0] == STANDARD_START else "extended"
        try:
            body = unstuff(raw[1:-1])
        except ValueError:
            self._mark_bad(raw)
            return
        header = 0 if kind == "standard" else 2
        if len(body) < header + 1:
            self._mark_bad(raw)
            return
        dst = src = None
        if kind == "extended":
            dst, src = body[0], body[1]
        contents, checksum = body[header:-1], body[-1]
        if xor_checksum(contents) != checksum:
            self._mark_bad(raw)  # silently dropped: no answer
            return
        if kind == "extended" and dst not in (self.address, BROADCAST_ADDRESS):
            return  # somebody else's frame
        frame = ReceivedFrame(kind=kind, contents=contents, raw=raw, dst=dst, src=src)
        response = self._process(frame)
        if kind == "standard":
            wire = build_standard_frame(response)
        else:
            wire = build_extended_frame(src, self.address, response)
        self.port.write(wire)
        flush = getattr(self.port, "flush", None)
        if flush is not None:
            flush()
        with self._lock:
            self.responses_sent.append(wire)

    # ---- internals: command processing -------------------------------------
    def _process(self, frame: ReceivedFrame) -> bytes:
        with self._lock:
            self._tick()
            self.frames_received.append(frame)
            contents = frame.contents
            if not contents:
                # empty frame: report status without updating it
                return bytes([self._status_byte(self._prev_status)])
            reported_prev = self._prev_status
            self._toggle ^= 1
            out = bytearray()
            status = PREV_OK
            i = 0
            try:
                while i < len(contents):
                    cmd = contents[i]
                    if cmd >= 0x80:
                        data = b""
                        i += 1
                    else:
                        if i + 1 >= len(contents):
                            raise _Reject("long command without byte count")
                        n = contents[i + 1]
                        if i + 2 + n > len(contents):
                            raise _Reject("byte count overruns frame")
                        data = bytes(contents[i + 2 : i + 2 + n])
                        i += 2 + n
                    frame.commands.append((cmd, data))
                    if cmd == CMD_RESET:
                        self._reset_all()
                        reported_prev = PREV_OK
                        continue
                    answer = self._execute(cmd, data)
                    if answer is not None:
                        out += bytes([cmd, len(answer)]) + answer
            except _Reject:
                status = PREV_REJECT
            frame.status = status
            self._prev_status = status
            return bytes([self._status_byte(reported_prev)]) + bytes(out)

    def _status_byte(self, prev: int) -> int:
        return (self._toggle << 7) | (prev << 4) | int(self._state)

    def _execute(self, cmd: int, data: bytes) -> bytes | None:
        """Run one command; return response data, None for no data."""
        st = self._state
        if cmd == CMD_GET_STATUS:
            return None
        if cmd == CMD_GO_IDLE:
            self._require(st, State.READY, State.IDLE, State.HAVE_ID, State.IN_USE,
                          State.PAUSE, State.FINISHED)
            self._state = State.IDLE
            self._reset_workout()
            return None
        if cmd == CMD_GO_HAVE_ID:
            self._require(st, State.IDLE, State.HAVE_ID)
            self._state = State.HAVE_ID
            return None
        if cmd == CMD_GO_IN_USE:
            self._require(st, State.HAVE_ID, State.IN_USE, State.PAUSE)
            self._state = State.IN_USE
            return None
        if cmd == CMD_GO_FINISHED:
            self._require(st, State.IN_USE, State.PAUSE, State.FINISHED)
            self._state = State.FINISHED
            self._commanded_speed_kmh = 0.0
            return None
        if cmd == CMD_GO_READY:
            self._require(st, State.READY, State.IDLE, State.HAVE_ID, State.IN_USE,
                          State.PAUSE, State.FINISHED)
            self._state = State.READY
            self._reset_workout()
            return None
        if cmd == CMD_BAD_ID:
            self._require(st, State.HAVE_ID)
            self._state = State.IDLE
            return None
        if cmd == CMD_GET_VERSION:
            return VERSION_BYTES
        if cmd == CMD_GET_UNITS:
            return bytes([self.units_byte])
        if cmd == CMD_GET_TWORK:
            s = int(self._work_seconds)
            return bytes([min(s // 3600, 255), (s // 60) % 60, s % 60])
        if cmd == CMD_GET_HORIZONTAL:
            value = round(self._distance_km / DISTANCE_UNITS_TO_KM[self.distance_unit_code])
            return self._integer_with_unit(value, self.distance_unit_code)
        if cmd == CMD_GET_SPEED:
            value = round(self._belt_speed_kmh / SPEED_UNITS_TO_KMH[self.speed_unit_code])
            return self._integer_with_unit(value, self.speed_unit_code)
        if cmd == CMD_GET_GRADE:
            value = round(self._grade_pct / GRADE_UNITS_TO_PCT[self.grade_unit_code])
            return self._integer_with_unit(value, self.grade_unit_code)
        if cmd == CMD_SET_SPEED:
            self._require(st, State.READY, State.IDLE, State.HAVE_ID, State.IN_USE,
                          State.PAUSE, State.FINISHED)
            kmh = self._decode_integer_with_unit(data, SPEED_UNITS_TO_KMH)
            if kmh > self.max_speed_kmh + 1e-9:
                raise _Reject("speed above machine limit")
            self._commanded_speed_kmh = kmh
            return None
        if cmd == CMD_SET_GRADE:
            self._require(st, State.READY, State.IDLE, State.HAVE_ID, State.IN_USE,
                          State.PAUSE, State.FINISHED)
            pct = self._decode_integer_with_unit(data, GRADE_UNITS_TO_PCT)
            if pct > self.max_grade_pct + 1e-9:
                raise _Reject("grade above machine limit")
            self._commanded_grade_pct = pct
            return None
        # not implemented here
        known = cmd in (SPEC_SHORT_COMMANDS if cmd >= 0x80 else SPEC_LONG_COMMANDS)
        if known or self.unknown_policy == "reject":
            raise _Reject(f"command 0x{cmd:02X} not supported")
        return None  # unrecognised with legal syntax: skipped

    @staticmethod
    def _require(state: State, *allowed: State) -> None:
        if state not in allowed:
            raise _Reject(f"not allowed in state {state.name}")

    @staticmethod
    def _integer_with_unit(value: int, unit: int) -> bytes:
        value = max(0, min(0xFFFF, int(value)))
        return bytes([value & 0xFF, value >> 8, unit])

    @staticmethod
    def _decode_integer_with_unit(data: bytes, table: dict[int, float]) -> float:
        if len(data) != 3:
            raise _Reject("expected Integer plus unit (3 bytes)")
        unit = data[2]
        if unit not in table:
            raise _Reject(f"unit 0x{unit:02X} not valid here")
        return (data[0] | (data[1] << 8)) * table[unit]


# --------------------------------------------------------------------------
# pty plumbing
# --------------------------------------------------------------------------


class _PtyRelay:
    """Copies bytes between two pty masters (a two-line null-modem cable)."""

    def __init__(self, fd_a: int, fd_b: int) -> None:
        self.fd_a, self.fd_b = fd_a, fd_b
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-relay", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2.0)

    def _run(self) -> None:
        peer = {self.fd_a: self.fd_b, self.fd_b: self.fd_a}
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select(list(peer), [], [], 0.05)
            except (OSError, ValueError):
                return
            for fd in ready:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    continue
                if data:
                    view = memoryview(data)
                    while view:
                        n = os.write(peer[fd], view)
                        view = view[n:]


@contextmanager
def reference_treadmill_on_pty(
    units: str = "kmh", **kwargs
) -> Iterator[tuple[str, ReferenceTreadmill]]:
    """Run a ReferenceTreadmill behind a pseudo-terminal.

    Yields ``(path, treadmill)``: ``path`` is a /dev/pts/N the client opens
    with ``serial.serial_for_url(path)`` (or ``serial.Serial(path)``).

    Two pty pairs joined by a relay thread play the role of the cable, so
    the treadmill itself talks through a real pyserial ``Serial`` opened on
    the slave side of its own ``os.openpty()`` pair, and the client gets a
    real tty path of its own.  Extra keyword arguments go to
    ``ReferenceTreadmill``.
    """
    a_master, a_slave = os.openpty()
    b_master, b_slave = os.openpty()
    fds = [a_master, a_slave, b_master, b_slave]
    port = None
    relay = None
    treadmill = None
    try:
        for fd in (a_slave, b_slave):
            tty.setraw(fd)
        port = serial.Serial(os.ttyname(a_slave), baudrate=9600, timeout=0.02)
        treadmill = ReferenceTreadmill(port, units=units, **kwargs)
        relay = _PtyRelay(a_master, b_master)
        relay.start()
        treadmill.start()
        yield os.ttyname(b_slave), treadmill
    finally:
        if treadmill is not None:
            treadmill.stop()
        if relay is not None:
            relay.stop()
        if port is not None:
            port.close()
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
