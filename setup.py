"""Build hook: ship the bundled Julia package ``CosmoCorr`` in the wheel, found by juliapkg.

juliapkg finds Julia dependencies in ``juliapkg.json`` files: in every ``sys.path`` entry, in
every direct sub-folder of one (only the first sub-folder of each name, as ``import`` does;
juliapkg >= 0.1.28) and in the package folders of setuptools editable installs. Each
``CosmoCorr`` entry gives a ``path``; two different paths are an error. The layout below gives
exactly one ``CosmoCorr`` path in every way of running cosmocorr::

    checkout                                    wheel (site-packages)
    julia/                  the Julia project   cosmocorr_julia/CosmoCorr/    copy of julia/ (no test/)
    juliapkg.json           Julia compat and    cosmocorr_julia/juliapkg.json CosmoCorr -> CosmoCorr,
                            registered deps,                                  plus the top-level entries
                            no CosmoCorr
    cosmocorr_julia/juliapkg.json  CosmoCorr -> ../julia
    cosmocorr/juliapkg.json        CosmoCorr -> ../julia  (editable installs; not in the wheel)

- installed, run anywhere else: only ``site-packages/cosmocorr_julia/juliapkg.json``;
- in the checkout (the repository root on ``sys.path``): ``cosmocorr_julia/`` and ``cosmocorr/``
  there, both pointing at ``julia/``; an installed copy's ``cosmocorr_julia`` folder comes later
  in ``sys.path`` and is skipped, as ``import`` would skip an installed ``cosmocorr``;
- editable (``pip install -e .``): ``cosmocorr/juliapkg.json`` through the editable finder;
- a checkout in a sub-folder of the working directory (``~/projects/cosmocorr``) next to an
  installed copy: that checkout's top-level ``juliapkg.json`` is found but names no
  ``CosmoCorr`` path, and its ``cosmocorr_julia/`` is two levels down, so only the installed
  copy's path counts. (Were the top-level file the one naming ``CosmoCorr``, it would clash
  with the installed path, or, the checkout being called ``cosmocorr``, hide an installed
  ``cosmocorr/juliapkg.json``; hence the separate ``cosmocorr_julia`` folder.)

The sdist carries ``julia/`` and the ``juliapkg.json`` files (MANIFEST.in), so the wheel can be
built from it.
"""
import json
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
ANCHOR_DIR = "cosmocorr_julia"   # folder holding the wheel's juliapkg.json (a sys.path sub-folder)
PACKAGED_JULIA_DIR = "CosmoCorr"  # the Julia project inside it


def packaged_juliapkg_spec(root=ROOT):
    """The wheel's juliapkg.json: the top-level entries plus CosmoCorr at the packaged path."""
    top = json.loads((root / "juliapkg.json").read_text())
    anchor = json.loads((root / ANCHOR_DIR / "juliapkg.json").read_text())
    packages = dict(top.get("packages", {}))
    if "CosmoCorr" in packages:
        raise ValueError("the top-level juliapkg.json must not name CosmoCorr (see setup.py)")
    entry = dict(anchor["packages"]["CosmoCorr"])
    entry["path"] = PACKAGED_JULIA_DIR
    packages["CosmoCorr"] = entry
    spec = {"packages": packages}
    julia = anchor.get("julia", top.get("julia"))
    if julia is not None:
        spec = {"julia": julia, "packages": packages}
    return spec


class BuildPyWithJulia(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # editable installs use the checkout's files in place
        build_lib = Path(self.build_lib)
        stale = build_lib / "cosmocorr" / "juliapkg.json"
        if stale.exists():  # the checkout's editable anchor points at ../julia: not for wheels
            stale.unlink()
        target = build_lib / ANCHOR_DIR
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(ROOT / "julia", target / PACKAGED_JULIA_DIR,
                        ignore=shutil.ignore_patterns("test", "Manifest*.toml", ".*"))
        (target / "juliapkg.json").write_text(json.dumps(packaged_juliapkg_spec(), indent=4) + "\n")


setup(cmdclass={"build_py": BuildPyWithJulia})
