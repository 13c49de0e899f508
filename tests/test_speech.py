"""Speech that reaches a person walking backward: espeak-ng renders real audio, pygame's mixer
plays it on the chimes' output (proved with SDL's disk audio driver), safety lines win over
technique cues, the kiosk speaks every safety cue, staff set the volume, doctor checks it all."""

from __future__ import annotations

import array
import json
import math
import re
import shutil
import subprocess
import sys
import threading
import wave
from app.core.record import replace
from pathlib import Path

import pygame
import pytest
from test_ui_support import make_kiosk, program, tap

from app.config import Config, KioskSection, parse_config
from app.core.events import (
    LanyardClipped,
    LanyardPulled,
    LinkLost,
    PauseTapped,
    ProgramChosen,
    RailsHeld,
    RailsReleased,
    ResumeTapped,
    StartTapped,
)
from app.core.safety import Link
from app.core.view import Screen
from app.kiosk.doctor import audio_checks
from app.shell.doctor import OK, PROBLEM, SKIPPED
from app.shell.station import Station
from app.ui.audio import VOLUME_TOUCH_MIN, Sounds, Volume
from app.ui.intents import Intent, IntentKind, Overlay
from app.ui.speech import QUEUE_LIMIT, PhraseCache, Speaker, render_wav, spoken

ROOT = Path(__file__).resolve().parent.parent
ESPEAK = shutil.which("espeak-ng")
needs_espeak = pytest.mark.skipif(ESPEAK is None, reason="espeak-ng is not installed (./dev setup installs it)")
#: RMS of full scale above which audio is speech, not silence (espeak-ng's lines measure ~0.08).
SPEECH_RMS = 0.02


def samples_of(path: Path) -> tuple[float, array.array]:
    """Seconds and 16-bit samples of a WAV file, read with the standard library's wave module."""
    with wave.open(str(path)) as reader:
        assert reader.getsampwidth() == 2 and reader.getnchannels() == 1
        seconds = reader.getnframes() / reader.getframerate()
        data = array.array("h", reader.readframes(reader.getnframes()))
    if sys.byteorder == "big":
        data.byteswap()
    return seconds, data


def rms(samples) -> float:
    return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768 if len(samples) else 0.0


def tone_wav(seconds: float = 0.05) -> bytes:
    """A short 440 Hz tone as WAV bytes: audio for the queue tests that need no espeak-ng."""
    import io

    rate = 22050
    frames = array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(rate * seconds))))
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(rate)
        writer.writeframes(frames.tobytes())
    return out.getvalue()


# --- espeak-ng renders real audio ------------------------------------------------------------------


@needs_espeak
def test_a_spoken_cue_renders_to_a_wav_file_of_speech(tmp_path):
    path = tmp_path / "speed.wav"
    path.write_bytes(render_wav(spoken("Speed 1.2 mph"), ESPEAK))
    seconds, data = samples_of(path)
    # The header's sizes are the real ones (espeak-ng writing to a pipe leaves 0x7ffff... there).
    assert len(data) * 2 == path.stat().st_size - 44
    assert 0.5 < seconds < 5.0, seconds
    assert rms(data) > SPEECH_RMS
    if shutil.which("sox"):  # a second, independent reader of the same file
        stat = subprocess.run(["sox", str(path), "-n", "stat"], capture_output=True, text=True, check=True).stderr
        sox_seconds = float(re.search(r"Length \(seconds\):\s+([\d.]+)", stat).group(1))
        sox_rms = float(re.search(r"RMS\s+amplitude:\s+([\d.]+)", stat).group(1))
        assert sox_seconds == pytest.approx(seconds, abs=0.01)
        assert sox_rms == pytest.approx(rms(data), rel=0.05)


@needs_espeak
def test_longer_text_gives_longer_audio(tmp_path):
    short = tmp_path / "short.wav"
    long = tmp_path / "long.wav"
    short.write_bytes(render_wav("Hold the rails", ESPEAK))
    long.write_bytes(render_wav("Hold the rails. The belt has been stopped. Hold them again for two seconds, "
                                "then the program resumes after a countdown.", ESPEAK))
    short_s, short_data = samples_of(short)
    long_s, long_data = samples_of(long)
    assert 0.5 < short_s < 5.0
    assert long_s > 3 * short_s
    assert rms(long_data) > SPEECH_RMS


def test_unit_labels_are_said_in_full():
    assert spoken("Walk backward. Speed 1.2 mph") == "Walk backward. Speed 1.2 miles per hour"
    assert spoken("Set the treadmill to 2.0 km/h, incline 0 percent") == \
        "Set the treadmill to 2.0 kilometres per hour, incline 0 percent"
    assert spoken("mphx stays") == "mphx stays"


@needs_espeak
def test_text_that_looks_like_an_option_is_spoken_not_obeyed(tmp_path):
    path = tmp_path / "dash.wav"
    path.write_bytes(render_wav("--version", ESPEAK))
    assert rms(samples_of(path)[1]) > SPEECH_RMS


# --- the mixer plays it, on the chimes' output ----------------------------------------------------

SPEAK_TO_DISK = """
import json, sys
from app.ui.audio import Sounds, Volume
from app.ui.speech import Speaker
volume = Volume(int(sys.argv[2]))
sounds = Sounds(volume=volume)
speaker = Speaker(enabled=True, volume=volume)
if sys.argv[1]:
    speaker.say(sys.argv[1], urgent=True)
done = speaker.wait_idle(15)
print(json.dumps({"done": done, "said": list(speaker.history), "silent": speaker.silent_reason}))
"""


def speak_to_disk(tmp_path, words: str, volume: int) -> tuple[dict, float]:
    """Speak *words* in a fresh process whose sound output is SDL's disk driver; the answer and
    the loudest 50 ms of what reached the output file."""
    out = tmp_path / f"out-{volume}-{len(words)}.raw"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SDL_AUDIODRIVER": "disk",
           "SDL_DISKAUDIOFILE": str(out), "PYGAME_HIDE_SUPPORT_PROMPT": "1"}
    done = subprocess.run([sys.executable, "-c", SPEAK_TO_DISK, words, str(volume)], env=env, capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    data = array.array("h", out.read_bytes()[: len(out.read_bytes()) // 2 * 2])
    if sys.byteorder == "big":
        data.byteswap()
    window = 22050 // 20  # the mixer runs at 22.05 kHz mono
    loudest = max((rms(data[i:i + window]) for i in range(0, max(1, len(data) - window), window)), default=0.0)
    return json.loads(done.stdout.strip().splitlines()[-1]), loudest


@pytest.mark.slow
@needs_espeak
@pytest.mark.slow
def test_speech_reaches_the_mixer_output(tmp_path):
    quiet, silence = speak_to_disk(tmp_path, "", 100)
    said, loud = speak_to_disk(tmp_path, "Hold the rails", 100)
    softly, soft = speak_to_disk(tmp_path, "Hold the rails", 30)
    assert quiet["done"] and said["done"] and softly["done"]
    assert said["said"] == ["Hold the rails"] and not said["silent"]
    assert silence < 0.001
    assert loud > 0.05, "the spoken line did not reach the sound output"
    # The volume applies to speech: 30 % is about 0.3 of the level of 100 %.
    assert 0.2 * loud < soft < 0.45 * loud


# --- queue, pre-emption, cache ------------------------------------------------------------------


class GatedRender:
    """A render function that holds the first line until released (so lines pile up behind it)
    and counts what it rendered."""

    def __init__(self):
        self.gate = threading.Event()
        self.started = threading.Event()
        self.rendered: list[str] = []

    def __call__(self, words: str, program: str) -> bytes:
        self.rendered.append(words)
        self.started.set()
        self.gate.wait(10)
        return tone_wav()


def said_while_the_first_line_renders(first: str, *lines: tuple[str, bool] | str) -> list[str]:
    """Say *first* and hold it in rendering while *lines* are said (``"<stop>"`` calls stop);
    then let it go: every line handed to the mixer, in order."""
    render = GatedRender()
    speaker = Speaker(enabled=True, program=sys.executable, render=render)
    try:
        speaker.say(first)
        assert render.started.wait(5)
        for line in lines:
            if line == "<stop>":
                speaker.stop()
            else:
                speaker.say(*line)
        render.gate.set()
        assert speaker.wait_idle(10)
        return list(speaker.history)
    finally:
        speaker.close()


def test_a_safety_line_preempts_queued_technique_cues():
    assert said_while_the_first_line_renders(
        "Toe first, roll to the heel", ("Look ahead", False), ("Long steps", False),
        "<stop>",  # what the kiosk does before a step's safety news
        ("Hold the rails", True)) == ["Hold the rails"]


def test_safety_lines_drop_waiting_cues_and_keep_their_order():
    # Without a stop the line being rendered finishes; then the safety lines, in order.
    assert said_while_the_first_line_renders(
        "first", ("stale cue", False), ("Link lost", True), ("Emergency stop", True),
        ("Keep walking backward", False)) == ["first", "Link lost", "Emergency stop", "Keep walking backward"]


def test_waiting_safety_lines_are_bounded_too_and_the_newest_wins():
    alarms = [f"alarm {i}" for i in range(QUEUE_LIMIT + 3)]
    assert said_while_the_first_line_renders("first", *[(a, True) for a in alarms], ("cue", False)) == \
        ["first", *alarms[-QUEUE_LIMIT:], "cue"]


def test_waiting_technique_cues_are_bounded():
    cues = [f"cue {i}" for i in range(QUEUE_LIMIT + 3)]
    assert said_while_the_first_line_renders("first", *[(c, False) for c in cues]) == \
        ["first", *cues[-QUEUE_LIMIT:]]  # the newest cues, in order


def test_a_line_said_again_is_not_rendered_again():
    render = GatedRender()
    render.gate.set()
    speaker = Speaker(enabled=True, program=sys.executable, render=render)
    try:
        for _ in range(3):
            speaker.say("Hold the rails", urgent=True)
            assert speaker.wait_idle(10)
        assert render.rendered == ["Hold the rails"]
        assert list(speaker.history) == ["Hold the rails"] * 3
    finally:
        speaker.close()


def test_the_phrase_cache_is_bounded_in_bytes():
    cache = PhraseCache(limit=1000)
    for i in range(10):
        cache.put(f"line {i}", bytes(300))
        assert cache.size <= 1000
    assert len(cache) == 3 and "line 9" in cache and "line 0" not in cache
    cache.get("line 7")  # used: kept over older ones
    cache.put("line 10", bytes(300))
    assert "line 7" in cache and "line 8" not in cache
    cache.put("too big", bytes(2000))
    assert "too big" not in cache and cache.size <= 1000


def test_without_espeak_the_station_is_silent_and_says_so_once(monkeypatch, caplog):
    monkeypatch.setenv("PATH", "/nonexistent")
    speaker = Speaker(enabled=True)
    for _ in range(3):
        speaker.say("Hold the rails", urgent=True)
    assert not speaker.available
    assert [r.getMessage() for r in caplog.records].count(
        "spoken cues are off: espeak-ng not found; install it: sudo apt install espeak-ng "
        "(the words still show on screen)") == 1


def test_without_an_audio_device_speech_is_silent_and_says_so_once(monkeypatch, caplog):
    def no_device(*args, **kwargs):
        raise pygame.error("No available audio device")

    monkeypatch.setattr(pygame.mixer, "get_init", lambda: None)
    monkeypatch.setattr(pygame.mixer, "init", no_device)
    speaker = Speaker(enabled=True, program=sys.executable, render=lambda words, program: tone_wav())
    for _ in range(3):
        speaker.say("Emergency stop", urgent=True)
    assert not speaker.available and speaker._thread is None
    assert sum("No available audio device" in r.getMessage() for r in caplog.records) == 1


# --- what the kiosk says --------------------------------------------------------------------------


class Recorder(Speaker):
    """The real Speaker (queue, worker, mixer) that also notes each line and each stop."""

    def __init__(self):
        super().__init__(enabled=True, program=sys.executable, render=lambda words, program: tone_wav(0.01))
        self.said: list[tuple[str, bool]] = []

    def say(self, words, urgent=False):
        self.said.append((words, urgent))
        super().say(words, urgent)

    def stop(self):
        self.said.append(("<stop>", True))
        super().stop()


class Walk:
    """The real core and station on a script clock, the kiosk listening, as the loop runs them."""

    def __init__(self, link: Link = Link.UP):
        self.t = 1000.0
        self.station = Station(Config(), None, clock=lambda: self.t, link=link)
        self.speaker = Recorder()
        self.kiosk, _ = make_kiosk(speaker=self.speaker)
        self.station.add_listener(self.kiosk.on_effect)
        self.step()

    def step(self) -> None:
        self.station.process(self.t)
        self.kiosk.update(self.station.view(self.t), self.t)

    def send(self, *events) -> list[str]:
        start = len(self.speaker.said)
        for event in events:
            self.station.post(event, at=self.t)
        self.step()
        return self.heard(start)

    def wait(self, seconds: float) -> list[str]:
        start = len(self.speaker.said)
        end = self.t + seconds
        while self.t < end - 1e-9:
            self.t = min(end, self.t + 0.1)
            self.step()
        return self.heard(start)

    def heard(self, start: int) -> list[str]:
        return [words for words, _ in self.speaker.said[start:]]

    @property
    def screen(self) -> Screen:
        return self.station.view(self.t).screen


def test_every_safety_cue_of_a_session_is_spoken():
    walk = Walk()
    try:
        walk.send(ProgramChosen(program()), LanyardClipped(), RailsHeld())
        assert walk.send(StartTapped()) == ["<stop>", "Starting in 3"]
        assert walk.wait(3.05) == ["<stop>", "2", "<stop>", "1", "<stop>", "Walk backward. Speed 0.5 mph",
                                   "Toe first, roll to the heel"]
        assert walk.send(RailsReleased()) == []  # the grace time first
        assert walk.wait(2) == ["<stop>", "Hold the rails"]
        walk.send(RailsHeld())
        assert walk.wait(2.5)[:2] == ["<stop>", "Resuming in 3"]
        assert walk.wait(3) == ["<stop>", "2", "<stop>", "1", "<stop>", "Walk backward. Speed 0.5 mph"]
        # Phase 2 walks forward: the turn is announced ahead, then at the turn; after the hold,
        # the direction and speed.
        heard = walk.wait(60)
        assert heard[:4] == ["<stop>", "In 10 seconds, turn around to walk forward",
                             "<stop>", "Turn around: walk forward next"]
        assert walk.screen is Screen.TURNAROUND or walk.screen is Screen.RESUMING
        heard = walk.wait(10)
        assert "Walk forward. Speed 1.5 mph, incline 2 percent" in heard
        assert heard[-1] == "Look ahead"
        assert walk.send(PauseTapped()) == ["<stop>", "Paused"]
        assert walk.send(ResumeTapped()) == ["<stop>", "Resuming in 3"]
        walk.wait(3.05)
        assert walk.send(LinkLost())[-1] == "Treadmill link lost. The belt is stopping"
        assert walk.send(LanyardPulled()) == ["<stop>", "Emergency stop"]
        # Every safety line was urgent; only the technique cues were not.
        urgency = dict(walk.speaker.said)
        assert not urgency["Toe first, roll to the heel"] and not urgency["Look ahead"]
        assert all(urgency[w] for w in ("Hold the rails", "Emergency stop", "Paused", "Resuming in 3",
                                        "Walk backward. Speed 0.5 mph", "Turn around: walk forward next"))
    finally:
        walk.speaker.close()


def test_cue_mode_says_what_to_do_with_the_treadmill():
    walk = Walk(link=Link.NONE)
    try:
        walk.send(ProgramChosen(program()), LanyardClipped(), RailsHeld(), StartTapped())
        heard = walk.wait(3.05)
        assert heard[-2:] == ["Set the treadmill to 0.5 mph, incline 0 percent", "Toe first, roll to the heel"]
        walk.send(RailsReleased())
        heard = walk.wait(2)
        assert heard == ["<stop>", "Press stop on the treadmill now", "Hold the rails"], \
            "one step's safety lines are all said, in order, none cutting off the one before"
    finally:
        walk.speaker.close()


def test_speech_switched_off_says_nothing():
    walk = Walk()
    try:
        walk.speaker.enabled = False
        walk.send(ProgramChosen(program()), LanyardClipped(), RailsHeld(), StartTapped())
        walk.wait(3.05)
        assert walk.speaker.wait_idle(5)
        assert list(walk.speaker.history) == []
    finally:
        walk.speaker.close()


def test_a_station_fault_is_spoken_with_what_to_do():
    from test_ui_support import views

    from app.core.effects import PlaySound, RecordEvent, StopBelt
    from app.ui.announce import Announcer

    view = views()[Screen.RUNNING]
    from app.core.view import Link

    for link, what in ((Link.UP, "The belt has been stopped. Please call staff."),
                       (Link.NONE, "Press STOP on the treadmill. Please call staff.")):
        announcer = Announcer()
        for effect in (StopBelt("internal error"), PlaySound("estop"), RecordEvent("fault", 0.0, {"error": "x"})):
            announcer.hear(effect, replace(view, link=link))
        lines = announcer.lines(views()[Screen.FAULT])
        assert [(line.words, line.urgent) for line in lines] == [(f"Station fault. {what}", True)]


# --- volume ---------------------------------------------------------------------------------------


def open_settings(kiosk) -> None:
    from test_ui_support import views

    kiosk.update(views()[Screen.HOME], 0.0)
    kiosk.act(Intent(IntentKind.OPEN_PIN, Overlay.SETTINGS))
    for i, digit in enumerate("0000"):
        tap(kiosk, f"pin:{digit}", 1.0 + i)
    tap(kiosk, "pin_ok", 6.0)
    assert kiosk.scene().name == "settings"


def test_the_settings_page_sets_the_volume_of_sounds_and_speech_and_keeps_it(tmp_path):
    saved = tmp_path / "volume.json"
    volume = Volume(80, saved=saved)
    sounds = Sounds(volume=volume)
    speaker = Recorder()
    kiosk, _ = make_kiosk(sounds=sounds, speaker=speaker, volume=volume)
    try:
        open_settings(kiosk)
        tap(kiosk, "volume_down", 10.0)
        tap(kiosk, "volume_down", 11.0)
        assert volume.percent == kiosk.ui.volume == 60
        assert speaker.said[-1] == ("Volume 60 percent", True)  # heard at the new level
        kiosk.fonts.trace = []
        kiosk.render(pygame.Surface((800, 480)))
        assert "Volume 60 %" in kiosk.fonts.trace
        assert speaker.volume is sounds.volume is volume
        if sounds.available:
            sounds.play("phase")
            assert sounds._cues["phase"].get_volume() == pytest.approx(0.6, abs=0.01)
        # Kept across a restart; an administrator's new config value wins over it.
        assert Volume(80, saved=saved).percent == 60
        assert Volume(50, saved=saved).percent == 50
        for i in range(20):
            tap(kiosk, "volume_up", 20.0 + i)
            if not kiosk.page().target("volume_up").enabled:
                break
        assert volume.percent == 100
    finally:
        speaker.close()


def test_the_touchscreen_never_turns_the_volume_to_silence():
    volume = Volume(30)
    for _ in range(10):
        volume.step(-10)
    assert volume.percent == VOLUME_TOUCH_MIN > 0
    kiosk, _ = make_kiosk(volume=volume)
    open_settings(kiosk)
    assert not kiosk.page().target("volume_down").enabled


def test_a_broken_saved_volume_falls_back_to_the_config(tmp_path, caplog):
    saved = tmp_path / "volume.json"
    saved.write_text("{not json")
    assert Volume(70, saved=saved).percent == 70
    assert "cannot read the saved volume" in caplog.text


def test_the_config_takes_a_volume():
    assert KioskSection().volume == 80
    assert parse_config("[kiosk]\nvolume = 35\n").kiosk.volume == 35


# --- doctor, installer, dev ----------------------------------------------------------------------


@needs_espeak
def test_doctor_says_sound_and_speech_work():
    checks = {c.check: c for c in audio_checks(Config())}
    assert checks["sound"].status == OK and "opens" in checks["sound"].message
    assert checks["speech"].status == OK and "speaks" in checks["speech"].message


def test_doctor_says_what_to_do_without_espeak(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    checks = {c.check: c for c in audio_checks(Config())}
    assert checks["speech"].status == PROBLEM
    assert "sudo apt install espeak-ng" in checks["speech"].message


def test_doctor_says_what_to_do_without_a_sound_device(monkeypatch):
    def no_device(*args, **kwargs):
        raise pygame.error("ALSA: Couldn't open audio device: No such file or directory")

    monkeypatch.setattr(pygame.mixer, "get_init", lambda: None)
    monkeypatch.setattr(pygame.mixer, "init", no_device)
    checks = {c.check: c for c in audio_checks(Config())}
    assert checks["sound"].status == PROBLEM
    assert "plug in the speaker" in checks["sound"].message and "aplay -l" in checks["sound"].message


def test_doctor_skips_speech_that_is_switched_off():
    config = Config(kiosk=KioskSection(speech=False))
    assert {c.check: c.status for c in audio_checks(config)}["speech"] == SKIPPED


def bash_array(path: Path, name: str) -> list[str]:
    """The words of a bash array as bash itself reads them (comments and line breaks included):
    the lines from ``NAME=(`` on, up to the first point where bash finds the statement complete."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith(f"{name}=(")), None)
    assert start is not None, f"{path}: no {name}=(...)"
    for end in range(start + 1, len(lines) + 1):
        snippet = "\n".join(lines[start:end])
        if subprocess.run(["bash", "-n", "-c", snippet], capture_output=True).returncode == 0:
            done = subprocess.run(["bash", "-c", f'{snippet}\nprintf "%s\\n" "${{{name}[@]}}"'],
                                  capture_output=True, text=True, check=True)
            return done.stdout.split()
    raise AssertionError(f"{path}: {name}=( is never closed")


def test_the_installer_installs_espeak_ng():
    assert "espeak-ng" in bash_array(ROOT / "deploy" / "install.sh", "APT_PACKAGES")


def test_dev_setup_installs_what_the_speech_tests_use():
    packages = bash_array(ROOT / "dev", "APT_PACKAGES")
    assert "espeak-ng" in packages and "sox" in packages
