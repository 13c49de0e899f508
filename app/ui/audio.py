"""Sound cues, the mixer they share with speech, and the station's volume. All best effort: a
station with no audio device or no sound files works exactly the same, silently (logged once)."""

from __future__ import annotations

import contextlib

import json
import logging
import os
import tempfile
from pathlib import Path

import pygame

from ..paths import asset_path

log = logging.getLogger(__name__)

#: The cue names the core uses in PlaySound effects (app.core.effects.PlaySound).
CUES = ("start", "phase", "warning", "pause", "estop", "refused", "resume", "done")
#: Chimes that cut off whatever is playing: the e-stop sound must never queue behind a chime.
CUTTING_CUES = ("estop", "pause")

#: Speech has a mixer channel of its own (reserved, so a chime never takes it): a new line of speech
#: replaces the old one there, and the chimes play on the others at the same time.
SPEECH_CHANNEL = 0
#: 22.05 kHz mono 16-bit is what espeak-ng renders and what the chimes are, so nothing is resampled.
#: 2048 frames (93 ms): SDL's audio thread wakes ~11 times a second instead of ~43, which matters on
#: an idle kiosk; a cue 0.1 s late is still on time for a person.
MIXER_FORMAT = {"frequency": 22050, "size": -16, "channels": 1, "buffer": 2048}

#: Volume in percent of full scale, shared by the chimes and speech (config ``[kiosk] volume``).
VOLUME_DEFAULT = 80
VOLUME_STEP = 10
#: The lowest the touchscreen's "-" goes. Silence is the Sound and Speech switches' job, a choice
#: made on purpose, never the end of a run of taps: the person walking backward hears the cues,
#: they cannot see the screen.
VOLUME_TOUCH_MIN = 10


def default_sounds_dir() -> Path:
    """The bundled cue sounds (``assets/sounds``, installed as ``app/assets/sounds``; see app.paths)."""
    return asset_path("sounds")


def open_mixer() -> str | None:
    """Open pygame's mixer for the chimes and speech (once; later calls reuse it). Returns
    ``None`` when it is open, else why not, in words."""
    try:
        if not pygame.mixer.get_init():
            pygame.mixer.init(**MIXER_FORMAT)
        pygame.mixer.set_reserved(SPEECH_CHANNEL + 1)
    except pygame.error as exc:
        return str(exc) or "no audio device"
    return None


def check_output() -> str:
    """Open the mixer as the kiosk does and close it again: what opened, in words. Raises
    :class:`AudioError` saying what to do when it does not open (``backstep doctor``)."""
    was_open = bool(pygame.mixer.get_init())
    with _c_stderr_quiet():
        problem = open_mixer()
    if problem:
        busy = "busy" in problem.lower()
        hint = ("the station holds the sound device: stop it (sudo systemctl stop backstep) and run doctor again"
                if busy else "plug in the speaker (USB or the Pi's audio jack / HDMI), check `aplay -l`, "
                             "and that this user is in the audio group")
        raise AudioError(f"the sound output does not open ({problem}); {hint}")
    frequency, _, channels = pygame.mixer.get_init()
    found = f"sound output opens (SDL {pygame.mixer.get_driver()}, {frequency} Hz, {channels} channel(s))"
    if not was_open:
        pygame.mixer.quit()
    return found


@contextlib.contextmanager
def _c_stderr_quiet():
    """ALSA's C library writes a dozen lines to file descriptor 2 when there is no card; the
    doctor says the same in one line, so those lines are held back while it asks."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


class AudioError(Exception):
    """The sound output cannot be used; the message says what to do."""


def chimes_playing() -> bool:
    """Whether a chime (any channel but speech's) is sounding."""
    try:
        return any(pygame.mixer.Channel(i).get_busy() for i in range(pygame.mixer.get_num_channels())
                   if i != SPEECH_CHANNEL)
    except pygame.error:
        return False


class Volume:
    """The station's volume, in percent, applied to every chime and every spoken line.

    :param percent: the config's volume (``[kiosk] volume``, 0-100).
    :param saved: a small JSON file where a change made on the touchscreen is kept across restarts
        (``None``: not kept). A saved value wins until the config's own value changes: an
        administrator who edits the config gets what they wrote.
    """

    def __init__(self, percent: int = VOLUME_DEFAULT, saved: Path | None = None):
        self.configured = _clamp(percent, 0)
        self.saved = Path(saved) if saved is not None else None
        self.percent = self.configured
        if self.saved is not None:
            self._load()

    @property
    def gain(self) -> float:
        """The factor pygame's ``set_volume`` takes (0.0-1.0). Linear in amplitude: 10 % is still
        audible over a belt, where a perceptual curve would make it a whisper."""
        return self.percent / 100

    def step(self, delta: int) -> int:
        """Turn the volume up or down by *delta* percent (staying within the touchscreen's range)
        and keep it. Returns the new volume."""
        self.percent = _clamp(self.percent + delta, VOLUME_TOUCH_MIN)
        self._save()
        return self.percent

    def _load(self) -> None:
        try:
            data = json.loads(self.saved.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            log.warning("%s: cannot read the saved volume (%s); using the config's %d %%", self.saved, exc,
                        self.configured)
            return
        if not isinstance(data, dict) or data.get("config_volume") != self.configured:
            return  # the config changed since (or the file is not ours): the config's value wins
        volume = data.get("volume")
        if isinstance(volume, int) and not isinstance(volume, bool):
            self.percent = _clamp(volume, 0)

    def _save(self) -> None:
        if self.saved is None:
            return
        try:
            self.saved.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".volume-", dir=self.saved.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"volume": self.percent, "config_volume": self.configured}, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.saved)
        except OSError as exc:
            log.warning("%s: cannot keep the volume (%s); it applies until the station restarts", self.saved, exc)


def _clamp(percent, low: int) -> int:
    return max(low, min(100, int(percent)))


class Sounds:
    def __init__(self, sounds_dir: Path | None = None, enabled: bool = True, volume: Volume | None = None):
        self.enabled = enabled
        self.available = False
        self.volume = volume or Volume()
        self._cues: dict[str, pygame.mixer.Sound] = {}
        if not enabled:
            return
        problem = open_mixer()
        if problem:
            log.warning("no audio device (%s): the station runs without sound", problem)
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
            if name in CUTTING_CUES:
                pygame.mixer.stop()
            cue.set_volume(self.volume.gain)
            cue.play()
        except pygame.error as exc:  # device unplugged mid-run
            log.warning("sound %s failed (%s)", name, exc)
            self._cues.clear()
