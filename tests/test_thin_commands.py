"""Every ``app/commands`` module is a thin command (docs/architecture.md: argument parsing, then calls
into the library, as sqlite-utils' commands are): at most :data:`MAX_LINES` lines. What a command
checks, formats or walks through lives in ``app/shell`` or ``app/kiosk``, where the other front
ends and the tests can use it too."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: A command module longer than this holds logic that belongs in the library.
MAX_LINES = 250


def overlong_commands(root: Path = ROOT, limit: int = MAX_LINES) -> list[str]:
    """Each module under ``app/commands`` of the tree at *root* longer than *limit* lines, as
    ``path: N lines``."""
    found = []
    for path in sorted((root / "app" / "commands").rglob("*.py")):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > limit:
            found.append(f"{path.relative_to(root)}: {lines} lines")
    return found


def test_every_command_module_is_thin():
    too_long = overlong_commands()
    assert not too_long, (f"command modules over {MAX_LINES} lines; move their logic into app/shell or "
                          "app/kiosk and keep the command to parsing and calls:\n" + "\n".join(too_long))


def test_the_commands_are_there_to_measure():
    """The check reads the real folder: an empty list means short modules, not a wrong path."""
    assert len(list((ROOT / "app" / "commands").glob("*.py"))) > 5


def test_a_long_command_module_is_caught(tmp_path):
    folder = tmp_path / "app" / "commands"
    folder.mkdir(parents=True)
    (folder / "short.py").write_text("x = 1\n" * MAX_LINES, encoding="utf-8")
    (folder / "long.py").write_text("x = 1\n" * (MAX_LINES + 1), encoding="utf-8")
    assert overlong_commands(tmp_path) == [f"app/commands/long.py: {MAX_LINES + 1} lines"]
