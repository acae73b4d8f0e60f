"""Benchmark and evidence for issue 12: patch covariances against TreeCorr, and the uncertainty study.

Part 1 (timing, same process): N = 10,000 synthetic shear objects over 1 deg x 1 deg, 50 k-means
patches (``Catalog(npatch=50)``, the same labels given to TreeCorr), 10 log bins 1-60 arcmin.
cosmocorr ``shear_shear(var_method="jackknife")`` (patch-pair sums, once, then the jackknife)
against TreeCorr ``GGCorrelation(brute=True)`` with ``var_method="jackknife"`` (``process`` +
``cov``), interleaved repeats, best kept, wall and CPU time; then every other covariance method
from the stored patch-pair sums (no pair recounted) and the agreement with TreeCorr.

Part 2 (the README table): on the COSMOS-Web stars (610; 50 clusters, 10 sampled assignments,
10 resamples, 8 linear bins 0-45 arcmin), the median over bins of sigma_epistemic /
sigma_aleatoric per rho statistic for each ``aleatoric`` method, pooled over ``--seeds``, with
the range of the per-seed medians; beside it the paper's ratio, median over bins of
std(rhoK_sample) / std(rhoK_bootstrap) from ``paper/rho_stats_paper.json``.

Each table row counts the re-clusterings (of 10 per seed) that stopped at ``max_iter`` without
converging, from the fits' own ``converged`` flags; ``--cold`` re-fits from k-means++ instead of
the full fit's centres (``warm_start=False``), ``--max-iter`` caps the fits, ``--cluster-weights members equal`` prints one
table per weighting of the cluster objects (``cluster_weights=``), ``--methods`` selects rows.

    python benchmarks/bench_covariance.py [--n 10000] [--npatch 50] [--repeat 2] [--seeds 1 2 3]
        [--skip-timing] [--skip-ratios] [--methods ...] [--cluster-weights members equal] [--cold]
        [--max-iter 300]
"""
import argparse
import inspect
import json
import logging
import os
import time
import warnings
from pathlib import Path

import numpy as np

import cosmocorr as cc
from cosmocorr._parallel import n_threads
from cosmocorr.sky.synthetic import synthetic_shear_catalog

DATA = Path(os.environ.get("COSMOCORR_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))
BINS = cc.Bins(1.0, 60.0, 10, spacing="log")


def timed(fn):
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def part1(n, npatch, repeat):
    import treecorr

    c = synthetic_shear_catalog(n, seed=1)
    cat = cc.Catalog(c.ra, c.dec, c.g1, c.g2, npatch=npatch, patch_seed=1)
    tcat = treecorr.Catalog(ra=cat.ra, dec=cat.dec, g1=cat.g1, g2=cat.g2, ra_units="deg", dec_units="deg",
                            patch=cat.patch)
    nt = n_threads()

    def ours():
        return cc.shear_shear(cat, bins=BINS, var_method="jackknife")

    def theirs():
        gg = treecorr.GGCorrelation(min_sep=BINS.min_sep, max_sep=BINS.max_sep, nbins=BINS.nbins, sep_units="arcmin",
                                    brute=True, var_method="jackknife", cross_patch_weight="simple")
        gg.process(tcat, metric="Arc", num_threads=nt)
        gg.cov  # noqa: B018 - the jackknife covariance
        return gg

    best = {"cc": (np.inf, np.inf), "tc": (np.inf, np.inf)}
    ratios = []
    for _ in range(repeat):
        gg, tw, tc_ = timed(theirs)
        r, cw, cc_ = timed(ours)
        best["tc"] = (min(best["tc"][0], tw), min(best["tc"][1], tc_))
        best["cc"] = (min(best["cc"][0], cw), min(best["cc"][1], cc_))
        ratios.append(cw / tw)
    print(f"## Patch jackknife, N = {n}, {npatch} patches, {BINS}, {nt} thread(s) each, best of {repeat}")
    print("| | wall (s) | CPU (s) |\n| --- | --- | --- |")
    print(f"| cosmocorr shear_shear(var_method='jackknife') | {best['cc'][0]:.2f} | {best['cc'][1]:.2f} |")
    print(f"| TreeCorr GGCorrelation(brute=True, var_method='jackknife') | {best['tc'][0]:.2f} | {best['tc'][1]:.2f} |")
    print(f"| ratio cosmocorr / TreeCorr | {best['cc'][0] / best['tc'][0]:.2f} | {best['cc'][1] / best['tc'][1]:.2f} |")
    print(f"(per-repeat wall ratios: {', '.join(f'{x:.2f}' for x in ratios)})")
    sd = np.sqrt(np.outer(np.diag(gg.cov), np.diag(gg.cov)))
    print(f"jackknife cov: max |C_cc - C_tc| / sqrt(C_ii C_jj) = {np.max(np.abs(r.cov - gg.cov) / sd):.2e}")
    print("\nOther methods from the same patch-pair sums (no pair recounted):")
    print("| method | cosmocorr (s) | TreeCorr estimate_cov (s) | max rel. diff |\n| --- | --- | --- | --- |")
    for method, kw in (("jackknife", {}), ("sample", {}), ("bootstrap", {"num_bootstrap": 500}),
                       ("marked_bootstrap", {"num_bootstrap": 500})):
        D, t1, _ = timed(lambda: r.estimate_cov(method, seed=3, **kw))
        gg._rng = np.random.default_rng(3)
        C, t2, _ = timed(lambda: gg.estimate_cov(method, cross_patch_weight="simple", **kw))
        sd = np.sqrt(np.outer(np.diag(C), np.diag(C)))
        print(f"| {method} | {t1:.3f} | {t2:.3f} | {np.max(np.abs(C - D) / sd):.1e} |")


METHODS = {   # aleatoric method: (keywords, table label, calibrated?)
    "bootstrap": ({}, "object bootstrap, fitted once", "shot noise only"),
    "subset": ({"n_remove": 50}, "paper's text: 50 of 610 removed, re-clustered", "no (unscaled)"),
    "subset_block": ({}, "paper's code: contiguous block dropped/duplicated, re-clustered", "no (unscaled)"),
    "delete_d_jackknife": ({"n_remove": 50}, "delete-50 jackknife, re-clustered", "yes (objects)"),
    "patch_jackknife": ({"npatch": 20}, "patch jackknife (20 patches)", "yes (incl. sample variance)"),
}


def part2(seeds, methods=tuple(METHODS), cluster_weights=("members",), warm_start=True, max_iter=None):
    fits = DATA / "cosmos_web" / "f115w_validation_psfex.fits"
    paper_json = DATA / "paper" / "rho_stats_paper.json"
    if not fits.exists():
        print(f"\n(COSMOS-Web catalog not found at {fits}: ratio table skipped)")
        return
    stars = cc.StarCatalog.from_fits(fits)
    row = np.arange(len(stars))   # the block resampling cuts rows: is the catalog stored in spatial order?
    print(f"(row order: correlation of the row index with RA {np.corrcoef(row, stars.ra)[0, 1]:+.3f}, "
          f"with Dec {np.corrcoef(row, stars.dec)[0, 1]:+.3f})")
    bins = cc.Bins(0.0, 45.0, 8)
    names = [f"rho{k}" for k in range(1, 6)]
    paper, paper_sigma = {}, {}
    if paper_json.exists():
        d = json.loads(paper_json.read_text())
        for k in names:
            paper[k] = float(np.median(np.asarray(d[f"{k}_sample"]["stds"]) / np.asarray(d[f"{k}_bootstrap"]["stds"])))
            paper_sigma[k] = np.asarray(d[f"{k}_sample"]["stds"], dtype=float)
    logging.getLogger("cosmocorr").setLevel(logging.ERROR)   # unconverged fits are counted below instead
    for cw in cluster_weights:
        absolute = {k: [] for k in names}  # our sigma_epistemic / the paper's std over sampled assignments
        rows = {}
        for al in methods:
            kw = METHODS[al][0]
            per_seed, pooled = {k: [] for k in names}, {k: [] for k in names}
            t, c = time.perf_counter(), time.process_time()
            full_unconv, refit_unconv, refits, iters = 0, 0, 0, []
            for seed in seeds:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", cc.ConvergenceWarning)
                    u = cc.clustering_uncertainty(stars, bins, 50, n_samples=10, n_bootstrap=10, seed=seed,
                                                  aleatoric=al, cluster_weights=cw, warm_start=warm_start,
                                                  **({} if max_iter is None else {"max_iter": max_iter}), **kw)
                # the count is the fits' own flags: the full fit's and each re-clustering's
                full_unconv += int(not u.clustering.converged)
                refit_unconv += int(np.sum(~u.refit_converged))
                refits += u.refit_converged.size
                iters.extend(u.refit_n_iter.tolist())
                assert u.n_unconverged == int(not u.clustering.converged) + int(np.sum(~u.refit_converged))
                for k in names:
                    if al == "bootstrap" and k in paper_sigma and paper_sigma[k].size == u.sigma_epistemic[k].size:
                        absolute[k].append(float(np.nanmedian(u.sigma_epistemic[k] / paper_sigma[k])))
                    r = u.ratio(k)
                    per_seed[k].append(np.nanmedian(r))
                    pooled[k].append(r)
            rows[al] = {k: (float(np.nanmedian(np.concatenate(pooled[k]))), min(per_seed[k]), max(per_seed[k]))
                        for k in names}
            rows[al]["unconverged"] = f"{refit_unconv} of {refits}" if refits else "-"
            rows[al]["full"] = full_unconv
            it = (f"; re-fit iterations median {np.median(iters):.0f}, max {max(iters)}") if iters else ""
            print(f"({al}, cluster_weights={cw!r}: {time.perf_counter() - t:.1f} s wall, "
                  f"{time.process_time() - c:.1f} CPU-s for {len(seeds)} seeds; full fits stopped at max_iter: "
                  f"{full_unconv} of {len(seeds)}; re-fits stopped at max_iter: {rows[al]['unconverged']}{it})")
        start = "warm-started from the full fit's centres" if warm_start else "cold (k-means++) starts"
        print(f"\n## Median sigma_epistemic / sigma_aleatoric on COSMOS-Web (610 stars, 50 clusters, 10 + 10 draws, "
              f"8 bins 0-45'; cluster_weights={cw!r}; re-fits {start}; seeds {', '.join(map(str, seeds))}; "
              f"per-seed range in brackets)")
        cap = max_iter if max_iter is not None else inspect.signature(cc.clustering_uncertainty).parameters["max_iter"].default
        head = "| aleatoric method | calibrated? | " + " | ".join(names) + f" | re-fits stopped at max_iter={cap} |"
        print(head + "\n|" + " --- |" * (len(names) + 3))
        for al in methods:
            cells = [f"{rows[al][k][0]:.2f} [{rows[al][k][1]:.2f}-{rows[al][k][2]:.2f}]" for k in names]
            print(f"| {METHODS[al][1]} | {METHODS[al][2]} | " + " | ".join(cells) + f" | {rows[al]['unconverged']} |")
        if paper:
            print("| paper (ShOpt PSF): std(sample) / std(bootstrap) | - | "
                  + " | ".join(f"{paper[k]:.2f}" for k in names) + " | - |")
        if all(absolute[k] for k in names):
            print("\nAbsolute scale: median over bins of our sigma_epistemic / the paper's std over sampled "
                  "assignments (per-seed range in brackets): " + ", ".join(
                      f"{k} {np.median(absolute[k]):.2f} [{min(absolute[k]):.2f}-{max(absolute[k]):.2f}]"
                      for k in names))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--npatch", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--skip-timing", action="store_true")
    ap.add_argument("--skip-ratios", action="store_true")
    ap.add_argument("--methods", nargs="+", choices=list(METHODS), default=list(METHODS),
                    help="aleatoric methods (rows of the table)")
    ap.add_argument("--cluster-weights", nargs="+", choices=["members", "equal"], default=["members"],
                    help="one table per cluster-object weighting")
    ap.add_argument("--cold", action="store_true", help="re-fits from k-means++ (warm_start=False)")
    ap.add_argument("--max-iter", type=int, default=None, help="fuzzy c-means max_iter (default: the function's)")
    a = ap.parse_args()
    if not a.skip_timing:
        part1(a.n, a.npatch, a.repeat)
    if not a.skip_ratios:
        part2(a.seeds, a.methods, a.cluster_weights, not a.cold, a.max_iter)


if __name__ == "__main__":
    main()
