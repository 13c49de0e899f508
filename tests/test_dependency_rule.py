"""The dependency rule (docs/architecture.md, "The dependency rule"), checked on every module's imports:
top-level, function-level and ``importlib.import_module("literal")`` ones alike.

- ``app.core`` is pure: no clock, thread, database, network, file or process. It imports only the
  standard-library modules in :data:`CORE_STDLIB` (data structures, text, numbers, parsing TOML and
  JSON from a string) and its own modules. An allow-list, not a deny-list, so a new standard-library
  module in the core is a decision someone writes down here. Left out on purpose: ``time`` and
  ``datetime`` (both read the clock: time is passed in), ``threading``, ``asyncio``,
  ``multiprocessing``, ``concurrent``, ``queue`` (threads), ``sqlite3`` (database), ``socket``,
  ``select``, ``ssl``, ``urllib``, ``http`` (network), ``os``, ``io``, ``pathlib``, ``shutil``,
  ``tempfile`` (files), ``subprocess``, ``signal`` (processes), ``random``, ``secrets``, ``uuid``
  (hidden inputs), ``logging`` (output), ``importlib`` (imports this test cannot see),
  ``dataclasses`` (the core declares its value types one way, as :class:`app.core.record.Record`,
  which makes no code per class: docs/architecture.md, "Start-up"). ``inspect`` is allowed for
  ``Record``'s signature, which imports it only when a tool asks; it is what ``dataclasses`` imported.
  The core also never calls ``open``, ``print``, ``input``, ``__import__``, ``exec``, ``eval`` or
  ``breakpoint``, nor a clock method (``.now()``, ``.today()``, ``.monotonic()``, ...) on something
  handed in: those are calls, not imports, and this test reads the calls too.
- ``app.ui`` imports ``app.core``, pygame and the standard library, and ``app.paths`` (stdlib only),
  which says where the bundled fonts and sounds are installed.
- ``app.shell`` imports ``app.core``, ``hardware``, the small top-level helpers (config, errors,
  paths, access: they import only ``app.core``) and third-party libraries; never ``app.ui``,
  pygame, ``app.kiosk``, ``app.hub``, ``app.commands`` or ``app.cli``.
- ``app.hub`` (the clinic hub) imports ``app.core``, ``app.shell``, ``app.config``, ``app.errors``,
  the standard library and third-party libraries; never ``app.ui``, ``app.kiosk``, ``hardware`` or
  pygame.
- ``app.kiosk`` (the kiosk runtime) joins the layers: ``app.core``, ``app.shell``, ``app.ui``,
  ``hardware``, the top-level helpers, pygame and third-party libraries.
- ``app.commands`` (the ``backstep`` command, one thin module per group) may import anything in the
  app; nothing imports ``app.commands`` except ``app.cli``, which picks the module of the command
  asked for.
- ``hardware`` imports neither ``app`` nor pygame.
- No import circle among the app's modules, function-level imports included.

:func:`violations` applies the whole rule to a tree; the self-tests plant each forbidden import in a
temporary tree and see it caught, so none of these lines can silently stop checking.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names) | {"__future__"}

#: The standard library the pure core may import: nothing here reads a clock, starts a thread,
#: touches a file, socket, process or database, or draws randomness.
CORE_STDLIB = frozenset({
    "__future__", "abc", "bisect", "collections", "copy", "decimal", "enum", "fractions",
    "functools", "heapq", "inspect", "itertools", "json", "math", "numbers", "operator", "re", "statistics",
    "string", "textwrap", "tomllib", "types", "typing", "unicodedata",
})
#: Builtins that do I/O or import behind the import statement's back; the core never calls them.
CORE_FORBIDDEN_CALLS = frozenset({"open", "print", "input", "__import__", "exec", "eval", "breakpoint"})
#: Methods that read the clock (``datetime.now()``, ``time.monotonic()`` on a module handed in, ...).
CLOCK_METHODS = frozenset({"now", "utcnow", "today", "time", "time_ns", "monotonic", "monotonic_ns",
                           "perf_counter", "perf_counter_ns", "process_time", "sleep"})
APP_HELPERS = {"app.access", "app.config", "app.errors", "app.paths", "app"}


def within(name: str, *packages: str) -> bool:
    """True when module *name* is one of *packages* or inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in packages)


def dynamic_import(node: ast.Call) -> str | None:
    """The module named by ``importlib.import_module("x")`` / ``__import__("x")`` (an f-string
    counts by its fixed start: ``f"app.commands.{name}"`` is ``app.commands``), else None."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if called not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    if isinstance(first, ast.JoinedStr) and first.values and isinstance(first.values[0], ast.Constant):
        return str(first.values[0].value).rstrip(".") or None
    return None


def imports_of(path: Path, root: Path | None = None) -> list[tuple[int, str]]:
    """Absolute module names imported by *path*, with relative imports resolved.

    ``from pkg import name`` counts as ``pkg.name`` (the name may be a module: ``from app import
    commands`` must read as ``app.commands``, not as ``app``)."""
    root = root or ROOT
    package = ".".join(path.relative_to(root).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + ".__init__"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                module = ".".join(package.split(".")[: -node.level] + ([module] if module else []))
            found += [(node.lineno, f"{module}.{a.name}" if a.name != "*" else module) for a in node.names]
        elif isinstance(node, ast.Call) and (name := dynamic_import(node)):
            found.append((node.lineno, name))
    return found


def forbidden_calls(path: Path) -> list[tuple[int, str]]:
    """Calls the pure core must not make: I/O builtins and clock methods."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in CORE_FORBIDDEN_CALLS:
                found.append((node.lineno, f"{node.func.id}()"))
            elif isinstance(node.func, ast.Attribute) and node.func.attr in CLOCK_METHODS:
                found.append((node.lineno, f".{node.func.attr}() (reads the clock; pass the time in)"))
    return found


def modules(folder: str, root: Path | None = None) -> list[Path]:
    return sorted(((root or ROOT) / folder).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".")[0]


#: Each layer: its folder and what its modules may import. Checked in this order; a module belongs
#: to the first folder it is in.
LAYERS = ["app/core", "app/ui", "app/shell", "app/hub", "app/kiosk", "app/commands", "hardware"]


def allowed(layer: str, name: str) -> bool:
    if layer == "app/core":
        return top(name) in CORE_STDLIB or within(name, "app.core")
    if layer == "app/ui":
        return (top(name) in STDLIB or within(name, "app.core", "app.ui", "app.paths", "pygame"))
    if layer == "app/shell":
        return not within(name, "pygame", "app.ui", "app.kiosk", "app.hub", "app.commands", "app.cli")
    if layer == "app/hub":
        if top(name) == "app":
            return within(name, "app.core", "app.shell", "app.config", "app.errors", "app.hub")
        return not within(name, "hardware", "pygame")
    if layer == "app/kiosk":
        return not within(name, "app.commands", "app.cli")
    if layer == "app/commands":
        return True
    if layer == "hardware":
        return top(name) not in ("app", "pygame")
    raise AssertionError(layer)


def violations(root: Path | None = None) -> list[str]:
    """Every import (and, in the core, every call) in the tree at *root* that the rule forbids,
    as ``file:line: what``."""
    root = root or ROOT
    broken = []

    def report(path: Path, line: int, what: str) -> None:
        broken.append(f"{path.relative_to(root)}:{line}: {what}")

    for layer in LAYERS:
        for path in modules(layer, root):
            for line, name in imports_of(path, root):
                if not allowed(layer, name):
                    report(path, line, f"imports {name} ({layer} may not)")
            if layer == "app/core":
                for line, call in forbidden_calls(path):
                    report(path, line, f"calls {call} (app/core is pure)")
    for name in ("access", "config", "errors", "paths"):
        path = root / "app" / f"{name}.py"
        if path.exists():
            for line, imported in imports_of(path, root):
                if not (top(imported) in STDLIB or within(imported, "app.core", *APP_HELPERS - {"app"})
                        or imported in APP_HELPERS):
                    report(path, line, f"imports {imported} (the top-level helpers import only app.core)")
    for folder in ("app", "hardware"):
        for path in modules(folder, root):
            if path.relative_to(root).parts[:2] == ("app", "commands") or path == root / "app" / "cli.py":
                continue
            for line, name in imports_of(path, root):
                if within(name, "app.commands"):
                    report(path, line, f"imports {name} (only app/cli.py imports app.commands)")
    return sorted(set(broken))


def test_the_repository_follows_the_dependency_rule():
    broken = violations()
    assert not broken, "dependency rule broken (docs/architecture.md):\n" + "\n".join(broken)


def plant(root: Path, files: dict[str, str]) -> Path:
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return root


CORE_DENIED = ["sqlite3", "threading", "time", "datetime", "socket", "subprocess", "os", "io", "pathlib",
               "asyncio", "select", "signal", "multiprocessing", "concurrent.futures", "queue",
               "urllib.request", "http.client", "shutil", "tempfile", "random", "secrets", "uuid",
               "logging", "importlib", "dataclasses", "pygame", "gpiozero", "serial", "sqlite_utils", "hardware.gpio"]


@pytest.mark.parametrize("module", CORE_DENIED)
def test_the_core_may_not_import(tmp_path, module):
    for source in (f"import {module}\n", f"def later():\n    import {module}\n"):
        broken = violations(plant(tmp_path, {"app/core/bad.py": source}))
        assert broken == [f"app/core/bad.py:{source.count(chr(10))}: imports {module} (app/core may not)"]


@pytest.mark.parametrize("source, call", [
    ("def read(name):\n    return open(name).read()\n", "open()"),
    ("def show(x):\n    print(x)\n", "print()"),
    ("def load(name):\n    return __import__(name)\n", "__import__()"),
    ("def stamp(clock_module):\n    return clock_module.now()\n", ".now() (reads the clock; pass the time in)"),
    ("def tick(t):\n    return t.monotonic()\n", ".monotonic() (reads the clock; pass the time in)"),
])
def test_the_core_may_not_call_io_or_the_clock(tmp_path, source, call):
    assert violations(plant(tmp_path, {"app/core/bad.py": source})) == [
        f"app/core/bad.py:2: calls {call} (app/core is pure)"]


@pytest.mark.parametrize("relative, source, imported, why", [
    ("app/shell/bad.py", "from app.commands import run\n", "app.commands.run", "only app/cli.py"),
    ("app/kiosk/bad.py", "from app import commands\n", "app.commands", "only app/cli.py"),
    ("app/ui/bad.py", "def later():\n    from ..commands.common import x\n", "app.commands.common.x",
     "only app/cli.py"),
    ("app/hub/bad.py", "from ..commands import hub\n", "app.commands.hub", "only app/cli.py"),
    ("app/config.py", "import importlib\nimportlib.import_module('app.commands.run')\n", "app.commands.run",
     "only app/cli.py"),
    ("app/__main__.py", "import app.commands.run\n", "app.commands.run", "only app/cli.py"),
    ("hardware/bad.py", "from app.commands import run\n", "app.commands.run", "only app/cli.py"),
    ("app/hub/bad.py", "from app.ui import draw\n", "app.ui.draw", "app/hub may not"),
    ("app/hub/bad.py", "from ..kiosk.rig import Rig\n", "app.kiosk.rig.Rig", "app/hub may not"),
    ("app/hub/bad.py", "import app.paths\n", "app.paths", "app/hub may not"),
    ("app/hub/bad.py", "from hardware import gpio\n", "hardware.gpio", "app/hub may not"),
    ("app/hub/bad.py", "import pygame\n", "pygame", "app/hub may not"),
    ("app/shell/bad.py", "from app.kiosk import rig\n", "app.kiosk.rig", "app/shell may not"),
    ("app/shell/bad.py", "from app.hub import sync\n", "app.hub.sync", "app/shell may not"),
    ("app/shell/bad.py", "import pygame\n", "pygame", "app/shell may not"),
    ("app/kiosk/bad.py", "from app.cli import main\n", "app.cli.main", "app/kiosk may not"),
    ("app/ui/bad.py", "from hardware import gpio\n", "hardware.gpio", "app/ui may not"),
    ("hardware/bad.py", "import pygame\n", "pygame", "hardware may not"),
    ("app/errors.py", "from app.shell import store\n", "app.shell.store", "top-level helpers"),
])
def test_each_restriction_catches_a_planted_import(tmp_path, relative, source, imported, why):
    broken = violations(plant(tmp_path, {relative: source}))
    assert any(line.startswith(relative + ":") and f"imports {imported} (" in line and why in line
               for line in broken), broken


def test_what_the_rule_allows_passes(tmp_path):
    """The checker is not simply strict: each layer's allowed imports go through."""
    assert violations(plant(tmp_path, {
        "app/core/ok.py": "import math, json, tomllib\nfrom .record import Record\nfrom . import units\n"
                          "def later():\n    from .program import load\n",
        "app/ui/ok.py": "import pygame\nfrom app.paths import ASSETS\nfrom ..core.view import View\n",
        "app/shell/ok.py": "import sqlite3, threading\nimport sqlite_utils\nfrom hardware import gpio\n"
                           "from ..config import Config\nfrom app.core import safety\n",
        "app/hub/ok.py": "import psycopg\nfrom app.shell import history\nfrom ..errors import UserError\n"
                         "from app.config import Config\nfrom app.core.units import mph\n",
        "app/kiosk/ok.py": "import pygame\nfrom app.ui import kiosk\nfrom app.shell import station\n"
                           "from hardware import sim\n",
        "app/commands/ok.py": "from app.kiosk import app\nfrom app.hub import sync\nfrom . import common\n",
        "app/cli.py": "import importlib\nimportlib.import_module(f'app.commands.{name}')\n",
        "app/errors.py": "from app.core import units\n",
        "hardware/ok.py": "import gpiozero, serial\n",
    })) == []


def import_graph(folders=("app", "hardware")) -> dict[str, set[str]]:
    """Module -> the modules of this repository it imports (``from pkg import name`` counts as
    ``pkg.name`` when that is a module, else as ``pkg``)."""
    names = {}
    for folder in folders:
        for path in modules(folder):
            parts = path.relative_to(ROOT).with_suffix("").parts
            names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for module, path in names.items():
        targets = set()
        for _, name in imports_of(path):
            name = name.removesuffix(".__init__")
            while name and name not in names:
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(name + "."):  # a package's own parents
                targets.add(name)
        graph[module] = targets
    return graph


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle in *graph*, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_import_circles_function_level_imports_included():
    circle = find_circle(import_graph())
    assert circle is None, "import circle: " + " -> ".join(circle)


def test_the_circle_finder_finds_a_circle():
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set()}) is None
