"""The demo's scripted walk through every screen of the kiosk, one PNG per screen (``backstep demo``).

The simulated station is the real one: gpiozero mock pins driven by :class:`hardware.sim.SimulatedStation`,
the real sensor adapters, the real :class:`app.shell.station.Station` and core. Time is a script clock,
so a 20-minute program takes no time; only the sensors' re-arm debounce runs in real time. The demo
plays the treadmill's part by posting what a link would report (speed, link lost/restored), so it
needs no serial port. Taps go through the kiosk's own touch handling, at the centre of the button.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..core.record import replace
from ..core.units import to_kmh
from ..errors import UserError
from ..shell.simulate import ScriptClock
from .rig import Rig

#: The staff PIN the demo chooses on the first-start screen and types for the staff pages.
DEMO_PIN = "2468"
#: Where the script clock starts (any time will do; not zero, so nothing reads as "never").
SCRIPT_START = 1000.0


class DemoExport:
    """An export controller whose state the script sets (the real one is app.shell.export)."""

    def __init__(self):
        from ..ui.data import ExportStatus

        self.current = ExportStatus()

    def status(self):
        return self.current

    def start(self):
        self.current = replace(self.current, state="exporting", progress=0.0)

    def dismiss(self):
        self.current = replace(self.current, state="detected", error="", detail="")


def demo_data(programs, now: float):
    """Three members; Alex has ten weeks of history and a suggestion waiting for the therapist."""
    from ..core.member import Member
    from ..ui.data import DoseData, HistoryData, HistorySession, HistoryWeek, StaticData, SuggestionData

    members = [Member(1, "Alex", "mph"), Member(2, "Sam", "kmh"), Member(3, "Jordan", "mph")]
    day = 24 * 3600
    # (days ago, program, minutes, status, top speed mph, pain before, after, hands-free share, releases)
    rows = [(66, "Beginner flat", 4, "completed", 0.5, 3, 3, 0.0, 0), (63, "Beginner flat", 4, "completed", 0.5, 3, 2, 0.0, 0),
            (59, "Beginner flat", 5, "stopped", 0.5, 2, 4, 0.0, 1), (52, "Beginner flat", 5, "completed", 0.6, 3, 3, 0.0, 0),
            (49, "Knee-extension rehab", 5, "completed", 0.6, 2, 2, 0.05, 0),
            (45, "Knee-extension rehab", 6, "completed", 0.7, 2, 2, 0.1, 0),
            (38, "Steady 10", 6, "completed", 0.8, 2, 1, 0.15, 0), (35, "Steady 10", 7, "completed", 0.8, 1, 1, 0.2, 0),
            (31, "Steady 10", 7, "emergency_stop", 0.9, 1, 3, 0.1, 2), (24, "Steady 10", 7, "completed", 0.9, 2, 2, 0.25, 0),
            (21, "Speed ladder", 8, "completed", 1.0, 2, 1, 0.3, 0), (17, "Speed ladder", 8, "completed", 1.0, 1, 1, 0.35, 0),
            (10, "Speed ladder", 9, "completed", 1.1, 1, 1, 0.4, 0), (8, "Speed ladder", 9, "completed", 1.1, 1, 2, 0.4, 1),
            (3, "Steady 10", 10, "completed", 1.2, 1, 1, 0.45, 0), (1, "Steady 10", 10, "completed", 1.2, 1, 1, 0.5, 0)]
    sessions = tuple(HistorySession(now - d * day, name, minutes * 60, status, top, before, after, share, releases)
                     for d, name, minutes, status, top, before, after, share, releases in rows)
    today = time.localtime(now)
    monday = now - today.tm_wday * day - (today.tm_hour * 3600 + today.tm_min * 60 + today.tm_sec)
    weeks = []
    for i in range(10, -1, -1):
        start = monday - i * 7 * day
        inside = [s for s in sessions if start <= s.started_at < start + 7 * day]
        weeks.append(HistoryWeek(start, len(inside), round(sum(s.active_seconds for s in inside) / 60, 1), 3))
    history = HistoryData("Alex", "mph", 3, sessions, tuple(weeks))
    suggestion = SuggestionData(
        action="raise", what="speed",
        reasons=(("progress_raise", {"thing": "speed", "old": "1.2 mph", "new": "1.3 mph"}, ""),),
        current=DoseData(1.2, 10, 0), next=DoseData(1.3, 10, 0), units="mph", max_speed=1.5, max_minutes=12,
        max_incline=2)
    return StaticData(list(programs), members, history, suggestions={1: suggestion}, codes={1: "A1", 2: "S7", 3: "J3"},
                      hands_free={1: True},
                      prescribed={1: next((p for p in programs if p.id == "steady-10"), None)} if programs else {})


class Demo:
    def __init__(self, config, size, out: Path, headless: bool):
        self.config = config
        self.size = size
        self.out = out
        self.headless = headless
        self.written: list[Path] = []

    def run(self) -> list[Path]:
        import pygame

        from ..core.safety import Link
        from ..paths import assets_dir
        from ..shell.library import load_library
        from ..ui.audio import Sounds
        from ..ui.kiosk import Kiosk
        from ..ui.theme import Fonts

        library = load_library(self.config, include_user_dir=False)
        if not library.programs:
            raise UserError("no built-in programs found; the demo needs assets/programs/*.toml")
        self.clock = ScriptClock()
        self.clock.t = SCRIPT_START
        self.rig = Rig(self.config, None, sim=True, clock=self.clock)
        self.station = self.rig.station
        # The script plays a treadmill that answers, so the link chip and the link-lost screen show.
        self.station.state = replace(self.station.state, link=Link.UP)
        pygame.display.init()
        pygame.font.init()
        try:
            self.screen = pygame.display.set_mode(self.size)
            self.export = DemoExport()
            assets = assets_dir()
            self.kiosk = Kiosk(self.size, self.station.post, data=demo_data(library.programs, time.time()),
                               export=self.export, fullscreen=False, fonts=Fonts(assets / "fonts"),
                               sounds=Sounds(assets / "sounds", enabled=not self.headless),
                               config_source=self.config.source,
                               # An installed station's first start: staff choose a PIN (kept in memory).
                               save_pin=lambda stored: None)
            self.station.add_listener(self.kiosk.on_effect)
            self.script(library)
        finally:
            self.rig.close()
            pygame.quit()
        return self.written

    # --- the script's verbs ------------------------------------------------------------------------
    def step(self, seconds: float = 0.0) -> None:
        """Let *seconds* of script time pass, in small steps so every timer fires at its time."""
        end = self.clock.t + seconds
        while True:
            self.clock.t = min(end, self.clock.t + 0.5)
            self.station.process()
            self.kiosk.update(self.station.view(), self.clock.t)
            if self.clock.t >= end:
                return

    def settle(self) -> None:
        """Wait (real time) for the sensors' re-arm debounce, then let the station take the events."""
        deadline = time.monotonic() + 2.0
        time.sleep(0.05)
        while self.rig.sensors.settling and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.05)
        self.step()

    def tap(self, name: str) -> None:
        import pygame

        target = self.kiosk.page().target(name)
        if target is None:
            raise RuntimeError(f"demo: no '{name}' on the {self.kiosk.scene().name} screen")
        pos = target.rect.center
        self._taps = getattr(self, "_taps", 0) + 1
        now = 1e6 + self._taps  # a second apart: never mistaken for a bounce
        self.kiosk.handle(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1, touch=False), now)
        self.kiosk.handle(pygame.event.Event(pygame.MOUSEBUTTONUP, pos=pos, button=1, touch=False), now + 0.1)
        self.step()

    def choose(self, program_id: str) -> None:
        """Tap a program's card, paging through the home screen as a person would."""
        for _ in range(20):
            if self.kiosk.page().target(f"program:{program_id}") is not None:
                self.tap(f"program:{program_id}")
                return
            self.tap("page_next")
        raise RuntimeError(f"demo: program {program_id} is not on the home screen")

    def shot(self, name: str) -> None:
        import pygame

        self.kiosk.update(self.station.view(), self.clock.t)
        self.kiosk.render(self.screen)
        pygame.display.flip()
        path = self.out / f"{len(self.written) + 1:02d}-{name}.png"
        pygame.image.save(self.screen, str(path))
        self.written.append(path)

    def post(self, event) -> None:
        self.station.post(event)
        self.step()

    # --- the script ----------------------------------------------------------------------------------
    def script(self, library) -> None:
        from ..core.events import LinkLost, LinkRestored, TreadmillReported
        from ..ui.data import ExportStatus

        sim, kiosk = self.rig.sim, self.kiosk
        self.settle()
        for digit in DEMO_PIN[:2]:
            self.tap(f"pin:{digit}")
        self.shot("set-pin")
        for typed in (DEMO_PIN[2:], DEMO_PIN):
            for digit in typed:
                self.tap(f"pin:{digit}")
            self.tap("pin_ok")
        self.shot("home")
        self.tap("member")
        self.shot("member-pick")
        self.tap("search")
        self.tap("code_page")
        self.tap("code:A")
        self.tap("code_page")
        self.tap("code_page")
        self.tap("code_page")
        self.tap("code:1")
        self.shot("member-search")
        self.tap("found:1")
        self.shot("home-member")
        self.tap("history")
        self.shot("history")
        for chart in ("minutes", "speed", "pain", "hands_free", "list"):
            self.tap(f"chart:{chart}")
            self.shot(f"history-{chart.replace('_', '-')}")
        self.tap("back")
        self.tap("staff")
        for digit in DEMO_PIN[:2]:
            self.tap(f"pin:{digit}")
        self.shot("staff-pin")
        for digit in DEMO_PIN[2:]:
            self.tap(f"pin:{digit}")
        self.tap("pin_ok")
        self.shot("staff")
        self.tap("members")
        self.shot("staff-members")
        self.tap("staff_add")
        self.tap("code_page")
        self.tap("code_page")
        self.tap("code:R")
        self.tap("code_page")
        self.tap("code_page")
        self.tap("code:4")
        self.shot("staff-add-member")
        self.tap("back")
        self.tap("staff_member:1")
        self.tap("rx:speed:+")
        self.shot("staff-member-suggestion")
        self.tap("back")
        self.tap("back")
        for page in ("sensors", "programs", "settings"):
            self.tap(page)
            self.shot(f"staff-{page}")
            self.tap("back")
        self.tap("export")
        self.shot("export-no-stick")
        self.export.current = ExportStatus(state="detected", stick="BACKSTEP 16GB")
        self.step()
        self.shot("export-stick-found")
        self.tap("export_start")
        self.export.current = replace(self.export.current, progress=0.42, sessions=5)
        self.step()
        self.shot("export-exporting")
        self.export.current = replace(self.export.current, state="done", progress=1.0, sessions=12)
        self.step()
        self.shot("export-done")
        self.export.current = ExportStatus(state="error", stick="BACKSTEP 16GB", error="full",
                                           detail="[Errno 28] No space left on device")
        self.step()
        self.shot("export-error")
        self.tap("export_ok")
        self.export.current = ExportStatus()
        self.tap("back")

        # Session 1: forward/backward intervals, with every interruption.
        program = next((p for p in library.programs if p.id == "forward-backward-intervals"), library.programs[0])
        self.choose(program.id)
        self.shot("preflight-locked")
        sim.clip_lanyard()
        sim.hold_rails()
        self.settle()
        self.tap("pain_before")
        self.shot("pain-before")
        self.tap("pain_before:2")
        self.shot("preflight-ready")
        self.tap("start")
        self.step(1.2)
        self.shot("countdown")
        self.step(2.0)
        self.post(TreadmillReported(speed_kmh=1.5, incline_pct=0.0, distance_m=3.0))
        self.step(20)
        self.shot("running")
        self.step(95)
        self.post(TreadmillReported(speed_kmh=1.6, incline_pct=0.0, distance_m=55.0))
        self.shot("running-10s-warning")
        self.step(6.5)
        self.shot("turnaround")
        self.step(5)
        self.shot("resuming")
        self.step(3)
        self.step(30)
        self.shot("running-backward")
        sim.release_rails()
        self.settle()
        self.shot("running-rails-grace")
        self.step(1.5)
        self.shot("hold-the-rails")
        sim.hold_rails()
        self.settle()
        self.step(0.7)
        self.shot("hold-the-rails-holding")
        self.step(2)
        self.step(3.5)
        self.tap("pause")
        self.shot("paused")
        self.tap("resume")
        self.step(3.5)
        self.step(10)
        self.post(LinkLost("no answer"))
        self.shot("link-lost")
        self.post(LinkRestored())
        self.tap("resume")
        self.step(3.5)
        self.step(5)
        sim.pull_lanyard()
        self.step()
        self.shot("estop")
        sim.clip_lanyard()
        self.settle()
        self.shot("estop-lanyard-clipped")
        self.tap("confirm")
        self.tap("done")
        if self.kiosk.scene().name == "next_time":  # a member's summary goes on to the suggestion
            self.tap("done")

        # Session 2: Alex again, beginner flat to the end, cool-down, pain score, summary, next time.
        self.tap("member")
        self.tap("member:1")
        program = next((p for p in library.programs if p.id == "beginner-flat"), library.programs[0])
        self.choose(program.id)
        self.tap("start")
        self.step(2.9)
        first = program.phases[0].speed_kmh
        self.post(TreadmillReported(speed_kmh=first * 0.97, incline_pct=0.0, distance_m=0.0))
        self.step(0.6)
        for i in range(int(program.total_seconds) + 1):
            if i % 10 == 0:
                view = self.station.view()
                speed = to_kmh(view.phase.speed, view.units) if view.phase else 0.0
                self.post(TreadmillReported(speed_kmh=speed * 0.97, incline_pct=0.0, distance_m=i * speed / 3.6))
            self.step(1)
            if kiosk.view.screen.value != "running":
                break
        self.post(TreadmillReported(speed_kmh=0.4, incline_pct=0.0, distance_m=program.total_seconds * 0.22))
        self.shot("cooldown")
        self.step(4)
        self.post(TreadmillReported(speed_kmh=0.0, incline_pct=0.0, distance_m=program.total_seconds * 0.22))
        self.tap("pain_after:3")
        self.shot("summary")
        self.tap("done")
        self.shot("next-time")
        self.tap("back")
        self.fault_shot()

    def fault_shot(self) -> None:
        """The core enters FAULT only on an internal error, which a script cannot cause on purpose;
        the screen is shown from the same state with the fault set (the station is not touched)."""
        from ..core.safety import Mode
        from ..core.view import build_view

        state = replace(self.station.state, mode=Mode.FAULT, fault="RuntimeError: timers did not settle")
        self.kiosk.update(build_view(state, self.clock.t, self.station.cfg), self.clock.t)
        self.kiosk.render(self.screen)
        path = self.out / f"{len(self.written) + 1:02d}-fault.png"
        import pygame

        pygame.image.save(self.screen, str(path))
        self.written.append(path)

