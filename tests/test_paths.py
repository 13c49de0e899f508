"""Where the app finds its own files: the package folder, without importlib.resources' readers for a
plain folder install, and a zipped install refused as before."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

from app import paths

ROOT = Path(__file__).resolve().parent.parent


def test_the_package_folder_is_the_one_importlib_resources_names():
    assert paths.package_dir() == resources.files("app")
    assert (paths.package_dir() / "__init__.py").is_file()


def test_the_bundled_assets_hold_the_built_in_programs():
    assert (paths.bundled_assets_dir() / "programs" / "beginner-flat.toml").is_file()


def test_a_zipped_install_is_refused_with_what_to_do(tmp_path):
    archive = tmp_path / "backstep.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for source in (ROOT / "app").rglob("*.py"):
            zipped.write(source, source.relative_to(ROOT).as_posix())
    env = dict(os.environ, PYTHONPATH=str(archive))
    env.pop("BACKSTEP_ASSETS", None)
    done = subprocess.run([sys.executable, "-c", "import app.paths; print(app.paths.__file__); app.paths.assets_dir()"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert done.stdout.startswith(str(archive)), done.stdout + done.stderr  # really the zipped copy
    assert done.returncode != 0
    assert "install it unzipped with pip" in done.stderr
