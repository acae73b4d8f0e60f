"""Build hook: ship the top-level ``julia/`` package and ``juliapkg.json`` inside the wheel.

The repository keeps the Julia sources at the top level (``julia/``, ``juliapkg.json``), as the
design card asks. An installed ``cosmocorr`` must carry them inside the package directory so
that juliapkg finds ``cosmocorr/juliapkg.json`` after ``pip install`` (the PySR layout). The
sources go to ``cosmocorr/CosmoCorr/`` (``cosmocorr/julia.py`` is the Python bridge, so the
name ``julia`` is taken) and the packaged ``juliapkg.json`` points its dev path there.
"""
import json
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
PACKAGED_JULIA_DIR = "CosmoCorr"


class BuildPyWithJulia(build_py):
    def run(self):
        super().run()
        target = Path(self.build_lib) / "cosmocorr"
        spec = json.loads((ROOT / "juliapkg.json").read_text())
        spec["packages"]["CosmoCorr"]["path"] = PACKAGED_JULIA_DIR
        (target / "juliapkg.json").write_text(json.dumps(spec, indent=4) + "\n")
        dest = target / PACKAGED_JULIA_DIR
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(ROOT / "julia", dest, ignore=shutil.ignore_patterns("test", "Manifest.toml"))


setup(cmdclass={"build_py": BuildPyWithJulia})
