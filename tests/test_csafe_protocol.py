"""CSAFE frames: vectors worked out by hand from the spec's rules, and round trips for random contents.

Each vector below was computed on paper (XOR of the contents, F3 stuffing of F0-F3), not by running
our encoder, so a wrong encoder fails here.
"""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from hardware.treadmill import protocol as p
from hardware.treadmill.protocol import Cmd, FrameStatus, ProtocolError, State, Status, Unit


def h(text: str) -> bytes:
    return bytes.fromhex(text)


# Vectors -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("commands, wire", [
    # GetStatus alone: contents 80, checksum 80 (the spec's smallest poll).
    ([Cmd.GET_STATUS], "F1 80 80 F2"),
    # GetVersion alone, as Concept2's examples and PyRow send it.
    ([Cmd.GET_VERSION], "F1 91 91 F2"),
    # The station's poll: 80^A5 = 25, ^A8 = 8D, ^A1 = 2C.
    ([Cmd.GET_STATUS, Cmd.GET_SPEED, Cmd.GET_GRADE, Cmd.GET_HORIZONTAL], "F1 80 A5 A8 A1 2C F2"),
    # SetSpeed 3.0 mph in 0.1 mph: 25 03 1E 00 11, checksum 25^03^1E^00^11 = 29.
    ([p.set_speed(3.0 * 1.609344, Unit.TENTH_MPH)], "F1 25 03 1E 00 11 29 F2"),
    # SetSpeed 24.0 km/h in 0.1 km/h: the value byte F0 is stuffed as F3 00; checksum E7.
    ([p.set_speed(24.0, Unit.TENTH_KMH)], "F1 25 03 F3 00 00 31 E7 F2"),
    # SetGrade 15.0 % in 0.1 % (0x4C): 28 03 96 00 4C has checksum F1, which MUST be stuffed (F3 01).
    ([p.set_grade(15.0, Unit.TENTH_PERCENT_GRADE)], "F1 28 03 96 00 4C F3 01 F2"),
    # A value byte F3 (the stuff flag itself): 24.3 km/h = 243 = F3 -> F3 03.
    ([p.set_speed(24.3, Unit.TENTH_KMH)], "F1 25 03 F3 03 00 31 E4 F2"),
])
def test_request_vectors(commands, wire):
    assert p.request(commands) == h(wire)
    frame = p.decode_frame(h(wire))
    assert p.decode_commands(frame.contents) == [c if isinstance(c, p.Command) else p.Command(c) for c in commands]


def test_checksum_is_stuffed_where_pyrow_would_not():
    """PyRow's Write() stuffs the contents but not the checksum; that frame has a bare F1 in it."""
    unstuffed_checksum = h("F1 28 03 96 00 4C F1 F2")
    with pytest.raises(ProtocolError):
        p.decode_frame(unstuffed_checksum)
    # A stream reader sees the bare F1 as a new start flag, so the frame is reported broken.
    results = p.FrameReader().feed(unstuffed_checksum)
    assert results and all(isinstance(r, ProtocolError) for r in results)


def test_extended_frame_vector():
    # F0, dest 01, src 00, contents 80, checksum over the contents only: 80.
    assert p.encode_frame(h("80"), dest=0x01, src=0x00) == h("F0 01 00 80 80 F2")
    frame = p.decode_frame(h("F0 01 00 80 80 F2"))
    assert (frame.dest, frame.src, frame.contents, frame.extended) == (1, 0, h("80"), True)
    # An address in F0-F3 is stuffed too.
    assert p.encode_frame(h("80"), dest=0xF2, src=0x00) == h("F0 F3 02 00 80 80 F2")
    assert p.decode_frame(h("F0 F3 02 00 80 80 F2")).dest == 0xF2


def test_answer_vector_in_mph():
    # Status 85 (toggle set, previous OK, InUse), GetSpeed 2.5 mph = 25 in 0.1 mph (0x11),
    # GetGrade 1.5 % = 15 in 0.1 % (0x4C), GetHorizontal 12 in 0.01 mile (0x03).
    contents = h("85 A5 03 19 00 11 A8 03 0F 00 4C A1 03 0C 00 03")
    wire = p.encode_frame(contents)
    assert wire[-2] == p.checksum(contents)
    answer = p.decode_answer(p.decode_frame(wire).contents)
    assert answer.status == Status(True, FrameStatus.OK, State.IN_USE)
    assert p.decode_speed(answer.get(Cmd.GET_SPEED)) == pytest.approx(2.5 * 1.609344)
    assert p.decode_grade(answer.get(Cmd.GET_GRADE)) == pytest.approx(1.5)
    assert p.decode_distance(answer.get(Cmd.GET_HORIZONTAL)) == pytest.approx(0.12 * 1609.344)


@pytest.mark.parametrize("data, kmh", [
    (h("20 00 10"), 32 * 1.609344),            # 32 mph
    (h("19 00 11"), 2.5 * 1.609344),           # 2.5 mph
    (h("FA 00 12"), 2.5 * 1.609344),           # 2.50 mph in hundredths
    (h("64 00 13"), 100 * 0.3048 * 60 / 1000),  # 100 ft/min
    (h("05 00 30"), 5.0),                       # 5 km/h
    (h("2D 00 31"), 4.5),                       # 4.5 km/h
    (h("C2 01 32"), 4.5),                       # 4.50 km/h, two-byte value LSB first
    (h("4B 00 33"), 4.5),                       # 75 m/min
])
def test_speed_units(data, kmh):
    assert p.decode_speed(data) == pytest.approx(kmh)


@pytest.mark.parametrize("data, metres", [
    (h("01 00 01"), 1609.344), (h("0A 00 02"), 1609.344), (h("E8 03 04"), 1609.344),
    (h("0A 00 05"), 3.048), (h("0C 00 06"), 0.3048), (h("01 00 0A"), 3.048),
    (h("02 00 21"), 2000.0), (h("02 00 22"), 200.0), (h("02 00 23"), 20.0),
    (h("E8 03 24"), 1000.0), (h("0A 00 25"), 1.0), (h("64 00 26"), 1.0),
])
def test_distance_units(data, metres):
    assert p.decode_distance(data) == pytest.approx(metres)


@pytest.mark.parametrize("data, pct", [
    (h("03 00 4A"), 3.0), (h("2C 01 4B"), 3.0), (h("1E 00 4C"), 3.0),
    (h("FE FF 4A"), -2.0),  # a decline, two's complement
])
def test_grade_units(data, pct):
    assert p.decode_grade(data) == pytest.approx(pct)


def test_wrong_kind_of_unit_is_refused():
    with pytest.raises(ProtocolError, match="speed"):
        p.decode_speed(h("10 00 24"))      # metres is not a speed
    with pytest.raises(ProtocolError, match="unit 0x7E"):
        p.decode_grade(h("10 00 7E"))
    with pytest.raises(ProtocolError, match="3"):
        p.decode_distance(h("10 00"))      # truncated record


def test_sent_values_round_down_never_above_the_cap():
    # 4.5 mph cap expressed in 0.1 mph: must not round up to 4.6 mph.
    cap_kmh = 4.5 * 1.609344
    assert p.encode_speed(cap_kmh, Unit.TENTH_MPH) == h("2D 00 11")
    assert p.decode_speed(p.encode_speed(cap_kmh - 1e-6, Unit.TENTH_MPH)) <= cap_kmh
    assert p.encode_speed(0.3, Unit.TENTH_KMH) == h("03 00 31")   # 0.3/0.1 is 2.9999999999999996
    with pytest.raises(ValueError):
        p.encode_speed(-1.0)
    with pytest.raises(ValueError):
        p.encode_speed(float("nan"))


def test_status_byte():
    assert Status.from_byte(0x85) == Status(True, FrameStatus.OK, State.IN_USE)
    assert Status.from_byte(0x11) == Status(False, FrameStatus.REJECTED, State.READY)
    assert Status.from_byte(0xB9) == Status(True, FrameStatus.NOT_READY, State.OFFLINE)
    assert Status(False, FrameStatus.BAD, State.FINISHED).to_byte() == 0x27
    with pytest.raises(ProtocolError, match="state 4"):
        Status.from_byte(0x04)


# Malformed frames ---------------------------------------------------------------------------------

@pytest.mark.parametrize("wire, why", [
    ("F1 80 81 F2", "checksum"),
    ("F1 80 80", "stop flag"),
    ("F1 F2", "too short"),
    ("80 80 F2", "start flag"),
    ("F1 F3 07 F7 F2", "stuffing"),           # F3 must be followed by 00..03
    ("F1 80 F3 F2", "stuffing"),               # F3 with nothing after it
    ("F1 80 F1 80 F2", "flag"),                # a bare start flag inside
    ("F0 01 80 F2", "extended"),
])
def test_malformed_frames_raise(wire, why):
    with pytest.raises(ProtocolError, match=why):
        p.decode_frame(h(wire))


@pytest.mark.parametrize("contents, why", [
    ("", "status"),
    ("81 A5", "byte count"),
    ("81 A5 03 19 00", "says 3"),
])
def test_malformed_answers_raise(contents, why):
    with pytest.raises(ProtocolError, match=why):
        p.decode_answer(h(contents))


def test_long_command_without_its_data_is_refused():
    with pytest.raises(ProtocolError):
        p.decode_commands(h("25 03 1E 00"))
    with pytest.raises(ProtocolError):
        p.decode_commands(h("25"))


def test_reader_resynchronises_after_garbage_and_truncation():
    good = p.request([Cmd.GET_STATUS])
    stream = h("00 13 37") + h("F1 80") + good + h("F1 80 81 F2") + good + h("F2 F2")
    results = p.FrameReader().feed(stream)
    frames = [r for r in results if isinstance(r, p.Frame)]
    errors = [r for r in results if isinstance(r, ProtocolError)]
    assert [f.contents for f in frames] == [h("80"), h("80")]
    assert len(errors) == 2            # the truncated frame and the bad checksum


def test_reader_accepts_frames_split_across_reads():
    wire = p.request([p.set_grade(15.0)])
    reader = p.FrameReader()
    results = []
    for byte in wire:
        results += reader.feed(bytes((byte,)))
    assert [r.contents for r in results] == [p.decode_frame(wire).contents]


def test_reader_drops_a_runaway_frame():
    reader = p.FrameReader(max_contents=4)
    results = reader.feed(b"\xF1" + b"\x01" * 50)
    assert any(isinstance(r, ProtocolError) for r in results)
    assert [r.contents for r in reader.feed(p.request([Cmd.GET_STATUS]))] == [h("80")]


# Round trips ----------------------------------------------------------------------------------------

contents_strategy = st.binary(min_size=0, max_size=p.MAX_CONTENTS)


@given(contents_strategy)
def test_standard_frame_round_trip(contents):
    wire = p.encode_frame(contents)
    # Only the flags themselves may carry flag values on the wire.
    assert all(b not in (0xF0, 0xF1, 0xF2) for b in wire[1:-1])
    assert p.decode_frame(wire).contents == contents


@given(contents_strategy, st.integers(0, 255), st.integers(0, 255))
def test_extended_frame_round_trip(contents, dest, src):
    frame = p.decode_frame(p.encode_frame(contents, dest=dest, src=src))
    assert (frame.contents, frame.dest, frame.src) == (contents, dest, src)


@given(contents_strategy, st.integers(1, 255))
def test_any_single_flipped_bit_pattern_in_checksum_is_caught(contents, flip):
    wire = bytearray(p.encode_frame(contents))
    body = p.unstuff(bytes(wire[1:-1]))
    bad = p.encode_frame(b"")[:1] + p.stuff(body[:-1] + bytes((body[-1] ^ flip,))) + b"\xF2"
    with pytest.raises(ProtocolError):
        p.decode_frame(bad)


@given(st.lists(st.one_of(
    st.sampled_from([Cmd.GET_STATUS, Cmd.GET_SPEED, Cmd.GO_IN_USE, Cmd.GO_FINISHED]).map(p.Command),
    st.tuples(st.integers(0, 0x7F), st.binary(max_size=8)).map(lambda t: p.Command(*t)),
), max_size=10))
def test_commands_round_trip(commands):
    wire = p.request(commands)
    assert p.decode_commands(p.decode_frame(wire).contents) == commands


@given(st.floats(0, 40), st.sampled_from(sorted(p.SPEED_KMH)))
def test_speed_round_trip_never_exceeds(kmh, unit):
    decoded = p.decode_speed(p.encode_speed(kmh, unit))
    assert decoded <= kmh + 1e-9
    assert kmh - decoded < p.SPEED_KMH[unit] + 1e-9


@given(st.binary(max_size=60))
def test_reader_never_raises_on_noise(noise):
    results = p.FrameReader().feed(noise)
    assert all(isinstance(r, (p.Frame, ProtocolError)) for r in results)
