"""Touch and mouse in, one tap per press out.

SDL reports a finger twice: as FINGERDOWN/FINGERUP and again as a synthetic mouse click (marked
``event.touch``; some kmsdrm/evdev set-ups do not mark it, hence also the quiet time below). A tap
acts on *release*, once, and only when the finger lifts inside the target it went down on, so a
long press never repeats and sliding off a button cancels it. A second tap on the same target
within :data:`DEBOUNCE_S` is dropped: a sweaty finger bouncing on the glass is not two taps.
"""

from __future__ import annotations

import pygame

from app.core.record import Record

#: Shorter than a deliberate double tap on a keypad (~0.25-0.3 s apart), longer than a bounce.
DEBOUNCE_S = 0.18
#: Mouse events this soon after a finger event are the finger's echo, marked or not.
TOUCH_ECHO_S = 0.6


class Press(Record):
    pos: tuple[int, int]


class Release(Record):
    pos: tuple[int, int]


class Pointer:
    """Turns pygame events into :class:`Press` / :class:`Release`, deduplicated."""

    def __init__(self, size: tuple[int, int]):
        self.size = size
        self._finger: int | None = None    # the one finger we follow; others are ignored
        self._mouse_down = False
        self._last_touch = -1e9

    def resize(self, size: tuple[int, int]) -> None:
        self.size = size

    def feed(self, event, now: float):
        """The :class:`Press`/:class:`Release` in *event*, or None."""
        kind = event.type
        if kind == pygame.FINGERDOWN:
            self._last_touch = now
            if self._finger is not None:
                return None
            self._finger = event.finger_id
            return Press(self._to_px(event))
        if kind == pygame.FINGERUP:
            self._last_touch = now
            if event.finger_id != self._finger:
                return None
            self._finger = None
            return Release(self._to_px(event))
        if kind == pygame.FINGERMOTION:
            self._last_touch = now
            return None
        if kind in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP):
            if getattr(event, "touch", False) or now - self._last_touch < TOUCH_ECHO_S or self._finger is not None:
                return None
            if getattr(event, "button", 1) != 1:
                return None
            if kind == pygame.MOUSEBUTTONDOWN:
                self._mouse_down = True
                return Press(tuple(event.pos))
            if not self._mouse_down:
                return None
            self._mouse_down = False
            return Release(tuple(event.pos))
        return None

    def _to_px(self, event) -> tuple[int, int]:
        w, h = self.size
        return (min(w - 1, max(0, int(event.x * w))), min(h - 1, max(0, int(event.y * h))))


class Taps:
    """Pairs presses with releases over named targets: a tap fires on release inside the pressed
    target, at most once per press, and not again on that target within DEBOUNCE_S."""

    def __init__(self, debounce_s: float = DEBOUNCE_S):
        self.debounce_s = debounce_s
        self.pressed: str | None = None     # the target under the finger, for the pressed look
        self._last: tuple[str, float] | None = None

    def press(self, name: str | None) -> None:
        self.pressed = name

    def release(self, name: str | None, now: float) -> str | None:
        pressed, self.pressed = self.pressed, None
        if name is None or name != pressed:
            return None
        if self._last and self._last[0] == name and now - self._last[1] < self.debounce_s:
            return None
        self._last = (name, now)
        return name

    def cancel(self) -> None:
        self.pressed = None
