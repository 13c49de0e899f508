"""Self-tests of the independent CSAFE reference treadmill.

Every frame here is built by hand from the published framing rules (or is a
published worked example) and travels over a real pty with pyserial, so
these tests check the treadmill, not our link.
"""

from __future__ import annotations

import time

import pytest
import serial
from conftest import ManualClock

try:  # tests/ is not a package today; work either way
    from reference_treadmill import (
        State,
        build_extended_frame,
        build_standard_frame,
        reference_treadmill_on_pty,
        unstuff,
        xor_checksum,
    )
except ImportError:  # pragma: no cover
    from tests.reference_treadmill import (  # type: ignore[no-redef]
        State,
        build_extended_frame,
        build_standard_frame,
        reference_treadmill_on_pty,
        unstuff,
        xor_checksum,
    )

NO_ANSWER_WAIT = 0.3


# ---------------------------------------------------------------- helpers
def read_frame(port: serial.Serial, timeout: float = 2.0) -> bytes | None:
    """Read one whole frame (start flag .. stop flag) or None on timeout."""
    deadline = time.monotonic() + timeout
    buf = bytearray()
    while time.monotonic() < deadline:
        b = port.read(1)
        if not b:
            continue
        if not buf and b[0] not in (0xF0, 0xF1):
            continue
        buf += b
        if b[0] == 0xF2:
            return bytes(buf)
    return None


def decode(frame: bytes) -> dict:
    """Check and split a response frame into its parts."""
    assert frame[-1] == 0xF2
    for b in frame[1:-1]:
        assert b not in (0xF0, 0xF1, 0xF2), f"unstuffed flag in {frame.hex(' ')}"
    body = unstuff(frame[1:-1])
    out: dict = {"kind": "standard" if frame[0] == 0xF1 else "extended"}
    if frame[0] == 0xF0:
        out["dst"], out["src"] = body[0], body[1]
        body = body[2:]
    contents, checksum = body[:-1], body[-1]
    assert xor_checksum(contents) == checksum, f"bad checksum in {frame.hex(' ')}"
    status = contents[0]
    out["status"] = status
    out["toggle"] = status >> 7
    out["prev"] = (status >> 4) & 0x03
    out["state"] = State(status & 0x0F)
    data, i = {}, 1
    while i < len(contents):
        cmd, n = contents[i], contents[i + 1]
        data[cmd] = bytes(contents[i + 2 : i + 2 + n])
        i += 2 + n
    out["data"] = data
    return out


def transact(port: serial.Serial, wire: bytes, timeout: float = 2.0) -> dict:
    port.write(wire)
    frame = read_frame(port, timeout)
    assert frame is not None, f"no answer to {wire.hex(' ')}"
    return decode(frame)


def expect_silence(port: serial.Serial, wire: bytes) -> None:
    port.write(wire)
    assert read_frame(port, NO_ANSWER_WAIT) is None


def std(*contents: int) -> bytes:
    return build_standard_frame(bytes(contents))


def integer_with_unit(value: int, unit: int) -> list[int]:
    return [value & 0xFF, value >> 8, unit]


def go_in_use(port: serial.Serial) -> None:
    for cmd in (0x82, 0x83, 0x85):  # GoIdle, GoHaveID, GoInUse
        assert transact(port, std(cmd))["prev"] == 0
    assert transact(port, std(0x80))["prev"] == 0  # GoInUse itself was ok


@pytest.fixture
def rig(request):
    kwargs = getattr(request, "param", {})
    with reference_treadmill_on_pty(**kwargs) as (path, treadmill):
        port = serial.serial_for_url(path, baudrate=9600, timeout=0.02)
        try:
            yield port, treadmill
        finally:
            port.close()
            assert treadmill.error is None, treadmill.error


# ------------------------------------------------------------------ tests
def test_frame_builders_match_hand_written_bytes():
    # GetStatus: checksum of a one-byte frame is the byte itself
    assert std(0x80) == bytes.fromhex("F1 80 80 F2")
    # the Concept2 SDK worked example (GoReady, extended, 0x00 -> 0xFD)
    assert build_extended_frame(0xFD, 0x00, b"\x87") == bytes.fromhex("F0 FD 00 87 87 F2")
    # spec 2.1.2: F1 inside the contents goes out as F3 01
    assert build_standard_frame(b"\x25\x03\xf1\x00\x32") == bytes.fromhex(
        "F1 25 03 F3 01 00 32 E5 F2"
    )


def test_worked_example_extended_goready(rig):
    port, tm = rig
    port.write(bytes.fromhex("F0 FD 00 87 87 F2"))
    frame = read_frame(port)
    # answer goes back to 0x00 from 0xFD: toggle 1, prev ok, Ready
    assert frame == bytes.fromhex("F0 00 FD 81 81 F2")
    assert tm.state == State.READY
    assert tm.frames_received[-1].kind == "extended"
    assert tm.frames_received[-1].commands == [(0x87, b"")]


def test_get_status_and_toggle_alternation(rig):
    port, _ = rig
    port.write(std(0x80))
    assert read_frame(port) == bytes.fromhex("F1 81 81 F2")
    port.write(std(0x80))
    assert read_frame(port) == bytes.fromhex("F1 01 01 F2")
    toggles = [transact(port, std(0x80))["toggle"] for _ in range(6)]
    assert toggles == [1, 0, 1, 0, 1, 0]


def test_stuffed_byte_in_contents(rig):
    port, tm = rig
    # SetSpeed 240 x 0.01 km/h: the LSB 0xF0 must travel as F3 00
    wire = std(0x25, 0x03, *integer_with_unit(240, 0x32))
    assert wire == bytes.fromhex("F1 25 03 F3 00 00 32 E4 F2")
    r = transact(port, wire)
    assert r["prev"] == 0
    assert tm.commanded_speed_kmh == pytest.approx(2.40)
    assert tm.frames_received[-1].commands == [(0x25, bytes([0xF0, 0x00, 0x32]))]


def test_checksum_that_itself_needs_stuffing(rig):
    port, tm = rig
    # SetGrade 145 x 0.01 %: 28^03^91^00^4B = F1, so the CHECKSUM is stuffed
    contents = bytes([0x28, 0x03, *integer_with_unit(145, 0x4B)])
    assert xor_checksum(contents) == 0xF1
    wire = build_standard_frame(contents)
    assert wire == bytes.fromhex("F1 28 03 91 00 4B F3 01 F2")
    transact(port, wire)
    assert transact(port, std(0x80))["prev"] == 0
    assert tm.commanded_grade_pct == pytest.approx(1.45)


def test_unstuffed_checksum_is_not_a_frame(rig):
    port, tm = rig
    # the same SetGrade as above, sent the way a client that forgets to
    # stuff the checksum would: the raw F1 reads as a new start flag
    expect_silence(port, bytes.fromhex("F1 28 03 91 00 4B F1 F2"))
    assert tm.commanded_grade_pct == 0.0
    assert tm.bad_frames
    assert transact(port, std(0x80))["prev"] == 2  # previous frame: bad


@pytest.mark.parametrize("rig", [{"clock": ManualClock()}], indirect=True)
def test_response_bytes_are_stuffed(rig):
    port, tm = rig
    tm.speed_unit_code = 0x32  # answer in 0.01 km/h so 2.40 km/h -> 0xF0
    tm.accel_kmh_per_s = 100.0
    go_in_use(port)
    transact(port, std(0x25, 0x03, *integer_with_unit(240, 0x32)))
    tm.clock.advance(0.2)
    port.write(std(0xA5))
    frame = read_frame(port)
    assert frame is not None and bytes.fromhex("F3 00") in frame
    assert decode(frame)["data"][0xA5] == bytes([0xF0, 0x00, 0x32])


def test_bad_checksum_is_dropped_silently(rig):
    port, tm = rig
    expect_silence(port, bytes.fromhex("F1 80 81 F2"))
    assert tm.frames_received == []
    assert len(tm.bad_frames) == 1
    r = transact(port, std(0x80))
    assert r["prev"] == 2 and r["toggle"] == 1  # toggle not moved by the bad one
    assert transact(port, std(0x80))["prev"] == 0


def test_bad_stuffing_escape_is_dropped(rig):
    port, _ = rig
    expect_silence(port, bytes.fromhex("F1 80 F3 07 F2"))
    assert transact(port, std(0x80))["prev"] == 2


@pytest.mark.parametrize("rig", [{"accel_kmh_per_s": 5.0, "clock": ManualClock()}], indirect=True)
def test_set_speed_then_get_speed_after_ramp(rig):
    port, tm = rig
    go_in_use(port)
    assert tm.state == State.IN_USE
    r = transact(port, std(0x25, 0x03, *integer_with_unit(50, 0x31)))  # 5.0 km/h
    assert r["state"] == State.IN_USE
    assert tm.commanded_speed_kmh == pytest.approx(5.0)
    first = transact(port, std(0xA5))["data"][0xA5]
    assert first[2] == 0x31 and first[0] < 50  # still ramping, not a step
    tm.clock.advance(0.5)  # halfway up the ramp at 5 km/h per second
    half = transact(port, std(0xA5))["data"][0xA5]
    assert half[0] | (half[1] << 8) == 25, half
    tm.clock.advance(0.5)
    got = transact(port, std(0xA5))["data"][0xA5]
    assert got[0] | (got[1] << 8) == 50, "the belt reached the commanded speed"
    assert tm.belt_speed_kmh == pytest.approx(5.0, abs=0.05)  # answer is rounded to 0.1
    tm.clock.advance(0.8)  # 5 km/h = 1.39 m/s: at least a metre
    dist = transact(port, std(0xA1))["data"][0xA1]
    assert dist[2] == 0x24 and (dist[0] | dist[1] << 8) >= 1
    # GoFinished stops the belt; the distance stays readable
    transact(port, std(0x86))
    assert tm.state == State.FINISHED and tm.commanded_speed_kmh == 0.0


@pytest.mark.parametrize("rig", [{"units": "mph", "accel_kmh_per_s": 50.0, "clock": ManualClock()}], indirect=True)
def test_mph_units(rig):
    port, tm = rig
    assert transact(port, std(0x93))["data"][0x93] == b"\x01"  # English
    go_in_use(port)
    transact(port, std(0x25, 0x03, *integer_with_unit(30, 0x11)))  # 3.0 mph
    assert tm.commanded_speed_kmh == pytest.approx(3.0 * 1.609344)
    tm.clock.advance(0.4)
    got = transact(port, std(0xA5))["data"][0xA5]
    assert got == bytes([30, 0, 0x11])
    # a km/h command is converted, not misread
    transact(port, std(0x25, 0x03, *integer_with_unit(80, 0x31)))  # 8.0 km/h
    assert tm.commanded_speed_kmh == pytest.approx(8.0)


def test_speed_above_limit_is_rejected(rig):
    port, tm = rig
    transact(port, std(0x25, 0x03, *integer_with_unit(500, 0x31)))  # 50 km/h
    assert transact(port, std(0x80))["prev"] == 1
    assert tm.commanded_speed_kmh == 0.0


def test_extended_frame_addressing(rig):
    port, tm = rig
    r = transact(port, build_extended_frame(0xFD, 0x00, b"\x80"))
    assert (r["kind"], r["dst"], r["src"], r["toggle"]) == ("extended", 0x00, 0xFD, 1)
    # answers go back to whoever asked
    r = transact(port, build_extended_frame(0xFD, 0x42, b"\x93"))
    assert (r["dst"], r["src"], r["data"][0x93]) == (0x42, 0xFD, b"\x00")
    # another slave's frame: no answer, no toggle change
    expect_silence(port, build_extended_frame(0x05, 0x00, b"\x80"))
    # broadcast is answered
    r = transact(port, build_extended_frame(0xFF, 0x00, b"\x80"))
    assert r["dst"] == 0x00 and r["toggle"] == 1 and r["prev"] == 0
    # a checksum that (wrongly) includes the addresses is a bad frame
    expect_silence(port, bytes([0xF0, 0xFD, 0x00, 0x80, 0xFD ^ 0x00 ^ 0x80, 0xF2]))
    assert transact(port, std(0x80))["prev"] == 2
    assert len(tm.frames_received) == 4


def test_state_machine_and_rejections(rig):
    port, tm = rig
    assert transact(port, std(0x85))["state"] == State.READY  # GoInUse from Ready
    r = transact(port, std(0x80))
    assert r["prev"] == 1  # ... was rejected
    assert transact(port, std(0x82))["state"] == State.IDLE
    assert transact(port, std(0x83))["state"] == State.HAVE_ID
    assert transact(port, std(0x88))["state"] == State.IDLE  # BadID
    assert transact(port, std(0x83))["state"] == State.HAVE_ID
    assert transact(port, std(0x85))["state"] == State.IN_USE
    tm.simulate_pause()
    assert transact(port, std(0x80))["state"] == State.PAUSE
    assert transact(port, std(0x85))["state"] == State.IN_USE  # resume
    assert transact(port, std(0x86))["state"] == State.FINISHED
    assert transact(port, std(0x82))["state"] == State.IDLE
    # Reset: Ready, toggle and previous status zeroed in its own answer
    transact(port, std(0x85))  # rejected (Idle -> InUse skips HaveID)
    r = transact(port, std(0x81))
    assert (r["state"], r["toggle"], r["prev"]) == (State.READY, 0, 0)
    assert transact(port, std(0x80))["toggle"] == 1


def test_unknown_skipped_but_unsupported_rejected(rig):
    port, tm = rig
    # 0x84 is not in the command table: skipped, frame still ok
    r = transact(port, std(0x84, 0x93))
    assert r["data"] == {0x93: b"\x00"}
    assert transact(port, std(0x80))["prev"] == 0
    # 0x34 is SetPower: recognised, not supported by a treadmill -> rejected
    transact(port, std(0x34, 0x03, *integer_with_unit(100, 0x58)))
    assert transact(port, std(0x80))["prev"] == 1
    assert tm.commanded_speed_kmh == 0.0


def test_get_version_and_several_commands_in_one_frame(rig):
    port, _ = rig
    r = transact(port, std(0x91, 0xA5, 0xA8, 0xA1, 0xA0))
    assert len(r["data"][0x91]) == 5
    assert r["data"][0xA5] == bytes([0, 0, 0x31])
    assert r["data"][0xA8] == bytes([0, 0, 0x4C])
    assert r["data"][0xA1] == bytes([0, 0, 0x24])
    assert r["data"][0xA0] == bytes([0, 0, 0])


def test_empty_frame_reports_status_without_updating_it(rig):
    port, _ = rig
    assert transact(port, std(0x80))["toggle"] == 1
    port.write(bytes.fromhex("F1 00 F2"))  # no commands, checksum 0
    r = decode(read_frame(port))
    assert r["toggle"] == 1 and r["data"] == {}
    assert transact(port, std(0x80))["toggle"] == 0


def test_noise_between_frames_is_ignored(rig):
    port, _ = rig
    r = transact(port, b"\x00\x55\xaa" + std(0x80))
    assert r["prev"] == 0
