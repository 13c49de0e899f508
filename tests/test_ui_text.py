"""The text catalogue covers every key the UI and the core use, and never crashes on bad input."""

from __future__ import annotations

import re
from pathlib import Path

from test_ui_support import views

from app.ui.text import CATALOGUE, SAY_KEYS, reason_text, say_text, t

ROOT = Path(__file__).resolve().parent.parent
UI = ROOT / "app" / "ui"


def keys_used_in_ui() -> set[str]:
    found = set()
    for path in UI.rglob("*.py"):
        found |= set(re.findall(r"""\bt\(\s*["']([a-z0-9_]+)["']\s*[,)]""", path.read_text()))
        found |= set(re.findall(r"""_key\s*=\s*["']([a-z0-9_]+)["']""", path.read_text()))
        found |= set(re.findall(r"""\(\s*["'][a-z_]+["']\s*,\s*["']((?:staff|check)_[a-z_]+)["']\s*\)""", path.read_text()))
    return found


def test_every_literal_key_in_the_ui_is_in_the_catalogue():
    missing = sorted(k for k in keys_used_in_ui() if k not in CATALOGUE)
    assert not missing, missing
    assert len(keys_used_in_ui()) > 60  # the scan really finds the keys


def test_every_key_the_core_sends_is_in_the_catalogue():
    core = (ROOT / "app" / "core" / "safety.py").read_text()
    said = set(re.findall(r"""Say\(\s*["']([a-z_]+)["']""", core))
    assert said <= set(SAY_KEYS)
    assert set(SAY_KEYS) <= set(CATALOGUE)
    reasons = set(re.findall(r"""problems\.append\(["']([a-z ]+)["']\)""", core))
    assert reasons
    for reason in reasons:
        assert reason_text(reason) != reason, reason


def test_every_check_outcome_and_status_has_words():
    for view in views().values():
        for check in view.checks:
            assert check.key in CATALOGUE
    for outcome in ("completed", "stopped", "emergency_stop", "interrupted"):
        assert f"outcome_{outcome}" in CATALOGUE
        assert f"status_{outcome}" in CATALOGUE
    from app.ui.data import EXPORT_ERRORS

    for error in EXPORT_ERRORS:
        assert f"export_error_{error}" in CATALOGUE


def test_unknown_keys_and_bad_params_never_raise():
    assert t("no_such_key") == "no_such_key"
    assert t("start_refused") == CATALOGUE["start_refused"]
    assert t("start_refused", other=1) == "Cannot start: {reasons}"
    assert say_text("turn_around", {"direction": "forward"}) == "Turn around: walk forward next"


def test_counts_take_the_singular_for_one():
    assert t("history_summary", sessions=1, minutes=5, speed="1.0", unit="mph").startswith("1 session ·")
    assert t("history_summary", sessions=2, minutes=5, speed="1.0", unit="mph").startswith("2 sessions ·")
    assert "1 weeks" not in t("chart_sessions_title", weeks=1) and "3 weeks" in t("chart_sessions_title", weeks=3)
    assert t("chart_speed_title", unit="mph", count=1).endswith("last session")
    assert t("export_done_count", count=1) == "1 session written"
    assert t("export_done_count", count="many") == "many sessions written"  # never raises


def test_the_gettext_template_is_up_to_date():
    import subprocess
    import sys

    done = subprocess.run([sys.executable, str(ROOT / "tools" / "make_pot.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_a_po_file_translates_words_and_plurals(tmp_path, monkeypatch):
    import shutil
    import subprocess

    from app.ui import text

    msgfmt = shutil.which("msgfmt")
    if not msgfmt:
        import pytest

        pytest.skip("msgfmt not installed (apt install gettext)")
    po = tmp_path / "de.po"
    po.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
                  '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
                  'msgid "Choose a program"\nmsgstr "Programm wählen"\n\n'
                  'msgid "{count} session written"\nmsgid_plural "{count} sessions written"\n'
                  'msgstr[0] "{count} Einheit gespeichert"\nmsgstr[1] "{count} Einheiten gespeichert"\n', encoding="utf-8")
    mo = tmp_path / "locale" / "de" / "LC_MESSAGES" / f"{text.DOMAIN}.mo"
    mo.parent.mkdir(parents=True)
    subprocess.run([msgfmt, "-o", str(mo), str(po)], check=True)
    monkeypatch.setattr(text, "LOCALE_DIR", tmp_path / "locale")
    try:
        text.set_language("de")
        assert t("home_title") == "Programm wählen"
        assert t("export_done_count", count=1) == "1 Einheit gespeichert"
        assert t("export_done_count", count=4) == "4 Einheiten gespeichert"
        assert t("home_guest") == "Guest"  # not translated yet: English, never blank
    finally:
        text.set_language(None)
    assert t("home_title") == "Choose a program"
