"""Issue 27's bad-input classes: each test failed on the code before the fix.

Each check compares against something independent of the code under test: the same catalog
built from the unmasked rows, astropy's own unit conversions, numpy's diagonal of the variances,
TreeCorr-free analytic facts (a unit vector at RA = 0), the file that was written, the BLAS
thread count threadpoolctl reports.
"""
import json
import threading
import tracemalloc

import numpy as np
import pytest
from astropy import units as u
from astropy.table import MaskedColumn, Table

import cosmocorr as cc
from cosmocorr import cli
from cosmocorr.sky.geometry import vectors_to_radec
from cosmocorr.surrogate import hmc


def _shear_cat(n=300, seed=1):
    rng = np.random.default_rng(seed)
    return (rng.uniform(10, 11, n), rng.uniform(-0.5, 0.5, n), rng.normal(0, 0.1, n), rng.normal(0, 0.1, n))


# ------------------------------------------------------------------------------- masked arrays
@pytest.mark.parametrize("kind", ["numpy.ma", "MaskedColumn"])
def test_masked_arrays_given_to_catalog_honour_their_masks(kind):
    ra, dec, g1, g2 = _shear_cat()
    mask = np.zeros(ra.size, bool)
    mask[[3, 50, 299]] = True
    g1m = np.ma.array(g1, mask=mask) if kind == "numpy.ma" else MaskedColumn(g1, mask=mask)
    with pytest.raises(ValueError, match=r"g1 has 3 masked \(missing\) value\(s\) of 300.*drop_masked=True"):
        cc.Catalog(ra, dec, g1=g1m, g2=g2)
    with pytest.warns(UserWarning, match="dropped 3 of 300 rows"):
        cat = cc.Catalog(ra, dec, g1=g1m, g2=g2, drop_masked=True)
    ref = cc.Catalog(ra[~mask], dec[~mask], g1=g1[~mask], g2=g2[~mask])  # the rows that are not masked
    bins = cc.Bins(1.0, 30.0, 5, "log")
    np.testing.assert_array_equal(cc.shear_shear(cat, bins=bins).xip, cc.shear_shear(ref, bins=bins).xip)


def test_masked_positions_and_star_catalog():
    ra, dec, g1, g2 = _shear_cat(50)
    dec_m = np.ma.array(dec, mask=np.arange(50) == 7)
    with pytest.raises(ValueError, match="dec has 1 masked"):
        cc.Catalog(ra, dec_m)
    t = np.full(50, 0.1)
    with pytest.raises(ValueError, match="T_model has 2 masked"):
        cc.StarCatalog(ra, dec, g1, g2, t, g1, g2, np.ma.array(t, mask=np.arange(50) < 2))
    # a masked column with a unit is converted by it, as from_table does (astropy's conversion)
    col = MaskedColumn(np.radians(ra), unit="rad", mask=np.zeros(50, bool))
    np.testing.assert_allclose(cc.Catalog(col, dec).ra, (np.radians(ra) * u.rad).to_value(u.deg), rtol=1e-15)


# ------------------------------------------------------------------------------- FITS units
@pytest.mark.parametrize("tunit", ["degree", "DEG", "Deg", "degrees", "radian", "RAD", "radians", "arcmins"])
def test_fits_unit_spellings_are_parsed(tmp_path, tunit):
    from astropy.io import fits

    ra, dec, _, _ = _shear_cat(20)
    singular = tunit.lower().rstrip("s")
    unit = {"degree": u.deg, "deg": u.deg, "radian": u.rad, "rad": u.rad, "arcmin": u.arcmin}[singular]
    vals_ra, vals_dec = (ra * u.deg).to_value(unit), (dec * u.deg).to_value(unit)
    cols = [fits.Column(name="ra", format="D", unit=tunit, array=vals_ra),
            fits.Column(name="dec", format="D", unit=tunit, array=vals_dec)]
    path = tmp_path / "cat.fits"
    fits.BinTableHDU.from_columns(cols).writeto(path)
    cat = cc.Catalog.read(path)
    np.testing.assert_allclose(cat.ra, (vals_ra * unit).to_value(u.deg), rtol=1e-13)
    np.testing.assert_allclose(cat.dec, (vals_dec * unit).to_value(u.deg), rtol=1e-13, atol=1e-13)


def test_explicit_units_win_over_the_file_with_a_warning(tmp_path):
    from astropy.io import fits

    ra, dec, _, _ = _shear_cat(20)
    cols = [fits.Column(name="ra", format="D", unit="degree", array=np.radians(ra)),  # a wrong TUNIT
            fits.Column(name="dec", format="D", unit="degree", array=np.radians(dec))]
    path = tmp_path / "cat.fits"
    fits.BinTableHDU.from_columns(cols).writeto(path)
    with pytest.warns(UserWarning, match="ra_units='rad' overrides the unit 'degree'"):
        cat = cc.Catalog.read(path, ra_units="rad", dec_units="rad")
    np.testing.assert_allclose(cat.ra, ra, rtol=1e-13)


# ------------------------------------------------------------------------------- covariance memory
def test_shot_noise_covariance_is_kept_as_vectors():
    ra, dec, g1, g2 = _shear_cat(150)
    cat = cc.Catalog(ra, dec, g1=g1, g2=g2)
    tracemalloc.start()
    try:
        r = cc.shear_shear(cat, min_sep=0.5, max_sep=60.0, nbins=3000, spacing="log")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # a dense (6000, 6000) float64 matrix alone is 288 MB; the vectors and kernel need far less
    assert peak < 60e6, f"peak {peak / 1e6:.0f} MB"
    np.testing.assert_array_equal(np.diag(r.cov), np.concatenate([r.varxip, r.varxim]))
    cov = r.cov
    assert cov.shape == (6000, 6000) and np.count_nonzero(cov[~np.eye(6000, dtype=bool)]) == 0


def test_nbins_bound_and_dense_cov_limit():
    with pytest.raises(ValueError, match="nbins=100001 exceeds 100,000"):
        cc.Bins(1.0, 10.0, 100_001, "log")
    ra, dec, g1, g2 = _shear_cat(30)
    r = cc.shear_shear(cc.Catalog(ra, dec, g1=g1, g2=g2), min_sep=0.5, max_sep=60.0, nbins=20_000, spacing="log")
    assert r.varxip.shape == (20_000,)
    with pytest.raises(ValueError, match=r"cov: a dense \(40000, 40000\) covariance needs 11.9 GiB"):
        r.cov


# ------------------------------------------------------------------------------- hmc arguments
def _gauss(x):
    return -0.5 * float(x @ x), -x


def test_hmc_bad_warmup_windows_fail_at_once():
    out = {}

    def run():
        try:
            hmc(_gauss, [0.0, 0.0], n_warmup=200, n_samples=10, n_chains=1, seed=0, warmup_windows=(-1, 0, 0))
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            out["exc"] = exc

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(20)
    assert not t.is_alive(), "hmc(warmup_windows=(-1, 0, 0)) did not return (it used to loop forever)"
    assert isinstance(out.get("exc"), ValueError) and "warmup_windows[0]" in str(out["exc"])
    with pytest.raises(ValueError, match=r"warmup_windows\[1\] must be >= 1"):
        hmc(_gauss, [0.0], n_warmup=50, warmup_windows=(10, 0, 10))


@pytest.mark.parametrize("kwargs, exc, match", [
    (dict(step_size=-0.1), ValueError, "step_size"),
    (dict(step_size=float("nan")), ValueError, "step_size"),
    (dict(trajectory_length=0.0), ValueError, "trajectory_length"),
    (dict(target_accept=1.0), ValueError, "target_accept"),
    (dict(metric="dense", inv_metric=[[1.0, 0.5], [0.0, 1.0]]), ValueError, "symmetric"),
    (dict(metric="dense", inv_metric=[[1.0, 2.0], [2.0, 1.0]]), ValueError, "positive definite"),
    (dict(metric="dense", inv_metric=[1.0, 1.0]), ValueError, "inv_metric must be 2-dimensional"),
    (dict(names=("a",)), ValueError, "names has 1 entries but there are 2 parameters"),
    (dict(names="ab"), TypeError, "names"),
    (dict(n_chains=0), ValueError, "n_chains"),
    (dict(n_samples=2.5), TypeError, "n_samples"),
    (dict(seed=-1), ValueError, "seed"),
    (dict(nuts="yes"), TypeError, "nuts"),
    (dict(initial=[0.0, float("nan")]), ValueError, "initial"),
])
def test_hmc_validates_every_argument(kwargs, exc, match):
    kw = dict(initial=[0.0, 0.0], n_warmup=20, n_samples=5, n_chains=1, seed=0)
    kw.update(kwargs)
    with pytest.raises(exc, match=match):
        hmc(_gauss, **kw)


@pytest.mark.parametrize("bad, match", [
    (lambda x: -0.5 * float(x @ x), "must return \\(log density, gradient\\)"),
    (lambda x: ("0", -x), "real log density"),
    (lambda x: (0.0, np.zeros(3)), "gradient of shape \\(2,\\)"),
    (lambda x: (float("nan"), -x), "log density nan"),
])
def test_hmc_checks_what_logp_returns(bad, match):
    with pytest.raises((TypeError, ValueError), match=match):
        hmc(bad, [0.1, 0.2], n_warmup=10, n_samples=5, n_chains=1, seed=0)


# ------------------------------------------------------------------------------- Dask clients
def test_closed_or_wrong_dask_client_raises():
    distributed = pytest.importorskip("dask.distributed")
    ra, dec, g1, g2 = _shear_cat(40)
    cat = cc.Catalog(ra, dec, g1=g1, g2=g2)
    client = distributed.Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=None)
    cluster = client.cluster
    client.close()
    with pytest.raises(ValueError, match="client: the Dask client is 'closed'"):
        cc.shear_shear(cat, min_sep=1, max_sep=30, nbins=4, spacing="linear", client=client)
    with pytest.raises(ValueError, match="closed"):
        cc.set_executor(client)
    with pytest.raises(TypeError, match=r"Client\(cluster\), not the cluster"):
        cc.shear_shear(cat, min_sep=1, max_sep=30, nbins=4, spacing="linear", client=cluster)
    cluster.close()


# ------------------------------------------------------------------------------- sky ranges
def test_centres_never_at_ra_360():
    # a unit vector a rounding step below RA = 0 is at RA = 0, not 360 (RA is in [0, 360))
    radec = vectors_to_radec(np.array([[1.0, 1.0], [-1e-18, -1e-300], [0.0, 0.5]]))
    np.testing.assert_array_equal(radec[:, 0], [0.0, 0.0])
    rng = np.random.default_rng(4)
    ra = np.concatenate([rng.uniform(359, 360, 100), rng.uniform(0, 1, 100)])
    fit = cc.fuzzy_c_means(ra, rng.uniform(-1, 1, 200), 5, seed=2)
    assert np.all((fit.centers[:, 0] >= 0) & (fit.centers[:, 0] < 360))


def test_patch_centres_outside_the_sphere_are_refused():
    ra, dec, _, _ = _shear_cat(50)
    with pytest.raises(ValueError, match=r"patch_centers: dec must lie in \[-90, 90\]"):
        cc.Catalog(ra, dec, patch_centers=[[10.0, 0.0], [10.5, 91.0]])
    with pytest.raises(ValueError, match=r"shape \(npatch, 2\)"):
        cc.Catalog(ra, dec, patch_centers=[[10.0, 0.0, 1.0], [10.5, 1.0, 1.0]])


def test_duplicate_column_names_are_refused():
    ra, dec, g1, g2 = _shear_cat(20)
    t = Table({"RA": ra, "ra": ra + 1, "dec": dec})
    with pytest.raises(ValueError, match=r"ra: column name 'ra' matches 2 columns case-insensitively .*'RA', 'ra'"):
        cc.Catalog.from_table(t)
    np.testing.assert_array_equal(cc.Catalog.from_table(Table({"RA": ra, "dec": dec})).ra, ra)  # one match: fine


# ------------------------------------------------------------------------------- result JSON
@pytest.mark.parametrize("edit, match", [
    (lambda d: d["main"].__setitem__("xip", ["a"] * len(d["main"]["xip"])), "field 'main.xip' must hold numbers"),
    (lambda d: d["main"].__setitem__("xip", d["main"]["xip"][:-1]), "field 'main.xip' has 3 entries, expected 4"),
    (lambda d: d["main"].__setitem__("npairs", 7), "field 'main.npairs' must be a list"),
    (lambda d: d.__setitem__("rnom", "x"), "field 'rnom' must be a list"),
    (lambda d: d["cosmocorr_meta"]["object"]["fields"].__setitem__("var_method", 5),
     "field ShearShearResult.var_method must be str"),
    (lambda d: d["cosmocorr_meta"]["object"]["fields"].__setitem__("npatch", "one"),
     "field ShearShearResult.npatch must be int"),
])
def test_result_json_with_wrong_types_or_lengths(tmp_path, edit, match):
    ra, dec, g1, g2 = _shear_cat(60)
    r = cc.shear_shear(cc.Catalog(ra, dec, g1=g1, g2=g2), min_sep=1.0, max_sep=40.0, nbins=4, spacing="log")
    path = tmp_path / "gg.json"
    r.write(path)
    back = cc.ShearShearResult.read(path)  # the untouched file reads back
    np.testing.assert_array_equal(back.xip, r.xip)
    d = json.loads(path.read_text())
    edit(d)
    path.write_text(json.dumps(d))
    with pytest.raises(ValueError, match=match):
        cc.ShearShearResult.read(path)


# ------------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("argv, match", [
    (["demo", "--seed", "-1"], "argument --seed: must be >= 0"),
    (["demo", "--n-stars", "1"], "argument --n-stars: must be >= 2"),
    (["demo", "--dpi", "0"], "argument --dpi: must be a positive number"),
    (["rho", "cat.fits", "--naive"], "--naive overlays the exact all-pairs estimate on an Algorithm 1 run"),
    (["gg", "cat.fits", "--n-clusters", "1"], "argument --n-clusters: must be >= 2"),
    (["nn", "cat.fits", "--n-randoms", "0"], "argument --n-randoms: must be >= 2"),
])
def test_cli_refuses_nonsense(tmp_path, monkeypatch, capsys, argv, match):
    monkeypatch.chdir(tmp_path)
    rc = cli.main(argv + (["--outdir", str(tmp_path / "o")] if argv[0] == "demo" else []))
    err = capsys.readouterr().err
    assert rc == 2 and match in err, err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------- threads
@pytest.mark.filterwarnings("ignore::cosmocorr.ConvergenceWarning")
def test_thread_count_changes_results_only_by_summation_order():
    """The documented bound (docs/reproducibility.md): 1, 2 and 4 threads give the same bins,
    counts and iteration counts, and values equal to 1e-12 relative (pair estimators) and 1e-10
    (fuzzy c-means memberships and centres, after its iterations)."""
    ra, dec, g1, g2 = _shear_cat(2500, seed=5)
    cat = cc.Catalog(ra, dec, g1=g1, g2=g2)
    runs = {k: cc.shear_shear(cat, min_sep=1, max_sep=40, nbins=6, spacing="log", num_threads=k) for k in (1, 2, 4)}
    for k in (2, 4):
        np.testing.assert_array_equal(runs[k].npairs, runs[1].npairs)
        for f in ("xip", "xim", "weight", "meanr"):
            a, b = getattr(runs[k], f), getattr(runs[1], f)
            assert np.max(np.abs(a - b)) <= 1e-12 * np.max(np.abs(b)), f
    rng = np.random.default_rng(6)
    ra2, dec2 = rng.uniform(0, 3, 20_000), rng.uniform(0, 3, 20_000)
    fits = {k: cc.fuzzy_c_means(ra2, dec2, 20, seed=1, max_iter=15, tol=1e-12, num_threads=k) for k in (1, 2, 4)}
    for k in (2, 4):
        assert fits[k].n_iter == fits[1].n_iter
        assert np.max(np.abs(fits[k].membership - fits[1].membership)) <= 1e-10
        assert np.max(np.abs(fits[k].centers - fits[1].centers)) <= 1e-10


@pytest.mark.filterwarnings("ignore::cosmocorr.ConvergenceWarning")
def test_blas_thread_limit_restored_after_concurrent_fuzzy_c_means():
    from threadpoolctl import threadpool_info, threadpool_limits

    def blas():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    rng = np.random.default_rng(0)
    ra, dec = rng.uniform(0, 5, 60_000), rng.uniform(-2, 2, 60_000)
    with threadpool_limits(2, user_api="blas"):
        before = blas()
        if not before or max(before) < 2:
            pytest.skip("no multi-threaded BLAS to limit")
        errors = []

        def run(s):
            try:
                cc.fuzzy_c_means(ra, dec, 20, seed=s, max_iter=3, num_threads=2)
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        for _ in range(2):
            ts = [threading.Thread(target=run, args=(i,)) for i in range(6)]
            for t in ts:
                t.start()
            for t in ts:
                t.join()
        assert not errors
        assert blas() == before


def test_warnings_are_printed_once():
    import subprocess
    import sys

    code = ("import numpy as np, cosmocorr as cc; rng = np.random.default_rng(0); "
            "cc.fuzzy_c_means(rng.uniform(0, 1, 40), rng.uniform(0, 1, 40), 3, seed=0, max_iter=1)")
    err = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stderr
    assert err.count("fuzzy c-means stopped at max_iter=1") == 1, err


def test_interleaved_blas_limits_restore_the_original():
    """The order that left BLAS at one thread: A limits, B limits, A restores, B restores, in two
    user threads. OpenBLAS ignores a raise of its thread count from a non-main thread, so work
    started from user threads leaves the limit alone; the main thread limits and restores."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from cosmocorr._parallel import single_threaded_blas

    def blas():
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    with threadpool_limits(2, user_api="blas"):
        before = blas()
        if not before or max(before) < 2:
            pytest.skip("no multi-threaded BLAS to limit")
        a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

        def a():
            with single_threaded_blas():
                a_in.set()
                b_in.wait(10)
            a_out.set()

        def b():
            a_in.wait(10)
            with single_threaded_blas():
                b_in.set()
                a_out.wait(10)

        ts = [threading.Thread(target=a), threading.Thread(target=b)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(20)
        assert blas() == before
        with single_threaded_blas():  # the main thread: limited inside (nested blocks too), restored after
            with single_threaded_blas():
                assert blas() == [1] * len(before)
            assert blas() == [1] * len(before)
        assert blas() == before
