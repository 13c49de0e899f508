"""What ``backstep run`` has imported when it sends READY=1: only what the first frame and the safety
loop need. Modules used only later (PIN hashing, the progression rules, sqlite-utils) wait, so
READY comes sooner (docs/architecture.md, Budgets: READY within 1.5x a bare pygame window). And
the value types loaded by then are Records, not dataclasses, which cost about 0.4 ms each to make
(app/core/record.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Runs the simulated kiosk in a fresh interpreter and prints its sys.modules, and the app's classes
#: that dataclasses made, at the moment the loop sends READY=1 (the real Notifier.ready, wrapped),
#: then ends the process there.
AT_READY = """
import json, os, sys
from app.shell import systemd

def ready(self, status=None):
    made = sorted(f"{name}.{value.__qualname__}" for name, module in list(sys.modules.items())
                  if name.split(".")[0] in ("app", "hardware")
                  for value in vars(module).values()
                  if isinstance(value, type) and value.__module__ == name and "__dataclass_fields__" in vars(value))
    print(json.dumps({"modules": sorted(sys.modules), "dataclasses": made}), flush=True)
    os._exit(0)

systemd.Notifier.ready = ready
from app.cli import main
main(["run", "--sim", "--windowed", "--size", "640x480", "--db", sys.argv[1]])
"""


def at_ready(tmp_path: Path) -> dict:
    config = tmp_path / "config.toml"
    config.write_text("")
    env = dict(os.environ, SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy", BACKSTEP_CONFIG=str(config),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("NOTIFY_SOCKET", None)
    env.pop("JOURNAL_STREAM", None)  # stderr is not the journal: a desktop, the ready benchmark
    done = subprocess.run([sys.executable, "-c", AT_READY, str(tmp_path / "kiosk.db")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_ready_comes_before_the_modules_only_later_work_needs(tmp_path):
    at_ready(tmp_path)  # the first start makes the database (with sqlite-utils); time the next
    seen = at_ready(tmp_path)
    loaded = set(seen["modules"])
    assert "app.ui.kiosk" in loaded and "app.core.safety" in loaded  # the kiosk really got to READY
    later = {"hashlib", "hmac", "app.core.progression", "sqlite_utils"}
    assert not later & loaded, f"imported before READY=1: {sorted(later & loaded)}"
    # pygame itself imports dataclasses (pygame._data_classes), so the module is there; no class of ours is one.
    assert seen["dataclasses"] == [], f"dataclasses made before READY=1 (make them Records): {seen['dataclasses']}"
    # Never loaded where they are not used: the journal's handler with no journal to log to, the
    # WAV reader only doctor's speech check needs, the quoting of a "run it as" hint.
    unused = {"systemd.journal", "wave", "shlex"}
    assert not unused & loaded, f"imported though unused: {sorted(unused & loaded)}"


def test_a_real_station_does_not_load_the_simulation():
    """What the kiosk imports to run a real station leaves out the simulated one (and gpiozero's
    mock pins): they are loaded only for ``--sim``."""
    probe = "import json, sys, app.kiosk.app, app.kiosk.mainloop; print(json.dumps(sorted(sys.modules)))"
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "app.shell.devices" in loaded  # the sensors' adapters are there
    assert not {"hardware.sim", "gpiozero.pins.mock"} & loaded
