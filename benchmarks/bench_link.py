"""TreadmillLink.stop(): from the call to the stop frame's bytes on the far end of a real pty.

The link polls a simulated treadmill in the background throughout (every 50 ms, tighter than in
service, so the stop often has to share the port with a poll). A reader thread on the pty master
stamps the moment the frame holding ``SetSpeed 0`` is complete, then lets the simulator answer it.

    .venv/bin/python benchmarks/bench_link.py [--runs 200]

Prints the latency of each part in milliseconds: ``stop()`` returning in the caller's thread, and
the stop frame readable and decoded on the master side.
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from hardware.treadmill import protocol as p  # noqa: E402
from hardware.treadmill.link import TreadmillLink  # noqa: E402
from hardware.treadmill.simulator import TreadmillSimulator, open_pty_pair  # noqa: E402


class StampingTreadmill(threading.Thread):
    """The simulator's frame handling, with a time stamp for every stop frame as it arrives."""

    def __init__(self, master_fd: int):
        super().__init__(name="stamping-treadmill", daemon=True)
        self.fd = master_fd
        self.simulator = TreadmillSimulator(None)
        self.reader = p.FrameReader()
        self.stop_stamps: list[float] = []
        self.arrived = threading.Condition()
        self.running = True

    def run(self) -> None:
        while self.running:
            ready, _, _ = select.select([self.fd], [], [], 0.1)
            if not ready:
                continue
            data = os.read(self.fd, 1024)
            now = time.perf_counter()
            for frame in self.reader.feed(data):
                if isinstance(frame, p.ProtocolError):
                    continue
                commands = p.decode_commands(frame.contents)
                if any(c.id == p.Cmd.SET_SPEED and p.decode_speed(c.data) == 0.0 for c in commands):
                    with self.arrived:
                        self.stop_stamps.append(now)
                        self.arrived.notify_all()
                os.write(self.fd, p.encode_frame(self.simulator.handle(frame.contents)))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    master, slave, path = open_pty_pair()
    treadmill = StampingTreadmill(master)
    treadmill.start()
    link = TreadmillLink(path, max_speed_kmh=8, max_incline_pct=10, poll_interval_s=0.05).start()
    deadline = time.monotonic() + 3
    while not link.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    if not link.connected:
        print("the link did not connect to the simulated treadmill", file=sys.stderr)
        return 1

    returned_ms: list[float] = []
    on_wire_ms: list[float] = []
    for _ in range(args.runs):
        time.sleep(0.013)  # land at different moments relative to the background polls
        with treadmill.arrived:
            seen = len(treadmill.stop_stamps)
        started = time.perf_counter()
        link.stop()
        returned = time.perf_counter()
        with treadmill.arrived:
            treadmill.arrived.wait_for(lambda: len(treadmill.stop_stamps) > seen, timeout=1.0)
            stamp = treadmill.stop_stamps[seen] if len(treadmill.stop_stamps) > seen else None
        if stamp is None:
            print("a stop frame never arrived", file=sys.stderr)
            return 1
        returned_ms.append((returned - started) * 1000)
        on_wire_ms.append((stamp - started) * 1000)

    link.close()
    treadmill.running = False
    treadmill.join(timeout=1)
    os.close(master)
    os.close(slave)

    print(f"TreadmillLink.stop() latency over {args.runs} runs, link polling every 50 ms (milliseconds)")
    for name, values in (("stop() returns", returned_ms), ("stop frame on the pty master", on_wire_ms)):
        print(f"  {name:30s} median {statistics.median(values):6.3f}  p95 {percentile(values, 0.95):6.3f}  "
              f"worst {max(values):6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
