"""Cost of the pure safety core per event (docs/architecture.md, Budgets).

Drives :func:`app.core.safety.step` with a long, seeded random sequence of events with
non-decreasing times (sensor edges, taps, link loss, treadmill reports, Ticks, and occasional big
time gaps that cross several deadlines in one step) over the built-in program library, the way the
main loop does: one ``step`` per event, then ``next_deadline`` for the next Tick. Prints the cost
per event (mean, median, p99, worst) overall and for the common kinds, and the cost of
``build_view`` (done once per drawn frame) for comparison. Nothing is asserted.

    .venv/bin/python benchmarks/bench_core.py [--events 200000] [--seed 1]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.core import events as ev  # noqa: E402
from app.core.member import Member  # noqa: E402
from app.core.program import parse_program_text  # noqa: E402
from app.core.safety import Link, Mode, SafetyConfig, initial_state, next_deadline, step  # noqa: E402
from app.core.view import build_view  # noqa: E402
from app.paths import assets_dir  # noqa: E402


def library():
    programs = []
    for path in sorted((assets_dir() / "programs").glob("*.toml")):
        program, _ = parse_program_text(path.read_text(encoding="utf-8"), str(path))
        if program is not None:
            programs.append(program)
    if not programs:
        sys.exit("bench_core: no built-in programs found under assets/programs")
    return programs


def sequence(rng: random.Random, programs, count: int):
    """Seeded events with times, as sessions: each one is started properly, then gets 150 random
    events weighted like a busy station (mostly ticks, sensor edges and treadmill reports)."""
    members = [None, Member(1, "Ann"), Member(2, "Bo", units="kmh", hands_free_allowed=True)]
    simple = [
        (ev.Tick(), 40), (ev.RailsReleased(), 6), (ev.RailsHeld(), 9), (ev.LanyardPulled(), 0.3),
        (ev.LanyardClipped(), 1), (ev.PauseTapped(), 1), (ev.ResumeTapped(), 3), (ev.StopTapped(), 0.3),
        (ev.LinkLost(), 0.3), (ev.LinkRestored(), 1), (ev.PainTapped(score=6), 0.1),
    ]
    kinds, weights = zip(*simple)
    now = 0.0
    out = []
    while len(out) < count:
        # Clear whatever the last session left (e-stop, cooldown, summary), then start a new one.
        chosen = ev.ProgramChosen(rng.choice(programs), rng.choice(members))
        story = [ev.LanyardClipped(), ev.ConfirmTapped(), ev.StopTapped(), ev.HomeTapped(), ev.RailsHeld(),
                 ev.LinkRestored(), chosen, ev.StartTapped()]
        for event in story:
            out.append((now, event))
        now += 30.0  # past any cooldown and the start countdown
        for _ in range(150):
            if rng.random() < 0.2:
                event = ev.TreadmillReported(speed_kmh=rng.uniform(0, 5), incline_pct=rng.uniform(0, 8),
                                             distance_m=now)
            else:
                event = rng.choices(kinds, weights)[0]
            gap = rng.random()
            now += 0.0 if gap < 0.1 else rng.uniform(0, 2) if gap < 0.995 else rng.uniform(0, 900)
            out.append((now, event))
    return out[:count]


def percentiles(samples_us):
    samples_us.sort()
    return (statistics.fmean(samples_us), statistics.median(samples_us),
            samples_us[int(len(samples_us) * 0.99)], samples_us[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    cfg = SafetyConfig()
    programs = library()
    rng = random.Random(args.seed)
    timed = sequence(rng, programs, args.events)

    state = initial_state(link=Link.UP)
    per_kind: dict[str, list[float]] = defaultdict(list)
    modes: dict[Mode, int] = defaultdict(int)
    effects_total = 0
    clock = time.perf_counter_ns
    started = clock()
    for now, event in timed:
        t0 = clock()
        state, effects = step(state, event, now, cfg)
        next_deadline(state, cfg)
        per_kind[type(event).__name__].append((clock() - t0) / 1000)
        modes[state.mode] += 1
        effects_total += len(effects)
    wall = (clock() - started) / 1e9

    every = [x for xs in per_kind.values() for x in xs]
    mean, median, p99, worst = percentiles(every)
    print(f"core: step + next_deadline over {len(every)} random events "
          f"({len(programs)} built-in programs, seed {args.seed}):")
    print(f"  {len(every) / wall:,.0f} events/s; per event: mean {mean:.1f} us, median {median:.1f} us, "
          f"p99 {p99:.1f} us, worst {worst:.1f} us")
    print(f"  {effects_total} effects; final mode {state.mode.value}; time in modes: "
          + ", ".join(f"{m.value} {n * 100 / len(every):.0f}%" for m, n in sorted(modes.items(), key=lambda kv: -kv[1])))
    faults = modes.get(Mode.FAULT, 0)
    if faults:
        print(f"  WARNING: {faults} steps ended in FAULT (a core bug on valid input)")
    for name in ("Tick", "RailsReleased", "RailsHeld", "LanyardPulled", "TreadmillReported", "ProgramChosen"):
        if per_kind.get(name):
            mean, median, p99, worst = percentiles(per_kind[name])
            print(f"  {name:<18} n={len(per_kind[name]):>7}  median {median:6.1f} us  p99 {p99:6.1f} us  worst {worst:8.1f} us")

    # One view per frame: the kiosk builds it for every redraw, so compare it with a step.
    frames = []
    state = initial_state(link=Link.UP)
    for event in (ev.LanyardClipped(), ev.RailsHeld(), ev.ProgramChosen(programs[0]), ev.StartTapped()):
        state, _ = step(state, event, 0.0, cfg)
    state, _ = step(state, ev.Tick(), cfg.start_countdown_s, cfg)
    for i in range(20_000):
        t0 = clock()
        build_view(state, cfg.start_countdown_s + i * 0.001, cfg)
        frames.append((clock() - t0) / 1000)
    mean, median, p99, worst = percentiles(frames)
    print(f"view: build_view while running ({state.mode.value}): median {median:.1f} us, p99 {p99:.1f} us")


if __name__ == "__main__":
    main()
