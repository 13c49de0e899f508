"""DESIGN.md §1, the dependency rule, checked on every module's imports (including lazy ones).

- ``app.core`` imports only the standard library.
- ``app.ui`` imports ``app.core``, pygame and the standard library, and ``app.paths`` (stdlib only),
  which says where the bundled fonts and sounds are installed.
- ``app.shell`` imports ``app.core``, ``hardware``, the small top-level helpers (config, errors,
  paths: they import only ``app.core``) and third-party libraries, never ``app.ui`` or pygame.
- ``hardware`` imports neither ``app`` nor pygame.
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
    if layer == "hardware":
        return top(name) not in ("app", "pygame")
    raise AssertionError(layer)


@pytest.mark.parametrize("layer", ["app/core", "app/ui", "app/shell", "hardware"])
def test_layer_imports_follow_the_dependency_rule(layer):
    broken = []
    for path in modules(layer):
        for line, name in imports_of(path):
            if not allowed(layer, name):
                broken.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    assert not broken, "dependency rule broken (DESIGN.md §1):\n" + "\n".join(broken)


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
