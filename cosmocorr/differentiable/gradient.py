"""d xi+/d G (paper Algorithm 2, sec. 6, fig. 10): forward model, clustering approach, soft estimator.

The catalog comes from the gravity forward model (:mod:`.gravity`) with its tangents
d(position)/dG; every later step carries (value, tangent) pairs (:class:`.dual.Dual`):

- ``"none"``: no clustering, soft bins over all object pairs — the exact reference, computed by
  :func:`.object_derivatives.soft_shear_shear` with the catalog's d(ra, dec)/dG as tangents (the
  forward model is one user of the per-object JVP);
- ``"c"``: hard argmax assignment fitted once at the base point and held fixed (straight-through):
  each cluster object sits at the (renormalised) mean unit vector of its members with their mean
  ellipticity and their count as weight; its tangent is the mean of its members' tangents,
  so with one object per cluster it is exact;
- ``"b"``: weighted averages (eqs. 20-21): cluster quantities q U~ with U~ the column-normalised
  membership, cluster weights the column sums of U, cluster positions the fuzzy c-means centres.
  ``mode="one_step"`` (the paper's shortcut): centres converged at the base point, then one more
  update (eq. 18 then eq. 17 then eq. 18) is differentiated; ``mode="full"``: the derivative
  through every iteration from the (fixed) k-means++ start; ``mode="implicit"``: the derivative
  of the converged fixed point (implicit function theorem), i.e. of re-fitting the clustering. With ``neighbours=k`` the fit is
  sparse fuzzy c-means and both modes run on each object's k nearest centres only (the fit's
  neighbour sets held fixed; O(N k) memory, see :mod:`.approaches`);
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

from .._progress import progress_range
from .._validate import as_float_array, check_choice, check_positive_int, check_real, check_seed
from ..backends import get_backend, get_kernels, resolve_backend
from ..clustering.sparse_fcm import check_neighbours
from ..sky.bins import Bins
from . import dual as dl
from .approaches import APPROACHES, MODES, cluster_objects_dual, fit_state
from .gravity import ellipticities, initial_conditions, simulate_catalog
from .object_derivatives import soft_shear_shear
from .soft_estimator import soft_xi_plus

__all__ = ["GradientResult", "xi_plus_gradient", "fit_G"]


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


def xi_plus_gradient(G=1.0, n_galaxies=200, bins=None, approach="c", n_clusters=20, seed=0, alpha=1.0,
                     kind="sigmoid", fuzziness=2.0, tau=0.5, mode="one_step", rtol=1e-10, atol=1e-12,
                     state=None, backend=None, t_max=None, ad="forward", neighbours=None, refit=False):
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
        1 <= n_clusters <= n_galaxies (ignored for "none"). With one cluster there is one object
        and no pair: every bin is empty and ``xi``/``dxi_dG`` are NaN (the empty-bin convention).
    seed : int
        Initial conditions, ellipticities, k-means++ start and Gumbel noise; the same seed gives
        the same initial conditions at every G.
    alpha : float
        Soft-bin sharpness (1/arcmin for "sigmoid", 1/arcmin^2 for "gaussian").
    mode : {"one_step", "full", "implicit"}
        Approach b only: the paper's shortcut (one more iteration at the converged centres,
        differentiated with the fit held fixed), the derivative through every FCM iteration from
        the fixed k-means++ start, or ``"implicit"``: the derivative of the converged fixed point
        (implicit function theorem on eqs. 17-18, GMRES on JVPs of one iteration), i.e. of the
        re-fitted clustering (with ``neighbours``: of the fixed point with the fit's neighbour sets
        held fixed). See :mod:`.approaches`.
    neighbours : int, optional
        Approach b only: sparse memberships on each object's ``neighbours`` nearest centres
        (1 <= k <= n_clusters; :func:`cosmocorr.fuzzy_c_means` with ``neighbours=k``). The fit's
        neighbour sets are kept in the state and held fixed in the derivative; eqs. 17-18 and
        20-21 run on the N x k stored entries (O(N k) memory instead of O(N c)). k = c gives the
        dense result. ``None`` (default): dense memberships.
    state : dict, optional
        Clustering state from a previous result (``res.state``) to evaluate the same function
        (with the same ``neighbours``).
    refit : bool
        With ``state``: re-fit the clustering at this G from the state's k-means++ start (and
        Gumbel noise), as a user re-running the pipeline would, the fit polished to its fixed
        point (1e-14; sparse fits: of the iteration restricted to their final neighbour sets);
        central differences of such results are the "re-fit" differences
        that ``mode="implicit"`` equals where the fit is smooth.
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
    check_choice(mode, "mode", MODES)
    if mode == "implicit" and approach != "b":
        raise ValueError(f"mode='implicit' is implemented for approach 'b', got approach={approach!r}")
    check_choice(kind, "kind", ("sigmoid", "gaussian"))
    G = check_real(G, "G", low=0.0, low_open=True)
    n_galaxies = check_positive_int(n_galaxies, "n_galaxies", minimum=2)
    if approach != "none":
        n_clusters = check_positive_int(n_clusters, "n_clusters")
        if n_clusters > n_galaxies:
            raise ValueError(f"n_clusters: too many clusters ({n_clusters}) for {n_galaxies} galaxies")
        fuzziness = check_real(fuzziness, "fuzziness", low=1.0, low_open=True)
    if neighbours is not None:
        if approach != "b":
            raise ValueError(f"neighbours: sparse memberships are implemented for approach 'b' only, "
                             f"got approach={approach!r}")
        neighbours = check_neighbours(neighbours, n_clusters)
    if state is not None and not isinstance(state, dict):
        raise TypeError(f"state must be a dict (a previous result's .state), got {type(state).__name__}")
    if state is not None and approach == "b" and state.get("neighbours") != neighbours:
        raise ValueError(f"neighbours={neighbours} but the state was fitted with neighbours="
                         f"{state.get('neighbours')}: pass the same value")
    alpha = check_real(alpha, "alpha", low=0.0, low_open=True)
    if approach == "a":
        tau = check_real(tau, "tau", low=0.0, low_open=True)
    check_seed(seed, integer_only=True)
    rtol = check_real(rtol, "rtol", low=0.0, low_open=True)
    atol = check_real(atol, "atol", low=0.0, low_open=True)
    if t_max is not None:
        t_max = check_real(t_max, "t_max", low=0.0, low_open=True)
    check_choice(ad, "ad", ("forward", "reverse"))
    if bins is not None and not isinstance(bins, Bins):
        raise TypeError(f"bins must be a cosmocorr.Bins, got {type(bins).__name__}")
    bins = Bins(0.0, 160.0, 3) if bins is None else bins
    julia_mirrors = approach in ("none", "c") and kind == "sigmoid"
    requested = get_backend() if backend is None else str(backend).lower()
    # "auto" trusts forward- and reverse-mode gravity separately (self-test families)
    if resolve_backend(backend, family=f"gravity_{ad}") == "julia" and (julia_mirrors or requested != "auto"):
        return _julia_gradient(G, n_galaxies, bins, approach, n_clusters, seed, alpha, kind, fuzziness, tau,
                               rtol, atol, state, t_max, ad)
    cat = simulate_catalog(G, n_galaxies, seed=seed, rtol=rtol, atol=atol, t_max=t_max)
    if approach == "none":     # the exact reference: the per-object JVP of the soft estimator
        res = soft_shear_shear(cat.catalog(), bins, alpha, kind, tangents=cat.tangents())
        return GradientResult(bins, res.xip, res.dxip[:, 0].copy(), approach, float(G), n_galaxies, {})
    if state is None:
        state = fit_state(cat, approach, n_clusters, fuzziness, seed, tau, neighbours=neighbours)
    elif refit:
        state = fit_state(cat, approach, n_clusters, fuzziness, seed, tau, neighbours=neighbours,
                          init=state["init"], gumbel=state.get("gumbel"), polish=True)
    xyz, g1, g2, w = cluster_objects_dual(cat, approach, state, mode)
    xi = soft_xi_plus(xyz, g1, g2, w, bins, alpha, kind)
    return GradientResult(bins, dl.value(xi).copy(), dl.tangent(xi).copy(), approach, float(G),
                          n_galaxies if approach == "none" else n_clusters, state or {})


def _julia_gradient(G, n_galaxies, bins, approach, n_clusters, seed, alpha, kind, fuzziness, tau, rtol, atol,
                    state, t_max, ad):
    """The same function on the Julia backend (the backend split for this estimator)."""

    if approach not in ("none", "c") or kind != "sigmoid":
        raise NotImplementedError("the Julia backend mirrors approaches 'none' and 'c' with sigmoid bins; "
                                  "use backend='numpy' for the others")
    if state is None and approach == "c":
        state = fit_state(simulate_catalog(G, n_galaxies, seed=seed, rtol=rtol, atol=atol, t_max=t_max,
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

    Returns (G, history) with history a list of (G, ``|r|``) per step.
    """
    target = as_float_array(target, "target")
    G_start = check_real(G_start, "G_start", low=0.0, low_open=True)
    max_steps = check_positive_int(max_steps, "max_steps")
    rtol = check_real(rtol, "rtol", low=0.0)
    G, state, history = G_start, kwargs.pop("state", None), []
    for _ in progress_range(max_steps, desc="Gauss-Newton", progress=progress):
        r = xi_plus_gradient(G, state=state, **kwargs)
        state = r.state
        if r.xi.shape != target.shape:
            raise ValueError(f"target has shape {target.shape} but xi+ has {r.xi.shape} bins")
        if not np.all(np.isfinite(r.xi)):
            raise ValueError("xi+ is NaN in some bin (no pair there, e.g. n_clusters=1): choose bins or "
                             "n_clusters so that every bin holds pairs")
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

