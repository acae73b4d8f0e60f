"""Benchmark: survey scale (issue 13): sparse fuzzy c-means and Dask.

    python benchmarks/bench_scale.py fcm      # N = 1e6 uniform on 3 x 3 deg, c = 1000, k = 20, tol 1e-3
    python benchmarks/bench_scale.py fcm 1e-2 # the same with another tol
    python benchmarks/bench_scale.py fcm --coarse      # cold start vs coarse_to_fine=True, N = 2e5 (c = 200)
                                                       # then N = 1e6 (c = 1000), k = 20, tol 1e-3: iterations,
                                                       # times, J_m and rho1 of both in one run
    python benchmarks/bench_scale.py fcm --coarse 2e5  # only the N = 2e5 comparison (a few minutes)
    python benchmarks/bench_scale.py fcm --coarse 1e6 --coarse-first   # only N = 1e6, the coarse start first
    python benchmarks/bench_scale.py fcm --coarse 1e6 --sizes 1e5,3e5 --no-cold   # coarse start only, with the
                                                       # given subsample sizes instead of coarse_to_fine=True
    python benchmarks/bench_scale.py fcm --coarse 1e6 --seeds 1,2 --coarse-first   # other seeds
    python benchmarks/bench_scale.py sweep --reference FILE   # cost of one sparse sweep at N = 1e6, c = 1000,
                                                       # k = 20 against an earlier sparse_fcm.py saved at FILE
                                                       # (same process, alternating; near convergence)
    python benchmarks/bench_scale.py sweep --reference FILE --threads 1 --repeats 4 --iters 10
    python benchmarks/bench_scale.py k        # N = 1e5, c = 100: J_m and rho1 of sparse vs dense vs k
    python benchmarks/bench_scale.py dask     # exact shear-shear (N = 50,000) and clustering_uncertainty
                                              # (100 draws + 100 resamples) on 1 and 2 worker processes
    python benchmarks/bench_scale.py dask-uncertainty   # clustering_uncertainty only
    python benchmarks/bench_scale.py dask-jackknife     # jackknife shear-shear (N = 20,000, 20 patches) only

Wall time and CPU time (all threads of this process) are printed: on a shared machine the wall
time depends on the other jobs, the CPU time much less. Peak memory is the process's maximum
resident set (``resource.getrusage``), so run each part in its own process.
"""
import resource
import sys
import time

import numpy as np

import cosmocorr as cc
from cosmocorr.clustering.sparse_fcm import kmeans_plus_plus_fast


def uniform(n, half_width_deg, seed=0):
    rng = np.random.default_rng(seed)
    return 150 + rng.uniform(-half_width_deg, half_width_deg, n), 2.2 + rng.uniform(-half_width_deg, half_width_deg, n)


def peak_gb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


class Clock:
    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def fcm_million(n=1_000_000, c=1000, k=20, tol=1e-3, num_threads=2):
    ra, dec = uniform(n, 1.5)
    base = peak_gb()
    with Clock() as t_init:
        init = kmeans_plus_plus_fast(ra, dec, c, seed=1)
    with Clock() as t_fit:
        res = cc.fuzzy_c_means(ra, dec, c, init=init, neighbours=k, tol=tol, max_iter=5000, accelerate=True,
                               num_threads=num_threads)
    print(f"| N | c | k | tol | iterations | k-means++ wall / cpu (s) | FCM wall / cpu (s) | total wall (s) "
          f"| peak RSS (GB; catalog alone {base:.2f}) | J_m (arcmin^2) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print(f"| {n:,} | {c} | {k} | {tol:g} | {res.n_iter} (converged={res.converged}) "
          f"| {t_init.wall:.1f} / {t_init.cpu:.1f} | {t_fit.wall:.1f} / {t_fit.cpu:.1f} "
          f"| {t_init.wall + t_fit.wall:.1f} | {peak_gb():.2f} | {res.objective[-1]:.7e} |", flush=True)


def coarse_versus_cold(sizes=((200_000, 200, (1, 2, 3)), (1_000_000, 1000, (1,))), k=20, tol=1e-3, num_threads=2,
                       order=("cold", "coarse"), coarse=True):
    """Cold start (k-means++ on all N) against ``coarse_to_fine=True`` (k-means++ on the smallest
    subsample, each subsample fitted to convergence, then all N), same seed, tol, accelerate.
    Positions: a synthetic star catalog uniform on 3 x 3 deg (rho1 of its PSF residuals by
    Algorithm 1, greedy assignment, 6 log bins 1-40 arcmin). ``order``: which start runs first
    (``--coarse-first`` on the command line; ``--no-cold``: the coarse start only). ``coarse``: the
    ``coarse_to_fine`` argument (``--sizes``)."""
    from cosmocorr.sky.synthetic import synthetic_star_catalog
    from cosmocorr.uncertainty import clustered_rho_statistics

    bins = cc.Bins(1.0, 40.0, 6, spacing="log")
    print(f"Machine shared with other jobs: CPU time (all threads of this process) is the steadier figure. "
          f"tol={tol:g}, k={k}, accelerate=True, {num_threads} threads; seed = the fit's seed (k-means++ and subsample)")
    print("| N | c | seed | start | stages (objects: iterations) | full-size iterations | wall / cpu (s) "
          "| J_m (arcmin^2) | J_m / cold - 1 | max abs rho1 diff / max abs rho1 (cold) | same, vs cold of the first seed |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n, c, seeds in sizes:
        stars = synthetic_star_catalog(n, seed=3, width_deg=3.0)
        ra, dec = stars.catalog.ra, stars.catalog.dec
        cpu = {"cold": [], "coarse": []}
        first = None
        for seed in seeds:
            got = {}
            for start in order:
                with Clock() as t:
                    fit = cc.fuzzy_c_means(ra, dec, c, seed=seed, neighbours=k, tol=tol, max_iter=5000, accelerate=True,
                                           num_threads=num_threads, coarse_to_fine=coarse if start == "coarse" else None)
                rho1 = clustered_rho_statistics(stars, bins, c, assignment="greedy", clustering=fit)["rho1"].xip
                stages = ", ".join(f"{m:,}: {i}" for m, i, _ in fit.stages)
                got[start] = fit.objective[-1], rho1
                cpu[start].append(t.cpu)
                if start == "cold" and first is None:
                    first = rho1
                ref = got.get("cold")
                if ref is None:
                    rel_jm = rel_rho = first_rho = "(below)"
                else:
                    rel_jm = f"{fit.objective[-1] / ref[0] - 1:+.2e}"
                    rel_rho = f"{np.nanmax(np.abs(rho1 - ref[1])) / np.nanmax(np.abs(ref[1])):.2e}"
                    first_rho = f"{np.nanmax(np.abs(rho1 - first)) / np.nanmax(np.abs(first)):.2e}"
                print(f"| {n:,} | {c} | {seed} | {start} | {stages} | {fit.n_iter} (converged={fit.converged}) "
                      f"| {t.wall:.1f} / {t.cpu:.1f} | {fit.objective[-1]:.7e} | {rel_jm} | {rel_rho} | {first_rho} |",
                      flush=True)
            if order == ("coarse", "cold"):
                (jc, rc), (j0, r0) = got["coarse"], got["cold"]
                print(f"seed {seed}, coarse vs cold: J_m / cold - 1 = {jc / j0 - 1:+.2e}, max abs rho1 diff / max abs "
                      f"rho1 = {np.nanmax(np.abs(rc - r0)) / np.nanmax(np.abs(r0)):.2e}", flush=True)
        if not cpu["cold"] or not cpu["coarse"]:
            continue
        ratio = np.array(cpu["cold"]) / np.array(cpu["coarse"])
        print(f"N = {n:,}: CPU time cold / coarse over seeds {list(seeds)}: {', '.join(f'{r:.2f}' for r in ratio)}"
              f" (mean {ratio.mean():.2f})", flush=True)


def sweep_versus_reference(reference, n=1_000_000, c=1000, k=20, warm=30, iters=20, repeats=2, num_threads=2):
    """CPU and wall time per iteration of :func:`sparse_fcm_iterate` against the same function of
    an earlier ``sparse_fcm.py`` (``reference``, a file outside the repository), alternating in one
    process on the same start: the uniform 3 x 3 deg star field of :func:`coarse_versus_cold`,
    centres fitted on an N / 10 subsample (seed 1, tol 1e-3) and then ``warm`` full-size iterations,
    so that the timed ``iters`` iterations (tol 1e-12: none stops early) are the slow tail of a
    fit, where most of its iterations are. Also prints how far the two results differ."""
    import importlib.util

    from scipy import sparse

    from cosmocorr.clustering.sparse_fcm import sparse_fcm_iterate
    from cosmocorr.sky.geometry import unit_vectors
    from cosmocorr.sky.synthetic import synthetic_star_catalog

    spec = importlib.util.spec_from_file_location("cosmocorr.clustering._reference_sparse_fcm", reference,
                                                  submodule_search_locations=None)
    ref = importlib.util.module_from_spec(spec)
    ref.__package__ = "cosmocorr.clustering"
    spec.loader.exec_module(ref)
    stars = synthetic_star_catalog(n, seed=3, width_deg=3.0)
    ra, dec = stars.catalog.ra, stars.catalog.dec
    rng = np.random.default_rng(1)
    pick = np.sort(rng.permutation(n)[:n // 10])
    sub = cc.fuzzy_c_means(ra[pick], dec[pick], c, seed=rng, neighbours=k, tol=1e-3, max_iter=5000, accelerate=True,
                           num_threads=num_threads)
    xyz = unit_vectors(ra, dec)
    start = sparse_fcm_iterate(xyz, sub.centers_xyz, 2.0, 1e-12, warm, k, relax=1.5, num_threads=num_threads)[0]
    print(f"N = {n:,}, c = {c}, k = {k}, {num_threads} threads, accelerate; start: N / 10 subsample fit "
          f"({sub.n_iter} iterations) + {warm} full-size iterations; {iters} iterations timed per run. "
          f"Machine shared with other jobs: take the CPU ratio.")
    print("| repeat | this sweep wall / cpu per iteration (s) | reference wall / cpu per iteration (s) | cpu ratio |")
    print("|---|---|---|---|")
    ratios, outs = [], {}
    for r in range(repeats):
        times = {}
        for name, fn in (("this", sparse_fcm_iterate), ("reference", ref.sparse_fcm_iterate)):
            with Clock() as t:
                outs[name] = fn(xyz, start, 2.0, 1e-12, iters, k, relax=1.5, num_threads=num_threads)
            times[name] = t
        ratios.append(times["this"].cpu / times["reference"].cpu)
        print(f"| {r + 1} | {times['this'].wall / iters:.3f} / {times['this'].cpu / iters:.3f} "
              f"| {times['reference'].wall / iters:.3f} / {times['reference'].cpu / iters:.3f} | {ratios[-1]:.3f} |",
              flush=True)
    du = abs(sparse.csr_matrix(outs["this"][1]) - sparse.csr_matrix(outs["reference"][1])).max()
    print(f"cpu ratio this / reference: mean {np.mean(ratios):.3f}, range {min(ratios):.3f}-{max(ratios):.3f}; "
          f"same iterations: {outs['this'][2] == outs['reference'][2]}; max |U diff| {du:.1e}; J_m rel. diff "
          f"{abs(outs['this'][3][-1] / outs['reference'][3][-1] - 1):.1e}", flush=True)


def versus_k(n=100_000, c=100, ks=(5, 10, 20, 50), tol=1e-3):
    from cosmocorr.sky.synthetic import synthetic_star_catalog
    from cosmocorr.uncertainty import clustered_rho_statistics

    stars = synthetic_star_catalog(n, seed=3, width_deg=1.0)
    ra, dec = stars.catalog.ra, stars.catalog.dec
    init = cc.kmeans_plus_plus(ra, dec, c, seed=1)
    bins = cc.Bins(1.0, 40.0, 6, spacing="log")
    with Clock() as t:
        dense = cc.fuzzy_c_means(ra, dec, c, init=init, tol=tol, max_iter=3000, accelerate=True)
    rho_d = clustered_rho_statistics(stars, bins, c, assignment="greedy", clustering=dense)["rho1"].xip
    print(f"dense: {dense.n_iter} iterations, J_m = {dense.objective[-1]:.6e} arcmin^2, {t.wall:.1f} s wall "
          f"/ {t.cpu:.1f} s cpu")
    print("\n| k | iterations | J_m sparse / dense - 1 | max abs rho1 diff / max abs rho1 | max abs U diff "
          "| centre shift (max, arcsec) | wall / cpu (s) |")
    print("|---|---|---|---|---|---|---|")
    for k in ks:
        with Clock() as t:
            sp = cc.fuzzy_c_means(ra, dec, c, init=init, tol=tol, max_iter=3000, accelerate=True, neighbours=k)
        rho_s = clustered_rho_statistics(stars, bins, c, assignment="greedy", clustering=sp)["rho1"].xip
        du = np.abs(sp.membership.toarray() - dense.membership).max()
        shift = cc.separation(sp.centers[:, 0], sp.centers[:, 1], dense.centers[:, 0], dense.centers[:, 1]).max()
        rel = np.nanmax(np.abs(rho_s - rho_d)) / np.nanmax(np.abs(rho_d))
        print(f"| {k} | {sp.n_iter} | {sp.objective[-1] / dense.objective[-1] - 1:+.3e} | {rel:.3e} | {du:.3e} "
              f"| {60 * shift:.2f} | {t.wall:.1f} / {t.cpu:.1f} |", flush=True)


def dask_speedup(n=50_000, n_draws=100, n_resamples=100, only=None):
    from dask.distributed import Client, LocalCluster

    from cosmocorr.sky.synthetic import synthetic_shear_catalog

    cat = synthetic_shear_catalog(n, seed=1)
    bins = cc.Bins(1.0, 60.0, 10, spacing="log")
    small = synthetic_shear_catalog(20_000, seed=2)
    patched = cc.Catalog(small.ra, small.dec, small.g1, small.g2, npatch=20, patch_seed=1)
    fit = cc.fuzzy_c_means(small.ra, small.dec, 200, seed=1, tol=1e-3, neighbours=20, accelerate=True, max_iter=3000)
    print("| task | local threads (s) | 1 worker process (s) | 2 worker processes (s) | speed-up 2 vs 1 "
          "| max rel. diff vs local |")
    print("|---|---|---|---|---|---|")
    jobs = {
        f"exact shear-shear, N = {n:,}": lambda client: cc.shear_shear(cat, bins=bins, client=client).xip,
        "jackknife shear-shear, N = 20,000, 20 patches (xip and the jackknife variances)":
            lambda client: (lambda r: np.concatenate([r.xip, np.diag(r.cov)]))(
                cc.shear_shear(patched, bins=bins, var_method="jackknife", client=client)),
        f"clustering_uncertainty, N = 20,000, c = 200, {n_draws} draws + {n_resamples} resamples":
            lambda client: np.concatenate(list(
                (lambda r: (r.samples["xip"].ravel(), r.bootstrap_samples["xip"].ravel()))(
                    cc.clustering_uncertainty(small, bins, 200, n_samples=n_draws, n_bootstrap=n_resamples,
                                              seed=5, clustering=fit, client=client)))),
    }
    for name, job in jobs.items():
        if only and only not in name:
            continue
        with Clock() as t_local:
            ref = job(False)
        times = []
        for workers in (1, 2):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0") as lc, \
                    Client(lc) as client:
                cc.shear_shear(small, bins=bins, client=client)   # warm-up: imports on the workers
                with Clock() as t:
                    out = job(client)
                times.append(t.wall)
            diff = np.nanmax(np.abs(out - ref) / np.maximum(np.abs(ref), 1e-300))
        print(f"| {name} | {t_local.wall:.1f} | {times[0]:.1f} | {times[1]:.1f} | {times[0] / times[1]:.2f} "
              f"| {diff:.1e} |", flush=True)


if __name__ == "__main__":
    part = sys.argv[1] if len(sys.argv) > 1 else "all"
    if part == "fcm" and "--coarse" in sys.argv:
        def option(name):
            return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else None

        values = {option("--sizes"), option("--seeds")}
        only = [float(a) for a in sys.argv[2:] if not a.startswith("--") and a not in values]
        sizes = True if option("--sizes") is None else [int(float(m)) for m in option("--sizes").split(",")]
        seeds = None if option("--seeds") is None else tuple(int(x) for x in option("--seeds").split(","))
        order = ("coarse", "cold") if "--coarse-first" in sys.argv else ("cold", "coarse")
        coarse_versus_cold([(n, c, seeds or s) for n, c, s in ((200_000, 200, (1, 2, 3)), (1_000_000, 1000, (1,)))
                            if not only or n in only],
                           order=("coarse",) if "--no-cold" in sys.argv else order, coarse=sizes)
    elif part in ("fcm", "all"):
        fcm_million(tol=float(sys.argv[2]) if part == "fcm" and len(sys.argv) > 2 else 1e-3)
    if part == "sweep":
        def number(name, default):
            return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default

        sweep_versus_reference(sys.argv[sys.argv.index("--reference") + 1], num_threads=number("--threads", 2),
                               repeats=number("--repeats", 2), iters=number("--iters", 20))
    if part in ("k", "all"):
        versus_k()
    if part in ("dask", "all"):
        dask_speedup()
    if part == "dask-uncertainty":
        dask_speedup(only="clustering_uncertainty")
    if part == "dask-exact":
        dask_speedup(only="exact")
    if part == "dask-jackknife":
        dask_speedup(only="jackknife")
