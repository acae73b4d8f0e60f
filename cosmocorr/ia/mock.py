"""A toy HOD + intrinsic-alignment forward model in a periodic box (paper sec. 3.3).

1. Halos (:func:`simulate_halos`): masses from a Schechter-like cumulative mass function
   n(>M) = 3e-3 (M / 1e12)^-0.9 exp(-M / 3e14) (h/Mpc)^3; positions in filaments: groups of
   halos scattered about uniform group centres, a Gaussian of width ``filament_length`` along a
   random filament direction and ``clustering_scale`` across it (so xi has a two-halo term);
   radii R_200m; NFW concentrations c = 9 (M / 1e12)^-0.13; major axes Dimroth-Watson
   distributed about the filament with strength ``halo_alignment`` (halos align with the
   filaments they sit in, which gives centrals a two-halo alignment signal).
2. Galaxies (:func:`populate`): centrals (Bernoulli, eq. 12) at the halo centre, satellites
   (Poisson, eq. 13) on an NFW profile truncated at R_200m and stretched along the halo's major
   axis (prolate, minor/major axis ratio ``axis_ratio``).
3. Alignments: central axes Dimroth-Watson distributed about the halo major axis with strength
   mu_cen, satellite axes about the direction from the halo centre (their central) with mu_sat
   (:mod:`cosmocorr.ia.watson`; mu > 0 parallel, mu < 0 perpendicular, 0 random).

Simplified relative to Halotools-IA (Van Alfen et al. 2024): no N-body halo catalogue (halo
positions are straight Gaussian filaments and halo axes follow them rather than measured tidal
fields), a fixed prolate satellite profile instead of the halo's
measured shape, no velocities or redshift space, constant (not radially dependent) alignment
strengths; projected shapes (for w_g+, w_++) come from the 3-D axes seen along z as prolate
spheroids of one axis ratio (:meth:`GalaxyCatalog.projected_shapes`). Everything is seeded and vectorised.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import check_positive_int, check_real, check_seed
from .estimators import DEFAULT_RBINS, ia_correlations
from .hod import HODParams, mean_ncen, mean_nsat
from .projected import wgp, wpp
from .watson import alignment_kappa, perpendicular_basis, random_unit_vectors, watson_axes

__all__ = ["HaloCatalog", "GalaxyCatalog", "simulate_halos", "populate", "cumulative_mass_function", "MAX_HALOS"]

#: Largest expected halo number :func:`simulate_halos` accepts (about 100 bytes each, plus temporaries).
MAX_HALOS = 5e7
RHO_MEAN = 2.775e11 * 0.3   # mean matter density, (M_sun/h) / (Mpc/h)^3, Omega_m = 0.3


def cumulative_mass_function(log_mass):
    """n(>M) in (h/Mpc)^3 of the toy halo mass function."""
    m = 10.0 ** np.asarray(log_mass, dtype=float)
    return 3e-3 * (m / 1e12) ** -0.9 * np.exp(-m / 3e14)


@dataclass
class HaloCatalog:
    """Halos in a periodic box: positions (n, 3) in Mpc/h, log10 masses, radii R_200m (Mpc/h),
    NFW concentrations and unit major axes (n, 3)."""

    positions: np.ndarray
    log_mass: np.ndarray
    radius: np.ndarray
    concentration: np.ndarray
    axes: np.ndarray
    box_size: float

    def __len__(self):
        return self.positions.shape[0]


@dataclass
class GalaxyCatalog:
    """Galaxies with positions (n, 3), orientation axes (n, 3), a central flag and the index of
    their halo; ``correlations`` measures xi, omega and eta in the periodic box."""

    positions: np.ndarray
    orientations: np.ndarray
    is_central: np.ndarray
    halo_index: np.ndarray
    box_size: float

    def __len__(self):
        return self.positions.shape[0]

    def correlations(self, rbins=DEFAULT_RBINS):
        """xi, omega and eta of these galaxies (:func:`~cosmocorr.ia.estimators.ia_correlations`, periodic box)."""
        return ia_correlations(self.positions, self.orientations, rbins, period=self.box_size)

    def projected_shapes(self, axis_ratio=0.6):
        """Projected orientations (n, 2) and ellipticities (n,) seen along z.

        Each galaxy is a prolate spheroid with minor/major axis ratio ``axis_ratio`` along its
        3-D axis a: seen at angle theta between a and the line of sight (sin^2 theta =
        a_x^2 + a_y^2) its projected axis ratio is q_p = sqrt(cos^2 theta + axis_ratio^2
        sin^2 theta), its ellipticity e = (1 - q_p) / (1 + q_p) and its orientation (a_x, a_y)
        normalised (a galaxy seen exactly along its axis is round, e = 0, orientation (1, 0)).
        """
        axis_ratio = check_real(axis_ratio, "axis_ratio", low=0.0, high=1.0, low_open=True)
        a = self.orientations / np.linalg.norm(self.orientations, axis=1, keepdims=True)
        sin2 = a[:, 0] ** 2 + a[:, 1] ** 2
        qp = np.sqrt((1.0 - sin2) + axis_ratio**2 * sin2)
        norm = np.sqrt(sin2)
        o = np.where(norm[:, None] > 0, a[:, :2] / np.where(norm > 0, norm, 1.0)[:, None], [1.0, 0.0])
        return o, (1.0 - qp) / (1.0 + qp)

    def projected_correlations(self, rp_bins, pi_max, axis_ratio=0.6):
        """w_g+ and w_++ (:func:`cosmocorr.ia.wgp`, :func:`cosmocorr.ia.wpp`; halotools'
        ``gi_plus_projected`` / ``ii_plus_projected``) of the galaxies in the periodic box, line of
        sight z, shapes from :meth:`projected_shapes`. Returns ``{"wgp": ..., "wpp": ...}``."""
        o, e = self.projected_shapes(axis_ratio)
        x = self.positions
        return {"wgp": wgp(x, o, e, x, rp_bins, pi_max, period=self.box_size),
                "wpp": wpp(x, o, e, x, o, e, rp_bins, pi_max, period=self.box_size)}


def simulate_halos(box_size=100.0, log_mass_min=11.0, log_mass_max=15.0, filament_length=4.0,
                   clustering_scale=0.3, halos_per_group=30, halo_alignment=0.9, seed=None):
    """Draw a halo catalogue (see module docstring), lengths in Mpc/h.

    ``filament_length=0`` gives uniform positions and isotropic axes; ``halo_alignment`` in
    [-1, 1] is the Watson strength of the major axes about their filament. Sizes must be finite
    (``box_size`` > 0, lengths >= 0) and the expected halo number at most :data:`MAX_HALOS`;
    otherwise a ValueError names the argument.
    """
    box_size = check_real(box_size, "box_size", low=0.0, low_open=True)
    log_mass_min = check_real(log_mass_min, "log_mass_min")
    log_mass_max = check_real(log_mass_max, "log_mass_max")
    if not log_mass_min < log_mass_max:
        raise ValueError("log_mass_min must be below log_mass_max")
    filament_length = check_real(filament_length, "filament_length", low=0.0)
    clustering_scale = check_real(clustering_scale, "clustering_scale", low=0.0)
    halo_alignment = check_real(halo_alignment, "halo_alignment", low=-1.0, high=1.0)
    halos_per_group = check_positive_int(halos_per_group, "halos_per_group")
    rng = np.random.default_rng(check_seed(seed))
    volume = box_size**3
    grid = np.linspace(log_mass_min, log_mass_max, 2001)
    cum = cumulative_mass_function(grid)
    expected = (cum[0] - cum[-1]) * volume
    if not expected <= MAX_HALOS:
        raise ValueError(f"box_size={box_size:g} and log_mass_min={log_mass_min:g} give about {expected:.3g} halos, "
                         f"more than MAX_HALOS={MAX_HALOS:.0e} (memory); use a smaller box or a higher log_mass_min")
    n = rng.poisson(expected)
    if n == 0:
        raise ValueError("box_size and log_mass_min leave no halos; enlarge the box or lower log_mass_min")
    frac = (cum[0] - cum) / (cum[0] - cum[-1])          # increasing from 0 to 1
    log_mass = np.interp(rng.uniform(size=n), frac, grid)
    alignment_kappa(halo_alignment)
    if filament_length > 0:
        n_groups = max(1, n // halos_per_group)
        centres = rng.uniform(0, box_size, (n_groups, 3))
        direction = random_unit_vectors(n_groups, rng)
        group = rng.integers(n_groups, size=n)
        along = rng.normal(0, filament_length, n)
        pos = centres[group] + along[:, None] * direction[group] + rng.normal(0, clustering_scale, (n, 3))
        axes = watson_axes(direction[group], halo_alignment, rng)
    else:
        pos = rng.uniform(0, box_size, (n, 3))
        axes = random_unit_vectors(n, rng)
    m = 10.0**log_mass
    radius = (3 * m / (4 * np.pi * 200 * RHO_MEAN)) ** (1 / 3)
    conc = 9.0 * (m / 1e12) ** -0.13
    return HaloCatalog(np.mod(pos, box_size), log_mass, radius, conc, axes, float(box_size))


def _nfw_radii(conc, rng, n_iter=50):
    """r / R_200m for an NFW profile truncated at R_200m (inverse CDF by bisection)."""
    def mass(x):
        cx = conc * x
        return np.log1p(cx) - cx / (1 + cx)

    target = rng.uniform(size=conc.size) * mass(np.ones_like(conc))
    lo, hi = np.zeros_like(conc), np.ones_like(conc)
    for _ in range(n_iter):
        mid = 0.5 * (lo + hi)
        below = mass(mid) < target
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


def populate(halos, hod, mu_cen, mu_sat, axis_ratio=0.6, seed=None):
    """Populate ``halos`` with galaxies and their orientations (one realisation).

    Parameters
    ----------
    halos : HaloCatalog
    hod : HODParams
        Occupation parameters (eqs. 12-13).
    mu_cen, mu_sat : float in [-1, 1]
        Central and satellite alignment strengths.
    axis_ratio : float in (0, 1]
        Minor/major axis ratio of the prolate satellite distribution.
    seed : int or numpy.random.Generator
    """
    if not isinstance(hod, HODParams):
        raise TypeError(f"hod must be an HODParams, got {type(hod).__name__}")
    if not isinstance(halos, HaloCatalog):
        raise TypeError(f"halos must be a HaloCatalog, got {type(halos).__name__}")
    alignment_kappa(mu_cen, "mu_cen")
    alignment_kappa(mu_sat, "mu_sat")
    axis_ratio = check_real(axis_ratio, "axis_ratio", low=0.0, high=1.0, low_open=True)
    rng = np.random.default_rng(check_seed(seed))
    has_cen = rng.uniform(size=len(halos)) < mean_ncen(halos.log_mass, hod)
    n_sat = rng.poisson(mean_nsat(halos.log_mass, hod))
    cen = np.flatnonzero(has_cen)
    sat_host = np.repeat(np.arange(len(halos)), n_sat)
    # satellites: NFW radius, isotropic direction stretched along the major axis
    a = halos.axes[sat_host]
    p, q = perpendicular_basis(a)
    u = random_unit_vectors(sat_host.size, rng)
    r = _nfw_radii(halos.concentration[sat_host], rng) * halos.radius[sat_host]
    offset = r[:, None] * (u[:, [0]] * a + axis_ratio * (u[:, [1]] * p + u[:, [2]] * q))
    offset_norm = np.linalg.norm(offset, axis=1, keepdims=True)
    radial = np.where(offset_norm > 0, offset / np.where(offset_norm > 0, offset_norm, 1.0), a)
    e_cen = watson_axes(halos.axes[cen], mu_cen, rng) if cen.size else np.empty((0, 3))
    e_sat = watson_axes(radial, mu_sat, rng) if sat_host.size else np.empty((0, 3))
    positions = np.concatenate([halos.positions[cen], np.mod(halos.positions[sat_host] + offset, halos.box_size)])
    return GalaxyCatalog(positions=positions, orientations=np.concatenate([e_cen, e_sat]),
                         is_central=np.concatenate([np.ones(cen.size, bool), np.zeros(sat_host.size, bool)]),
                         halo_index=np.concatenate([cen, sat_host]), box_size=halos.box_size)
