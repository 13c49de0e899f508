"""The seconds the tests used to assert, measured here and printed (no test asserts a duration).

- ``watchdog``: the gaps between WATCHDOG=1 pings of the real kiosk (``backstep run --sim``) under
  a notify socket with ``WATCHDOG_USEC=2000000``: it pings at half of it, so a gap stays under
  1.5 s (the 1 s interval plus scheduling slack) or systemd would soon restart a healthy kiosk.
  The behaviour (pings keep coming) is tests/test_systemd_notify.py::test_kiosk_under_a_notify_socket.
- ``gpio-exit``: a program that forgets to close its lanyard and rail sensors still exits promptly
  (gpiozero stops its threads at exit; the re-arm thread must notice). Behaviour:
  tests/test_gpio.py::test_a_program_that_forgets_close_still_exits_promptly.
- ``simcontrol-close``: closing the sim-control server while a client is connected.
  Behaviour: tests/test_simcontrol.py::test_close_disconnects_clients_and_removes_the_socket.
- ``stick-wake``: a real tmpfs mount below the watched folder to the watcher waking (the kernel's
  POLLPRI on mountinfo, not the timeout). Needs root; says so and skips otherwise.
  Behaviour: tests/test_usb.py::test_real_mount_is_noticed_and_unmounted_safely.

    .venv/bin/python benchmarks/bench_timing.py [--watch SECONDS]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WATCHDOG_GAP_BUDGET_S = 1.5
GPIO_EXIT_BUDGET_S = 8.0
SIMCONTROL_CLOSE_BUDGET_S = 2.0
STICK_WAKE_BUDGET_S = 2.0


def verdict(value: float, budget: float) -> str:
    return "within budget" if value < budget else "OVER BUDGET"


def watchdog_gaps(watch_s: float) -> None:
    folder = tempfile.mkdtemp(prefix="bs-bench-")  # short: AF_UNIX paths are < 108 bytes
    name = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(name)
    sock.settimeout(60)
    config = Path(folder) / "config.toml"
    config.write_text("# all defaults\n")
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", NOTIFY_SOCKET=name,
               WATCHDOG_USEC="2000000", BACKSTEP_DB=os.path.join(folder, "b.db"), BACKSTEP_CONFIG=str(config))
    for variable in ("WATCHDOG_PID", "JOURNAL_STREAM"):
        env.pop(variable, None)
    proc = subprocess.Popen([sys.executable, "-m", "app", "run", "--sim", "--windowed"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while b"READY=1" not in sock.recv(4096).splitlines():
            pass
        stamps = [time.monotonic()]
        end = stamps[0] + watch_s
        while (left := end - time.monotonic()) > 0:
            sock.settimeout(left)
            try:
                if b"WATCHDOG=1" in sock.recv(4096).splitlines():
                    stamps.append(time.monotonic())
            except socket.timeout:
                break
        stamps.append(time.monotonic())  # the gap still open at the end counts too
        gaps = [b - a for a, b in zip(stamps, stamps[1:])]
        print(f"watchdog: {len(stamps) - 2} pings in {watch_s:.1f} s after READY=1; gap median "
              f"{statistics.median(gaps):.3f} s, worst {max(gaps):.3f} s (budget < {WATCHDOG_GAP_BUDGET_S} s: "
              f"{verdict(max(gaps), WATCHDOG_GAP_BUDGET_S)})")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        sock.close()
        shutil.rmtree(folder, ignore_errors=True)


def gpio_exit() -> None:
    code = ("from gpiozero.pins.mock import MockFactory\n"
            "from hardware.gpio import SafetyLanyard, RailGrip\n"
            "f = MockFactory()\n"
            "key = SafetyLanyard(17, pin_factory=f)\n"
            "grip = RailGrip((27, 22), pin_factory=f)\n")
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    took = time.monotonic() - started
    state = "exit 0" if result.returncode == 0 else f"exit {result.returncode}: {result.stderr.strip()[-200:]}"
    print(f"gpio-exit: a program that forgets close() ends in {took:.2f} s ({state}; "
          f"budget < {GPIO_EXIT_BUDGET_S} s: {verdict(took, GPIO_EXIT_BUDGET_S)})")


def simcontrol_close() -> None:
    from app.shell.simcontrol import SimControlServer

    folder = tempfile.mkdtemp(prefix="bs-bench-")
    path = Path(folder) / "s.sock"
    try:
        server = SimControlServer(path, None, lambda event: None).start()
        client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        client.settimeout(5)
        client.connect(str(path))
        client.sendall(b"tap stop\n")
        client.recv(100)  # answered: the client is connected and being served
        started = time.monotonic()
        server.close()
        took = time.monotonic() - started
        client.close()
        print(f"simcontrol-close: close() with a connected client took {took * 1000:.1f} ms "
              f"(budget < {SIMCONTROL_CLOSE_BUDGET_S} s: {verdict(took, SIMCONTROL_CLOSE_BUDGET_S)})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def stick_wake() -> None:
    from app.shell.usb import StickWatcher

    if os.geteuid() != 0:
        print("stick-wake: skipped (mounting a tmpfs needs root)")
        return
    folder = Path(tempfile.mkdtemp(prefix="bs-bench-"))
    point = folder / "STICK"
    point.mkdir()
    try:
        watcher = StickWatcher(folder)
        watcher.poll()
        mounted_at = []

        def mount_soon():
            time.sleep(0.3)  # the watcher is waiting by then
            mounted_at.append(time.monotonic())
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(point)], check=True)

        thread = threading.Thread(target=mount_soon)
        thread.start()
        changes = watcher.wait(timeout=5.0)
        woke = time.monotonic()
        thread.join()
        took = woke - mounted_at[0]
        print(f"stick-wake: mount to watcher awake {took * 1000:.1f} ms, {len(changes)} change(s) "
              f"(budget < {STICK_WAKE_BUDGET_S} s, the 5 s timeout means no POLLPRI: "
              f"{verdict(took, STICK_WAKE_BUDGET_S)})")
    except (subprocess.CalledProcessError, OSError) as error:
        print(f"stick-wake: skipped (cannot mount a tmpfs here: {error})")
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--watch", type=float, default=5.0, help="seconds to watch the watchdog (default 5)")
    args = parser.parse_args()
    gpio_exit()
    simcontrol_close()
    stick_wake()
    watchdog_gaps(args.watch)


if __name__ == "__main__":
    main()
