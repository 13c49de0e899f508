"""Spoken cues through the same sound output as the chimes.

A person walking backward faces away from the screen, so speech is the cue that reaches them in
either direction. espeak-ng renders each line to WAV bytes (``--stdout``): it never opens the sound
device itself, so only one program (this one, through pygame's mixer) ever holds it. Rendering runs
on a worker thread, never on the main loop's; rendered lines are cached (bounded in bytes) so the
lines said again and again cost nothing after the first time.

Lines wait in a short queue. A safety line (``urgent``: hold the rails, emergency stop, link lost)
drops the technique cues that wait (they are stale after safety news) and goes after the safety
lines that wait; :meth:`Speaker.stop` also cuts off what is being said, so the newest safety cue
wins (the kiosk calls it before each step's safety lines). Without espeak-ng or without an audio device the station runs silent and says so
once in the log (``backstep doctor`` says it too); it never stops working for it.
"""

from __future__ import annotations

import array
import io
import logging
import math
import re
import shutil
import subprocess
import sys
import threading
import time
from collections import OrderedDict, deque
from typing import Callable, Iterable

import pygame

from app.core.record import Record
from app.core.units import unit_label

from .audio import SPEECH_CHANNEL, Volume, chimes_playing, open_mixer
from .text import t

log = logging.getLogger(__name__)

#: Words per minute; espeak-ng's own default is 175. A little slower carries better over a belt.
RATE_WPM = 160
#: Technique cues that may wait; when full, the oldest goes (it is stale by then). Safety lines
#: may wait as many again; past that the oldest goes: the newest safety cue wins.
QUEUE_LIMIT = 4
#: Rendered audio kept, in bytes: about 45 s of 22 kHz 16-bit mono, every line a session says.
CACHE_BYTES = 2 * 1024 * 1024
#: A line waits for the chime or the line that is sounding to end (so each is heard whole), but
#: no longer than this, then cuts it off: the longest chime lasts 1.15 s, a cue line 2-4 s.
LINE_WAIT_S = 6.0
#: espeak-ng renders a short line in tens of milliseconds (a Pi 4: about ten times that); a render
#: this slow is stuck.
RENDER_TIMEOUT_S = 10.0
#: RMS (of full scale) below which rendered speech counts as silence: espeak-ng's lines measure
#: around 0.08.
SILENCE_RMS = 0.005


class SpeechError(Exception):
    """A line could not be rendered; the message says why, in words."""


def find_espeak() -> str | None:
    return shutil.which("espeak-ng") or shutil.which("espeak")


def spoken(words: str) -> str:
    """*words* as they should sound: unit labels said in full ("1.2 mph" is read "one point two
    miles per hour", not "em pee aitch")."""
    for units in ("mph", "kmh"):
        words = re.sub(rf"(?<!\w){re.escape(unit_label(units))}(?!\w)", t(f"spoken_{units}"), words)
    return words


def render_wav(words: str, program: str, rate: int = RATE_WPM, timeout: float = RENDER_TIMEOUT_S) -> bytes:
    """*words* spoken by espeak-ng *program*, as the bytes of a WAV file. The text goes in on
    stdin, so nothing in it can be taken for an option. Raises :class:`SpeechError`."""
    try:
        done = subprocess.run([program, "--stdin", "--stdout", "-b", "1", "-s", str(rate)],
                              input=words.encode("utf-8"), capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise SpeechError(f"{program} not found; install it: sudo apt install espeak-ng") from None
    except subprocess.TimeoutExpired:
        raise SpeechError(f"{program} took over {timeout:g} s to render {words!r}") from None
    except OSError as exc:
        raise SpeechError(f"{program} does not run ({exc})") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise SpeechError(f"{program} failed (exit {done.returncode}{': ' + detail[0] if detail else ''})")
    return wav_with_true_sizes(done.stdout)


def wav_with_true_sizes(data: bytes) -> bytes:
    """A WAV written to a pipe cannot go back to fill in its sizes: espeak-ng leaves 0x7ffff...
    there. The same WAV with the RIFF and data sizes of what actually arrived."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise SpeechError("the speech renderer gave no WAV audio")
    pos = 12
    block = 2
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if chunk == b"fmt " and pos + 22 <= len(data):
            block = max(1, int.from_bytes(data[pos + 20:pos + 22], "little"))
        if chunk == b"data":
            body = len(data) - pos - 8
            body -= body % block
            if body <= 0:
                raise SpeechError("the speech renderer gave no audio")
            out = bytearray(data[:pos + 8 + body])
            out[4:8] = (len(out) - 8).to_bytes(4, "little")
            out[pos + 4:pos + 8] = body.to_bytes(4, "little")
            return bytes(out)
        pos += 8 + size + (size & 1)
    raise SpeechError("the speech renderer gave no audio")


def measure(wav: bytes) -> tuple[float, float]:
    """Length in seconds and RMS level (0-1 of full scale) of 16-bit WAV bytes."""
    import wave  # only `backstep doctor` measures a line: not on the kiosk's way to READY=1

    with wave.open(io.BytesIO(wav)) as reader:
        if reader.getsampwidth() != 2:
            raise SpeechError(f"expected 16-bit audio, got {8 * reader.getsampwidth()}-bit")
        seconds = reader.getnframes() / reader.getframerate()
        samples = array.array("h", reader.readframes(reader.getnframes()))
    if sys.byteorder == "big":
        samples.byteswap()
    rms = math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768 if samples else 0.0
    return seconds, rms


def check_speech(program: str | None = None) -> str:
    """Render a safety line and check it is sound, not silence. Returns what was found, in words;
    raises :class:`SpeechError` with what to do when it does not work (``backstep doctor``)."""
    program = program or find_espeak()
    if not program:
        raise SpeechError("espeak-ng is not installed, so the station cannot speak its cues; "
                          "install it: sudo apt install espeak-ng")
    seconds, rms = measure(render_wav(t("hold_the_rails"), program))
    if rms < SILENCE_RMS:
        raise SpeechError(f"{program} renders silence (RMS {rms:.4f}); reinstall it: "
                          "sudo apt install --reinstall espeak-ng espeak-ng-data")
    return f"{program} speaks ({t('hold_the_rails')!r}: {seconds:.1f} s, RMS {rms:.2f})"


class PhraseCache:
    """Rendered lines, least recently used dropped first, at most *limit* bytes in all."""

    def __init__(self, limit: int = CACHE_BYTES):
        self.limit = limit
        self.size = 0
        self._items: OrderedDict[str, bytes] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def get(self, key: str) -> bytes | None:
        data = self._items.get(key)
        if data is not None:
            self._items.move_to_end(key)
        return data

    def put(self, key: str, data: bytes) -> None:
        if key in self._items:
            self.size -= len(self._items.pop(key))
        if len(data) > self.limit:
            return
        while self._items and self.size + len(data) > self.limit:
            self.size -= len(self._items.popitem(last=False)[1])
        self._items[key] = data
        self.size += len(data)


class _Line(Record):
    words: str
    urgent: bool
    generation: int


class Speaker:
    """Speaks lines through pygame's mixer, rendered by espeak-ng on a worker thread.

    :param enabled: speech on (the Settings page switches it).
    :param program: the espeak-ng to use (default: found on PATH).
    :param volume: the station's :class:`~app.ui.audio.Volume`, shared with the chimes.
    :param render: ``render(words, program) -> WAV bytes`` (default :func:`render_wav`).
    """

    def __init__(self, enabled: bool = True, program: str | None = None, volume: Volume | None = None, *,
                 render: Callable[[str, str], bytes] = render_wav, cache_bytes: int = CACHE_BYTES,
                 queue_limit: int = QUEUE_LIMIT):
        self.enabled = enabled
        self.program = program or find_espeak()
        self.volume = volume or Volume()
        self.queue_limit = queue_limit
        #: Lines handed to the mixer, newest last.
        self.history: deque[str] = deque(maxlen=32)
        self.silent_reason = ""
        self._render = render
        self._cache = PhraseCache(cache_bytes)
        self._pending: deque[_Line] = deque()
        self._warm: list[str] = []
        self._cond = threading.Condition()
        self._generation = 0
        self._working = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._mixer_open = False
        self._render_errors: set[str] = set()
        if enabled and not self.program:
            self._go_silent("espeak-ng not found; install it: sudo apt install espeak-ng")

    # --- the main thread's side -------------------------------------------------------------
    @property
    def available(self) -> bool:
        return bool(self.program) and not self.silent_reason

    def say(self, words: str, urgent: bool = False) -> None:
        """Queue *words*; returns at once. An *urgent* (safety) line drops the technique cues
        that wait and is never dropped for one; to make it cut off what is being said too, call
        :meth:`stop` first."""
        if not (self.enabled and words and self._ready()):
            return
        with self._cond:
            line = _Line(words, urgent, self._generation)
            if urgent:
                safety = [waiting for waiting in self._pending if waiting.urgent]
                room = self.queue_limit - 1  # and this line
                self._pending = deque(safety[len(safety) - room:] if len(safety) > room else safety)
                self._pending.append(line)
            else:
                cues = [waiting for waiting in self._pending if not waiting.urgent]
                if len(cues) >= self.queue_limit:
                    self._pending.remove(cues[0])
                self._pending.append(line)
            self._cond.notify_all()

    def open(self) -> bool:
        """Open the mixer and start the speech thread now, so no line said later waits for either
        (the kiosk does it before READY=1). Whether speech is on and can work."""
        return self.enabled and self._ready()

    def warm(self, lines: Iterable[str]) -> None:
        """Render *lines* ahead, when nothing else is to be said, so the first emergency stop is
        spoken without waiting for espeak-ng."""
        if not self.open():
            return
        with self._cond:
            self._warm.extend(words for words in lines if words)
            self._cond.notify_all()

    def stop(self) -> None:
        """Cut off what is being said and drop what waits: news that makes them stale (a safety
        line to say next, speech switched off)."""
        with self._cond:
            self._generation += 1
            self._pending.clear()
            self._cond.notify_all()
        if self._mixer_open:
            try:
                pygame.mixer.Channel(SPEECH_CHANNEL).stop()
            except pygame.error:
                pass

    def wait_idle(self, timeout: float) -> bool:
        """Wait until every queued line has been said to the end (or *timeout* seconds pass).
        Returns whether it was."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._pending or self._working or self._speaking():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.02))
        return True

    def close(self) -> None:
        """Stop the worker (it is a daemon thread, so a process that exits need not call this)."""
        self.stop()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=RENDER_TIMEOUT_S)

    def _ready(self) -> bool:
        """Mixer open and worker running (on the first line: a station with speech off never
        starts either)."""
        if not self.program:
            self._go_silent("espeak-ng not found; install it: sudo apt install espeak-ng")
        if self.silent_reason:
            return False
        if not self._mixer_open:
            problem = open_mixer()
            if problem:
                self._go_silent(f"no audio device ({problem})")
                return False
            self._mixer_open = True
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="speech", daemon=True)
            self._thread.start()
        return True

    def _go_silent(self, why: str) -> None:
        if not self.silent_reason:
            log.warning("spoken cues are off: %s (the words still show on screen)", why)
        self.silent_reason = why

    def _speaking(self) -> bool:
        try:
            return self._mixer_open and pygame.mixer.get_init() is not None and \
                pygame.mixer.Channel(SPEECH_CHANNEL).get_busy()
        except pygame.error:
            return False

    # --- the worker thread --------------------------------------------------------------------
    def _work(self) -> None:
        while True:
            with self._cond:
                while not (self._pending or self._warm or self._closed):
                    self._cond.wait()
                if self._closed:
                    return
                line = self._pending.popleft() if self._pending else None
                words = line.words if line else self._warm.pop(0)
                self._working = True
            try:
                wav = self._rendered(words)
                if line is not None and wav is not None:
                    self._play(line, wav)
            except Exception:  # noqa: BLE001 - a broken line must not end speech for the session
                log.exception("speaking %r failed", words)
            finally:
                with self._cond:
                    self._working = False
                    self._cond.notify_all()

    def _rendered(self, words: str) -> bytes | None:
        text = spoken(words)
        wav = self._cache.get(text)
        if wav is not None:
            return wav
        try:
            wav = self._render(text, self.program)
        except SpeechError as exc:
            if self.program and not shutil.which(self.program):
                self._go_silent(str(exc))
            elif str(exc) not in self._render_errors:  # each distinct failure logged once
                self._render_errors.add(str(exc))
                log.warning("cannot speak %r: %s", words, exc)
            return None
        self._cache.put(text, wav)
        return wav

    def _play(self, line: _Line, wav: bytes) -> None:
        sound = pygame.mixer.Sound(file=io.BytesIO(wav))
        sound.set_volume(self.volume.gain)
        channel = pygame.mixer.Channel(SPEECH_CHANNEL)
        # After the chime that is sounding (the step's own chime comes first) and the line before;
        # bounded, and a stop (newer safety news, speech off) ends the wait and drops the line.
        deadline = time.monotonic() + LINE_WAIT_S
        with self._cond:
            while (line.generation == self._generation and not self._closed and time.monotonic() < deadline
                   and (chimes_playing() or channel.get_busy())):
                self._cond.wait(0.02)
            if line.generation != self._generation or self._closed:
                return
            channel.play(sound)
            self.history.append(line.words)
        log.debug("said %r", line.words)
