"""Only what pyproject.toml cannot say: ship the repository's top-level ``assets/`` folder (the
built-in programs, fonts and sounds) inside the ``app`` package, as ``app/assets``.

``assets/`` stays at the top of the repository, where people look for it and edit it; installed, it
is the data package ``app.assets`` (each sub-folder a package of its own, so setuptools ships it
without warnings), and ``app.paths`` finds it with ``importlib.resources``. The package list is
found, not written out, so a new sub-package is never left out of the wheel.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).resolve().parent
ASSET_PACKAGES = ["app.assets", *(f"app.assets.{folder.name}" for folder in sorted((HERE / "assets").iterdir())
                                  if folder.is_dir())]

setup(
    packages=[*find_packages(where=str(HERE), include=["app", "app.*", "hardware", "hardware.*"]), *ASSET_PACKAGES],
    package_dir={"app.assets": "assets"},  # and so app.assets.fonts -> assets/fonts, ...
    package_data={"app": ["py.typed", "locale/*.pot", "locale/*/LC_MESSAGES/*.mo"], **{name: ["*"] for name in ASSET_PACKAGES}},
)
