"""Kiosk speed and memory (docs/architecture.md, "Budgets"): frame render p99, idle CPU, start to
first frame, RSS. Every figure is printed beside its goal.

    python -m benchmarks ui          (or: python benchmarks/bench_ui.py [--frames N] [--idle-seconds S]
                                      [--runs N] [--no-start])

- Frame render: ``Kiosk.render`` of the home, running, hold-the-rails and e-stop screens at 800x480,
  1280x800 and 1920x1080, with the clock moved one second every frame (the worst case: every frame
  has new text to rasterise). Each frame is what the kiosk does in its loop: it repaints only what
  changed since the last frame on that surface. A full repaint (every pixel, as on the first frame
  after a screen change, e.g. the e-stop's) is printed beside it. Goal p99 < 2 ms on a development
  machine; the CPU time (the thread's own) is printed beside the wall time, which a busy machine
  inflates.
- First e-stop frame: the e-stop screen's first frame after the home screen, with cold caches and
  after ``Kiosk.prewarm`` (what the kiosk runs after READY=1), for several new kiosks (a single
  frame is a single sample). Goal < 2 ms after the prewarm.
- Idle CPU: the real loop (simulated station: gpiozero mock pins and their threads, the Station,
  the kiosk) left on the home screen; process CPU time over wall time, beside a bare pygame window
  waking as often (same run). Goal < 1 % of one core.
- First home frame: the home screen drawn in a fresh process, as ``backstep run`` draws it before
  READY=1 (the splash's fonts open, every other cache cold). No goal of its own: it is part of the
  start-up time.
- Start to first frame: ``backstep run --sim`` to its first flip (the splash) and to READY=1 (sent
  after the first home frame) against a bare pygame window, same run, same notify socket (the
  helpers of benchmarks/bench_ready.py; that benchmark compares READY=1 with and without bytecode).
  Goal <= 1.5x.
- Memory: resident set of a fresh process that walked a whole session at 1920x1080 (every second
  of a program, a rails pause, an e-stop). Goal < 100 MB.

Prints numbers; asserts nothing. SDL's dummy video driver unless SDL_VIDEODRIVER says otherwise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import pygame  # noqa: E402

from app.config import Config  # noqa: E402
from app.core import safety  # noqa: E402
from app.core.events import (  # noqa: E402
    LanyardClipped,
    LanyardPulled,
    ProgramChosen,
    RailsHeld,
    RailsReleased,
    StartTapped,
    Tick,
)
from app.core.view import build_view  # noqa: E402
from app.shell.library import load_library  # noqa: E402
from app.ui.data import StaticData  # noqa: E402
from app.ui.kiosk import Kiosk  # noqa: E402

# The goals of docs/architecture.md, "Budgets".
FRAME_BUDGET_MS = 2.0
IDLE_BUDGET_PCT = 1.0
RSS_BUDGET_MB = 100.0
START_BUDGET_RATIO = 1.5
SIZES = ((800, 480), (1280, 800), (1920, 1080))


def rss_mb() -> tuple[float, float]:
    """(current, peak) resident set in MB, from /proc."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, kb = line.split()[:2]
                values[key] = int(kb) / 1024
    return values.get("VmRSS:", 0.0), values.get("VmHWM:", 0.0)


def scripted_states(program):
    """(name, state-at-time function) for the screens a frame budget matters on."""
    cfg = safety.SafetyConfig()

    def drive(*events, t=0.0):
        state = safety.initial_state(link=safety.Link.UP)
        for event, dt in events:
            t += dt
            state, _ = safety.step(state, event, t, cfg)
        return state, t

    start = [(ProgramChosen(program), 0), (LanyardClipped(), 0), (RailsHeld(), 0), (StartTapped(), 0), (Tick(), 3.5)]
    home, _ = drive()
    running, t_run = drive(*start)
    rails, t_rails = drive(*start, (RailsReleased(), 5), (Tick(), 2))
    estop, t_estop = drive(*start, (LanyardPulled(), 5))
    return cfg, [("home", home, 0.0), ("running", running, t_run), ("hold-the-rails", rails, t_rails),
                 ("estop", estop, t_estop)]


def bench_render(size, frames: int, programs) -> list[tuple[str, float, float, float, float, float]]:
    """Per screen: (name, p50, p99 wall, p99 CPU of the frames the loop draws, p99 wall and CPU of a
    full repaint: the window exposed, as after a screen change, every pixel painted anew)."""
    screen = pygame.display.set_mode(size)
    kiosk = Kiosk(size, lambda event: None, data=StaticData(programs))
    cfg, states = scripted_states(programs[0])
    results = []
    for name, state, t0 in states:
        samples: list[float] = []
        cpu_samples: list[float] = []  # the thread's own CPU time: what other processes cannot inflate
        full: list[float] = []
        full_cpu: list[float] = []
        for i in range(frames + max(10, frames // 4)):
            now = t0 + i  # one second per frame: new clock text every frame
            kiosk.update(build_view(state, now, cfg), now)
            whole = i >= frames
            if whole:
                kiosk.handle(pygame.event.Event(pygame.WINDOWEXPOSED), now)
            start, cpu = time.perf_counter(), time.thread_time()
            kiosk.render(screen)
            (full if whole else samples).append((time.perf_counter() - start) * 1000)
            (full_cpu if whole else cpu_samples).append((time.thread_time() - cpu) * 1000)
        results.append((name, statistics.median(samples), p99(samples), p99(cpu_samples), p99(full), p99(full_cpu)))
    return results


def bench_first_estop(size, programs, runs: int = 7) -> tuple[list[float], list[float]]:
    """The first e-stop frame (ms) with cold caches, and after ``Kiosk.prewarm`` (what run does),
    each for *runs* new kiosks: one frame is one sample, which a busy machine can inflate."""
    from app.ui import draw

    cfg, states = scripted_states(programs[0])
    named = {name: (state, t) for name, state, t in states}
    screen = pygame.display.set_mode(size)
    times: dict[bool, list[float]] = {False: [], True: []}
    for _ in range(runs):
        for warm in (False, True):
            draw._TILES.clear()  # noqa: SLF001 - a cold start for both
            kiosk = Kiosk(size, lambda event: None, data=StaticData(programs))
            kiosk.update(build_view(named["home"][0], 0.0, cfg), 0.0)
            kiosk.render(screen)
            if warm:
                kiosk.prewarm()
            state, t = named["estop"]
            kiosk.update(build_view(state, t, cfg), t)
            start = time.perf_counter()
            kiosk.render(screen)
            times[warm].append((time.perf_counter() - start) * 1000)
    return times[False], times[True]


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


#: A fresh process walks a session at 1920x1080 (every second of the program drawn, a rails pause,
#: an e-stop, the prewarm the loop does) and reports its resident set.
SESSION_WALK = """
import os, sys, pygame
sys.path.insert(0, os.environ["BENCH_DIR"])
from bench_ui import scripted_states, walk_session
print(*walk_session((1920, 1080)))
"""


def walk_session(size) -> tuple[float, float]:
    """(current, peak) MB after drawing a whole session at *size*: the peak of a station's day."""
    pygame.display.init()
    pygame.font.init()
    programs = load_library(Config(), include_user_dir=False).programs
    screen = pygame.display.set_mode(size)
    kiosk = Kiosk(size, lambda event: None, data=StaticData(programs))
    cfg, states = scripted_states(programs[0])
    named = {name: (state, t) for name, state, t in states}
    kiosk.update(build_view(named["home"][0], 0.0, cfg), 0.0)
    kiosk.render(screen)
    kiosk.prewarm()
    running, t_run = named["running"]
    for second in range(int(programs[0].total_seconds)):
        now = t_run + second
        kiosk.update(build_view(running, now, cfg), now)
        kiosk.render(screen)
    for name in ("hold-the-rails", "estop"):
        state, t = named[name]
        for second in range(30):
            kiosk.update(build_view(state, t + second, cfg), t + second)
            kiosk.render(screen)
    return rss_mb()


def bench_session_rss() -> tuple[float, float]:
    env = {**os.environ, "BENCH_DIR": str(ROOT / "benchmarks")}
    out = subprocess.run([sys.executable, "-c", SESSION_WALK], env=env, capture_output=True, text=True, check=True)
    current, peak = out.stdout.strip().splitlines()[-1].split()
    return float(current), float(peak)


#: A fresh process draws its first home frame as ``backstep run`` does before READY=1.
FIRST_HOME = """
import os, sys
sys.path.insert(0, os.environ["BENCH_DIR"])
from bench_ui import first_home_frame
print(first_home_frame(tuple(int(v) for v in os.environ["SIZE"].split("x"))))
"""


def first_home_frame(size) -> float:
    """ms to draw and show the home screen's first frame: the fonts the splash opened are open,
    nothing else is cached (a fresh process, as at start-up)."""
    from app.ui.draw import splash
    from app.ui.theme import Fonts

    pygame.display.init()
    programs = load_library(Config(), include_user_dir=False).programs
    fonts = Fonts()
    screen = pygame.display.set_mode(size)
    splash(screen, fonts)
    pygame.display.flip()
    cfg, states = scripted_states(programs[0])
    kiosk = Kiosk(size, lambda event: None, data=StaticData(programs), fonts=fonts)
    kiosk.update(build_view(states[0][1], 0.0, cfg), 0.0)
    start = time.perf_counter()
    pygame.display.update(kiosk.render(screen))
    return (time.perf_counter() - start) * 1000


def bench_first_home(size, runs: int) -> list[float]:
    env = {**os.environ, "BENCH_DIR": str(ROOT / "benchmarks"), "SIZE": f"{size[0]}x{size[1]}"}
    return [float(subprocess.run([sys.executable, "-c", FIRST_HOME], env=env, capture_output=True, text=True,
                                 check=True).stdout.strip().splitlines()[-1]) for _ in range(runs)]


def bench_idle(seconds: float, programs) -> tuple[float, float, int]:
    """CPU % of one core while the real loop sits on the home screen, as the median and the worst
    of 2-second windows (one busy neighbour on the machine should not decide it); frames drawn."""
    from app.kiosk.mainloop import IDLE_AFTER_S, Waker, loop
    from app.kiosk.rig import Rig
    from app.ui.audio import Sounds

    config = Config()
    rig = Rig(config, None, sim=True)
    try:
        screen = pygame.display.set_mode((800, 480))
        # With sound: SDL's audio thread runs on an idle kiosk too (dummy audio driver here).
        kiosk = Kiosk((800, 480), rig.station.post, data=StaticData(programs), sounds=Sounds())
        waker = Waker()
        rig.station.wakeup = waker.wake
        stop: list[bool] = []
        windows: list[float] = []

        def sample() -> None:
            # Settle first (the sensors' start-up events, the first frame, the switch to idle
            # polling after IDLE_AFTER_S without a touch), then measure.
            time.sleep(IDLE_AFTER_S + 1.0)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            while len(windows) < max(1, int(seconds / 2)):
                time.sleep(2.0)
                cpu1, wall1 = time.process_time(), time.perf_counter()
                windows.append(100.0 * (cpu1 - cpu0) / (wall1 - wall0))
                cpu0, wall0 = cpu1, wall1
            stop.append(True)
            waker.wake()

        threading.Thread(target=sample, daemon=True).start()
        frames = loop(rig.station, kiosk, screen, None, stop, rig, waker=waker)
    finally:
        rig.close()
    return statistics.median(windows), max(windows), frames


#: The same idle wake-ups with nothing of Backstep: pygame with a window and the mixer open, looking
#: at SDL's queue at the kiosk's calm-screen rate. On a VM whose CPU accounting is tick-sampled this
#: is far from zero; the kiosk's idle number means something only next to it.
IDLE_FLOOR = """
import os, threading, time, pygame
pygame.display.init(); pygame.display.set_mode((800, 480)); pygame.mixer.init()
from app.kiosk.mainloop import CALM_POLL_S
wake = threading.Event(); time.sleep(1.0)
cpu0, wall0 = time.process_time(), time.perf_counter()
while time.perf_counter() - wall0 < float(os.environ["SECONDS"]):
    pygame.event.get(); wake.wait(CALM_POLL_S)
print(100.0 * (time.process_time() - cpu0) / (time.perf_counter() - wall0))
"""


def bench_idle_floor(seconds: float) -> float:
    env = {**os.environ, "SECONDS": str(seconds), "SDL_VIDEODRIVER": os.environ.get("SDL_VIDEODRIVER", "dummy"),
           "SDL_AUDIODRIVER": os.environ.get("SDL_AUDIODRIVER", "dummy")}
    out = subprocess.run([sys.executable, "-c", IDLE_FLOOR], env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


#: ``backstep run --sim`` through the CLI, reporting its *first* flip (the start-up splash) as READY=1.
FIRST_FRAME = """
import os, socket, sys, pygame
flip = pygame.display.flip
def first_flip():
    flip()
    if not getattr(first_flip, "sent", False):
        first_flip.sent = True
        socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
pygame.display.flip = first_flip
from app.cli import main
sys.exit(main(["run", "--sim", "--windowed", "--size", "1280x800"]))
"""

DIRECT = """
import argparse
from app.commands.run import run_command
run_command(argparse.Namespace(config=None, sim=True, windowed=True, program=None, sim_control=None,
                               size="1280x800", db=None))
"""


def bench_start(runs: int) -> tuple[float, float, float, float]:
    """Median seconds: bare pygame window to READY=1; ``backstep run --sim`` to its first frame (the
    splash) and to READY=1 (home screen drawn, sensors up); the same READY without the CLI layer."""
    import shutil
    import socket
    import tempfile

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_ready import BARE, start_until_ready, stop

    def time_to_ready(argv: list[str], env: dict, sock: socket.socket) -> float:
        seconds, proc = start_until_ready(argv, env, str(ROOT), sock)
        stop(proc, sock)
        return seconds

    workdir = tempfile.mkdtemp(prefix="bs-ui-")
    name = os.path.join(workdir, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(name)
    config = os.path.join(workdir, "config.toml")
    Path(config).write_text("[kiosk]\nsound = false\nspeech = false\n")
    env = dict(os.environ, SDL_AUDIODRIVER="dummy", NOTIFY_SOCKET=name, BACKSTEP_CONFIG=config,
               BACKSTEP_DB=os.path.join(workdir, "db.sqlite"))
    env.pop("WATCHDOG_USEC", None)
    kiosk_argv = [sys.executable, "-m", "app", "run", "--sim", "--windowed", "--size", "1280x800"]
    # The same kiosk started without app.cli, which imports every command module to build --help.
    direct_argv = [sys.executable, "-c", DIRECT]
    first_argv = [sys.executable, "-c", FIRST_FRAME]
    bare_argv = [sys.executable, "-c", BARE]
    bare, kiosk, direct, first = [], [], [], []
    try:
        for argv in (bare_argv, kiosk_argv, direct_argv, first_argv):
            time_to_ready(argv, env, sock)
        for _ in range(runs):
            bare.append(time_to_ready(bare_argv, env, sock))
            first.append(time_to_ready(first_argv, env, sock))
            kiosk.append(time_to_ready(kiosk_argv, env, sock))
            direct.append(time_to_ready(direct_argv, env, sock))
    finally:
        sock.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return tuple(statistics.median(x) for x in (bare, first, kiosk, direct))


def verdict(value: float, goal: float, inclusive: bool = False) -> str:
    within = value <= goal if inclusive else value < goal
    return "within" if within else "OVER"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=400, help="frames per screen and size")
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3, help="start-up runs of each program")
    parser.add_argument("--no-start", action="store_true", help="skip the start-up measurement (slow)")
    args = parser.parse_args()

    pygame.display.init()
    pygame.font.init()
    programs = load_library(Config(), include_user_dir=False).programs
    print(f"SDL video driver: {os.environ['SDL_VIDEODRIVER']}; pygame {pygame.version.ver}; "
          f"Python {sys.version.split()[0]}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
          "(other work on the machine inflates the times)")
    for size in SIZES:
        worst, worst_cpu, worst_full, worst_full_cpu = (0.0, ""), (0.0, ""), (0.0, ""), (0.0, "")
        for name, p50, wall99, cpu99, full99, full_cpu99 in bench_render(size, args.frames, programs):
            worst, worst_cpu = max(worst, (wall99, name)), max(worst_cpu, (cpu99, name))
            worst_full, worst_full_cpu = max(worst_full, (full99, name)), max(worst_full_cpu, (full_cpu99, name))
            print(f"  render {size[0]}x{size[1]} {name:15s} p50 {p50:5.2f} ms  p99 {wall99:5.2f} ms wall, "
                  f"{cpu99:5.2f} ms CPU; a full repaint p99 {full99:5.2f} ms wall, {full_cpu99:5.2f} ms CPU")
        print(f"frame render {size[0]}x{size[1]}, worst screen: p99 {worst[0]:.2f} ms wall ({worst[1]}), "
              f"{worst_cpu[0]:.2f} ms CPU ({worst_cpu[1]}) (goal < {FRAME_BUDGET_MS:.0f} ms: wall "
              f"{verdict(worst[0], FRAME_BUDGET_MS)}, CPU {verdict(worst_cpu[0], FRAME_BUDGET_MS)}); a full repaint "
              f"(a screen change): p99 {worst_full[0]:.2f} ms wall ({worst_full[1]}), {worst_full_cpu[0]:.2f} ms CPU "
              f"({worst_full_cpu[1]}) (wall {verdict(worst_full[0], FRAME_BUDGET_MS)}, "
              f"CPU {verdict(worst_full_cpu[0], FRAME_BUDGET_MS)})")

    for size in SIZES:
        cold, warm = bench_first_estop(size, programs)
        print(f"first e-stop frame {size[0]}x{size[1]}: median {statistics.median(cold):.2f} ms with cold caches; "
              f"after the start-up prewarm median {statistics.median(warm):.2f} ms, worst {max(warm):.2f} ms "
              f"(n={len(warm)}; goal < {FRAME_BUDGET_MS:.0f} ms: median {verdict(statistics.median(warm), FRAME_BUDGET_MS)}, "
              f"worst {verdict(max(warm), FRAME_BUDGET_MS)})")

    for size in SIZES:
        times = bench_first_home(size, max(3, args.runs))
        print(f"first home frame {size[0]}x{size[1]} (a fresh process, as run draws it before READY=1): median "
              f"{statistics.median(times):.1f} ms, min {min(times):.1f} ms (n={len(times)}); no goal of its own: "
              f"it counts against start to READY=1")

    cpu, worst_cpu, frames = bench_idle(args.idle_seconds, programs)
    floor = bench_idle_floor(min(args.idle_seconds, 10.0))
    print(f"idle CPU on the home screen: median {cpu:.2f} %, worst {worst_cpu:.2f} % of one core "
          f"(2-s windows over {args.idle_seconds:.0f} s, {frames} frames drawn; goal < {IDLE_BUDGET_PCT:.0f} %: "
          f"{verdict(cpu, IDLE_BUDGET_PCT)}); reference, same run: a bare pygame window with the mixer, "
          f"waking as often: {floor:.2f} %")

    rss, peak = bench_session_rss()
    print(f"resident memory after a session walk and an e-stop at 1920x1080: {rss:.1f} MB now, {peak:.1f} MB peak "
          f"(goal < {RSS_BUDGET_MB:.0f} MB: {verdict(peak, RSS_BUDGET_MB)})")
    rss, peak = rss_mb()
    print(f"  this process after all of the above: {rss:.1f} MB now, {peak:.1f} MB peak")

    started = None if args.no_start else bench_start(args.runs)
    if args.no_start:
        print("start to first frame: skipped (--no-start)")
    else:
        bare, first, kiosk, direct = started
        ratio = first / bare
        print(f"start to first frame: backstep run --sim {first * 1000:.0f} ms (the splash), ratio {ratio:.2f}x "
              f"(goal <= {START_BUDGET_RATIO}x: {verdict(ratio, START_BUDGET_RATIO, inclusive=True)}); "
              f"reference, same run: a bare pygame window {bare * 1000:.0f} ms")
        print(f"start to READY=1 (home screen drawn, sensors attached): {kiosk * 1000:.0f} ms, "
              f"{kiosk / bare:.2f}x (goal <= {START_BUDGET_RATIO}x: "
              f"{verdict(kiosk / bare, START_BUDGET_RATIO, inclusive=True)}); without app.cli importing every "
              f"command module: {direct * 1000:.0f} ms, {direct / bare:.2f}x")
    pygame.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
