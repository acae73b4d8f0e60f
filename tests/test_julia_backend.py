"""The backend switch, the Julia bridge, its packaging and discovery, and the self-test stamp.

The always-run tests check the decision logic ("auto" picks Julia only with a matching, passing
self-test stamp), the error a user sees, the stamp logic (stamps and juliapkg state written by
hand in tmp dirs), how juliapkg discovers CosmoCorr in checkout, editable and installed layouts
(``juliapkg.deps.find_requirements()`` runs without Julia), that ``python -m build`` ships the
Julia sources, and the lint/format of the Julia module. The parity tests compare every Julia
kernel with the NumPy reference and skip (with the reason) where Julia is not installed.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import cosmocorr
from cosmocorr import backends as backend
from cosmocorr.backends import julia_bridge as julia
from cosmocorr.backends import numpy_kernels as _kernels_numpy
from cosmocorr.sky.synthetic import synthetic_shear_catalog

ROOT = Path(__file__).resolve().parents[1]
PROJECT_UUID = re.search(r'^uuid = "([^"]+)"', (ROOT / "julia" / "Project.toml").read_text(), re.M).group(1)


def test_import_does_not_load_juliacall():
    code = "import sys, cosmocorr; cosmocorr.shear_shear; print('juliacall' in sys.modules, 'juliapkg' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_auto_decision_never_imports_juliacall():
    code = ("import sys, cosmocorr; from cosmocorr import backends as backend; "
            "from cosmocorr.backends import julia_bridge as julia; "
            "r = backend.resolve_backend('auto'); print(r, julia.auto_ready(), 'juliacall' in sys.modules)")
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
        cosmocorr.shear_shear(cat, min_sep=1, max_sep=10, nbins=2, spacing="linear", backend="julia")
    monkeypatch.setenv("COSMOCORR_BACKEND", "julia")
    with pytest.raises(julia.JuliaNotAvailableError):
        cosmocorr.shear_shear(cat, min_sep=1, max_sep=10, nbins=2, spacing="linear")
    assert "juliacall" not in sys.modules


def test_backend_selection(monkeypatch):
    monkeypatch.setattr(backend, "_chosen", None)
    monkeypatch.delenv("COSMOCORR_BACKEND", raising=False)
    assert backend.get_backend() == "auto"
    assert backend.resolve_backend() == ("julia" if julia.auto_ready() else "numpy")
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


# ---------------------------------------------------------------- juliapkg.json files
def _read(path):
    return json.loads(Path(path).read_text())


def test_juliapkg_files_agree_with_project_toml():
    """The top-level juliapkg.json names the registered deps (General registry UUIDs, the
    Project.toml compat) but not CosmoCorr; the two anchors name CosmoCorr at ../julia."""
    top = _read(ROOT / "juliapkg.json")
    proj = (ROOT / "julia" / "Project.toml").read_text()
    assert "CosmoCorr" not in top["packages"]
    known = {  # the General registry's UUIDs
        "OrdinaryDiffEq": "1dea7af3-3e70-54e6-95c3-0bf5283fa5ed",
        "ForwardDiff": "f6369f11-7733-5829-9624-2563aa707210",
        "Zygote": "e88e6eb3-aa80-5325-afca-941959d7151f",
        "SciMLSensitivity": "1ed8b502-d754-442c-8d5d-10ac956f44a1",
    }
    compat = dict(re.findall(r'^(\w+) = "([^"]+)"$', proj.split("[compat]")[1].split("[extras]")[0], re.M))
    for name, uuid in known.items():
        assert top["packages"][name]["uuid"] == uuid
        assert f'{name} = "{uuid}"' in proj
        assert top["packages"][name]["version"] == compat[name], name
    for anchor in ("cosmocorr/juliapkg.json", "cosmocorr_julia/juliapkg.json"):
        spec = _read(ROOT / anchor)
        entry = spec["packages"]["CosmoCorr"]
        assert entry["uuid"] == PROJECT_UUID and entry["dev"] is True
        assert (ROOT / anchor).parent.joinpath(entry["path"]).resolve() == (ROOT / "julia").resolve()
        assert spec["julia"] == top["julia"] == compat["julia"]
    major, minor = (int(x) for x in top["julia"].split(".")[:2])
    assert (major, minor) >= (1, 10)


# ---------------------------------------------------------------- build and discovery
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """sdist, then the wheel from the sdist (`python -m build`), installed into a target dir."""
    pytest.importorskip("build", reason="the 'build' package (test extra) runs `python -m build`")
    out = tmp_path_factory.mktemp("dist")
    # with the test extras (setuptools, wheel) installed, build without an isolated environment:
    # offline and ~7 s; otherwise let `build` fetch them from PyPI into one
    isolation = ["--no-isolation"] if _build_backend_installed() else []
    run = subprocess.run([sys.executable, "-m", "build", *isolation, "--outdir", str(out), str(ROOT)],
                         capture_output=True, text=True, timeout=300)
    if run.returncode != 0 and re.search(r"(?i)connection|network|temporary failure|could not find a version",
                                         run.stdout + run.stderr):
        pytest.skip("`python -m build` needs PyPI for its isolated build environment, unreachable here")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    wheel = next(out.glob("*.whl"))
    sdist = next(out.glob("*.tar.gz"))
    target = tmp_path_factory.mktemp("site")
    inst = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--target",
                           str(target), str(wheel)], capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stderr[-3000:]
    return SimpleNamespace(wheel=wheel, sdist=sdist, target=target)


def _build_backend_installed():
    try:
        import setuptools
        import wheel  # noqa: F401 - bdist_wheel for setuptools < 70.1
    except ImportError:
        return False
    return int(setuptools.__version__.split(".")[0]) >= 64


def test_build_ships_julia_sources(built):
    import tarfile
    import zipfile

    with tarfile.open(built.sdist) as tf:
        names = {n.split("/", 1)[1] for n in tf.getnames() if "/" in n}
    for required in ("juliapkg.json", "cosmocorr/juliapkg.json", "cosmocorr_julia/juliapkg.json",
                     "julia/Project.toml", "julia/src/CosmoCorr.jl", "julia/test/runtests.jl", "setup.py"):
        assert required in names, required
    with zipfile.ZipFile(built.wheel) as zf:
        wnames = set(zf.namelist())
        spec = json.loads(zf.read("cosmocorr_julia/juliapkg.json"))
    assert "cosmocorr/juliapkg.json" not in wnames  # the checkout's anchor points at ../julia
    entry = spec["packages"]["CosmoCorr"]
    assert entry["uuid"] == PROJECT_UUID and entry["dev"] is True
    jdir = f"cosmocorr_julia/{entry['path']}"
    srcs = sorted(n.rsplit("/", 1)[1] for n in wnames if n.startswith(f"{jdir}/src/") and n.endswith(".jl"))
    assert srcs == sorted(p.name for p in (ROOT / "julia" / "src").glob("*.jl"))
    assert f"{jdir}/Project.toml" in wnames
    assert not any(n.startswith(f"{jdir}/test/") for n in wnames)
    top = _read(ROOT / "juliapkg.json")
    assert {k: v for k, v in spec["packages"].items() if k != "CosmoCorr"} == top["packages"]
    # installed copy: the sources sit where its juliapkg.json points
    installed = built.target / "cosmocorr_julia"
    assert (installed / entry["path"] / "src" / "CosmoCorr.jl").read_text() == \
        (ROOT / "julia" / "src" / "CosmoCorr.jl").read_text()


DISCOVER = textwrap.dedent("""
    import json, os, sys, types
    from juliapkg import deps
    cfg = json.loads(sys.argv[1])
    # drop any real editable-install finder; add a simulated one when asked
    sys.meta_path[:] = [f for f in sys.meta_path if not getattr(f, "__module__", "").startswith("__editable___")]
    if cfg.get("editable"):
        name = "__editable___cosmocorr_0_0_0_finder"
        mod = types.ModuleType(name)
        mod.MAPPING = {"cosmocorr": cfg["editable"]}
        sys.modules[name] = mod
        finder = type("_EditableFinder", (), {"__module__": name, "find_spec": classmethod(lambda *a, **k: None)})
        sys.meta_path.append(finder)
    # the rest of sys.path without the repository and without any real cosmocorr install
    # (the test venv's own), so that each layout below is the only one present
    def foreign(p):
        p = os.path.abspath(p or ".")
        return p == os.path.abspath(cfg["root"]) or any(
            os.path.isfile(os.path.join(p, sub, "juliapkg.json")) for sub in ("cosmocorr", "cosmocorr_julia"))
    sys.path[:] = cfg["front"] + [p for p in sys.path[1:] if not foreign(p)]
    try:
        _, specs = deps.find_requirements()
        print(json.dumps([s.path for s in specs if s.name == "CosmoCorr"]))
    except Exception as exc:
        print(json.dumps({"error": str(exc)}))
""")


def _discover(cwd, front=(), editable=None):
    """CosmoCorr paths juliapkg finds in a fresh Python whose sys.path starts with ``front``
    ("" is the working directory, as for `python -c`), optionally with an editable finder."""
    cfg = {"front": list(front), "editable": editable, "root": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", DISCOVER, json.dumps(cfg)], capture_output=True, text=True,
                         cwd=cwd, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def _norm(p):
    return os.path.normcase(os.path.normpath(str(p)))


def _fake_checkout(parent, name):
    """A checkout's juliapkg.json files and Julia project folder, in parent/name."""
    root = Path(parent) / name
    for rel in ("juliapkg.json", "cosmocorr/juliapkg.json", "cosmocorr_julia/juliapkg.json", "julia/Project.toml"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, root / rel)
    return root


def test_discovery_in_checkout_and_editable(tmp_path):
    # in the checkout: Python started in the repository root (sys.path[0] == "")
    assert _discover(ROOT, front=[""]) == [_norm(ROOT / "julia")]
    # editable install run from elsewhere: found through the editable finder's package folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _discover(elsewhere, front=[""], editable=str(ROOT / "cosmocorr")) == [_norm(ROOT / "julia")]
    # a checkout moved to a folder of another name resolves the same way (no folder-name test)
    moved = _fake_checkout(tmp_path, "renamed-copy")
    assert _discover(moved, front=[""]) == [_norm(moved / "julia")]


def test_discovery_installed(built, tmp_path):
    site = str(built.target)
    installed = _norm(built.target / "cosmocorr_julia" / "CosmoCorr")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert _discover(elsewhere, front=["", site]) == [installed]
    # started in the repository root: the checkout comes first on sys.path, as for `import`
    assert _discover(ROOT, front=["", site]) == [_norm(ROOT / "julia")]
    # a checkout in a sub-folder of the working directory, whatever its name: only the
    # installed copy names a CosmoCorr path (the checkout's top-level juliapkg.json does not)
    projects = tmp_path / "projects"
    for name in ("cosmocorr", "cosmocorr-dev"):
        _fake_checkout(projects, name)
    assert _discover(projects, front=["", site]) == [installed]


# ---------------------------------------------------------------- state and stamp (no Julia)
def _fake_env(tmp_path, monkeypatch, source=None):
    """A resolved juliapkg state written by hand: meta.json, an 'executable', a Manifest and
    CosmoCorr developed from ``source`` (a copy of julia/ by default)."""
    from juliapkg import deps
    from juliapkg.state import STATE

    project = tmp_path / "julia_env"
    prefix = project / "pyjuliapkg"
    prefix.mkdir(parents=True)
    monkeypatch.setitem(STATE, "project", str(project))
    monkeypatch.setitem(STATE, "prefix", str(prefix))
    monkeypatch.setitem(STATE, "meta", str(prefix / "meta.json"))
    monkeypatch.setitem(STATE, "deps", str(prefix / "juliapkg.json"))
    monkeypatch.setitem(STATE, "override_executable", None)
    monkeypatch.setitem(STATE, "dev", False)
    monkeypatch.setitem(STATE, "offline", False)
    exe = tmp_path / "bin" / "julia"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    (project / "Manifest.toml").write_text('julia_version = "1.11.5"\nmanifest_format = "2.0"\n')
    if source is None:
        source = tmp_path / "src_copy" / "CosmoCorr"
        shutil.copytree(ROOT / "julia", source, ignore=shutil.ignore_patterns("test"))
    meta = {"meta_version": deps.META_VERSION, "dev": False, "version": "1.11.5", "executable": str(exe),
            "deps_files": {fn: {"timestamp": os.path.getmtime(fn), "hash_sha256": julia._sha256(fn)}
                           for fn in deps.deps_files()},
            "pkgs": [{"name": "CosmoCorr", "uuid": PROJECT_UUID, "dev": True, "path": str(source)}],
            "offline": False, "override_executable": None}
    (prefix / "meta.json").write_text(json.dumps(meta))
    julia._reset_caches()
    monkeypatch.setattr(backend, "_chosen", None)
    monkeypatch.delenv("COSMOCORR_BACKEND", raising=False)
    return SimpleNamespace(project=project, prefix=prefix, source=Path(source), meta=meta)


@pytest.fixture
def fake_env(tmp_path, monkeypatch):
    env = _fake_env(tmp_path, monkeypatch)
    yield env
    julia._reset_caches()


def _stamp(env, **changes):
    functions = {name: {"passed": True, "max_abs_diff": 1e-15} for name in julia.SELFTEST_FUNCTIONS}
    stamp = {"stamp_version": julia.STAMP_VERSION, **env, "passed": True, "functions": functions,
             "created": "2026-01-01T00:00:00+00:00"}
    stamp.update(changes)
    return stamp


def test_check_stamp_logic(tmp_path):
    env = {"cosmocorr_version": "0.1.0", "julia_version": "1.11.5", "julia_executable": "/x/julia",
           "manifest_sha256": "a" * 64, "cosmocorr_jl_sha256": "b" * 64}
    path = tmp_path / "stamp.json"
    ok, why = julia.check_stamp(path, env)
    assert not ok and "no self-test stamp" in why and "cosmocorr julia selftest" in why
    path.write_text("{not json")
    assert not julia.check_stamp(path, env)[0]
    path.write_text(json.dumps(_stamp(env)))
    assert julia.check_stamp(path, env) == (True, "self-test passed (2026-01-01T00:00:00+00:00)")
    for key, other in (("cosmocorr_version", "0.0.9"), ("julia_version", "1.10.0"), ("manifest_sha256", "c" * 64),
                       ("cosmocorr_jl_sha256", "d" * 64), ("julia_executable", "/y/julia")):
        path.write_text(json.dumps(_stamp(env, **{key: other})))
        ok, why = julia.check_stamp(path, env)
        assert not ok and key.replace("_", " ") in why and other in why
    bad = _stamp(env)
    bad["functions"]["xi_plus_gradient_c_reverse"] = {"passed": False, "max_abs_diff": 0.3}
    bad["passed"] = False
    path.write_text(json.dumps(bad))
    ok, why = julia.check_stamp(path, env)
    assert not ok and "xi_plus_gradient_c_reverse" in why and "0.3" in why
    partial = _stamp(env)
    del partial["functions"]["bin_index"]
    path.write_text(json.dumps(partial))
    ok, why = julia.check_stamp(path, env)
    assert not ok and "bin_index" in why
    path.write_text(json.dumps(_stamp(env, passed=False)))
    assert not julia.check_stamp(path, env)[0]
    path.write_text(json.dumps(_stamp(env, stamp_version=0)))
    assert not julia.check_stamp(path, env)[0]
    # an environment juliapkg cannot describe never verifies
    path.write_text(json.dumps(_stamp(env)))
    assert not julia.check_stamp(path, {**env, "manifest_sha256": None})[0]


def test_auto_needs_a_matching_passing_stamp(fake_env):
    assert julia.julia_ready(), julia.reason()
    assert "CosmoCorr from" in julia.reason()
    # resolved but never self-tested: "auto" stays on NumPy and says why
    assert not julia.auto_ready()
    assert backend.resolve_backend("auto") == "numpy"
    info = julia.status()
    assert info["julia_ready"] and not info["verified"] and info["auto_resolves_to"] == "numpy"
    assert "no self-test stamp" in info["auto_reason"] and info["stamp"] == str(fake_env.prefix / julia.STAMP_NAME)
    # a passing stamp for exactly this environment: "auto" picks Julia (without importing juliacall)
    env = julia.current_environment()
    assert env["julia_version"] == "1.11.5" and env["cosmocorr_version"] == cosmocorr.__version__
    julia.stamp_path().write_text(json.dumps(_stamp(env)))
    julia._reset_caches()
    assert julia.auto_ready() and backend.resolve_backend("auto") == "julia"
    assert backend.resolve_backend("numpy") == "numpy"
    assert "juliacall" not in sys.modules
    # editing the Julia sources invalidates the stamp
    (fake_env.source / "src" / "pairs.jl").write_text("# edited\n")
    julia._reset_caches()
    assert not julia.auto_ready() and backend.resolve_backend("auto") == "numpy"
    assert "cosmocorr jl sha256" in julia.auto_reason()
    # so does a new Manifest
    julia.stamp_path().write_text(json.dumps(_stamp(julia.current_environment())))
    julia._reset_caches()
    assert julia.auto_ready()
    (fake_env.project / "Manifest.toml").write_text('julia_version = "1.11.5"\n# re-resolved\n')
    julia._reset_caches()
    assert not julia.auto_ready() and "manifest sha256" in julia.auto_reason()


def test_check_state_compares_deps_files_as_juliapkg(fake_env, tmp_path, monkeypatch):
    assert julia.julia_ready()
    # a new juliapkg.json on sys.path since the resolve
    extra = tmp_path / "newpath" / "otherpkg"
    extra.mkdir(parents=True)
    (extra / "juliapkg.json").write_text(json.dumps({"packages": {}}))
    monkeypatch.syspath_prepend(str(extra.parent))
    julia._reset_caches()
    assert not julia.julia_ready() and "found since the last resolve" in julia.reason()
    assert backend.resolve_backend("auto") == "numpy"


def test_check_state_failures(tmp_path, monkeypatch):
    env = _fake_env(tmp_path, monkeypatch)
    meta = dict(env.meta)
    julia._reset_caches()
    assert julia.julia_ready()

    def with_meta(**changes):
        (env.prefix / "meta.json").write_text(json.dumps({**meta, **changes}))
        julia._reset_caches()
        return julia.julia_ready(), julia.reason()

    assert with_meta(executable=str(tmp_path / "nope"))[1].startswith("the Julia executable")
    ok, why = with_meta(pkgs=[])
    assert not ok and "does not include CosmoCorr" in why
    ok, why = with_meta(deps_files={**meta["deps_files"], str(tmp_path / "gone.json"): {"timestamp": 0}})
    assert not ok and "no longer found" in why
    ok, why = with_meta(override_executable="/opt/julia")
    assert not ok and "PYTHON_JULIAPKG_EXE" in why
    # CosmoCorr developed from a folder of any name is fine
    other = tmp_path / "some" / "unrelated-name"
    shutil.copytree(env.source, other)
    assert with_meta(pkgs=[{"name": "CosmoCorr", "uuid": PROJECT_UUID, "dev": True, "path": str(other)}])[0]
    (env.project / "Manifest.toml").unlink()
    ok, why = with_meta()
    assert not ok and "Manifest" in why
    (env.prefix / "meta.json").unlink()
    julia._reset_caches()
    assert not julia.julia_ready() and "has not resolved" in julia.reason()
    julia._reset_caches()


def test_selftest_writes_the_stamp_auto_reads(fake_env, monkeypatch):
    """The self-test plumbing without Julia: the NumPy kernels stand in for the Julia ones; a
    deviating kernel fails the stamp and keeps "auto" on NumPy."""
    ns = SimpleNamespace(pair_sums=_kernels_numpy.pair_sums, bin_index=_kernels_numpy.bin_index,
                         fcm_iterate=_kernels_numpy.fcm_iterate)
    monkeypatch.setattr(julia, "kernels", lambda: ns)
    monkeypatch.setattr(julia, "load", lambda: SimpleNamespace(
        seval=lambda code: {"string(VERSION)": "1.11.5", "Threads.nthreads()": 4}[code]))
    grav = [(name, lambda k: ({"xi": np.ones(3)}, {"xi": np.ones(3) + 1e-12}, 1e-6, 0.0))
            for name in julia.SELFTEST_FUNCTIONS if name.startswith("xi_plus")]
    lines = []
    stamp = julia.selftest(grav, echo=lines.append)
    assert stamp["passed"], stamp["functions"]
    assert set(stamp["functions"]) == set(julia.SELFTEST_FUNCTIONS)
    assert len(lines) == len(julia.SELFTEST_FUNCTIONS) and all(line.strip().startswith("ok") for line in lines)
    assert json.loads(julia.stamp_path().read_text()) == stamp
    assert stamp["julia_threads"] == 4 and stamp["julia_version"] == "1.11.5"
    assert julia.auto_ready() and backend.resolve_backend("auto") == "julia"
    # a kernel off by more than its tolerance
    ns.pair_sums = lambda *a, **k: {key: v * (1 + 1e-6) for key, v in _kernels_numpy.pair_sums(*a, **k).items()}
    stamp = julia.selftest(grav, echo=None)
    assert not stamp["passed"] and not stamp["functions"]["pair_sums_auto"]["passed"]
    assert stamp["functions"]["bin_index"]["passed"]
    assert not julia.auto_ready() and backend.resolve_backend("auto") == "numpy"
    assert "pair_sums_auto" in julia.status()["auto_reason"]
    # a case that raises is a failure, not a crash
    stamp = julia.selftest([(grav[0][0], lambda k: 1 / 0)] + grav[1:], echo=None)
    assert "ZeroDivisionError" in stamp["functions"][grav[0][0]]["error"]


def test_compare_handles_nan_and_shapes():
    ok = julia._compare({"a": [1.0, np.nan]}, {"a": [1.0 + 1e-12, np.nan]}, 1e-10, 0.0)
    assert ok["passed"] and ok["max_abs_diff"] < 1e-11
    assert not julia._compare({"a": [1.0, 2.0]}, {"a": [1.0, np.nan]}, 1e-10, 0.0)["passed"]
    assert not julia._compare({"a": [1.0, 2.0]}, {"a": [1.0]}, 1e-10, 0.0)["passed"]
    assert not julia._compare({"a": [1.0]}, {"a": [1.1]}, 1e-3, 1e-3)["passed"]


# ---------------------------------------------------------------- Julia lint
def _fatou():
    exe = shutil.which("fatou") or str(Path(sys.executable).with_name("fatou"))
    if not os.path.exists(exe):
        pytest.skip("fatou is not installed")
    return exe


@pytest.mark.parametrize("command", [["lint", "--color", "never"], ["format", "--check"]])
def test_fatou_is_clean(command):
    out = subprocess.run([_fatou(), *command, "julia"], capture_output=True, text=True, cwd=ROOT, timeout=60)
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
            for shear in (True, False):
                ga, gb = (a.g, b.g) if shear else (None, None)
                args = (a.xyz, a.w, ga, b.xyz, b.w, gb, lo, 60.0, 7, log, auto)
                ref, got = _kernels_numpy.pair_sums(*args), jk.pair_sums(*args)
                assert set(got) == set(ref)
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
    """Julia (Tsit5 + ForwardDiff, and Zygote) against the NumPy forward sensitivities, at the
    default alpha (1 / arcmin), where a naive sigmoid would give NaN derivatives."""
    from cosmocorr import xi_plus_gradient

    kw = dict(n_galaxies=60, approach=approach, n_clusters=20, seed=2)
    ref = xi_plus_gradient(1.1, backend="numpy", **kw)
    assert np.all(np.isfinite(ref.dxi_dG))
    for ad in ("forward", "reverse"):
        got = xi_plus_gradient(1.1, backend="julia", ad=ad, state=ref.state, **kw)
        np.testing.assert_allclose(got.xi, ref.xi, rtol=1e-6, atol=1e-12)
        np.testing.assert_allclose(got.dxi_dG, ref.dxi_dG, rtol=1e-4, atol=1e-10)


def test_bridge_converts_julia_results_by_field_name(monkeypatch):
    """The bridge's conversions, with a stand-in for the Julia module: PythonCall hands a Julia
    NamedTuple over as an AnyValue with attribute access only (no keys()/values()), and 1-based
    bin indices with 0 for "no bin"."""
    class NamedTupleValue:  # attributes only, like juliacall.AnyValue wrapping a NamedTuple
        def __init__(self, **fields):
            self.__dict__.update(fields)

    calls = {}

    def pair_sums(xyz1, w1, g1, xyz2, w2, g2, lo, hi, nbins, log, auto):
        calls["pair_sums"] = (g1 is None, type(lo), type(nbins), type(log))
        ref = _kernels_numpy.pair_sums(xyz1, w1, g1, xyz2, w2, g2, lo, hi, nbins, log, auto)
        return NamedTupleValue(**{k: list(v) for k, v in ref.items()})

    def fcm_iterate(xyz, cxyz, m, tol, max_iter, weights):
        c, U, n_iter, hist, conv = _kernels_numpy.fcm_iterate(xyz, cxyz, m, tol, max_iter, weights)
        return NamedTupleValue(centers=c, membership=U, n_iter=n_iter, objective=hist, converged=conv)

    fake = SimpleNamespace(
        pair_sums=pair_sums, fcm_iterate=fcm_iterate,
        bin_index=lambda r, lo, hi, nbins, log: list(_kernels_numpy.bin_index(r, lo, hi, nbins, log) + 1))
    monkeypatch.setattr(julia, "load", lambda: SimpleNamespace(CosmoCorr=fake))
    jk = julia.kernels()
    c = synthetic_shear_catalog(80, seed=5, weighted=True)
    for g in (c.g, None):
        got = jk.pair_sums(c.xyz, c.w, g, c.xyz, c.w, g, 0.0, 60.0, 4, False, True)
        ref = _kernels_numpy.pair_sums(c.xyz, c.w, g, c.xyz, c.w, g, 0.0, 60.0, 4, False, True)
        assert set(got) == set(ref) and all(isinstance(v, np.ndarray) for v in got.values())
        for k in ref:
            np.testing.assert_array_equal(got[k], ref[k])
    assert calls["pair_sums"] == (True, float, int, bool)
    r = np.array([[0.0, 5.0], [59.0, 61.0]])
    np.testing.assert_array_equal(jk.bin_index(r, 0.0, 60.0, 6, False), [[-1, 0], [5, -1]])
    from cosmocorr.sky.geometry import unit_vectors
    xyz = unit_vectors(np.linspace(10, 12, 50), np.linspace(0, 1, 50))
    out = jk.fcm_iterate(xyz, xyz[:, :3].copy(), 2.0, 1e-6, 50)
    ref = _kernels_numpy.fcm_iterate(xyz, xyz[:, :3].copy(), 2.0, 1e-6, 50)
    np.testing.assert_array_equal(out[0], ref[0])
    assert out[2] == ref[2] and isinstance(out[2], int) and isinstance(out[4], bool)
    with pytest.raises(NotImplementedError, match="accelerate"):
        jk.fcm_iterate(xyz, xyz[:, :3], 2.0, 1e-6, 50, relax=1.5)
