"""The README's tour runs verbatim: its python blocks, in order, in a fresh directory.

The data comes from the one documented setting, COSMOCORR_SHARED_DATA (tests/conftest.py), and
the test skips when the COSMOS-Web catalog is not there. The results are checked against
TreeCorr / astropy, so that a tour that runs but computes nonsense fails too.
"""
import os
import re

import numpy as np
import pytest

from conftest import COSMOS_FITS, DATA, ROOT

#: the README sections whose python blocks make up the tour (the surrogate and differentiable
#: sections run minutes-long samplers and are exercised by their own tests); the IA block (a
#: training set and a surrogate fit, ~25 s) runs in its own test, marked slow
TOUR_SECTIONS = ("API tour", "Catalogs in, results out", "Soft clustering and clustering uncertainty")
IA_SECTION = ("Galaxy intrinsic alignment",)


def tour_blocks(text, sections=TOUR_SECTIONS):
    blocks = []
    for section in re.split(r"\n(?=## )", text):
        title = section.split("\n", 1)[0].lstrip("# ").strip()
        if title.startswith(sections):
            blocks += [(title, b) for b in re.findall(r"```python\n(.*?)```", section, flags=re.S)]
    return blocks


def test_tour_sections_exist():
    blocks = tour_blocks((ROOT / "README.md").read_text(), TOUR_SECTIONS + IA_SECTION)
    titles = {t for t, _ in blocks}
    for s in TOUR_SECTIONS + IA_SECTION:
        assert any(t.startswith(s) for t in titles), f"README has no python block in section {s!r}"


def test_readme_tour_runs_verbatim(tmp_path, monkeypatch):
    if not COSMOS_FITS.exists():
        pytest.skip(f"reference data not found at {COSMOS_FITS} (set COSMOCORR_SHARED_DATA)")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import treecorr
    from astropy.io import fits

    monkeypatch.setenv("COSMOCORR_SHARED_DATA", str(DATA))
    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "readme_tour"}
    for title, code in tour_blocks((ROOT / "README.md").read_text()):
        exec(compile(code, f"README.md [{title}]", "exec"), ns)
        plt.close("all")
    # the tour computed the real thing: xi+ of delta e on COSMOS-Web equals TreeCorr's brute force
    with fits.open(COSMOS_FITS) as h:
        t = h[1].data
        tc = treecorr.Catalog(ra=t["ra"], dec=t["dec"], g1=t["g1_vignet"] - t["g1_psfex"],
                              g2=t["g2_vignet"] - t["g2_psfex"], ra_units="deg", dec_units="deg")
    ref = treecorr.GGCorrelation(min_sep=0.0, max_sep=45.0, nbins=8, bin_type="Linear", sep_units="arcmin",
                                 brute=True, metric="Arc")
    ref.process(tc)
    # (later blocks reuse the name gg; the tour's exact result is the one it wrote and read back)
    np.testing.assert_allclose(ns["gg_back"].xip, ref.xip, rtol=1e-6, atol=1e-11)
    np.testing.assert_allclose(ns["cat_rad"].ra, ns["cat_q"].ra, rtol=1e-14)
    assert os.path.exists(ns["out"] / "gg.fits") and not os.listdir(tmp_path)  # nothing left in the cwd


@pytest.mark.slow
def test_readme_ia_block_runs_verbatim(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    from cosmocorr import ia

    monkeypatch.chdir(tmp_path)
    ns = {"__name__": "readme_tour"}
    for title, code in tour_blocks((ROOT / "README.md").read_text(), IA_SECTION):
        exec(compile(code, f"README.md [{title}]", "exec"), ns)
    # the block's omega is the estimator's on the same galaxies, and hod is defined
    np.testing.assert_array_equal(ns["c"].omega, ia.ia_correlations(ns["positions"], ns["orientations"]).omega)
    assert ns["hod"] is ia.HOD_SETS["logM*>=10.0"] and ns["ts"].hod == ns["hod"]
