"""Shared helpers for the example scripts: default paths and the star catalog to use."""
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
COSMOS = SHARED / "cosmos_web" / "f115w_validation_psfex.fits"
IAEMU = SHARED / "iaemu" / "iaemu.pt"
OUTDIR = ROOT / "examples" / "output"


def load_stars(path):
    """The star catalog at ``path``, or the built-in synthetic one when no path/file is given."""
    import cosmocorr as cc
    from cosmocorr.sky.synthetic import synthetic_star_catalog

    if path and Path(path).exists():
        print(f"catalog: {path}")
        return cc.StarCatalog.from_fits(path), Path(path).name
    print("catalog: built-in synthetic star catalog (610 stars, seed 0)")
    return synthetic_star_catalog(610, seed=0), "synthetic"


def outdir(path):
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p


def load_iaemu(path):
    """The published IAEmu checkpoint, or a randomly initialised network of the same architecture."""
    from cosmocorr.surrogate import IAEmu

    if path and Path(path).exists():
        print(f"IAEmu checkpoint: {path}")
        return IAEmu.from_checkpoint(path), True
    print("IAEmu checkpoint not found: using a RANDOMLY INITIALISED network with the same architecture "
          "(shapes and code paths only; the numbers mean nothing)")
    return IAEmu.random(0), False
