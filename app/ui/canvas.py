"""A frame as a list of drawing operations, so the kiosk repaints only what changed.

Scenes paint on a :class:`Canvas`, which records every blit, fill and shape with the rect it can
touch instead of painting it. :class:`Painter` compares the new list with the last frame's: a pixel
that no changed operation can touch is already right on the screen, so only the rects around
changed operations are repainted, each by replaying the whole new list clipped to it. Every frame
starts with an opaque fill of the whole screen, so a replay never depends on what was there.

Why that is exact: the diff pairs the old and new ops in order, and every op not paired with an
equal one counts as changed. A pixel outside every changed op's rect is then touched by the same
ops in the same order in both frames, so it would be painted exactly as it already is. An op's
rect must hold every pixel it can change (blits and fills are exact; shapes get a margin), and an
op's key everything that decides its pixels (a blitted surface by identity: cached surfaces are
never painted on again once drawn).

Blits and fills are most of a frame's cost (docs/architecture.md, "Budgets"): a frame in which
only a clock changed repaints the clock, and a frame in which nothing changed paints nothing.
"""

from __future__ import annotations

import math
from difflib import SequenceMatcher

import pygame

#: More dirty rects than this are merged into their bounding rect: each rect costs a replay pass.
MAX_RECTS = 8

#: The parameters of each pygame.draw function after the surface, to read its arguments by name.
SHAPE_PARAMS = {
    "rect": ("color", "rect", "width", "border_radius"),
    "line": ("color", "start_pos", "end_pos", "width"),
    "lines": ("color", "closed", "points", "width"),
    "polygon": ("color", "points", "width"),
    "circle": ("color", "center", "radius", "width"),
    "ellipse": ("color", "rect", "width"),
    "arc": ("color", "rect", "start_angle", "stop_angle", "width"),
    "aaline": ("color", "start_pos", "end_pos", "blend"),
    "aalines": ("color", "closed", "points", "blend"),
}


def _frozen(value):
    """*value* as something hashable that is equal exactly when the drawing would be the same."""
    kind = type(value)
    if kind in (int, float, str, bool) or value is None:
        return value
    if kind is pygame.Rect:
        return ("R", value.x, value.y, value.w, value.h)
    if isinstance(value, pygame.Surface):
        return ("S", id(value))  # the op keeps the surface alive, so the id is not reused meanwhile
    if kind in (tuple, list):
        if all(type(v) in (int, float) for v in value):  # a point or a colour: the common case
            return tuple(value)
        return tuple(_frozen(v) for v in value)
    if isinstance(value, (tuple, list, pygame.Color, pygame.math.Vector2)):
        return tuple(_frozen(v) for v in value)
    raise TypeError(f"cannot record a drawing argument of type {type(value).__name__}")


def _points_bounds(points, width) -> pygame.Rect:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    # Thick lines spread width/2 each side and their joins a little more: width + 2 covers both.
    grow = abs(int(width or 1)) + 2
    left, top = math.floor(min(xs)) - grow, math.floor(min(ys)) - grow
    return pygame.Rect(left, top, math.ceil(max(xs)) + grow + 1 - left, math.ceil(max(ys)) + grow + 1 - top)


def shape_bounds(name: str, args: tuple, kwargs: dict) -> pygame.Rect:
    """Every pixel ``pygame.draw.<name>(surface, *args, **kwargs)`` can change (a little more)."""
    a = dict(zip(SHAPE_PARAMS[name], args))
    a.update(kwargs)
    if name in ("rect", "ellipse", "arc"):
        return pygame.Rect(a["rect"]).inflate(2, 2)
    if name in ("line", "aaline"):
        return _points_bounds([a["start_pos"], a["end_pos"]], a.get("width", 1) if name == "line" else 1)
    if name in ("lines", "aalines", "polygon"):
        return _points_bounds(a["points"], a.get("width", 1) if name != "aalines" else 1)
    # circle
    x, y = a["center"]
    r = abs(a["radius"]) + 2
    return pygame.Rect(math.floor(x - r), math.floor(y - r), math.ceil(2 * r) + 2, math.ceil(2 * r) + 2)


def _blit_bounds(source: pygame.Surface, dest, area=None, *_) -> pygame.Rect:
    """Every pixel ``blit(source, dest, area)`` can change."""
    x, y = dest[0], dest[1]
    if area is None:
        width, height = source.get_size()
    elif type(area) is tuple and len(area) == 4:
        width, height = area[2], area[3]  # the usual case, without making a Rect of it
    else:
        # Never wider than *area*, wherever pygame shifts a part of it that lies off the source.
        width, height = pygame.Rect(area).size
    if type(x) is int and type(y) is int:
        return pygame.Rect(x, y, width, height)
    # However pygame rounds a fractional position.
    return pygame.Rect(math.floor(x) - 1, math.floor(y) - 1, width + 2, height + 2)


class Op:
    """One recorded drawing call: what identifies its pixels (*key*), where they go (*bounds*, in
    screen coordinates) and how to paint it again (*kind*, *args*, *kwargs*) on *layer*."""

    __slots__ = ("key", "bounds", "layer", "kind", "args", "kwargs")

    def __init__(self, key, bounds: pygame.Rect, layer: int, kind: str, args: tuple, kwargs: dict):
        self.key, self.bounds, self.layer, self.kind, self.args, self.kwargs = key, bounds, layer, kind, args, kwargs

    def paint(self, target: pygame.Surface) -> None:
        if self.kind == "blit":
            target.blit(*self.args)
        elif self.kind == "blits":
            target.blits(*self.args, doreturn=False)
        elif self.kind == "fill":
            target.fill(*self.args)
        else:
            getattr(pygame.draw, self.kind)(target, *self.args, **self.kwargs)


class Recording:
    """One frame's operations, and the screen rects of the surfaces they are painted on (layer 0
    is the whole screen; a :meth:`Canvas.subsurface` adds one)."""

    def __init__(self, size: tuple[int, int]):
        self.ops: list[Op] = []
        self.layers: list[pygame.Rect] = [pygame.Rect((0, 0), size)]

    def canvas(self) -> "Canvas":
        return Canvas(self, 0)


class Canvas:
    """Looks like the part of a pygame Surface that scenes paint with, and records instead.

    An unknown call fails (AttributeError, or TypeError from a pygame.draw function given a canvas),
    and the kiosk then paints that frame directly; :data:`shapes` records pygame.draw calls."""

    def __init__(self, recording: Recording, layer: int):
        self.recording = recording
        self.layer = layer
        self.rect = recording.layers[layer]
        self._local = pygame.Rect((0, 0), self.rect.size)

    def subsurface(self, rect) -> "Canvas":
        self.recording.layers.append(pygame.Rect(rect).move(self.rect.topleft).clip(self.rect))
        return Canvas(self.recording, len(self.recording.layers) - 1)

    def get_size(self) -> tuple[int, int]:
        return self.rect.size

    def get_width(self) -> int:
        return self.rect.width

    def get_height(self) -> int:
        return self.rect.height

    def get_rect(self, **kwargs) -> pygame.Rect:
        rect = pygame.Rect(self._local)
        for name, value in kwargs.items():
            setattr(rect, name, value)
        return rect

    def _record(self, key, local: pygame.Rect, kind: str, args: tuple, kwargs: dict | None = None) -> pygame.Rect:
        touched = local.clip(self._local)
        if touched.width and touched.height:
            self.recording.ops.append(Op((self.layer, key), touched.move(self.rect.topleft), self.layer, kind, args,
                                         kwargs or {}))
        return touched

    def blit(self, source: pygame.Surface, dest, area=None, special_flags: int = 0) -> pygame.Rect:
        key = ("blit", id(source), _frozen(dest), _frozen(area), special_flags)
        return self._record(key, _blit_bounds(source, dest, area), "blit", (source, dest, area, special_flags))

    def blits(self, blit_sequence, doreturn: bool = True) -> None:
        """Several blits as one operation (a widget blitted in pieces: :func:`app.ui.draw.tile`).
        Only as ``blits(..., doreturn=False)``: nothing here reads the rects back."""
        if doreturn:
            raise TypeError("a Canvas records blits(..., doreturn=False) only")
        items = tuple(blit_sequence)
        if not items:
            return
        try:
            # Surfaces compare and hash by identity and numbers by value: the usual sequence
            # (tuples of ints, as draw.tile gives) is its own key, at the cost of one hash.
            hash(items)
            key = ("blits", items)
        except TypeError:  # a Rect or a list in it
            key = ("blits", *(tuple(_frozen(part) for part in item) for item in items))
        bounds = _blit_bounds(*items[0])
        bounds.unionall_ip([_blit_bounds(*item) for item in items[1:]])
        self._record(key, bounds, "blits", (items,))

    def fill(self, color, rect=None, special_flags: int = 0) -> pygame.Rect:
        local = self._local if rect is None else pygame.Rect(rect)
        key = ("fill", _frozen(color), _frozen(rect), special_flags)
        return self._record(key, local, "fill", (color, rect, special_flags))

    def shape(self, name: str, args: tuple, kwargs: dict) -> pygame.Rect:
        """Record ``pygame.draw.<name>(self, *args, **kwargs)``."""
        key = (name, _frozen(args), _frozen(sorted(kwargs.items())))
        return self._record(key, shape_bounds(name, args, kwargs), name, args, kwargs)


def merged(rects: list[pygame.Rect]) -> list[pygame.Rect]:
    """*rects* with overlapping ones joined (and all of them joined when there are many)."""
    out: list[pygame.Rect] = []
    for rect in rects:
        rect = pygame.Rect(rect)
        joined = True
        while joined:
            joined = False
            for i, other in enumerate(out):
                if other.colliderect(rect):
                    rect.union_ip(out.pop(i))
                    joined = True
                    break
        out.append(rect)
    if len(out) > MAX_RECTS:
        out = [out[0].unionall(out[1:])]
    return out


class Painter:
    """Paints recorded frames on one screen surface, repainting only what changed since the last.

    The screen must keep what the last :meth:`paint` left on it; :meth:`forget` says it did not
    (a new surface, a window exposed, something else drew on it) and the next frame is painted whole."""

    def __init__(self):
        self._surface: pygame.Surface | None = None
        self._ops: list[Op] | None = None
        self._layers: list[pygame.Rect] = []

    def forget(self) -> None:
        self._surface, self._ops, self._layers = None, None, []

    def dirty(self, surface: pygame.Surface, recording: Recording) -> list[pygame.Rect]:
        """The rects of *surface* that differ between the last frame painted and *recording*."""
        screen = surface.get_rect()
        old, ops = self._ops, recording.ops
        if old is None or surface is not self._surface or recording.layers != self._layers:
            return [screen]
        old_keys = [op.key for op in old]
        new_keys = [op.key for op in ops]
        if old_keys == new_keys:
            return []
        if (old and ops and old_keys[0] != new_keys[0] and old[0].bounds.contains(screen)
                and ops[0].bounds.contains(screen)):
            # A new background, as on a screen change: one of the two first ops is unpaired (a
            # pairing keeps the order), and either covers every pixel. No need to diff the rest.
            return [screen]
        changed: list[pygame.Rect] = []
        if len(old_keys) == len(new_keys):
            # The usual frame: the same drawing with some parts changed (a clock, a bar). Pairing
            # the ops by position is a pairing in order, which is all the module's argument needs.
            for before, after in zip(old, ops):
                if before.key != after.key:
                    changed += (before.bounds, after.bounds)
        else:
            for tag, i1, i2, j1, j2 in SequenceMatcher(None, old_keys, new_keys, autojunk=False).get_opcodes():
                if tag != "equal":
                    changed.extend(op.bounds for op in old[i1:i2])
                    changed.extend(op.bounds for op in ops[j1:j2])
        return [r for r in (rect.clip(screen) for rect in merged(changed)) if r.width and r.height]

    def paint(self, surface: pygame.Surface, recording: Recording) -> list[pygame.Rect]:
        """Bring *surface* up to the *recording*. Returns the rects of *surface* that were
        repainted, for ``pygame.display.update`` (none when nothing changed)."""
        ops = recording.ops
        rects = self.dirty(surface, recording)
        self._surface, self._ops, self._layers = surface, ops, recording.layers
        if not rects:
            return rects
        layers = [surface] + [surface.subsurface(rect) for rect in recording.layers[1:]]
        whole = rects == [surface.get_rect()]
        for rect in rects:
            for layer, where in zip(layers, recording.layers):
                layer.set_clip(None if whole else rect.move(-where.x, -where.y))
            for op in ops:
                if whole or op.bounds.colliderect(rect):
                    op.paint(layers[op.layer])
        for layer in layers:
            layer.set_clip(None)
        return rects


def _recorded(name: str):
    draw = getattr(pygame.draw, name)

    def call(surface, *args, **kwargs):
        if isinstance(surface, Canvas):
            return surface.shape(name, args, kwargs)
        return draw(surface, *args, **kwargs)

    call.__name__ = name
    call.__doc__ = f"``pygame.draw.{name}``, recorded when *surface* is a :class:`Canvas`."
    return call


class _Shapes:
    """pygame.draw's functions for a Surface or a :class:`Canvas`: ``shapes.rect(surface, ...)``."""

    def __init__(self):
        for name in SHAPE_PARAMS:
            setattr(self, name, _recorded(name))


shapes = _Shapes()
