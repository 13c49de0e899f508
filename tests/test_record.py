"""app.core.record: a Record behaves as the frozen dataclass it replaces (equality, hash, repr,
argument errors, replace, fields, asdict, signature, pattern matching), without making code per class.

Each property compares a Record class with a dataclass declared the same way, so "like a
dataclass" is checked against dataclasses themselves, not against a copy of their rules."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import math
import os
import pickle
import subprocess
import sys
from collections import namedtuple
from pathlib import Path
from typing import ClassVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.core import record
from app.core.record import FrozenInstanceError, Record, asdict, field, fields, replace

ROOT = Path(__file__).resolve().parent.parent


# Two declarations of one value type: a Record, and the dataclass it stands for.
class Walk(Record):
    steps: int
    name: str = "walk"
    speed: float = 0.0
    tags: list = field(default_factory=list, compare=False)


@dataclasses.dataclass(frozen=True)
class WalkDC:
    steps: int
    name: str = "walk"
    speed: float = 0.0
    tags: list = dataclasses.field(default_factory=list, compare=False)


def _as_dataclass(value):
    """The WalkDC of a Walk (for comparing results across the two)."""
    return WalkDC(**{f.name: getattr(value, f.name) for f in fields(value)})


def _outcome(call):
    """What a call gives, class names left out: ``("ok", repr)`` or ``(error type, message)``."""
    try:
        result = call()
    except Exception as exc:  # noqa: BLE001 - the error itself is what is compared
        kind = "FrozenInstanceError" if isinstance(exc, (FrozenInstanceError, dataclasses.FrozenInstanceError)) \
            else type(exc).__name__
        return kind, str(exc).replace("WalkDC", "Walk")
    return "ok", repr(result).replace("WalkDC", "Walk")


floats = st.floats(allow_nan=True, allow_infinity=True)
walk_values = st.fixed_dictionaries({"steps": st.integers()}, optional={
    "name": st.text(max_size=5), "speed": floats, "tags": st.lists(st.integers(), max_size=3)})


@given(walk_values, walk_values)
def test_equality_hash_and_repr_are_the_dataclass_ones(a, b):
    ra, rb, da, db = Walk(**a), Walk(**b), WalkDC(**a), WalkDC(**b)
    assert repr(ra) == repr(da).replace("WalkDC", "Walk")
    assert (ra == rb) == (da == db) and (ra != rb) == (da != db)
    assert ra == ra and hash(ra) == hash(da)  # the same tuple of compared fields, NaN included
    assert (ra == da) is False  # another class is never equal, as between two dataclasses


#: Calls by position and keyword, including every kind of mistake.
calls = st.tuples(st.lists(st.sampled_from([1, "a", 2.5]), max_size=6),
                  st.dictionaries(st.sampled_from(["steps", "name", "speed", "tags", "bogus", "other"]),
                                  st.just(7), max_size=4))


@given(calls)
def test_arguments_bind_and_fail_as_a_dataclass_init_does(call):
    args, kwargs = call
    assert _outcome(lambda: Walk(*args, **kwargs)) == _outcome(lambda: WalkDC(*args, **kwargs))


@given(walk_values, st.dictionaries(st.sampled_from(["steps", "name", "speed", "tags", "bogus"]), st.integers(),
                                    max_size=3))
def test_replace_is_the_dataclass_replace(values, changes):
    original = Walk(**values)
    changed = _outcome(lambda: replace(original, **changes))
    assert changed == _outcome(lambda: dataclasses.replace(WalkDC(**values), **changes))
    assert original == Walk(**values)  # the original is untouched


def test_a_class_with_no_fields():
    class Tapped(Record):
        pass

    assert Tapped() == Tapped() and hash(Tapped()) == hash(()) and repr(Tapped()).endswith("Tapped()")
    with pytest.raises(TypeError, match=r"Tapped.__init__\(\) takes 1 positional argument but 2 were given"):
        Tapped(1)


def test_frozen_records_refuse_assignment_and_deletion():
    walk = Walk(3)
    with pytest.raises(FrozenInstanceError, match="cannot assign to field 'steps'"):
        walk.steps = 4
    with pytest.raises(AttributeError, match="cannot delete field 'name'"):
        del walk.name
    with pytest.raises(FrozenInstanceError):
        walk.extra = 1
    assert walk == Walk(3)


def test_a_frozen_record_with_its_own_eq_stays_hashable_like_a_frozen_dataclass():
    class Loose(Record):
        value: float

        def __eq__(self, other):
            return isinstance(other, Loose) and abs(self.value - other.value) < 1

    @dataclasses.dataclass(frozen=True)
    class LooseDC:
        value: float

        def __eq__(self, other):
            return isinstance(other, LooseDC) and abs(self.value - other.value) < 1

    assert Loose(1.0) == Loose(1.5) and hash(Loose(2.0)) == hash(LooseDC(2.0)) == hash((2.0,))


def test_factories_run_per_instance_and_mutable_defaults_are_refused():
    one, two = Walk(1), Walk(1)
    one.tags.append("x")
    assert two.tags == [] and one == two  # tags are not compared
    assert "tags" not in Walk.__dict__ and Walk.name == "walk"  # class attributes as a dataclass leaves them
    with pytest.raises(ValueError, match="mutable default <class 'list'> for field laps is not allowed"):
        class Bad(Record):
            laps: list = []
    with pytest.raises(TypeError, match="non-default argument 'b' follows default argument"):
        class Order(Record):
            a: int = 1
            b: int
    with pytest.raises(ValueError, match="cannot specify both"):
        field(default=1, default_factory=int)


def test_post_init_runs_after_init_and_after_replace():
    class Positive(Record):
        value: int

        def __post_init__(self):
            if self.value <= 0:
                raise ValueError(f"{self.value} is not positive")

    assert Positive(2).value == 2
    with pytest.raises(ValueError, match="-1 is not positive"):
        Positive(-1)
    with pytest.raises(ValueError, match="0 is not positive"):
        replace(Positive(2), value=0)
    with pytest.raises(TypeError, match="__post_init__"):
        class Own(Record):
            value: int

            def __init__(self, value):
                pass


def test_inherited_fields_come_first_and_keep_their_place_when_declared_again():
    class Base(Record):
        a: int
        b: int = 2

    class Child(Base):
        c: int = 3
        b: int = 20
        kind: ClassVar[str] = "not a field"

    @dataclasses.dataclass(frozen=True)
    class BaseDC:
        a: int
        b: int = 2

    @dataclasses.dataclass(frozen=True)
    class ChildDC(BaseDC):
        c: int = 3
        b: int = 20
        kind: ClassVar[str] = "not a field"

    assert [f.name for f in fields(Child)] == [f.name for f in dataclasses.fields(ChildDC)] == ["a", "b", "c"]
    assert repr(Child(1)).endswith("Child(a=1, b=20, c=3)") and Child.__match_args__ == ("a", "b", "c")
    assert str(inspect.signature(Child)) == str(inspect.signature(ChildDC))
    with pytest.raises(TypeError, match="cannot inherit a mutable record from a frozen one"):
        class Loose(Base, frozen=False):
            pass


def test_signature_gives_the_real_parameters():
    assert str(inspect.signature(Walk)) == str(inspect.signature(WalkDC))
    assert [p.name for p in inspect.signature(Walk).parameters.values()] == ["steps", "name", "speed", "tags"]
    with pytest.raises(AttributeError):
        Walk(1).__signature__  # noqa: B018 - an instance is not callable, as a dataclass instance


class Point(Record):
    x: int
    y: int = 0


@given(st.builds(Point))
def test_hypothesis_builds_records_from_their_signature(point):
    assert isinstance(point.x, int) and isinstance(point.y, int)


def test_fields_lists_names_defaults_and_compare():
    got = [(f.name, f.type, f.default, f.compare) for f in fields(Walk(1))]
    assert got == [("steps", "int", record.MISSING, True), ("name", "str", "walk", True),
                   ("speed", "float", 0.0, True), ("tags", "list", record.MISSING, False)]
    assert fields(Walk)[3].default_factory is list
    with pytest.raises(TypeError):
        fields(3)


Pair = namedtuple("Pair", "left right")


class Lap(Record):
    walk: Walk
    splits: tuple = ()
    notes: dict = field(default_factory=dict)
    pair: Pair | None = None
    seen: set = field(default_factory=set)


@dataclasses.dataclass(frozen=True)
class LapDC:
    walk: WalkDC
    splits: tuple = ()
    notes: dict = dataclasses.field(default_factory=dict)
    pair: Pair | None = None
    seen: set = dataclasses.field(default_factory=set)


def test_asdict_recurses_as_dataclasses_asdict_does():
    walk, walk_dc = Walk(2, tags=[1]), WalkDC(2, tags=[1])
    seen = {1, 2}
    lap = Lap(walk, (walk, [walk]), {"w": walk}, Pair(walk, 1), seen)
    lap_dc = LapDC(walk_dc, (walk_dc, [walk_dc]), {"w": walk_dc}, Pair(walk_dc, 1), seen)
    assert asdict(lap) == dataclasses.asdict(lap_dc)
    assert type(asdict(lap)["pair"]) is Pair and asdict(lap)["seen"] is not seen  # leaves are deep copies
    assert json.loads(json.dumps(asdict(walk))) == {"steps": 2, "name": "walk", "speed": 0.0, "tags": [1]}
    with pytest.raises(TypeError):
        asdict(Walk)


def test_pattern_matching_by_position_and_keyword():
    match Walk(3, "back"):
        case Walk(3, name, speed=0.0):
            assert name == "back"
        case _:
            pytest.fail("the record did not match")


@pytest.mark.parametrize("value", [Walk(2, tags=[1]), Lap(Walk(1), notes={"a": 1})])
def test_copy_and_pickle_round_trip(value):
    for twin in (copy.copy(value), copy.deepcopy(value), pickle.loads(pickle.dumps(value))):
        assert twin == value and twin is not value and type(twin) is type(value)


def test_a_mutable_record_is_assignable_and_unhashable():
    class Counts(Record, frozen=False):
        taken: int = 0
        note: str = field(default="", repr=False)

    counts = Counts()
    counts.taken += 1
    assert counts == Counts(1) and repr(counts).endswith("Counts(taken=1)")
    assert replace(counts, taken=5).taken == 5 and counts.taken == 1
    with pytest.raises(TypeError, match="unhashable"):
        hash(counts)
    with pytest.raises(TypeError, match="cannot inherit a frozen record from a mutable one"):
        class Fixed(Counts, frozen=True):
            pass


def test_the_core_imports_neither_dataclasses_nor_inspect():
    """The point of Record: the safety core and its value types load without both modules."""
    code = ("import sys\nimport app.core.safety, app.core.view, app.config\n"
            "print(sorted({'dataclasses', 'inspect'} & set(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_one_compared_field_is_still_compared_and_hashed_as_a_tuple():
    class Speed(Record):
        kmh: float
        note: str = field(default="", compare=False)

    @dataclasses.dataclass(frozen=True)
    class SpeedDC:
        kmh: float
        note: str = dataclasses.field(default="", compare=False)

    nan = math.nan
    assert Speed(nan) == Speed(nan) and SpeedDC(nan) == SpeedDC(nan)  # the same NaN: equal by identity
    assert (Speed(nan) == Speed(float("nan"))) is (SpeedDC(nan) == SpeedDC(float("nan"))) is False
    assert hash(Speed(1.5, "a")) == hash(SpeedDC(1.5, "b")) == hash((1.5,))
