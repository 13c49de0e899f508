"""Sound cues and optional speech. Both are best effort: a station with no audio device, no sound
files or no espeak-ng works exactly the same, silently (logged once)."""

from __future__ import annotations

import logging
import shutil
import subprocess
from pathlib import Path

import pygame

from ..paths import asset_path

log = logging.getLogger(__name__)

#: The cue names the core uses in PlaySound effects (app.core.effects.PlaySound).
CUES = ("start", "phase", "warning", "pause", "estop", "refused", "resume", "done")


def default_sounds_dir() -> Path:
    """The bundled cue sounds (``assets/sounds``, installed as ``app/assets/sounds``; see app.paths)."""
    return asset_path("sounds")


class Sounds:
    def __init__(self, sounds_dir: Path | None = None, enabled: bool = True):
        self.enabled = enabled
        self.available = False
        self._cues: dict[str, pygame.mixer.Sound] = {}
        if not enabled:
            return
        try:
            if not pygame.mixer.get_init():
                # 2048 frames (93 ms): SDL's audio thread wakes ~11 times a second instead of ~43,
                # which matters on an idle kiosk; a cue 0.1 s late is still on time for a person.
                pygame.mixer.init(frequency=22050, size=-16, channels=1, buffer=2048)
        except pygame.error as exc:
            log.warning("no audio device (%s): the station runs without sound", exc)
            return
        folder = Path(sounds_dir) if sounds_dir else default_sounds_dir()
        for name in CUES:
            path = folder / f"{name}.wav"
            try:
                self._cues[name] = pygame.mixer.Sound(str(path))
            except (pygame.error, FileNotFoundError) as exc:
                log.warning("sound %s not loaded (%s)", path, exc)
        self.available = bool(self._cues)

    def play(self, name: str) -> None:
        cue = self._cues.get(name) if self.enabled else None
        if cue is None:
            return
        try:
            # Safety cues cut off whatever is playing: the e-stop sound must never queue behind a chime.
            if name in ("estop", "pause"):
                pygame.mixer.stop()
            cue.play()
        except pygame.error as exc:  # device unplugged mid-run
            log.warning("sound %s failed (%s)", name, exc)
            self._cues.clear()


class Speaker:
    """Speaks short lines through espeak-ng, if installed. Never blocks the loop: each line is its
    own process, a new line cuts off the previous one."""

    def __init__(self, enabled: bool = True, program: str | None = None):
        self.enabled = enabled
        self.program = program or shutil.which("espeak-ng") or shutil.which("espeak")
        self._current: subprocess.Popen | None = None
        if enabled and not self.program:
            log.info("espeak-ng not found: spoken cues are off (the words still show on screen)")

    def say(self, words: str) -> None:
        if not (self.enabled and self.program and words):
            return
        self.stop()
        try:
            self._current = subprocess.Popen([self.program, "-s", "150", words], stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except OSError as exc:
            log.warning("speech failed (%s): turning it off", exc)
            self.program = None

    def stop(self) -> None:
        if self._current is not None and self._current.poll() is None:
            self._current.terminate()
        self._current = None
