"""Build hook: ship the top-level ``julia/`` package and ``juliapkg.json`` inside the wheel.

The repository keeps the Julia sources at the top level (``julia/``, ``juliapkg.json``), as the
design card asks; an installed ``cosmocorr`` must carry them inside the package directory so that
juliapkg finds ``cosmocorr/juliapkg.json`` and its dev dependency ``cosmocorr/julia`` after
``pip install`` (the PySR layout).  This copies them into the build tree at build time.
"""
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildPyWithJulia(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "cosmocorr"
        shutil.copy2(ROOT / "juliapkg.json", target / "juliapkg.json")
        dest = target / "julia"
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(ROOT / "julia", dest, ignore=shutil.ignore_patterns("test", "Manifest.toml"))


setup(cmdclass={"build_py": BuildPyWithJulia})
