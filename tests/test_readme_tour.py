"""Every ``python`` block of the README runs verbatim, in order, in a fresh directory; so do the
blocks of the guides in docs/ that continue the tour.

The data comes from the one documented setting, COSMOCORR_SHARED_DATA (tests/conftest.py), and
the tests skip when the COSMOS-Web catalog is not there. Results are checked against TreeCorr /
astropy, so that a tour that runs but computes nonsense fails too.
"""
import os
import re

import numpy as np
import pytest

from conftest import COSMOS_FITS, DATA, IAEMU_DIR, ROOT

#: guides whose python blocks continue the README's tour (run after it, each in a copy of its
#: namespace); the slow ones run a sampler, a training set or the survey-scale clustering
GUIDES = {"conventions_and_errors.md": False, "catalogs_and_results.md": False, "clustering_uncertainty.md": False,
          "differentiable_estimators.md": True, "surrogates.md": True, "intrinsic_alignment.md": True,
          "sparse_fcm_and_dask.md": True}
#: a block that starts with this comment needs infrastructure the tests cannot have (a SLURM cluster)
NOT_RUN = "not run by the tests"


def python_blocks(path):
    """The ``python`` fenced blocks of a Markdown file, in order."""
    return re.findall(r"^```python\n(.*?)^```", path.read_text(), flags=re.S | re.M)


def _prepare(tmp_path, monkeypatch):
    if not COSMOS_FITS.exists():
        pytest.skip(f"reference data not found at {COSMOS_FITS} (set COSMOCORR_SHARED_DATA)")
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("COSMOCORR_SHARED_DATA", str(DATA))
    monkeypatch.chdir(tmp_path)


def _run(blocks, ns, where):
    import matplotlib.pyplot as plt

    for i, code in enumerate(blocks):
        if NOT_RUN in code.split("\n", 1)[0]:
            continue
        main = "__main__" in code  # a block written as a script (a Dask client under the __main__ guard)
        ns["__name__"] = "__main__" if main else "readme_tour"
        exec(compile(code, f"{where} [python block {i + 1}]", "exec"), ns)
        plt.close("all")
    return ns


TOUR = re.compile(r"<!-- tour-start -->(.*?)<!-- tour-end -->", flags=re.S)


def _tour_text():
    text = (ROOT / "README.md").read_text()
    m = TOUR.search(text)
    assert m, "README.md has no <!-- tour-start --> ... <!-- tour-end --> section"
    return m.group(1)


def _blocks_of(text):
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def _readme_namespace():
    """The tour's blocks, in order, in one namespace (the guides continue it)."""
    return _run(_blocks_of(_tour_text()), {}, "README.md tour")


def _standalone_blocks():
    """The README's other python blocks (the sections after the tour): each self-contained."""
    text = (ROOT / "README.md").read_text()
    return _blocks_of(TOUR.sub("", text))


def test_readme_has_python_blocks_and_guides_exist():
    assert len(python_blocks(ROOT / "README.md")) >= 1
    for page in GUIDES:
        assert python_blocks(ROOT / "docs" / page), f"docs/{page} has no python block"


def test_readme_runs_verbatim(tmp_path, monkeypatch):
    _prepare(tmp_path, monkeypatch)
    import treecorr
    from astropy.io import fits

    ns = _readme_namespace()
    # the tour computed the real thing: xi+ of delta e on COSMOS-Web equals TreeCorr's brute force
    with fits.open(COSMOS_FITS) as h:
        t = h[1].data
        tc = treecorr.Catalog(ra=t["ra"], dec=t["dec"], g1=t["g1_vignet"] - t["g1_psfex"],
                              g2=t["g2_vignet"] - t["g2_psfex"], ra_units="deg", dec_units="deg")
    ref = treecorr.GGCorrelation(min_sep=0.0, max_sep=45.0, nbins=8, bin_type="Linear", sep_units="arcmin",
                                 brute=True, metric="Arc")
    ref.process(tc)
    np.testing.assert_allclose(ns["gg"].xip, ref.xip, rtol=1e-6, atol=1e-11)
    np.testing.assert_allclose(ns["gg"].varxip, ref.varxip, rtol=1e-6)
    assert np.all(np.isfinite(ns["u"].ratio("rho1")))
    assert not os.listdir(tmp_path)  # nothing written to the working directory


def test_readme_sections_run_on_their_own(tmp_path, monkeypatch):
    """Every README python block outside the tour runs verbatim in a fresh namespace (they use
    built-in synthetic data only, so they need no reference data)."""
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    blocks = _standalone_blocks()
    assert blocks, "README.md has no python block outside the tour"
    for i, code in enumerate(blocks):
        _run([code], {}, f"README.md section block {i + 1}")
    assert not os.listdir(tmp_path)  # nothing written to the working directory


@pytest.mark.parametrize("page", [p for p, slow in GUIDES.items() if not slow])
def test_guide_blocks_run(tmp_path, monkeypatch, page):
    _prepare(tmp_path, monkeypatch)
    ns = _run(python_blocks(ROOT / "docs" / page), _readme_namespace(), f"docs/{page}")
    if page == "catalogs_and_results.md":
        np.testing.assert_allclose(ns["gg_back"].xip, ns["gg"].xip, rtol=0, atol=0)  # written and read back
        np.testing.assert_allclose(ns["cat_rad"].ra, ns["cat_q"].ra, rtol=1e-14)
        assert os.path.exists(ns["out"] / "gg.fits")
    if page == "conventions_and_errors.md":
        # the jackknife variances are the diagonal of the covariance
        np.testing.assert_allclose(np.diag(ns["gg_jk"].cov)[:8], ns["gg_jk"].varxip, rtol=1e-12)


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p, slow in GUIDES.items() if slow])
def test_slow_guide_blocks_run(tmp_path, monkeypatch, page):
    _prepare(tmp_path, monkeypatch)
    if page == "surrogates.md" and not (IAEMU_DIR / "iaemu.pt").exists():
        pytest.skip(f"IAEmu checkpoint not found in {IAEMU_DIR}")
    ns = _run(python_blocks(ROOT / "docs" / page), _readme_namespace(), f"docs/{page}")
    if page == "intrinsic_alignment.md":
        from cosmocorr import ia

        np.testing.assert_array_equal(ns["c"].omega, ia.ia_correlations(ns["positions"], ns["orientations"]).omega)
    if page == "differentiable_estimators.md":
        assert abs(ns["G"] - 1.3) < 1e-6  # the inverse problem recovers the G that made the data
    if page == "sparse_fcm_and_dask.md":
        np.testing.assert_allclose(ns["xi"].xip, ns["gg"].xip, rtol=1e-12, atol=1e-18)  # Dask = local
