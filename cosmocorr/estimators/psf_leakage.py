"""The PSF leakage model fitted to the tau statistics (Gatti et al. 2021, DES Y3; UNIONS).

The galaxy shapes are modelled as

    e_gal = gamma + delta e_sys + noise,   delta e_sys = alpha p + beta q + eta w,

    p = e_model,   q = e_star - e_model,   w = e_star (T_star - T_model) / T_star,

so that the tau statistics (:mod:`.tau`: tau0 = <e p>, tau2 = <e q>, tau5 = <e w>) obey the linear
system

    tau0 = alpha R0 + beta R2 + eta R5
    tau2 = alpha R2 + beta R1 + eta R4
    tau5 = alpha R5 + beta R4 + eta R3

with R0 = <p p>, R1 = <q q>, R2 = <q p>, R3 = <w w>, R4 = <q w>, R5 = <p w>, the rho statistics
*as DES Y3 and UNIONS define them*. cosmocorr's rho2 and rho5 follow the paper (eqs. 3 and 6) and
correlate the star ellipticity e_star = p + q, so R2 = rho2 - rho1 and R5 = rho5 - rho4
(:func:`model_rho`; exact, the same pairs and weights). The additive PSF systematic on the shear
correlation is then

    xi+_sys = <delta e_sys delta e_sys>
            = alpha^2 R0 + beta^2 R1 + eta^2 R3 + 2 alpha beta R2 + 2 alpha eta R5 + 2 beta eta R4.

Sources (docs/psf_leakage.md has the full list and the routes tried):

- Gatti et al. 2021, "Dark Energy Survey Year 3 results: weak lensing shape catalogue",
  MNRAS 504, 4312, arXiv:2011.03408. The tau statistics are its eqs. 20-22 as quoted by LSSTDESC
  TXPipe (``TXTauStatistics``); the paper's own text could not be retrieved from the build machine,
  so the equation numbers of the model for delta e_sys, of the system and of xi+_sys are not cited.
- The DES Y3 derivation restated by A. Navarro-Alsina, co-author of Gatti et al. 2021
  (``andalenavals.github.io``, ``_research/rhostats.md``): delta e_sys, the six rho and three tau
  statistics, the system above (for xi+ and xi-) and xi+_sys (its tomographic form with
  alpha^i = alpha^j, etc.); it writes all fields mean-subtracted, which cosmocorr does not (see
  :mod:`.tau`).
- UNIONS ``shear_psf_leakage`` (``shear_psf_leakage/rho_tau_stat.py``): ``PSFErrorFit.model`` and
  ``PSFErrorFit.build_rho_matrix`` (the system, xi+ only), ``PSFErrorFit.compute_xi_psf_sys`` and
  ``compute_xi_psf_sys_term`` (xi+_sys term by term), ``PSFErrorFit.get_least_squares_params``
  (the GLS estimate, with the optional ``(npatch - n - 2)/(npatch - 1)`` debiasing);
  ``init_log_prior`` (the flat prior box of :data:`DEFAULT_PRIOR`).
- LSSTDESC TXPipe (``txpipe/psf_diagnostics.py``): ``TXTauStatistics.chi2`` (the system for xi+
  and xi-) and ``TXRoweStatistics`` (definition ``"des-y3"``: the same R0..R5).

All of them agree with the definitions above term by term (which field is p, q, w; the pairings
of R0..R5; the signs and the factors 2 of xi+_sys); the test
``test_model_rho_and_xi_sys_equal_treecorr_in_the_des_unions_convention`` checks R0..R5 and
xi+_sys against TreeCorr on those field pairs and on the field delta e_sys itself.

The fit, for x = (alpha, beta, eta), uses the joint covariance C of (rho0..rho5, tau0, tau2,
tau5): the residual r = tau - M(x) rho is linear in the joint data vector, so its covariance is
C_r(x) = S(x) C S(x)^T with S = [-M(x), 1] (the noise of the rho statistics enters, to first
order, as in an errors-in-variables fit; ``rho_noise=False`` keeps the tau block only, as UNIONS
does). With the tau block alone the estimate is generalised least squares,
x = (X^T W X)^-1 X^T W tau with W = h C_tt^-1 (h the Hartlap factor of a jackknife covariance) and
parameter covariance (X^T W X)^-1. With the rho noise (default) the point estimate maximises the
Gaussian likelihood log L = -1/2 h r^T C_r(x)^-1 r - 1/2 log det C_r(x) (the posterior mode under
the flat prior; started from the GLS solution), with errors from the Hessian of -log L; the
emcee posterior samples the same log L under a flat prior box. (A fixed-point "iteratively
reweighted" GLS, which drops the log det term, was tried and found biased on the COSMOS-Web test.)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validate import check_bool, check_positive_int, check_seed
from ..io import ResultIO
from ..sky.bins import Bins
from .covariance import check_var_method, estimate_multi_cov

__all__ = ["PSFLeakageResult", "fit_psf_leakage", "model_rho", "xi_sys", "LEAKAGE_PARAMS", "DEFAULT_PRIOR"]

LEAKAGE_PARAMS = ("alpha", "beta", "eta")
#: flat prior box of the posterior (UNIONS' ``PSFErrorFit.init_log_prior`` defaults)
DEFAULT_PRIOR = {"alpha": (-2.0, 2.0), "beta": (-10.0, 10.0), "eta": (-20.0, 20.0)}
_RHO = ("rho0", "rho1", "rho2", "rho3", "rho4", "rho5")
_TAU = ("tau0", "tau2", "tau5")
#: the DES/UNIONS rho statistics R0..R5 as combinations of cosmocorr's rho0..rho5
_R_OF_RHO = {0: {0: 1.0}, 1: {1: 1.0}, 2: {2: 1.0, 1: -1.0}, 3: {3: 1.0}, 4: {4: 1.0}, 5: {5: 1.0, 4: -1.0}}
#: tau_k = alpha R_a + beta R_b + eta R_c: (a, b, c) for tau0, tau2, tau5
_SYSTEM = {"tau0": (0, 2, 5), "tau2": (2, 1, 4), "tau5": (5, 4, 3)}


def model_rho(rho, component="xip"):
    """The DES Y3 / UNIONS rho statistics R0..R5 from cosmocorr's rho0..rho5.

    R0 = rho0 = <p p>, R1 = rho1 = <q q>, R2 = rho2 - rho1 = <q p>, R3 = rho3 = <w w>,
    R4 = rho4 = <q w>, R5 = rho5 - rho4 = <p w> (the ``rho_0_p`` .. ``rho_5_p`` of UNIONS'
    ``RhoStat.compute_rho_stats``; see the module docstring).

    Parameters
    ----------
    rho : RhoResult
        From :func:`cosmocorr.rho_statistics`.
    component : {"xip", "xim"}
        Which correlation.

    Returns
    -------
    list of ndarray
        Six (nbins,) arrays, R0..R5.
    """
    return [sum(c * getattr(rho[_RHO[k]], component) for k, c in _R_OF_RHO[i].items()) for i in range(6)]


def xi_sys(params, rho, component="xip"):
    """The additive PSF systematic xi_sys(theta) = <delta e_sys delta e_sys> of the leakage model.

    xi+_sys = alpha^2 R0 + beta^2 R1 + eta^2 R3 + 2 alpha beta R2 + 2 alpha eta R5 + 2 beta eta R4
    (R0..R5 from :func:`model_rho`): the DES Y3 expression (Gatti et al. 2021, arXiv:2011.03408;
    as restated by Navarro-Alsina, see the module docstring) and UNIONS'
    ``PSFErrorFit.compute_xi_psf_sys`` / ``compute_xi_psf_sys_term``. Equal to the shear
    correlation of the field alpha p + beta q + eta w at the stars (tested against TreeCorr).

    Parameters
    ----------
    params : array_like, shape (3,) or (n, 3)
        (alpha, beta, eta), or n samples of them.
    rho : RhoResult
        rho0..rho5 of the stars.
    component : {"xip", "xim"}
        xi+ (default) or the same combination of the xi- of the rho statistics.

    Returns
    -------
    ndarray
        (nbins,) for one parameter vector, (n, nbins) for n samples.
    """
    p = np.atleast_2d(np.asarray(params, dtype=float))
    R = model_rho(rho, component)
    a, b, e = p[:, [0]], p[:, [1]], p[:, [2]]
    out = (a * a * R[0] + b * b * R[1] + e * e * R[3] + 2 * a * b * R[2] + 2 * a * e * R[5] + 2 * b * e * R[4])
    return out[0] if np.ndim(params) == 1 else out


@dataclass
class PSFLeakageResult(ResultIO):
    """The fitted leakage parameters, their errors and posterior, and the implied xi+_sys.

    Attributes
    ----------
    alpha, beta, eta : float
        Point estimates (GLS with ``rho_noise=False``; maximum likelihood with the rho noise, see
        the module docstring); ``alpha_err`` etc. their 1-sigma errors (square roots of the
        diagonal of ``param_cov``).
    params, param_cov : ndarray (3,), (3, 3)
    chi2, dof, pte : float
        chi^2 of the GLS fit (with the covariance used), degrees of freedom (data points - 3) and
        its probability to exceed.
    samples : ndarray (n, 3)
        emcee posterior samples (after burn-in, thinned); ``posterior_mean``, ``posterior_std``.
    theta : ndarray
        Bin separations (arcmin, the rho statistics' ``meanr``, nominal where empty).
    xi_sys, xi_sys_lo, xi_sys_hi : ndarray (nbins,)
        xi+_sys at the GLS estimate and the 16th / 84th percentiles over the posterior samples.
    tau, tau_err, tau_model : ndarray (3, ncomp * nbins)
        The fitted tau data (tau0, tau2, tau5), their errors (sqrt of the diagonal of the
        residual covariance) and the best-fit model.
    components : tuple
        ``("xip",)`` or ``("xip", "xim")``: which correlations were fitted.
    """

    bins: Bins
    alpha: float
    beta: float
    eta: float
    alpha_err: float
    beta_err: float
    eta_err: float
    params: np.ndarray
    param_cov: np.ndarray
    chi2: float
    dof: int
    pte: float
    samples: np.ndarray = field(repr=False)
    posterior_mean: np.ndarray = None
    posterior_std: np.ndarray = None
    theta: np.ndarray = field(default=None, repr=False)
    xi_sys: np.ndarray = field(default=None, repr=False)
    xi_sys_lo: np.ndarray = field(default=None, repr=False)
    xi_sys_hi: np.ndarray = field(default=None, repr=False)
    tau: np.ndarray = field(default=None, repr=False)
    tau_err: np.ndarray = field(default=None, repr=False)
    tau_model: np.ndarray = field(default=None, repr=False)
    components: tuple = ("xip",)
    extra: dict = field(default_factory=dict, repr=False)

    def summary(self):
        """One line per parameter: point estimate +- error, posterior mean +- std."""
        lines = [f"{'param':>6} {'estimate':>11} {'err':>10} {'post.mean':>11} {'post.std':>10}"]
        for k, name in enumerate(LEAKAGE_PARAMS):
            lines.append(f"{name:>6} {self.params[k]:11.4e} {np.sqrt(self.param_cov[k, k]):10.3e} "
                         f"{self.posterior_mean[k]:11.4e} {self.posterior_std[k]:10.3e}")
        lines.append(f"chi2 = {self.chi2:.2f} for {self.dof} dof (PTE {self.pte:.3f})")
        return "\n".join(lines)


def _check_inputs(rho, tau):
    for obj, name, keys in ((rho, "rho", _RHO), (tau, "tau", _TAU)):
        d = getattr(obj, name, None)
        if not isinstance(d, dict) or any(k not in d for k in keys):
            raise TypeError(f"{name} must be a {'RhoResult' if name == 'rho' else 'TauResult'} with "
                            f"{', '.join(keys)}; got {type(obj).__name__}")
    b1, b2 = rho.bins, tau.bins
    if (b1.min_sep, b1.max_sep, b1.nbins, b1.spacing) != (b2.min_sep, b2.max_sep, b2.nbins, b2.spacing):
        raise ValueError("rho and tau must use the same bins")


def _selection(nb, components):
    """Indices of each statistic's components in the joint (rho0..rho5, tau0, tau2, tau5) vector."""
    off = {"xip": 0, "xim": nb}

    def idx(block):
        return np.concatenate([block * 2 * nb + off[c] + np.arange(nb) for c in components])
    return {name: idx(k) for k, name in enumerate(_RHO + _TAU)}


def _model_matrices(nb, components, sel):
    """M_k (n_d, n_joint), k = alpha, beta, eta: the model is sum_k p_k M_k v (v the joint vector)."""
    nc = len(components) * nb
    n_joint = 2 * nb * (len(_RHO) + len(_TAU))
    M = np.zeros((3, 3 * nc, n_joint))
    for t, name in enumerate(_TAU):
        rows = t * nc + np.arange(nc)
        for k, r in enumerate(_SYSTEM[name]):
            for j, c in _R_OF_RHO[r].items():
                M[k, rows, sel[_RHO[j]]] += c
    return M


def _hessian(f, x, step):
    """Central finite-difference Hessian of the scalar function f at x (same step in every direction)."""
    n = x.size
    H = np.zeros((n, n))
    e = np.eye(n) * step
    f0 = f(x)
    for i in range(n):
        for j in range(i, n):
            if i == j:
                H[i, i] = (f(x + e[i]) - 2 * f0 + f(x - e[i])) / step**2
            else:
                H[i, j] = H[j, i] = (f(x + e[i] + e[j]) - f(x + e[i] - e[j]) - f(x - e[i] + e[j])
                                     + f(x - e[i] - e[j])) / (4 * step**2)
    return H


class _ResidualCov:
    """C_r(p) = S C S^T with S = [-sum_k p_k M_k, 1 on the tau rows], as a quadratic form in p.

    C_r(p) = A - sum_k p_k (B_k + B_k^T) + sum_kl p_k p_l D_kl with A = C_tt, B_k = M_k C_.t and
    D_kl = M_k C M_l^T, precomputed once; ``rho_noise=False`` keeps A only.
    """

    def __init__(self, C, M, tau_rows, rho_noise):
        self.A = C[np.ix_(tau_rows, tau_rows)]
        if rho_noise:
            B = np.einsum("kij,jt->kit", M, C[:, tau_rows])
            self.B = B + np.transpose(B, (0, 2, 1))
            MC = np.einsum("kij,jl->kil", M, C)
            self.D = np.einsum("kil,mjl->kmij", MC, M)
        else:
            self.B = self.D = None

    def __call__(self, p):
        """C_r for parameters p of shape (3,) or (n, 3) (then (n, n_d, n_d))."""
        p = np.asarray(p, dtype=float)
        if self.B is None:
            return np.broadcast_to(self.A, p.shape[:-1] + self.A.shape).copy()
        lin = np.tensordot(p, self.B, axes=([-1], [0]))
        quad = np.einsum("...k,...m,kmij->...ij", p, p, self.D)
        return self.A - lin + quad


def fit_psf_leakage(rho, tau, *, cov=None, var_method=None, components=("xip",), rho_noise=True, hartlap=True,
                    nwalkers=32, nsteps=3000, burn=1000, thin=10, prior=None, seed=None, max_iter=50, progress=False):
    """Fit alpha, beta, eta of the PSF leakage model to the tau statistics.

    The model: tau0 = alpha R0 + beta R2 + eta R5, tau2 = alpha R2 + beta R1 + eta R4,
    tau5 = alpha R5 + beta R4 + eta R3 (R0..R5 the DES Y3 / UNIONS rho statistics,
    :func:`model_rho`), from delta e_sys = alpha e_model + beta (e_star - e_model)
    + eta e_star (T_star - T_model) / T_star: Gatti et al. 2021 (DES Y3 shape catalogue,
    arXiv:2011.03408; tau0, tau2, tau5 its eqs. 20-22 as quoted by TXPipe, the system's equation
    numbers not retrieved) and UNIONS ``shear_psf_leakage``'s ``PSFErrorFit.model`` /
    ``build_rho_matrix``. The module docstring gives the sources and the estimators.

    Parameters
    ----------
    rho : RhoResult
        rho0..rho5 of the stars (:func:`cosmocorr.rho_statistics`).
    tau : TauResult
        tau0, tau2, tau5 of the galaxies against the same stars, same bins
        (:func:`cosmocorr.tau_statistics`).
    cov : ndarray, optional
        Joint covariance of (rho0..rho5, tau0, tau2, tau5), each xi+ then xi- (TreeCorr's
        ``estimate_multi_cov`` order, 18 nbins square). Default:
        ``estimate_multi_cov([rho, tau], var_method)``.
    var_method : str, optional
        Method of the default covariance; default ``tau.var_method`` ("jackknife" needs the
        stars and galaxies on shared patches). ``"shot"`` gives a diagonal covariance.
    components : ("xip",) or ("xip", "xim")
        The correlations fitted (UNIONS fits xi+; DES Y3 both).
    rho_noise : bool
        Propagate the rho statistics' covariance and their cross-covariance with tau into the
        residual covariance (default True).
    hartlap : bool
        Scale the inverse of a resampled covariance by (K - n - 2) / (K - 1) (Hartlap et al.
        2007), K the number of patches and n the data points; a ValueError if K <= n + 2.
    nwalkers, nsteps, burn, thin : int
        emcee ``EnsembleSampler`` settings (walkers start in a small ball about the GLS estimate).
    prior : dict, optional
        Flat prior bounds per parameter (default :data:`DEFAULT_PRIOR`).
    seed : int or numpy.random.Generator, optional
        Seeds the walkers' start and emcee's moves: the same seed gives the same samples.
    max_iter : int
        Bounds the restarts of the likelihood maximisation (``max_iter // 10 + 1`` Nelder-Mead runs).
    progress : bool
        emcee's progress bar.

    Returns
    -------
    PSFLeakageResult
        ``.alpha``, ``.beta``, ``.eta`` with ``.alpha_err`` etc., ``.samples``, ``.xi_sys`` and
        its band ``.xi_sys_lo`` / ``.xi_sys_hi``.
    """
    import emcee
    from scipy import optimize, stats

    _check_inputs(rho, tau)
    components = tuple(components)
    if components not in (("xip",), ("xip", "xim")):
        raise ValueError(f"components must be ('xip',) or ('xip', 'xim'); got {components!r}")
    rho_noise = check_bool(rho_noise, "rho_noise")
    hartlap = check_bool(hartlap, "hartlap")
    nwalkers = check_positive_int(nwalkers, "nwalkers", minimum=8)
    nsteps = check_positive_int(nsteps, "nsteps")
    thin = check_positive_int(thin, "thin")
    burn = int(burn)
    if not 0 <= burn < nsteps:
        raise ValueError(f"burn must be in [0, nsteps); got {burn} with nsteps={nsteps}")
    max_iter = check_positive_int(max_iter, "max_iter")
    bounds = dict(DEFAULT_PRIOR)
    if prior is not None:
        unknown = set(prior) - set(LEAKAGE_PARAMS)
        if unknown:
            raise ValueError(f"prior: unknown parameter(s) {sorted(unknown)}; use {LEAKAGE_PARAMS}")
        bounds.update(prior)
    lo = np.array([bounds[k][0] for k in LEAKAGE_PARAMS], dtype=float)
    hi = np.array([bounds[k][1] for k in LEAKAGE_PARAMS], dtype=float)
    if np.any(lo >= hi):
        raise ValueError("prior: every lower bound must be below its upper bound")
    rng = np.random.default_rng(check_seed(seed))

    nb = rho.bins.nbins
    n_joint = 2 * nb * (len(_RHO) + len(_TAU))
    method = check_var_method(var_method or tau.var_method, "var_method")
    npatch = None
    if cov is None:
        cov = estimate_multi_cov([rho, tau], method)
        if method == "shot":
            cov = np.diag(cov)
        else:
            npatch = tau["tau0"].npatch
    cov = np.asarray(cov, dtype=float)
    if cov.shape != (n_joint, n_joint):
        raise ValueError(f"cov must be ({n_joint}, {n_joint}) (rho0..rho5, tau0, tau2, tau5; xi+ then xi- each); "
                         f"got {cov.shape}")
    sel = _selection(nb, components)
    tau_rows = np.concatenate([sel[t] for t in _TAU])
    v = np.concatenate([np.concatenate([getattr(r[n], c) for c in ("xip", "xim")])
                        for r, names in ((rho, _RHO), (tau, _TAU)) for n in names])
    use = np.isfinite(v[tau_rows]) & np.all(np.isfinite(cov[np.ix_(tau_rows, tau_rows)]), axis=1)
    rho_rows = np.concatenate([sel[r] for r in _RHO])
    M = _model_matrices(nb, components, sel)
    # rows whose model or covariance involves an empty bin are dropped
    bad_joint = ~np.isfinite(v) | ~np.all(np.isfinite(cov), axis=1)
    bad_joint[~np.isin(np.arange(n_joint), np.concatenate([rho_rows, tau_rows]))] = False
    use &= ~np.any((np.abs(M).sum(axis=0) != 0) & bad_joint[None, :], axis=1)
    if use.sum() <= 3:
        raise ValueError("rho/tau: fewer than 4 usable data points (empty bins); widen the bins")
    M = M[:, use]
    tau_rows = tau_rows[use]
    v0 = np.where(np.isfinite(v), v, 0.0)
    C = np.where(np.isfinite(cov), cov, 0.0)
    d = v0[tau_rows]
    X = np.stack([Mk @ v0 for Mk in M], axis=1)            # (n_d, 3): the columns R_a, R_b, R_c
    n_d = d.size
    h = 1.0
    if hartlap and npatch is not None:
        if npatch <= n_d + 2:
            raise ValueError(f"hartlap: {npatch} patches for {n_d} data points; the inverse jackknife covariance "
                             f"needs more patches than data points + 2 (use more patches, fewer bins, "
                             f"components=('xip',), or hartlap=False)")
        h = (npatch - n_d - 2.0) / (npatch - 1.0)

    resid_cov = _ResidualCov(C, M, tau_rows, rho_noise)

    def weight(p):
        Cr = resid_cov(p)
        return h * np.linalg.inv(Cr), Cr

    # generalised least squares with the tau block of the covariance (closed form) ...
    W0 = h * np.linalg.inv(resid_cov.A)
    p = np.linalg.solve(X.T @ W0 @ X, X.T @ W0 @ d)
    pcov = np.linalg.inv(X.T @ W0 @ X)
    method_used = "GLS (tau covariance)"
    if rho_noise:
        # ... then, with the rho statistics' noise, the maximum of the Gaussian likelihood whose
        # covariance C_r(p) depends on p (chi2 plus log det: the posterior mode under the flat
        # prior), in coordinates whitened by the GLS errors; errors from its Hessian
        scale = np.sqrt(np.diag(pcov))

        def nll(z):
            q = p + z * scale
            Crq = resid_cov(q)
            sign, logdet = np.linalg.slogdet(Crq)
            if sign <= 0:
                return np.inf
            rq = d - X @ q
            return 0.5 * h * float(rq @ np.linalg.solve(Crq, rq)) + 0.5 * logdet

        z0 = np.zeros(3)
        for _ in range(max_iter // 10 + 1):
            res = optimize.minimize(nll, z0, method="Nelder-Mead",
                                    options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": 4000})
            done = np.allclose(res.x, z0, atol=1e-7)
            z0 = res.x
            if done:
                break
        H = _hessian(nll, z0, 1e-3)
        p = p + z0 * scale
        try:
            Hinv = np.linalg.inv(H)
            if not np.all(np.linalg.eigvalsh(H) > 0):
                raise np.linalg.LinAlgError
            pcov = Hinv * np.outer(scale, scale)
        except np.linalg.LinAlgError:   # flat or curved the wrong way: the Gauss-Newton covariance
            Wp = h * np.linalg.inv(resid_cov(p))
            pcov = np.linalg.inv(X.T @ Wp @ X)
        method_used = "maximum likelihood (rho noise propagated)"
    W, Cr = weight(p)
    r = d - X @ p
    chi2 = float(r @ W @ r)
    dof = n_d - 3

    def log_prob(q):
        """Vectorised over walkers: q (n, 3) -> (n,)."""
        out = np.full(q.shape[0], -np.inf)
        ok = np.all((q >= lo) & (q <= hi), axis=1)
        if np.any(ok):
            Crq = resid_cov(q[ok])
            rq = d[None, :] - q[ok] @ X.T
            sign, logdet = np.linalg.slogdet(Crq)
            chi = h * np.einsum("ni,ni->n", rq, np.linalg.solve(Crq, rq[..., None])[..., 0])
            out[ok] = np.where(sign > 0, -0.5 * chi - 0.5 * logdet, -np.inf)
        return out

    start = p + rng.normal(size=(nwalkers, 3)) * np.sqrt(np.diag(pcov)) * 1e-2
    start = np.clip(start, lo + 1e-12 * (hi - lo), hi - 1e-12 * (hi - lo))
    sampler = emcee.EnsembleSampler(nwalkers, 3, log_prob, vectorize=True)
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31 - 1))).get_state()
    sampler.run_mcmc(start, nsteps, progress=progress)
    samples = sampler.get_chain(discard=burn, thin=thin, flat=True)

    theta = np.where(np.isfinite(rho["rho0"].meanr), rho["rho0"].meanr, rho.bins.rnom)
    xs = xi_sys(samples, rho)
    full_tau = np.full(3 * len(components) * nb, np.nan)
    full_err = np.full_like(full_tau, np.nan)
    full_model = np.full_like(full_tau, np.nan)
    full_tau[use], full_err[use], full_model[use] = d, np.sqrt(np.diag(Cr)), X @ p
    shape = (3, len(components) * nb)
    err = np.sqrt(np.diag(pcov))
    return PSFLeakageResult(
        bins=rho.bins, alpha=float(p[0]), beta=float(p[1]), eta=float(p[2]), alpha_err=float(err[0]),
        beta_err=float(err[1]), eta_err=float(err[2]), params=p, param_cov=pcov, chi2=chi2, dof=dof,
        pte=float(stats.chi2.sf(chi2, dof)), samples=samples, posterior_mean=samples.mean(axis=0),
        posterior_std=samples.std(axis=0, ddof=1), theta=theta, xi_sys=xi_sys(p, rho),
        xi_sys_lo=np.percentile(xs, 16, axis=0), xi_sys_hi=np.percentile(xs, 84, axis=0),
        tau=full_tau.reshape(shape), tau_err=full_err.reshape(shape), tau_model=full_model.reshape(shape),
        components=components,
        extra={"var_method": method, "npatch": npatch, "hartlap_factor": h, "rho_noise": rho_noise,
               "acceptance_fraction": float(np.mean(sampler.acceptance_fraction)), "n_data": int(n_d),
               "estimator": method_used},
    )
