"""Differentiable xi+ (paper Algorithm 2, sec. 6): soft bins, approaches a/b/c, and d xi+/d G.

The catalog comes from the gravity forward model (:mod:`cosmocorr.gravity`) with its tangents
d(position)/dG; every later step carries (value, tangent) pairs (:class:`cosmocorr.dual.Dual`):

- ``"none"``: no clustering, soft bins over all object pairs — the exact reference;
- ``"c"``: hard argmax assignment fitted once at the base point and held fixed (straight-through):
  each cluster object sits at the (renormalised) mean unit vector of its members with their mean
  ellipticity and their count as weight; its tangent is the mean of its members' tangents,
  so with one object per cluster it is exact;
- ``"b"``: weighted averages (eqs. 20-21): cluster quantities q U~ with U~ the column-normalised
  membership, cluster weights the column sums of U, cluster positions the fuzzy c-means centres.
  ``mode="one_step"`` (the paper's shortcut): centres converged at the base point, then one more
  update (eq. 18 then eq. 17 then eq. 18) is differentiated; ``mode="full"``: the derivative
  through every iteration from the (fixed) k-means++ start;
- ``"a"``: Gumbel-softmax relaxation of eq. 19: A = softmax((log U + g) / tau), g seeded Gumbel
  noise held fixed, U the one-step memberships; positions, quantities and weights from A.

The soft estimator is eq. 8 with each pair weighted by W_k(d_ij) (eq. 22 or 23) and the shears
projected as TreeCorr does on the sphere. The clustering state (labels, centres, noise) is fitted
at the base G and returned, so that ``xi_plus_gradient(G + h, state=res.state)`` evaluates the
same function for finite-difference checks.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import dual as dl
from ._validate import check_choice, check_positive_int
from .backend import get_backend, resolve_backend
from .bins import Bins
from .clustering import fuzzy_c_means, kmeans_plus_plus
from .dual import Dual
from .geometry import ARCMIN, unit_vectors
from .gravity import simulate_catalog
from .soft_binning import soft_bin_weights

__all__ = ["GradientResult", "xi_plus_gradient", "soft_xi_plus", "fit_G", "APPROACHES"]

APPROACHES = ("none", "a", "b", "c")


def _pair_terms(a, b, g1a, g2a, g1b, g2b):
    """Separation (arcmin) and Re(z_a z_b^*) for pairs, on Duals (see _kernels_numpy._pair_terms)."""
    ax, ay, az = a[0], a[1], a[2]
    bx, by, bz = b[0], b[1], b[2]
    cx = ay * bz - az * by
    cy = az * bx - ax * bz
    cz = ax * by - ay * bx
    r = dl.arctan2(dl.sqrt(cx * cx + cy * cy + cz * cz), ax * bx + ay * by + az * bz) / ARCMIN
    dz = az - bz
    dsq = (ax - bx) * (ax - bx) + (ay - by) * (ay - by) + dz * dz
    s = -cz
    cb = dz + 0.5 * bz * dsq
    ca = 0.5 * az * dsq - dz
    ss = s * s
    nb = ss + cb * cb
    na = ss + ca * ca
    cos2b, sin2b = (ss - cb * cb) / nb, 2.0 * s * cb / nb
    cos2a, sin2a = (ss - ca * ca) / na, -2.0 * s * ca / na
    zar = g1a * cos2a - g2a * sin2a
    zai = g1a * sin2a + g2a * cos2a
    zbr = g1b * cos2b - g2b * sin2b
    zbi = g1b * sin2b + g2b * cos2b
    return r, zar * zbr + zai * zbi


def _take(x, idx):
    return x[..., idx] if isinstance(x, Dual) else np.asarray(x)[..., idx]


def soft_xi_plus(xyz, g1, g2, w, bins, alpha, kind="sigmoid", chunk=200_000):
    """Soft-binned xi+ (eq. 8 with W_k weights) over all unordered pairs of the objects.

    ``xyz`` (3, n) unit vectors, ``g1``/``g2``/``w`` (n,): arrays or Duals. Returns a Dual (nbins,).
    """
    n = dl.value(xyz).shape[1]
    i, j = np.triu_indices(n, 1)
    num = den = 0.0
    for s in range(0, i.size, chunk):
        ii, jj = i[s:s + chunk], j[s:s + chunk]
        r, xp = _pair_terms(_take(xyz, ii), _take(xyz, jj), _take(g1, ii), _take(g2, ii), _take(g1, jj), _take(g2, jj))
        ww = _take(w, ii) * _take(w, jj)
        W = soft_bin_weights(r, bins, alpha, kind)          # (nbins, P)
        num = num + (W * (ww * xp)).sum(axis=1)
        den = den + (W * ww).sum(axis=1)
    return num / den


def _normalise_columns(m):
    """Unit vectors from (3, c) sums."""
    return m / dl.sqrt((m * m).sum(axis=0, keepdims=True))


def _distances(xyz, centres):
    """Vincenty distances (radians) between objects (3, N) and centres (3, c), Dual-aware: (N, c)."""
    a = xyz[:, :, None] if isinstance(xyz, Dual) else np.asarray(xyz)[:, :, None]
    b = centres[:, None, :] if isinstance(centres, Dual) else np.asarray(centres)[:, None, :]
    cx = a[1] * b[2] - a[2] * b[1]
    cy = a[2] * b[0] - a[0] * b[2]
    cz = a[0] * b[1] - a[1] * b[0]
    return dl.arctan2(dl.sqrt(cx * cx + cy * cy + cz * cz), a[0] * b[0] + a[1] * b[1] + a[2] * b[2])


def _memberships(d, m):
    """Eq. 18 on Duals, as (d / d_min)^(-p) normalised; rows with an object on a centre fall back
    to the exact limit (equal shares of the coincident centres, zero tangent)."""
    p = 2.0 / (m - 1.0)
    dv = dl.value(d)
    k = np.argmin(dv, axis=1)
    dmin = d[np.arange(dv.shape[0]), k][:, None]
    on = dv.min(axis=1) == 0
    safe_d = dl.where(on[:, None], 1.0, d)
    safe_min = dl.where(on[:, None], 1.0, dmin)
    ratio = (safe_d / safe_min) ** (-p)
    U = ratio / ratio.sum(axis=1, keepdims=True)
    if np.any(on):
        hard = (dv == 0).astype(float)
        hard[~on] = 1.0  # rows not on a centre keep the smooth formula below
        U = dl.where(on[:, None], hard / hard.sum(axis=1, keepdims=True), U)
    return U


def _centres_from(xyz, U, m):
    """Eq. 17 on the sphere: normalised U^m-weighted mean of unit vectors, (3, c)."""
    return _normalise_columns(xyz @ (U ** m))


def _cluster_from_weights(xyz, g, A):
    """Objects from soft (or one-hot) weights A (N, c): positions, quantities (eq. 21), weights."""
    colsum = A.sum(axis=0)
    At = A / colsum                                         # eq. 20: column-normalised
    g1 = np.asarray(g.real) @ At if not isinstance(At, Dual) else At.__rmatmul__(g.real)
    g2 = np.asarray(g.imag) @ At if not isinstance(At, Dual) else At.__rmatmul__(g.imag)
    return g1, g2, colsum


@dataclass
class GradientResult:
    """xi+ per bin and d xi+/d G per bin (NumPy arrays), with the settings and the fixed state."""

    bins: Bins
    xi: np.ndarray
    dxi_dG: np.ndarray
    approach: str
    G: float
    n_clusters: int
    state: dict = field(default_factory=dict, repr=False)


def _fit_state(cat, approach, n_clusters, fuzziness, seed, tau):
    xyz = dl.value(cat.xyz)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(2)[1])
    init = kmeans_plus_plus(cat.ra, cat.dec, n_clusters, seed=rng.integers(2**63))
    fit = fuzzy_c_means(cat.ra, cat.dec, n_clusters, fuzziness=fuzziness, init=init, tol=1e-8, max_iter=500)
    state = {"approach": approach, "n_clusters": n_clusters, "fuzziness": fuzziness, "init": init,
             "centres": fit.centers_xyz, "n_iter": fit.n_iter, "labels": np.argmax(fit.membership, axis=1)}
    if approach == "a":
        state["gumbel"] = -np.log(-np.log(rng.uniform(1e-12, 1.0, (xyz.shape[1], n_clusters))))
        state["tau"] = tau
    return state


def _objects(cat, approach, state, mode):
    """Cluster objects (xyz, g1, g2, w) for an approach, as Duals."""
    xyz, g = cat.xyz, cat.g
    if approach == "none":
        return xyz, g.real, g.imag, np.ones(g.size)
    m = state["fuzziness"]
    if approach == "c":
        labels = state["labels"]
        used = np.unique(labels)
        A = (labels[:, None] == used[None, :]).astype(float)   # one-hot, fixed (straight-through)
        pos = _normalise_columns(xyz @ A)
        g1, g2, w = _cluster_from_weights(xyz, g, A)
        return pos, g1, g2, w
    if approach == "b" and mode == "full":
        centres = unit_vectors(state["init"][:, 0], state["init"][:, 1])
        for _ in range(state["n_iter"]):
            U = _memberships(_distances(xyz, centres), m)
            centres = _centres_from(xyz, U, m)
        U = _memberships(_distances(xyz, centres), m)
    else:
        U = _memberships(_distances(xyz, state["centres"]), m)   # eq. 18 at the converged centres
        if approach == "b":
            centres = _centres_from(xyz, U, m)                   # one more eq. 17 ...
            U = _memberships(_distances(xyz, centres), m)        # ... and eq. 18
    if approach == "b":
        g1, g2, w = _cluster_from_weights(xyz, g, U)
        return centres, g1, g2, w
    # approach a: Gumbel-softmax with fixed noise
    logits = (dl.log(U + 1e-300) + state["gumbel"]) / state["tau"]  # memberships can underflow to 0
    shift = dl.value(logits).max(axis=1, keepdims=True)
    e = dl.exp(logits - shift)
    A = e / e.sum(axis=1, keepdims=True)
    pos = _normalise_columns(xyz @ A)
    g1, g2, w = _cluster_from_weights(xyz, g, A)
    return pos, g1, g2, w


def xi_plus_gradient(G=1.0, n_galaxies=200, bins=None, approach="c", n_clusters=20, seed=0, alpha=1.0,
                     kind="sigmoid", fuzziness=2.0, tau=0.5, mode="one_step", rtol=1e-10, atol=1e-12,
                     state=None, backend=None, t_max=None, ad="forward"):
    """xi+ per bin and its forward-mode derivative d xi+/d G (paper sec. 6, fig. 10).

    Parameters
    ----------
    G : float
        Gravitational constant of the forward model (> 0).
    n_galaxies : int
    bins : Bins, optional
        Default: 3 linear bins from 0 to 160 arcmin (the paper's choice).
    approach : {"c", "b", "a", "none"}
    n_clusters : int
        1 <= n_clusters <= n_galaxies (ignored for "none").
    seed : int
        Initial conditions, ellipticities, k-means++ start and Gumbel noise; the same seed gives
        the same initial conditions at every G.
    alpha : float
        Soft-bin sharpness (1/arcmin for "sigmoid", 1/arcmin^2 for "gaussian").
    mode : {"one_step", "full"}
        Approach b only: the paper's shortcut or the derivative through every FCM iteration.
    state : dict, optional
        Clustering state from a previous result (``res.state``) to evaluate the same function.
    backend : {"numpy", "julia", "auto"}
        NumPy: forward sensitivity equations and dual numbers. Julia: OrdinaryDiffEq (Tsit5) with
        ForwardDiff or Zygote through the solve and the estimator, for approaches "none" and "c"
        with sigmoid bins (the others raise NotImplementedError there).
    ad : {"forward", "reverse"}
        Julia backend only: ForwardDiff or Zygote (adjoint sensitivities), the paper's comparison.
    t_max : float, optional
        Integration time of the forward model (default one circular period; see
        :func:`cosmocorr.gravity.simulate_catalog`).

    Returns
    -------
    GradientResult
    """
    check_choice(approach, "approach", APPROACHES)
    check_choice(mode, "mode", ("one_step", "full"))
    check_choice(kind, "kind", ("sigmoid", "gaussian"))
    n_galaxies = check_positive_int(n_galaxies, "n_galaxies", minimum=2)
    if approach != "none":
        n_clusters = check_positive_int(n_clusters, "n_clusters")
        if n_clusters > n_galaxies:
            raise ValueError(f"n_clusters: too many clusters ({n_clusters}) for {n_galaxies} galaxies")
    if not (np.isscalar(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a positive number, got {alpha!r}")
    if approach == "a" and not tau > 0:
        raise ValueError(f"tau must be positive, got {tau!r}")
    check_choice(ad, "ad", ("forward", "reverse"))
    bins = Bins(0.0, 160.0, 3) if bins is None else bins
    julia_mirrors = approach in ("none", "c") and kind == "sigmoid"
    requested = get_backend() if backend is None else str(backend).lower()
    if resolve_backend(backend) == "julia" and (julia_mirrors or requested != "auto"):
        return _julia_gradient(G, n_galaxies, bins, approach, n_clusters, seed, alpha, kind, fuzziness, tau,
                               rtol, atol, state, t_max, ad)
    cat = simulate_catalog(G, n_galaxies, seed=seed, rtol=rtol, atol=atol, t_max=t_max)
    if state is None and approach != "none":
        state = _fit_state(cat, approach, n_clusters, fuzziness, seed, tau)
    xyz, g1, g2, w = _objects(cat, approach, state, mode)
    xi = soft_xi_plus(xyz, g1, g2, w, bins, alpha, kind)
    return GradientResult(bins, dl.value(xi).copy(), dl.tangent(xi).copy(), approach, float(G),
                          n_galaxies if approach == "none" else n_clusters, state or {})


def _julia_gradient(G, n_galaxies, bins, approach, n_clusters, seed, alpha, kind, fuzziness, tau, rtol, atol,
                    state, t_max, ad):
    """The same function on the Julia backend (the backend split for this estimator)."""
    from .backend import get_kernels
    from .gravity import ellipticities, initial_conditions

    if approach not in ("none", "c") or kind != "sigmoid":
        raise NotImplementedError("the Julia backend mirrors approaches 'none' and 'c' with sigmoid bins; "
                                  "use backend='numpy' for the others")
    if state is None and approach == "c":
        state = _fit_state(simulate_catalog(G, n_galaxies, seed=seed, rtol=rtol, atol=atol, t_max=t_max,
                                            with_tangent=False), approach, n_clusters, fuzziness, seed, tau)
    x0, v0 = initial_conditions(n_galaxies, seed)
    g = ellipticities(n_galaxies, seed)
    xi, dxi = get_kernels("julia").xi_plus_gradient(G, x0, v0, g.real, g.imag, bins.edges, alpha,
                                                   labels=None if approach == "none" else state["labels"], ad=ad,
                                                   t_max=t_max, rtol=rtol, atol=atol)
    return GradientResult(bins, xi, dxi, approach, float(G), n_galaxies if approach == "none" else n_clusters,
                          state or {})


def fit_G(target, G_start=1.0, max_steps=20, rtol=1e-10, progress=False, **kwargs):
    """Inverse problem: the G whose xi+ matches ``target`` (per bin), by Gauss-Newton steps
    G <- G - (J . r) / (J . J) with r = xi+(G) - target and J = d xi+/d G from
    :func:`xi_plus_gradient` (``kwargs`` go to it; a clustering state is fitted once, at the first
    step, and kept). Steps are clipped to [G/2, 2G].

    Returns (G, history) with history a list of (G, |r|) per step.
    """
    from ._progress import progress_range

    target = np.asarray(target, dtype=float)
    G, state, history = float(G_start), kwargs.pop("state", None), []
    for _ in progress_range(max_steps, desc="Gauss-Newton", progress=progress):
        r = xi_plus_gradient(G, state=state, **kwargs)
        state = r.state
        res = r.xi - target
        jj = float(r.dxi_dG @ r.dxi_dG)
        if jj == 0:
            raise ValueError("d xi+/d G vanishes: xi+ carries no information on G for these settings")
        step = -float(r.dxi_dG @ res) / jj
        history.append((G, float(np.linalg.norm(res))))
        G = float(np.clip(G + step, 0.5 * G, 2.0 * G))
        if abs(step) < rtol * G:
            break
    return G, history

