"""Start to READY=1: the kiosk against a bare pygame window, in the same run (docs/architecture.md, Budgets).

Budget: ``backstep run --sim`` reaches READY=1 in under 2x the time a bare pygame program takes to
open a window and draw one frame. Both are started the same way (a fresh Python process) and both
report on the same real notify socket, so the clock is the same: from spawn to the READY datagram.
The bare program sends READY=1 itself right after its first flip.

    .venv/bin/python benchmarks/bench_ready.py [--runs N] [--video dummy|offscreen|kmsdrm|x11]

Prints the median and spread of both and their ratio. No assertion: a number to watch.
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_RATIO = 2.0

BARE = """
import os, socket, pygame
pygame.display.init()
screen = pygame.display.set_mode((1280, 800))
screen.fill((0, 0, 0))
pygame.display.flip()
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
pygame.event.pump()
"""


def time_to_ready(argv: list[str], env: dict, sock: socket.socket, timeout: float = 60.0) -> float:
    """Seconds from spawning *argv* to its READY=1 datagram; then stop it with SIGTERM."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = start + timeout
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                raise RuntimeError(f"no READY=1 within {timeout:.0f} s from {' '.join(argv[:4])}")
            sock.settimeout(min(remaining, 0.5))
            try:
                data = sock.recv(4096)
            except socket.timeout:
                if proc.poll() is not None:
                    raise RuntimeError(f"{' '.join(argv[:4])} exited {proc.returncode} before READY: "
                                       f"{(proc.stderr.read() or '').strip().splitlines()[-1:]}")
                continue
            if b"READY=1" in data.split(b"\n"):
                return time.perf_counter() - start
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        # Drain what the process sent while stopping (STOPPING=1, pings) so the next run starts clean.
        sock.settimeout(0.05)
        try:
            while sock.recv(4096):
                pass
        except (socket.timeout, OSError):
            pass


def describe(samples: list[float]) -> str:
    return (f"median {statistics.median(samples) * 1000:7.1f} ms  "
            f"min {min(samples) * 1000:7.1f} ms  max {max(samples) * 1000:7.1f} ms  (n={len(samples)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--video", default=os.environ.get("SDL_VIDEODRIVER", "dummy"),
                        help="SDL video driver for both (default: dummy, which works without a display)")
    args = parser.parse_args()

    if not (ROOT / "app" / "commands" / "run.py").exists():
        print("bench_ready: app/commands/run.py (backstep run) is not in this checkout yet; nothing to measure")
        return 1

    workdir = tempfile.mkdtemp(prefix="bs-ready-")
    name = os.path.join(workdir, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(name)
    config = os.path.join(workdir, "config.toml")
    Path(config).write_text("")
    env = dict(os.environ, SDL_VIDEODRIVER=args.video, SDL_AUDIODRIVER="dummy", NOTIFY_SOCKET=name,
               BACKSTEP_CONFIG=config, PYGAME_HIDE_SUPPORT_PROMPT="1")
    env.pop("WATCHDOG_USEC", None)
    kiosk_argv = [sys.executable, "-m", "app", "run", "--sim", "--windowed", "--size", "1280x800"]
    bare_argv = [sys.executable, "-c", BARE]
    kiosk: list[float] = []
    bare: list[float] = []
    try:
        # One untimed start of each warms the page cache, so neither pays for the first disk read.
        env["BACKSTEP_DB"] = os.path.join(workdir, "warm.db")
        time_to_ready(bare_argv, env, sock)
        time_to_ready(kiosk_argv, env, sock)
        for i in range(args.runs):
            # Alternate, so drift in machine load touches both alike. A fresh database each time:
            # the first start on an appliance creates it too.
            env["BACKSTEP_DB"] = os.path.join(workdir, f"run{i}.db")
            bare.append(time_to_ready(bare_argv, env, sock))
            kiosk.append(time_to_ready(kiosk_argv, env, sock))
    except RuntimeError as exc:
        print(f"bench_ready: {exc}")
        return 1
    finally:
        sock.close()
        shutil.rmtree(workdir, ignore_errors=True)

    ratio = statistics.median(kiosk) / statistics.median(bare)
    print(f"SDL video driver: {args.video}; Python {sys.version.split()[0]}")
    print(f"bare pygame window to READY=1 : {describe(bare)}")
    print(f"backstep run --sim to READY=1 : {describe(kiosk)}")
    verdict = "within" if ratio < BUDGET_RATIO else "OVER"
    print(f"ratio (median kiosk / median bare): {ratio:.2f}x  -> {verdict} the budget of < {BUDGET_RATIO:.0f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
