"""NG, NK, KK, KG and the cross / natural / Davis-Peebles Landy-Szalay against TreeCorr (issue 24).

Every comparison runs TreeCorr 5.x by brute force (``brute=True``, ``metric="Arc"``) on the same
objects, weights, bins and patch labels. TreeCorr keeps w, w*k and w*g in single precision
(``include/Cell.h``: ``float _w``, ``float _wk``, ``std::complex<float> _wz``), so inputs are made
exactly representable there (fields rounded to float32, weights powers of two); the sums then
agree to ~1e-13 and the values are asserted to 1e-10 relative.
"""
import numpy as np
import pytest

import cosmocorr as cc
from cosmocorr.cli import main

treecorr = pytest.importorskip("treecorr")

TOL = 1e-10
BINS_LOG = cc.Bins(1.0, 100.0, 7, "log")
BINS_LIN = cc.Bins(0.0, 60.0, 6, "linear")
TC = {"NG": "NGCorrelation", "NK": "NKCorrelation", "KK": "KKCorrelation", "KG": "KGCorrelation"}
FN = {"NG": cc.count_shear, "NK": cc.count_scalar, "KK": cc.scalar_scalar, "KG": cc.scalar_shear}


def _f32(x):
    return np.asarray(x, np.float32).astype(float)


def _cat(rng, n, ra0=10.0, fields=True, **kw):
    ra, dec = rng.uniform(ra0, ra0 + 2.0, n), rng.uniform(-1.0, 1.0, n)
    w = 2.0 ** rng.integers(-2, 2, n)
    if not fields:
        return cc.Catalog(ra, dec, w=w, **kw)
    return cc.Catalog(ra, dec, _f32(rng.normal(0, 0.2, n)), _f32(rng.normal(0, 0.2, n)), w,
                      k=_f32(rng.normal(0.3, 1.0, n)), **kw)


def _tc(c):
    d = dict(ra=c.ra, dec=c.dec, w=c.w, ra_units="deg", dec_units="deg", patch=c.patch)
    if c.k is not None:
        d["k"] = c.k
    if c.g1 is not None:
        d.update(g1=c.g1, g2=c.g2)
    return treecorr.Catalog(**d)


def _tc_kwargs(bins, **kw):
    return dict(min_sep=bins.min_sep, max_sep=bins.max_sep, nbins=bins.nbins, sep_units="arcmin", brute=True,
                metric="Arc", bin_type="Log" if bins.spacing == "log" else "Linear", **kw)


def _run_tc(letters, bins, cats, **kw):
    c = getattr(treecorr, TC[letters])(**_tc_kwargs(bins, **kw))
    c.process(*[_tc(x) for x in cats])
    return c


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _covrel(C, D):
    s = np.sqrt(np.abs(np.outer(np.diag(D), np.diag(D))))
    return float(np.max(np.abs(C - D) / s))


@pytest.fixture(scope="module")
def cats():
    rng = np.random.default_rng(24)
    lenses = _cat(rng, 250, npatch=5, patch_seed=3)
    pc = lenses.patch_centers
    sources = _cat(rng, 350, patch_centers=pc)
    randoms = _cat(rng, 500, fields=False, patch_centers=pc)
    return lenses, sources, randoms


CASES = [("NG", False), ("NK", False), ("KK", True), ("KK", False), ("KG", False)]


@pytest.mark.parametrize("bins", [BINS_LOG, BINS_LIN], ids=["log", "linear"])
@pytest.mark.parametrize("letters,auto", CASES, ids=[f"{a}{'-auto' if b else ''}" for a, b in CASES])
def test_exact_kernels_equal_treecorr_brute(cats, letters, auto, bins):
    lenses, sources, _ = cats
    args = (lenses,) if auto else (lenses, sources)
    r = FN[letters](*args, bins=bins)
    tc = _run_tc(letters, bins, args)
    np.testing.assert_array_equal(r.npairs, tc.npairs)
    assert np.all(r.npairs > 0)
    for name in ("weight", "meanr", "meanlogr", "xi", "varxi"):
        assert _rel(getattr(r, name), getattr(tc, name)) < TOL, name
    if letters in ("NG", "KG"):
        assert _rel(r.xi_im, tc.xi_im) < TOL
    else:
        assert r.xi_im is None


@pytest.mark.parametrize("letters", ["NG", "NK", "KK", "KG"])
@pytest.mark.parametrize("method,cpw", [("jackknife", "simple"), ("jackknife", "match"), ("sample", "mean"),
                                        ("bootstrap", "geom"), ("marked_bootstrap", "mean")])
def test_patch_covariances_equal_treecorr(cats, letters, method, cpw):
    lenses, sources, _ = cats
    tc = _run_tc(letters, BINS_LOG, (lenses, sources), var_method=method, cross_patch_weight=cpw, num_bootstrap=40,
                 rng=np.random.default_rng(7))
    r = FN[letters](lenses, sources, bins=BINS_LOG, var_method=method, cross_patch_weight=cpw, num_bootstrap=40,
                    seed=7)
    assert _covrel(r.cov, tc.cov) < TOL
    assert _rel(r.varxi, tc.varxi) < TOL and r.npatch == 5


@pytest.mark.parametrize("letters", ["NG", "NK"])
@pytest.mark.parametrize("method", ["jackknife", "sample", "bootstrap"])
def test_random_point_subtraction_equals_treecorr(cats, letters, method):
    lenses, sources, randoms = cats
    kw = dict(var_method=method, cross_patch_weight="simple", num_bootstrap=30, rng=np.random.default_rng(5))
    dg = _run_tc(letters, BINS_LOG, (lenses, sources), **kw)
    rg = _run_tc(letters, BINS_LOG, (randoms, sources), **kw)
    dg.calculateXi(**{"rg" if letters == "NG" else "rk": rg})
    r = FN[letters](lenses, sources, bins=BINS_LOG, randoms=randoms, var_method=method, num_bootstrap=30, seed=5)
    assert _rel(r.xi, dg.xi) < TOL and _rel(r.raw_xi, dg.raw_xi) < TOL
    assert _covrel(r.cov, dg.cov) < TOL
    if letters == "NG":
        assert _rel(r.xi_im, dg.xi_im) < TOL


def test_random_subtraction_shot_noise_and_list_of_randoms(cats):
    lenses, sources, randoms = (c.subset(np.arange(c.nobj)) for c in cats)
    for c in (lenses, sources, randoms):       # no patches: TreeCorr's varxi = raw_varxi + rg.varxi
        c.patch = None
    dg = _run_tc("NG", BINS_LOG, (lenses, sources))
    rg = _run_tc("NG", BINS_LOG, (randoms, sources))
    dg.calculateXi(rg=rg)
    r = cc.count_shear(lenses, sources, bins=BINS_LOG, randoms=[randoms.subset(np.arange(200)),
                                                               randoms.subset(np.arange(200, randoms.nobj))])
    assert _rel(r.xi, dg.xi) < TOL and _rel(r.varxi, dg.varxi) < TOL and _rel(r.raw_varxi, dg.raw_varxi) < TOL


def test_multi_cov_across_gg_and_ng_equals_treecorr(cats):
    lenses, sources, _ = cats
    kw = dict(var_method="jackknife", cross_patch_weight="simple")
    gg = treecorr.GGCorrelation(**_tc_kwargs(BINS_LOG, **kw))
    gg.process(_tc(sources))
    ng = _run_tc("NG", BINS_LOG, (lenses, sources), **kw)
    kk = _run_tc("KK", BINS_LOG, (lenses,), **kw)
    ours = [cc.shear_shear(sources, bins=BINS_LOG), cc.count_shear(lenses, sources, bins=BINS_LOG),
            cc.scalar_scalar(lenses, bins=BINS_LOG)]
    for method in ("jackknife", "sample", "bootstrap"):
        if method == "bootstrap":
            for c in (gg, ng, kk):
                c._rng = np.random.default_rng(3)
        C = treecorr.estimate_multi_cov([gg, ng, kk], method, cross_patch_weight="simple", num_bootstrap=30)
        D = cc.estimate_multi_cov(ours, method, num_bootstrap=30, seed=3)
        assert C.shape == (4 * BINS_LOG.nbins,) * 2   # xi+, xi-, gamma_t, kk
        assert _covrel(D, C) < 1e-8   # GG's sums carry TreeCorr's float32 shears (see test_covariance.py)


@pytest.mark.parametrize("ext", ["fits", "dat"])
@pytest.mark.parametrize("letters", ["NG", "NK", "KK", "KG"])
def test_files_are_read_back_by_treecorr(cats, tmp_path, letters, ext):
    lenses, sources, randoms = cats
    kw = {"randoms": randoms} if letters in ("NG", "NK") else {}
    r = FN[letters](lenses, sources, bins=BINS_LOG, **kw)
    path = r.write(tmp_path / f"r.{ext}")
    tc = getattr(treecorr, TC[letters]).from_file(str(path))
    np.testing.assert_array_equal(tc.npairs, r.npairs)
    for name in ("xi", "varxi", "meanr", "meanlogr", "weight"):
        np.testing.assert_allclose(getattr(tc, name), getattr(r, name), rtol=1e-15)
    back = type(r).read(path)
    for name in ("xi", "raw_xi", "varxi", "npairs"):
        a, b = getattr(back, name), getattr(r, name)
        assert (a is None and b is None) or np.array_equal(a, b), name


def _nn(bins, a, b=None, **kw):
    c = treecorr.NNCorrelation(**_tc_kwargs(bins, **kw))
    c.process(_tc(a)) if b is None else c.process(_tc(a), _tc(b))
    return c


@pytest.mark.parametrize("method", ["shot", "sample", "marked_bootstrap"])
def test_landy_szalay_cross_and_natural_equal_treecorr(cats, method):
    d1, d2, r1 = (c.subset(np.arange(n)) for c, n in zip(cats, (120, 150, 300)))   # TreeCorr's NN is slow
    r2 = r1.subset(np.arange(0, r1.nobj, 2))
    kw = dict(var_method=method, cross_patch_weight="simple", num_bootstrap=30)
    dd, rr, dr, rd = (_nn(BINS_LOG, a, b, rng=np.random.default_rng(9), **kw)
                      for a, b in ((d1, d2), (r1, r2), (d1, r2), (r1, d2)))
    dd.calculateXi(rr=rr, dr=dr, rd=rd)
    ours = cc.landy_szalay(d1, r1, BINS_LOG, data2=d2, randoms2=r2, var_method=method, num_bootstrap=30, seed=9)
    assert _rel(ours.xi, dd.xi) < TOL and _rel(ours.varxi, dd.varxi) < TOL
    dd = _nn(BINS_LOG, d1, d2, rng=np.random.default_rng(9), **kw)   # fresh: calculateXi(dr=) added patch pairs
    dd.calculateXi(rr=rr)
    nat = cc.landy_szalay(d1, r1, BINS_LOG, data2=d2, randoms2=r2, estimator="natural", var_method=method,
                          num_bootstrap=30, seed=9)
    assert _rel(nat.xi, dd.xi) < TOL and _rel(nat.varxi, dd.varxi) < TOL
    # auto natural: DD and RR are auto-correlations (TreeCorr's kept patch pairs p <= q)
    dda, rra = _nn(BINS_LOG, d1, rng=np.random.default_rng(9), **kw), _nn(BINS_LOG, r1, **kw)
    dda.calculateXi(rr=rra)
    nat = cc.landy_szalay(d1, r1, BINS_LOG, estimator="natural", var_method=method, num_bootstrap=30, seed=9)
    assert _rel(nat.xi, dda.xi) < TOL and _rel(nat.varxi, dda.varxi) < TOL


def test_landy_szalay_list_of_randoms_davis_peebles_and_auto_call(cats):
    d1, _, r1 = cats
    ra, rb = r1.subset(np.arange(300)), r1.subset(np.arange(300, r1.nobj))
    dd, rr, dr = _nn(BINS_LIN, d1), treecorr.NNCorrelation(**_tc_kwargs(BINS_LIN)), treecorr.NNCorrelation(
        **_tc_kwargs(BINS_LIN))
    rr.process([_tc(ra), _tc(rb)])
    dr.process(_tc(d1), [_tc(ra), _tc(rb)])
    dd.calculateXi(rr=rr, dr=dr)
    assert _rel(cc.landy_szalay(d1, [ra, rb], BINS_LIN).xi, dd.xi) < TOL
    assert _rel(cc.landy_szalay(d1, r1, BINS_LIN).xi, dd.xi) < TOL      # the original auto call, unchanged
    # Davis-Peebles DD/DR - 1 from TreeCorr's normalised DD and DR counts
    dp = cc.landy_szalay(d1, r1, BINS_LIN, estimator="davis_peebles")
    expect = (dd.weight / dd.tot) / (dr.weight / dr.tot) - 1.0
    assert _rel(dp.xi, expect) < TOL and np.all(dp.rr == 0)
    with pytest.raises(ValueError, match="estimator"):
        cc.landy_szalay(d1, r1, BINS_LIN, estimator="hamilton")
    with pytest.raises(ValueError, match="data2"):
        cc.landy_szalay(d1, r1, BINS_LIN, randoms2=r1)
    with pytest.raises(ValueError, match="Algorithm 1 is defined here for the auto"):
        cc.landy_szalay(d1, r1, BINS_LIN, data2=d1, n_clusters=10)


def test_catalog_scalar_field_is_validated_and_masked():
    rng = np.random.default_rng(1)
    ra, dec, k = rng.uniform(0, 1, 10), rng.uniform(0, 1, 10), rng.normal(size=10)
    with pytest.raises(ValueError, match="k contains 1 NaN"):
        cc.Catalog(ra, dec, k=np.where(np.arange(10) == 3, np.nan, k))
    with pytest.raises(ValueError, match="k has length 9"):
        cc.Catalog(ra, dec, k=k[:9])
    with pytest.raises(TypeError, match="k must be real"):
        cc.Catalog(ra, dec, k=k + 1j)
    w = np.where(np.arange(10) < 4, 0.0, 1.0)
    c = cc.Catalog(ra, dec, w=w, k=k.astype(np.float32))
    assert c.k.dtype == np.float64 and np.array_equal(c.k, k.astype(np.float32)[4:])
    assert np.array_equal(c.subset([0, 2]).k, c.k[[0, 2]])
    with pytest.raises(ValueError, match="cat has no scalar field"):
        cc.count_scalar(c, cc.Catalog(ra, dec), bins=BINS_LIN)
    with pytest.raises(ValueError, match="sources has no shear"):
        cc.count_shear(c, c, bins=BINS_LIN)
    with pytest.raises(TypeError, match=r"randoms\[1\] must be a cosmocorr.Catalog"):
        cc.count_scalar(c, c, bins=BINS_LIN, randoms=[c, 3])
    with pytest.raises(TypeError, match="randoms"):         # TreeCorr's rg/rk exist for NG and NK only
        cc.scalar_shear(c, c, bins=BINS_LIN, randoms=c)
    with pytest.raises(TypeError, match="sources must be a cosmocorr.Catalog, got None"):
        cc.estimators.count_shear(c, None, BINS_LIN)


def test_clustered_count_shear_on_tight_groups_equals_exact():
    """Injected truth: 40 tight groups of 6 objects (0.01 arcmin across), 40 clusters: every
    sampled assignment puts each group in one cluster at its centre, so Algorithm 1 returns the
    exact estimate of the group centres with no epistemic spread. A count cluster object weighs
    its members' total weight."""
    rng = np.random.default_rng(3)

    def groups(n, ra0):
        cen_ra, cen_dec = rng.uniform(ra0, ra0 + 2, n), rng.uniform(-1, 1, n)
        off = rng.normal(0, 0.002 / 60, (2, n, 6))
        return (cen_ra[:, None] + off[0]).ravel(), (cen_dec[:, None] + off[1]).ravel()

    lra, ldec = groups(40, 10.0)
    sra, sdec = groups(40, 10.0)
    g = rng.normal(0, 0.2, (2, sra.size))
    w = rng.uniform(0.5, 2, sra.size)
    lenses, sources = cc.Catalog(lra, ldec), cc.Catalog(sra, sdec, g[0], g[1], w)
    bins = cc.Bins(5.0, 100.0, 5, "log")
    res = cc.count_shear(lenses, sources, bins, n_clusters=40, n_samples=3, seed=2, max_iter=500)
    exact = cc.count_shear(lenses, sources, bins)
    assert type(res).__name__ == "ClusteredCountShearResult" and res.xi_samples.shape == (3, 5)
    np.testing.assert_allclose(res.xi, exact.xi, rtol=0, atol=2e-3 * np.max(np.abs(exact.xi)))
    np.testing.assert_allclose(res.xi_std, 0.0, atol=1e-12)
    np.testing.assert_allclose(res.weight, exact.weight, rtol=1e-12)    # cluster objects carry the weights
    # one cluster object per group: the pairs are the group-centre pairs (each standing for 6 x 6)
    np.testing.assert_array_equal(res.npairs * 36, exact.npairs)


def test_clustered_scalar_scalar_of_a_constant_field_is_that_constant_squared():
    rng = np.random.default_rng(4)
    n = 300
    cat = cc.Catalog(rng.uniform(0, 2, n), rng.uniform(0, 2, n), w=rng.uniform(0.5, 1.5, n), k=np.full(n, 0.7))
    bins = cc.Bins(5.0, 60.0, 4)
    r = cc.scalar_scalar(cat, bins=bins, n_clusters=25, n_samples=4, seed=1, tol=1e-3)
    np.testing.assert_allclose(r.xi, 0.49, rtol=1e-12)
    nk = cc.count_scalar(cat, cat, bins=bins, n_clusters=25, n_samples=2, seed=1, tol=1e-3)
    np.testing.assert_allclose(nk.xi, 0.7, rtol=1e-12)
    assert r.var_num < 1e-30 and np.all(r.varxi < 1e-28)     # vark = 0: no shot noise


@pytest.mark.parametrize("cmd", ["ng", "nk", "kk", "kg"])
def test_cli_subcommands_against_the_api(cats, tmp_path, cmd, capsys):
    from astropy.table import Table

    lenses, sources, randoms = cats
    files = {}
    for name, c in (("lenses", lenses), ("sources", sources), ("randoms", randoms)):
        cols = dict(ra=c.ra, dec=c.dec, w=c.w)
        if c.k is not None:
            cols.update(k=c.k, g1=c.g1, g2=c.g2)
        files[name] = tmp_path / f"{name}.fits"
        Table(cols).write(files[name])
    args = [cmd, str(files["sources"] if cmd in ("kk", "kg") else files["lenses"]), "--weight", "w",
            "--min-sep", "1", "--max-sep", "100", "--nbins", "7", "--spacing", "log", "--out", str(tmp_path / "f.png"),
            "--fits-out", str(tmp_path / "r.fits")]
    if cmd != "kk":
        args += ["--catalog2", str(files["sources"]), "--weight2", "w"]
    if cmd == "ng":
        args += ["--randoms", str(files["randoms"]), "--randoms-weight", "w"]
    assert main(args) == 0
    letters = cmd.upper()
    tc = getattr(treecorr, TC[letters]).from_file(str(tmp_path / "r.fits"))
    first = sources if cmd in ("kk", "kg") else lenses
    plain = [cc.Catalog(c.ra, c.dec, c.g1, c.g2, c.w, k=c.k) for c in (first, sources, randoms)]
    kw = {"randoms": plain[2]} if cmd == "ng" else {}
    ref = FN[letters](plain[0], None if cmd == "kk" else plain[1], BINS_LOG, **kw)
    assert _rel(tc.xi, ref.xi) < TOL
    assert (tmp_path / "f.png").stat().st_size > 10_000
    assert "npairs" in capsys.readouterr().out


@pytest.mark.parametrize("letters,auto", CASES, ids=[f"{a}{'-auto' if b else ''}" for a, b in CASES])
def test_tree_method_at_zero_slop_equals_exact_and_default_slop_is_within_errors(cats, letters, auto):
    """method='tree' (TreeCorr's tree through cosmocorr.backends.tree): at bin_slop = angle_slop = 0
    every pair at its own separation and angle, so the exact sums (single-precision-exact inputs);
    at TreeCorr's default slops the approximation error is far below the statistical error."""
    lenses, sources, randoms = cats
    args = (lenses,) if auto else (lenses, sources)
    kw = {"randoms": randoms} if letters in ("NG", "NK") else {}
    exact = FN[letters](*args, bins=BINS_LOG, var_method="jackknife", **kw)
    tree = FN[letters](*args, bins=BINS_LOG, var_method="jackknife", method="tree", bin_slop=0, angle_slop=0, **kw)
    np.testing.assert_array_equal(tree.npairs, exact.npairs)
    for name in ("xi", "meanr", "varxi"):
        assert _rel(getattr(tree, name), getattr(exact, name)) < 1e-9, name
    assert tree.method == "tree" and tree.bin_slop == 0.0
    approx = FN[letters](*args, bins=BINS_LOG, method="tree", **kw)
    assert approx.bin_slop > 0
    assert np.max(np.abs(approx.xi - exact.xi) / np.sqrt(exact.varxi)) < 0.01


def test_clustering_uncertainty_of_gamma_t(cats):
    """cc.clustering_uncertainty(sources, ..., lenses=): the patch-jackknife sigma_aleatoric is
    TreeCorr's NG jackknife on the same patches; the epistemic draws are Algorithm 1 draws of the
    sources (their spread vanishes when the sources sit in tight groups, one per cluster)."""
    lenses, sources, _ = cats
    u = cc.clustering_uncertainty(sources, BINS_LOG, 30, n_samples=3, seed=4, aleatoric="patch_jackknife",
                                  lenses=lenses, tol=1e-3)
    tc = _run_tc("NG", BINS_LOG, (lenses, sources), var_method="jackknife", cross_patch_weight="simple")
    assert u.names == ["gamma_t"] and u.npatch == 5
    assert _rel(u.sigma_aleatoric["gamma_t"], np.sqrt(tc.varxi)) < TOL
    assert _rel(u.naive["gamma_t"], tc.xi) < TOL
    rng = np.random.default_rng(8)
    cen = rng.uniform(10, 12, 30), rng.uniform(-1, 1, 30)
    off = rng.normal(0, 0.002 / 60, (2, 30, 5))
    src = cc.Catalog((cen[0][:, None] + off[0]).ravel(), (cen[1][:, None] + off[1]).ravel(),
                     rng.normal(0, 0.2, 150), rng.normal(0, 0.2, 150))
    g = cc.clustering_uncertainty(src, BINS_LOG, 30, n_samples=3, n_bootstrap=3, seed=4, lenses=lenses,
                                  max_iter=500)
    np.testing.assert_allclose(g.sigma_epistemic["gamma_t"], 0.0, atol=1e-12)
    ok = np.isfinite(g.naive["gamma_t"])
    np.testing.assert_allclose(g.mean["gamma_t"][ok], g.naive["gamma_t"][ok], rtol=0,
                               atol=2e-3 * np.max(np.abs(g.naive["gamma_t"][ok])))


def test_nn_cli_cross_and_estimator(cats, tmp_path, capsys):
    from astropy.table import Table

    d1, d2, r1 = (c.subset(np.arange(n)) for c, n in zip(cats, (120, 150, 300)))
    paths = []
    for name, c in (("d1", d1), ("d2", d2), ("r1", r1)):
        paths.append(tmp_path / f"{name}.fits")
        Table(dict(ra=c.ra, dec=c.dec, w=c.w)).write(paths[-1])
    common = ["--weight", "w", "--randoms-weight", "w", "--min-sep", "1", "--max-sep", "100", "--nbins", "7",
              "--spacing", "log", "--out", ""]
    assert main(["nn", str(paths[0]), "--randoms", str(paths[2]), "--catalog2", str(paths[1]),
                 "--json", str(tmp_path / "x.json"), *common]) == 0
    assert main(["nn", str(paths[0]), "--randoms", str(paths[2]), "--estimator", "natural",
                 "--json", str(tmp_path / "n.json"), *common]) == 0
    plain = [cc.Catalog(c.ra, c.dec, w=c.w) for c in (d1, d2, r1)]
    cross = cc.io.read(tmp_path / "x.json")
    nat = cc.io.read(tmp_path / "n.json")
    dd, rr, dr, rd = (_nn(BINS_LOG, a, b) for a, b in ((plain[0], plain[1]), (plain[2], plain[2]),
                                                        (plain[0], plain[2]), (plain[2], plain[1])))
    dd.calculateXi(rr=rr, dr=dr, rd=rd)
    assert _rel(cross.xi, dd.xi) < TOL
    dda, rra = _nn(BINS_LOG, plain[0]), _nn(BINS_LOG, plain[2])
    dda.calculateXi(rr=rra)
    assert _rel(nat.xi, dda.xi) < TOL and nat.estimator == "natural"
    assert "natural" in capsys.readouterr().out


def test_field_figure_draws_xi_and_the_imaginary_part(cats):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cosmocorr.plotting import plot_field_correlation

    lenses, sources, _ = cats
    r = cc.count_shear(lenses, sources, BINS_LOG)
    fig = plot_field_correlation(r.meanr, "NG", r.xi, np.sqrt(r.varxi), r.xi_im, np.sqrt(r.varxi), scale="linear")
    ax = fig.axes[0]
    pts = [ln for ln in ax.get_lines() if ln.get_zorder() == 3 and len(ln.get_xdata())]
    drawn = np.sort(np.concatenate([ln.get_ydata() for ln in pts]))
    np.testing.assert_allclose(drawn, np.sort(np.concatenate([r.xi, r.xi_im])))   # both series, every bin
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("gamma_t" in t for t in labels) and any("times" in t for t in labels)
    assert "gamma_t" in ax.get_ylabel()
    plt.close(fig)
    fig = plot_field_correlation(r.meanr, "KK", r.xi)       # no imaginary part: one series
    assert len(fig.axes[0].get_legend().get_texts()) == 3
    plt.close(fig)


@pytest.mark.parametrize("auto", [True, False], ids=["auto", "cross"])
def test_davis_peebles_jackknife_equals_treecorr_multi_cov_of_dd_and_dr(cats, auto):
    """DD/DR - 1 is not a TreeCorr estimator; its jackknife is TreeCorr's estimate_multi_cov of its
    DD and DR with func = (DD/DD_tot) / (DR/DR_tot) - 1, on the same patches."""
    d1, d2, r1 = (c.subset(np.arange(n)) for c, n in zip(cats, (120, 150, 300)))
    dd = _nn(BINS_LOG, d1) if auto else _nn(BINS_LOG, d1, d2)
    dr = _nn(BINS_LOG, d1, r1)

    def func(cs):
        return (cs[0].weight / cs[0].tot) / (cs[1].weight / cs[1].tot) - 1.0

    C = treecorr.estimate_multi_cov([dd, dr], "jackknife", func=func, cross_patch_weight="simple")
    ours = cc.landy_szalay(d1, r1, BINS_LOG, data2=None if auto else d2, estimator="davis_peebles",
                           var_method="jackknife")
    assert _rel(ours.xi, func([dd, dr])) < TOL
    assert _covrel(ours.cov, C) < TOL
