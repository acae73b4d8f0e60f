"""Galaxy intrinsic alignment (paper sec. 2.2, 3.3 and 7): 3-D xi/omega/eta estimators, a toy
HOD + IA forward model, the projected correlations w_g+ and w_++ (halotools' argument order), and
the surrogate experiment of Algorithm 3."""
from .estimators import DEFAULT_RBINS, IACorrelations, eta, ia_correlations, ia_pair_sums, omega, xi
from .hod import HOD_SETS, HODParams, mean_ncen, mean_nsat
from .mock import GalaxyCatalog, HaloCatalog, populate, simulate_halos
from .projected import wgp, wpp
from .watson import alignment_kappa, watson_axes

__all__ = ["DEFAULT_RBINS", "IACorrelations", "ia_correlations", "ia_pair_sums", "xi", "omega", "eta", "HODParams",
           "HOD_SETS", "mean_ncen", "mean_nsat", "HaloCatalog", "GalaxyCatalog", "simulate_halos", "populate",
           "alignment_kappa", "watson_axes", "wgp", "wpp"]
from .surrogate import IASurrogate
from .training import CORRELATIONS, IATrainingSet, simulate_training_set

__all__ += ["IASurrogate", "IATrainingSet", "simulate_training_set", "CORRELATIONS"]
