"""Shared fixtures: where the reference data lives, and skips when it is absent."""
import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("COSMOCORR_SHARED_DATA", ROOT.parent / "shared" / "data"))
COSMOS_FITS = DATA / "cosmos_web" / "f115w_validation_psfex.fits"
IAEMU_DIR = DATA / "iaemu"
PAPER_RHO = DATA / "paper" / "rho_stats_paper.json"


def _need(path):
    if not Path(path).exists():
        pytest.skip(f"reference data not found at {path} (set COSMOCORR_SHARED_DATA or place ../shared/data beside the repo)")
    return Path(path)


@pytest.fixture
def cosmos_fits():
    """Path to the real COSMOS-Web F115W star catalog (skips when absent)."""
    return _need(COSMOS_FITS)


@pytest.fixture(scope="session")
def iaemu_dir():
    """Directory holding iaemu.pt and reference_outputs.npz (skips when absent)."""
    _need(IAEMU_DIR / "iaemu.pt")
    return IAEMU_DIR


@pytest.fixture
def paper_rho_json():
    return _need(PAPER_RHO)


@pytest.fixture
def rng():
    return np.random.default_rng(20250406)
