"""The uncertainty layer: clustered estimates and their uncertainties (paper sec. 2.3, 5; Algorithm 1).

Owns Algorithm 1's repeated estimation over sampled assignments (:mod:`.algorithm1`), the
resampling of objects (:mod:`.resampling`) and the epistemic-versus-aleatoric study
(:mod:`.clustering_uncertainty`). Builds on :mod:`cosmocorr.clustering` and
:mod:`cosmocorr.estimators`, which know nothing of it.
"""
from .algorithm1 import (ClusteredCountScalarResult, ClusteredCountShearResult, ClusteredLandySzalayResult,
                         ClusteredScalarScalarResult, ClusteredScalarShearResult, ClusteredShearShearResult,
                         clustered_field_correlation, clustered_landy_szalay, clustered_rho_statistics,
                         clustered_shear_shear)
from .clustering_uncertainty import ALEATORIC_METHODS, UncertaintyResult, clustering_uncertainty

__all__ = ["ClusteredShearShearResult", "ClusteredLandySzalayResult", "clustered_shear_shear",
           "clustered_landy_szalay", "clustered_rho_statistics", "UncertaintyResult", "clustering_uncertainty",
           "ALEATORIC_METHODS", "clustered_field_correlation", "ClusteredCountShearResult",
           "ClusteredCountScalarResult", "ClusteredScalarScalarResult", "ClusteredScalarShearResult"]
