"""rho1..rho5 (paper eqs. 2-6) against TreeCorr built from the same quantities."""
import json

import numpy as np
import pytest
import treecorr

from cosmocorr import Bins, StarCatalog, rho_statistics
from cosmocorr.estimators import RHO_FIELDS
from cosmocorr.sky.synthetic import synthetic_star_catalog


def _tc(stars, z):
    return treecorr.Catalog(ra=stars.ra, dec=stars.dec, w=stars.w, g1=z.real, g2=z.imag, ra_units="deg", dec_units="deg")


def _independent_fields(stars):
    # built directly from the definitions: e = e_star, delta e = e_star - e_model,
    # (e dT/T) with T = 2 sigma^2 (the paper's T_PSF = the star's own size)
    e = stars.g1_star + 1j * stars.g2_star
    de = e - (stars.g1_model + 1j * stars.g2_model)
    edt = e * (stars.T_star - stars.T_model) / stars.T_star
    em = stars.g1_model + 1j * stars.g2_model    # rho0 (DES Y3): the PSF model's own ellipticity
    return {"e": e, "de": de, "edt": edt, "em": em}


def check_against_treecorr(stars, bins):
    result = rho_statistics(stars, bins)
    fields = _independent_fields(stars)
    for name, (a, b) in RHO_FIELDS.items():
        gg = treecorr.GGCorrelation(min_sep=bins.min_sep, max_sep=bins.max_sep, nbins=bins.nbins,
                                    bin_type=bins.spacing.capitalize(), sep_units="arcmin", brute=True, metric="Arc")
        if a == b:
            gg.process(_tc(stars, fields[a]))
        else:
            gg.process(_tc(stars, fields[a]), _tc(stars, fields[b]))
        r = result[name]
        scale = np.mean(np.abs(fields[a]) * np.abs(fields[b]))
        np.testing.assert_array_equal(r.npairs, gg.npairs, err_msg=name)
        np.testing.assert_allclose(r.meanr, gg.meanr, rtol=1e-8, err_msg=name)
        for q in ("xip", "xim"):
            np.testing.assert_allclose(getattr(r, q), getattr(gg, q), rtol=1e-5, atol=1e-6 * scale, err_msg=f"{name} {q}")
    return result


def test_rho_matches_treecorr_cosmos_web(cosmos_fits):
    # min_sep > 0: TreeCorr counts zero-separation pairs (an object with itself) in
    # cross-correlations, cosmocorr never does (see the next test)
    check_against_treecorr(StarCatalog.from_fits(cosmos_fits), Bins(0.01, 45.0, 8))


def test_rho_matches_treecorr_synthetic_weighted():
    s = synthetic_star_catalog(500, seed=3)
    w = np.random.default_rng(0).uniform(0.5, 2, len(s))
    s = StarCatalog(s.ra, s.dec, s.g1_star, s.g2_star, s.T_star, s.g1_model, s.g2_model, s.T_model, w)
    check_against_treecorr(s, Bins(0.5, 50.0, 6, "log"))


def test_zero_separation_pairs_are_excluded(cosmos_fits):
    """From 0 arcmin, auto statistics equal TreeCorr; cross statistics equal TreeCorr minus
    TreeCorr's zero-separation pairs (self pairs and the catalog's duplicated positions)."""
    stars = StarCatalog.from_fits(cosmos_fits)
    bins = Bins(0.0, 45.0, 8)
    res = rho_statistics(stars, bins)
    f = _independent_fields(stars)
    gg = treecorr.GGCorrelation(min_sep=0.0, max_sep=45.0, nbins=8, bin_type="Linear", sep_units="arcmin", brute=True, metric="Arc")
    gg.process(_tc(stars, f["de"]))
    np.testing.assert_array_equal(res["rho1"].npairs, gg.npairs)
    gg.process(_tc(stars, f["e"]), _tc(stars, f["de"]))
    # count coincident ordered pairs independently
    same = (stars.ra[:, None] == stars.ra[None, :]) & (stars.dec[:, None] == stars.dec[None, :])
    assert res["rho2"].npairs[0] == gg.npairs[0] - same.sum()
    np.testing.assert_array_equal(res["rho2"].npairs[1:], gg.npairs[1:])


def test_rho_json_and_shapes(tmp_path):
    s = synthetic_star_catalog(200, seed=1)
    res = rho_statistics(s, min_sep=0.0, max_sep=45.0, nbins=8, spacing="linear")
    assert list(res) == ["rho0", "rho1", "rho2", "rho3", "rho4", "rho5"]
    for name in res:
        assert isinstance(res[name].xip, np.ndarray) and res[name].xip.shape == (8,)
    p = tmp_path / "rho.json"
    res.to_json(p)
    d = json.loads(p.read_text())
    assert d["rho3"]["xip"][2] == pytest.approx(res["rho3"].xip[2])


def test_rho_requires_star_catalog():
    with pytest.raises(TypeError, match="stars"):
        rho_statistics(np.zeros(3), min_sep=0, max_sep=1, nbins=1, spacing="linear")
