"""The differentiable layer: d(correlation)/d(parameter) through a forward model (paper sec. 6).

Owns dual numbers (:mod:`.dual`), soft bins (:mod:`.soft_bin_weights`, eqs. 22-23), the gravity
forward model with its sensitivities (:mod:`.gravity`), the soft estimator (:mod:`.soft_estimator`),
per-object JVPs and VJPs of the soft estimators (:mod:`.object_derivatives` on
the tiled pair sums of :mod:`.soft_pair_sums`), the clustering approaches a/b/c (:mod:`.approaches`, eqs. 20-21) and the gradient and inverse
problem (:mod:`.gradient`: ``xi_plus_gradient``, ``fit_G``). Builds on clustering, sky and backends.
"""
from .gradient import GradientResult, fit_G, xi_plus_gradient
from .gravity import simulate_catalog
from .soft_bin_weights import soft_bin_weights
from .soft_estimator import soft_xi_plus
from .object_derivatives import (SoftLandySzalayResult, SoftRhoResult, SoftShearShearResult, exact_shear_shear,
                                 exact_shear_shear_vjp, soft_landy_szalay, soft_landy_szalay_vjp, soft_rho,
                                 soft_rho_vjp, soft_shear_shear, soft_shear_shear_vjp)

__all__ = ["GradientResult", "xi_plus_gradient", "fit_G", "simulate_catalog", "soft_bin_weights", "soft_xi_plus",
           "SoftShearShearResult", "SoftLandySzalayResult", "SoftRhoResult", "soft_shear_shear",
           "soft_shear_shear_vjp", "exact_shear_shear", "exact_shear_shear_vjp", "soft_landy_szalay",
           "soft_landy_szalay_vjp", "soft_rho", "soft_rho_vjp"]
