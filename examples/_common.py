"""Shared helpers for the example scripts: data paths, figure options and the catalogs to use.

Reference data is found through one setting, the environment variable ``COSMOCORR_SHARED_DATA``
(default: ``../shared/data`` beside the repository), as for the tests and the benchmarks. An example
that needs data it cannot find says so and exits cleanly (status 0, nothing written).
"""
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("COSMOCORR_SHARED_DATA", ROOT.parent / "shared" / "data"))
COSMOS = SHARED / "cosmos_web" / "f115w_validation_psfex.fits"
IAEMU = SHARED / "iaemu" / "iaemu.pt"
OUTDIR = ROOT / "examples" / "output"


def add_figure_args(ap):
    """--format (png, pdf, svg) and --dpi, on every example."""
    ap.add_argument("--format", default="png", choices=["png", "pdf", "svg"],
                    help="figure format (pdf/svg for papers) (default: png)")
    ap.add_argument("--dpi", type=float, default=200, help="figure resolution for png (default: 200)")
    return ap


def save(fig, out, stem, args):
    """Save ``fig`` as ``out/stem.<format>`` at ``--dpi`` (shared style: cosmocorr.plotting.save_figure)."""
    import matplotlib.pyplot as plt

    from cosmocorr.plotting import save_figure

    path = save_figure(fig, Path(out) / f"{stem}.{args.format}", dpi=args.dpi)
    plt.close(fig)
    print(f"wrote {path}")
    return path


def missing_data(path, what):
    """Say which data is missing and how to point at it, then exit cleanly."""
    sys.stderr.write(f"{Path(sys.argv[0]).name}: needs {what} at {path}, which is absent.\n"
                     "Set COSMOCORR_SHARED_DATA to the directory holding the reference data "
                     "(see the README, 'Reference data'); nothing was written.\n")
    sys.exit(0)


def load_stars(path, allow_synthetic=True):
    """The star catalog at ``path``, or (``allow_synthetic``) the built-in synthetic one when absent."""
    import cosmocorr as cc
    from cosmocorr.sky.synthetic import synthetic_star_catalog

    if path and Path(path).exists():
        print(f"catalog: {path}")
        return cc.StarCatalog.read(path), Path(path).name
    if not allow_synthetic:
        missing_data(path, "the COSMOS-Web star catalog")
    print(f"catalog {path} not found: using the built-in SYNTHETIC star catalog (610 stars, seed 0) instead "
          "(set COSMOCORR_SHARED_DATA for the real one)")
    return synthetic_star_catalog(610, seed=0), "synthetic"


def outdir(path):
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    return p


def load_iaemu(path, allow_random=False):
    """The published IAEmu checkpoint; without it, exit cleanly unless ``allow_random``
    (``--random-network``: a randomly initialised network of the same architecture, code paths only)."""
    from cosmocorr.surrogate import IAEmu

    if path and Path(path).exists():
        print(f"IAEmu checkpoint: {path}")
        return IAEmu.from_checkpoint(path), True
    if not allow_random:
        missing_data(path, "the IAEmu checkpoint (iaemu/iaemu.pt)")
    print("IAEmu checkpoint not found: using a RANDOMLY INITIALISED network with the same architecture "
          "(--random-network: shapes and code paths only; the numbers mean nothing)")
    return IAEmu.random(0), False
