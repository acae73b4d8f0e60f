"""cosmocorr: correlation functions on the sky with soft clustering, clustering uncertainty,
differentiable estimators and surrogates (Berman, Pandya, McCleary et al. 2025, arXiv:2504.06174).

The NumPy backend is the reference implementation; the bundled Julia module ``CosmoCorr`` is used
through juliacall when asked for (see :mod:`cosmocorr.backend`). ``import cosmocorr`` never
imports juliacall.
"""
from .backend import get_backend, set_backend
from .bins import Bins
from .catalog import Catalog
from .clustering import FuzzyCMeansResult, fuzzy_c_means, kmeans_plus_plus, max_membership, membership_entropy
from .differentiable import GradientResult, fit_G, xi_plus_gradient
from .geometry import separation
from .gravity import simulate_catalog
from .soft_binning import soft_bin_weights
from .rho import RhoResult, StarCatalog, rho_statistics
from .uncertainty import UncertaintyResult, clustering_uncertainty
from .twopoint import LandySzalayResult, ShearShearResult, landy_szalay, shear_shear

__version__ = "0.1.0"

__all__ = [
    "Bins", "Catalog", "StarCatalog", "separation", "shear_shear", "landy_szalay", "rho_statistics",
    "ShearShearResult", "LandySzalayResult", "RhoResult", "fuzzy_c_means", "kmeans_plus_plus",
    "FuzzyCMeansResult", "max_membership", "membership_entropy", "clustering_uncertainty", "UncertaintyResult",
    "xi_plus_gradient", "fit_G", "GradientResult", "simulate_catalog", "soft_bin_weights", "set_backend", "get_backend", "__version__",
]
