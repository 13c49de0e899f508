"""The sim-control socket, driven by a real Unix-socket client.

Hardware commands must travel through the simulated pins and the production adapters; taps become
touchscreen events. The last test runs the whole chain into the real Station and its safety core.
"""

from __future__ import annotations

import queue
import socket
import threading
import time

import pytest

from app.config import parse_config
from app.core.events import (
    ConfirmTapped,
    LanyardClipped,
    LanyardPulled,
    PainTapped,
    ProgramChosen,
    RailsHeld,
    RailsReleased,
    StartTapped,
)
from app.core.program import parse_program_text
from app.core.safety import Mode
from app.core.view import build_view, status_line
from app.errors import UserError
from app.paths import assets_dir
from conftest import DEFAULT_WAIT_S, process_until
from app.shell.devices import attach_sensors, simulated_station
from app.shell.station import Station
from app.shell.simcontrol import SimControlServer

CONFIG = parse_config("[gpio]\nrearm_debounce_s = 0.03\n")


class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(3)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rwb")

    def send(self, line: str | bytes) -> str:
        self.file.write(line if isinstance(line, bytes) else line.encode() + b"\n")
        self.file.flush()
        return self.file.readline().decode().rstrip("\n")

    def close(self):
        self.file.close()
        self.sock.close()


@pytest.fixture
def rig(tmp_path):
    """A simulated station, its sensors and a sim-control server, all posting to one queue."""
    events: queue.Queue = queue.Queue()
    sim = simulated_station(CONFIG, treadmill=False)
    sensors = attach_sensors(CONFIG, events.put, pin_factory=sim.pin_factory)
    path = tmp_path / "sim.sock"
    ended = []
    server = SimControlServer(path, sim, events.put, status=lambda: "idle", on_end=lambda: ended.append(True)).start()
    yield path, events, server, ended
    server.close()
    sensors.close()
    sim.close()


def drain(events: queue.Queue, settle: float = 0.1) -> list:
    # settle: the re-arm debounce (0.03 s here) runs on a real timer thread; edges arrive at once.
    time.sleep(settle)
    out = []
    while not events.empty():
        out.append(events.get_nowait())
    return out


def test_hardware_commands_go_through_the_pins(rig):
    path, events, _, _ = rig
    drain(events)
    client = Client(path)
    assert client.send("lanyard clipped") == "ok"
    assert client.send("rails held") == "ok"
    assert set(drain(events)) == {LanyardClipped(), RailsHeld()}, "reported after the re-arm debounce"
    assert client.send("rails released") == "ok"
    assert client.send("lanyard pulled") == "ok"
    assert drain(events, settle=0) == [RailsReleased(), LanyardPulled()], "on the first edge, in order"
    client.close()


def test_a_clip_shorter_than_the_debounce_is_never_reported(rig):
    path, events, _, _ = rig
    drain(events)
    client = Client(path)
    assert client.send("lanyard clipped") == "ok"
    assert client.send("lanyard pulled") == "ok"
    assert drain(events) == [], "the core already reads 'pulled'; nothing changed for it"
    client.close()


@pytest.mark.parametrize("word, event", [("start", StartTapped()), ("confirm", ConfirmTapped()),
                                         ("pain", PainTapped())])
def test_taps_become_touchscreen_events(rig, word, event):
    path, events, _, _ = rig
    drain(events)
    client = Client(path)
    assert client.send(f"tap {word}") == "ok"
    assert events.get(timeout=1) == event
    client.close()


@pytest.mark.parametrize("line, problem", [
    ("rails loose", "'rails' needs one of: held | released"),
    ("jump", "unknown command 'jump'"),
    ("", "empty line"),
    ("link lost", "cue mode"),
    ("0 rails held", "unknown command '0'"),
])
def test_bad_lines_get_one_line_errors_and_the_connection_stays(rig, line, problem):
    path, events, _, _ = rig
    client = Client(path)
    answer = client.send(line)
    assert answer.startswith("error: ") and problem in answer and "\n" not in answer
    assert client.send("tap stop") == "ok"
    client.close()


def test_binary_garbage_and_overlong_lines(rig):
    path, _, _, _ = rig
    client = Client(path)
    assert client.send(b"\xff\xfe\n") == "error: not UTF-8 text; send plain text commands"
    assert client.send("tap pause") == "ok"
    assert client.send("x" * 1000).startswith("error: line longer than")
    client.close()


@pytest.mark.parametrize("line", ["x" * 200, "jump" + "y" * 150, "rails " + "z" * 150, "x" * 1000])
def test_errors_echo_at_most_a_short_piece_of_a_long_line(rig, line):
    path, _, _, _ = rig
    client = Client(path)
    answer = client.send(line)
    assert answer.startswith("error: ")
    longest_echo = max(len(word) for word in answer.replace("'", " ").split())
    assert longest_echo <= 41, answer  # 40 characters and an ellipsis
    assert len(answer) < 200, answer
    client.close()


def test_connections_are_capped_and_the_extra_one_is_told_why(tmp_path):
    path = tmp_path / "s.sock"
    with SimControlServer(path, None, lambda e: None, max_connections=3):
        clients = [Client(path) for _ in range(3)]
        for client in clients:
            assert client.send("tap stop") == "ok"
        extra = Client(path)
        refusal = extra.file.readline().decode()
        assert refusal.startswith("error: ") and "3 connections" in refusal
        assert extra.file.readline() == b"", "the refused connection is closed"
        extra.close()
        clients.pop().close()
        deadline = time.monotonic() + 3
        while True:  # the freed slot is counted free once the server has seen the hang-up
            again = Client(path)
            answer = again.send("tap stop")
            if answer == "ok" or time.monotonic() > deadline:
                break
            again.close()
        assert answer == "ok"
        for client in (*clients, again):
            client.close()


def test_an_idle_connection_is_told_and_closed(tmp_path):
    path = tmp_path / "s.sock"
    with SimControlServer(path, None, lambda e: None, idle_timeout_s=0.2):
        client = Client(path)
        assert client.send("tap stop") == "ok"
        goodbye = client.file.readline().decode()
        assert goodbye.startswith("error: ") and "idle" in goodbye
        assert client.file.readline() == b""
        client.close()


def test_status_and_end(rig):
    path, _, _, ended = rig
    client = Client(path)
    assert client.send("status") == "ok idle"
    assert client.send("end") == "ok"
    assert client.file.readline() == b"", "end closes the connection"
    assert ended == [True]
    client.close()


def test_several_clients_at_once(rig):
    path, events, _, _ = rig
    drain(events)
    clients = [Client(path) for _ in range(3)]
    for c in clients:
        assert c.send("tap pause") == "ok"
    assert len(drain(events)) == 3
    for c in clients:
        c.close()


def test_close_disconnects_clients_and_removes_the_socket(tmp_path):
    path = tmp_path / "s.sock"
    server = SimControlServer(path, None, lambda e: None).start()
    client = Client(path)
    assert client.send("tap stop") == "ok"  # connected and being served
    assert path.exists()
    closing = threading.Thread(target=server.close)  # how fast: benchmarks/bench_timing.py
    closing.start()
    closing.join(DEFAULT_WAIT_S)
    assert not closing.is_alive(), "a connected client must not hold up the close"
    assert not path.exists()
    assert client.file.readline() == b""
    client.close()
    server.close()


def test_a_stale_socket_is_replaced_and_a_live_one_refused(tmp_path):
    path = tmp_path / "s.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()  # the file stays: a crashed station's leftover
    with SimControlServer(path, None, lambda e: None):
        with pytest.raises(UserError, match="already listening"):
            SimControlServer(path, None, lambda e: None).start()
        assert Client(path).send("tap stop") == "ok"


def test_path_problems_are_one_line(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        SimControlServer(tmp_path / "nope" / "s.sock", None, lambda e: None).start()
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a socket"):
        SimControlServer(tmp_path / "file", None, lambda e: None).start()


def wait_mode(station: Station, mode: Mode, timeout: float = 2.0) -> bool:
    return process_until(station, lambda: station.state.mode is mode, timeout, interval=0.01)


def test_a_script_drives_the_real_station_into_an_emergency_stop(tmp_path):
    station = Station(CONFIG)
    sim = simulated_station(CONFIG, treadmill=False)
    sensors = attach_sensors(CONFIG, station.post, pin_factory=sim.pin_factory)
    text = (assets_dir() / "programs" / "beginner-flat.toml").read_text()
    program, problems = parse_program_text(text, "beginner-flat.toml")
    assert program is not None, problems
    path = tmp_path / "sim.sock"
    server = SimControlServer(path, sim, station.post,
                              status=lambda: status_line(build_view(station.state, station.clock(), station.cfg)))
    try:
        server.start()
        station.post(ProgramChosen(program))
        client = Client(path)
        assert client.send("lanyard clipped") == "ok"
        assert client.send("rails held") == "ok"
        # Re-armed once the debounce has run out (a real timer thread in hardware.gpio).
        assert process_until(station, lambda: station.state.lanyard_clipped and station.state.rails_held)
        assert client.send("tap start") == "ok"
        assert wait_mode(station, Mode.COUNTDOWN) or station.state.mode is Mode.RUNNING
        assert client.send("lanyard pulled") == "ok"
        assert wait_mode(station, Mode.ESTOP)
        assert client.send("status").startswith("ok emergency stop")
        client.close()
    finally:
        server.close()
        sensors.close()
        sim.close()


def test_link_commands_pull_the_simulated_treadmill_cable(tmp_path):
    from app.core.events import LinkLost, LinkRestored
    from app.shell.devices import attach_treadmill

    config = parse_config('[treadmill]\nmode = "csafe"\npoll_interval_s = 0.05\nsilence_timeout_s = 0.4\n')
    events: queue.Queue = queue.Queue()
    with simulated_station(config) as sim:
        link = attach_treadmill(config, events.put, port=sim.treadmill_port)
        try:
            with SimControlServer(tmp_path / "s.sock", sim, events.put):
                client = Client(tmp_path / "s.sock")
                assert client.send("link lost") == "ok"
                assert sim.treadmill is not None
                seen = []
                deadline = time.monotonic() + 3
                while LinkLost not in seen and time.monotonic() < deadline:
                    seen.append(type(events.get(timeout=3)))
                assert LinkLost in seen, "the link noticed the pulled cable"
                assert client.send("link restored") == "ok"
                while LinkRestored not in seen and time.monotonic() < deadline + 3:
                    seen.append(type(events.get(timeout=3)))
                assert LinkRestored in seen
                client.close()
        finally:
            link.close()
