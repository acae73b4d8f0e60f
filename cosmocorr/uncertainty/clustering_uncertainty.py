"""Epistemic (clustering) versus aleatoric (data) uncertainty, paper sec. 2.3 and 5.

- sigma_epistemic: the standard deviation over ``n_samples`` sampled cluster assignments
  (Algorithm 1 with M_i ~ Categorical(U_i)), the clusters fitted once;
- sigma_aleatoric: the standard deviation over ``n_bootstrap`` resamples of the objects, each
  with the deterministic greedy (argmax) assignment so that clustering noise is excluded:
  ``method="bootstrap"`` draws N objects with replacement, ``method="subset"`` (the paper's
  wording) removes a random fraction ``subset_fraction`` of the objects each time.

Following the paper, a correlation is reported as mu +- sigma_aleatoric +- sigma_epistemic per
bin, mu the mean over the sampled assignments. Standard deviations use ddof=1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._progress import progress_range
from .._validate import check_choice, check_positive_int
from ..clustering import cluster_objects, fit_clusters, greedy_assignments, sample_assignments
from ..estimators import ShearShearResult, naive_pair_sums, rho_statistics, shear_shear
from ..sky import Bins, Catalog, StarCatalog
from .algorithm1 import _nanmean, _std, rho_draws
from .resampling import resample_indices

__all__ = ["UncertaintyResult", "clustering_uncertainty"]


@dataclass
class UncertaintyResult:
    """Per-bin mean and both uncertainties for one or more statistics.

    Every dict is keyed by statistic name (``"rho1"``..``"rho5"`` for a StarCatalog, ``"xip"``
    for a shear Catalog). ``samples`` (n_samples, nbins) are the Algorithm 1 draws,
    ``bootstrap_samples`` (n_bootstrap, nbins) the greedy resamples; ``naive`` is the all-pairs
    estimate without clustering; ``mean`` is mu, the mean of ``samples``.
    """

    bins: Bins
    meanr: np.ndarray
    mean: dict
    sigma_epistemic: dict
    sigma_aleatoric: dict
    samples: dict
    bootstrap_samples: dict
    bootstrap_mean: dict
    naive: dict
    n_clusters: int
    method: str
    clustering: object = field(default=None, repr=False)

    @property
    def names(self):
        return list(self.mean)

    def ratio(self, name):
        """sigma_epistemic / sigma_aleatoric per bin."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.sigma_epistemic[name] / self.sigma_aleatoric[name]

    def table(self, name):
        """Rows (theta, mu, sigma_aleatoric, sigma_epistemic, naive) as a string."""
        lines = [f"{'theta':>8} {'mu':>12} {'sig_aleat':>12} {'sig_epist':>12} {'naive':>12}"]
        for k in range(self.bins.nbins):
            lines.append(f"{self.meanr[k]:8.3f} {self.mean[name][k]:12.4e} {self.sigma_aleatoric[name][k]:12.4e} "
                         f"{self.sigma_epistemic[name][k]:12.4e} {self.naive[name][k]:12.4e}")
        return "\n".join(lines)

    def plot(self, name, axes=None):
        """The paper's figure 8 layout: bootstrap (left) and sampling (right) error bars, with
        the naive no-clustering estimate overlaid; |value| on a log axis, negative values open."""
        import matplotlib.pyplot as plt

        from ..plotting import RHO_LABELS, plot_rho

        if axes is None:
            fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, constrained_layout=True)
        else:
            fig = axes[0].figure
        theta = np.where(np.isfinite(self.meanr), self.meanr, self.bins.rnom)
        label = RHO_LABELS.get(name, name)
        panels = ((axes[0], self.bootstrap_mean[name], self.sigma_aleatoric[name], "bootstrap (aleatoric)"),
                  (axes[1], self.mean[name], self.sigma_epistemic[name], "sampling (epistemic)"))
        for ax, mu, sig, title in panels:
            plot_rho(ax, theta, mu, yerr=sig, label=f"{self.n_clusters} clusters", color="C0")
            plot_rho(ax, theta, self.naive[name], label="naive (no clustering)", color="k", marker="x", offset=1.03)
            ax.set_title(f"{label}: {title}")
            ax.set_xlabel(r"$\theta$ [arcmin]")
            ax.set_xlim(self.bins.min_sep, self.bins.max_sep)
        axes[0].set_ylabel(f"|{label}| (open: negative)")
        axes[0].legend(fontsize="small")
        return fig


def clustering_uncertainty(data, bins, n_clusters, n_samples=10, n_bootstrap=10, method="bootstrap",
                           subset_fraction=0.2, fuzziness=2.0, seed=None, backend=None, progress=False,
                           clustering=None):
    """Epistemic and aleatoric uncertainty of a clustered estimate (paper sec. 2.3, figs. 8, 14-17).

    Parameters
    ----------
    data : StarCatalog or Catalog
        Stars (rho1..rho5) or a shear catalog (xi+).
    bins : Bins
    n_clusters : int
    n_samples : int
        Sampled assignments for sigma_epistemic (paper: 10).
    n_bootstrap : int
        Resamples for sigma_aleatoric (paper: 10).
    method : {"bootstrap", "subset"}
        With-replacement bootstrap, or leave a random ``subset_fraction`` out.
    fuzziness, seed, backend, progress :
        As elsewhere; one seed makes the whole study reproducible.
    clustering : FuzzyCMeansResult, optional
        Precomputed clustering of ``data``.

    Returns
    -------
    UncertaintyResult
    """
    check_choice(method, "method", ("bootstrap", "subset"))
    n_samples = check_positive_int(n_samples, "n_samples", minimum=2)
    n_bootstrap = check_positive_int(n_bootstrap, "n_bootstrap", minimum=2)
    if not 0 < subset_fraction < 1:
        raise ValueError(f"subset_fraction must lie in (0, 1), got {subset_fraction}")
    if not isinstance(bins, Bins):
        raise TypeError(f"bins must be a cosmocorr.Bins, got {type(bins).__name__}")
    rng = np.random.default_rng(seed)
    if isinstance(data, StarCatalog):
        cat = data.catalog
        fit = fit_clusters(cat, n_clusters, fuzziness, rng.integers(2**63), clustering)
        naive_res = rho_statistics(data, bins, backend=backend)
        naive = {k: naive_res[k].xip for k in naive_res}
        meanr = naive_res.meanr

        def draws(assignments, subset=None, desc=""):
            stars = data if subset is None else data.subset(subset)
            res = rho_draws(stars, bins, fit, assignments, backend, progress, desc)
            return {k: np.array([r.xip for r in v]) for k, v in res.items()}
    elif isinstance(data, Catalog):
        data.require_shear("data")
        cat = data
        fit = fit_clusters(cat, n_clusters, fuzziness, rng.integers(2**63), clustering)
        naive_res = shear_shear(data, bins=bins, backend=backend)
        naive = {"xip": naive_res.xip}
        meanr = naive_res.meanr

        def draws(assignments, subset=None, desc=""):
            c = data if subset is None else data.subset(subset)
            out = []
            for s in progress_range(assignments.shape[0], desc=desc, progress=progress):
                cl, f = cluster_objects(fit.centers, assignments[s], c.w, {"g": c.g})
                out.append(ShearShearResult.from_sums(bins, naive_pair_sums(cl, None, bins, backend=backend,
                                                                             g1=f["g"], g2=f["g"])).xip)
            return {"xip": np.array(out)}
    else:
        raise TypeError(f"data must be a StarCatalog or a Catalog, got {type(data).__name__}")

    U = fit.membership
    sample_rng = np.random.default_rng(rng.integers(2**63))
    samples = draws(sample_assignments(U, sample_rng, n_samples), desc="sampled assignments")
    boot = {k: [] for k in samples}
    greedy = greedy_assignments(U)
    for _ in progress_range(n_bootstrap, desc=f"{method} resamples", progress=progress):
        idx = resample_indices(cat.nobj, method, subset_fraction, rng)
        one = draws(greedy[idx][None, :], subset=idx)
        for k in boot:
            boot[k].append(one[k][0])
    boot = {k: np.array(v) for k, v in boot.items()}
    return UncertaintyResult(
        bins=bins, meanr=meanr,
        mean={k: _nanmean(v) for k, v in samples.items()},
        sigma_epistemic={k: _std(v) for k, v in samples.items()},
        sigma_aleatoric={k: _std(v) for k, v in boot.items()},
        samples=samples, bootstrap_samples=boot, bootstrap_mean={k: _nanmean(v) for k, v in boot.items()},
        naive=naive, n_clusters=fit.n_clusters, method=method, clustering=fit,
    )
