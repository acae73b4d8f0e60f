"""Hamiltonian Monte Carlo in NumPy with analytic gradients (paper sec. 7, Algorithm 3 step 6).

The No-U-Turn Sampler as Stan runs it (Hoffman & Gelman 2014; Betancourt 2017, "A Conceptual
Introduction to Hamiltonian Monte Carlo", arXiv:1701.02434, appendix A):

- kinetic energy ``K(p) = p^T M^-1 p / 2`` with a *metric* (mass matrix) M: ``"unit"`` (M = I),
  ``"diag"`` (default) or ``"dense"``, the inverse metric M^-1 being estimated from warm-up
  draws as the posterior (co)variance;
- trajectories grown by doubling in a random direction; the draw is chosen by *multinomial*
  sampling with weights exp(-H) (uniform within a subtree, biased towards the new subtree when
  merging), not by the slice variable of the original NUTS;
- the generalised no-U-turn criterion on ``rho`` (the summed momenta) with the extra checks
  across the two halves of every merged subtree (Stan >= 2.26);
- a step is *divergent* when its energy error H - H0 exceeds 1000; the trajectory stops there
  and the draw is flagged (``HMCResult.divergent``, per draw);
- windowed warm-up as in Stan: a fast initial window of 75 iterations (step size only),
  slow windows of 25, 50, 100, ... iterations whose draws estimate the inverse metric
  (regularised as Stan does: ``(n/(n+5)) var + 1e-3 (5/(n+5))``), a terminal fast window (150
  iterations by default; Stan's 50 leaves the step size too small, see ``warmup_windows``);
  after every slow window the step size is re-initialised and dual averaging (Nesterov; Hoffman &
  Gelman 2014, sec. 3.2.1) restarts; short warm-ups scale the windows to 15% / 75% / 10%.

``logp_and_grad(theta)`` returns the log density (up to a constant) and its gradient; the sampler
runs on unconstrained parameters. Chains run in parallel (threads via
:func:`cosmocorr._parallel.task_map`, or a Dask ``client``), each with its own random stream
from ``numpy.random.SeedSequence(seed).spawn(n_chains)``: the same seed gives the same draws on
any number of threads or workers.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.linalg import solve_triangular

from .._parallel import single_threaded_blas, resolve_client, task_map
from .._validate import (as_float_array, check_bool, check_choice, check_positive_int, check_real,
                         check_seed)
from .._progress import progress_bar
from .._warnings import CosmocorrWarning, emit_warning
from .diagnostics import ChainSummary

__all__ = ["HMCResult", "hmc", "DualAveraging", "bfmi"]

MAX_DELTA_H = 1000.0
METRICS = ("unit", "diag", "dense")


class DualAveraging:
    """Nesterov dual averaging of log step size (Hoffman & Gelman 2014, sec. 3.2.1; Stan's
    defaults gamma = 0.05, t0 = 10, kappa = 0.75, shrinkage point mu = log(10 eps0))."""

    def __init__(self, eps0, target=0.8, gamma=0.05, t0=10.0, kappa=0.75):
        self.target, self.gamma, self.t0, self.kappa = target, gamma, t0, kappa
        self.restart(eps0)

    def restart(self, eps0):
        """Start a new adaptation window from step size ``eps0``."""
        self.mu = np.log(10 * eps0)
        self.hbar, self.log_eps_bar, self.m = 0.0, 0.0, 0

    def update(self, accept_stat):
        """One dual-averaging update from the acceptance statistic; returns the next step size."""
        self.m += 1
        m = self.m
        accept_stat = min(1.0, accept_stat)
        self.hbar = (1 - 1 / (m + self.t0)) * self.hbar + (self.target - accept_stat) / (m + self.t0)
        log_eps = self.mu - np.sqrt(m) / self.gamma * self.hbar
        eta = m ** (-self.kappa)
        self.log_eps_bar = eta * log_eps + (1 - eta) * self.log_eps_bar
        return float(np.exp(log_eps))

    @property
    def final(self):
        """The adapted step size (exp of the averaged log step)."""
        return float(np.exp(self.log_eps_bar))


def bfmi(energy):
    """Estimated Bayesian fraction of missing information per chain (Betancourt 2016,
    arXiv:1604.00695): mean squared energy change over the energy variance; below 0.3 the
    momentum resampling explores the energy distribution poorly. ``energy``: (chains, draws)."""
    e = np.atleast_2d(np.asarray(energy, dtype=float))
    return np.mean(np.diff(e, axis=1) ** 2, axis=1) / np.var(e, axis=1, ddof=1)


# ---------------------------------------------------------------------------------- metric
class _Metric:
    """Gaussian kinetic energy with inverse metric ``inv`` (None: unit; (k,): diagonal; (k, k): dense)."""

    def __init__(self, kind, inv, k):
        self.kind = kind
        if kind == "unit":
            inv = np.ones(k)
        elif kind == "diag":
            inv = np.ones(k) if inv is None else np.asarray(inv, dtype=float)
        else:
            inv = np.eye(k) if inv is None else np.asarray(inv, dtype=float)
        self.set(inv)

    def set(self, inv):
        self.inv = np.array(inv, dtype=float)
        if self.kind == "dense":
            low = np.linalg.cholesky(self.inv)            # M^-1 = L L^T, p = L^-T z ~ N(0, M)
            self._chol_inv_t = solve_triangular(low, np.eye(low.shape[0]), lower=True).T
        else:
            self._sqrt_prec = 1.0 / np.sqrt(self.inv)

    def momentum(self, rng):
        z = rng.standard_normal(self.inv.shape[0])
        return self._chol_inv_t @ z if self.kind == "dense" else z * self._sqrt_prec

    def velocity(self, p):
        return self.inv @ p if self.kind == "dense" else self.inv * p


class _Welford:
    """Running mean and (co)variance of warm-up draws."""

    def __init__(self, k, dense):
        self.dense, self.k = dense, k
        self.restart()

    def restart(self):
        self.n, self.mean = 0, np.zeros(self.k)
        self.m2 = np.zeros((self.k, self.k)) if self.dense else np.zeros(self.k)

    def add(self, x):
        self.n += 1
        d = x - self.mean
        self.mean = self.mean + d / self.n
        self.m2 = self.m2 + (np.outer(d, x - self.mean) if self.dense else d * (x - self.mean))

    def regularised(self):
        """Sample (co)variance shrunk towards 1e-3 (Stan: (n / (n + 5)) var + 1e-3 (5 / (n + 5)))."""
        n = self.n
        var = self.m2 / (n - 1)
        shrink = 1e-3 * 5.0 / (n + 5.0)
        var = (n / (n + 5.0)) * var
        return var + shrink * np.eye(self.k) if self.dense else var + shrink


WARMUP_WINDOWS = (75, 25, 150)


def _windows(n_warmup, init_buffer=75, term_buffer=150, base_window=25):
    """End iterations (0-based, inclusive) of Stan's slow adaptation windows, and the first
    iteration that feeds the estimator."""
    if n_warmup < 20:
        return [], n_warmup
    if init_buffer + base_window + term_buffer > n_warmup:
        init_buffer = int(0.15 * n_warmup)
        term_buffer = int(0.1 * n_warmup)
        base_window = n_warmup - init_buffer - term_buffer
    last = n_warmup - term_buffer - 1
    ends, size, end = [], base_window, init_buffer + base_window - 1
    while True:
        ends.append(end)
        if end >= last:
            break
        size *= 2
        end = end + size
        if end + 2 * size >= n_warmup - term_buffer:
            end = last
    return ends, init_buffer


# ---------------------------------------------------------------------------------- NUTS
class _Chain:
    """One chain's integrator, tree building and per-transition statistics."""

    def __init__(self, f, metric, rng, max_depth):
        self.f, self.metric, self.rng, self.max_depth = f, metric, rng, max_depth
        self.n_grad = 0

    def grad(self, theta):
        self.n_grad += 1
        logp, g = self.f(theta)
        return float(logp), np.asarray(g, dtype=float)

    def leapfrog(self, z, eps):
        theta, p, _, g = z
        p = p + 0.5 * eps * g
        theta = theta + eps * self.metric.velocity(p)
        logp, g = self.grad(theta)
        p = p + 0.5 * eps * g
        return theta, p, logp, g

    def hamiltonian(self, z):
        _, p, logp, _ = z
        h = -logp + 0.5 * p @ self.metric.velocity(p)
        return h if np.isfinite(h) else np.inf

    @staticmethod
    def _uturn_free(ps_minus, ps_plus, rho):
        return ps_minus @ rho > 0 and ps_plus @ rho > 0

    def build_tree(self, depth, z, eps, h0, st):
        """Subtree of 2**depth leapfrog steps from edge state z with signed step eps.

        Returns None when invalid (divergence or a U-turn inside), else
        (edge state, proposal, log weight, rho, p at start, p at end, p# at start, p# at end).
        """
        if depth == 0:
            z1 = self.leapfrog(z, eps)
            h = self.hamiltonian(z1)
            st["n_leapfrog"] += 1
            st["sum_accept"] += 1.0 if h0 - h > 0 else np.exp(h0 - h)
            if h - h0 > MAX_DELTA_H:
                st["divergent"] = True
                return None
            ps = self.metric.velocity(z1[1])
            return z1, z1, h0 - h, z1[1], z1[1], z1[1], ps, ps
        first = self.build_tree(depth - 1, z, eps, h0, st)
        if first is None:
            return None
        z_edge, prop_i, lw_i, rho_i, p_beg, p_iend, ps_beg, ps_iend = first
        second = self.build_tree(depth - 1, z_edge, eps, h0, st)
        if second is None:
            return None
        z_edge, prop_f, lw_f, rho_f, p_fbeg, p_end, ps_fbeg, ps_end = second
        lw = np.logaddexp(lw_i, lw_f)
        prop = prop_f if self.rng.random() < np.exp(lw_f - lw) else prop_i   # uniform within the subtree
        rho = rho_i + rho_f
        ok = (self._uturn_free(ps_beg, ps_end, rho)
              and self._uturn_free(ps_beg, ps_fbeg, rho_i + p_fbeg)     # first half + first point of second
              and self._uturn_free(ps_iend, ps_end, rho_f + p_iend))    # last point of first + second half
        if not ok:
            return None
        return z_edge, prop, lw, rho, p_beg, p_end, ps_beg, ps_end

    def nuts(self, theta, logp, g, eps):
        p0 = self.metric.momentum(self.rng)
        z0 = (theta, p0, logp, g)
        h0 = self.hamiltonian(z0)
        ps0 = self.metric.velocity(p0)
        z_fwd = z_bck = z0
        p_fwd, p_bck, ps_fwd, ps_bck = p0, p0, ps0, ps0     # outer edges of the whole tree
        rho, log_w, sample = p0.copy(), 0.0, z0
        st = {"n_leapfrog": 0, "sum_accept": 0.0, "divergent": False}
        depth = 0
        while depth < self.max_depth:
            if self.rng.random() > 0.5:
                sub = self.build_tree(depth, z_fwd, eps, h0, st)
                if sub is None:
                    break
                z_fwd, prop, lw_sub, rho_sub, p_beg, p_end, ps_beg, ps_end = sub
                inner_p, inner_ps, outer_ps = p_fwd, ps_fwd, ps_bck        # old tree's edge next to the subtree
                p_fwd, ps_fwd = p_end, ps_end
            else:
                sub = self.build_tree(depth, z_bck, -eps, h0, st)
                if sub is None:
                    break
                z_bck, prop, lw_sub, rho_sub, p_beg, p_end, ps_beg, ps_end = sub
                inner_p, inner_ps, outer_ps = p_bck, ps_bck, ps_fwd
                p_bck, ps_bck = p_end, ps_end
            depth += 1
            # biased progressive sampling: favour the new subtree
            if lw_sub > log_w or self.rng.random() < np.exp(lw_sub - log_w):
                sample = prop
            log_w = np.logaddexp(log_w, lw_sub)
            rho_old = rho
            rho = rho_old + rho_sub
            ok = (self._uturn_free(ps_bck, ps_fwd, rho)
                  and self._uturn_free(outer_ps, ps_beg, rho_old + p_beg)
                  and self._uturn_free(inner_ps, ps_end, rho_sub + inner_p))
            if not ok:
                break
        accept = st["sum_accept"] / max(st["n_leapfrog"], 1)
        return sample, accept, depth, st["n_leapfrog"], st["divergent"], self.hamiltonian(sample)

    def static(self, theta, logp, g, eps, n_steps):
        p0 = self.metric.momentum(self.rng)
        z = z0 = (theta, p0, logp, g)
        h0 = self.hamiltonian(z0)
        divergent = False
        for _ in range(n_steps):
            z = self.leapfrog(z, eps)
            if self.hamiltonian(z) - h0 > MAX_DELTA_H:
                divergent = True
                break
        h1 = self.hamiltonian(z)
        accept = 0.0 if divergent else min(1.0, float(np.exp(h0 - h1)))
        if self.rng.random() < accept:
            return z, accept, 0, n_steps, divergent, h1
        return z0, accept, 0, n_steps, divergent, h0

    def init_step_size(self, theta, logp, g, eps=1.0):
        """Stan's heuristic: double or halve eps until one leapfrog step crosses acceptance 0.8."""
        direction = 0
        for _ in range(100):
            p = self.metric.momentum(self.rng)
            z0 = (theta, p, logp, g)
            h0 = self.hamiltonian(z0)
            h1 = self.hamiltonian(self.leapfrog(z0, eps))
            delta = h0 - h1
            d = 1 if delta > np.log(0.8) else -1
            if direction == 0:
                direction = d
            elif d != direction:
                break
            eps = eps * 2.0 if direction == 1 else eps / 2.0
            if eps > 1e7 or eps < 1e-12:
                raise RuntimeError(f"step size initialisation failed (eps = {eps:g}): is the posterior improper "
                                   "or the gradient wrong?")
        return eps


def _run_chain(task):
    """One chain: warm-up with windowed adaptation, then the kept draws (a picklable task)."""
    (f, initial, seed_seq, n_warmup, n_samples, metric_kind, inv_metric, adapt_metric, nuts, trajectory_length,
     target_accept, max_depth, step_size, windows, bar) = task
    rng = np.random.default_rng(seed_seq)
    k = initial.size
    metric = _Metric(metric_kind, inv_metric, k)
    ch = _Chain(f, metric, rng, max_depth)
    theta = initial.astype(float).copy()
    logp, g = ch.grad(theta)
    if not np.isfinite(logp) or not np.all(np.isfinite(g)):
        raise ValueError(f"initial: log density or gradient not finite at {theta} (logp = {logp})")
    eps = step_size if step_size is not None else ch.init_step_size(theta, logp, g)
    da = DualAveraging(eps, target_accept)
    adapt = adapt_metric and metric_kind != "unit"
    ends, first = _windows(n_warmup, windows[0], windows[2], windows[1]) if adapt else ([], n_warmup)
    ends = set(ends)
    est = _Welford(k, metric_kind == "dense")
    n_total = n_warmup + n_samples
    out = {name: np.empty(n_samples, dtype=dt) for name, dt in
           (("accept", float), ("depth", int), ("n_leapfrog", int), ("divergent", bool), ("energy", float),
            ("logp", float))}
    samples = np.empty((n_samples, k))
    warm_div = 0
    for it in range(n_total):
        if nuts:
            z, a, depth, nl, div, energy = ch.nuts(theta, logp, g, eps)
        else:
            nl = max(1, int(round(trajectory_length / eps)))
            z, a, depth, nl, div, energy = ch.static(theta, logp, g, eps, nl)
        theta, _, logp, g = z
        if it < n_warmup:
            warm_div += int(div)
            if step_size is None:
                eps = da.update(a)
            if adapt and it >= first and (ends and it <= max(ends)):
                est.add(theta)
                if it in ends:
                    metric.set(est.regularised())
                    est.restart()
                    eps = ch.init_step_size(theta, logp, g, eps) if step_size is None else eps
                    da.restart(eps)
            if it == n_warmup - 1 and step_size is None:
                eps = da.final
        else:
            i = it - n_warmup
            samples[i] = theta
            out["accept"][i], out["depth"][i], out["n_leapfrog"][i] = a, depth, nl
            out["divergent"][i], out["energy"][i], out["logp"][i] = div, energy, logp
        if bar is not None:
            bar.update()
    out.update(samples=samples, step_size=eps, inv_metric=metric.inv, n_grad=ch.n_grad, warmup_divergences=warm_div)
    return out


class _LockedBar:
    """One progress bar advanced by every chain's thread (iterations, all chains)."""

    def __init__(self, bar):
        self.bar, self.lock = bar, threading.Lock()

    def update(self):
        with self.lock:
            self.bar.update(1)


def _map_chains(tasks, client=None, num_threads=None, progress=False, total=0, desc="NUTS"):
    """Chains as independent tasks through the project's executor (:func:`cosmocorr._parallel.task_map`):
    threads here, BLAS held to one thread (one-point gradients gain nothing from BLAS threads and
    lose much to their contention), or a Dask client's workers (then ``logp_and_grad`` must be
    picklable, and progress counts finished chains)."""
    client = resolve_client(client)
    if client is None:
        with progress_bar(total, desc, progress) as bar, single_threaded_blas():
            shared = _LockedBar(bar) if progress else None
            return task_map(_run_chain, [(t + (shared,),) for t in tasks], client=False, num_threads=num_threads)
    with progress_bar(len(tasks), desc + " chains", progress) as bar:
        return task_map(_run_chain, [(t + (None,),) for t in tasks], client=client, progress=bar if progress else None)


# ---------------------------------------------------------------------------------- results
_SAVED = ("samples", "acceptance", "step_size", "tree_depth", "n_leapfrog", "divergent", "energy", "logp",
          "accept_stat", "inv_metric")


@dataclass
class HMCResult(ChainSummary):
    """Draws and sampler statistics of :func:`hmc`.

    samples (chains, draws, params); acceptance: mean acceptance statistic per chain; step_size
    per chain; n_grad_evals: every gradient call of every chain, warm-up and step-size search
    included; tree_depth, n_leapfrog, divergent (bool), energy (the Hamiltonian at each draw) and
    logp, all (chains, draws); inv_metric per chain ((chains, k) for "unit"/"diag", (chains, k, k)
    for "dense"); divergences: the number of divergent draws after warm-up (per-draw flags in
    ``divergent``).
    """

    samples: np.ndarray
    acceptance: np.ndarray
    step_size: np.ndarray
    n_grad_evals: int
    tree_depth: np.ndarray
    divergent: np.ndarray
    energy: np.ndarray = None
    n_leapfrog: np.ndarray = None
    logp: np.ndarray = None
    accept_stat: np.ndarray = None
    inv_metric: np.ndarray = None
    metric: str = "diag"
    names: tuple = None
    meta: dict = field(default_factory=dict)

    @property
    def divergences(self):
        """Number of divergent draws after warm-up (all chains); per draw: :attr:`divergent`."""
        return int(np.sum(self.divergent))

    @property
    def ebfmi(self):
        """E-BFMI per chain (below 0.3: poor exploration of the energy distribution)."""
        return bfmi(self.energy)

    @property
    def grad_per_ess(self):
        """Gradient calls (warm-up included) per effective sample (minimum bulk ESS)."""
        return self.n_grad_evals / float(np.min(self.ess))


    def summary(self):
        """Dict of per-parameter mean, sd, bulk/tail ESS and R-hat, and per-chain E-BFMI."""
        return {"mean": self.flat.mean(0), "sd": self.flat.std(0, ddof=1), "ess_bulk": self.ess,
                "ess_tail": self.ess_tail, "rhat": self.rhat, "ebfmi": self.ebfmi, "divergences": self.divergences,
                "n_grad_evals": self.n_grad_evals}

    def to_inference_data(self, names=None):
        """An ArviZ object (``InferenceData``; the ``DataTree`` of ArviZ >= 1.0): the posterior (one
        variable per parameter name, or ``theta`` with a ``param`` dimension) and sample_stats
        (lp, acceptance_rate, step_size, tree_depth, n_steps, diverging, energy). Needs arviz."""
        return _to_inference_data(self.samples, names or self.names, self._sample_stats())

    def _sample_stats(self):
        n = self.samples.shape[1]
        return {"lp": self.logp, "acceptance_rate": self.accept_stat,
                "step_size": np.repeat(np.asarray(self.step_size)[:, None], n, 1), "tree_depth": self.tree_depth,
                "n_steps": self.n_leapfrog, "diverging": self.divergent, "energy": self.energy}

    def save(self, path, overwrite=False):
        """Write to ``.npz`` (NumPy only) or ``.nc`` (netCDF through arviz/xarray). Refuses to
        overwrite an existing file unless ``overwrite=True``."""
        path = _check_out(path, overwrite)
        if path.suffix == ".nc":
            _to_netcdf(self.to_inference_data(), path)
            return path
        arrays = {k: getattr(self, k) for k in _SAVED if getattr(self, k) is not None}
        np.savez(path, **arrays, n_grad_evals=np.int64(self.n_grad_evals), metric=np.str_(self.metric),
                 names=np.array(self.names if self.names else [], dtype=str))
        return path

    @classmethod
    def load(cls, path):
        """Read a result written by :meth:`save` (``.npz``)."""
        with _open_npz(path) as z:
            kw = {k: z[k] for k in _SAVED if k in z.files}
            names = tuple(str(s) for s in z["names"]) or None
            return cls(n_grad_evals=int(z["n_grad_evals"]), metric=str(z["metric"]), names=names, **kw)


def _open_npz(path):
    """The ``.npz`` written by a result's ``save`` (pickles refused); a clear error otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"path: no such file {path}")
    if path.suffix != ".npz":
        raise ValueError(f"path: load reads .npz files; read netCDF with arviz.from_netcdf({str(path)!r})")
    return np.load(path, allow_pickle=False)


def _check_out(path, overwrite):
    path = Path(path)
    if path.suffix not in (".npz", ".nc"):
        raise ValueError(f"path must end in .npz or .nc, got {path.name!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"path: {path} exists (pass overwrite=True to replace it)")
    return path


def _to_netcdf(idata, path):
    if hasattr(idata, "to_netcdf"):
        idata.to_netcdf(str(path))
    else:  # pragma: no cover - arviz >= 1.0 DataTree
        idata.to_netcdf(path)


def _to_inference_data(samples, names, stats):
    """samples (chains, draws, k) and sample stats {name: (chains, draws) or None} -> arviz object."""
    try:
        import arviz as az
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("to_inference_data needs arviz (pip install arviz)") from err
    samples = np.asarray(samples)
    k = samples.shape[-1]
    if names is not None:
        names = list(names)
        if len(names) != k:
            raise ValueError(f"names: need {k} names, got {len(names)}")
        posterior = {n: samples[..., i] for i, n in enumerate(names)}
        dims = None
    else:
        posterior = {"theta": samples}
        dims = {"theta": ["param"]}
    stats = {s: np.asarray(v) for s, v in (stats or {}).items() if v is not None}
    try:   # arviz < 1.0
        return az.from_dict(posterior=posterior, sample_stats=stats or None, dims=dims)
    except TypeError:  # pragma: no cover - arviz >= 1.0: groups in one dict, returns a DataTree
        return az.from_dict({"posterior": posterior, **({"sample_stats": stats} if stats else {})}, dims=dims)


# ---------------------------------------------------------------------------------- driver
def hmc(logp_and_grad, initial, n_warmup=1000, n_samples=1000, n_chains=4, seed=None, nuts=True,
        trajectory_length=1.0, target_accept=0.8, max_tree_depth=10, metric="diag", inv_metric=None,
        adapt_metric=True, step_size=None, warmup_windows=WARMUP_WINDOWS, names=None, client=None, num_threads=None,
        progress=False):
    """Sample a density with NUTS (default) or static HMC, with Stan's windowed warm-up.

    Parameters
    ----------
    logp_and_grad : callable
        theta (k,) -> (log density, gradient (k,)). Called from several threads at once when
        n_chains > 1 (it must be thread-safe; pure NumPy functions are).
    initial : array_like (k,) or (n_chains, k)
        Starting points (unconstrained).
    n_warmup, n_samples, n_chains : int
        Warm-up iterations (adaptation, then discarded), kept draws per chain, chains.
    seed : int or SeedSequence, optional
        Chain c uses ``SeedSequence(seed).spawn(n_chains)[c]``.
    nuts : bool
        NUTS; else static HMC with ``round(trajectory_length / step_size)`` leapfrog steps.
    target_accept : float
        Dual-averaging target of the mean acceptance statistic (0.8 as in Stan).
    max_tree_depth : int
        At most 2**max_tree_depth leapfrog steps per NUTS draw.
    metric : {"diag", "unit", "dense"}
        Mass matrix adapted during warm-up: diagonal (default), dense, or the identity.
    inv_metric : array_like, optional
        Starting inverse metric ((k,) for "diag", (k, k) for "dense"); with ``adapt_metric=False``
        it stays fixed (e.g. the true covariance, for an oracle run).
    step_size : float, optional
        Fixed step size (no dual averaging), e.g. to provoke divergences.
    warmup_windows : (int, int, int)
        Initial fast window, first slow window, terminal fast window (iterations). Stan uses
        (75, 25, 50); the default terminal window here is 150 because after 50 iterations dual
        averaging leaves the acceptance near 0.92 instead of ``target_accept`` (a smaller step
        than needed: about 2x the gradients per effective sample on the Gaussians of
        ``benchmarks/bench_surrogate.py``). Warm-ups shorter than their sum use 15% / 75% / 10%.
    names : sequence of str, optional
        Parameter names, used by :meth:`HMCResult.to_inference_data`.
    client : dask.distributed.Client, optional
        Run the chains as Dask tasks (``logp_and_grad`` must then be picklable); default: the
        configured executor (:func:`cosmocorr._parallel.set_executor`), else local threads;
        ``client=False`` forces threads.
    num_threads : int, optional
        Threads for the chains (default: the project setting, ``COSMOCORR_NUM_THREADS``).
    progress : bool or dict
        A progress bar (tqdm) over the iterations of all chains (over finished chains on Dask).

    Returns
    -------
    HMCResult
    """
    if not callable(logp_and_grad):
        raise TypeError("logp_and_grad must be callable: theta -> (log density, gradient)")
    check_choice(metric, "metric", METRICS)
    n_warmup = check_positive_int(n_warmup, "n_warmup", minimum=0)
    n_samples = check_positive_int(n_samples, "n_samples")
    n_chains = check_positive_int(n_chains, "n_chains")
    max_tree_depth = check_positive_int(max_tree_depth, "max_tree_depth")
    check_bool(nuts, "nuts")
    check_bool(adapt_metric, "adapt_metric")
    check_seed(seed)
    target_accept = check_real(target_accept, "target_accept", low=0.0, high=1.0, low_open=True, high_open=True)
    trajectory_length = check_real(trajectory_length, "trajectory_length", low=0.0, low_open=True)
    if step_size is not None:
        step_size = check_real(step_size, "step_size", low=0.0, low_open=True)
    warmup_windows = _check_windows(warmup_windows)
    initial = as_float_array(initial, "initial", ndim=np.ndim(initial) if np.ndim(initial) in (1, 2) else 1)
    initial = np.atleast_2d(initial)
    if initial.shape[0] == 1:
        initial = np.repeat(initial, n_chains, axis=0)
    if initial.ndim != 2 or initial.shape[0] != n_chains:
        raise ValueError(f"initial must have 1 or n_chains={n_chains} rows, got shape {initial.shape}")
    k = initial.shape[1]
    if names is not None:
        if isinstance(names, str) or not all(isinstance(n, str) for n in names):
            raise TypeError("names must be a sequence of str, one per parameter")
        if len(names) != k:
            raise ValueError(f"names has {len(names)} entries but there are {k} parameters")
    if inv_metric is not None:
        inv_metric = as_float_array(inv_metric, "inv_metric", ndim=2 if metric == "dense" else 1)
        want = (k, k) if metric == "dense" else (k,)
        if metric == "unit" or inv_metric.shape != want:
            raise ValueError(f"inv_metric must have shape {want} for metric={metric!r}, got {inv_metric.shape}")
        if metric == "diag" and np.any(inv_metric <= 0):
            raise ValueError("inv_metric must be positive")
        if metric == "dense":
            if not np.allclose(inv_metric, inv_metric.T, rtol=1e-10, atol=0):
                raise ValueError("inv_metric must be symmetric for metric='dense'")
            try:
                np.linalg.cholesky(inv_metric)
            except np.linalg.LinAlgError:
                raise ValueError("inv_metric must be positive definite for metric='dense'") from None
    _check_logp(logp_and_grad, initial[0])  # one call, counted in n_grad_evals
    ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    tasks = [(logp_and_grad, initial[c], child, int(n_warmup), int(n_samples), metric, inv_metric, adapt_metric,
              nuts, trajectory_length, target_accept, int(max_tree_depth), step_size, tuple(warmup_windows))
             for c, child in enumerate(ss.spawn(n_chains))]
    runs = _map_chains(tasks, client, num_threads, progress, n_chains * (n_warmup + n_samples),
                       f"NUTS, {n_chains} chains" if nuts else f"HMC, {n_chains} chains")
    stack = lambda key: np.stack([r[key] for r in runs])
    res = HMCResult(samples=stack("samples"), acceptance=np.array([r["accept"].mean() for r in runs]),
                    step_size=np.array([r["step_size"] for r in runs]), n_grad_evals=1 + int(sum(r["n_grad"] for r in runs)),
                    tree_depth=stack("depth"), divergent=stack("divergent"), energy=stack("energy"),
                    n_leapfrog=stack("n_leapfrog"), logp=stack("logp"), accept_stat=stack("accept"), inv_metric=stack("inv_metric"), metric=metric,
                    names=None if names is None else tuple(names),
                    meta={"warmup_divergences": int(sum(r["warmup_divergences"] for r in runs)),
                          "n_warmup": int(n_warmup), "max_tree_depth": int(max_tree_depth)})
    _report(res, nuts, max_tree_depth)
    return res


def _check_windows(windows):
    """Stan's (initial fast, first slow, terminal fast) warm-up windows: non-negative ints with a
    first slow window of at least 1 (a slow window of 0 never ends: the windows double from it)."""
    if isinstance(windows, (str, bytes)) or not hasattr(windows, "__len__") or len(windows) != 3:
        raise TypeError(f"warmup_windows must be three integers (initial, slow, terminal), got {windows!r}")
    init, slow, term = (check_positive_int(w, f"warmup_windows[{i}]", minimum=1 if i == 1 else 0)
                        for i, w in enumerate(windows))
    return init, slow, term


def _check_logp(logp_and_grad, theta):
    """One call at the first starting point: it must return (finite or -inf float, finite (k,)
    gradient), so a wrong return type fails here and not inside a chain."""
    try:
        out = logp_and_grad(theta.copy())
    except Exception as exc:
        raise type(exc)(f"logp_and_grad failed at initial {theta.tolist()}: {exc}") from exc
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"logp_and_grad must return (log density, gradient), got {type(out).__name__}")
    lp, grad = out
    if isinstance(lp, (bool, np.bool_)) or np.ndim(lp) != 0 or np.asarray(lp).dtype.kind not in "iuf":
        raise TypeError(f"logp_and_grad must return a real log density first, got {lp!r}")
    if np.isnan(lp) or lp == np.inf:
        raise ValueError(f"logp_and_grad returned log density {lp} at initial {theta.tolist()}")
    grad = np.asarray(grad)
    if grad.dtype.kind not in "iuf" or grad.shape != theta.shape:
        raise TypeError(f"logp_and_grad must return a gradient of shape {theta.shape} (real), got "
                        f"{grad.dtype} of shape {grad.shape}")
    if np.isfinite(lp) and not np.all(np.isfinite(grad)):
        raise ValueError(f"logp_and_grad returned a non-finite gradient at initial {theta.tolist()}")


def _report(res, nuts, max_depth):
    msgs = []
    if res.divergences:
        msgs.append(f"{res.divergences} divergent transitions after warm-up: the posterior has regions the "
                    "step size cannot resolve (raise target_accept or reparameterise)")
    if nuts:
        sat = int(np.sum(res.tree_depth >= max_depth))
        if sat:
            msgs.append(f"{sat} draws hit max_tree_depth={max_depth}")
    if res.samples.shape[1] > 2:
        low = np.nonzero(res.ebfmi < 0.3)[0]
        if low.size:
            msgs.append(f"E-BFMI below 0.3 in chain(s) {low.tolist()}: poor exploration of the energy distribution")
    for m in msgs:
        emit_warning(m, CosmocorrWarning, stacklevel=4)
