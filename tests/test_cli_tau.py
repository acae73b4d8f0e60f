"""`cosmocorr tau`: the tau statistics (and the leakage fit) from files, against the Python API and TreeCorr."""
import json

import numpy as np
import pytest
import treecorr
from astropy.table import Table

import cosmocorr as cc
from cosmocorr.cli import main
from cosmocorr.sky.synthetic import synthetic_psf_leakage


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("tau")
    gal, stars, _ = synthetic_psf_leakage(600, 200, seed=3, shape_noise=0.03)
    Table(dict(ra=gal.ra, dec=gal.dec, g1=gal.g1, g2=gal.g2)).write(d / "gal.fits")
    Table(dict(ra=stars.ra, dec=stars.dec, g1_vignet=stars.g1_star, g2_vignet=stars.g2_star, T_star=stars.T_star,
               g1_psfex=stars.g1_model, g2_psfex=stars.g2_model, T_model=stars.T_model)).write(d / "stars.fits")
    return d, gal, stars


ARGS = ["--star-columns", "g1_vignet,g2_vignet,T_star", "--model-columns", "g1_psfex,g2_psfex,T_model", "--sizes", "T",
        "--min-sep", "1", "--max-sep", "20", "--nbins", "4", "--spacing", "log"]


def test_cli_tau_matches_treecorr(files, capsys):
    d, gal, stars = files
    rc = main(["tau", str(d / "gal.fits"), "--stars", str(d / "stars.fits"), *ARGS, "--json", str(d / "t.json"),
               "--out", str(d / "t.png")])
    assert rc == 0, capsys.readouterr().err
    out = json.loads((d / "t.json").read_text())
    gg = treecorr.GGCorrelation(min_sep=1.0, max_sep=20.0, nbins=4, bin_type="Log", sep_units="arcmin", brute=True)
    mk = lambda ra, dec, z: treecorr.Catalog(ra=ra, dec=dec, g1=z.real, g2=z.imag, ra_units="deg", dec_units="deg")
    gg.process(mk(gal.ra, gal.dec, gal.g), mk(stars.ra, stars.dec, stars.de), metric="Arc")
    np.testing.assert_allclose(out["tau2"]["xip"], gg.xip, rtol=1e-5, atol=1e-6 * np.max(np.abs(gg.xip)))
    assert (d / "t.png").stat().st_size > 10_000
    assert "tau0" in capsys.readouterr().out


def test_cli_tau_fit_equals_api(files, capsys):
    d, gal, stars = files
    rc = main(["tau", str(d / "gal.fits"), "--stars", str(d / "stars.fits"), *ARGS, "--npatch", "16", "--seed", "5",
               "--fit", "--nsteps", "90", "--json", str(d / "f.json"), "--out", ""])
    assert rc == 0, capsys.readouterr().err
    back = cc.io.read(d / "f.json")
    g = cc.Catalog(gal.ra, gal.dec, gal.g1, gal.g2, npatch=16, patch_seed=5)
    s = cc.StarCatalog(stars.ra, stars.dec, stars.g1_star, stars.g2_star, stars.T_star, stars.g1_model, stars.g2_model,
                       stars.T_model, patch_centers=g.patch_centers)
    bins = cc.Bins(1.0, 20.0, 4, spacing="log")
    fit = cc.fit_psf_leakage(cc.rho_statistics(s, bins, var_method="jackknife"),
                             cc.tau_statistics(g, s, bins, var_method="jackknife"), seed=5, nsteps=90, burn=30)
    np.testing.assert_allclose(back.params, fit.params, rtol=1e-12)
    np.testing.assert_array_equal(back.samples, fit.samples)
    assert "alpha" in capsys.readouterr().out


def test_cli_tau_errors(files, capsys):
    d, _, _ = files
    rc = main(["tau", str(d / "gal.fits"), "--stars", str(d / "stars.fits"), *ARGS, "--fit", "--out", ""])
    err = capsys.readouterr().err
    assert rc == 2 and "--npatch" in err and err.count("\n") == 1
    rc = main(["tau", str(d / "gal.fits"), *ARGS])
    assert rc == 2 and "--stars" in capsys.readouterr().err
