"""Record: value types declared like dataclasses, built without generating code per class.

Why it exists: the kiosk declares about 75 value types before it can tell systemd READY=1
(docs/architecture.md, "Start-up" and "Budgets"). ``@dataclass`` writes the source of ``__init__``,
``__repr__``, ``__eq__``, ``__hash__``, ``__setattr__`` and ``__delattr__`` for every class and
compiles it with ``exec``: about 0.4 ms a class, some 30 ms in all, where the whole start is to
take about 100 ms (1.5 times a bare pygame window). A
:class:`Record` subclass is read once, when the class is created (``__init_subclass__``), into a
small table of its fields; one generic method of each kind then serves every record.

Declaring one reads like a dataclass::

    class Member(Record):
        id: int
        name: str
        units: str = "mph"
        tags: tuple = ()
        notes: dict = field(default_factory=dict, compare=False)

What a Record guarantees (tests/test_record.py checks each against an equivalent dataclass):

- fields are the class annotations in order, inherited fields first (a field declared again keeps
  its place and takes the new default); ``ClassVar`` annotations are not fields; a field without a
  default may not follow one with a default; a mutable (unhashable) default is refused, as
  dataclasses refuse it: use ``field(default_factory=...)``, which is called for every instance;
- ``__init__`` takes the fields positionally or by keyword and raises the same ``TypeError`` a
  dataclass does for a missing, unknown, repeated or surplus argument; then calls
  ``__post_init__`` when the class has one (validate there: a Record may not define ``__init__``);
- ``==`` holds between instances of the same class whose compared fields are equal; ``hash`` is
  over the compared fields; ``repr`` is ``Name(a=1, b='x')``; ``__match_args__`` lists the fields;
- frozen by default: assigning or deleting an attribute raises :class:`FrozenInstanceError` (an
  ``AttributeError``). ``class Holder(Record, frozen=False)`` is a mutable holder instead (and, like
  a dataclass with ``eq``, not hashable); a subclass keeps its base's choice;
- :func:`replace`, :func:`fields` and :func:`asdict` behave as the functions of the same name in
  :mod:`dataclasses`; copy and pickle work as for any plain object;
- ``inspect.signature(SomeRecord)`` gives the real parameters (hypothesis' ``st.builds`` reads it);
  :mod:`inspect` is imported only when something asks, never at start-up.

Not copied from dataclasses: ordering (``order=True``), keyword-only fields, ``InitVar``, slots,
the generated ``__doc__``, and the repr's guard against a record that contains itself (a frozen
record cannot; a container in between guards itself).
"""

from __future__ import annotations

from operator import attrgetter


class FrozenInstanceError(AttributeError):
    """Raised on an attempt to assign or delete an attribute of a frozen record."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: "No default": a field's ``default`` or ``default_factory`` when it has none.
MISSING = _Missing()


class _FactoryDefault:
    """Stands for a ``default_factory`` in a signature, shown as dataclasses show it."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY = _FactoryDefault()


class Field:
    """One field of a record: what :func:`fields` returns, and what :func:`field` declares."""

    __slots__ = ("name", "type", "default", "default_factory", "compare", "repr")

    def __init__(self, default=MISSING, default_factory=MISSING, compare: bool = True, repr: bool = True,
                 name: str = "", type=None):
        self.name, self.type = name, type
        self.default, self.default_factory = default, default_factory
        self.compare, self.repr = compare, repr

    def named(self, name: str, type) -> "Field":
        return Field(self.default, self.default_factory, self.compare, self.repr, name, type)

    def __repr__(self) -> str:
        return (f"Field(name={self.name!r}, type={self.type!r}, default={self.default!r}, "
                f"default_factory={self.default_factory!r}, compare={self.compare!r}, repr={self.repr!r})")


def field(*, default=MISSING, default_factory=MISSING, compare: bool = True, repr: bool = True) -> Field:
    """A field that needs more than a plain default: a factory called per instance (for a list or
    dict), or one left out of ``==``/``hash`` (``compare=False``) or out of the repr (``repr=False``)."""
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory, compare, repr)


def _is_class_var(annotation) -> bool:
    if isinstance(annotation, str):  # the usual case: `from __future__ import annotations`
        return annotation.startswith(("ClassVar", "typing.ClassVar"))
    import typing  # only for a module that keeps its annotations as objects

    return annotation is typing.ClassVar or getattr(annotation, "__origin__", None) is typing.ClassVar


def _key_getter(names: tuple[str, ...]):
    """The compared fields of a record as a tuple, the way a dataclass compares and hashes them
    (a tuple even for one field: ``(nan,) == (nan,)`` holds by identity, ``nan == nan`` does not)."""
    if len(names) >= 2:
        return attrgetter(*names)
    if len(names) == 1:
        one = attrgetter(names[0])
        return lambda record: (one(record),)
    return lambda record: ()


class _Spec:
    """What ``__init_subclass__`` works out once per class: everything the generic methods need."""

    def __init__(self, cls: type, fields: tuple[Field, ...], frozen: bool | None):
        self.qualname = cls.__qualname__
        self.fields = fields
        self.names = tuple(f.name for f in fields)
        self.nameset = frozenset(self.names)
        self.size = len(fields)
        self.defaults = {f.name: f.default for f in fields if f.default is not MISSING}
        self.factories = tuple((f.name, f.default_factory) for f in fields if f.default_factory is not MISSING)
        self.key = _key_getter(tuple(f.name for f in fields if f.compare))
        self.shown = tuple(f.name for f in fields if f.repr)
        self.post_init = hasattr(cls, "__post_init__")
        self.frozen = frozen
        self.signature = None  # built on first request (_SignatureOnDemand)

    # -- binding arguments: the checks, in the order and words of CPython's own argument errors ----------

    def bind(self, args: tuple, kwargs: dict) -> dict:
        """The field values of a call: keywords first (unknown, or given twice), then too many
        positional arguments, then the defaults and factories, then what is still missing."""
        if args:
            values = dict(zip(self.names, args))
            for name, value in kwargs.items():
                if name not in self.nameset:
                    raise self.unexpected(name)
                if name in values:
                    raise TypeError(f"{self.qualname}.__init__() got multiple values for argument '{name}'")
                values[name] = value
            if len(args) > self.size:
                raise self.too_many(len(args))
        else:
            values = kwargs
            if not values.keys() <= self.nameset:
                raise self.unexpected(next(name for name in values if name not in self.nameset))
        if len(values) < self.size:
            values = {**self.defaults, **values}
            for name, factory in self.factories:
                if name not in values:
                    values[name] = factory()
            if len(values) < self.size:
                raise self.missing([name for name in self.names if name not in values])
        return values

    def unexpected(self, name: str) -> TypeError:
        return TypeError(f"{self.qualname}.__init__() got an unexpected keyword argument '{name}'")

    def too_many(self, given: int) -> TypeError:
        takes = self.size + 1  # counting self, as Python's message does
        low = takes - len(self.defaults) - len(self.factories)
        span = f"from {low} to {takes}" if low != takes else f"{takes}"
        return TypeError(f"{self.qualname}.__init__() takes {span} positional argument{'s' if takes != 1 else ''} "
                         f"but {given + 1} were given")

    def missing(self, names: list[str]) -> TypeError:
        quoted = [f"'{name}'" for name in names]
        listed = quoted[0] if len(quoted) == 1 else (
            f"{quoted[0]} and {quoted[1]}" if len(quoted) == 2 else ", ".join(quoted[:-1]) + f", and {quoted[-1]}")
        return TypeError(f"{self.qualname}.__init__() missing {len(quoted)} required positional "
                         f"argument{'s' if len(quoted) != 1 else ''}: {listed}")


class _SignatureOnDemand:
    """``SomeRecord.__signature__``: the parameters of its ``__init__``, for :func:`inspect.signature`.

    A descriptor, so :mod:`inspect` (slow to import) is imported the first time a tool asks, not when
    the class is made; built once per class."""

    def __get__(self, record, cls):
        if record is not None:  # like a dataclass instance: a record is not callable
            raise AttributeError("__signature__")
        spec = cls.__record_spec__
        if spec.signature is None:
            import inspect

            kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
            spec.signature = inspect.Signature([
                inspect.Parameter(f.name, kind, annotation=f.type, default=(
                    f.default if f.default is not MISSING else
                    _FACTORY if f.default_factory is not MISSING else inspect.Parameter.empty))
                for f in spec.fields], return_annotation=None)
        return spec.signature


def _fields_of(cls: type) -> tuple[Field, ...]:
    """Inherited fields first (in the order the bases declared them), then the class's own."""
    found: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):
        spec = base.__dict__.get("__record_spec__")
        if spec is not None:
            found.update((f.name, f) for f in spec.fields)
    for name, annotation in cls.__dict__.get("__annotations__", {}).items():
        if _is_class_var(annotation):
            continue
        declared = getattr(cls, name, MISSING)  # as dataclasses read it: an inherited default counts
        if isinstance(declared, Field):
            found[name] = declared.named(name, annotation)
            # As dataclasses leave it: the class attribute is the plain default, or none at all.
            if declared.default is MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, declared.default)
        else:
            found[name] = Field(declared, name=name, type=annotation)
    fields = tuple(found.values())
    seen_default = False
    for f in fields:
        has_default = f.default is not MISSING or f.default_factory is not MISSING
        if seen_default and not has_default:
            raise TypeError(f"non-default argument {f.name!r} follows default argument")
        seen_default = seen_default or has_default
        if f.default is not MISSING and type(f.default).__hash__ is None:
            raise ValueError(f"mutable default {type(f.default)} for field {f.name} is not allowed: use default_factory")
    return fields


class Record:
    """Base class of the app's value types: see the module notes for what it guarantees."""

    __match_args__ = ()
    __signature__ = _SignatureOnDemand()

    def __init_subclass__(cls, *, frozen: bool | None = None, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            raise TypeError(f"{cls.__qualname__}: a Record builds its own __init__; check values in __post_init__")
        inherited = cls.__record_spec__.frozen
        if frozen is None:
            frozen = True if inherited is None else inherited
        elif inherited is not None and frozen != inherited:
            raise TypeError(f"{cls.__qualname__}: cannot inherit a {'frozen' if frozen else 'mutable'} record "
                            f"from a {'frozen' if inherited else 'mutable'} one")
        cls.__record_spec__ = _Spec(cls, _fields_of(cls), frozen)
        if "__match_args__" not in cls.__dict__:
            cls.__match_args__ = cls.__record_spec__.names
        if not frozen:
            cls.__setattr__ = object.__setattr__
            cls.__delattr__ = object.__delattr__
            cls.__hash__ = None  # mutable and compared by value, as a dataclass with eq: unhashable
        elif cls.__dict__.get("__hash__", MISSING) is None and "__eq__" in cls.__dict__:
            cls.__hash__ = Record.__hash__  # Python blanked it for the class's own __eq__; a frozen dataclass keeps one

    def __init__(self, *args, **kwargs) -> None:
        spec = self.__record_spec__
        if kwargs or len(args) != spec.size:
            self.__dict__.update(spec.bind(args, kwargs))
        else:  # every field given in order: the common call, kept short
            self.__dict__.update(zip(spec.names, args))
        if spec.post_init:
            self.__post_init__()

    def __repr__(self) -> str:
        inner = ", ".join([f"{name}={getattr(self, name)!r}" for name in self.__record_spec__.shown])
        return f"{self.__class__.__qualname__}({inner})"

    def __eq__(self, other):
        if other.__class__ is self.__class__:
            key = self.__record_spec__.key
            return key(self) == key(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.__record_spec__.key(self))

    def __setattr__(self, name: str, value) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")


Record.__record_spec__ = _Spec(Record, (), None)


def replace(record: Record, /, **changes):
    """A copy of *record* with *changes*, as :func:`dataclasses.replace`: an unknown field is a
    ``TypeError``, and ``__post_init__`` runs on the copy.

    The safety core moves its state along with this on every event, so it copies the field values
    at once instead of binding every field again through ``__init__``."""
    cls = record.__class__
    spec = getattr(cls, "__record_spec__", None)
    if spec is None:
        raise TypeError("replace() should be called on Record instances")
    if not changes.keys() <= spec.nameset:
        raise spec.unexpected(next(name for name in changes if name not in spec.nameset))
    new = object.__new__(cls)
    values = new.__dict__
    old = record.__dict__
    # A frozen record's __dict__ holds its fields and nothing else, unless something cached a value
    # there: then (and for a mutable holder, which may have gained attributes) copy field by field.
    values.update(old if spec.frozen and len(old) == spec.size else {name: getattr(record, name) for name in spec.names})
    values.update(changes)
    if spec.post_init:
        new.__post_init__()
    return new


def fields(record_or_class) -> tuple[Field, ...]:
    """The fields of a record class or instance, in order (as :func:`dataclasses.fields`)."""
    spec = getattr(record_or_class, "__record_spec__", None)
    if spec is None:
        raise TypeError("must be called with a Record type or instance")
    return spec.fields


def asdict(record: Record) -> dict:
    """*record* as a dict, recursively, with :func:`dataclasses.asdict`'s rules: records become
    dicts; lists, tuples (named ones too) and dicts are rebuilt with their items converted; any
    other value is deep-copied."""
    if not isinstance(record, Record):
        raise TypeError("asdict() should be called on Record instances")
    return _asdict(record)


def _asdict(value):
    if isinstance(value, Record):
        return {name: _asdict(getattr(value, name)) for name in value.__record_spec__.names}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*[_asdict(v) for v in value])
    if isinstance(value, (list, tuple)):
        return type(value)(_asdict(v) for v in value)
    if isinstance(value, dict):
        return type(value)((_asdict(k), _asdict(v)) for k, v in value.items())
    import copy  # only here, and only for leaves: most records hold none that need it

    return copy.deepcopy(value)
