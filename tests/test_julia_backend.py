"""The backend switch and the Julia bridge.

The always-run tests check the decision logic, the error a user sees, the packaging of the
Julia sources and the lint of the Julia module. The parity tests compare every Julia kernel
with the NumPy reference and skip (with the reason) where Julia is not installed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import cosmocorr
from cosmocorr import backends as backend
from cosmocorr.backends import julia_bridge as julia
from cosmocorr.backends import numpy_kernels as _kernels_numpy
from cosmocorr.sky.synthetic import synthetic_shear_catalog

ROOT = Path(__file__).resolve().parents[1]


def test_import_does_not_load_juliacall():
    code = "import sys, cosmocorr; cosmocorr.shear_shear; print('juliacall' in sys.modules, 'juliapkg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_auto_decision_never_imports_juliacall():
    code = ("import sys, cosmocorr; from cosmocorr import backends as backend; from cosmocorr.backends import julia_bridge as julia; "
            "r = backend.resolve_backend('auto'); print(r, julia.julia_ready(), 'juliacall' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    name, ready, imported = out.stdout.split()
    assert imported == "False"
    assert name == ("julia" if ready == "True" else "numpy")


needs_no_julia = pytest.mark.skipif(julia.julia_ready(), reason="Julia is installed here; this checks the error without it")


@needs_no_julia
def test_asking_for_julia_gives_one_clear_error(monkeypatch):
    with pytest.raises(julia.JuliaNotAvailableError, match=r"cosmocorr julia install"):
        cosmocorr.set_backend("julia")
    cat = synthetic_shear_catalog(20, seed=0)
    with pytest.raises(julia.JuliaNotAvailableError, match="Julia backend not available"):
        cosmocorr.shear_shear(cat, min_sep=1, max_sep=10, nbins=2, backend="julia")
    monkeypatch.setenv("COSMOCORR_BACKEND", "julia")
    with pytest.raises(julia.JuliaNotAvailableError):
        cosmocorr.shear_shear(cat, min_sep=1, max_sep=10, nbins=2)
    assert "juliacall" not in sys.modules


def test_backend_selection(monkeypatch):
    monkeypatch.setattr(backend, "_chosen", None)
    monkeypatch.delenv("COSMOCORR_BACKEND", raising=False)
    assert backend.get_backend() == "auto"
    assert backend.resolve_backend() == ("julia" if julia.julia_ready() else "numpy")
    monkeypatch.setenv("COSMOCORR_BACKEND", " NumPy ")
    assert backend.resolve_backend() == "numpy"
    assert backend.get_kernels() is _kernels_numpy
    monkeypatch.setenv("COSMOCORR_BACKEND", "cuda")
    with pytest.raises(ValueError, match="COSMOCORR_BACKEND"):
        backend.get_backend()
    monkeypatch.delenv("COSMOCORR_BACKEND")
    assert cosmocorr.set_backend("numpy") == "numpy"
    assert backend.get_backend() == "numpy"
    with pytest.raises(ValueError, match="backend"):
        cosmocorr.set_backend("fortran")
    with pytest.raises(TypeError, match="backend"):
        cosmocorr.set_backend(3)


def test_juliapkg_json_matches_project_toml():
    spec = json.loads((ROOT / "juliapkg.json").read_text())
    proj = (ROOT / "julia" / "Project.toml").read_text()
    assert spec["packages"]["CosmoCorr"]["path"] == "julia" and spec["packages"]["CosmoCorr"]["dev"] is True
    assert re.search(r'^uuid = "%s"' % spec["packages"]["CosmoCorr"]["uuid"], proj, re.M)
    known = {  # the General registry's UUIDs
        "OrdinaryDiffEq": "1dea7af3-3e70-54e6-95c3-0bf5283fa5ed",
        "ForwardDiff": "f6369f11-7733-5829-9624-2563aa707210",
        "Zygote": "e88e6eb3-aa80-5325-afca-941959d7151f",
        "SciMLSensitivity": "1ed8b502-d754-442c-8d5d-10ac956f44a1",
    }
    for name, uuid in known.items():
        assert spec["packages"][name]["uuid"] == uuid
        assert f'{name} = "{uuid}"' in proj
    major, minor = (int(x) for x in spec["julia"].split(".")[:2])
    assert (major, minor) >= (1, 10)


def test_build_ships_julia_sources_inside_the_package(tmp_path):
    pytest.importorskip("setuptools", reason="setuptools is needed to run the build step")
    out = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path)],
                         capture_output=True, text=True, timeout=120, cwd=ROOT)
    if out.returncode != 0:
        pytest.fail(out.stderr)
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    pkg = tmp_path / "cosmocorr"
    spec = json.loads((pkg / "juliapkg.json").read_text())
    jdir = pkg / spec["packages"]["CosmoCorr"]["path"]
    assert (jdir / "Project.toml").is_file()
    srcs = sorted(p.name for p in (jdir / "src").glob("*.jl"))
    assert srcs == sorted(p.name for p in (ROOT / "julia" / "src").glob("*.jl"))
    assert (pkg / "backends" / "julia_bridge.py").is_file()  # the bridge module is not shadowed


def test_fatou_lint_is_clean():
    exe = shutil.which("fatou") or str(Path(sys.executable).with_name("fatou"))
    if not os.path.exists(exe):
        pytest.skip("fatou is not installed")
    out = subprocess.run([exe, "lint", "--color", "never", "julia"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr


# ---------------------------------------------------------------- parity (Julia installed)
requires_julia = pytest.mark.skipif(not julia.julia_ready(),
                                    reason=f"Julia backend not available: {julia.reason()}; run `cosmocorr julia install`")


@pytest.mark.julia
@requires_julia
def test_pair_sums_parity():
    jk = julia.kernels()
    c1 = synthetic_shear_catalog(400, seed=1, weighted=True)
    c2 = synthetic_shear_catalog(300, seed=2, weighted=True)
    for auto, (a, b) in ((True, (c1, c1)), (False, (c1, c2))):
        for log, lo in ((False, 0.0), (True, 0.5)):
            args = (a.xyz, a.w, a.g, b.xyz, b.w, b.g, lo, 60.0, 7, log, auto)
            ref, got = _kernels_numpy.pair_sums(*args), jk.pair_sums(*args)
            for k in ref:
                np.testing.assert_allclose(got[k], ref[k], rtol=1e-10, atol=1e-14, err_msg=k)


@pytest.mark.julia
@requires_julia
def test_bin_index_parity(rng):
    r = np.concatenate([[0.0, 0.5, 60.0], rng.uniform(0, 70, 1000)])
    for log, lo in ((False, 0.0), (True, 0.5)):
        np.testing.assert_array_equal(julia.kernels().bin_index(r, lo, 60.0, 7, log),
                                      _kernels_numpy.bin_index(r, lo, 60.0, 7, log))


@pytest.mark.julia
@requires_julia
def test_fcm_iterate_parity(rng):
    from cosmocorr.clustering import kmeans_plus_plus
    from cosmocorr.sky.geometry import unit_vectors
    ra, dec = rng.uniform(149, 151, 300), rng.uniform(1, 3, 300)
    init = kmeans_plus_plus(ra, dec, 12, seed=0)
    args = (unit_vectors(ra, dec), unit_vectors(init[:, 0], init[:, 1]), 2.0, 1e-8, 200, None)
    ref, got = _kernels_numpy.fcm_iterate(*args), julia.kernels().fcm_iterate(*args)
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got[1], ref[1], rtol=1e-9, atol=1e-12)
    assert got[2] == ref[2]


@pytest.mark.julia
@requires_julia
@pytest.mark.parametrize("approach", ["none", "c"])
def test_xi_plus_gradient_parity(approach):
    """Julia (Tsit5 + ForwardDiff, and Zygote) against the NumPy forward sensitivities."""
    from cosmocorr import xi_plus_gradient

    kw = dict(n_galaxies=60, approach=approach, n_clusters=20, seed=2, alpha=0.2)
    ref = xi_plus_gradient(1.1, backend="numpy", **kw)
    for ad in ("forward", "reverse"):
        got = xi_plus_gradient(1.1, backend="julia", ad=ad, state=ref.state, **kw)
        np.testing.assert_allclose(got.xi, ref.xi, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(got.dxi_dG, ref.dxi_dG, rtol=1e-4, atol=1e-10)

