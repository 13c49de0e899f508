"""``./dev test`` runs every test (what CI runs); ``./dev quick`` and ``./dev test --quick`` leave out
the ones marked slow. Checked by running the real script on a tiny suite of one quick and one slow
test, with this virtual environment standing in for the checkout's ``.venv``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

SUITE = '''
import pytest

def test_quick():
    pass

@pytest.mark.slow
def test_slow():
    pass
'''


@pytest.fixture
def checkout(tmp_path):
    """A folder laid out as the checkout: the real ``dev``, a ``.venv`` that is already set up."""
    if not (Path(sys.prefix) / ".installed").exists():
        pytest.skip("not running from a venv that ./dev set up (no .installed stamp): ./dev would install one")
    shutil.copy(ROOT / "dev", tmp_path / "dev")
    (tmp_path / ".venv").symlink_to(sys.prefix)
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\nmarkers =\n    slow: slow\n")
    (tmp_path / "test_tiny.py").write_text(SUITE)
    return tmp_path


def dev(checkout: Path, *args: str) -> str:
    result = subprocess.run(["bash", str(checkout / "dev"), *args, "-q", "test_tiny.py"], cwd=checkout,
                            capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"})
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_dev_test_runs_the_slow_tests_too(checkout):
    assert "2 passed" in dev(checkout, "test")


@pytest.mark.parametrize("args", [("quick",), ("test", "--quick")])
def test_the_quick_mode_leaves_the_slow_tests_out(checkout, args):
    out = dev(checkout, *args)
    assert "1 passed, 1 deselected" in out, out
