"""CSAFE frames and commands, pure: bytes in, values out. No serial port, clock or thread here.

CSAFE ("Communications Specification for Fitness Equipment", FitLinxx 1997, now kept by FISA) is a
master/slave protocol over RS-232 at 9600 8N1. The station is the master; the treadmill answers every
frame it accepts with exactly one frame.

A *standard* frame is ``F1 <contents> <checksum> F2``; an *extended* frame is
``F0 <dest> <src> <contents> <checksum> F2``. The checksum is the XOR of the frame contents (the
addresses of an extended frame are not part of the contents). Any byte from F0 to F3 between the
flags -- contents, addresses *and the checksum* -- is sent as ``F3 0x`` (x = byte - F0). Several
public implementations (PyRow's ``csafe_cmd.Write`` among them) forget to stuff the checksum; a frame
whose checksum happens to be F0-F3 then looks like a new start flag or a premature stop flag, and we
reject such frames instead of guessing.

Master -> slave contents are commands: a *short* command is one byte (0x80-0xFF) with no data; a
*long* command (0x00-0x7F) is followed by a byte count and that many data bytes. Slave -> master
contents start with a status byte, then one ``<command> <count> <data...>`` record for each command
that has something to report.

Units: every measured value travels with a CSAFE unit byte. We decode whatever unit the machine uses
and convert to km/h, percent grade and metres; values we send are rounded *down* to the unit's step,
so a conversion can never push a target above a cap.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

START_EXTENDED = 0xF0
START_STANDARD = 0xF1
STOP = 0xF2
STUFF = 0xF3
_FLAGS = frozenset((START_EXTENDED, START_STANDARD, STOP, STUFF))

#: Longest frame contents we accept (unstuffed). The CSAFE spec keeps frames short (the Concept2 PM
#: limits them to 120 bytes on the wire); a "frame" longer than this is line noise, not a treadmill.
MAX_CONTENTS = 255


class ProtocolError(ValueError):
    """A frame or record that breaks the CSAFE rules. Its contents are never trusted."""


class State(enum.IntEnum):
    """The slave's state machine (status byte bits 3-0). Value 4 is unused by the spec."""

    ERROR = 0
    READY = 1
    IDLE = 2
    HAVE_ID = 3
    IN_USE = 5
    PAUSE = 6
    FINISHED = 7
    MANUAL = 8
    OFFLINE = 9

    @property
    def label(self) -> str:
        return _STATE_LABELS[self]


_STATE_LABELS = {
    State.ERROR: "Error", State.READY: "Ready", State.IDLE: "Idle", State.HAVE_ID: "HaveID",
    State.IN_USE: "InUse", State.PAUSE: "Pause", State.FINISHED: "Finished",
    State.MANUAL: "Manual", State.OFFLINE: "Offline",
}


class FrameStatus(enum.IntEnum):
    """How the slave took the frame it answers (status byte bits 5-4)."""

    OK = 0
    REJECTED = 1       # a command not allowed in this state, or a value it will not take
    BAD = 2            # checksum or format error
    NOT_READY = 3      # busy; send again later


@dataclass(frozen=True)
class Status:
    """The status byte that starts every answer.

    :param toggle: bit 7; flips on every good frame the slave receives.
    :param previous: bits 5-4, :class:`FrameStatus`.
    :param state: bits 3-0, :class:`State`.
    """

    toggle: bool
    previous: FrameStatus
    state: State

    def to_byte(self) -> int:
        return (0x80 if self.toggle else 0) | (int(self.previous) << 4) | int(self.state)

    @classmethod
    def from_byte(cls, byte: int) -> "Status":
        try:
            state = State(byte & 0x0F)
        except ValueError:
            raise ProtocolError(f"status byte 0x{byte:02X} names state {byte & 0x0F}, which CSAFE does not define") from None
        return cls(bool(byte & 0x80), FrameStatus((byte >> 4) & 0x03), state)


class Cmd(enum.IntEnum):
    """The commands the station uses (CSAFE command table; 0x34 is SetPower, not SetSpeed)."""

    # short commands (no data)
    GET_STATUS = 0x80
    RESET = 0x81
    GO_IDLE = 0x82
    GO_HAVE_ID = 0x83
    GO_IN_USE = 0x85
    GO_FINISHED = 0x86
    GO_READY = 0x87
    BAD_ID = 0x88
    GET_VERSION = 0x91
    GET_UNITS = 0x93
    GET_HORIZONTAL = 0xA1
    GET_SPEED = 0xA5
    GET_GRADE = 0xA8
    # long commands (count + data)
    SET_SPEED = 0x25
    SET_GRADE = 0x28


def is_short(command_id: int) -> bool:
    """Short commands carry no data: ids 0x80-0xFF."""
    return command_id >= 0x80


# Units --------------------------------------------------------------------------------------------

class Unit(enum.IntEnum):
    """CSAFE unit bytes for the quantities a treadmill reports (spec table "Units of measure")."""

    MILE = 0x01
    TENTH_MILE = 0x02
    HUNDREDTH_MILE = 0x03
    THOUSANDTH_MILE = 0x04
    FOOT = 0x05
    INCH = 0x06
    TEN_FEET = 0x0A
    MPH = 0x10
    TENTH_MPH = 0x11
    HUNDREDTH_MPH = 0x12
    FEET_PER_MINUTE = 0x13
    KILOMETRE = 0x21
    TENTH_KILOMETRE = 0x22
    HUNDREDTH_KILOMETRE = 0x23
    METRE = 0x24
    TENTH_METRE = 0x25
    CENTIMETRE = 0x26
    KMH = 0x30
    TENTH_KMH = 0x31
    HUNDREDTH_KMH = 0x32
    METRES_PER_MINUTE = 0x33
    PERCENT_GRADE = 0x4A
    HUNDREDTH_PERCENT_GRADE = 0x4B
    TENTH_PERCENT_GRADE = 0x4C


#: Exact by definition: the international mile is 1609.344 m, the foot 0.3048 m.
_MILE_M = 1609.344
_FOOT_M = 0.3048

#: One step of each unit in metres.
DISTANCE_M = {
    Unit.MILE: _MILE_M, Unit.TENTH_MILE: _MILE_M / 10, Unit.HUNDREDTH_MILE: _MILE_M / 100,
    Unit.THOUSANDTH_MILE: _MILE_M / 1000, Unit.FOOT: _FOOT_M, Unit.INCH: _FOOT_M / 12,
    Unit.TEN_FEET: _FOOT_M * 10, Unit.KILOMETRE: 1000.0, Unit.TENTH_KILOMETRE: 100.0,
    Unit.HUNDREDTH_KILOMETRE: 10.0, Unit.METRE: 1.0, Unit.TENTH_METRE: 0.1, Unit.CENTIMETRE: 0.01,
}
#: One step of each unit in km/h.
SPEED_KMH = {
    Unit.MPH: _MILE_M / 1000, Unit.TENTH_MPH: _MILE_M / 10000, Unit.HUNDREDTH_MPH: _MILE_M / 100000,
    Unit.FEET_PER_MINUTE: _FOOT_M * 60 / 1000, Unit.KMH: 1.0, Unit.TENTH_KMH: 0.1,
    Unit.HUNDREDTH_KMH: 0.01, Unit.METRES_PER_MINUTE: 0.06,
}
#: One step of each unit in percent grade.
GRADE_PCT = {Unit.PERCENT_GRADE: 1.0, Unit.HUNDREDTH_PERCENT_GRADE: 0.01, Unit.TENTH_PERCENT_GRADE: 0.1}


def unit_name(unit: int) -> str:
    try:
        return Unit(unit).name.lower()
    except ValueError:
        return f"unit 0x{unit:02X}"


def _unit_in(unit: int, table: dict, what: str) -> float:
    try:
        return table[Unit(unit)]
    except (ValueError, KeyError):
        raise ProtocolError(f"{what} in {unit_name(unit)}, which is not a {what} unit") from None


# Frames -------------------------------------------------------------------------------------------

def checksum(contents: bytes) -> int:
    """XOR of every byte of the frame contents."""
    value = 0
    for byte in contents:
        value ^= byte
    return value


def stuff(data: bytes) -> bytes:
    """Replace every F0-F3 byte by ``F3 0x``."""
    out = bytearray()
    for byte in data:
        if byte in _FLAGS:
            out += bytes((STUFF, byte - START_EXTENDED))
        else:
            out.append(byte)
    return bytes(out)


def unstuff(data: bytes) -> bytes:
    """Undo :func:`stuff`. A lone flag or an F3 not followed by 00-03 is a :class:`ProtocolError`."""
    out = bytearray()
    it = iter(data)
    for byte in it:
        if byte == STUFF:
            nxt = next(it, None)
            if nxt is None:
                raise ProtocolError("frame ends inside a byte-stuffing pair (F3 with nothing after it)")
            if nxt > 0x03:
                raise ProtocolError(f"bad byte stuffing: F3 {nxt:02X} (only F3 00..03 are allowed)")
            out.append(START_EXTENDED + nxt)
        elif byte in _FLAGS:
            raise ProtocolError(f"unstuffed flag byte {byte:02X} inside a frame")
        else:
            out.append(byte)
    return bytes(out)


@dataclass(frozen=True)
class Frame:
    """Decoded frame contents; ``dest``/``src`` are set for extended frames only."""

    contents: bytes
    dest: int | None = None
    src: int | None = None

    @property
    def extended(self) -> bool:
        return self.dest is not None


def encode_frame(contents: bytes, *, dest: int | None = None, src: int | None = None) -> bytes:
    """Wrap *contents* in a standard frame, or an extended one when *dest* and *src* are given."""
    contents = bytes(contents)
    if len(contents) > MAX_CONTENTS:
        raise ProtocolError(f"frame contents of {len(contents)} bytes; at most {MAX_CONTENTS}")
    body = contents + bytes((checksum(contents),))
    if dest is None and src is None:
        return bytes((START_STANDARD,)) + stuff(body) + bytes((STOP,))
    if dest is None or src is None:
        raise ValueError("an extended frame needs both dest and src addresses")
    return bytes((START_EXTENDED,)) + stuff(bytes((dest, src)) + body) + bytes((STOP,))


def decode_frame(raw: bytes) -> Frame:
    """Check and unwrap one whole frame, flags included. Raises :class:`ProtocolError`."""
    raw = bytes(raw)
    if len(raw) < 3:
        raise ProtocolError(f"frame of {len(raw)} bytes is too short (at least start, checksum, stop)")
    start = raw[0]
    if start not in (START_STANDARD, START_EXTENDED):
        raise ProtocolError(f"frame starts with {start:02X}, not a start flag (F1 or F0)")
    if raw[-1] != STOP:
        raise ProtocolError("frame does not end with the stop flag F2 (truncated?)")
    body = unstuff(raw[1:-1])
    dest = src = None
    if start == START_EXTENDED:
        if len(body) < 3:
            raise ProtocolError("extended frame too short for its two addresses and a checksum")
        dest, src, body = body[0], body[1], body[2:]
    if not body:
        raise ProtocolError("frame has no checksum")
    contents, received = body[:-1], body[-1]
    if len(contents) > MAX_CONTENTS:
        raise ProtocolError(f"frame contents of {len(contents)} bytes; at most {MAX_CONTENTS}")
    expected = checksum(contents)
    if received != expected:
        raise ProtocolError(f"bad checksum {received:02X}, expected {expected:02X}")
    return Frame(contents, dest, src)


class FrameReader:
    """Cut a byte stream into frames. Feed it whatever the port gave; it returns what it completed.

    Bytes outside a frame are dropped (and counted in :attr:`dropped`); a start flag inside a frame
    abandons the partial frame and starts again there, which is how a receiver resynchronises after
    line noise or an unplugged cable. Each result is a :class:`Frame` or the :class:`ProtocolError`
    that rejected the bytes.
    """

    def __init__(self, max_contents: int = MAX_CONTENTS):
        self._buffer: bytearray | None = None
        #: worst case on the wire: addresses, contents and checksum all stuffed, plus the flags
        self._limit = 2 * (max_contents + 3) + 2
        self.dropped = 0

    def feed(self, data: bytes) -> list[Frame | ProtocolError]:
        results: list[Frame | ProtocolError] = []
        for byte in data:
            if byte in (START_STANDARD, START_EXTENDED):
                if self._buffer:
                    results.append(ProtocolError("frame cut short by a new start flag (truncated frame)"))
                self._buffer = bytearray((byte,))
            elif self._buffer is None:
                self.dropped += 1
            else:
                self._buffer.append(byte)
                if byte == STOP:
                    raw, self._buffer = bytes(self._buffer), None
                    try:
                        results.append(decode_frame(raw))
                    except ProtocolError as exc:
                        results.append(exc)
                elif len(self._buffer) > self._limit:
                    self._buffer = None
                    results.append(ProtocolError("no stop flag within the longest possible frame"))
        return results

    def reset(self) -> None:
        self._buffer = None


# Commands and answers ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Command:
    """One command (master -> slave) or one answer record (slave -> master)."""

    id: int
    data: bytes = b""

    def encode(self) -> bytes:
        if is_short(self.id):
            if self.data:
                raise ValueError(f"short command 0x{self.id:02X} takes no data")
            return bytes((self.id,))
        return bytes((self.id, len(self.data))) + bytes(self.data)


def encode_commands(commands: list[Command]) -> bytes:
    """Frame contents for a list of commands (master side)."""
    return b"".join(c.encode() for c in commands)


def decode_commands(contents: bytes) -> list[Command]:
    """Split master -> slave contents into commands (slave side)."""
    commands: list[Command] = []
    i = 0
    while i < len(contents):
        cid = contents[i]
        if is_short(cid):
            commands.append(Command(cid))
            i += 1
            continue
        data, i = _counted(contents, i, "long command")
        commands.append(Command(cid, data))
    return commands


def _counted(contents: bytes, i: int, what: str) -> tuple[bytes, int]:
    """Read ``id count data...`` at *i*; return the data and where the next record starts."""
    cid = contents[i]
    if i + 1 >= len(contents):
        raise ProtocolError(f"{what} 0x{cid:02X} has no byte count")
    count = contents[i + 1]
    data = contents[i + 2:i + 2 + count]
    if len(data) != count:
        raise ProtocolError(f"{what} 0x{cid:02X} says {count} bytes but the frame holds {len(data)}")
    return bytes(data), i + 2 + count


@dataclass(frozen=True)
class Answer:
    """A slave's answer: its status and one record per command that returned data."""

    status: Status
    records: dict[int, bytes] = field(default_factory=dict)

    def get(self, command_id: int) -> bytes | None:
        return self.records.get(command_id)


def encode_answer(status: Status, records: list[Command] = ()) -> bytes:
    """Frame contents for an answer (slave side): status byte then ``id count data`` records."""
    out = bytearray((status.to_byte(),))
    for record in records:
        out += bytes((record.id, len(record.data))) + bytes(record.data)
    return bytes(out)


def decode_answer(contents: bytes) -> Answer:
    """Split slave -> master contents. Every record, short command or not, has a byte count."""
    if not contents:
        raise ProtocolError("answer has no status byte")
    status = Status.from_byte(contents[0])
    records: dict[int, bytes] = {}
    i = 1
    while i < len(contents):
        cid = contents[i]
        records[cid], i = _counted(contents, i, "answer record")
    return Answer(status, records)


# Values -------------------------------------------------------------------------------------------

def _value_and_unit(data: bytes, what: str, *, signed: bool = False) -> tuple[int, int]:
    if len(data) != 3:
        raise ProtocolError(f"{what} record has {len(data)} bytes; CSAFE sends 3 (value LSB, MSB, unit)")
    return int.from_bytes(data[:2], "little", signed=signed), data[2]


def decode_speed(data: bytes) -> float:
    """GetSpeed / SetSpeed data (value LSB, MSB, unit) -> km/h."""
    value, unit = _value_and_unit(data, "speed")
    return value * _unit_in(unit, SPEED_KMH, "speed")


def decode_grade(data: bytes) -> float:
    """GetGrade / SetGrade data -> percent grade. Signed: some machines decline."""
    value, unit = _value_and_unit(data, "grade", signed=True)
    return value * _unit_in(unit, GRADE_PCT, "grade")


def decode_distance(data: bytes) -> float:
    """GetHorizontal data -> metres."""
    value, unit = _value_and_unit(data, "distance")
    return value * _unit_in(unit, DISTANCE_M, "distance")


def speed_unit_of(data: bytes) -> Unit:
    """The unit byte of a speed record, checked."""
    _, unit = _value_and_unit(data, "speed")
    _unit_in(unit, SPEED_KMH, "speed")
    return Unit(unit)


def grade_unit_of(data: bytes) -> Unit:
    _, unit = _value_and_unit(data, "grade", signed=True)
    _unit_in(unit, GRADE_PCT, "grade")
    return Unit(unit)


def _steps_down(value: float, step: float, *, signed: bool = False) -> int:
    """How many whole *step*s fit in *value*, rounded toward zero (so never above a cap)."""
    if not math.isfinite(value):
        raise ValueError(f"not a number: {value!r}")
    # The small epsilon keeps 0.3 / 0.1 = 2.9999999999999996 from becoming 2.
    steps = int(math.floor(abs(value) / step + 1e-9))
    steps = -steps if value < 0 else steps
    low, high = (-0x8000, 0x7FFF) if signed else (0, 0xFFFF)
    if not low <= steps <= high:
        raise ValueError(f"{value} does not fit in a CSAFE value of {step} per step")
    return steps


def encode_speed(speed_kmh: float, unit: int = Unit.TENTH_KMH) -> bytes:
    """km/h -> (value LSB, MSB, unit), rounded down to the unit's step. Negative is refused."""
    if speed_kmh < 0:
        raise ValueError("a treadmill speed is never negative")
    steps = _steps_down(speed_kmh, _unit_in(unit, SPEED_KMH, "speed"))
    return steps.to_bytes(2, "little") + bytes((unit,))


def encode_grade(incline_pct: float, unit: int = Unit.TENTH_PERCENT_GRADE) -> bytes:
    """Percent grade -> (value LSB, MSB, unit), rounded toward zero to the unit's step."""
    steps = _steps_down(incline_pct, _unit_in(unit, GRADE_PCT, "grade"), signed=True)
    return steps.to_bytes(2, "little", signed=True) + bytes((unit,))


def encode_distance(distance_m: float, unit: int = Unit.METRE) -> bytes:
    steps = _steps_down(distance_m, _unit_in(unit, DISTANCE_M, "distance"))
    return steps.to_bytes(2, "little") + bytes((unit,))


def set_speed(speed_kmh: float, unit: int = Unit.TENTH_KMH) -> Command:
    return Command(Cmd.SET_SPEED, encode_speed(speed_kmh, unit))


def set_grade(incline_pct: float, unit: int = Unit.TENTH_PERCENT_GRADE) -> Command:
    return Command(Cmd.SET_GRADE, encode_grade(incline_pct, unit))


def request(commands: list[Command | int]) -> bytes:
    """A whole master frame on the wire for *commands* (ids of short commands may be given bare)."""
    return encode_frame(encode_commands([c if isinstance(c, Command) else Command(c) for c in commands]))


#: Commands that take the state machine one step towards InUse, from each state.
#: CSAFE state diagram: Ready -GoIdle-> Idle -GoHaveID-> HaveID -GoInUse-> InUse;
#: Finished -GoIdle-> Idle; Pause -GoInUse-> InUse.
NEXT_TOWARDS_IN_USE = {
    State.READY: Cmd.GO_IDLE,
    State.IDLE: Cmd.GO_HAVE_ID,
    State.HAVE_ID: Cmd.GO_IN_USE,
    State.FINISHED: Cmd.GO_IDLE,
    State.PAUSE: Cmd.GO_IN_USE,
}


def stop_frames(speed_unit: int = Unit.TENTH_KMH, *, may_be_moving: bool = True) -> list[list[Command]]:
    """What the station sends to stop the belt, frame by frame.

    SetSpeed 0 goes alone in the first frame: a machine that rejects a frame as a whole (some do,
    when one command is not allowed in their state) must still take the speed. GoFinished follows
    in its own frame when the belt may be moving; it ends the workout so the machine will not pick
    the old speed up again.
    """
    frames = [[set_speed(0.0, speed_unit)]]
    if may_be_moving:
        frames.append([Command(Cmd.GO_FINISHED)])
    return frames
