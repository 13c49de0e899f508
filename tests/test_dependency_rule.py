"""The dependency rule (docs/architecture.md), checked on every module's imports (including lazy ones).

- ``app.core`` imports only the standard library.
- ``app.ui`` imports ``app.core``, pygame and the standard library, and ``app.paths`` (stdlib only),
  which says where the bundled fonts and sounds are installed.
- ``app.shell`` imports ``app.core``, ``hardware``, the small top-level helpers (config, errors,
  paths: they import only ``app.core``) and third-party libraries, never ``app.ui`` or pygame.
- ``app.kiosk`` (the kiosk runtime) joins them: it imports ``app.core``, ``app.shell``, ``app.ui``,
  ``hardware``, the top-level helpers, pygame and third-party libraries, never ``app.commands``.
- ``hardware`` imports neither ``app`` nor pygame.
- No import circle among the app's modules, function-level imports included.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
APP_HELPERS = {"app.access", "app.config", "app.errors", "app.paths", "app"}


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Absolute module names imported by *path*, with relative imports resolved."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts)
    if path.name == "__init__.py":
        package = package.rsplit(".", 1)[0] + ".__init__"
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: -node.level]
                module = ".".join(base + ([node.module] if node.module else []))
                names = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            else:
                names = [node.module]
            found += [(node.lineno, n) for n in names]
    return found


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def top(name: str) -> str:
    return name.split(".")[0]


def allowed(layer: str, name: str) -> bool:
    if layer == "app/core":
        return top(name) in STDLIB or name.startswith("app.core")
    if layer == "app/ui":
        return (top(name) in STDLIB or name.startswith("app.core") or name.startswith("app.ui") or top(name) == "pygame"
                or name == "app.paths")
    if layer == "app/shell":
        if top(name) == "pygame" or name.startswith("app.ui") or name.startswith("app.commands") or name == "app.cli":
            return False
        return True
    if layer == "app/kiosk":
        return not (name.startswith("app.commands") or name == "app.cli")
    if layer == "hardware":
        return top(name) not in ("app", "pygame")
    raise AssertionError(layer)


@pytest.mark.parametrize("layer", ["app/core", "app/ui", "app/shell", "app/kiosk", "hardware"])
def test_layer_imports_follow_the_dependency_rule(layer):
    broken = []
    for path in modules(layer):
        for line, name in imports_of(path):
            if not allowed(layer, name):
                broken.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    assert not broken, "dependency rule broken (docs/architecture.md):\n" + "\n".join(broken)


def test_top_level_helpers_import_only_the_core():
    for name in ("access", "config", "errors", "paths"):
        for line, imported in imports_of(ROOT / "app" / f"{name}.py"):
            assert top(imported) in STDLIB or imported.startswith("app.core") or imported in APP_HELPERS, \
                f"app/{name}.py:{line}: imports {imported}"


def test_the_checker_catches_a_violation(tmp_path, monkeypatch):
    """The rule test must be able to fail: a core module importing sqlite3 is caught."""
    fake_root = tmp_path
    core = fake_root / "app" / "core"
    core.mkdir(parents=True)
    (core / "bad.py").write_text("import json\nfrom ..shell import store\nimport pygame\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake_root)
    names = [n for _, n in imports_of(core / "bad.py")]
    assert names == ["json", "app.shell", "pygame"] or names == ["json", "app.shell.store", "pygame"]
    assert [n for n in names if not allowed("app/core", n)] == names[1:]


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
