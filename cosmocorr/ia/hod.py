"""Zheng et al. (2007) halo occupation (paper sec. 3.3, eqs. 12-13).

    <N_cen(M)> = 1/2 [1 + erf((log M - log M_min) / sigma_logM)]                        (12)
    <N_sat(M)> = <N_cen(M)> ((M - M_0) / M_1)^alpha  for M > M_0, else 0                  (13)

Masses in M_sun/h, logarithms base 10. Centrals are Bernoulli draws, satellites Poisson draws.
"""
from __future__ import annotations

from dataclasses import astuple, dataclass, fields

import numpy as np
from scipy.special import erf

from .._validate import as_float_array, check_real

__all__ = ["HODParams", "HOD_SETS", "mean_ncen", "mean_nsat"]


@dataclass(frozen=True)
class HODParams:
    """The five occupation parameters of eqs. 12-13 (IAEmu's inputs 3-7)."""

    logMmin: float = 12.0
    sigma_logM: float = 0.26
    logM0: float = 12.0
    logM1: float = 13.3
    alpha: float = 1.0

    def __post_init__(self):
        for f in fields(self):
            object.__setattr__(self, f.name, check_real(getattr(self, f.name), f.name))
        if self.sigma_logM <= 0:
            raise ValueError(f"sigma_logM must be positive, got {self.sigma_logM}")
        if self.alpha < 0:
            raise ValueError(f"alpha must be non-negative, got {self.alpha}")

    def as_array(self):
        """The parameters as a float array, in field order."""
        return np.array(astuple(self), dtype=float)


#: Three occupation sets standing for the paper's stellar-mass cuts (fig. 12). They are
#: representative TNG300-like values chosen here (lower cut: lower M_min and M_1), not the
#: published Table C1 of Van Alfen et al. (2024), which is not distributed with this package.
HOD_SETS = {
    "logM*>=10.0": HODParams(logMmin=12.0, sigma_logM=0.25, logM0=12.0, logM1=13.2, alpha=1.0),
    "logM*>=9.5": HODParams(logMmin=11.7, sigma_logM=0.25, logM0=11.7, logM1=12.9, alpha=1.0),
    "logM*>=9.0": HODParams(logMmin=11.4, sigma_logM=0.25, logM0=11.4, logM1=12.6, alpha=1.0),
}


def _check(log_mass, hod):
    if not isinstance(hod, HODParams):
        raise TypeError(f"hod must be an HODParams, got {type(hod).__name__}")
    return as_float_array(log_mass, "log_mass", ndim=np.ndim(log_mass), allow_empty=True)


def mean_ncen(log_mass, hod):
    """<N_cen> of eq. 12 for halo masses log10(M / (M_sun/h))."""
    log_mass = _check(log_mass, hod)
    return 0.5 * (1.0 + erf((log_mass - hod.logMmin) / hod.sigma_logM))


def mean_nsat(log_mass, hod):
    """<N_sat> of eq. 13 (modulated by the central occupation, as the paper writes it)."""
    log_mass = _check(log_mass, hod)
    m, m0, m1 = 10.0**log_mass, 10.0**hod.logM0, 10.0**hod.logM1
    excess = (m - m0) / m1
    power = np.where(excess > 0, np.abs(excess) ** hod.alpha, 0.0)
    return mean_ncen(log_mass, hod) * power
