"""``backstep run`` and ``backstep demo``: the loop wakes on events, talks to systemd, exits cleanly."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pygame
import pytest
from conftest import wait_for
from test_ui_support import make_kiosk

from app.cli import main
from app.kiosk.mainloop import loop
from app.config import Config
from app.core.events import LanyardPulled
from app.core.view import Screen
from app.shell.station import Station

ROOT = Path(__file__).resolve().parent.parent


class Notes:
    """Records what the loop tells systemd."""

    watchdog_interval_s = 0.0

    def __init__(self):
        self.calls = []

    def ready(self, status=None):
        self.calls.append(("ready", status))

    def watchdog(self):
        pass

    def status(self, text):
        self.calls.append(("status", text))

    def stopping(self, status=None):
        self.calls.append(("stopping", status))


@pytest.fixture
def display():
    pygame.display.init()
    screen = pygame.display.set_mode((800, 480))
    yield screen
    pygame.display.quit()


def test_first_frame_then_ready_with_the_status_line(display):
    station = Station(Config())
    kiosk, _ = make_kiosk()
    notes = Notes()
    frames = loop(station, kiosk, display, notes, [], max_frames=1)
    assert frames == 1
    assert notes.calls[0] == ("ready", "idle: home screen")


def test_a_sensor_event_from_another_thread_wakes_the_loop_and_is_drawn(display):
    """The home screen sleeps (up to seconds); a lanyard pull must be on screen at once."""
    station = Station(Config())
    kiosk, _ = make_kiosk()
    station.add_listener(kiosk.on_effect)
    stop = []
    drawn = []

    def on_frame(n):
        drawn.append((time.monotonic(), kiosk.view.screen, kiosk.view.lanyard_clipped))

    def sensor_thread():
        wait_for(lambda: drawn)  # the first frame is drawn: the loop goes idle
        station.post(LanyardPulled())
        wait_for(lambda: any(clipped is False for _, _, clipped in drawn))
        stop.append(True)
        station.wakeup()  # set by the loop: its waker

    from app.core.events import LanyardClipped

    station.post(LanyardClipped())
    threading.Thread(target=sensor_thread, daemon=True).start()
    # How fast a post wakes the loop is measured by benchmarks/bench_estop.py, not asserted here.
    loop(station, kiosk, display, None, stop, on_frame=on_frame)
    assert drawn[0][2] is True
    assert any(clipped is False for _, _, clipped in drawn), "the pulled lanyard was never drawn"
    assert len(drawn) <= 4, f"drew {len(drawn)} frames for two events: the loop is not idle"


def test_the_loop_ends_when_staff_exit(display):
    station = Station(Config())
    kiosk, _ = make_kiosk()
    kiosk.quit_requested = True
    assert loop(station, kiosk, display, None, []) == 0


def notify_socket(tmp_path):
    path = str(tmp_path / "notify.sock")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(20)
    return sock, path


def kiosk_env(tmp_path, notify_path):
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", NOTIFY_SOCKET=notify_path,
               BACKSTEP_DB=str(tmp_path / "db.sqlite"), XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path))
    env.pop("BACKSTEP_CONFIG", None)
    return env


@pytest.mark.slow
def test_run_sim_reports_ready_and_stops_cleanly_on_sigterm(tmp_path):
    sock, path = notify_socket(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text("[kiosk]\nsound = false\nspeech = false\n")
    proc = subprocess.Popen([sys.executable, "-m", "app", "--config", str(config), "run", "--sim", "--windowed",
                             "--size", "800x480"], cwd=ROOT, env=kiosk_env(tmp_path, path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        messages = []
        while not any("READY=1" in m for m in messages):
            messages.append(sock.recv(4096).decode())
        assert any("STATUS=idle: home screen" in m for m in messages)
        proc.send_signal(15)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    sock.settimeout(1)
    rest = []
    try:
        while True:
            rest.append(sock.recv(4096).decode())
    except (TimeoutError, socket.timeout):
        pass
    assert any("STOPPING=1" in m for m in rest), rest
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, words", [
    (["run", "--size", "banana"], "--size 'banana': use WIDTHxHEIGHT"),
    (["run", "--size", "10x10"], "between 320x240"),
    (["demo", "--size", "800by480"], "use WIDTHxHEIGHT"),
])
def test_bad_arguments_are_one_clear_line(argv, words, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1


@pytest.mark.slow
def test_demo_writes_a_png_of_every_screen(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("BACKSTEP_CONFIG", raising=False)
    out = tmp_path / "shots"
    assert main(["demo", "--screenshots", str(out)]) == 0
    assert str(out.resolve()) in capsys.readouterr().out
    names = sorted(p.name for p in out.glob("*.png"))
    expected = {
        Screen.HOME: "home", Screen.PREFLIGHT: "preflight", Screen.COUNTDOWN: "countdown",
        Screen.RUNNING: "running", Screen.PAUSED_RAILS: "hold-the-rails", Screen.PAUSED_LINK: "link-lost",
        Screen.PAUSED_USER: "paused", Screen.TURNAROUND: "turnaround", Screen.RESUMING: "resuming",
        Screen.ESTOP: "estop", Screen.COOLDOWN: "cooldown", Screen.SUMMARY: "summary", Screen.FAULT: "fault"}
    for screen, word in expected.items():
        assert any(word in name for name in names), f"no screenshot of {screen.value}: {names}"
    for page in ("set-pin", "history", "export", "staff-pin", "staff-sensors", "member-pick", "pain-before", "member-search",
                 "home-member", "history-pain", "history-hands-free", "staff-members", "staff-add-member",
                 "staff-member-suggestion",
                 "next-time"):
        assert any(page in name for name in names), page
    image = pygame.image.load(str(out / names[0]))
    assert image.get_size() == (800, 480)


def start_sim_kiosk(tmp_path, *, rearm_debounce_s: float):
    """``backstep run --sim`` with beginner-flat chosen and a sim-control socket, once it has said
    READY=1; returns the process and a ``send(command) -> answer`` for the socket."""
    notify, notify_path = notify_socket(tmp_path)
    control = tmp_path / "control.sock"
    config = tmp_path / "config.toml"
    config.write_text(f"[kiosk]\nsound = false\nspeech = false\n[gpio]\nrearm_debounce_s = {rearm_debounce_s}\n")
    proc = subprocess.Popen([sys.executable, "-m", "app", "--config", str(config), "run", "--sim", "--windowed",
                             "--size", "800x480", "--program", "beginner-flat", "--sim-control", str(control)],
                            cwd=ROOT, env=kiosk_env(tmp_path, notify_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        while b"READY=1" not in notify.recv(4096):
            pass
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.connect(str(control))
        client.settimeout(10)
    except BaseException:
        proc.kill()
        raise
    lines = client.makefile("r")

    def send(command: str) -> str:
        client.sendall(command.encode() + b"\n")
        return lines.readline().strip()

    return proc, send


@pytest.mark.slow
def test_a_person_walks_a_program_through_the_real_kiosk_process(tmp_path):
    """`backstep run --sim` end to end: start, paused by the rails, stopped by the lanyard, and the
    scripted `end` exits cleanly. Commands go through the sim-control socket; the screen's state
    is read back as the systemd status line."""
    proc, send = start_sim_kiosk(tmp_path, rearm_debounce_s=0)
    try:

        def wait_for_status(prefix):
            last = [""]

            def reached():
                last[0] = send("status")
                return last[0].startswith("ok " + prefix)

            assert wait_for(reached, interval=0.1), f"status never became {prefix!r}; last: {last[0]}"

        wait_for_status("ready: Beginner flat")
        assert send("lanyard clipped") == "ok"
        assert send("rails held") == "ok"
        assert send("tap start") == "ok"  # no re-arm debounce in this config: armed at once
        wait_for_status("starting")
        wait_for_status("running: Step on")
        assert send("rails released") == "ok"
        wait_for_status("paused: rails released")
        assert send("lanyard pulled") == "ok"
        wait_for_status("emergency stop: lanyard pulled")
        assert send("end") == "ok"
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "Traceback" not in err
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        rows = db.execute("select program_id, status from sessions").fetchall()
    assert rows == [("beginner-flat", "emergency_stop")]


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigterm", "end"])
def test_a_clean_shutdown_mid_session_closes_it_as_stopped(tmp_path, how):
    """systemd stopping the kiosk (an update, a reboot) or `end` on the control socket, while a
    person walks: the belt is told to stop and the session is stored as stopped, with its reason and
    end time and a stop event, not left `running` for the next start to call a crash."""
    proc, send = start_sim_kiosk(tmp_path, rearm_debounce_s=0.05)
    try:

        assert send("lanyard clipped") == "ok"
        assert send("rails held") == "ok"
        status = [""]

        def running():
            send("tap start")
            status[0] = send("status")
            return status[0].startswith("ok running")

        assert wait_for(running, interval=0.1), status[0]
        if how == "sigterm":
            proc.send_signal(15)
        else:
            assert send("end") == "ok"
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    with sqlite3.connect(tmp_path / "db.sqlite") as db:
        sessions = db.execute("select id, status, stop_reason, ended_at from sessions").fetchall()
        assert len(sessions) == 1
        session_id, status, reason, ended_at = sessions[0]
        assert (status, reason) == ("stopped", "station shut down")
        assert ended_at
        kinds = [k for (k,) in db.execute("select kind from events where session_id = ?", (session_id,))]
    assert "stop" in kinds, kinds


def test_a_broken_config_gives_a_service_screen_not_a_restart_loop(tmp_path):
    sock, path = notify_socket(tmp_path)
    config = tmp_path / "config.toml"
    config.write_text("[kiosk]\ncolour = 'pink'\n")
    proc = subprocess.Popen([sys.executable, "-m", "app", "--config", str(config), "run", "--sim", "--windowed",
                             "--size", "800x480", "--program", "beginner-flat"], cwd=ROOT,
                            env=kiosk_env(tmp_path, path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        messages = []
        while not any("READY=1" in m for m in messages):
            messages.append(sock.recv(4096).decode())
        assert any("STATUS=service: 1 config problem" in m for m in messages), messages
        proc.send_signal(15)
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err


def test_sim_keys_drive_the_simulated_person():
    from app.kiosk.rig import Rig, sim_key

    rig = Rig(Config(), None, sim=True)
    try:
        assert sim_key(rig, pygame.K_l) and rig.sim.lanyard_clipped
        assert sim_key(rig, pygame.K_r) and all(rig.sim.rails_held)
        assert sim_key(rig, pygame.K_r) and not any(rig.sim.rails_held)
        assert sim_key(rig, pygame.K_l) and not rig.sim.lanyard_clipped
        assert not sim_key(rig, pygame.K_x)  # other keys go to the kiosk
    finally:
        rig.close()


def test_sim_control_needs_sim():
    from app.kiosk.rig import Rig
    from app.errors import UserError

    with pytest.raises(UserError, match="--sim-control needs --sim"):
        Rig(Config(), None, sim=False, sim_control="/tmp/x.sock")
