"""The installed Backstep is whole: a wheel built by the installer's own build step carries the
built-in programs, fonts and sounds, and works from a fresh venv, run from a folder outside the
checkout. Building writes nothing into the checkout, and an update deletes a module deleted from the
source.

The wheel is built and installed by ``deploy/install.sh``'s own ``install_wheel`` (the script is
sourced, so exactly the installer's commands run) into a fresh venv. Its dependencies (pygame-ce,
sqlite-utils, ...) are taken from the venv running the tests through a ``.pth`` line, so no
dependency is downloaded; ``pip check`` still checks the wheel's declared requirements against them.
pip fetches the build backend (setuptools) as for any build.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "deploy" / "install.sh"
ASSETS = ROOT / "assets"
RETIRED = "app/retired_module.py"

pytestmark = pytest.mark.slow


def _checkout_files(root: Path) -> set[str]:
    """Every path in the checkout but the version-control data and the developer's venv."""
    found = set()
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        if rel == Path("."):
            dirs[:] = [d for d in dirs if d not in (".git", ".venv")]
        found.update(str(rel / name) for name in dirs + files)
    return found


def _install_wheel(source: Path, venv: Path, env: dict) -> None:
    """deploy/install.sh's install_wheel: build outside the checkout, force-reinstall into *venv*."""
    script = 'script=$1 source=$2 venv=$3; set --; source "$script"; SOURCE=$source VENV=$venv EXTRAS=; install_wheel'
    result = subprocess.run(["bash", "-c", script, "install.sh", str(INSTALL), str(source), str(venv)],
                            capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def _copy_of_checkout(dest: Path) -> Path:
    subprocess.run(f"tar -C '{ROOT}' -cf - --exclude=./.git --exclude=./.venv --exclude=__pycache__ "
                   f"--exclude='*.egg-info' --exclude=./build . | tar -C '{dest}' -xf -",
                   shell=True, check=True)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv updated from an old checkout (with a module since deleted) to this checkout."""
    tmp = tmp_path_factory.mktemp("wheel")
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # The dependencies come from the test venv; its own .pth files (an editable backstep) are not read.
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site / "zz-backstep-test-deps.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "BACKSTEP_", "VIRTUAL_ENV"))}

    old = _copy_of_checkout(tmp_path_factory.mktemp("old-checkout"))
    (old / RETIRED).write_text('"""A module a later version deletes."""\n')
    _install_wheel(old, venv, env)
    retired_before = (site / RETIRED).exists()

    before = _checkout_files(ROOT)
    _install_wheel(ROOT, venv, env)
    after = _checkout_files(ROOT)

    home = tmp / "home"
    home.mkdir()
    (home / "config.toml").write_text("")
    run_env = dict(env, HOME=str(home), SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy",
                   BACKSTEP_DB=str(home / "backstep.db"), BACKSTEP_CONFIG=str(home / "config.toml"))
    return {"venv": venv, "site": site, "home": home, "env": run_env, "retired_before": retired_before,
            "new_files": sorted(after - before), "gone_files": sorted(before - after)}


def _run(installed, *argv: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """A command of the installed venv, from a folder outside the checkout."""
    return subprocess.run([*argv], capture_output=True, text=True, cwd=installed["home"], env=installed["env"],
                          timeout=timeout)


def test_building_and_installing_writes_nothing_into_the_checkout(installed):
    assert installed["new_files"] == [] and installed["gone_files"] == []


def test_an_update_deletes_a_module_deleted_from_the_source(installed):
    assert installed["retired_before"], "the old checkout's module was not installed: the test proves nothing"
    assert not (installed["site"] / RETIRED).exists()


def test_the_wheel_carries_every_asset(tmp_path):
    wheel = subprocess.run([str(ROOT / "deploy" / "build-wheel.sh"), "--python", sys.executable, str(ROOT), str(tmp_path)],
                           capture_output=True, text=True, timeout=600)
    assert wheel.returncode == 0, wheel.stderr[-3000:]
    names = set(zipfile.ZipFile(wheel.stdout.strip()).namelist())
    expected = {f"app/assets/{p.relative_to(ASSETS)}" for p in ASSETS.rglob("*") if p.is_file()}
    assert expected and expected <= names, sorted(expected - names)
    assert {"app/assets/fonts/LICENSE-DejaVu.txt", "app/assets/sounds/LICENSE.txt"} <= names


def test_installed_package_is_the_one_in_the_venv_and_its_requirements_hold(installed):
    where = _run(installed, str(installed["venv"] / "bin" / "python"), "-c",
                 "import app, app.paths; print(app.__file__); print(app.paths.assets_dir())")
    assert where.returncode == 0, where.stderr
    app_file, assets = where.stdout.split()
    assert Path(app_file).is_relative_to(installed["site"])
    assert Path(assets) == installed["site"] / "app" / "assets"
    check = _run(installed, str(installed["venv"] / "bin" / "python"), "-m", "pip", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_installed_backstep_lists_the_built_in_programs(installed):
    result = _run(installed, str(installed["venv"] / "bin" / "backstep"), "programs", "list", "--json")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert len(listed) == len(list((ASSETS / "programs").glob("*.toml")))
    assert "beginner-flat" in {p["id"] for p in listed}


def test_installed_demo_writes_a_screenshot_of_every_screen(installed):
    shots = installed["home"] / "shots"
    result = _run(installed, str(installed["venv"] / "bin" / "backstep"), "demo", "--headless", "--screenshots", str(shots))
    assert result.returncode == 0, result.stderr[-3000:]
    pngs = sorted(shots.glob("*.png"))
    assert len(pngs) > 10 and all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)


def test_installed_simulate_runs_a_built_in_program(installed):
    script = installed["home"] / "rails.txt"
    script.write_text("0 lanyard clipped\n0 rails held\n1 tap start\n20 lanyard pulled\n25 end\n")
    result = _run(installed, str(installed["venv"] / "bin" / "backstep"), "simulate", "--program", "beginner-flat",
                  "--script", str(script), "--db", str(installed["home"] / "sim.db"), "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["status"] == "emergency_stop"


FONT_CHECK = """
import hashlib, sys, pygame
pygame.font.init()
from app.ui.theme import Fonts
def digest(surface):
    return hashlib.sha256(pygame.image.tobytes(surface, "RGBA")).hexdigest()
text, px, white = "Backstep 42 km/h", 40, (255, 255, 255)
print(digest(Fonts().render(text, px, white)))
print(digest(pygame.font.Font(sys.argv[1], px).render(text, True, white)))
print(digest(pygame.font.Font(None, px).render(text, True, white)))
"""


def test_installed_text_is_drawn_in_the_bundled_font(installed):
    """The chart PNGs and every screen use Fonts(): its text is pixel for pixel DejaVu Sans from the
    repository, not pygame's default font (which a missing font file silently falls back to)."""
    result = _run(installed, str(installed["venv"] / "bin" / "python"), "-c", FONT_CHECK,
                  str(ASSETS / "fonts" / "DejaVuSans.ttf"))
    assert result.returncode == 0, result.stderr
    ours, dejavu, default = result.stdout.split()[-3:]  # after pygame's greeting
    assert default != dejavu  # the check can tell the fonts apart
    assert ours == dejavu


def test_the_sdist_carries_what_it_takes_to_build_install_and_test(tmp_path):
    """`python -m build` makes the sdist, then the wheel from the unpacked sdist: so the wheel's assets
    come through the sdist. The sdist also holds the installer, the docs and the tests, which run."""
    pytest.importorskip("build")
    (tmp_path / "src").mkdir()
    source = _copy_of_checkout(tmp_path / "src")  # setuptools writes its egg-info into the source
    out = tmp_path / "dist"
    result = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    sdist = next(out.glob("backstep-*.tar.gz"))
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        tar.extractall(tmp_path / "unpacked", filter="data")
    tracked = [p.relative_to(ROOT).as_posix() for folder in ("assets", "deploy", "tests", "docs")
               if (ROOT / folder).is_dir() for p in (ROOT / folder).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts]
    missing = sorted(set(tracked) - names)
    assert tracked and not missing, missing
    assert {"README.md", "setup.py", "pyproject.toml", "MANIFEST.in", "dev", ".ci/run"} <= names
    wheel = set(zipfile.ZipFile(next(out.glob("backstep-*.whl"))).namelist())
    assert {f"app/assets/{p.relative_to(ASSETS)}" for p in ASSETS.rglob("*") if p.is_file()} <= wheel
    unpacked = next((tmp_path / "unpacked").iterdir())
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_dependency_rule.py"],
                           capture_output=True, text=True, cwd=unpacked, timeout=300,
                           env=dict(os.environ, PYTHONPATH=str(unpacked)))
    assert tests.returncode == 0, tests.stdout[-3000:]
