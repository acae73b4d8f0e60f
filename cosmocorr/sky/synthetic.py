"""Built-in seeded synthetic catalogs, so that every command and example runs without data
(stand-ins for the paper's COSMOS-Web star catalog, sec. 5).

:func:`synthetic_star_catalog` mimics a PSF validation star catalog such as the COSMOS-Web F115W
one used in the paper (a few hundred stars over ~0.6 deg^2): a smooth, spatially coherent PSF
ellipticity and size pattern, a PSF model that reproduces it imperfectly (a smooth residual of
lower amplitude), and measurement noise on the stars.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_positive_int
from .catalog import Catalog
from .stars import StarCatalog

__all__ = ["synthetic_star_catalog", "synthetic_shear_catalog", "gaussian_shear_catalog", "uniform_randoms",
           "synthetic_psf_leakage", "leaky_galaxies_for_stars"]


def _field(x, y, rng, amplitude, n_modes=4, k_range=(0.5, 2.0)):
    """A smooth random field on the unit square: a sum of a few low-order Fourier modes
    (``k_range``: wave numbers per unit length, in cycles)."""
    out = np.zeros_like(x)
    for _ in range(n_modes):
        kx, ky = rng.uniform(*k_range, 2) * 2 * np.pi
        phase = rng.uniform(0, 2 * np.pi)
        out += rng.normal() * np.cos(kx * x + ky * y + phase)
    return amplitude * out / np.sqrt(n_modes)


def synthetic_star_catalog(n_stars=610, seed=0, ra0=150.12, dec0=2.2, width_deg=0.77,
                           psf_e=0.03, residual_e=0.004, noise_e=0.003, sigma0=1.1):
    """A seeded synthetic PSF star catalog (positions, star and model ellipticities and sizes).

    Parameters
    ----------
    n_stars : int
        Number of stars (610 like the COSMOS-Web validation sample).
    seed : int
        Seed of the ``numpy.random.Generator``; the same seed gives the same catalog.
    ra0, dec0, width_deg : float
        Centre and side of the square field (degrees).
    psf_e, residual_e, noise_e : float
        RMS amplitudes of the PSF ellipticity pattern, of the model's smooth residual and of the
        measurement noise on the stars.
    sigma0 : float
        Typical PSF sigma (pixels); T = 2 sigma^2.

    Returns
    -------
    StarCatalog
    """
    n_stars = check_positive_int(n_stars, "n_stars")
    rng = np.random.default_rng(seed)
    u, v = rng.uniform(0, 1, n_stars), rng.uniform(0, 1, n_stars)
    dec = dec0 + (v - 0.5) * width_deg
    ra = ra0 + (u - 0.5) * width_deg / np.cos(np.radians(dec0))
    e1 = _field(u, v, rng, psf_e)
    e2 = _field(u, v, rng, psf_e)
    sigma = sigma0 * (1.0 + _field(u, v, rng, 0.03))
    r1 = _field(u, v, rng, residual_e)
    r2 = _field(u, v, rng, residual_e)
    sigma_model = sigma * (1.0 + _field(u, v, rng, 0.004))
    g1_star = e1 + rng.normal(0, noise_e, n_stars)
    g2_star = e2 + rng.normal(0, noise_e, n_stars)
    sig_star = sigma * (1.0 + rng.normal(0, 0.003, n_stars))
    return StarCatalog(ra, dec, g1_star, g2_star, 2 * sig_star**2, e1 - r1, e2 - r2, 2 * sigma_model**2)


def synthetic_shear_catalog(n=1000, seed=0, ra0=150.0, dec0=2.2, width_deg=1.0, shape_noise=0.2,
                            signal=0.02, weighted=False):
    """A seeded Catalog with a smooth shear signal plus shape noise (optionally random weights)."""
    n = check_positive_int(n, "n")
    rng = np.random.default_rng(seed)
    u, v = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    dec = dec0 + (v - 0.5) * width_deg
    ra = ra0 + (u - 0.5) * width_deg / np.cos(np.radians(dec0))
    g1 = _field(u, v, rng, signal) + rng.normal(0, shape_noise, n)
    g2 = _field(u, v, rng, signal) + rng.normal(0, shape_noise, n)
    w = rng.uniform(0.2, 2.0, n) if weighted else None
    return Catalog(ra, dec, g1, g2, w)


def gaussian_shear_catalog(n=10000, seed=0, ra0=150.0, dec0=2.2, width_deg=2.0, shape_noise=0.2,
                           signal=0.02, scale_arcmin=10.0, grid=256):
    """A seeded Catalog carrying a Gaussian random (E-mode) shear field plus shape noise.

    The convergence is a Gaussian random field on a flat periodic square twice the field's
    side (so that the periodicity is beyond every separation inside the field), with power
    spectrum P(k) proportional to k^-1 exp(-(k s)^2) (``s = scale_arcmin``); the shear is its
    Kaiser-Squires transform, gamma(k) = (k1^2 - k2^2 + 2 i k1 k2) / k^2 kappa(k), scaled to an
    RMS of ``signal`` per component, and interpolated (bilinear) to the positions, which are
    uniform in an RA/Dec box as :func:`synthetic_shear_catalog`. xi+ of such a field is positive
    and falls off over a few ``scale_arcmin``; xi- changes sign.

    Parameters
    ----------
    n : int
        Number of objects.
    seed : int, SeedSequence or Generator
        Seed of the ``numpy.random.Generator`` (field, positions and noise).
    ra0, dec0, width_deg : float
        Centre and side of the field (degrees).
    shape_noise : float
        Standard deviation of the Gaussian shape noise per component (0: noise-free).
    signal : float
        RMS of each shear component of the field.
    scale_arcmin : float
        Smoothing scale of the power spectrum (arcmin).
    grid : int
        Grid points per side of the periodic square.

    Returns
    -------
    Catalog
    """
    from scipy.ndimage import map_coordinates

    n = check_positive_int(n, "n")
    grid = check_positive_int(grid, "grid", minimum=8)
    rng = np.random.default_rng(seed)
    side = 2.0 * width_deg * 60.0                      # arcmin, periodic square
    k = 2 * np.pi * np.fft.fftfreq(grid, d=side / grid)
    k1, k2 = np.meshgrid(k, k, indexing="ij")
    ksq = k1**2 + k2**2
    with np.errstate(divide="ignore", invalid="ignore"):
        amp = np.where(ksq > 0, np.sqrt(np.exp(-ksq * scale_arcmin**2) / np.sqrt(ksq)), 0.0)
        kernel = np.where(ksq > 0, (k1**2 - k2**2 + 2j * k1 * k2) / ksq, 0.0)
    kappa_k = np.fft.fft2(rng.standard_normal((grid, grid))) * amp
    gamma = np.fft.ifft2(kernel * kappa_k)
    gamma *= signal / np.sqrt(0.5 * np.mean(np.abs(gamma) ** 2))
    u, v = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    dec = dec0 + (v - 0.5) * width_deg
    ra = ra0 + (u - 0.5) * width_deg / np.cos(np.radians(dec0))
    # flat coordinates of each object in grid units: east (ra cos dec) and north offsets, arcmin
    x = (ra - ra0) * np.cos(np.radians(dec)) * 60.0 / side * grid + grid / 2
    y = (dec - dec0) * 60.0 / side * grid + grid / 2
    g = [map_coordinates(part, [x, y], order=1, mode="wrap") for part in (gamma.real, gamma.imag)]
    g1 = g[0] + rng.normal(0, shape_noise, n)
    g2 = g[1] + rng.normal(0, shape_noise, n)
    return Catalog(ra, dec, g1, g2)


def uniform_randoms(n, ra_range, dec_range, seed=0):
    """Points uniform on the sphere inside an RA/Dec box (degrees): a random catalog."""
    n = check_positive_int(n, "n")
    rng = np.random.default_rng(seed)
    ra = rng.uniform(ra_range[0], ra_range[1], n)
    s0, s1 = np.sin(np.radians(dec_range[0])), np.sin(np.radians(dec_range[1]))
    dec = np.degrees(np.arcsin(rng.uniform(s0, s1, n)))
    return Catalog(ra, dec)


#: the PSF pattern of :func:`synthetic_psf_leakage`: many modes of a few arcmin to the field size, so
#: that a field holds many independent patches (jackknife covariances need that)
_PSF_MODES = dict(n_modes=32, k_range=(2.0, 10.0))


def _leaky_shapes(rng, n, e_model, q, w, alpha, beta, eta, shape_noise, signal, u, v):
    """e_gal = g_true + alpha e_model + beta q + eta w + shape noise (complex), the leakage model
    of Gatti et al. 2021 (see :mod:`cosmocorr.estimators.psf_leakage`)."""
    g_true = _field(u, v, rng, signal) + 1j * _field(u, v, rng, signal)
    noise = rng.normal(0, shape_noise, n) + 1j * rng.normal(0, shape_noise, n)
    return g_true + alpha * e_model + beta * q + eta * w + noise


def synthetic_psf_leakage(n_galaxies=4000, n_stars=600, alpha=0.05, beta=1.0, eta=-1.0, seed=0, ra0=150.12,
                          dec0=2.2, width_deg=0.77, psf_e=0.03, residual_e=0.006, size_residual=0.03,
                          star_noise=0.002, shape_noise=0.1, signal=0.005, sigma0=1.1, npatch=None, patch_seed=0):
    """Galaxies with a known PSF leakage and the stars of the same (synthetic) PSF field.

    The PSF is a smooth, spatially correlated field over the square (as
    :func:`synthetic_star_catalog`): model ellipticity e_model (RMS ``psf_e``), a smooth model
    residual q (``residual_e``) so that e_star = e_model + q (+ ``star_noise`` on the stars), and
    a smooth size residual dT/T = (T_star - T_model) / T_star (``size_residual``), w = e_star dT/T.
    The galaxies (uniform on the same square) carry

        e_gal = g_true + alpha e_model + beta q + eta w + shape noise,

    the fields evaluated at the galaxies' positions (noise-free), g_true a weak smooth shear
    (``signal``) and Gaussian ``shape_noise`` per component.

    Parameters
    ----------
    n_galaxies, n_stars : int
    alpha, beta, eta : float
        The injected leakage parameters.
    seed : int
        Seed of the ``numpy.random.Generator``; the same seed gives the same catalogs.
    npatch : int, optional
        Give both catalogs the same ``npatch`` k-means patches (built on the galaxies, seeded by
        ``patch_seed``), for jackknife covariances.

    Returns
    -------
    galaxies : Catalog
    stars : StarCatalog
    truth : dict
        ``alpha``, ``beta``, ``eta``.
    """
    n_galaxies = check_positive_int(n_galaxies, "n_galaxies")
    n_stars = check_positive_int(n_stars, "n_stars")
    rng = np.random.default_rng(seed)
    n = n_stars + n_galaxies
    u, v = rng.uniform(0, 1, n), rng.uniform(0, 1, n)     # stars first, then galaxies: one field for both
    dec = dec0 + (v - 0.5) * width_deg
    ra = ra0 + (u - 0.5) * width_deg / np.cos(np.radians(dec0))
    e_model = _field(u, v, rng, psf_e, **_PSF_MODES) + 1j * _field(u, v, rng, psf_e, **_PSF_MODES)
    q = _field(u, v, rng, residual_e, **_PSF_MODES) + 1j * _field(u, v, rng, residual_e, **_PSF_MODES)
    dtt = _field(u, v, rng, size_residual, **_PSF_MODES)
    t_model = 2 * (sigma0 * (1.0 + _field(u, v, rng, 0.03))) ** 2
    t_star = t_model / (1.0 - dtt)                       # so that (T_star - T_model) / T_star = dtt
    e_star = e_model + q
    s, g = slice(0, n_stars), slice(n_stars, n)
    es = e_star[s] + rng.normal(0, star_noise, n_stars) + 1j * rng.normal(0, star_noise, n_stars)
    e_gal = _leaky_shapes(rng, n_galaxies, e_model[g], q[g], e_star[g] * dtt[g], alpha, beta, eta, shape_noise,
                          signal, u[g], v[g])
    galaxies = Catalog(ra[g], dec[g], e_gal.real, e_gal.imag, npatch=npatch, patch_seed=patch_seed)
    centers = None if npatch is None else galaxies.patch_centers
    stars = StarCatalog(ra[s], dec[s], es.real, es.imag, t_star[s], e_model[s].real, e_model[s].imag, t_model[s],
                        patch_centers=centers)
    return galaxies, stars, {"alpha": float(alpha), "beta": float(beta), "eta": float(eta)}


def leaky_galaxies_for_stars(stars, n_galaxies=4000, alpha=0.05, beta=1.0, eta=-1.0, seed=0, shape_noise=0.1,
                             signal=0.005, smoothing_arcmin=1.5, npatch=None, patch_seed=0):
    """Synthetic galaxies with a known PSF leakage on the field of a real star catalog.

    The galaxies are uniform in the stars' RA/Dec box; e_model, q = e_star - e_model and
    w = e_star dT/T at each galaxy are the stars' values smoothed onto it with a Gaussian kernel of
    ``smoothing_arcmin`` (Nadaraya-Watson, flat-sky offsets), and the galaxies carry
    e_gal = g_true + alpha e_model + beta q + eta w + shape noise (as :func:`synthetic_psf_leakage`).
    The interpolation is an approximation of the PSF between stars, so the leakage seen by the
    galaxies is a smoothed copy of the stars' fields: the recovered parameters test the pipeline,
    not the interpolation.

    Returns
    -------
    galaxies : Catalog
        With ``npatch`` patches when given (then the stars need ``patch_centers=galaxies.patch_centers``).
    """
    n_galaxies = check_positive_int(n_galaxies, "n_galaxies")
    rng = np.random.default_rng(seed)
    ra_s, dec_s = stars.ra, stars.dec
    dec0 = np.radians(np.mean(dec_s))
    s0, s1 = np.sin(np.radians(dec_s.min())), np.sin(np.radians(dec_s.max()))
    dec = np.degrees(np.arcsin(rng.uniform(s0, s1, n_galaxies)))
    ra = rng.uniform(ra_s.min(), ra_s.max(), n_galaxies)
    fields = stars.fields()
    scale = smoothing_arcmin / 60.0
    out = {k: np.zeros(n_galaxies, dtype=complex) for k in ("em", "de", "edt")}
    for i0 in range(0, n_galaxies, 2048):
        sl = slice(i0, i0 + 2048)
        dx = (ra[sl, None] - ra_s[None, :]) * np.cos(dec0)
        dy = dec[sl, None] - dec_s[None, :]
        k = np.exp(-0.5 * (dx * dx + dy * dy) / scale**2) * stars.w[None, :]
        k /= np.maximum(k.sum(axis=1, keepdims=True), 1e-300)
        for key in out:
            out[key][sl] = k @ fields[key]
    u = (ra - ra_s.min()) / max(np.ptp(ra_s), 1e-12)
    v = (dec - dec_s.min()) / max(np.ptp(dec_s), 1e-12)
    e_gal = _leaky_shapes(rng, n_galaxies, out["em"], out["de"], out["edt"], alpha, beta, eta, shape_noise, signal,
                          u, v)
    return Catalog(ra, dec, e_gal.real, e_gal.imag, npatch=npatch, patch_seed=patch_seed)
