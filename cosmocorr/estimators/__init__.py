"""The exact estimators: every pair counted, no clustering (paper secs. 2.1, 5; eqs. 1-8).

Owns the all-pairs sums on a backend (:mod:`.pair_sums`), shear-shear xi+/xi- (:mod:`.shear_shear`),
Landy-Szalay omega(theta) (:mod:`.landy_szalay`), the rho statistics (:mod:`.rho`) and their result
types. Imports :mod:`cosmocorr.sky` and :mod:`cosmocorr.backends` only; it knows nothing of
clustering or uncertainty (those layers build on it).
"""
from .covariance import CROSS_PATCH_WEIGHTS, VAR_METHODS, check_var_method, estimate_multi_cov
from .landy_szalay import LandySzalayResult, landy_szalay
from .pair_sums import METHODS, check_method, naive_pair_sums, tree_pair_sums
from .rho import RHO_FIELDS, RhoResult, rho_pair_sums, rho_statistics
from .shear_shear import ShearShearResult, shear_shear

__all__ = ["ShearShearResult", "LandySzalayResult", "RhoResult", "shear_shear", "landy_szalay", "rho_statistics",
           "naive_pair_sums", "rho_pair_sums", "RHO_FIELDS", "estimate_multi_cov", "VAR_METHODS",
           "CROSS_PATCH_WEIGHTS", "check_var_method", "tree_pair_sums", "METHODS", "check_method"]
