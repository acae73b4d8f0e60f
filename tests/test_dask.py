"""Dask execution (issue 13): every distributed path against the local one, on a real LocalCluster
with 2 worker processes; a worker killed mid-run; no dask import in a plain ``import cosmocorr``."""
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr import _parallel
from cosmocorr.backends import distributed, numpy_kernels
from cosmocorr.sky.synthetic import synthetic_shear_catalog, synthetic_star_catalog

distributed_mod = pytest.importorskip("dask.distributed")


@pytest.fixture(scope="module")
def client():
    cluster = distributed_mod.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=":0", silence_logs=50)
    with distributed_mod.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture
def small_tiles(monkeypatch):
    monkeypatch.setattr(distributed, "MIN_PAIRS", 0)   # distribute even small catalogs


def rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    ok = np.isfinite(b)
    assert np.array_equal(ok, np.isfinite(a))
    return float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-300), initial=0.0))


def test_plain_import_does_not_import_dask():
    code = ("import sys, cosmocorr; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_tiled_pair_sums_equal_kernel(client):
    cat = synthetic_shear_catalog(1200, seed=3)
    other = synthetic_shear_catalog(700, seed=4)
    args = (1.0, 12.0, 6, True)
    g = cat.g
    g_other = g * np.exp(0.3j) + 0.01
    # one field with itself; two fields at the same positions (the rho statistics); a cross-correlation
    for auto, c2, g2 in ((True, cat, g), (True, cat, g_other), (False, other, other.g)):
        ref = numpy_kernels.pair_sums(cat.xyz, cat.w, g, c2.xyz, c2.w, g2, *args, auto)
        out = distributed.pair_sums(client, cat.xyz, cat.w, g, c2.xyz, c2.w, g2, *args, auto, block=150)
        for name in ref:
            if auto and g2 is g and name == "xip_im":
                continue      # Im(g_i g_j^*) of one field over unordered pairs: undefined (set to 0 above)
            assert rel(out[name], ref[name]) < 1e-12, name
    # a small max_sep leaves out tiles whose blocks cannot be in range: fewer tiles, same sums
    _, _, tiles = distributed.plan_tiles(cat.xyz, cat.xyz, 150, 12.0, True)
    assert 0 < len(tiles) < 8 * 9 / 2 + 8


def test_estimators_with_client_equal_local(client, small_tiles):
    cat = synthetic_shear_catalog(900, seed=1)
    bins = cc.Bins(1.0, 40.0, 6, spacing="log")
    a = cc.shear_shear(cat, bins=bins)
    b = cc.shear_shear(cat, bins=bins, client=client)
    for name in ("xip", "xim", "npairs", "weight", "meanr", "meanlogr"):
        assert rel(getattr(b, name), getattr(a, name)) < 1e-12, name
    randoms = cc.Catalog(*[x for x in (150 + np.random.default_rng(5).uniform(-0.5, 0.5, 1200),
                                       2.2 + np.random.default_rng(6).uniform(-0.5, 0.5, 1200))])
    ls_a = cc.landy_szalay(cat, randoms, bins=bins)
    ls_b = cc.landy_szalay(cat, randoms, bins=bins, client=client)
    assert rel(ls_b.xi, ls_a.xi) < 1e-12
    stars = synthetic_star_catalog(500, seed=2)
    ra, rb = cc.rho_statistics(stars, bins=bins), cc.rho_statistics(stars, bins=bins, client=client)
    for k in ("rho1", "rho2", "rho3", "rho4", "rho5"):
        assert rel(rb[k].xip, ra[k].xip) < 1e-12, k


@pytest.mark.parametrize("aleatoric", ["bootstrap", "subset"])
def test_clustering_uncertainty_with_client_equals_local(client, aleatoric):
    cat = synthetic_shear_catalog(600, seed=7)
    bins = cc.Bins(2.0, 40.0, 5, spacing="log")
    fit = cc.fuzzy_c_means(cat.ra, cat.dec, 25, seed=1, tol=1e-4, accelerate=True, weights=cat.w)
    kw = dict(n_samples=6, n_bootstrap=4, seed=11, aleatoric=aleatoric, tol=1e-4, accelerate=True)
    if aleatoric == "bootstrap":
        kw["clustering"] = fit
    local = cc.clustering_uncertainty(cat, bins, 25, client=False, num_threads=2, **kw)
    single = cc.clustering_uncertainty(cat, bins, 25, client=False, num_threads=1, **kw)
    remote = cc.clustering_uncertainty(cat, bins, 25, client=client, **kw)
    for other in (single, remote):
        assert rel(other.samples["xip"], local.samples["xip"]) < 1e-12
        assert rel(other.bootstrap_samples["xip"], local.bootstrap_samples["xip"]) < 1e-12
    # draws differ from each other (each task has its own seed)
    assert np.unique(np.round(local.samples["xip"][:, -1], 14)).size > 1


def test_sparse_clustering_on_dask(client):
    cat = synthetic_shear_catalog(700, seed=8)
    bins = cc.Bins(2.0, 40.0, 4, spacing="log")
    fit = cc.fuzzy_c_means(cat.ra, cat.dec, 30, seed=1, tol=1e-4, accelerate=True, neighbours=6)
    kw = dict(n_samples=4, n_bootstrap=3, seed=2, clustering=fit)
    a = cc.clustering_uncertainty(cat, bins, 30, **kw)
    b = cc.clustering_uncertainty(cat, bins, 30, client=client, **kw)
    assert rel(b.samples["xip"], a.samples["xip"]) < 1e-12


def test_set_executor_and_scheduler_variable(client, small_tiles, monkeypatch):
    cat = synthetic_shear_catalog(500, seed=9)
    bins = cc.Bins(1.0, 30.0, 4)
    ref = cc.shear_shear(cat, bins=bins).xip
    calls = []
    real = distributed.pair_sums
    monkeypatch.setattr(distributed, "pair_sums", lambda *a, **k: calls.append(1) or real(*a, **k))
    previous = cc.set_executor(client)
    try:
        assert rel(cc.shear_shear(cat, bins=bins).xip, ref) < 1e-12 and len(calls) == 1
        assert rel(cc.shear_shear(cat, bins=bins, client=False).xip, ref) < 1e-12 and len(calls) == 1
    finally:
        cc.set_executor(previous)
    monkeypatch.setattr(_parallel, "_executor", _parallel._UNSET)
    monkeypatch.setenv(_parallel.SCHEDULER_ENV, client.scheduler.address)
    try:
        assert rel(cc.shear_shear(cat, bins=bins).xip, ref) < 1e-12 and len(calls) == 2
    finally:
        env_client = _parallel._env_client
        _parallel._env_client = _parallel._env_address = None
        if env_client is not None:
            env_client.close()
    with pytest.raises(TypeError, match="client"):
        cc.set_executor("tcp://nowhere")


def test_worker_killed_mid_run_result_complete_and_equal(client):
    cat = synthetic_shear_catalog(2400, seed=12)
    args = (0.5, 30.0, 8, True)
    ref = numpy_kernels.pair_sums(cat.xyz, cat.w, cat.g, cat.xyz, cat.w, cat.g, *args, True)
    box = {}

    def run():
        box["out"] = distributed.pair_sums(client, cat.xyz, cat.w, cat.g, cat.xyz, cat.w, cat.g, *args, True,
                                           block=120)
    thread = threading.Thread(target=run)
    thread.start()
    victim = None
    deadline = time.time() + 60
    while victim is None and time.time() < deadline and thread.is_alive():
        busy = [w for w, tasks in client.processing().items() if tasks]
        if busy and sum(len(t) for t in client.processing().values()) > 4:
            victim = busy[0]
        else:
            time.sleep(0.02)
    assert victim is not None, "the computation finished before a worker could be killed"
    pid = client.run(os.getpid, workers=[victim])[victim]
    os.kill(pid, signal.SIGKILL)                        # the worker process dies mid-run
    thread.join(120)
    assert not thread.is_alive()
    for name in ref:
        if name != "xip_im":                           # undefined for one field (see above)
            assert rel(box["out"][name], ref[name]) < 1e-12, name
    client.wait_for_workers(2, timeout=60)


def test_num_threads_checked_and_uncapped():
    with pytest.raises(ValueError, match="num_threads"):
        _parallel.n_threads(0)
    with pytest.raises(TypeError, match="num_threads"):
        _parallel.n_threads(1.5)
    assert _parallel.n_threads(64) == 64          # no silent cap
    with _parallel.using_threads(3):
        assert _parallel.n_threads() == 3


def test_ia_training_set_and_ensemble_with_client_equal_local(client):
    from cosmocorr import ia

    hod = ia.HOD_SETS["logM*>=10.0"]
    halos = ia.simulate_halos(40.0, seed=0)
    kw = dict(n_points=6, n_realisations=2, halos=halos, seed=3)
    local = ia.simulate_training_set(hod, client=False, **kw)
    remote = ia.simulate_training_set(hod, client=client, **kw)
    np.testing.assert_array_equal(remote.inputs, local.inputs)
    np.testing.assert_array_equal(remote.n_galaxies, local.n_galaxies)
    assert rel(remote.outputs, local.outputs) < 1e-12
    # realisations differ (each simulation has its own seed)
    assert not np.array_equal(local.n_galaxies[:, 0], local.n_galaxies[:, 1]) or \
        not np.allclose(local.outputs[:, 0], local.outputs[:, 1], equal_nan=True)
    sa = ia.IASurrogate.fit(local, n_members=2, epochs=20, seed=4, client=False)
    sb = ia.IASurrogate.fit(local, n_members=2, epochs=20, seed=4, client=client)
    theta = np.array([[0.1, -0.3], [0.5, 0.2]])
    for a, b in zip(sa.predict(theta), sb.predict(theta)):
        assert rel(b, a) < 1e-12


def test_algorithm1_draws_as_tasks_equal_local(client):
    cat = synthetic_shear_catalog(500, seed=13)
    bins = cc.Bins(2.0, 40.0, 4, spacing="log")
    kw = dict(bins=bins, n_clusters=20, n_samples=5, seed=4, tol=1e-4, accelerate=True)
    a = cc.shear_shear(cat, **kw)
    b = cc.shear_shear(cat, client=client, **kw)
    assert rel(b.xip_samples, a.xip_samples) < 1e-12 and rel(b.xim_samples, a.xim_samples) < 1e-12


def test_progress_bar_is_tqdm(capsys):
    cat = synthetic_shear_catalog(300, seed=14)
    bins = cc.Bins(2.0, 40.0, 3)
    cc.clustering_uncertainty(cat, bins, 10, n_samples=3, n_bootstrap=2, seed=1, progress=True, tol=1e-3)
    err = capsys.readouterr().err
    assert "sampled assignments" in err and "3/3" in err and "bootstrap resamples" in err and "2/2" in err


def _gauss_logp_and_grad(x):
    x = np.asarray(x, dtype=float)
    return -0.5 * float(x @ x), -x


def test_hmc_chains_on_worker_processes_equal_local(client):
    import cloudpickle

    from cosmocorr.surrogate.hmc import hmc

    cloudpickle.register_pickle_by_value(sys.modules[__name__])   # the target is defined in this file
    kw = dict(n_warmup=40, n_samples=30, n_chains=2, seed=7)
    local = hmc(_gauss_logp_and_grad, [0.3, -0.2], client=False, **kw)
    remote = hmc(_gauss_logp_and_grad, [0.3, -0.2], client=client, **kw)
    np.testing.assert_array_equal(remote.samples, local.samples)


def _patch_pair_tasks(ts):
    """{call token: sorted (p, q)} of the per-patch-pair tasks in a task stream's records."""
    calls = {}
    for rec in ts.data:
        key = rec["key"] if isinstance(rec["key"], str) else str(rec["key"])
        if key.startswith(distributed.PATCH_PAIR_KEY + "-"):
            p, q, token = key[len(distributed.PATCH_PAIR_KEY) + 1:].split("-")
            calls.setdefault(token, []).append((int(p), int(q)))
    return {token: sorted(pairs) for token, pairs in calls.items()}


def test_jackknife_patch_pairs_as_tasks_equal_local(client):
    s = synthetic_shear_catalog(1500, seed=21, weighted=True)
    cat = cc.Catalog(s.ra, s.dec, s.g1, s.g2, s.w, npatch=6, patch_seed=1)
    bins = cc.Bins(1.0, 100.0, 5, spacing="log")     # beyond the field's diagonal: every patch pair in range
    auto_pairs = [(p, q) for p in range(6) for q in range(p, 6)]
    local = cc.shear_shear(cat, bins=bins, var_method="jackknife", client=False)
    with distributed_mod.get_task_stream(client) as ts:
        remote = cc.shear_shear(cat, bins=bins, var_method="jackknife", client=client)
    # one task per patch pair p <= q, all in one call (sums ran on the workers, not here)
    assert list(_patch_pair_tasks(ts).values()) == [auto_pairs]
    for name in ("xip", "xim", "varxip", "varxim", "cov", "meanlogr", "npairs"):
        assert rel(getattr(remote, name), getattr(local, name)) < 1e-12, name
    for method in ("sample", "bootstrap", "marked_bootstrap"):
        kw = dict(num_bootstrap=20, seed=3) if "bootstrap" in method else {}
        assert rel(remote.estimate_cov(method, **kw), local.estimate_cov(method, **kw)) < 1e-12, method

    st = synthetic_star_catalog(900, seed=22)
    stars = cc.StarCatalog(st.ra, st.dec, st.g1_star, st.g2_star, st.T_star, st.g1_model, st.g2_model,
                           st.T_model, npatch=5, patch_seed=2)
    bins = cc.Bins(1.0, 80.0, 4, spacing="log")
    ra = cc.rho_statistics(stars, bins=bins, var_method="jackknife", client=False)
    with distributed_mod.get_task_stream(client) as ts:
        rb = cc.rho_statistics(stars, bins=bins, var_method="jackknife", client=client)
    # six calls: rho0, rho1, rho3 over p <= q; rho2, rho4, rho5 (ordered pairs of two fields) over all p, q
    calls = sorted(_patch_pair_tasks(ts).values(), key=len)
    ordered_pairs = [(p, q) for p in range(5) for q in range(5)]
    assert calls == [[(p, q) for p in range(5) for q in range(p, 5)]] * 3 + [ordered_pairs] * 3
    for k in ("rho0", "rho1", "rho2", "rho3", "rho4", "rho5"):
        for name in ("xip", "xim", "varxip", "cov", "meanlogr"):
            assert rel(getattr(rb[k], name), getattr(ra[k], name)) < 1e-12, (k, name)
    assert rel(rb.cov, ra.cov) < 1e-12


def test_patch_pair_sums_tasks_all_modes_equal_local(client):
    from cosmocorr.estimators.pair_sums import patch_pair_sums

    s = synthetic_shear_catalog(1200, seed=23)
    cat = cc.Catalog(s.ra, s.dec, s.g1, s.g2, npatch=8, patch_seed=4)
    o = synthetic_shear_catalog(900, seed=24)
    other = cc.Catalog(o.ra, o.dec, o.g1, o.g2, patch_centers=cat.patch_centers)
    g2 = cat.g * np.exp(0.4j) + 0.02
    bins = cc.Bins(1.0, 8.0, 4, spacing="log")        # small max_sep: distant patch pairs are skipped
    calls = [dict(cat1=cat, cat2=None, mode="auto"), dict(cat1=cat, cat2=None, g1=cat.g, g2=g2, mode="ordered"),
             dict(cat1=cat, cat2=other, mode="cross"), dict(cat1=cat, cat2=other, shear=False, mode="cross")]
    for cached in (False, True):
        caches = {}
        for where in ("local", "remote"):
            cache = {} if cached else None
            with _parallel.using_executor(False if where == "local" else client), \
                    distributed_mod.get_task_stream(client) as ts:
                out = [patch_pair_sums(bins=bins, logr_cache=cache, **kw) for kw in calls]
            caches[where] = (out, cache, _patch_pair_tasks(ts))
        (loc, cache_l, none), (rem, cache_r, tasks) = caches["local"], caches["remote"]
        assert none == {} and len(tasks) == len(calls)
        # the calls run one after the other: their tasks appear in the task stream in call order
        for a, b, kw, sent in zip(loc, rem, calls, tasks.values()):
            assert set(a.sums) == set(b.sums)
            np.testing.assert_array_equal(a.ok, b.ok)
            np.testing.assert_array_equal(a.tot, b.tot)
            for name in a.sums:
                assert rel(b.sums[name], a.sums[name]) < 1e-12, (kw["mode"], name)
            # one task for every patch pair with pairs in range, and not for every patch pair
            pairs = {tuple(pq) for pq in np.argwhere(a.sums["npairs"].sum(axis=2) > 0)}
            n_all = 8 * 9 // 2 if kw["mode"] == "auto" else 64
            assert len(set(sent)) == len(sent) and pairs <= set(sent) and len(sent) < n_all, kw["mode"]
        if cached:
            assert cache_l.keys() == cache_r.keys() and cache_l
            for key in cache_l:
                assert rel(cache_r[key], cache_l[key]) < 1e-12


def test_large_patch_pairs_go_to_tiles_equal_local(client, small_tiles, monkeypatch):
    s = synthetic_shear_catalog(1000, seed=25)
    cat = cc.Catalog(s.ra, s.dec, s.g1, s.g2, npatch=4, patch_seed=2)
    bins = cc.Bins(1.0, 100.0, 4, spacing="log")
    local = cc.shear_shear(cat, bins=bins, var_method="jackknife", client=False)
    sizes = np.bincount(cat.patch)
    # the patch pairs p < q exceed the limit (tiles); the diagonal ones, n (n - 1) / 2 pairs, do not
    monkeypatch.setattr(distributed, "MAX_TASK_PAIRS", int(sizes.max() * (sizes.max() - 1) / 2))
    tiles = []
    real = distributed.pair_sums
    monkeypatch.setattr(distributed, "pair_sums", lambda *a, **k: tiles.append(1) or real(*a, **k))
    with distributed_mod.get_task_stream(client) as ts:
        remote = cc.shear_shear(cat, bins=bins, var_method="jackknife", client=client)
    assert list(_patch_pair_tasks(ts).values()) == [[(p, p) for p in range(4)]] and len(tiles) == 6
    for name in ("xip", "xim", "varxip", "cov", "meanlogr"):
        assert rel(getattr(remote, name), getattr(local, name)) < 1e-12, name


def test_patch_pair_tasks_one_field_array_on_two_catalogs_equal_local(client):
    """A cross-correlation given the same field array for both catalogs (equal sizes): each side's
    patch cut comes from its own catalog's members (regression: the cuts were keyed by the array)."""
    from cosmocorr.estimators.pair_sums import patch_pair_sums

    s, o = synthetic_shear_catalog(800, seed=26), synthetic_shear_catalog(800, seed=27)
    cat = cc.Catalog(s.ra, s.dec, s.g1, s.g2, npatch=4, patch_seed=5)
    other = cc.Catalog(o.ra, o.dec, o.g1, o.g2, patch_centers=cat.patch_centers)
    g = cat.g * np.exp(0.3j)
    bins = cc.Bins(1.0, 100.0, 4, spacing="log")
    with _parallel.using_executor(False):
        loc = patch_pair_sums(cat, other, bins, g1=g, g2=g, mode="cross")
    with _parallel.using_executor(client), distributed_mod.get_task_stream(client) as ts:
        rem = patch_pair_sums(cat, other, bins, g1=g, g2=g, mode="cross")
    assert [len(v) for v in _patch_pair_tasks(ts).values()] == [16]
    for name in loc.sums:
        assert rel(rem.sums[name], loc.sums[name]) < 1e-12, name


def test_inputs_survive_the_loss_of_the_worker_holding_them(client):
    """Inputs sent to the cluster once (``_parallel.scatter``) are recomputable task results: after
    Dask's active memory manager has run (every 2 s; it drops extra replicas of scattered data),
    killing every worker that holds the input still lets a task use it, with the same value. With
    ``client.scatter(broadcast=True)`` the input would be lost here."""
    from cosmocorr._parallel import scatter
    data = np.random.default_rng(3).normal(size=5000)
    fut = scatter(client, data)
    assert rel(client.gather(fut), data) == 0
    time.sleep(2.5)                                       # one active-memory-manager cycle
    for addr in client.who_has([fut])[fut.key]:
        os.kill(client.run(os.getpid, workers=[addr])[addr], signal.SIGKILL)
    out = client.submit(np.sum, fut, pure=False).result(timeout=120)
    assert out == data.sum()


def test_field_correlations_with_client_equal_local(client, small_tiles):
    """NG (with randoms) and KK auto: tiles of the pair matrix, and patch pairs, as Dask tasks."""
    rng = np.random.default_rng(3)
    src = synthetic_shear_catalog(600, seed=3)
    src = cc.Catalog(src.ra, src.dec, src.g1, src.g2, k=rng.normal(size=src.nobj), npatch=4, patch_seed=1)
    lenses = cc.Catalog(src.ra[::3] + 0.01, src.dec[::3], patch_centers=src.patch_centers)
    randoms = cc.Catalog(src.ra[1::2], src.dec[1::2] + 0.01, patch_centers=src.patch_centers)
    bins = cc.Bins(1.0, 40.0, 5, spacing="log")
    for kw in ({}, {"var_method": "jackknife"}):
        a = cc.count_shear(lenses, src, bins, randoms=randoms, **kw)
        b = cc.count_shear(lenses, src, bins, randoms=randoms, client=client, **kw)
        for name in ("xi", "raw_xi", "xi_im", "npairs", "meanlogr", "varxi"):
            assert rel(getattr(b, name), getattr(a, name)) < 1e-12, name
        ka, kb = cc.scalar_scalar(src, bins=bins, **kw), cc.scalar_scalar(src, bins=bins, client=client, **kw)
        assert rel(kb.xi, ka.xi) < 1e-12 and rel(kb.varxi, ka.varxi) < 1e-12
