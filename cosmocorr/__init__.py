"""cosmocorr: correlation functions on the sky with soft clustering, clustering uncertainty,
differentiable estimators and surrogates (Berman, Pandya, McCleary et al. 2025, arXiv:2504.06174).

The package is layered (see docs/layout.md); data flows one way, catalog -> optional
cluster reduction -> pair sums on a backend -> result:

- :mod:`cosmocorr.sky`: geometry, bins, catalogs;
- :mod:`cosmocorr.backends`: the NumPy reference kernels and the lazy Julia bridge;
- :mod:`cosmocorr.estimators`: exact estimators; :mod:`cosmocorr.clustering`: fuzzy c-means;
- :mod:`cosmocorr.uncertainty`: Algorithm 1 and the uncertainty study;
- :mod:`cosmocorr.differentiable`, :mod:`cosmocorr.surrogate`, :mod:`cosmocorr.ia`;
- :mod:`cosmocorr.api`: the composed public estimators re-exported here.

The NumPy backend is the reference implementation; the bundled Julia module ``CosmoCorr`` is used
through juliacall when asked for (see :mod:`cosmocorr.backends`). ``import cosmocorr`` never
imports juliacall.
"""
from ._parallel import set_executor, set_num_threads
from ._warnings import ConvergenceWarning, CosmocorrWarning
from .api import estimate_multi_cov, landy_szalay, rho_statistics, shear_shear
from .api import count_scalar, count_shear, scalar_scalar, scalar_shear
from .backends import get_backend, set_backend
from .clustering import FuzzyCMeansResult, fuzzy_c_means, kmeans_plus_plus, max_membership, membership_entropy
from .differentiable import GradientResult, fit_G, gravity, simulate_catalog, soft_bin_weights, xi_plus_gradient
from .estimators import LandySzalayResult, RhoResult, ShearShearResult
from .estimators import CountScalarResult, CountShearResult, ScalarScalarResult, ScalarShearResult
from .sky import Bins, Catalog, StarCatalog, separation
from .uncertainty import UncertaintyResult, clustering_uncertainty
from .api import fit_psf_leakage, tau_statistics
from .estimators import PSFLeakageResult, TauResult
from . import ia

__version__ = "0.1.0"

__all__ = [
    "Bins", "Catalog", "StarCatalog", "separation", "shear_shear", "landy_szalay", "rho_statistics",
    "ShearShearResult", "LandySzalayResult", "RhoResult", "fuzzy_c_means", "kmeans_plus_plus",
    "FuzzyCMeansResult", "max_membership", "membership_entropy", "clustering_uncertainty", "UncertaintyResult",
    "estimate_multi_cov", "ConvergenceWarning", "CosmocorrWarning",
    "xi_plus_gradient", "fit_G", "GradientResult", "gravity", "simulate_catalog", "soft_bin_weights", "set_backend", "get_backend", "set_executor", "set_num_threads", "__version__",
    "count_shear", "count_scalar", "scalar_scalar", "scalar_shear", "CountShearResult", "CountScalarResult",
    "ScalarScalarResult", "ScalarShearResult",
]
__all__ += ["tau_statistics", "fit_psf_leakage", "TauResult", "PSFLeakageResult", "ia"]
