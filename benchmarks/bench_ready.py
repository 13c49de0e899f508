"""Start to READY=1: the kiosk against a bare pygame window, in the same run (docs/architecture.md, Budgets).

Budget: ``backstep run --sim`` reaches READY=1 in at most 1.5x the time a bare pygame program takes
to open a window and draw one frame, with bytecode present (as a pip install leaves it on the Pi).
Both are started the same way (a fresh Python process) and both report on the same real notify
socket, so the clock is the same: from spawn to the READY datagram. The bare program sends READY=1
itself right after its first flip. A second reference is the same bare window importing gpiozero
first: READY=1 means the sensors are attached, so that is the floor of any kiosk built on gpiozero.

The kiosk runs from a copy of ``app/``, ``hardware/`` and the assets laid out as a wheel installs
them, measured twice:

- with bytecode: the copy is compiled first (``compileall``), as ``pip install`` does;
- without bytecode: a copy with no ``.pyc`` and ``PYTHONDONTWRITEBYTECODE=1``, so every start
  compiles the app (a source checkout run in this environment).

The database is one an earlier start created (every start of a station but its first);
``--fresh-db`` gives each start a new one (the first start, which also creates the schema);
``--history 1000`` starts on one that holds 1,000 sessions of 600 samples (600,000 samples), a
station's years: the open before READY=1 reads its header and schema only, and the full check runs
after READY=1, inside the 2 s whose longest loop pass is printed.

After READY=1 each kiosk run waits for the loop's own report of its longest pass in the first 2 s
(the deferred start-up work runs then; no pass may hold a stop back for long), then stops it.

    .venv/bin/python benchmarks/bench_ready.py [--runs N] [--video dummy|offscreen|kmsdrm|x11] [--fresh-db | --history SESSIONS]

Prints medians and spread of both, their ratio, and the longest loop pass. No assertion: numbers to watch.
"""

from __future__ import annotations

import argparse
import compileall
import os
import re
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
BUDGET_RATIO = 1.5
#: The main loop's line (app/kiosk/mainloop.py, PassWatch) with its longest pass after READY=1.
STALL_LINE = re.compile(r"longest loop pass ([0-9.]+) ms")
#: The database's full check after READY=1 (app/shell/db_check.py, LateCheck), when it found nothing.
CHECK_LINE = re.compile(r"full check ok, ([0-9.]+) ms")

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


def start_until_ready(argv: list[str], env: dict, cwd: str, sock: socket.socket, timeout: float = 60.0):
    """Spawn *argv*; return (seconds to its READY=1 datagram, the process, still running)."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = start + timeout
    while True:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            stop(proc, sock)
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
            return time.perf_counter() - start, proc


def stop(proc: subprocess.Popen, sock: socket.socket) -> str:
    """SIGTERM *proc*, wait for it, drain the notify socket; return its stderr."""
    err = ""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    # Drain what the process sent while stopping (STOPPING=1, pings) so the next run starts clean.
    sock.settimeout(0.05)
    try:
        while sock.recv(4096):
            pass
    except (socket.timeout, OSError):
        pass
    return err or ""


def install_copy(dest: Path, bytecode: bool) -> Path:
    """app/, hardware/ and the assets as a wheel lays them out (assets inside the package)."""
    for name in ("app", "hardware"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(ROOT / "assets", dest / "app" / "assets")
    if bytecode:
        for name in ("app", "hardware"):
            compileall.compile_dir(str(dest / name), quiet=1)
    return dest


#: The bare window that also imports gpiozero before READY=1: the floor of any station whose READY
#: means its sensors are attached (docs/architecture.md, "Where start-up time goes").
BARE_WITH_GPIOZERO = BARE.replace("import os, socket, pygame", "import os, socket, pygame, gpiozero")


def measure(label: str, copy: Path, env: dict, sock: socket.socket, runs: int, db: Path | None,
            workdir: Path, video: str) -> tuple[list[float], list[float], list[float]]:
    env = dict(env, PYTHONPATH=str(copy))
    kiosk_argv = [sys.executable, "-m", "app", "run", "--sim", "--windowed", "--size", "1280x800"]
    bare_argv = [sys.executable, "-c", BARE]
    gpio_argv = [sys.executable, "-c", BARE_WITH_GPIOZERO]
    kiosk: list[float] = []
    bare: list[float] = []
    bare_gpio: list[float] = []
    stalls: list[float] = []
    checks: list[float] = []
    checks_in_window = 0
    env["BACKSTEP_DB"] = str(db or workdir / f"{label}-warm.db")
    # One untimed start of each warms the page cache (and makes the database, when it is kept).
    stop(start_until_ready(bare_argv, env, str(copy), sock)[1], sock)
    stop(start_until_ready(kiosk_argv, env, str(copy), sock)[1], sock)
    for i in range(runs):
        # Alternate, so drift in machine load touches both alike.
        if db is None:
            env["BACKSTEP_DB"] = str(workdir / f"{label}-run{i}.db")
        seconds, proc = start_until_ready(bare_argv, env, str(copy), sock)
        stop(proc, sock)
        bare.append(seconds)
        seconds, proc = start_until_ready(gpio_argv, env, str(copy), sock)
        stop(proc, sock)
        bare_gpio.append(seconds)
        seconds, proc = start_until_ready(kiosk_argv, env, str(copy), sock)
        kiosk.append(seconds)
        time.sleep(2.6)  # the loop reports its longest pass at 2 s after READY=1
        err = stop(proc, sock)
        found = STALL_LINE.search(err)
        if found:
            stalls.append(float(found.group(1)) / 1000)
        check = CHECK_LINE.search(err)
        if check:
            checks.append(float(check.group(1)) / 1000)
            # Logged before the loop's report: the check ran inside the window that report covers.
            checks_in_window += bool(found) and check.start() < found.start()
    ratio = statistics.median(kiosk) / statistics.median(bare)
    verdict = "within" if ratio <= BUDGET_RATIO else "OVER"
    print(f"-- {label}")
    print(f"   bare pygame window to READY=1 : {describe(bare)}")
    print(f"   backstep run --sim to READY=1 : {describe(kiosk)}")
    print(f"   ratio (median kiosk / median bare): {ratio:.2f}x  -> {verdict} the budget of <= {BUDGET_RATIO}x")
    # The fastest runs are the least touched by other work on the machine: a second view of the same.
    print(f"   ratio of the fastest runs (min kiosk / min bare): {min(kiosk) / min(bare):.2f}x")
    print(f"   reference: the bare window importing gpiozero too : {describe(bare_gpio)}  "
          f"({statistics.median(bare_gpio) / statistics.median(bare):.2f}x the bare window; "
          f"the kiosk is {statistics.median(kiosk) / statistics.median(bare_gpio):.2f}x this)")
    if stalls:
        print(f"   longest main-loop pass in the first 2 s after READY=1: {describe(stalls)}")
    else:
        print("   longest main-loop pass after READY=1: not reported by the kiosk")
    if checks:
        print(f"   the database's full check after READY=1 (worker thread): {describe(checks)}; "
              f"within those 2 s in {checks_in_window} of {len(checks)}")
    return kiosk, bare, stalls


def describe(samples: list[float]) -> str:
    return (f"median {statistics.median(samples) * 1000:7.1f} ms  "
            f"min {min(samples) * 1000:7.1f} ms  max {max(samples) * 1000:7.1f} ms  (n={len(samples)})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--video", default=os.environ.get("SDL_VIDEODRIVER", "dummy"),
                        help="SDL video driver for both (default: dummy, which works without a display)")
    parser.add_argument("--fresh-db", action="store_true", help="a new database for every start (the first start)")
    parser.add_argument("--history", type=int, default=0, metavar="SESSIONS",
                        help="start on a database of this many sessions of 600 samples (1000: 600,000 samples)")
    args = parser.parse_args()
    if args.history and args.fresh_db:
        parser.error("--history gives every start the one database it builds; leave out --fresh-db")

    if not (ROOT / "app" / "kiosk" / "app.py").exists():
        print("bench_ready: app/kiosk/app.py (backstep run) is not in this checkout; nothing to measure")
        return 1

    workdir = Path(tempfile.mkdtemp(prefix="bs-ready-"))
    name = str(workdir / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(name)
    config = workdir / "config.toml"
    config.write_text("")
    env = dict(os.environ, SDL_VIDEODRIVER=args.video, SDL_AUDIODRIVER="dummy", NOTIFY_SOCKET=name,
               BACKSTEP_CONFIG=str(config), PYGAME_HIDE_SUPPORT_PROMPT="1")
    for var in ("WATCHDOG_USEC", "BACKSTEP_ASSETS", "PYTHONPYCACHEPREFIX"):
        env.pop(var, None)
    if args.history:
        sys.path.insert(0, str(ROOT / "tests"))
        from test_export_fixtures import make_bulk

        samples = make_bulk(workdir / "kept.db", args.history, 600)
        kept = f"kept, with {args.history} sessions ({samples:,} samples, {(workdir / 'kept.db').stat().st_size / 2**20:.0f} MiB)"
    else:
        kept = "kept from an earlier start"
    print(f"SDL video driver: {args.video}; Python {sys.version.split()[0]}; {args.runs} runs each; "
          f"database: {'a new one per start' if args.fresh_db else kept}")
    try:
        for label, bytecode in (("with bytecode (compileall first, as installed)", True),
                                ("without bytecode (PYTHONDONTWRITEBYTECODE=1, no .pyc)", False)):
            copy = install_copy(workdir / ("pyc" if bytecode else "source"), bytecode)
            run_env = dict(env)
            if bytecode:
                run_env.pop("PYTHONDONTWRITEBYTECODE", None)
            else:
                run_env["PYTHONDONTWRITEBYTECODE"] = "1"
            measure(label, copy, run_env, sock, args.runs, None if args.fresh_db else workdir / "kept.db",
                    workdir, args.video)
    except RuntimeError as exc:
        print(f"bench_ready: {exc}")
        return 1
    finally:
        sock.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
