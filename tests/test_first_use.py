"""First use (issue 27): the traps a TreeCorr user meets on a fresh install.

Checked against TreeCorr (log bins), the files a run writes, and tqdm's own counters.
"""
import json
import re

import numpy as np
import pytest
from astropy.table import Table

import cosmocorr as cc
from cosmocorr.cli import main


def _catalog_table(n=200, seed=1, radians=False):
    rng = np.random.default_rng(seed)
    ra, dec = rng.uniform(30.0, 31.0, n), rng.uniform(-0.5, 0.5, n)
    if radians:
        ra, dec = np.radians(ra), np.radians(dec)
    return Table({"ra": ra, "dec": dec, "g1": rng.normal(0, 0.1, n), "g2": rng.normal(0, 0.1, n)})


def test_unitless_values_that_fit_radians_warn():
    t = _catalog_table(radians=True)
    with pytest.warns(UserWarning, match="no unit .* would also be a valid angle in radians"):
        cc.Catalog.from_table(t, g1="g1", g2="g2")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cat = cc.Catalog.from_table(t, g1="g1", g2="g2", ra_units="rad", dec_units="rad")  # said: no warning
        cc.Catalog.from_table(_catalog_table(), g1="g1", g2="g2")  # degrees outside the radian range: none
    np.testing.assert_allclose(cat.ra, np.degrees(t["ra"]), rtol=1e-14)


def test_binning_keywords_need_spacing_and_log_matches_treecorr():
    treecorr = pytest.importorskip("treecorr")
    t = _catalog_table(300)
    cat = cc.Catalog(t["ra"], t["dec"], g1=t["g1"], g2=t["g2"])
    with pytest.raises(ValueError, match="spacing: give spacing='log' .*TreeCorr"):
        cc.shear_shear(cat, min_sep=1.0, max_sep=40.0, nbins=5)
    r = cc.shear_shear(cat, min_sep=1.0, max_sep=40.0, nbins=5, spacing="log")
    tc = treecorr.GGCorrelation(min_sep=1.0, max_sep=40.0, nbins=5, sep_units="arcmin", brute=True, metric="Arc")
    tc.process(treecorr.Catalog(ra=t["ra"], dec=t["dec"], g1=t["g1"], g2=t["g2"], ra_units="deg", dec_units="deg"))
    np.testing.assert_array_equal(r.npairs, tc.npairs)  # TreeCorr's default bin_type is Log
    np.testing.assert_allclose(r.xip, tc.xip, rtol=1e-6, atol=1e-12)


def _last_count(err):
    counts = re.findall(r"(\d+)/(\d+)", err)
    assert counts, err
    return tuple(map(int, counts[-1]))


@pytest.mark.parametrize("estimator", ["shear_shear", "rho_statistics", "landy_szalay"])
def test_progress_on_exact_estimators_counts_tiles(capsys, estimator):
    from cosmocorr.sky.synthetic import synthetic_star_catalog

    stars = synthetic_star_catalog(1500, seed=2)
    bins = cc.Bins(1.0, 30.0, 4, "log")
    if estimator == "shear_shear":
        cc.shear_shear(cc.Catalog(stars.ra, stars.dec, g1=stars.g1_star, g2=stars.g2_star), bins=bins, progress=True)
    elif estimator == "rho_statistics":
        cc.rho_statistics(stars, bins=bins, progress=True)
    else:
        rng = np.random.default_rng(0)
        rand = cc.Catalog(rng.uniform(stars.ra.min(), stars.ra.max(), 1500),
                          rng.uniform(stars.dec.min(), stars.dec.max(), 1500))
        cc.landy_szalay(stars.catalog, rand, bins=bins, progress=True)
    err = capsys.readouterr().err
    assert f"{estimator}: row blocks of pair tiles" in err
    done, total = _last_count(err)
    assert done == total > 0  # every announced row block was finished and counted
    cc.shear_shear(cc.Catalog(stars.ra, stars.dec, g1=stars.g1_star, g2=stars.g2_star), bins=bins)
    assert "row blocks" not in capsys.readouterr().err  # progress=False: silent


def _write_shear_csv(path, n=300):
    _catalog_table(n).write(path, format="ascii.csv")


def test_cli_default_figure_is_versioned_named_outputs_are_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write_shear_csv(tmp_path / "s.csv")
    args = ["gg", "s.csv", "--min-sep", "1", "--max-sep", "30", "--nbins", "3", "--spacing", "log"]
    assert main(args) == 0 and main(args) == 0
    assert (tmp_path / "xi.png").exists() and (tmp_path / "xi-2.png").exists()
    assert main(args + ["--json", "a.json"]) == 0
    capsys.readouterr()
    assert main(args + ["--json", "a.json"]) == 2  # a file the user named is never replaced silently
    assert "a.json exists; pass --overwrite" in capsys.readouterr().err
    assert main(["gg", "s.csv"]) == 2  # no default binning for gg, as TreeCorr
    assert "give --min-sep, --max-sep, --nbins, --spacing" in capsys.readouterr().err


def test_cli_jackknife_prints_its_error_column_and_nn_shows_progress(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write_shear_csv(tmp_path / "s.csv", 400)
    assert main(["gg", "s.csv", "--min-sep", "1", "--max-sep", "30", "--nbins", "3", "--spacing", "log",
                 "--npatch", "4", "--var-method", "jackknife", "--seed", "1", "--json", "jk.json", "--out", ""]) == 0
    out = capsys.readouterr().out
    assert "sigma: jackknife, 4 patches" in out
    lines = out.splitlines()
    i = next(k for k, ln in enumerate(lines) if "sigma_xip" in ln)
    header, first = lines[i].split(), lines[i + 1].split()
    written = json.loads((tmp_path / "jk.json").read_text())["main"]["sigma_xip"][0]
    np.testing.assert_allclose(float(first[header.index("sigma_xip")]), written, rtol=1e-4)
    assert main(["nn", "s.csv", "--n-randoms", "3000", "--seed", "2", "--min-sep", "1", "--max-sep", "30",
                 "--nbins", "3", "--spacing", "log", "--progress", "--out", ""]) == 0
    err = capsys.readouterr().err
    assert "landy_szalay: row blocks of pair tiles" in err
    done, total = _last_count(err)
    assert done == total > 0
