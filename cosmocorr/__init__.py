"""cosmocorr: correlation functions on the sky with soft clustering, clustering uncertainty,
differentiable estimators and surrogates (Berman, Pandya, McCleary et al. 2025, arXiv:2504.06174).

The NumPy backend is the reference implementation; the bundled Julia module ``CosmoCorr`` is used
through juliacall when asked for (see :mod:`cosmocorr.backend`). ``import cosmocorr`` never
imports juliacall.
"""
from .backend import get_backend, set_backend
from .bins import Bins
from .catalog import Catalog
from .geometry import separation
from .rho import RhoResult, StarCatalog, rho_statistics
from .twopoint import LandySzalayResult, ShearShearResult, landy_szalay, shear_shear

__version__ = "0.1.0"

__all__ = [
    "Bins", "Catalog", "StarCatalog", "separation", "shear_shear", "landy_szalay", "rho_statistics",
    "ShearShearResult", "LandySzalayResult", "RhoResult", "set_backend", "get_backend", "__version__",
]
