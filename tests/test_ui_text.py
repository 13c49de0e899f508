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
